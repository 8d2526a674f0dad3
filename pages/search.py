"""Semantic search: named document collections, embedded once and kept on disk, searched by meaning."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from embedcore import charts, search
from embedcore.errors import EmbedcoreError, InputError
from embedcore.tables import collections_frame
from ui import state
from ui.cached import cached_projection
from ui.collection_store import collection_store, forget_loaded, load_collection
from ui.embedding import progress_bar
from ui.errors import friendly_errors
from ui.format import duration, md_escape, plural
from ui.models_picker import (
    find_option,
    model_options,
    pick_model,
    provider_for,
    sidebar_option,
)
from ui.static_build import prepare
from ui.tables import text_table

_SELECT = "search_collection"
_MODEL = "search_model"
_PENDING = "search_pending_select"
_NOTICE = "search_notice"
_CONFIRM = "search_confirm_delete"
_LAST = "search_last"
#: Resettable widgets of the two forms (see ui.state.widget_key).
_FILES, _NAME, _MORE = "search_files", "search_new_name", "search_add_files"
_RESULTS = "search_results"
#: ``{uploader base key: [messages]}``: why the files last given to that uploader were refused.
_REFUSED = "search_refused"


def _option_for(info, options):
    """The model option that can search collection ``info`` here, or None."""
    option = find_option(options, info.model, prefer="local" if info.endpoint_id == "local:" else "api")
    if option is None:
        return None
    try:
        return option if provider_for(option).endpoint_id == info.endpoint_id else None
    except EmbedcoreError:  # the API connection is misconfigured; the sidebar says why
        return None


def _follow_collection() -> None:
    # Choosing another collection selects the model that made it, when it is on offer.
    name = st.session_state.get(_SELECT)
    store = collection_store()
    if name and store.exists(name):
        option = _option_for(store.info(name), model_options())
        if option is not None:
            st.session_state[_MODEL] = option.key


def _refuse_files(uploader: str, problems: list[str]) -> None:
    """Every file given was unreadable: empty the uploader (its chips looked accepted), say why."""
    st.session_state.setdefault(_REFUSED, {})[uploader] = [
        *problems,
        "None of the files could be read; choose others.",
    ]
    state.reset_widget(uploader)
    st.rerun()


def _show_refused(uploader: str) -> None:
    for problem in st.session_state.get(_REFUSED, {}).get(uploader, []):
        st.warning(md_escape(problem), icon=":material/description:")


def _built(
    report: search.BuildReport, verb: str, problems: list[str] | None = None, *, clear: tuple[str, ...] = ()
) -> None:
    """Remember what happened, select the collection and start the page again with it.

    The form's widgets in ``clear`` start empty again: their files are in the collection now,
    and a filled form invites building the same collection twice. (A failed build raises before
    this and keeps everything typed.)
    """
    forget_loaded()
    for widget in clear:
        state.reset_widget(widget)
    st.session_state.pop(_REFUSED, None)
    emb = report.embedding
    tokens = f", {plural(emb.total_tokens, 'token')}" if emb.total_tokens else ""
    cached = f", {emb.cached:,} from the cache" if emb.cached else ""
    st.session_state[_NOTICE] = (
        f"{verb} **{md_escape(report.info.name)}**: {plural(report.chunks, 'chunk')} from "
        f"{plural(report.documents, 'document')} in {report.seconds:.1f} s{tokens}{cached}.",
        [md_escape(w) for w in [*(problems or []), *emb.warnings]],
    )
    st.session_state[_PENDING] = report.info.name
    st.session_state.pop(_LAST, None)
    st.rerun()


st.title("Semantic search", anchor=False)
st.caption(
    "Upload documents, split them into chunks and embed them once; then search them by meaning. "
    "Collections are kept (on disk, or in the team database): reopening one costs no embedding calls."
)

store = None
with friendly_errors():
    store = collection_store()
if store is None:
    st.stop()

# A collection built or re-embedded on the previous run becomes the selected one.
if _PENDING in st.session_state:
    st.session_state[_SELECT] = st.session_state.pop(_PENDING)
    st.session_state.pop(_MODEL, None)
notice = st.session_state.pop(_NOTICE, None)
if notice:
    st.success(notice[0], icon=":material/check_circle:")
    for warning in notice[1]:
        st.warning(warning, icon=":material/warning:")

infos = store.list()
by_name = {i.name: i for i in infos}
options = model_options()
if not options:
    st.warning(
        "No model is available: the bundled models are not installed here and no API is connected. "
        "Choose an API in the sidebar.",
        icon=":material/cloud_off:",
    )
    st.stop()

left, right = st.columns([3, 2], vertical_alignment="bottom")
info = None
if infos:
    if st.session_state.get(_SELECT) not in by_name:
        st.session_state[_SELECT] = infos[0].name
    chosen_name = left.selectbox(
        "Collection",
        list(by_name),
        key=_SELECT,
        on_change=_follow_collection,
        format_func=lambda n: f"{n} · {plural(by_name[n].n_chunks, 'chunk')}",
    )
    info = by_name[chosen_name]
else:
    left.info(
        "No collections yet: build the sample collection to try search at once, or upload documents.",
        icon=":material/library_books:",
    )
default = (_option_for(info, options) if info else None) or sidebar_option(options) or options[0]
option = pick_model(
    "Model",
    options,
    key=_MODEL,
    default=default,
    container=right,
    help="Embeds new collections and queries. A collection can only be searched with the model that made it.",
)

limit = search.token_limit(option.model)

# --- making collections ----------------------------------------------------------------------------

with st.expander("New collection", icon=":material/library_add:", expanded=not infos):
    sample_exists = search.SAMPLE_COLLECTION in by_name
    st.markdown(
        f"**Sample collection** — the built-in *topics* texts as five short documents (music, sports, "
        f"cooking, space, programming), chunked by {search.SAMPLE_CHUNK_SIZE} words."
    )
    if st.button(
        "Open the sample collection"
        if sample_exists
        else f"Build the sample collection with {md_escape(option.model)}",
        key="search_sample",
        icon=":material/auto_awesome:",
    ):
        if sample_exists:
            st.session_state[_PENDING] = search.SAMPLE_COLLECTION
            st.rerun()
        with friendly_errors():
            provider = provider_for(option)
            prepare(provider, option.model)
            with progress_bar(
                f"Embedding the sample with {option.model}", "chunk", start="Chunking the sample…"
            ) as progress:
                report = search.build_collection(
                    store,
                    search.SAMPLE_COLLECTION,
                    search.sample_documents(),
                    provider,
                    option.model,
                    chunk_size=search.SAMPLE_CHUNK_SIZE,
                    overlap=search.SAMPLE_OVERLAP,
                    limit=limit,
                    progress=progress,
                )
            _built(report, "Built")

    st.divider()
    with st.form("search_new", border=False):
        st.markdown("**Your documents**")
        files = st.file_uploader(
            # No type= filter: a file the browser refuses stays as a red chip the app never sees;
            # search.read_documents says what is wrong with each file instead.
            "TXT, Markdown, CSV, JSON Lines or PDF",
            accept_multiple_files=True,
            key=state.widget_key(_FILES),
        )
        name = st.text_input(
            "Collection name", key=state.widget_key(_NAME), placeholder="e.g. Product manuals"
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
    if submitted:
        st.session_state.get(_REFUSED, {}).pop(_FILES, None)
    _show_refused(_FILES)
    if submitted:
        with friendly_errors():
            if not files:
                raise InputError("Choose one or more files to build a collection from.")
            if not name.strip():
                raise InputError("Give the collection a name.")
            documents, problems = search.read_documents((f.name, f.getvalue()) for f in files)
            if not documents:
                _refuse_files(_FILES, problems)
            provider = provider_for(option)
            prepare(provider, option.model)
            start = f"Chunking {plural(len(documents), 'document')}…"
            with progress_bar(f"Embedding with {option.model}", "chunk", start=start) as progress:
                report = search.build_collection(
                    store,
                    name,
                    documents,
                    provider,
                    option.model,
                    chunk_size=int(size),
                    overlap=int(overlap),
                    limit=limit,
                    progress=progress,
                )
            _built(report, "Built", problems, clear=(_FILES, _NAME))

if info is None:
    st.stop()

# --- the selected collection ---------------------------------------------------------------------

st.dataframe(
    collections_frame([info]),
    hide_index=True,
    width="stretch",
    column_config={"name": st.column_config.TextColumn(width="medium")},
)
with st.expander(f"Documents ({info.n_documents:,})", icon=":material/description:"):
    st.dataframe(
        pd.DataFrame(store.documents(info.name), columns=["document", "chunks"]),
        hide_index=True,
        width="stretch",
    )
    own_option = _option_for(info, options)
    with st.form("search_add_form", border=False):
        more = st.file_uploader(
            "Add documents (a file with the name of one already here replaces it)",
            accept_multiple_files=True,
            key=state.widget_key(_MORE),
        )
        add = st.form_submit_button(
            f"Add with {md_escape(info.model)}",
            key="search_add",
            icon=":material/note_add:",
            disabled=own_option is None,
            help=None if own_option else "The endpoint that made this collection is not connected.",
        )
    if add:
        st.session_state.get(_REFUSED, {}).pop(_MORE, None)
    _show_refused(_MORE)
    if add:
        with friendly_errors():
            if not more:
                raise InputError("Choose one or more files to add.")
            documents, problems = search.read_documents((f.name, f.getvalue()) for f in more)
            if not documents:
                _refuse_files(_MORE, problems)
            provider = provider_for(own_option)
            prepare(provider, info.model)
            start = f"Chunking {plural(len(documents), 'document')}…"
            with progress_bar(f"Embedding with {info.model}", "chunk", start=start) as progress:
                report = search.add_documents(store, info.name, documents, provider, progress=progress)
            _built(report, "Added to", problems, clear=(_MORE,))
    if st.button("Delete this collection…", key="search_delete", icon=":material/delete:"):
        st.session_state[_CONFIRM] = info.name

if st.session_state.get(_CONFIRM) == info.name:
    st.warning(
        f"Delete **{md_escape(info.name)}** and its {plural(info.n_chunks, 'chunk')}? This cannot be undone "
        "(the embedding cache keeps the vectors, so rebuilding it costs no API calls).",
        icon=":material/delete_forever:",
    )
    yes, no = st.columns(2)
    if yes.button("Yes, delete it", key="search_delete_yes", type="primary", width="stretch"):
        with friendly_errors():
            store.delete(info.name)
            forget_loaded()
            for key in (_CONFIRM, _SELECT, _LAST, _MODEL):
                st.session_state.pop(key, None)
            st.session_state[_NOTICE] = (f"Deleted **{md_escape(info.name)}**.", [])
            st.rerun()
    if no.button("Cancel", key="search_delete_no", width="stretch"):
        st.session_state.pop(_CONFIRM, None)
        st.rerun()

provider = None
problem = None
with friendly_errors():
    provider = provider_for(option)
    problem = search.collection_mismatch(info, provider.endpoint_id, option.model)
if provider is None:
    st.stop()
if problem:
    st.warning(md_escape(problem), icon=":material/sync_problem:")
    use_own, reembed = st.columns(2)
    own = _option_for(info, options)
    if own is not None:
        use_own.button(
            f"Search with {md_escape(info.model)}",
            key="search_use_own",
            on_click=lambda: st.session_state.update({_MODEL: own.key}),
            width="stretch",
        )
    else:
        use_own.caption(
            f"{md_escape(info.model)} at {md_escape(info.endpoint_id)} is not reachable with the current connection "
            "(choose that endpoint in the sidebar)."
        )
    if reembed.button(
        f"Re-embed as a new collection with {md_escape(option.model)}",
        key="search_reembed",
        icon=":material/autorenew:",
        width="stretch",
        help=f"Embeds the {plural(info.n_chunks, 'chunk')} again; the original collection stays as it is.",
    ):
        with friendly_errors():
            prepare(provider, option.model)
            with progress_bar(f"Re-embedding with {option.model}", "chunk") as progress:
                report = search.reembed_collection(
                    store, info.name, provider, option.model, progress=progress
                )
            _built(report, "Re-embedded into")

# --- searching --------------------------------------------------------------------------------------

chunks, vectors = [], None
with friendly_errors():
    chunks, vectors = load_collection(info)

with st.form("search_form", border=False):
    q_col, k_col, go_col = st.columns([6, 2, 1], vertical_alignment="bottom")
    query = q_col.text_input("Query", key="search_query", placeholder="What are you looking for?")
    k = k_col.number_input("Results", min_value=1, max_value=50, value=5, key="search_k")
    asked = go_col.form_submit_button(
        "Search", key="search_go", type="primary", disabled=bool(problem), width="stretch"
    )

if asked:
    with friendly_errors():
        result = search.search(
            provider, option.model, query, chunks, vectors, k=int(k), info=info, store=store
        )
        st.session_state[_LAST] = (info.name, info.created, result)
        state.reset_widget(_RESULTS)  # a new result list opens on its best hit, not on the old selection

last = st.session_state.get(_LAST)
result = last[2] if last and last[0] == info.name and last[1] == info.created else None


def _hit_detail(hit: pd.Series) -> None:
    st.markdown(
        f"**{hit['rank']}.** {md_escape(hit['source'])} · chunk {hit['chunk']} · characters "
        f"{hit['characters']} · score {hit['score']:.3f}"
    )
    st.text(hit["text"])


if result is not None:
    emb = result.embedding
    spent = "from the cache" if emb.cached else plural(emb.total_tokens, "token") if emb.total_tokens else ""
    st.caption(
        f"“{md_escape(result.query)}” · embedded in {duration(emb.elapsed)}"
        + (f" ({spent})" if spent else "")
        + (" · ranked by pgvector in the team database" if store.searches_in_database else "")
    )
    if result.below_floor:
        left_out = plural(result.below_floor, "chunk")
        asked_for = len(result.hits) + result.below_floor
        if result.hits:
            verb = "was" if result.below_floor == 1 else "were"
            st.caption(
                f":material/filter_alt: Of the {asked_for} nearest chunks, {left_out} scored "
                f"{result.min_score:g} or less (nothing in common with the query) and {verb} left out."
            )
        else:
            st.info(
                f"Nothing in **{md_escape(info.name)}** is like this query: the {left_out} nearest to it "
                f"all scored {result.min_score:g} or less.",
                icon=":material/search_off:",
            )
    if result.hits:
        text_table(
            result.to_frame(),
            key=state.widget_key(_RESULTS),
            # The text is the answer: first, wrapped, and in full below the table.
            column_order=["text", "score", "source", "chunk", "characters"],
            column_config={
                "text": st.column_config.TextColumn("Text", width="large"),
                "score": st.column_config.ProgressColumn(
                    "Score",
                    format="%.3f",
                    min_value=0.0,
                    max_value=1.0,
                    help="Cosine similarity to the query.",
                ),
                "source": st.column_config.TextColumn("Document"),
                "chunk": st.column_config.NumberColumn(
                    "Chunk #", help="Position of the chunk in its document."
                ),
                "characters": st.column_config.TextColumn(
                    "Characters", help="Where the chunk sits in the document."
                ),
            },
            detail=_hit_detail,
            select_hint="Select a result to read it in full.",
        )

# --- the map ---------------------------------------------------------------------------------------

if vectors is not None and len(chunks):
    st.subheader("Map of the collection", anchor=False)
    method = st.radio(
        "Projection",
        ["pca", "umap"],
        format_func=str.upper,
        horizontal=True,
        key="search_projection",
        help="PCA is instant; UMAP shows neighbourhoods better (a few seconds the first time).",
    )
    coords = None
    with friendly_errors():
        coords = cached_projection(vectors, method)
    if coords is not None:
        query_point = None
        if result is not None and result.hits:
            query_point = (search.query_position(coords, result.rows, result.scores), result.query)
        figure = charts.scatter_figure(
            coords,
            [c.text for c in chunks],
            color=[c.source for c in chunks],
            color_title="document",
            highlight=result.rows.tolist() if result is not None and result.hits else None,
            query_point=query_point,
            uirevision=f"{info.name}-{method}",
        )
        # Plotly strokes "circle-open" markers in marker.color, which scatter_figure leaves
        # transparent: give the outlines a colour so the results show (reported upstream).
        figure.update_traces(selector={"name": "neighbours"}, marker_color="#111111")
        st.plotly_chart(
            figure,
            key="search_map",
            width="stretch",
            theme=None,
        )
        if result is not None and result.hits:
            st.caption(
                "Outlined: the query's results. The star sits among them (weighted by score); the map "
                "itself does not move between queries."
            )
