"""Streamlit glue of the Compare page (``pages/compare.py``): choosing models, the request, the tables.

Nothing is computed until **Compare** is pressed: embedding costs seconds with the bundled models
(minutes if the static one still has to be built) and money with an API. :func:`comparison` keeps
what was asked for until it is done (a static-model build may take several runs) and the last
finished comparison on screen, marked when the choice has changed since.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from embedcore.analysis import compare
from embedcore.figures import charts
from embedcore.figures.tables import disagreements_frame, model_pairs_frame, model_runs_frame, neighbour_lists
from embedcore.providers import catalog
from ui.common.cached import digest_of
from ui.common.embedding import embed_texts
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.common.models_picker import ModelOption, find_option, pick_model
from ui.common.tables import WRAP_ROW_HEIGHT

#: Embedding results per model (ui.common.embedding's store for this page).
STORE = "compare_results"
#: What the last press of Compare asked for, until it is done (survives reruns in between).
REQUEST = "compare_request"
#: The last finished comparison: what is drawn.
SHOWN = "compare_shown"


def pick_models(options: Sequence[ModelOption]) -> dict[str, ModelOption]:
    """Models A and B (MiniLM and its static distillation by default), and C when asked for."""
    minilm = find_option(options, catalog.MINILM_ID, prefer="local")
    static = find_option(options, catalog.MINILM_STATIC_ID, prefer="local")
    # The toggle above the row, not inside it: the three pickers then line up.
    use_c = st.toggle("Add a third model", key="compare_use_c")
    # Two models get half the width each: in thirds, "all-MiniLM-L6-v2-static (model2vec)" was cut.
    left, middle, *rest = st.columns(3 if use_c else 2)
    chosen = {
        "A": pick_model(
            "Model A (sets the heatmaps' row order)",
            options,
            key="compare_model_a",
            default=minilm or options[0],
            container=left,
        ),
        "B": pick_model(
            "Model B", options, key="compare_model_b", default=static or options[-1], container=middle
        ),
    }
    if use_c:
        # A model not yet in A or B when there is one (three API models and nothing bundled).
        taken = {o.key for o in chosen.values()}
        third = next((o for o in reversed(options) if o.key not in taken), options[-1])
        chosen["C"] = pick_model("Model C", options, key="compare_model_c", default=third, container=rest[0])
    if len({o.key for o in chosen.values()}) < len(chosen):
        st.caption(
            ":material/info: The same model appears twice: its agreement with itself is 1 by construction "
            "(a sanity check)."
        )
    return chosen


def _clear_request() -> None:
    st.session_state.pop(REQUEST, None)


def _run(chosen: dict[str, ModelOption], texts: list[str], k: int, request: tuple) -> None:
    """Embed with every chosen model, compare, and keep the outcome in ``SHOWN``."""
    with friendly_errors():
        results = {
            slot: embed_texts(
                texts, option=option, store=STORE, progress_label=f"Model {slot}", on_stop=_clear_request
            )
            for slot, option in chosen.items()
        }
        names = {slot: f"{slot} · {option.model.rsplit('/', 1)[-1]}" for slot, option in chosen.items()}
        vectors = {names[slot]: results[slot].vectors for slot in chosen}
        with st.spinner("Comparing…"):
            report = compare.compare_models(vectors, texts, k)
        st.session_state[SHOWN] = {
            "request": request,
            "texts": texts,
            "runs": [
                (names[slot], "bundled" if option.is_local else option.host, results[slot])
                for slot, option in chosen.items()
            ],
            "vectors": vectors,
            "digests": {name: digest_of(v) for name, v in vectors.items()},
            "report": report,
        }
    _clear_request()


def comparison(chosen: dict[str, ModelOption], texts: list[str], k: int, clicked: bool) -> dict | None:
    """The comparison to draw: run now when asked (or still pending), else the last one, or None.

    Returns
    -------
    dict or None
        ``{"request", "texts", "runs", "vectors", "digests", "report"}``; None before the first
        press of Compare (the page says to press it).
    """
    request = (tuple((slot, option.key) for slot, option in chosen.items()), digest_of(texts), k)
    if clicked:
        st.session_state[REQUEST] = request
    if st.session_state.get(REQUEST) == request:
        _run(chosen, texts, k, request)
    shown = st.session_state.get(SHOWN)
    if shown is None:
        # What the chosen models cost: a hosted app has no bundled model to promise seconds of.
        cost = (
            "The bundled models take seconds; API models are billed per token"
            if any(option.is_local for option in chosen.values())
            else "Each model is one API call per batch of texts, billed per token"
        )
        st.info(
            f"Press **Compare** to embed the {len(texts):,} texts with each model and compare them. "
            f"{cost} (texts embedded before come from the cache).",
            icon=":material/compare_arrows:",
        )
    elif shown["request"] != request:
        st.info(
            "Below is the comparison for the earlier choice of models, texts or k: press **Compare** to update it.",
            icon=":material/update:",
        )
    return shown


# --- what is drawn ---------------------------------------------------------------------------------


def runs_table(runs) -> None:
    """One row per model run (dimensions, tokens, time, cache use), then each run's warnings."""
    st.dataframe(
        model_runs_frame(runs),
        key="compare_runs",
        hide_index=True,
        width="stretch",
        column_config={
            "seconds": st.column_config.NumberColumn("time (s)", format="%.2f"),
            "tokens": st.column_config.NumberColumn(
                "tokens", format="%d", help="Billed in the call that made the vectors."
            ),
        },
    )
    for name, _where, result in runs:
        for warning in result.warnings:
            st.warning(md_escape(f"{name}: {warning}"), icon=":material/warning:")


