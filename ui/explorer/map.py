"""The explorer's Map tab: the projection (with a PCA preview while a slow one runs), and the figure.

The figure is cached under a *signature* of everything it shows, so a rerun that changes nothing
on the map (a selection, the neighbour count, another tab and back) hands the same figure to
Plotly and keeps the user's zoom and drawn selection. Around it: :mod:`ui.explorer.controls`
above, :mod:`ui.explorer.selection` (Find, the selection, downloads) and
:mod:`ui.explorer.isolation` (narrowing the map) below.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from functools import partial

import streamlit as st

from embedcore.analysis.explore import neighbour_links
from embedcore.analysis.projection import get_method
from embedcore.errors import ProjectionInputError
from embedcore.figures.scatter import scatter_figure
from ui.common import cached
from ui.common.cached import digest_of
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.explorer import colours as colouring_of
from ui.explorer import figure, keys, projections
from ui.explorer import isolation as iso
from ui.explorer import links as explorer_links
from ui.explorer import selection as sel
from ui.explorer import selection_state as selstate
from ui.explorer.controls import MapControls, map_controls
from ui.explorer.keys import P
from ui.explorer.query import current_query


def _neighbour_links(vectors, dataset, digest) -> list[tuple[int, int]]:
    """Lines from a single selected (clicked) text to its nearest neighbours in the full space."""
    rows = selstate.selection(dataset)
    if len(rows) != 1:
        return []
    k = int(st.session_state.get(f"{P}_neighbours_k", 5))
    return neighbour_links(cached.unit_vectors(vectors, digest=digest), rows[0], k, normalized=True)


def _map_figure(
    coords,
    texts,
    labels,
    vectors,
    digest,
    ctl: MapControls,
    *,
    query=None,
    matches=None,
    links=None,
    selected=None,
    uirevision=None,
    all_labels=None,
):
    colours = colouring_of.colouring(
        ctl.colour,
        vectors,
        digest,
        texts,
        labels,
        k=ctl.k,
        min_cluster_size=ctl.min_cluster,
        all_labels=all_labels,
    )
    # Rings mark the query's neighbours, or else the clicked text's (the ends of its lines).
    kwargs = {"highlight": [j for _, j in links]} if links else {}
    if query is not None:
        text, placed = query
        kwargs = {"query_point": (placed.coords, text), "highlight": placed.neighbours}
    return scatter_figure(
        coords,
        texts,
        color=colours.values,
        color_title=colours.title,
        palette=colours.palette,
        colors=colours.colors() or None,
        # The clicked text itself stands out among its neighbours' rings.
        focus=links[0][0] if links else None,
        label_centres=colours.named,
        unassigned=colours.unassigned,
        emphasis=matches,
        links=links,
        selected=selected,
        size=ctl.size,
        # Pan, not lasso: Streamlit turns Plotly's click-to-select off while a lasso or box
        # tool is active, so with a lasso by default a click on a point did nothing.
        dragmode="pan",
        hover=figure.hover_texts(texts, digest),
        uirevision=uirevision,
        height=620,
        **kwargs,
    )


def _project(view, ctl: MapControls, model: str):
    """``(projection, method, map slot, note slot)``: the map asked for, or PCA when it cannot be
    made (the page says why); the slots are where the map and its caption go."""
    texts, labels, vectors, digest = view.texts, view.labels, view.vectors, view.digest
    n, dims, method = len(texts), ctl.dims, ctl.method
    spec = get_method(method)
    name = spec.display_name
    if n < spec.min_points:
        st.info(f"{name} needs at least {spec.min_points} texts; you have {n}. Showing PCA instead.")
        method = projections.FALLBACK
    # One element per slot, in every run: the final map and its caption replace the preview
    # and its caption one for one (a container holding both left the preview's caption
    # behind under the finished map).
    map_slot, note_slot = st.empty(), st.empty()
    key = projections.projection_key(digest, method, dims, ctl.seed, ctl.params[method])
    saved = explorer_links.saved_projection(key, n, dims, model)
    if saved is not None:  # a saved view's map, as it was drawn when saved
        return saved, method, map_slot, note_slot

    def run(m: str):
        return projections.projection(vectors, digest, m, dims, random_state=ctl.seed, params=ctl.params[m])

    if projections.needs_preview(method, n) and not projections.projection_ready(
        digest, method, dims, random_state=ctl.seed, params=ctl.params[method]
    ):
        # Draw a PCA at once (well under a second) and replace it when the slow map is ready.
        preview = run(projections.FALLBACK)
        # HDBSCAN fits a UMAP of its own (seconds): the instant preview goes without it.
        quick = replace(ctl, colour="none") if ctl.colour == "hdbscan" else ctl
        map_slot.plotly_chart(
            _map_figure(preview.coords, texts, labels, vectors, digest, quick, uirevision="preview"),
            key=f"{P}_map_preview",
            theme=None,
        )
        compiling = spec.ready is not None and not spec.ready()
        why = (
            f"the first {name} after a server start also compiles code"
            if compiling
            else f"{name} takes a while on {n:,} texts"
        )
        note_slot.caption(f"PCA preview — computing {name}; {why}. The map is replaced when it is ready.")
    proj = None
    with friendly_errors() as outcome:
        try:
            with st.spinner(f"Computing {name} of {n:,} texts…"):
                proj = run(method)
        except ProjectionInputError as exc:
            # The engine's sentence may hold user text (a label, a number format): shown literally.
            st.info(f"{md_escape(str(exc))} Showing PCA instead.", icon=":material/info:")
    if proj is None:
        if outcome.failed:
            st.caption("Showing PCA instead.")
        method = projections.FALLBACK
        proj = run(method)
    return proj, method, map_slot, note_slot


def map_tab(texts, labels, result, dataset, digest, tools=None) -> None:
    """Controls and Find (in ``tools``, a container beside the map; default: above it), the
    isolation bar, the map with its caption, then the selection below it."""
    full_labels = labels
    # The map shows all texts, or the part the user isolated: from here on, that part.
    view = iso.current_view(texts, labels, result.vectors, dataset, digest)
    texts, labels, vectors, dataset, digest = view.texts, view.labels, view.vectors, view.dataset, view.digest
    n = len(texts)
    with tools if tools is not None else nullcontext():
        ctl = map_controls(n, labels is not None)
        matches = sel.find_bar(texts, labels)
    iso.isolation_bar(view, full_labels, picker=tools)
    dims = ctl.dims
    proj, method, map_slot, note_slot = _project(view, ctl, result.model)
    # What "Save view" keeps (ui.explorer.share): this map as drawn, on the texts it shows.
    st.session_state[keys.DRAWN_MAP] = {
        "dataset": dataset,
        "coords": proj.coords,
        "texts": texts,
        "labels": labels,
    }

    query = current_query(result)
    placed = None
    if query is not None:
        with friendly_errors():
            placed = projections.placement(
                query[1],
                (result.model, query[0]),
                vectors,
                proj.coords,
                digest,
                method,
                dims,
                random_state=ctl.seed,
                params=ctl.params[method],
            )
    links = _neighbour_links(vectors, dataset, digest)
    # uirevision keeps zoom and legend clicks while the chart is redrawn; a new map starts afresh.
    revision = f"{dataset}|{method}|{dims}|{ctl.seed}|{sorted(ctl.params[method].items())}"
    signature = (
        revision,
        ctl.colour_key,
        digest_of(labels) if labels is not None and ctl.colour == "label" else None,
        ctl.size,
        None if placed is None else (result.model, query[0]),
        selstate.selection_generation(),
        tuple(links),
        # The matches follow from the pattern and the texts (already in ``revision``).
        None
        if matches is None
        else (st.session_state.get(f"{P}_find"), st.session_state.get(f"{P}_find_regex")),
    )
    # 2-D: Plotly draws the selection (see rows_to_mark); 3-D has none, so the figure marks it.
    marked = (
        selstate.rows_to_mark(signature, dataset, f"{P}_map")
        if dims == 2
        else tuple(selstate.selection(dataset))
    )
    fig = figure.cached_figure(
        (signature, marked),
        lambda: figure.mark_selected(
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
                all_labels=full_labels,
            ).update_layout(selectionrevision=selstate.selection_generation()),
            marked if dims == 2 else None,
        ),
    )
    event = None
    if dims == 2:
        event = map_slot.plotly_chart(
            fig,
            key=f"{P}_map",
            theme=None,
            on_select=partial(selstate.remember_selection, f"{P}_map", dataset),
            selection_mode=("points", "box", "lasso"),
        )
    else:
        map_slot.plotly_chart(fig, key=f"{P}_map_3d", theme=None)
    # The engine's sentences are shown literally (the caption is markdown).
    notes = [projections.projection_summary(proj, n), *map(md_escape, proj.notes)]
    if placed is not None:
        notes.append(md_escape(placed.description))
    if links:
        notes.append(
            f"lines join the selected text to its {len(links)} nearest neighbours by cosine in the full "
            f"{vectors.shape[1]}-dimensional space (not by distance on the map)"
        )
    note_slot.caption(" · ".join(notes))

    sel.matches_list(texts, labels, matches, dataset)
    rows = selstate.selection(dataset, event)
    if dims == 3:
        pick, why = st.columns([3, 2], vertical_alignment="bottom")
        selstate.text_picker(pick, dataset, texts, matches)
        why.caption(
            ":material/3d_rotation: In 3-D, pick a text here (or in Find's list) to see its "
            "neighbours; to select with a box or lasso, switch the view to 2-D."
        )
    sel.selection_section(texts, labels, vectors, proj.coords, rows, dims, view)
    sel.map_downloads(texts, labels, vectors, proj.coords, rows, result.model, method, dims)
