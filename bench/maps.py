"""Target 1 — 2-D maps of 10,000 texts × 384 dims: time, quality and run-to-run stability.

Peer: plain umap-learn with its defaults (``umap.UMAP().fit_transform(X)``). Ours:
``embedcore.analysis.projection.project(X, "umap")`` with its default seed. Two data sets of real
MiniLM vectors: the corpus (sentences from offline documentation; its kNN graph is one
connected component) and the templated set (:mod:`bench.templated`: sentences from a few
dozen templates; its kNN graph has ~140 components, the slow case for umap-learn's
spectral start).

Each side runs in two fresh processes, each fitting both sets one after the other, in
opposite orders: the first fit of a process is the "fresh process" figure (numba compiles
or loads its code); then a **new** data set in a warm process, as a person mapping a
second collection meets it (no kNN or result is remembered from the first fit): the
median of three fits of that set, each with its rows in another order (new bytes for
every cache, the same geometry), because one fit on a shared 2-core machine is noisy.
Imports are timed apart.

Quality: trustworthiness@10 (``sklearn.manifold.trustworthiness``, cosine in the input
space) of each map — how many of a point's map neighbours are true neighbours — and its
mirror, continuity@10 — how many true neighbours stay map neighbours (trustworthiness with
the roles of map and input swapped, on unit rows so Euclidean order is cosine order).
Stability: the two processes of a side map the corpus with the same parameters; the
Procrustes disparity between those two maps (0 = identical up to rotation, scale and
reflection) says how much a map changes from run to run. umap-learn's defaults have no
seed, so its two maps differ by design.
"""

from __future__ import annotations

import time

import numpy as np

from . import templated
from .common import RESULTS, Row, fmt_s, log, ratio, run_fresh
from .corpus import load_vectors

TRUST_NEIGHBOURS = 10

_DATA = {"corpus": load_vectors, "templated": templated.load_vectors}


def _map_file(kind: str, tag: str) -> str:
    return str(RESULTS / f"map-{kind}-{tag}.npy")


def fits(kind: str, steps: list[dict]) -> dict:
    """Worker: the fits ``steps`` one after another in this process.

    Each step is ``{"method", "data", "n"}`` plus optional ``"params"`` (for ``umap.UMAP`` /
    ``project``; without them each side runs its defaults), ``"perm"`` (a seed: the rows in
    a shuffled order, which makes new data for every cache while keeping the geometry),
    ``"trust"`` (compute the map's trustworthiness, after all timed steps) and ``"save"``
    (save the map, rows in their original order, as ``map-<kind>-<save>.npy``).
    Returns the import time, each step's seconds and each asked-for trustworthiness.
    """
    start = time.perf_counter()
    if kind == "peer":
        import umap

        def fit(method: str, X, **params):
            assert method == "umap"
            return umap.UMAP(**params).fit_transform(X)  # defaults: no seed, all cores
    else:
        from embedcore.analysis.projection import project

        def fit(method: str, X, **params):
            return project(X, method, **params)

    imported = time.perf_counter() - start
    times, maps = [], []
    for step in steps:
        X = _DATA[step["data"]](step["n"])
        order = np.arange(len(X))
        if step.get("perm") is not None:
            order = np.random.default_rng(step["perm"]).permutation(len(X))
        X = np.ascontiguousarray(X[order])
        t0 = time.perf_counter()
        coords = fit(step["method"], X, **step.get("params", {}))
        times.append(time.perf_counter() - t0)
        assert coords.shape == (len(X), 2), coords.shape
        log(f"{kind} {step}: {times[-1]:.2f} s")
        restored = np.empty_like(np.asarray(coords, dtype=np.float32))
        restored[order] = coords
        maps.append((step, X[np.argsort(order)], restored))
    trust, continuity = {}, {}
    for step, X, coords in maps:
        if step.get("trust"):
            from sklearn.manifold import trustworthiness

            from embedcore.analysis.similarity import normalize_rows

            value = float(trustworthiness(X, coords, n_neighbors=TRUST_NEIGHBOURS, metric="cosine"))
            kept = float(trustworthiness(coords, normalize_rows(X), n_neighbors=TRUST_NEIGHBOURS))
            trust[step["trust"]], continuity[step["trust"]] = value, kept
            log(
                f"{kind} {step['trust']}: trustworthiness@{TRUST_NEIGHBOURS} {value:.4f}, continuity {kept:.4f}"
            )
        if step.get("save"):
            RESULTS.mkdir(parents=True, exist_ok=True)
            np.save(_map_file(kind, step["save"]), coords)
    return {"import": imported, "times": times, "trust": trust, "continuity": continuity}