def agreement(report: compare.ComparisonReport) -> None:
    """Spearman and Jaccard of models A and B against chance; every pair of models when there are three."""
    pair = report.pair(report.models[0], report.models[1])
    cols = st.columns(3)
    cols[0].metric(
        "Spearman (pair similarities)",
        f"{pair.spearman:.3f}",
        help="Rank correlation of the cosine similarity of every pair of texts under A and under B: "
        "1 = both models order all pairs alike.",
    )
    cols[1].metric(
        f"Mean Jaccard@{report.k}",
        f"{pair.mean_jaccard:.3f}",
        help=f"Overlap of each text's {report.k} nearest neighbours under A and B, averaged: 1 = same neighbours.",
    )
    cols[2].metric(
        "Chance level",
        f"{report.chance_level:.3f}",
        help="About the Jaccard overlap two unrelated models would reach by luck.",
    )
    if len(report.models) > 2:
        st.dataframe(
            model_pairs_frame(report),
            key="compare_pairs",
            hide_index=True,
            width="stretch",
            column_config={
                "spearman": st.column_config.NumberColumn(format="%.3f"),
                f"jaccard@{report.k}": st.column_config.NumberColumn(format="%.3f"),
            },
        )


def disagreements(items: Sequence[compare.Disagreement], k: int) -> None:
    """The texts the two models disagree on most, and one text's neighbours under each, side by side."""
    st.dataframe(
        disagreements_frame(items, k),
        key="compare_disagreements",
        hide_index=True,
        width="stretch",
        row_height=WRAP_ROW_HEIGHT,  # texts wrap instead of ending mid-word
        column_config={
            "text": st.column_config.TextColumn(width="large"),
            "jaccard": st.column_config.NumberColumn(
                f"jaccard@{k}", format="%.2f", help="Overlap of the two neighbour lists; 0 = none shared."
            ),
            "shared": st.column_config.TextColumn("neighbours shared"),
        },
    )
    if not items:
        return
    pick = st.selectbox(
        "Neighbours of",
        range(len(items)),
        format_func=lambda i: charts.short_label(items[i].text, 90),
        key="compare_detail",
    )
    for column, (model, frame) in zip(st.columns(2), neighbour_lists(items[pick]).items(), strict=True):
        column.markdown(f"**{md_escape(model)}**")
        column.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            row_height=WRAP_ROW_HEIGHT,
            column_config={
                # Half a page wide: "large" pushed the columns behind a horizontal scroll.
                "#": st.column_config.NumberColumn(width=40),
                "neighbour": st.column_config.TextColumn(width="medium"),
                "shared": st.column_config.CheckboxColumn(help="Also a neighbour under the other model."),
            },
        )
