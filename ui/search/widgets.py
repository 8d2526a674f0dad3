"""Streamlit glue of the semantic-search page (``pages/search.py``): its state, forms and result views.

The work is embedcore's (:mod:`embedcore.analysis.search`); this module decides what happens between
reruns. Every action on a collection — build the sample, build from uploads, add documents,
re-embed, delete — ends the same way (:func:`_done`): the collection it made becomes the selected
one on the next run, and what happened is said there once. That is the page's whole state
machine: a pending selection and a notice, consumed at the top of the next run (:func:`start_run`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import streamlit as st

from embedcore.analysis import search
from embedcore.errors import EmbedcoreError, InputError
from embedcore.figures.tables import collections_frame, documents_frame
from ui.common import state, uploads
from ui.common.confirm import delete_confirmed
from ui.common.embedding import progress_bar
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, plural
from ui.common.models_picker import (
    ModelOption,
    find_option,
    model_options,
    pick_model,
    provider_for,
    sidebar_option,
)
from ui.common.static_build import prepare
from ui.search import keys
from ui.search.collection_store import collection_store, forget_loaded

if TYPE_CHECKING:
    from embedcore.stores.collections import CollectionInfo
    from embedcore.types import ProgressCallback


def start_run() -> None:
    """Select the collection the previous run's action made, and say what it did (once)."""
    if keys.PENDING in st.session_state:
        st.session_state[keys.SELECT] = st.session_state.pop(keys.PENDING)
        st.session_state.pop(keys.MODEL, None)
    notice = st.session_state.pop(keys.NOTICE, None)
    if notice:
        st.success(notice[0], icon=":material/check_circle:")
        for warning in notice[1]:
            st.warning(warning, icon=":material/warning:")


def _done(report: search.BuildReport, verb: str, problems: Sequence[str] = (), *, clear=()) -> None:
    """Remember what happened, select the collection and start the page again with it.

    The form's widgets in ``clear`` start empty again: their files are in the collection now,
    and a filled form invites building the same collection twice. (A failed build raises before
    this and keeps everything typed.)
    """
    forget_loaded()
    for widget in clear:
        state.reset_widget(widget)
    uploads.forget_refused(keys.FILES, keys.MORE)
    emb = report.embedding
    tokens = f", {plural(emb.total_tokens, 'token')}" if emb.total_tokens else ""
    cached = f", {emb.cached:,} from the cache" if emb.cached else ""
    st.session_state[keys.NOTICE] = (
        f"{verb} **{md_escape(report.info.name)}**: {plural(report.chunks, 'chunk')} from "
        f"{plural(report.documents, 'document')} in {report.seconds:.1f} s{tokens}{cached}.",
        [md_escape(w) for w in [*problems, *emb.warnings]],
    )
    st.session_state[keys.PENDING] = report.info.name
    st.session_state.pop(keys.LAST, None)
    st.rerun()


def _embed_and_select(
    work: Callable[[ProgressCallback], search.BuildReport],
    option: ModelOption,
    verb: str,
    *,
    label: str,
    start: str | None = None,
    problems: Sequence[str] = (),
    clear: Sequence[str] = (),
) -> None:
    """Build the static model if needed, run ``work(progress)`` under the progress bar, then :func:`_done`."""
    prepare(provider_for(option), option.model)
    with progress_bar(f"{label} with {option.model}", "chunk", start=start) as progress:
        report = work(progress)
    _done(report, verb, problems, clear=clear)


def _read_files(uploader: str, files) -> tuple[list[search.Document], list[str]]:
    """The readable documents among ``files`` and what was wrong with the others; none readable: refused."""
    documents, problems = search.read_documents((f.name, f.getvalue()) for f in files)
    if not documents:
        uploads.refuse(uploader, [*problems, "None of the files could be read; choose others."])
    return documents, problems


# --- choosing a collection and a model ---------------------------------------------------------------


def own_option(info: CollectionInfo, options: Sequence[ModelOption]) -> ModelOption | None:
    """The model option that can search collection ``info`` here (its model at its endpoint), or None."""
    option = find_option(options, info.model, prefer="local" if info.endpoint_id == "local:" else "api")
    if option is None:
        return None
    try:
        return option if provider_for(option).endpoint_id == info.endpoint_id else None
    except EmbedcoreError:  # the API connection is misconfigured; the sidebar says why
        return None