def stability(a: np.ndarray, b: np.ndarray, k: int = 10) -> dict:
    """How much two maps of the same points differ: Procrustes disparity, shift, map-kNN overlap."""
    from scipy.spatial import procrustes
    from sklearn.neighbors import NearestNeighbors

    _, _, disparity = procrustes(a, b)
    # Median distance a point moves once b is aligned to a (rotation/reflection/scale/shift),
    # in units of a's width.
    a0, b0 = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(b0.T @ a0)
    rotation = u @ vt
    scale = np.trace((b0 @ rotation).T @ a0) / np.trace(b0.T @ b0)
    shift = np.median(np.linalg.norm(a0 - scale * b0 @ rotation, axis=1)) / np.ptp(a, axis=0).max()

    def neighbours(m):
        return NearestNeighbors(n_neighbors=k + 1).fit(m).kneighbors(m, return_distance=False)[:, 1:]

    na, nb = neighbours(a), neighbours(b)
    overlap = np.mean([len(set(x) & set(y)) for x, y in zip(na, nb, strict=True)]) / k
    return {"procrustes": float(disparity), "shift": float(shift), "overlap": float(overlap)}


def _stability_of(kind: str) -> dict:
    return stability(np.load(_map_file(kind, "corpus-a")), np.load(_map_file(kind, "corpus-b")))


#: Warm figures are the median of this many fits, each of the set in another row order.
WARM_REPEATS = 3


