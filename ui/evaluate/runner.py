"""The Evaluate page's run: choosing 1–3 models, what the run will cost, and running it.

Nothing is sent until **Evaluate** is pressed. Before that, an API model's cost is estimated
from the cache (cached texts cost nothing): the texts to send, about how many tokens and how many
requests; a run that would send anything to an API asks for a tick that it may. Embedding goes
through :func:`ui.common.embedding.embed_texts` — the cache, the budget on the operator's token,
the progress bar and the work queue every page uses — and scoring through
:func:`embedcore.evaluation.evaluate_vectors`. The last finished evaluation stays on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from embedcore import evaluation as ev
from embedcore.providers import catalog
from ui.common.cached import digest_of
from ui.common.embedding import embed_button, embed_texts
from ui.common.errors import friendly_errors
from ui.common.format import short_model_names
from ui.common.models_picker import ModelOption, find_option, provider_for

MODELS = "evaluate_models"
CONFIRM = "evaluate_confirm"
RUN = "evaluate_run"
#: Embedding results per model (ui.common.embedding's store for this page).
STORE = "evaluate_results"
#: What the last press of Evaluate asked for, until it is done.
REQUEST = "evaluate_request"
#: ``{"request", "evaluation"}`` — the last finished evaluation: what is drawn.
SHOWN = "evaluate_shown"


def pick_models(options: Sequence[ModelOption]) -> list[ModelOption]:
    """Up to three models; the two bundled ones by default (else the first API models)."""
    by_key = {o.key: o for o in options}
    if not st.session_state.get(MODELS) or not set(st.session_state[MODELS]) <= set(by_key):
        defaults = [
            find_option(options, catalog.MINILM_ID, prefer="local"),
            find_option(options, catalog.MINILM_STATIC_ID, prefer="local"),
        ]
        chosen = [o.key for o in defaults if o is not None and o.is_local] or [o.key for o in options[:2]]
        st.session_state[MODELS] = list(dict.fromkeys(chosen))
    names = short_model_names(o.model for o in options)
    keys = st.multiselect(
        "Models (one to three)",
        list(by_key),
        key=MODELS,
        max_selections=ev.MAX_MODELS,
        format_func=lambda k: (
            f"{names[by_key[k].model]} · {'bundled' if by_key[k].is_local else by_key[k].host}"
        ),
        help="Any mix of the bundled models and the sidebar's API models; all see the same data.",
    )
    return [by_key[k] for k in keys]


def display_name(option: ModelOption, chosen: Sequence[ModelOption]) -> str:
    """The model's short name, with where it runs when two chosen models share it."""
    name = short_model_names(o.model for o in chosen)[option.model]
    twins = [o for o in chosen if o.model == option.model]
    return f"{name} ({'bundled' if option.is_local else option.host})" if len(twins) > 1 else name


def estimates(task, chosen: Sequence[ModelOption]) -> list[ev.CostEstimate]:
    """What each API model would be sent (bundled models cost nothing); raises provider errors."""
    return [
        ev.estimate_cost(task, provider_for(option), option.model) for option in chosen if not option.is_local
    ]


def cost_panel(task, chosen: Sequence[ModelOption]) -> bool:
    """Show the estimate for API models; True when the run may start (nothing to pay, or ticked)."""
    with friendly_errors() as outcome:
        costs = estimates(task, chosen)
    if outcome.failed:
        return False
    to_send = [c for c in costs if c.to_embed]
    if not to_send:
        if costs:
            st.caption(
                ":material/savings: Every text is in the cache for the API models chosen: this run sends nothing."
            )
        return True
    frame = pd.DataFrame(
        [
            {
                "model": c.model,
                "texts": c.texts,
                "cached": c.cached,
                "to send": c.to_embed,
                "tokens (about)": c.tokens_estimate,
                "tokens (at most)": c.tokens_max,
                "requests": c.requests,
            }
            for c in costs
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="evaluate_estimate")
    total_tokens = sum(c.tokens_estimate for c in to_send)
    total_requests = sum(c.requests for c in to_send)
    return st.checkbox(
        f"Send about {total_tokens:,} tokens in {total_requests:,} requests to the API",
        key=CONFIRM,
        help="Cached texts cost nothing; what is sent is cached, so running again costs nothing.",
    )


def _request(task, chosen: Sequence[ModelOption]) -> tuple:
    return (task.kind, task.source, digest_of(task.texts()), tuple(o.key for o in chosen))


def _clear_request() -> None:
    st.session_state.pop(REQUEST, None)


def _run(task, chosen: Sequence[ModelOption], request: tuple) -> None:
    texts = task.texts()
    # A click reruns the page, which ends this run at its next Streamlit call; the callback first
    # drops the request so the run does not start again. Every finished batch is already cached.
    stop = st.empty()
    stop.button("Stop", key="evaluate_stop", icon=":material/stop_circle:", on_click=_clear_request)
    with friendly_errors():
        vectors, costs = {}, {}
        for option in chosen:
            name = display_name(option, chosen)
            result = embed_texts(
                texts, option=option, store=STORE, progress_label=name, reuse=False, on_stop=_clear_request
            )
            vectors[name], costs[name] = result.vectors, ev.embedding_cost(result)
        bar = st.progress(0.0, text="Scoring…")

        def progress(step: ev.Progress) -> None:
            bar.progress(step.fraction, text=f"Scoring {step.model}…")

        evaluation = ev.evaluate_vectors(task, vectors, costs=costs, progress=progress)
        bar.empty()
        st.session_state[SHOWN] = {"request": request, "evaluation": evaluation}
    stop.empty()
    _clear_request()


def evaluation(task, chosen: Sequence[ModelOption]):
    """The evaluation to draw: run now when asked, else the last one, or None before the first."""
    if task is None or not chosen:
        st.button("Evaluate", type="primary", disabled=True, key=RUN, icon=":material/science:")
        return st.session_state.get(SHOWN, {}).get("evaluation")
    allowed = cost_panel(task, chosen)
    clicked = embed_button(
        "Evaluate",
        options=chosen,
        key=RUN,
        type="primary",
        icon=":material/science:",
        disabled=not allowed,
        help="Embeds the data with each model (texts embedded before come from the cache) and scores it.",
    )
    request = _request(task, chosen)
    if clicked:
        st.session_state[REQUEST] = request
    if st.session_state.get(REQUEST) == request:
        _run(task, chosen, request)
    shown = st.session_state.get(SHOWN)
    if shown is None:
        st.info(
            f"Press **Evaluate** to embed the {task.n_items:,} items with each model and score them.",
            icon=":material/science:",
        )
        return None
    if shown["request"] != request:
        st.info(
            "Below is the evaluation for the earlier choice of task, data or models: press **Evaluate** to update it.",
            icon=":material/update:",
        )
    return shown["evaluation"]
