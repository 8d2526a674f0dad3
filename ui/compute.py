"""Embedding with Streamlit's progress bar around it.

Results are kept per session under ``(endpoint_id, model, texts digest)``: switching
pages shows the same vectors again without a new call, and a failed call never
removes what was already on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from embedcore.types import EmbeddingResult
from ui import state
from ui.cached import digest_of
from ui.connection import current_connection, current_model, get_provider
from ui.format import plural
from ui.static_build import prepare

#: Results kept per session (each holds an (n, d) float32 array).
MAX_RESULTS = 6


def result_key(texts: Sequence[str], *, model: str | None = None) -> tuple[str, str, str]:
    """``(endpoint_id, model, texts digest)`` — what identifies a result in this session.

    The endpoint id comes from the provider (a normalised URL or ``local:``), never a key.
    """
    provider = get_provider()
    return (provider.endpoint_id, model or current_model(), digest_of(texts))


def stored_result(texts: Sequence[str], *, model: str | None = None) -> EmbeddingResult | None:
    """The result already computed in this session for these texts and model, or None.

    Raises what :func:`ui.connection.get_provider` raises (wrap in ``friendly_errors``).
    """
    return st.session_state.get(state.RESULTS, {}).get(result_key(texts, model=model))


def last_result() -> tuple[tuple[str, str, str], EmbeddingResult] | None:
    """The most recent successful ``(key, result)`` of this session, whatever the texts."""
    key = st.session_state.get(state.LAST_RESULT_KEY)
    result = st.session_state.get(state.RESULTS, {}).get(key)
    return (key, result) if result is not None else None


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    progress_label: str = "Embedding",
    reuse: bool = True,
) -> EmbeddingResult:
    """Embed ``texts`` with the current provider, showing a progress bar for multi-batch runs.

    Parameters
    ----------
    texts : sequence of str
    model : str, optional
        Defaults to the model chosen in the sidebar.
    progress_label : str
        Text beside the progress bar.
    reuse : bool
        Return this session's stored result for the same endpoint, model and texts
        without calling the provider (the persistent cache would answer anyway; this
        also skips the progress bar and keeps the original timings).

    Returns
    -------
    EmbeddingResult
        ``vectors`` of shape (len(texts), d), float32. Also stored in session state.

    Raises
    ------
    embedcore.errors.EmbedcoreError
        Anything the provider raises; stored results are left as they were.
    """
    model = model or current_model()
    key = result_key(texts, model=model)
    results: dict = st.session_state.setdefault(state.RESULTS, {})
    if reuse and key in results:
        st.session_state[state.LAST_RESULT_KEY] = key
        return results[key]

    provider = get_provider()
    # The sidebar may name the static model before it is built: build it with stages and a
    # Stop button rather than inside embed(), where it could not be watched or stopped.
    prepare(provider, model)
    bar = st.empty()

    def progress(done: int, total: int) -> None:
        # Only worth drawing when there is more than one step to show.
        if total and done < total:
            # "0 / n" alone looks stuck while a local model loads (seconds after a server start).
            text = (
                f"{progress_label} {plural(total, 'text')}: waiting for the first batch (a local model loads first)"
                if done == 0
                else f"{progress_label}: {done:,} / {plural(total, 'text')}"
            )
            bar.progress(done / total, text=text)

    try:
        result = provider.embed(list(texts), model, progress=progress)
    finally:
        bar.empty()
    results.pop(key, None)
    results[key] = result
    while len(results) > MAX_RESULTS:
        results.pop(next(iter(results)))
    st.session_state[state.LAST_RESULT_KEY] = key
    return result


def current_endpoint_label() -> str:
    """A short, key-free description of where embeddings come from (for captions and exports)."""
    conn = current_connection()
    return "bundled offline model" if conn.kind == "local" else (conn.base_url or "")
