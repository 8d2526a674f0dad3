"""Similarity explorer: a map, a heatmap, a query ranking and the most / least similar pairs.

The page reads widgets, calls embedcore (through the caches in ``ui.explorer_widgets``) and
draws. Only the open tab runs (``st.tabs(on_change="rerun")``); widget values persist for the
session, and the map selection is kept in session state, so switching tabs loses nothing.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from embedcore import charts, io
from embedcore.errors import ProjectionInputError
from embedcore.explore import (
    PAIRS_MAX_ROWS,
    find_rows,
    identical_rows,
    neighbours_frame,
    neighbours_of,
    rank_query,
)
from embedcore.projection import DEFAULTS, MIN_POINTS, auto_perplexity
from embedcore.similarity import cosine_matrix, default_min_cluster_size
from ui import explorer_isolation as iso
from ui import explorer_widgets as xw
from ui.cached import cached_cosine, digest_of
from ui.connection import current_connection, current_model, missing_token
from ui.embedding import embed_texts, file_result, result_key, stored_result
from ui.errors import friendly_errors
from ui.format import cache_share, file_stem, md_escape, plural
from ui.navigation import ensure_routed
from ui.tables import pairs_table, show_pair, text_table
from ui.texts import text_source_panel

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.navigation)

P = "explorer"
#: Session key of the result on screen: kept when a later call fails or waits for a click.
VIEW = f"{P}_view"
TABS = ("Map", "Heatmap", "Query", "Pairs")
#: Selected texts listed with their neighbours (all of them go into the download).
MAX_LISTED = 200
#: Largest corpus for the pair-similarity histogram (it needs the full n × n matrix).
HISTOGRAM_MAX = 3_000
SESSION = "session"  # persist_state: widgets in closed tabs keep their values

st.title("Similarity explorer", anchor=False)
st.caption(
    "How does the model see your texts? Points close on the map, red cells in the heatmap and "
    "top-ranked results are texts it finds similar (cosine similarity of their embeddings)."
)


# --- texts and embeddings ---------------------------------------------------------------------


def _embed_view():
    """Texts in, ``(texts, labels, result, dataset)`` out — or None when there is nothing to show."""
    with st.container(border=True):
        table = text_source_panel(P, vectors_ok=True)
        if table is None or not len(table):
            return None
        if table.vectors is not None:  # a file of texts with their vectors: nothing to embed
            result, dataset = file_result(table)
            st.session_state[VIEW] = {
                "texts": table.texts,
                "labels": table.labels,
                "result": result,
                "dataset": dataset,
            }
            return table.texts, table.labels, result, dataset
        conn = current_connection()
        model = current_model()
        result = None
        clicked = False
        with friendly_errors() as outcome:
            result = stored_result(table.texts, model=model)
            if result is None and conn.kind != "local":
                # An API call costs money: wait for a click. The bundled model is free and quick.
                left, right = st.columns([4, 1], vertical_alignment="center")
                left.caption(
                    f"Embedding {plural(len(table), 'text')} with **{md_escape(model)}** calls the API; texts "
                    "embedded before come from the cache at no cost."
                )
                no_token = missing_token(conn)
                clicked = right.button(
                    "Embed",
                    key=f"{P}_embed",
                    type="primary",
                    icon=":material/bolt:",
                    width="stretch",
                    disabled=no_token is not None,
                    help=no_token,
                )
            if result is None and (conn.kind == "local" or clicked):
                result = embed_texts(table.texts, model=model, progress_label="Embedding")
    ss = st.session_state
    if result is not None:
        dataset = "|".join(result_key(table.texts, model=model))
        ss[VIEW] = {"texts": table.texts, "labels": table.labels, "result": result, "dataset": dataset}
        return table.texts, table.labels, result, dataset
    previous = ss.get(VIEW)
    no_token = missing_token(conn) if conn.kind != "local" else None
    if previous is None:
        if no_token:  # the button is disabled: say what to do instead of "press Embed"
            st.info(no_token, icon=":material/key:")
        elif not outcome.failed:
            st.info("Press **Embed** to compute the embeddings and explore them.", icon=":material/bolt:")
        return None
    st.info(
        f"Showing the previous result ({plural(len(previous['texts']), 'text')}, "
        f"{md_escape(previous['result'].model)}) "
        + (
            "until the call above succeeds."
            if outcome.failed
            else "— press **Embed** to use the texts above."
        ),
        icon=":material/history:",
    )
    return previous["texts"], previous["labels"], previous["result"], previous["dataset"]


def _metrics(texts, result) -> None:
    # Model ids come from servers and users: shown literally, never as markdown.
    st.metric("Model", md_escape(result.model.rsplit("/", 1)[-1]), help=md_escape(result.model))
    cols = st.columns(3)
    n = len(texts)  # "100,000" is cut to "100,…" in a third of the column
    cols[0].metric("Texts", f"{n:,}" if n < 100_000 else f"{n / 1000:,.0f}k", help=f"{n:,} texts")
    cols[1].metric("Dimensions", result.dimensions)
    # A share: "100 / 100" was cut to "100 …" in a third of the summary column.
    value, help_text = cache_share(result.cached, result.fetched)
    cols[2].metric("From cache", value, help=help_text)


# --- Map ---------------------------------------------------------------------------------------


def _map_controls(n: int, has_labels: bool) -> dict:
    ss = st.session_state
    xw.seed(f"{P}_method", "umap")
    xw.seed(f"{P}_dims", 2)
    colour_options = (["label"] if has_labels else []) + ["cluster", "hdbscan", "none"]
    if ss.get(f"{P}_colour") not in colour_options:
        ss[f"{P}_colour"] = colour_options[0]
    xw.seed(f"{P}_k", 5)
    xw.follow_default(f"{P}_min_cluster", default_min_cluster_size(n))
    xw.seed(f"{P}_size", 7 if n <= 1_000 else 5 if n <= 5_000 else 3)
    xw.seed(f"{P}_n_neighbors", DEFAULTS["umap"]["n_neighbors"])
    xw.seed(f"{P}_min_dist", DEFAULTS["umap"]["min_dist"])
    xw.seed(f"{P}_perplexity_auto", True)
    xw.seed(f"{P}_seed", 42)

    c = st.columns([1.4, 0.9, 1.3, 0.9, 1.3], vertical_alignment="bottom")
    method = c[0].segmented_control(
        "Method",
        list(xw.METHOD_NAMES),
        format_func=xw.METHOD_NAMES.__getitem__,
        required=True,
        key=f"{P}_method",
        persist_state=SESSION,
        help="UMAP keeps neighbourhoods and clusters; PCA is linear, instant and faithful to large "
        "distances; t-SNE separates clusters strongly.",
    )
    dims = c[1].segmented_control(
        "View", [2, 3], format_func=lambda d: f"{d}-D", required=True, key=f"{P}_dims", persist_state=SESSION
    )
    colour = c[2].selectbox(
        "Colour by",
        colour_options,
        format_func=xw.COLOUR_NAMES.__getitem__,
        key=f"{P}_colour",
        persist_state=SESSION,
        help="k-means: as many clusters as you ask for. HDBSCAN: finds how many there are, and "
        "leaves texts in no dense group unclustered (grey).",
    )
    k = min_cluster = None
    if colour == "cluster":
        k = c[3].number_input("Clusters", 2, 30, step=1, key=f"{P}_k", persist_state=SESSION)
    elif colour == "hdbscan":
        min_cluster = c[3].number_input(
            "Smallest cluster",
            2,
            1_000,
            step=1,
            key=f"{P}_min_cluster",
            persist_state=SESSION,
            help="Fewest texts HDBSCAN calls a cluster; smaller groups count as unclustered.",
        )
    size = c[4].slider("Point size", 2, 16, key=f"{P}_size", persist_state=SESSION)

    with st.expander("Projection settings", icon=":material/tune:"):
        e = st.columns(4)
        n_neighbors = e[0].slider(
            "UMAP n_neighbors",
            2,
            100,
            key=f"{P}_n_neighbors",
            persist_state=SESSION,
            help="Small: local detail; large: global structure.",
        )
        min_dist = e[1].slider(
            "UMAP min_dist",
            0.0,
            0.99,
            step=0.01,
            key=f"{P}_min_dist",
            persist_state=SESSION,
            help="How tightly points may pack.",
        )
        auto = e[2].toggle(
            "Auto t-SNE perplexity",
            key=f"{P}_perplexity_auto",
            persist_state=SESSION,
            help="About a tenth of the texts (a twelfth in 3-D), between 5 and 30.",
        )
        suggested = round(auto_perplexity(n, int(dims)))
        if auto:  # show the value the engine will choose
            ss[f"{P}_perplexity"] = suggested
        else:
            xw.seed(f"{P}_perplexity", suggested)
        perplexity = e[2].slider(
            "t-SNE perplexity",
            2,
            100,
            key=f"{P}_perplexity",
            persist_state=SESSION,
            disabled=auto,
            help="Roughly the number of neighbours each point attends to.",
        )
        seed = e[3].number_input("Random seed", 0, 2**31 - 1, step=1, key=f"{P}_seed", persist_state=SESSION)
        st.caption(
            "These recompute the map. Colour, point size and switching back to a 2-D / 3-D view "
            "already computed come from the cache."
        )
    params = {
        "umap": {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist)},
        "tsne": {} if auto else {"perplexity": float(perplexity)},
        "pca": {},
    }
    return {
        "method": method,
        "dims": int(dims),
        "colour": colour,
        "k": k,
        "min_cluster": min_cluster,
        "size": size,
        "seed": int(seed),
        "params": params,
    }


def _neighbour_links(vectors, dataset) -> list[tuple[int, int]]:
    """Lines from a single selected (clicked) text to its nearest neighbours in the full space."""
    rows = xw.selection(dataset)
    if len(rows) != 1:
        return []
    k = int(st.session_state.get(f"{P}_neighbours_k", 5))
    neighbours, _ = neighbours_of(vectors, rows, k)
    return [(rows[0], int(j)) for j in neighbours[0]]


def _map_figure(
    coords,
    texts,
    labels,
    vectors,
    digest,
    ctl,
    *,
    query=None,
    matches=None,
    links=None,
    selected=None,
    uirevision=None,
):
    colours = xw.colouring(
        ctl["colour"], vectors, digest, texts, labels, k=ctl["k"], min_cluster_size=ctl["min_cluster"]
    )
    # Rings mark the query's neighbours, or else the clicked text's (the ends of its lines).
    kwargs = {"highlight": [j for _, j in links]} if links else {}
    if query is not None:
        text, placed = query
        kwargs = {"query_point": (placed.coords, text), "highlight": placed.neighbours}
    return charts.scatter_figure(
        coords,
        texts,
        color=colours.values,
        color_title=colours.title,
        palette=colours.palette,
        label_centres=colours.named,
        unassigned=colours.unassigned,
        emphasis=matches,
        links=links,
        selected=selected,
        size=ctl["size"],
        # Pan, not lasso: Streamlit turns Plotly's click-to-select off while a lasso or box
        # tool is active, so with a lasso by default a click on a point did nothing.
        dragmode="pan",
        hover=xw.hover_texts(texts, digest),
        uirevision=uirevision,
        height=620,
        **kwargs,
    )


def _current_query(texts, vectors, result):
    """``(text, vector)`` of the query typed in the Query tab, or None."""
    text = str(st.session_state.get(f"{P}_query") or "").strip()
    if not text:
        return None
    with friendly_errors() as outcome:
        vector = xw.query_vector(result.model, text)
    return None if outcome.failed else (text, vector)


def _find_bar(texts, labels):
    """The "Find" box over the map: rows whose text or label matches, or None when it is empty."""
    left, right, count = st.columns([4, 1, 2], vertical_alignment="bottom")
    pattern = left.text_input(
        "Find",
        key=f"{P}_find",
        placeholder="a word in the texts or labels, e.g. guitar",
        persist_state=SESSION,
        help="Matching texts stand out on the map and are listed below it; the others fade.",
    )
    regex = right.toggle("Regex", key=f"{P}_find_regex", persist_state=SESSION)
    if not str(pattern or "").strip():
        return None
    with friendly_errors() as outcome:
        matches = find_rows(texts, pattern, labels=labels, regex=regex)
    if outcome.failed:
        return None
    count.markdown(f"**{plural(len(matches), 'match')}** of {len(texts):,}")
    return matches


def _matches_list(texts, labels, matches, dataset) -> None:
    if matches is None or not len(matches):
        return
    shown = matches[:MAX_LISTED]
    st.caption(
        "Click rows to select those texts on the map"
        + (f" (the first {MAX_LISTED} of {len(matches):,} are listed)." if len(matches) > MAX_LISTED else ".")
    )
    frame = {"row": shown, "text": [texts[i] for i in shown]}
    if labels is not None:
        frame["label"] = [labels[i] for i in shown]
    st.dataframe(
        frame,
        key=f"{P}_find_table",
        hide_index=True,
        width="stretch",
        height=min(300, 38 + 35 * len(shown)),
        on_select=lambda: _select_found(dataset, shown),
        selection_mode="multi-row",
        column_config={
            "row": st.column_config.NumberColumn("#", format="%d", width="small"),
            "text": st.column_config.TextColumn("Text", width="large"),
            "label": st.column_config.TextColumn("Label", width="small"),
        },
    )


def _select_found(dataset, shown) -> None:
    picked = st.session_state[f"{P}_find_table"]["selection"]["rows"]
    if picked:
        xw.select_rows(dataset, [int(shown[i]) for i in picked])


def _map_tab(texts, labels, result, dataset, digest) -> None:
    full_labels = labels
    # The map shows all texts, or the part the user isolated: from here on, that part.
    view = iso.current_view(texts, labels, result.vectors, dataset, digest)
    texts, labels, vectors, dataset, digest = view.texts, view.labels, view.vectors, view.dataset, view.digest
    n = len(texts)
    ctl = _map_controls(n, labels is not None)
    matches = _find_bar(texts, labels)
    iso.isolation_bar(view, full_labels)
    method, dims = ctl["method"], ctl["dims"]
    name = xw.METHOD_NAMES[method]
    if n < MIN_POINTS[method]:
        st.info(f"{name} needs at least {MIN_POINTS[method]} texts; you have {n}. Showing PCA instead.")
        method = "pca"

    def run(m: str):
        return xw.projection(vectors, digest, m, dims, random_state=ctl["seed"], params=ctl["params"][m])

    # One element per slot, in every run: the final map and its caption replace the preview
    # and its caption one for one (a container holding both left the preview's caption
    # behind under the finished map).
    map_slot, note_slot = st.empty(), st.empty()
    proj = None
    if xw.needs_preview(method, n) and not xw.projection_ready(
        digest, method, dims, random_state=ctl["seed"], params=ctl["params"][method]
    ):
        # Draw a PCA at once (well under a second) and replace it when the slow map is ready.
        preview = run("pca")
        # HDBSCAN fits a UMAP of its own (seconds): the instant preview goes without it.
        quick = dict(ctl, colour="none") if ctl["colour"] == "hdbscan" else ctl
        map_slot.plotly_chart(
            _map_figure(preview.coords, texts, labels, vectors, digest, quick, uirevision="preview"),
            key=f"{P}_map_preview",
            theme=None,
        )
        why = (
            "the first UMAP after a server start also compiles code"
            if method == "umap"
            else f"{name} takes a while on {n:,} texts"
        )
        note_slot.caption(f"PCA preview — computing {name}; {why}. The map is replaced when it is ready.")
    with friendly_errors() as outcome:
        try:
            with st.spinner(f"Computing {name} of {n:,} texts…"):
                proj = run(method)
        except ProjectionInputError as exc:
            st.info(f"{exc} Showing PCA instead.", icon=":material/info:")
    if proj is None:
        if outcome.failed:
            st.caption("Showing PCA instead.")
        method = "pca"
        proj = run("pca")

    query = _current_query(texts, vectors, result)
    placed = None
    if query is not None:
        with friendly_errors():
            placed = xw.placement(
                query[1],
                (result.model, query[0]),
                vectors,
                proj.coords,
                digest,
                method,
                dims,
                random_state=ctl["seed"],
                params=ctl["params"][method],
            )
    links = _neighbour_links(vectors, dataset)
    # uirevision keeps zoom and legend clicks while the chart is redrawn; a new map starts afresh.
    revision = f"{dataset}|{method}|{dims}|{ctl['seed']}|{sorted(ctl['params'][method].items())}"
    colour_key = (
        ctl["colour"],
        ctl["k"] if ctl["colour"] == "cluster" else None,
        ctl["min_cluster"] if ctl["colour"] == "hdbscan" else None,
    )
    signature = (
        revision,
        colour_key,
        digest_of(labels) if labels is not None and ctl["colour"] == "label" else None,
        ctl["size"],
        None if placed is None else (result.model, query[0]),
        xw.selection_generation(),
        tuple(links),
        # The matches follow from the pattern and the texts (already in ``revision``).
        None
        if matches is None
        else (st.session_state.get(f"{P}_find"), st.session_state.get(f"{P}_find_regex")),
    )
    # 2-D: Plotly draws the selection (see rows_to_mark); 3-D has none, so the figure marks it.
    marked = xw.rows_to_mark(signature, dataset, f"{P}_map") if dims == 2 else tuple(xw.selection(dataset))
    fig = xw.cached_figure(
        (signature, marked),
        lambda: xw.mark_selected(
            _map_figure(
                proj.coords,
                texts,
                labels,
                vectors,
                digest,
                ctl,
                query=None if placed is None else (query[0], placed),
                matches=matches,
                links=links,
                selected=marked if dims == 3 else None,
                uirevision=revision,
            ).update_layout(selectionrevision=xw.selection_generation()),
            marked if dims == 2 else None,
        ),
    )
    event = None
    if dims == 2:
        event = map_slot.plotly_chart(
            fig,
            key=f"{P}_map",
            theme=None,
            on_select=partial(xw.remember_selection, f"{P}_map", dataset),
            selection_mode=("points", "box", "lasso"),
        )
    else:
        map_slot.plotly_chart(fig, key=f"{P}_map_3d", theme=None)
    notes = [xw.projection_summary(proj, n), *proj.notes]
    if placed is not None:
        notes.append(placed.description)
    if links:
        notes.append(
            f"lines join the selected text to its {len(links)} nearest neighbours by cosine in the full "
            f"{vectors.shape[1]}-dimensional space (not by distance on the map)"
        )
    note_slot.caption(" · ".join(notes))

    _matches_list(texts, labels, matches, dataset)
    rows = xw.selection(dataset, event)
    if dims == 3:
        pick, why = st.columns([3, 2], vertical_alignment="bottom")
        xw.text_picker(pick, dataset, texts, matches)
        why.caption(
            ":material/3d_rotation: No box or lasso in 3-D: Plotly cannot select 3-D points and "
            "Streamlit does not pass on a click on one. Pick a text here (or in Find's list)."
        )
    _selection_section(texts, labels, vectors, proj.coords, rows, dims, view)
    _map_downloads(texts, labels, vectors, proj.coords, rows, result.model, method, dims)


def _selection_section(texts, labels, vectors, coords, rows, dims, view) -> None:
    if not rows:
        hint = (
            "Click a point, or drag a lasso or box on the map (pick the tool at its top right), to list "
            "the texts and their nearest neighbours."
            if dims == 2
            else "Pick a text above, or switch to the 2-D view to select points with the mouse."
        )
        st.caption(f":material/touch_app: {hint}")
        return
    xw.seed(f"{P}_neighbours_k", 5)
    head, isolate_col, clear_col, k_col = st.columns([3, 1.2, 1.2, 1], vertical_alignment="bottom")
    head.subheader(f"{len(rows):,} selected", anchor=False)
    iso.isolate_button(isolate_col, view, len(rows))
    clear_col.button(
        "Clear selection", key=f"{P}_clear_selection", on_click=xw.clear_selection, icon=":material/deselect:"
    )
    k = k_col.number_input("Neighbours each", 1, 20, step=1, key=f"{P}_neighbours_k", persist_state=SESSION)
    shown = rows[:MAX_LISTED]
    if len(rows) > MAX_LISTED:
        st.caption(f"Listing the first {MAX_LISTED} of {len(rows):,}; the download has all of them.")
    frame = xw.neighbours_table(vectors, shown, texts, labels, k=int(k))
    has_labels = labels is not None

    def detail(line) -> None:
        if line["neighbour"] is None:  # one text: no neighbour to show
            st.text(line["text"])
            return
        show_pair(
            line["text"],
            line["neighbour"],
            heading=f"**Neighbour {line['rank']}** · cosine {line['cosine']:.3f}",
            label_a=line.get("label") if has_labels else None,
            label_b=line.get("neighbour_label") if has_labels else None,
        )

    # Both texts wrapped, and the selected line's in full below: a neighbour is read, not guessed.
    text_table(
        frame,
        key=f"{P}_selection_table",
        column_order=["text", *(["label"] if has_labels else []), "rank", "cosine", "neighbour"]
        + (["neighbour_label"] if has_labels else []),
        column_config={
            "text": st.column_config.TextColumn("Selected text", width="medium"),
            "label": st.column_config.TextColumn("Label", width="small"),
            "rank": st.column_config.NumberColumn("#", format="%d", width="small"),
            "cosine": st.column_config.ProgressColumn(
                "Cosine", min_value=-1.0, max_value=1.0, format="%.3f", width="small"
            ),
            "neighbour": st.column_config.TextColumn("Nearest neighbour", width="medium"),
            "neighbour_label": st.column_config.TextColumn("Its label", width="small"),
        },
        detail=detail,
        select_hint="Select a line to read both texts in full.",
    )


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _map_downloads(texts, labels, vectors, coords, rows, model, method, dims) -> None:
    stem = f"{file_stem(model)}-{method}-{dims}d"
    left, right, _ = st.columns([1, 1, 2])
    # Callables: a file is built only when its button is clicked, not on every rerun.
    left.download_button(
        "Coordinates (CSV)",
        data=partial(io.coordinates_csv_bytes, texts, coords, labels),
        file_name=f"{stem}-coordinates.csv",
        mime="text/csv",
        key=f"{P}_download_coords",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    right.download_button(
        "Selected + neighbours (CSV)",
        data=lambda: _csv(
            neighbours_frame(
                vectors,
                rows,
                texts,
                labels,
                k=int(st.session_state.get(f"{P}_neighbours_k", 5)),
                coords=coords,
            )
        ),
        file_name=f"{stem}-selected.csv",
        mime="text/csv",
        key=f"{P}_download_selected",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        disabled=not rows,
        help="One line per selected text and neighbour: text, label, map position, neighbour, cosine.",
    )


# --- Heatmap -----------------------------------------------------------------------------------


def _heatmap_tab(texts, labels, result, dataset, digest) -> None:
    vectors = result.vectors
    n = len(texts)
    xw.seed(f"{P}_heatmap_order", "clustered")
    xw.seed(f"{P}_heatmap_scale", "data")
    order_col, scale_col = st.columns(2)
    scale = scale_col.segmented_control(
        "Colour range",
        ["data", "full"],
        format_func={"data": "These texts", "full": "Full −1 … 1"}.__getitem__,
        required=True,
        key=f"{P}_heatmap_scale",
        persist_state=SESSION,
        help="These texts: from their lowest to their highest similarity, so the structure shows. "
        "Full: the same colour means the same cosine for every model and data set.",
    )
    clustered = (
        order_col.segmented_control(
            "Row order",
            ["clustered", "input"],
            format_func={"clustered": "Clustered", "input": "Input order"}.__getitem__,
            required=True,
            key=f"{P}_heatmap_order",
            persist_state=SESSION,
        )
        == "clustered"
    )
    zrange = "data" if scale == "data" else (-1.0, 1.0)
    rows = None
    if n > charts.HEATMAP_LIMIT:
        selected = iso.full_selection(dataset)
        if 2 <= len(selected) <= charts.HEATMAP_LIMIT:
            rows = selected
            st.info(
                f"{n:,} texts are more than a readable heatmap holds ({charts.HEATMAP_LIMIT}); "
                f"showing the {len(selected)} texts selected on the map.",
                icon=":material/info:",
            )
        else:
            _block_heatmap(texts, labels, vectors, dataset, digest, clustered, zrange)
            return
    colours = xw.map_colouring(vectors, digest, texts, labels)
    order = xw.heatmap_order(vectors, digest, rows, clustered=clustered)
    with friendly_errors():
        if rows is None:
            # The whole (small) matrix, so hover labels carry each text's row number.
            sim, labels_for, order_in = cached_cosine(vectors, digest=digest), texts, order
        else:
            sim, labels_for, order_in = cosine_matrix(vectors[order]), [texts[i] for i in order], None
        groups = None
        if colours.values is not None:
            groups = colours.values if rows is None else [colours.values[i] for i in order]
        fig = charts.heatmap_figure(
            sim,
            labels_for,
            order=order_in,
            zrange=zrange,
            groups=groups,
            group_colors=colours.colors() or None,
            uirevision=f"{dataset}|{len(order)}",
            height=420 if len(order) <= 12 else 720,
        )
        st.plotly_chart(fig, key=f"{P}_heatmap", theme=None)
    st.caption(
        "Cosine similarity of every pair; hover a cell for both texts. "
        + (
            "Rows are ordered by hierarchical clustering (average linkage), so groups of similar "
            "texts form blocks along the diagonal."
            if clustered
            else "Rows are in input order."
        )
        + (
            f" The bands along the axes show each text's {xw.GROUP_NAMES[colours.kind][:-1]}, in the map's colours."
            if colours.values is not None
            else ""
        )
    )


def _block_heatmap(texts, labels, vectors, dataset, digest, clustered, zrange) -> None:
    """Mean cosine between the map's groups (labels or clusters): one cell per pair of groups."""
    n = len(texts)
    colours = xw.map_colouring(vectors, digest, texts, labels, groups=True)
    what = xw.GROUP_NAMES[colours.kind]
    st.info(
        f"{n:,} texts are more than a heatmap of one cell per text holds ({charts.HEATMAP_LIMIT}): each "
        f"cell here is the mean cosine between two {what}. Select 2 to {charts.HEATMAP_LIMIT} points on "
        "the map for a heatmap of their texts.",
        icon=":material/grid_view:",
    )
    with friendly_errors():
        blocks = xw.block_means(
            vectors, digest, colours.values, (colours.kind, digest_of(colours.values)), clustered=clustered
        )
        fig = charts.block_heatmap_figure(
            blocks.means,
            blocks.names,
            blocks.sizes,
            colors=colours.colors(),
            zrange=zrange,
            uirevision=f"{dataset}|blocks|{colours.kind}",
            height=420 if len(blocks.names) <= 12 else 720,
        )
        st.plotly_chart(fig, key=f"{P}_heatmap_blocks", theme=None)
        st.caption(
            f"Mean cosine between the texts of two {what} (on the diagonal: between different texts of "
            "one); hover a cell for both names and sizes. "
            + ("Similar groups are ordered next to each other." if clustered else "Largest groups first.")
        )