def _follow_collection() -> None:
    # Choosing another collection selects the model that made it, when it is on offer.
    name = st.session_state.get(keys.SELECT)
    store = collection_store()
    if name and store.exists(name):
        option = own_option(store.info(name), model_options())
        if option is not None:
            st.session_state[keys.MODEL] = option.key


def pick_collection(
    infos: Sequence[CollectionInfo], options: Sequence[ModelOption]
) -> tuple[CollectionInfo | None, ModelOption]:
    """The collection selectbox (or a hint when there is none) and the model picker beside it."""
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    by_name = {i.name: i for i in infos}
    info = None
    if infos:
        if st.session_state.get(keys.SELECT) not in by_name:
            st.session_state[keys.SELECT] = infos[0].name
        chosen = left.selectbox(
            "Collection",
            list(by_name),
            key=keys.SELECT,
            on_change=_follow_collection,
            format_func=lambda n: f"{n} · {plural(by_name[n].n_chunks, 'chunk')}",
        )
        info = by_name[chosen]
    else:
        left.info(
            "No collections yet: build the sample collection to try search at once, or upload documents.",
            icon=":material/library_books:",
        )
    default = (own_option(info, options) if info else None) or sidebar_option(options) or options[0]
    option = pick_model(
        "Model",
        options,
        key=keys.MODEL,
        default=default,
        container=right,
        help="Embeds new collections and queries. A collection can only be searched with the model that made it.",
    )
    return info, option


# --- making collections ------------------------------------------------------------------------------


def new_collection(store, option: ModelOption, *, sample_exists: bool) -> None:
    """The sample collection's button, then the form that builds a collection from uploaded files."""
    limit = search.token_limit(option.model)
    st.markdown(
        f"**Sample collection** — the built-in *topics* texts as five short documents (music, sports, "
        f"cooking, space, programming), chunked by {search.SAMPLE_CHUNK_SIZE} words."
    )
    build_sample = st.button(
        "Open the sample collection"
        if sample_exists
        else f"Build the sample collection with {md_escape(option.model)}",
        key="search_sample",
        icon=":material/auto_awesome:",
    )
    if build_sample and sample_exists:
        st.session_state[keys.PENDING] = search.SAMPLE_COLLECTION
        st.rerun()
    if build_sample:
        with friendly_errors():
            _embed_and_select(
                lambda progress: search.build_collection(
                    store,
                    search.SAMPLE_COLLECTION,
                    search.sample_documents(),
                    provider_for(option),
                    option.model,
                    chunk_size=search.SAMPLE_CHUNK_SIZE,
                    overlap=search.SAMPLE_OVERLAP,
                    limit=limit,
                    progress=progress,
                ),
                option,
                "Built",
                label="Embedding the sample",
                start="Chunking the sample…",
            )

    st.divider()
    with st.form("search_new", border=False):
        st.markdown("**Your documents**")
        files = st.file_uploader(
            "TXT, Markdown, CSV, JSON Lines or PDF",
            accept_multiple_files=True,
            key=state.widget_key(keys.FILES),
        )
        name = st.text_input(
            "Collection name", key=state.widget_key(keys.NAME), placeholder="e.g. Product manuals"
        )
        c1, c2 = st.columns(2)
        size = c1.number_input(
            "Chunk size (words)", min_value=10, max_value=2000, value=200, step=10, key="search_chunk_size"
        )
        overlap = c2.number_input(
            "Overlap (words)",
            min_value=0,
            max_value=500,
            value=40,
            step=5,
            key="search_overlap",
            help="Words repeated from the end of the previous chunk, so a passage cut in two is still found.",
        )
        st.caption(f":material/straighten: {md_escape(limit.note)}")
        submitted = st.form_submit_button(
            f"Build with {md_escape(option.model)}",
            key="search_build",
            type="primary",
            icon=":material/build:",
        )
    if submitted:  # a new attempt: the reasons for either form's last refused files go
        uploads.forget_refused(keys.FILES, keys.MORE)
    uploads.show_refused(keys.FILES)
    if submitted:
        with friendly_errors():
            if not files:
                raise InputError("Choose one or more files to build a collection from.")
            if not name.strip():
                raise InputError("Give the collection a name.")
            documents, problems = _read_files(keys.FILES, files)
            _embed_and_select(
                lambda progress: search.build_collection(
                    store,
                    name,
                    documents,
                    provider_for(option),
                    option.model,
                    chunk_size=int(size),
                    overlap=int(overlap),
                    limit=limit,
                    progress=progress,
                ),
                option,
                "Built",
                label="Embedding",
                start=f"Chunking {plural(len(documents), 'document')}…",
                problems=problems,
                clear=(keys.FILES, keys.NAME),
            )


