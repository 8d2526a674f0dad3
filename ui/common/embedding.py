"""Embedding from a page and keeping the result: one function, one progress bar, one token check.

Every page embeds through :func:`embed_texts`, whichever model it uses — the sidebar's, or one
picked on the page (:class:`ui.common.models_picker.ModelOption`). It builds the static model first when
needed (:func:`ui.common.static_build.prepare`), shows :func:`progress_bar` while batches run, and keeps
the result in this session under ``(endpoint_id, model, digest of the texts)``: switching pages
shows the same vectors again without a new call, and a failed call never removes what was
already on screen. :func:`embed_button` is the button that starts it, disabled with where the
token goes when an API model has none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext

import streamlit as st

from embedcore.errors import EmbedcoreError
from embedcore.providers import catalog
from embedcore.types import EmbeddingResult, ProgressCallback
from ui.common import state
from ui.common.cached import digest_of
from ui.common.connection import current_connection, missing_token
from ui.common.format import plural
from ui.common.models_picker import ModelOption, current_option, provider_for
from ui.common.queueing import heavy_work
from ui.common.static_build import prepare

#: Results kept per session and store (each holds an (n, d) float32 array).
MAX_KEPT = 6


@contextmanager
def progress_bar(label: str, noun: str = "text", *, start: str | None = None) -> Iterator[ProgressCallback]:
    """The progress bar of every embedding: yields the ``progress(done, total)`` callback.

    Drawn while there is something to wait for (a run answered from the cache, or one text,
    shows nothing), or from the start with the text ``start`` when the work before the first
    report takes time of its own (chunking documents). Removed when the block ends.
    """
    bar = st.empty()
    if start:
        bar.progress(0.0, text=start)

    # The first report comes right after the cache lookup: what it counts as done was found there.
    started: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if not started:
            started.update(cached=done, at=time.perf_counter())
        if total > 1 and done < total:
            cached = int(started["cached"])
            found = f" ({cached:,} found in the cache)" if cached else ""
            if done == cached:
                # "0 / n" alone looks stuck while a local model loads (seconds after a server start).
                text = (
                    f"{label}: waiting for the first batch of {plural(total, noun)}{found} "
                    "(a local model loads first)"
                )
            else:
                rate = (done - cached) / max(time.perf_counter() - started["at"], 1e-3)
                text = f"{label}: {done:,} / {plural(total, noun)}{found} — about {(total - done) / rate:,.0f} s left"
            bar.progress(done / total, text=text)

    try:
        yield progress
    finally:
        bar.empty()


def _option(model: str | None, option: ModelOption | None) -> ModelOption:
    return option if option is not None else current_option(model)


def result_key(
    texts: Sequence[str], *, model: str | None = None, option: ModelOption | None = None
) -> tuple[str, str, str]:
    """``(endpoint_id, model, texts digest)`` — what identifies a result in this session.

    ``option`` is a model picked on the page; without one, ``model`` (default: the sidebar's)
    from the sidebar's provider. The endpoint id comes from the provider (a normalised URL or
    ``local:``), never a key.
    """
    option = _option(model, option)
    return (provider_for(option).endpoint_id, option.model, digest_of(texts))


def stored_result(
    texts: Sequence[str],
    *,
    model: str | None = None,
    option: ModelOption | None = None,
    store: str = state.RESULTS,
) -> EmbeddingResult | None:
    """The result already computed in this session for these texts and model, or None (no call made).

    Raises what :func:`ui.common.models_picker.provider_for` raises (wrap in ``friendly_errors``).
    """
    if not _option(model, option).is_local and not current_connection().base_url:
        return None  # an API with no URL typed yet has made nothing (and the sidebar asks for one)
    return st.session_state.get(store, {}).get(result_key(texts, model=model, option=option))


def check_room(n_texts: int, model: str) -> None:
    """Refuse, before anything is loaded or sent, ``n_texts`` the server has no memory left to map.

    A no-op without a memory limit (:func:`embedcore.system.memory_limit`: the container's, or
    ``EMBEDCORE_MEMORY_LIMIT_MB``). Raises :class:`embedcore.errors.MemoryLimitError`.
    """
    from embedcore.system import check_memory, texts_that_fit, work_bytes

    info = catalog.KNOWN_MODELS.get(model)
    dims = info.dimensions if info is not None else None
    fit = texts_that_fit(dims)
    check_memory(
        work_bytes(n_texts, dims),
        f"Embedding and mapping {plural(n_texts, 'text')} with {model}",
        fewer=None if fit is None else f"{fit:,} texts",
    )


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    option: ModelOption | None = None,
    store: str = state.RESULTS,
    progress_label: str = "Embedding",
    reuse: bool = True,
    on_stop: Callable[[], None] | None = None,
) -> EmbeddingResult:
    """Embed ``texts`` and keep the result in ``st.session_state[store]``, with a progress bar.

    Parameters
    ----------
    texts : sequence of str
    model : str, optional
        A model of the sidebar's provider; defaults to the sidebar's model.
    option : ModelOption, optional
        A model picked on the page (instead of ``model``).
    store : str
        Session key of the results kept (:data:`MAX_KEPT` of them, the oldest dropped first).
    progress_label : str
        Text beside the progress bar.
    reuse : bool
        Return this session's stored result for the same endpoint, model and texts without
        calling the provider (the persistent cache would answer anyway; this also skips the
        progress bar and keeps the original timings). ``False`` goes through the provider, so
        the result says what came from the cache.
    on_stop : callable, optional
        Called when the user stops a build of the static model (a page clears its request there).

    Returns
    -------
    EmbeddingResult
        ``vectors`` of shape (len(texts), d), float32.

    Raises
    ------
    embedcore.errors.EmbedcoreError
        Anything the provider raises; stored results are left as they were.
    """
    option = _option(model, option)
    provider = provider_for(option)
    key = (provider.endpoint_id, option.model, digest_of(texts))
    results: dict = st.session_state.setdefault(store, {})
    if reuse and key in results:
        return results[key]
    check_room(len(texts), option.model)
    # The model may be the static one before it is built: build it with stages and a Stop
    # button rather than inside embed(), where it could not be watched or stopped.
    prepare(provider, option.model, on_stop=on_stop)
    # The bundled model runs on this server's cores: it waits its turn behind other visitors'.
    queue = heavy_work(f"Embedding {plural(len(texts), 'text')}") if option.is_local else nullcontext()
    with queue, progress_bar(f"{progress_label} with {option.model}") as progress:
        result = provider.embed(list(texts), option.model, progress=progress)
    results.pop(key, None)
    results[key] = result
    while len(results) > MAX_KEPT:
        results.pop(next(iter(results)))
    return result


#: Seconds a page waits for the server's own embedding of the sample (ui.common.hosted) before it
#: offers the Embed button instead: one request to the API, normally well under a second.
SAMPLE_WAIT_S = 8.0


def cached_result(texts: Sequence[str], *, model: str | None = None) -> EmbeddingResult | None:
    """The result for ``texts`` when every one of their vectors is cached already, else None.

    Nothing is sent: an API page shows such texts without waiting for a click (they cost
    nobody anything). When the server is still embedding the default sample for its first
    visitors (:mod:`ui.common.hosted`), waits for it first, up to :data:`SAMPLE_WAIT_S`.
    """
    from embedcore import warmup

    option = current_option(model)
    try:
        provider = provider_for(option)
        cache = getattr(provider, "cache", None)
        if cache is None or not len(texts):
            return None
        warmup.sample_ready(texts, timeout=SAMPLE_WAIT_S)
        distinct = list(dict.fromkeys(texts))
        if len(cache.get_many(provider.endpoint_id, option.model, distinct)) < len(distinct):
            return None
    except EmbedcoreError:  # a store that is down: the Embed button's own call will say so
        return None
    return embed_texts(texts, option=option)


def load_model(model: str) -> float | None:
    """Load the sidebar provider's ``model`` now: seconds it took (0 when already in memory), None for an API.

    A local model loads once per server process; timing it apart lets a page show the embedding
    time as the embedding's.
    """
    provider = provider_for(current_option(model))
    prepare(provider, model)
    return provider.load(model) if hasattr(provider, "load") else None


def token_missing(options: Iterable[ModelOption] = ()) -> str | None:
    """Why these models cannot embed now — markdown saying where the token goes — or None.

    Without ``options``, the sidebar's model. Bundled models never need a token.
    """
    chosen = list(options) or [current_option()]
    return None if all(o.is_local for o in chosen) else missing_token()


def embed_button(
    label: str,
    *,
    options: Iterable[ModelOption] = (),
    disabled: bool = False,
    help: str | None = None,
    form: bool = False,
    container=None,
    warn: bool = True,
    **kwargs,
) -> bool:
    """The button that starts an embedding; True on the run it was clicked.

    Disabled, with the reason as its help and a warning below, while an API model in ``options``
    (default: the sidebar's model) has no token (:func:`token_missing`): a click could only fail.

    Parameters
    ----------
    form : bool
        Draw a form's submit button (inside ``with st.form(...)``).
    container
        Where to draw it (a column); the warning goes to the main area.
    warn : bool
        Draw the warning; False when the page says what to do in its own place (the explorer
        says it only while it has no earlier result to show).
    **kwargs
        Passed to ``st.button`` / ``st.form_submit_button`` (``key``, ``type``, ``icon``, ``width``).
    """
    reason = token_missing(options)
    where = container if container is not None else st
    draw = where.form_submit_button if form else where.button
    clicked = draw(label, disabled=disabled or reason is not None, help=reason or help, **kwargs)
    if reason and warn:
        st.warning(reason, icon=":material/key:")
    return bool(clicked) and reason is None


#: Session key: ``(table, result, dataset)`` of the file of vectors on screen.
_FILE_RESULT = "file_result"


def file_result(table) -> tuple[EmbeddingResult, str]:
    """``(result, dataset key)`` for a table that came with its vectors (:func:`embedcore.io.read_vectors`).

    Nothing is embedded. Remembered for the table on screen, so a rerun does not digest
    100,000 texts again (~150 ms).
    """
    memo = st.session_state.get(_FILE_RESULT)
    if memo is not None and memo[0] is table:
        return memo[1], memo[2]
    model = table.model or f"vectors from {table.source or 'a file'}"
    result = EmbeddingResult(vectors=table.vectors, model=model)  # nothing embedded, nothing cached
    dataset = "|".join(("file:" + (table.source or ""), model, digest_of(table.texts)))
    st.session_state[_FILE_RESULT] = (table, result, dataset)
    return result, dataset