# --- Query ------------------------------------------------------------------------------------


def _query_tab(texts, labels, result, dataset, digest) -> None:
    n = len(texts)
    xw.seed_within(f"{P}_query_k", min(10, n), 1, min(100, n))
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.text_input(
        "Query",
        key=f"{P}_query",
        placeholder="e.g. best selling music artists",
        persist_state=SESSION,
        help="Embedded with the same model as the texts, then compared with each of them.",
    )
    if n > 1:
        k = right.number_input("Results", 1, min(100, n), step=1, key=f"{P}_query_k", persist_state=SESSION)
    else:
        k = 1
    query = _current_query(texts, result.vectors, result)
    if query is None:
        if not str(st.session_state.get(f"{P}_query") or "").strip():
            st.caption(":material/search: Type a text and press Enter to rank the texts by similarity to it.")
        return
    text, vector = query
    same = identical_rows(texts, text)
    if same.size:
        xw.seed(f"{P}_query_exclude", True)
        leave_out = st.checkbox(
            f"Leave out the text identical to the query ({same.size:,} × cosine 1.000)",
            key=f"{P}_query_exclude",
            persist_state=SESSION,
        )
        if not leave_out:
            same = same[:0]
    with friendly_errors():
        ranking = rank_query(vector, result.vectors, texts, labels, k=int(k), exclude=same)
        st.plotly_chart(
            charts.ranking_bar_figure(ranking["text"].tolist(), ranking["cosine"].to_numpy(), query=text),
            key=f"{P}_ranking",
            theme=None,
        )
        has_labels = labels is not None

        def detail(hit) -> None:
            st.markdown(
                f"**{hit['rank']}.** cosine {hit['cosine']:.3f}"
                + (f" · {md_escape(hit['label'])}" if has_labels else "")
            )
            st.text(hit["text"])

        # The text is the answer: first, wrapped, and the selected one in full below.
        text_table(
            ranking,
            key=f"{P}_ranking_table",
            column_order=["text", "cosine", *(["label"] if has_labels else []), "rank"],
            column_config={
                "rank": st.column_config.NumberColumn("#", format="%d", width="small"),
                "text": st.column_config.TextColumn("Text", width="large"),
                "label": st.column_config.TextColumn("Label", width="small"),
                "cosine": st.column_config.ProgressColumn(
                    "Cosine", min_value=-1.0, max_value=1.0, format="%.3f", width="small"
                ),
            },
            detail=detail,
            select_hint="Select a result to read it in full.",
        )
        st.caption("The query is marked with a star on the Map tab, its nearest texts circled.")