# --- the selected collection ----------------------------------------------------------------------


def collection_panel(store, info: CollectionInfo, options: Sequence[ModelOption]) -> None:
    """The collection's facts, its documents with a form to add more, and deleting it (asked first)."""
    st.dataframe(
        collections_frame([info]),
        hide_index=True,
        width="stretch",
        column_config={"name": st.column_config.TextColumn(width="medium")},
    )
    # Beside the collection's facts, not inside "Documents": it was hidden there, and its
    # confirmation, drawn after the open section, opened below the window.
    if st.button("Delete this collection…", key="search_delete", icon=":material/delete:"):
        st.session_state[keys.CONFIRM] = info.name
    if st.session_state.get(keys.CONFIRM) == info.name:
        _confirm_delete(store, info)
    with st.expander(f"Documents ({info.n_documents:,})", icon=":material/description:"):
        st.dataframe(documents_frame(store.documents(info.name)), hide_index=True, width="stretch")
        own = own_option(info, options)
        with st.form("search_add_form", border=False):
            files = st.file_uploader(
                "Add documents (a file with the name of one already here replaces it)",
                accept_multiple_files=True,
                key=state.widget_key(keys.MORE),
            )
            add = st.form_submit_button(
                f"Add with {md_escape(info.model)}",
                key="search_add",
                icon=":material/note_add:",
                disabled=own is None,
                help=None if own else "The endpoint that made this collection is not connected.",
            )
        if add:
            uploads.forget_refused(keys.MORE, keys.FILES)
        uploads.show_refused(keys.MORE)
        if add:
            with friendly_errors():
                if not files:
                    raise InputError("Choose one or more files to add.")
                documents, problems = _read_files(keys.MORE, files)
                _embed_and_select(
                    lambda progress: search.add_documents(
                        store, info.name, documents, provider_for(own), progress=progress
                    ),
                    own,
                    "Added to",
                    label="Embedding",
                    start=f"Chunking {plural(len(documents), 'document')}…",
                    problems=problems,
                    clear=(keys.MORE,),
                )


def _confirm_delete(store, info: CollectionInfo) -> None:
    question = (
        f"Delete **{md_escape(info.name)}** and its {plural(info.n_chunks, 'chunk')}? This cannot be undone "
        "(the embedding cache keeps the vectors, so rebuilding it costs no API calls)."
    )
    if delete_confirmed(question, key="search_delete", confirm_key=keys.CONFIRM):
        with friendly_errors():
            store.delete(info.name)
            forget_loaded()
            for key in (keys.CONFIRM, keys.SELECT, keys.LAST, keys.MODEL):
                st.session_state.pop(key, None)
            st.session_state[keys.NOTICE] = (f"Deleted **{md_escape(info.name)}**.", [])
            st.rerun()


def model_mismatch(store, info: CollectionInfo, option: ModelOption, options: Sequence[ModelOption]) -> bool:
    """When ``option`` cannot search ``info``, say why and offer its own model or a re-embedding; True then."""
    problem = search.collection_mismatch(info, provider_for(option).endpoint_id, option.model)
    if not problem:
        return False
    st.warning(md_escape(problem), icon=":material/sync_problem:")
    use_own, reembed = st.columns(2)
    own = own_option(info, options)
    if own is not None:
        use_own.button(
            f"Search with {md_escape(info.model)}",
            key="search_use_own",
            on_click=lambda: st.session_state.update({keys.MODEL: own.key}),
            width="stretch",
        )
    else:
        use_own.caption(
            f"{md_escape(info.model)} at {md_escape(info.endpoint_id)} is not reachable with the current "
            "connection (choose that endpoint in the sidebar)."
        )
    if reembed.button(
        f"Re-embed as a new collection with {md_escape(option.model)}",
        key="search_reembed",
        icon=":material/autorenew:",
        width="stretch",
        help=f"Embeds the {plural(info.n_chunks, 'chunk')} again; the original collection stays as it is.",
    ):
        with friendly_errors():
            _embed_and_select(
                lambda progress: search.reembed_collection(
                    store, info.name, provider_for(option), option.model, progress=progress
                ),
                option,
                "Re-embedded into",
                label="Re-embedding",
            )
    return True
