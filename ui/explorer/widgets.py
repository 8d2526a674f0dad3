"""Streamlit glue of the similarity explorer (``pages/explorer.py``): caches, selection, query vectors.

The maths is in :mod:`embedcore.analysis.explore`, :mod:`embedcore.analysis.similarity` and
:mod:`embedcore.analysis.projection`; this module only decides what to keep between reruns:

- cached computations (the caches are in :mod:`ui.common.cached`) keyed by a *digest* of the vectors,
  with the arrays passed as ``_underscore`` arguments so Streamlit never hashes them (a
  10k × 1024 array would cost ~40 ms per call);
- the rows selected on the map, kept in session state so they survive reruns in which the
  chart is not drawn (another tab) or is redrawn with new colours;
- the vector of a typed query, per endpoint and model, so a display change never re-embeds it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from embedcore.analysis.explore import QueryPlacement
from embedcore.analysis.projection import ProjectionResult, project_with_info
from embedcore.analysis.similarity import default_min_cluster_size
from embedcore.errors import ProjectionInputError
from embedcore.figures import charts
from ui.common import cached
from ui.common.cached import digest_of, projection_result
from ui.common.embedding import embed_texts
from ui.common.format import plural
from ui.common.queueing import heavy_work

#: Prefix of the explorer's widget and session keys.
P = "explorer"
#: ``persist_state`` of the explorer's widgets: those in closed tabs keep their values.
SESSION = "session"
#: Selected texts (and Find's matches) listed on the page; downloads have all of them.
MAX_LISTED = 200

#: Display names of the projection methods.
METHOD_NAMES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}
#: Display names of the map's colourings (see :func:`colouring`).
COLOUR_NAMES = {
    "label": "Label",
    "cluster": "k-means clusters",
    "hdbscan": "HDBSCAN clusters",  # finds the number itself (the help says so); the longer name was cut
    "none": "Nothing",
}

#: Session key: ``{"dataset": str, "rows": list[int]}`` — the rows selected on the map.
SELECTION = "explorer_selection"
#: Session key: ``{(endpoint_id, model, text digest): EmbeddingResult}`` — recent query vectors.
_QUERY_VECTORS = "explorer_query_vectors"
#: Session key: ``{dataset: digest}`` — digests of recent result vectors.
_DIGESTS = "explorer_digests"
_MAX_MEMO = 8

#: Above this many points UMAP is worth a PCA preview even when numba is compiled.
UMAP_PREVIEW_ABOVE = 2_000
#: Above this many points t-SNE gets a PCA preview.
TSNE_PREVIEW_ABOVE = 1_000
#: Above this many points a UMAP is computed in a background thread: the page shows the PCA map
#: meanwhile, stays usable (Find, selection, the other tabs), and switches when it is ready. 100,000
#: points take minutes on two cores (see the README's Benchmarks).
BACKGROUND_ABOVE = 20_000
#: How often the page looks whether a background map is ready (seconds).
POLL_SECONDS = 2.0
#: Most points t-SNE maps here: scikit-learn's Barnes-Hut t-SNE runs for tens of minutes on
#: 100,000 points (UMAP and PCA scale; see the README's Benchmarks).
TSNE_MAX_POINTS = 20_000


def seed(key: str, value: Any) -> None:
    """Give a widget its starting value through session state (no ``value=``/``default=``).

    Setting both a default and session state makes Streamlit warn; seeding once keeps the
    user's choice afterwards.
    """
    if key not in st.session_state:
        st.session_state[key] = value


def seed_within(key: str, value: int, low: int, high: int) -> None:
    """:func:`seed`, then keep a remembered value inside ``[low, high]``.

    The bounds of some inputs depend on the texts (at most n results). Streamlit resets a
    value outside the bounds to the minimum (15 pairs would become 1 on a 3-text set); the
    nearest allowed value is what the user meant.
    """
    seed(key, value)
    current = st.session_state[key]
    if isinstance(current, (int, float)) and not low <= current <= high:
        st.session_state[key] = min(max(current, low), high)


def _remember(store_key: str, key: Any, value: Any) -> Any:
    memo: dict = st.session_state.setdefault(store_key, {})
    memo.pop(key, None)
    memo[key] = value
    while len(memo) > _MAX_MEMO:
        memo.pop(next(iter(memo)))
    return value


def digest_for(dataset: str, vectors: np.ndarray) -> str:
    """:func:`ui.common.cached.digest_of` ``vectors``, computed once per dataset and session."""
    memo: dict = st.session_state.get(_DIGESTS, {})
    if dataset in memo:
        return memo[dataset]
    return _remember(_DIGESTS, dataset, digest_of(vectors))


# --- projections ------------------------------------------------------------------------------

# Keys of projections already computed in this process: tells the page whether a UMAP will
# come straight from the cache or is worth a PCA preview first. If Streamlit evicted one,
# the only cost is a missing preview.
_computed: set[tuple] = set()
_computed_lock = threading.Lock()


def _projection_key(digest: str, method: str, n_components: int, random_state: int, params: Mapping) -> tuple:
    return (digest, method, int(n_components), int(random_state), tuple(sorted(params.items())))


class ProjectionPending(ProjectionInputError):
    """The map is being computed in the background; the page shows PCA until it is ready.

    A :class:`ProjectionInputError`, so a page that falls back to PCA on one does so here too.
    """


# One map at a time: two 100k UMAPs at once would share two cores and double the memory.
_one_at_a_time = threading.Lock()
#: ``{projection key: {"done", "result", "error", "queued", "started", "n"}}`` of background maps.
_jobs: dict[tuple, dict] = {}
_jobs_lock = threading.Lock()
#: Finished background maps, most recent last (coordinates only: 100k points are 0.8 MB). Kept here
#: rather than in Streamlit's cache, whose evictions would not be seen: a map missing there would
#: be computed again in the script run, freezing the page for minutes.
_large_maps: OrderedDict[tuple, ProjectionResult] = OrderedDict()
_LARGE_MAPS_KEPT = 8


def _run_job(job: dict, vectors: np.ndarray, key: tuple) -> None:
    _, method, n_components, random_state, params = key
    with _one_at_a_time:
        job["started"] = time.monotonic()
        try:
            job["result"] = project_with_info(
                vectors, method, n_components, random_state=random_state, use_cache=False, **dict(params)
            )
        except BaseException as exc:  # handed to the page that asks for the map
            job["error"] = exc
        finally:
            job["done"].set()


def _start_job(key: tuple, vectors: np.ndarray) -> dict:
    """A new background map (call with ``_jobs_lock`` held)."""
    job = {"done": threading.Event(), "result": None, "error": None}
    job.update(queued=time.monotonic(), started=None, n=len(vectors))
    # A daemon thread, not an executor: stopping the server must not wait for a UMAP.
    threading.Thread(target=_run_job, args=(job, vectors, key), name="embedcore-map", daemon=True).start()
    _jobs[key] = job
    return job


def _large_map(key: tuple, vectors: np.ndarray, method: str) -> ProjectionResult:
    """The map ``key`` when it is ready; else start it (once) and raise :class:`ProjectionPending`."""
    with _jobs_lock:  # one lock for both stores: no session starts a map another has just finished
        result = _large_maps.get(key)
        if result is not None:
            _large_maps.move_to_end(key)
            return result
        job = _jobs.get(key) or _start_job(key, vectors)
        if job["done"].is_set():
            del _jobs[key]
            if job["error"] is None:
                _large_maps[key] = job["result"]
                while len(_large_maps) > _LARGE_MAPS_KEPT:
                    _large_maps.popitem(last=False)
                return job["result"]
    if job["done"].is_set():
        raise job["error"]  # the page says why; asking again starts afresh
    _watch_job(key)
    raise ProjectionPending(
        f"The {METHOD_NAMES.get(method, method)} map of {len(vectors):,} texts is being computed "
        "in the background; the page stays usable and switches to it when it is ready."
    )


def background_maps_running() -> bool:
    """Is a map still being computed in the background in this process?"""
    with _jobs_lock:
        return any(not job["done"].is_set() for job in _jobs.values())


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


@st.fragment(run_every=POLL_SECONDS)
def _watch_job(key: tuple) -> None:
    """Say how long the background map has been running; rerun the page once it is done."""
    with _jobs_lock:
        job = _jobs.get(key)
    if job is None or job["done"].is_set():
        st.rerun()
    now = time.monotonic()
    name = METHOD_NAMES.get(key[1], key[1])
    if job["started"] is None:
        stage = f"waiting for another map to finish ({_clock(now - job['queued'])})"
    else:
        stage = f"{_clock(now - job['started'])} so far"
    st.caption(
        f":material/hourglass_top: {name} of {job['n']:,} texts in the background — {stage}. "
        "100,000 texts took 2½ to 4½ minutes on two cores in our benchmark."
    )


def projection(
    vectors: np.ndarray,
    digest: str,
    method: str,
    n_components: int,
    *,
    random_state: int = 42,
    params: Mapping | None = None,
) -> ProjectionResult:
    """:func:`embedcore.analysis.projection.project_with_info`, cached across reruns and sessions.

    Returns
    -------
    ProjectionResult
        ``coords`` of shape (n, n_components), float32, plus notes and timing.

    Raises
    ------
    ProjectionPending
        UMAP of more than :data:`BACKGROUND_ABOVE` points that is not ready yet: it is being
        computed in a background thread, and the page reruns itself when it is done.
    """
    params = dict(params or {})
    if method == "tsne" and len(vectors) > TSNE_MAX_POINTS:
        raise ProjectionInputError(
            f"t-SNE maps up to {TSNE_MAX_POINTS:,} texts here (on {len(vectors):,} it runs for tens of "
            "minutes); use UMAP for this many."
        )
    key = _projection_key(digest, method, n_components, random_state, params)
    with _computed_lock:
        computed = key in _computed
    if method != "pca" and len(vectors) > BACKGROUND_ABOVE:
        result = _large_map(key, vectors, method)
    elif method == "pca" or computed:
        result = projection_result(*key, vectors)
    else:
        with heavy_work(f"The {METHOD_NAMES.get(method, method)} map of {len(vectors):,} texts"):
            result = projection_result(*key, vectors)
    with _computed_lock:
        _computed.add(key)
    return result


def projection_ready(
    digest: str, method: str, n_components: int, *, random_state: int = 42, params: Mapping | None = None
) -> bool:
    """Was this projection computed in this process (so it will come from the cache)?"""
    with _computed_lock:
        return _projection_key(digest, method, n_components, random_state, dict(params or {})) in _computed


def needs_preview(method: str, n: int) -> bool:
    """Will ``method`` on ``n`` points take long enough to show a PCA first?

    UMAP: more than :data:`UMAP_PREVIEW_ABOVE` points, or numba has not finished compiling
    in this process (the first fit then spends 10-40 s compiling). t-SNE: more than
    :data:`TSNE_PREVIEW_ABOVE` points.
    """
    if method == "umap":
        from embedcore.analysis.projection import is_warm

        return n > UMAP_PREVIEW_ABOVE or not is_warm()
    return method == "tsne" and n > TSNE_PREVIEW_ABOVE


def projection_summary(result: ProjectionResult, n: int) -> str:
    """A caption: method, point count, the parameters that matter, and the time the fit took."""
    p = result.params
    details = {
        "umap": f"n_neighbors {p.get('n_neighbors')}, min_dist {p.get('min_dist')}",
        "tsne": f"perplexity {float(p.get('perplexity', 0)):g}",
        "pca": "unit-normalised vectors",
    }[result.method]
    took = "under 0.1 s" if result.seconds < 0.1 else f"{result.seconds:.1f} s"
    return f"{METHOD_NAMES[result.method]} of {plural(n, 'text')} · {details} · computed in {took}"


# --- other cached maths -----------------------------------------------------------------------


def kmeans(vectors: np.ndarray, digest: str, k: int) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.kmeans_labels`, cached: ndarray of shape (n,), int64."""
    return cached.kmeans_labels(digest, int(k), vectors)


