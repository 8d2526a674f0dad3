"""Models from more than one provider at once: the bundled ones beside the sidebar's API endpoint.

The Compare, Search and Languages pages mix models: the bundled MiniLM and its static
distillation are offered where they can run (:func:`ui.common.connection.local_models`), and the models the sidebar's API
connection serves are offered beside them. Each needs its own provider object; both come
from :func:`ui.common.connection.get_provider`, so caches, clients and rate limits stay shared.

The sidebar's own choice is an option too (:func:`current_option`), so every page embeds
through one function, :func:`ui.common.embedding.embed_texts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from embedcore.errors import EmbedcoreError
from embedcore.providers import catalog
from embedcore.providers.endpoints import host
from embedcore.types import Provider
from ui.common import state
from ui.common.budget import budgeted
from ui.common.connection import (
    Connection,
    available_models,
    current_connection,
    current_model,
    get_provider,
    local_models,
)
from ui.common.format import short_model_names

LOCAL, API = "local", "api"
_LOCAL_CONNECTION = Connection(kind="local", base_url=None)


@dataclass(frozen=True)
class ModelOption:
    """A model and the provider that serves it.

    Attributes
    ----------
    source : {"local", "api"}
        The bundled models, or the sidebar's API connection.
    model : str
    host : str
        The API's host name, for labels ("" for local models).
    """

    source: str
    model: str
    host: str = ""

    @property
    def key(self) -> str:
        """A stable string for widgets: ``"local|<model>"`` or ``"api|<model>"``."""
        return f"{self.source}|{self.model}"

    @property
    def label(self) -> str:
        where = "bundled" if self.source == LOCAL else (self.host or "API")
        return f"{self.model} · {where}"

    @property
    def is_local(self) -> bool:
        return self.source == LOCAL


def local_option(model: str = catalog.MINILM_ID) -> ModelOption:
    return ModelOption(LOCAL, model)


def current_option(model: str | None = None) -> ModelOption:
    """The sidebar's choice as an option: ``model`` (default: the sidebar's model) from the sidebar's provider."""
    conn = current_connection()
    model = model or current_model()
    return local_option(model) if conn.kind == "local" else ModelOption(API, model, host(conn.base_url))


def model_options() -> list[ModelOption]:
    """Every model a page can use now: bundled ones first, then the sidebar API's.

    When the API's model listing fails (the sidebar shows why), the model chosen in the
    sidebar is still offered, so a page can show the real error when it is used.
    """
    options: list[ModelOption] = []
    options += [local_option(model) for model in local_models()]
    conn = current_connection()
    if conn.kind != "local":
        served_by = host(conn.base_url)
        ids = served_ids(conn)
        if ids is None:
            # Already shown in the sidebar; here only the chosen model is kept on offer.
            ids = [st.session_state[state.MODEL]] if st.session_state.get(state.MODEL) else []
        options += [ModelOption(API, model, served_by) for model in ids]
    return options


def served_ids(conn: Connection | None = None) -> list[str] | None:
    """Ids of the models the connection serves, or None when they cannot be listed now.

    The sidebar's connection panel, drawn before every page, has already said why (once); a page
    asking again must not say it a second time.
    """
    conn = conn or current_connection()
    if conn.kind == "custom" and not conn.base_url:
        return None  # nothing typed yet: the sidebar asks for the URL
    try:
        return [m.id for m in available_models(conn)]
    except EmbedcoreError:
        return None


def options_or_stop() -> list[ModelOption]:
    """:func:`model_options`; when there is none, say why and stop the page here."""
    options = model_options()
    if not options:
        st.warning(
            "No model is available: the bundled models are not installed here and no API is connected. "
            "Choose **IONOS AI Model Hub** or an **OpenAI-compatible URL** in the sidebar.",
            icon=":material/cloud_off:",
        )
        st.stop()
    return options


def find_option(
    options: Sequence[ModelOption], model: str, *, prefer: str | None = None
) -> ModelOption | None:
    """The option serving ``model`` (from source ``prefer`` when both serve it), or None."""
    matches = [o for o in options if o.model == model]
    if prefer:
        matches.sort(key=lambda o: o.source != prefer)
    return matches[0] if matches else None


def sidebar_option(options: Sequence[ModelOption]) -> ModelOption | None:
    """The option matching the sidebar's model and provider."""
    kind = st.session_state.get(state.PROVIDER_KIND, "local")
    return find_option(options, current_model(), prefer=LOCAL if kind == "local" else API)


def pick_model(
    label: str,
    options: Sequence[ModelOption],
    *,
    key: str,
    default: ModelOption | None = None,
    help: str | None = None,
    container=None,
) -> ModelOption | None:
    """A selectbox over ``options`` (value: :attr:`ModelOption.key`); returns the chosen option.

    The widget keeps its choice across reruns; when that choice is no longer offered (the
    sidebar changed provider) it falls back to ``default``, else the first option.
    """
    if not options:
        return None
    by_key = {o.key: o for o in options}
    if st.session_state.get(key) not in by_key:
        st.session_state[key] = (
            default.key if default is not None and default.key in by_key else options[0].key
        )
    where = container if container is not None else st
    # Short names (no organisation), and where a model comes from only when two sources serve it:
    # "sentence-transformers/all-MiniLM-L6-v2 · bundled" was cut in a third of the page.
    names = short_model_names(o.model for o in options)
    sources = {}
    for o in options:
        sources.setdefault(o.model, set()).add(o.source)

    def shown(k: str) -> str:
        o = by_key[k]
        return o.label.replace(o.model, names[o.model]) if len(sources[o.model]) > 1 else names[o.model]

    chosen = where.selectbox(label, list(by_key), key=key, format_func=shown, help=help)
    return by_key[chosen]


def provider_for(option: ModelOption) -> Provider:
    """The provider serving ``option`` (shared objects; raises what ``get_provider`` raises).

    The one way pages and ``ui`` reach a provider to embed with: on the operator's token under a
    ``[budget]`` it comes wrapped (:func:`ui.common.budget.budgeted`), so no path spends it uncounted.
    """
    if option.is_local:
        return get_provider(_LOCAL_CONNECTION)
    conn = current_connection()
    if conn.kind == "local":
        raise EmbedcoreError(
            f"{option.model} needs the API connection; choose IONOS or an OpenAI-compatible URL in the sidebar."
        )
    # The operator's token under a [budget]: every embed() of this provider is counted.
    return budgeted(get_provider(conn), conn)
