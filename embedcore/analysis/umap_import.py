"""umap-learn imported without compiling what our maps never use.

Importing umap-learn imports pynndescent, whose numba code compiled for about 20 s on a fresh
install (a new Community Cloud container has no numba cache), and a fit compiles umap-learn's two
fuzzy-graph loops (``smooth_knn_dist``, ``compute_membership_strengths``: about 10 s). Our maps
never use pynndescent — their neighbours are exact and precomputed — so :func:`import_umap`
imports umap-learn with stand-ins in pynndescent's place (the real one loads the first time
umap-learn does its own neighbour search), and the two fuzzy-graph steps run in numpy
(:func:`smooth_knn_dist`, :func:`membership_strengths`; the same values as umap-learn's, tested
against its own functions). Only the layout epoch is then compiled: 7-8 s of CPU from a cold
process to the sample's map, against 31-33 s before.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Mapping

import numpy as np

from embedcore.extras import require_extra

__all__ = ["import_umap", "membership_strengths", "neighbours_given", "smooth_knn_dist", "umap_originals"]

_umap_import_lock = threading.Lock()
#: umap-learn's own numba functions that :func:`import_umap` replaced (tests compare with them).
umap_originals: dict = {}
#: Module names stood in for while ``umap`` is imported (see :func:`import_umap`).
_PYNNDESCENT_NAMES = ("pynndescent", "pynndescent.distances", "pynndescent.sparse")


class _Placeholder(types.ModuleType):
    """Stands in for a pynndescent module during ``import umap`` only (:func:`import_umap`)."""


class _LazyNNDescentType(type):
    """What umap-learn's module sees as ``NNDescent`` until pynndescent is really imported.

    Calling it imports pynndescent and builds a real ``NNDescent`` (umap-learn's own neighbour
    search, used for a ``metric`` other than cosine on 4,096 points or more); ``isinstance``
    answers as the real class would.
    """

    def __call__(cls, *args, **kwargs):
        from pynndescent import NNDescent

        return NNDescent(*args, **kwargs)

    def __instancecheck__(cls, obj) -> bool:
        real = sys.modules.get("pynndescent")
        if real is None or isinstance(real, _Placeholder):
            return False  # nothing can be an NNDescent before pynndescent is imported
        return isinstance(obj, real.NNDescent)


class _LazyNNDescent(metaclass=_LazyNNDescentType):
    pass


#: ``neighbours_given.on``: this thread runs a fit with precomputed neighbours (:func:`_umap`).
neighbours_given = threading.local()


class _LazyDistances(Mapping):
    """pynndescent's table of named distances, imported on first look (:func:`import_umap`).

    umap-learn asks whether the metric is in this table on every fit, even one with precomputed
    neighbours, where the answer goes unused; during such a fit of ours (the thread's
    ``neighbours_given.on``) the answer is "no" without importing pynndescent.
    """

    def __init__(self, module: str, name: str):
        self._module, self._name = module, name

    def _table(self) -> Mapping:
        return getattr(importlib.import_module(f"pynndescent.{self._module}"), self._name)

    def __getitem__(self, key):
        return self._table()[key]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __contains__(self, key) -> bool:
        real = sys.modules.get("pynndescent")
        if (real is None or isinstance(real, _Placeholder)) and getattr(neighbours_given, "on", False):
            return False
        return key in self._table()


def import_umap():
    """``import umap``, without pynndescent, with the fuzzy graph's two steps in numpy.

    On a fresh installation (no numba disk cache: a new Community Cloud container) the first
    UMAP of a process paid about 35 s of CPU before any map was drawn (two cores, idle machine;
    2-5 minutes at load 10-17):

    * ``import umap`` imports pynndescent, whose modules compile dozens of numba functions with
      explicit signatures the moment they are imported (~20 s). Our maps never use it: the
      neighbours are exact and precomputed (:func:`embedcore.analysis.reducers.exact_knn`). So pynndescent's three modules
      that umap-learn names are stood in for while ``umap`` is imported, and removed again at
      once; umap-learn's module keeps lazy stand-ins (:class:`_LazyNNDescent`,
      :class:`_LazyDistances`) that import the real pynndescent the first time they are used
      (a ``metric`` other than cosine on 4,096 points or more). Anyone importing pynndescent
      later gets the real package.
    * umap-learn's ``smooth_knn_dist`` and ``compute_membership_strengths`` are numba-parallel
      loops whose compilation took 8 s and 2 s; :func:`smooth_knn_dist` and
      :func:`membership_strengths` compute the same values with numpy (to float32 rounding,
      tested against umap-learn's own), in 10-100 ms on 10k points. umap-learn's module-level
      names are pointed at them, so ``fuzzy_simplicial_set`` (which looks them up on every call)
      uses them.

    What is still compiled on a fresh installation: the layout epoch, serial (~1.5 s; every map)
    and parallel (~2-4 s; from :data:`embedcore.analysis.umap_runtime.PARALLEL_LAYOUT_MIN` points), both cached on disk by
    :func:`embedcore.analysis.umap_runtime.enable_umap_disk_cache`.
    """
    require_extra("maps", "UMAP maps", "umap")
    with _umap_import_lock:
        umap_module = sys.modules.get("umap.umap_")
        if umap_module is None:
            placed = []
            if "pynndescent" not in sys.modules:
                for name in _PYNNDESCENT_NAMES:
                    sys.modules[name] = _Placeholder(name)
                    placed.append(name)
                parent = sys.modules["pynndescent"]
                parent.NNDescent = _LazyNNDescent
                parent.distances = sys.modules["pynndescent.distances"]
                parent.distances.named_distances = _LazyDistances("distances", "named_distances")
                parent.sparse = sys.modules["pynndescent.sparse"]
                parent.sparse.sparse_named_distances = _LazyDistances("sparse", "sparse_named_distances")
            try:
                import umap.umap_ as umap_module
            finally:
                for name in placed:
                    if isinstance(sys.modules.get(name), _Placeholder):
                        del sys.modules[name]
        if getattr(umap_module, "smooth_knn_dist", None) is not smooth_knn_dist:
            umap_originals.setdefault("smooth_knn_dist", umap_module.smooth_knn_dist)
            umap_originals.setdefault(
                "compute_membership_strengths", umap_module.compute_membership_strengths
            )
            umap_module.smooth_knn_dist = smooth_knn_dist
            umap_module.compute_membership_strengths = membership_strengths
        return sys.modules["umap"]


#: umap-learn's constants for the fuzzy graph (umap/umap_.py).
_SMOOTH_K_TOLERANCE = 1e-5
_MIN_K_DIST_SCALE = 1e-3
_FLOAT32_MAX = np.float32(np.finfo(np.float32).max)


def smooth_knn_dist(distances, k, n_iter=64, local_connectivity=1.0, bandwidth=1.0):
    """umap-learn's ``smooth_knn_dist`` in numpy: ``(sigmas, rhos)``, float32, one of each per row.

    The same bisection as umap-learn (float32 as its numba locals), run on every row at once:
    ``rho`` is the distance to the ``local_connectivity``-th positive neighbour, ``sigma`` the
    scale at which ``sum(exp(-(d - rho) / sigma))`` over the other neighbours is
    ``log2(k) * bandwidth``, floored at 1e-3 of the mean distance.
    """
    distances = np.ascontiguousarray(distances, dtype=np.float32)
    n, width = distances.shape
    target = np.float32(np.log2(k) * bandwidth)
    rho = np.zeros(n, dtype=np.float32)
    positive = distances > 0.0
    counts = positive.sum(axis=1)
    # Each row's positive distances first, in their order.
    order = np.argsort(~positive, axis=1, kind="stable")
    nonzero = np.take_along_axis(distances, order, axis=1)
    index = int(np.floor(local_connectivity))
    interpolation = local_connectivity - index
    enough = counts >= local_connectivity
    if index > 0:
        lower = nonzero[:, min(index - 1, width - 1)]
        rho[enough] = lower[enough]
        if interpolation > _SMOOTH_K_TOLERANCE:
            upper = nonzero[:, min(index, width - 1)]
            rho[enough] += np.float32(interpolation) * (upper[enough] - lower[enough])
    else:
        rho[enough] = np.float32(interpolation) * nonzero[enough, 0]
    some = ~enough & (counts > 0)
    if some.any():
        rho[some] = np.where(positive[some], distances[some], -np.inf).max(axis=1)

    lo = np.zeros(n, dtype=np.float32)
    hi = np.full(n, _FLOAT32_MAX, dtype=np.float32)
    mid = np.ones(n, dtype=np.float32)
    shifted = distances[:, 1:] - rho[:, None]
    rows = np.arange(n)
    with np.errstate(over="ignore", under="ignore"):
        for _ in range(n_iter):
            if rows.size == 0:
                break
            d, m = shifted[rows], mid[rows]
            terms = np.where(d > 0, np.exp(-(d / m[:, None])), np.float32(1.0))
            psum = terms.sum(axis=1, dtype=np.float32)
            open_ = np.abs(psum - target) >= _SMOOTH_K_TOLERANCE
            rows, psum, m = rows[open_], psum[open_], m[open_]
            over = psum > target
            hi[rows[over]] = m[over]
            lo[rows[~over]] = m[~over]
            doubled = ~over & (hi[rows] >= _FLOAT32_MAX)
            mid[rows] = np.where(doubled, m * np.float32(2.0), (lo[rows] + hi[rows]) / np.float32(2.0))
    floor = np.where(
        rho > 0.0,
        np.float32(_MIN_K_DIST_SCALE) * distances.mean(axis=1, dtype=np.float32),
        np.float32(_MIN_K_DIST_SCALE) * np.float32(distances.mean()),
    ).astype(np.float32)
    return np.maximum(mid, floor), rho


def membership_strengths(knn_indices, knn_dists, sigmas, rhos, return_dists=False, bipartite=False):
    """umap-learn's ``compute_membership_strengths`` in numpy: ``(rows, cols, vals, dists)``.

    The COO entries of each point's fuzzy set: ``exp(-(d - rho) / sigma)``, 1 within ``rho``
    or where ``sigma`` is 0, 0 for a point and itself (unless ``bipartite``), and zeros at
    the places of missing neighbours (index -1), as umap-learn leaves them.
    """
    knn_indices = np.asarray(knn_indices)
    knn_dists = np.asarray(knn_dists, dtype=np.float32)
    sigmas = np.asarray(sigmas, dtype=np.float32)[:, None]
    n, k = knn_indices.shape
    shifted = knn_dists - np.asarray(rhos, dtype=np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        vals = np.exp(-(shifted / sigmas))
    vals = np.where((shifted <= 0.0) | (sigmas == 0.0), np.float32(1.0), vals).astype(np.float32)
    own = np.arange(n)[:, None]
    if not bipartite:
        vals[knn_indices == own] = 0.0
    missing = knn_indices == -1
    rows = np.where(missing, 0, np.broadcast_to(own, (n, k))).astype(np.int32).ravel()
    cols = np.where(missing, 0, knn_indices).astype(np.int32).ravel()
    vals[missing] = 0.0
    dists = np.where(missing, np.float32(0.0), knn_dists).ravel() if return_dists else None
    return rows, cols, vals.ravel(), dists