def _named(clusters: np.ndarray, names: list[str]) -> tuple[list[str], list[str]]:
    """Each row's cluster as ``"2 · guitar, album"`` (or :data:`UNCLUSTERED`), and the clusters in order."""
    labelled = [f"{c} · {name}" if not name.startswith("cluster ") else name for c, name in enumerate(names)]
    return [labelled[c] if c >= 0 else UNCLUSTERED for c in clusters.tolist()], labelled


def clustered_colours(
    vectors: np.ndarray, digest: str, k: int, texts: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Each text's k-means cluster, as ``"2 · guitar, album, song"``; and the clusters in order.

    The number is the cluster's (stable across reruns: row 0 is in cluster 0), the words its
    most distinctive ones (:func:`embedcore.analysis.explore.cluster_names`). Cached per vectors and k.
    """
    clusters = kmeans(vectors, digest, k)
    names = cached.cluster_names(("kmeans", digest, int(k)), texts, clusters)
    return _named(clusters, names)


#: What HDBSCAN's noise is called on the map (one grey group).
UNCLUSTERED = "unclustered"


def density_colours(
    vectors: np.ndarray, digest: str, min_cluster_size: int, texts: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Each text's HDBSCAN cluster (named as in :func:`clustered_colours`) or :data:`UNCLUSTERED`,
    and the clusters in order. Cached per vectors and smallest cluster size.
    """
    clusters = cached.hdbscan_labels(digest, int(min_cluster_size), vectors)
    names = cached.cluster_names(("hdbscan", digest, int(min_cluster_size)), texts, clusters)
    return _named(clusters, names)


#: Most clusters the map colours one by one; more share a grey "other" entry (a legend of 100
#: entries helps nobody), and the legend's title then says how many of them are coloured.
CLUSTERS_COLOURED = 30


def _cluster_colouring(method: str, values: list[str], order: list[str], kind: str) -> Colouring:
    colors = charts.category_colors(
        values,
        palette=charts.CLUSTER_PALETTE,
        max_categories=CLUSTERS_COLOURED,
        unassigned=UNCLUSTERED,
        order=order,
    )
    coloured = sum(1 for value, colour in colors.items() if colour != charts.MUTED and value != UNCLUSTERED)
    # The legend's title counts what it colours: "39 clusters" over 19 coloured ones misled.
    title = (
        f"{method}, {plural(coloured, 'cluster')}"
        if coloured == len(order)
        else f"{method}, {coloured} largest of {len(order)} clusters"
    )
    return Colouring(values, title, charts.CLUSTER_PALETTE, True, UNCLUSTERED, kind=kind, palette_map=colors)


@dataclass(frozen=True)
class Colouring:
    """How the map colours its points, which the heatmap's bands and blocks follow.

    ``values`` has one entry per text (None: one colour for all); ``unassigned`` is the value
    drawn grey as "in no cluster"; ``named`` writes each cluster's name at its centre.
    """

    values: list | None
    title: str | None
    palette: tuple = charts.PALETTE
    named: bool = False
    unassigned: str | None = None
    kind: str = "none"
    #: ``{value: colour}`` in legend order, over the whole data set (:func:`charts.category_colors`).
    palette_map: dict | None = None

    def colors(self) -> dict:
        """``{value: colour}`` as the map draws them (for the map and the heatmap's colour bands)."""
        if self.values is None:
            return {}
        if self.palette_map is not None:
            return self.palette_map
        return charts.category_colors(self.values, palette=self.palette, unassigned=self.unassigned)


def colouring(
    choice: str,
    vectors: np.ndarray,
    digest: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    *,
    k: int | None = None,
    min_cluster_size: int | None = None,
    all_labels: Sequence[str] | None = None,
) -> Colouring:
    """The map's colours for ``choice``: ``"label"``, ``"cluster"`` (k-means), ``"hdbscan"`` or ``"none"``.

    ``all_labels``: the labels of the whole data set when ``labels`` are those of a part of it
    (an isolated selection): each label keeps the colour it has on the whole map.
    """
    if choice == "label" and labels is not None:
        colors = charts.category_colors(list(all_labels if all_labels is not None else labels))
        return Colouring(list(labels), "label", kind="label", palette_map=colors)
    if choice == "cluster":
        # The number found, not the one asked for: 3 distinct texts make at most 3 clusters.
        values, order = clustered_colours(vectors, digest, int(k or 5), texts)
        return _cluster_colouring("k-means", values, order, "cluster")
    if choice == "hdbscan":
        size = int(min_cluster_size or default_min_cluster_size(len(texts)))
        # The unclustered count is in the grey legend entry ("unclustered (12)"): the title
        # stays short enough to be shown whole.
        values, order = density_colours(vectors, digest, size, texts)
        return _cluster_colouring("HDBSCAN", values, order, "hdbscan")
    return Colouring(None, None)


def follow_default(key: str, value: Any) -> None:
    """:func:`seed`, and keep following ``value`` while the user has not changed it.

    For a default that depends on the texts (HDBSCAN's smallest cluster grows with them): a
    value the user set stays; one they never touched moves with the data.
    """
    auto_key = f"{key}__default"
    ss = st.session_state
    if key not in ss or ss[key] == ss.get(auto_key):
        ss[key] = value
    ss[auto_key] = value


def block_means(vectors: np.ndarray, digest: str, groups: Sequence, groups_key: tuple, *, clustered: bool):
    """:func:`embedcore.analysis.explore.block_means`, cached per vectors, grouping and order."""
    return cached.block_means((digest, groups_key), bool(clustered), vectors, list(groups))


def heatmap_order(
    vectors: np.ndarray, digest: str, rows: Sequence[int] | None = None, *, clustered: bool = True
) -> np.ndarray:
    """:func:`embedcore.analysis.explore.heatmap_rows`, cached: row indices in display order."""
    return cached.heatmap_rows(
        digest, None if rows is None else tuple(int(r) for r in rows), clustered, vectors
    )


def pairs(
    vectors: np.ndarray,
    digest: str,
    dataset: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    *,
    n: int,
    largest: bool,
):
    """:func:`embedcore.analysis.explore.pairs_frame`, cached per dataset (texts), labels and vectors."""
    # A list as the tables hold it (digested once, by identity, when long); anything else as a list.
    labels_digest = (
        "none" if labels is None else digest_of(labels if isinstance(labels, list) else list(labels))
    )
    return cached.pairs(dataset, digest, labels_digest, int(n), bool(largest), vectors, texts, labels)


def placement(
    query_vector: np.ndarray,
    query_key: tuple,
    vectors: np.ndarray,
    coords: np.ndarray,
    digest: str,
    method: str,
    n_components: int,
    *,
    random_state: int,
    params: Mapping,
) -> QueryPlacement:
    """:func:`embedcore.analysis.explore.place_query` for a query on a map, cached per map and query."""
    key = _projection_key(digest, method, n_components, random_state, dict(params))
    return cached.placement(key, query_key, query_vector, vectors, coords)


_NEIGHBOURS = "explorer_neighbours_table"


def neighbours_table(vectors: np.ndarray, rows: Sequence[int], texts, labels, *, k: int, digest: str):
    """:func:`embedcore.analysis.explore.neighbours_frame`, remembered for the selection on screen.

    Every rerun lists the selected texts with their neighbours again (a search typed, a colour
    changed); at 100,000 texts that is ~0.5-1 s of CPU for 200 selected rows. The last table is
    kept for the same vectors and texts (the same objects: results are never changed in place),
    rows and ``k``.
    """
    from embedcore.analysis.explore import neighbours_frame

    key = (tuple(int(r) for r in rows), int(k))
    last = st.session_state.get(_NEIGHBOURS)
    if last is not None and last[0] is vectors and last[1] is texts and last[2] is labels and last[3] == key:
        return last[4]
    unit = cached.unit_vectors(vectors, digest=digest)
    frame = neighbours_frame(unit, rows, texts, labels, k=int(k), normalized=True)
    st.session_state[_NEIGHBOURS] = (vectors, texts, labels, key, frame)
    return frame


# --- the map figure ---------------------------------------------------------------------------


def hover_texts(texts: Sequence[str], digest: str) -> np.ndarray:
    """:func:`embedcore.figures.charts.hover_texts` of ``texts``, made once per data set (``digest`` of its vectors).

    Every change to the map (a search, a click, a colour) redraws it; making 100,000 hover
    texts again each time took 2-3 s of the redraw.
    """
    return cached.hover_texts(digest, len(texts), texts)


def cached_figure(key: tuple, build):
    """``build()`` once per ``key`` (hashable, describing everything the figure shows), frozen.

    Frozen (:func:`embedcore.figures.charts.frozen`): the same map is shown again on most reruns,
    and serialising a 100k-point map anew each time took 0.3-0.45 s of every click.
    """
    return cached.figure(key, lambda: charts.frozen(build()))


def mark_selected(fig, rows: Sequence[int] | None):
    """Show ``rows`` as selected in a map from :func:`embedcore.figures.charts.scatter_figure` (in place).

    Streamlit remounts a chart whose figure changed, which drops the selection the user drew;
    setting Plotly's ``selectedpoints`` (positions within each trace, found through the
    row index in ``customdata``) draws it again. The query star and neighbour rings are left
    as they are.
    """
    if not rows:
        return fig
    wanted = np.asarray(sorted(rows), dtype=np.int64)
    for trace in fig.data:
        if trace.name in ("query", "neighbours", "clicked text") or trace.customdata is None:
            continue
        ids = np.asarray(trace.customdata).reshape(len(trace.customdata), -1)[:, 0]
        trace.selectedpoints = np.flatnonzero(np.isin(ids, wanted)).tolist()
    return fig


_DRAWN = "explorer_map_drawn"
_GENERATION = "explorer_selection_generation"


def rows_to_mark(signature: tuple, dataset: str, widget_key: str) -> tuple[int, ...] | None:
    """Which selected rows the map must draw as selected itself (None: leave it to Plotly).

    When the chart is redrawn with the same figure it is not remounted, and Plotly keeps
    showing whatever the user selected: keep the figure byte-identical (same marks as last
    time). When the figure changed (colour, size, query...) or the chart was not on screen in
    the previous run (another tab; Streamlit then dropped its state), it is mounted afresh:
    mark the remembered selection.
    """
    ss = st.session_state
    last = ss.get(_DRAWN)
    if last is not None and last["signature"] == signature and widget_key in ss:
        marked = last["marked"]
    else:
        marked = tuple(selection(dataset)) or None
    ss[_DRAWN] = {"signature": signature, "marked": marked}
    return marked


# --- the map selection ------------------------------------------------------------------------


def remember_selection(widget_key: str, dataset: str) -> None:
    """``on_select`` callback of the map: keep the selected rows for ``dataset``.

    Called by Streamlit only when the user changes the selection (including clearing it with
    a double-click), so a chart redrawn empty after a tab switch does not erase it.
    """
    event = st.session_state.get(widget_key)
    st.session_state[SELECTION] = {"dataset": dataset, "rows": charts.selected_rows(event)}


def clear_selection() -> None:
    """``on_click`` callback: forget the selection and redraw the map without marks.

    Forgetting is not enough: the browser still holds the box or lasso the user drew and
    sends it back with every rerun. A new :func:`selection_generation` makes the next map
    differ from the one on screen (its ``selectionrevision``), so Streamlit mounts it
    afresh and Plotly drops the drawn selection; zoom and pan (``uirevision``) are kept.
    """
    st.session_state[SELECTION] = {"dataset": None, "rows": []}
    st.session_state[_GENERATION] = selection_generation() + 1
    st.session_state.pop(_DRAWN, None)


def select_rows(dataset: str, rows: Sequence[int]) -> None:
    """Make ``rows`` the map's selection (from a list, not the mouse); the map redraws them marked."""
    clear_selection()
    st.session_state[SELECTION] = {"dataset": dataset, "rows": sorted({int(r) for r in rows})}


def selection_generation() -> int:
    """How often the selection was cleared in this session: part of the map's identity."""
    return int(st.session_state.get(_GENERATION, 0))


def selection(dataset: str, event: Mapping | None = None) -> list[int]:
    """Rows selected on the map for ``dataset`` (sorted; empty when none or another dataset).

    ``event`` is what ``st.plotly_chart(on_select=...)`` returned this run: a non-empty
    selection in it wins (and is remembered), otherwise the remembered rows are used.
    """
    rows = charts.selected_rows(event) if event else []
    if rows:
        st.session_state[SELECTION] = {"dataset": dataset, "rows": rows}
        return rows
    saved = st.session_state.get(SELECTION) or {}
    return list(saved.get("rows", [])) if saved.get("dataset") == dataset else []


# --- the query --------------------------------------------------------------------------------


def query_vector(model: str, text: str) -> np.ndarray:
    """The embedding of one query with the sidebar's provider, shape (d,), float32; remembered per
    endpoint, model and text (in a store of its own: a few queries must not push out the corpus
    results the pages keep).

    Raises
    ------
    embedcore.errors.EmbedcoreError
        Whatever the provider raises (wrap in ``friendly_errors``).
    """
    return embed_texts([text], model=model, store=_QUERY_VECTORS).vectors[0]


# --- choosing a text by name (the 3-D map's selection) ------------------------------------------

#: Most texts the "Pick a text" box offers: every option is sent to the browser on every run.
PICK_MAX = 2_000
#: Widget key of the "Pick a text" box.
PICKER = "explorer_pick"


def _picked(dataset: str) -> None:
    row = st.session_state.get(PICKER)
    if row is None:
        clear_selection()
    else:
        select_rows(dataset, [int(row)])


def _option_text(texts: Sequence[str], row: int) -> str:
    text = " ".join(str(texts[row]).split())
    return f"#{row} · {text[:117] + '…' if len(text) > 120 else text}"


def text_picker(column, dataset: str, texts: Sequence[str], matches: Sequence[int] | None) -> None:
    """A searchable box that selects one text, as a click on the map does (lines to its neighbours).

    Offers Find's matches when a pattern is typed, otherwise every text, up to :data:`PICK_MAX`.
    """
    options = [int(r) for r in (range(len(texts)) if matches is None else matches)]
    if not options:
        return
    if len(options) > PICK_MAX:
        column.caption(
            f":material/search: Type in **Find** to pick a text: {len(options):,} are too many for a list."
        )
        return
    rows = selection(dataset)
    # Follows the selection made elsewhere (the map, Find's list, Clear), so the box never
    # names a text that is no longer the one selected.
    st.session_state[PICKER] = rows[0] if len(rows) == 1 and rows[0] in set(options) else None
    column.selectbox(
        "Pick a text",
        options,
        index=None,
        format_func=lambda row: _option_text(texts, row),
        key=PICKER,
        placeholder="Type to search the texts…",
        # "contains": the default fuzzy filter offered texts with g…u…i…t…a…r scattered in them
        # for "guitar"; a person typing a word wants the texts with that word.
        filter_mode="contains",
        on_change=_picked,
        args=(dataset,),
        help="Selects the text as a click on the map would: lines join it to its nearest neighbours.",
    )


# --- the heatmap follows the map's colours ------------------------------------------------------

#: What the groups of a block heatmap are, by :attr:`Colouring.kind`.
GROUP_NAMES = {"label": "labels", "cluster": "k-means clusters", "hdbscan": "HDBSCAN clusters"}


def map_colouring(
    vectors: np.ndarray,
    digest: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    *,
    groups: bool = False,
) -> Colouring:
    """The colouring chosen on the Map tab (label, k-means, HDBSCAN or none), for the heatmap.

    With ``groups=True`` a map coloured by nothing still gets groups: its labels, or else the
    k-means clusters (for a block heatmap, which needs some).
    """
    ss = st.session_state
    choice = ss.get("explorer_colour") or ("label" if labels is not None else "none")
    found = colouring(
        choice,
        vectors,
        digest,
        texts,
        labels,
        k=ss.get("explorer_k", 5),
        min_cluster_size=ss.get("explorer_min_cluster"),
    )
    if groups and found.values is None:
        fallback = "label" if labels is not None else "cluster"
        found = colouring(fallback, vectors, digest, texts, labels, k=ss.get("explorer_k", 5))
    return found