def rows(quick: bool = False) -> list[Row]:
    big, small = (2_000, 1_000) if quick else (10_000, 1_000)
    load_vectors(big)  # embed both sets now, outside every timed process
    templated.load_vectors(big)

    def step(data: str, **extra) -> dict:
        return {"method": "umap", "data": data, "n": big, **extra}

    def warm(data: str, **extra) -> list[dict]:
        # The first in the original row order (the stability comparison), then shuffled.
        return [step(data, **extra)] + [step(data, perm=seed) for seed in range(1, WARM_REPEATS)]

    # Process a: corpus first (fresh), then the templated set (new data, warm).
    # Process b: the other order. The corpus map of a and the first of b are the same
    # input with the same parameters: the stability comparison.
    order_a = [
        step("corpus", trust="corpus", save="corpus-a"),
        *warm("templated", trust="templated"),
    ]
    order_b = [step("templated"), *warm("corpus", save="corpus-b")]
    side = {}
    for kind in ("peer", "ours"):
        who = "umap-learn defaults" if kind == "peer" else "embedcore.project"
        log(f"{who}, fresh process: {big} corpus texts, then {big} templated ({WARM_REPEATS} row orders) ...")
        a = run_fresh("bench.maps:fits", {"kind": kind, "steps": order_a})
        log(f"{who}, fresh process: {big} templated texts, then {big} corpus ({WARM_REPEATS} row orders) ...")
        b = run_fresh("bench.maps:fits", {"kind": kind, "steps": order_b})
        warm_templated = a["times"][1 : 1 + WARM_REPEATS]
        warm_corpus = b["times"][1 : 1 + WARM_REPEATS]
        side[kind] = {
            "fresh corpus": a["times"][0],
            "warm templated": float(np.median(warm_templated)),
            "warm templated all": warm_templated,
            "fresh templated": b["times"][0],
            "warm corpus": float(np.median(warm_corpus)),
            "warm corpus all": warm_corpus,
            "trust corpus": a["trust"]["corpus"],
            "trust templated": a["trust"]["templated"],
            "continuity corpus": a["continuity"]["corpus"],
            "import": b["import"],
            "stable": _stability_of(kind),
        }
    log(f"umap-learn / embedcore.project, fresh process: {small} texts ...")
    small_step = [{"method": "umap", "data": "corpus", "n": small}]
    peer_small = run_fresh("bench.maps:fits", {"kind": "peer", "steps": small_step})["times"][0]
    ours_small = run_fresh("bench.maps:fits", {"kind": "ours", "steps": small_step})["times"][0]
    log(f"PCA preview, fresh process: {big} texts ...")
    pca_steps = [{"method": "pca", "data": data, "n": big} for data in ("corpus", "templated")]
    pca = run_fresh("bench.maps:fits", {"kind": "ours", "steps": pca_steps})

    peer, ours = side["peer"], side["ours"]
    size = f"{big // 1000}k"
    imports = (
        f"imports (not in the figures): umap {peer['import']:.1f} s, "
        f"embedcore.analysis.projection {ours['import']:.2f} s (umap-learn loads inside the first call)"
    )

    def warm_note(key: str) -> str:
        def spread(who: dict) -> str:
            return " / ".join(f"{t:.2f}" for t in who[f"{key} all"])

        return (
            f"new data in a warm process: fits after the process's first, of a set it has not "
            f"seen (each in another row order, so nothing is remembered); median of "
            f"{WARM_REPEATS}: ours {spread(ours)} s, umap-learn {spread(peer)} s"
        )

    def time_row(what: str, key: str, goal: float, notes: list[str]) -> Row:
        return Row(
            f"UMAP {size}×384 {what}",
            "umap-learn defaults, same situation",
            fmt_s(ours[key]),
            fmt_s(peer[key]),
            ratio(ours[key], peer[key], "time"),
            f"≤ {goal:g} s",
            ours[key] <= goal,
            notes,
        )

    def trust_row(data: str, label: str, notes: list[str]) -> Row:
        key = f"trust {data}"
        return Row(
            f"UMAP {size} {label}: trustworthiness@{TRUST_NEIGHBOURS}",
            "umap-learn defaults",
            f"{ours[key]:.4f}",
            f"{peer[key]:.4f}",
            f"{ours[key] / peer[key]:.3f}x",
            "≥ peer − 0.01",
            ours[key] >= peer[key] - 0.01,
            notes,
        )

    epochs_note = (
        "umap-learn runs 500 epochs with 5 negative samples each up to 10,000 points; embedcore "
        "from 2,000 points 60 epochs with 10 (projection.LARGE_EPOCHS)"
    )

    def describe(s: dict) -> str:
        return (
            f"Procrustes disparity {s['procrustes']:.4f}; median point shift {100 * s['shift']:.1f} % of the "
            f"map's width; {100 * s['overlap']:.0f} % of each point's 10 map neighbours the same"
        )

    return [
        time_row("corpus, new data in a warm process", "warm corpus", 3, [warm_note("warm corpus")]),
        time_row(
            "templated (many kNN components), new data in a warm process",
            "warm templated",
            3,
            [warm_note("warm templated")],
        ),
        time_row("corpus, fresh process (first fit)", "fresh corpus", 10, [imports]),
        time_row("templated, fresh process (first fit)", "fresh templated", 10, []),
        trust_row("corpus", "corpus", [epochs_note]),
        trust_row("templated", "templated", []),
        Row(
            f"UMAP {size} corpus: continuity@{TRUST_NEIGHBOURS} (true neighbours kept near)",
            "umap-learn defaults",
            f"{ours['continuity corpus']:.4f}",
            f"{peer['continuity corpus']:.4f}",
            f"{ours['continuity corpus'] / peer['continuity corpus']:.3f}x",
            "≥ peer − 0.01",
            ours["continuity corpus"] >= peer["continuity corpus"] - 0.01,
        ),
        Row(
            f"UMAP {size} corpus: the same map in two processes (Procrustes disparity)",
            "umap-learn defaults (no seed)",
            f"{ours['stable']['procrustes']:.4f}",
            f"{peer['stable']['procrustes']:.4f}",
            ratio(ours["stable"]["procrustes"], peer["stable"]["procrustes"], "disparity"),
            "—",
            None,
            [f"ours: {describe(ours['stable'])}", f"peer: {describe(peer['stable'])}"],
        ),
        Row(
            f"PCA preview {size}, fresh process",
            "umap-learn defaults, fresh process (UMAP: what a person waits for without the preview)",
            fmt_s(pca["times"][0]),
            fmt_s(peer["fresh corpus"]),
            ratio(pca["times"][0], peer["fresh corpus"], "time"),
            "≤ 1 s",
            pca["times"][0] <= 1,
            [f"PCA of the templated set next in the same process: {fmt_s(pca['times'][1])}"],
        ),
        Row(
            f"UMAP {small // 1000}k×384, fresh process",
            "umap-learn defaults, fresh process",
            fmt_s(ours_small),
            fmt_s(peer_small),
            ratio(ours_small, peer_small, "time"),
            "≤ 5 s",
            ours_small <= 5,
        ),
    ]
