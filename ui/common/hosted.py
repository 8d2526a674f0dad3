"""An API-only install (Streamlit Community Cloud) meeting its first visitor with a map.

Such an install has no bundled model and no sample vectors shipped with it, so the default
page's texts have to come from the operator's API. :func:`sample_warm_up` says what the server
embeds as it starts (:class:`embedcore.warmup.SampleWarmUp`): the default sample, with the model
a new visitor's sidebar starts on, through the operator's endpoint and token, into the cache
every session shares, counted against the operator's ``[budget]`` (if any) under the server's own
name. Pages then show texts whose vectors are all cached without waiting for a
click (:func:`ui.common.embedding.cached_result`), which costs nobody anything.
"""

from __future__ import annotations

from embedcore.providers.budget import BudgetGuard
from embedcore.providers.endpoints import host
from embedcore.warmup import SampleWarmUp
from ui.common import state
from ui.common.budget import budget_settings, current_ledger, offers_operator_token
from ui.common.cached import sample_table
from ui.common.connection import current_connection, default_model, local_available
from ui.common.models_picker import API, ModelOption, provider_for

#: Whom a ``[budget]`` counts the start-up sample against: the server itself, not the first visitor.
SERVER_VISITOR = "server:start-up sample"


def sample_warm_up() -> SampleWarmUp | None:
    """The sample to embed at server start, or None (a bundled model is here, or no operator token).

    Call it on the first run of a new session (``app.py`` does, after ``init_state``): the
    connection in effect is then the one every new visitor starts on. Only the operator's own
    token is ever used (from secrets or the environment), never one a visitor typed.
    """
    if local_available():  # the local app has its sample vectors from `prepare --samples`
        return None
    conn = current_connection()
    if conn.kind == "local" or not conn.api_key or conn.key_source not in ("secrets", "env"):
        return None
    if not offers_operator_token():  # a budget of 0 per visitor: the token is not for visitors
        return None
    texts = list(sample_table(state.DEFAULT_SAMPLE).texts)
    settings = budget_settings()
    guard = None if settings is None else BudgetGuard(current_ledger(), settings, SERVER_VISITOR)
    # provider_for: the one way ui reaches a provider to embed with; its visitor's guard is
    # replaced by the server's through embed(budget=) (embedcore.warmup.embed_sample).
    provider = provider_for(ModelOption(API, "", host(conn.base_url)))
    return SampleWarmUp(provider, texts, lambda ids: default_model(ids, conn.kind), budget=guard)