# --- Pairs ------------------------------------------------------------------------------------


def _pairs_table(frame, labels, where: str) -> None:
    # Both texts wrapped, what tells near-duplicates apart, and the selected pair in full.
    pairs_table(frame, key=f"{P}_pairs_{where}", has_labels=labels is not None)


def _pairs_tab(texts, labels, result, dataset, digest) -> None:
    n = len(texts)
    if n < 2:
        st.info("Pairs need at least two texts.", icon=":material/info:")
        return
    vectors = result.vectors
    if n > PAIRS_MAX_ROWS:
        st.info(
            f"{n:,} texts make {n * (n - 1) // 2:,} pairs: scoring them all takes minutes, so this tab "
            f"works up to {PAIRS_MAX_ROWS:,} texts. Select points on the map to see their nearest "
            "neighbours, or rank the texts against a query in the Query tab.",
            icon=":material/info:",
        )
        return
    total = n * (n - 1) // 2
    xw.seed_within(f"{P}_pairs_n", min(15, total), 1, min(200, total))
    count = (
        st.columns([1, 4])[0].number_input(
            "Pairs per table", 1, min(200, total), step=1, key=f"{P}_pairs_n", persist_state=SESSION
        )
        if total > 1
        else 1
    )
    if n <= HISTOGRAM_MAX:
        histogram = xw.cached_figure(
            ("histogram", digest),
            lambda: charts.similarity_histogram(cached_cosine(vectors, digest=digest), height=240),
        )
        st.plotly_chart(histogram, key=f"{P}_histogram", theme=None)
        st.caption(
            f"Cosine similarity of all {total:,} pairs: what counts as high for this model and these texts."
        )
    st.subheader("Most similar", anchor=False)
    _pairs_table(
        xw.pairs(vectors, digest, dataset, texts, labels, n=int(count), largest=True), labels, "most"
    )
    st.subheader("Least similar", anchor=False)
    _pairs_table(
        xw.pairs(vectors, digest, dataset, texts, labels, n=int(count), largest=False), labels, "least"
    )


# --- the page ---------------------------------------------------------------------------------

source_column, summary_column = st.columns([3, 2], gap="large")
with source_column:
    view = _embed_view()
if view is not None:
    texts, labels, result, dataset = view
    digest = xw.digest_for(dataset, result.vectors)
    with summary_column:
        _metrics(texts, result)
    for warning in result.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    tabs = st.tabs(list(TABS), key=f"{P}_tab", on_change="rerun")
    for tab, draw in zip(tabs, (_map_tab, _heatmap_tab, _query_tab, _pairs_tab), strict=True):
        # Only the open tab runs: a display change on the map never recomputes the others.
        if tab.open:
            with tab:
                draw(texts, labels, result, dataset, digest)
