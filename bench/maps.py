"""Target 1 — a 2-D map of 10,000 texts × 384 dims.

Peer: plain umap-learn with its defaults (``umap.UMAP().fit_transform(X)``) in a fresh
process. Ours: ``embedcore.projection.project(X, "umap")`` in a fresh process (the first
fit in a process is where umap-learn spends its numba compile time), and warm; the PCA
preview; 1,000 texts in a fresh process.

"Fresh" times the first call after the imports (the import time is reported apart).
"Warm" times a second 10k fit in the same process, as a person asking for a second map
would: umap-learn fits the same data again; ``project`` is asked with another seed, so its
in-process result cache cannot answer and the whole computation (kNN included) runs again.
"""

from __future__ import annotations

import time

from .common import Row, fmt_s, log, ratio, run_fresh
from .corpus import load_vectors


def fits(kind: str, steps: list[list]) -> dict:
    """Worker: the fits ``steps`` = [[method, n, seed?], ...] one after another in this process.

    Returns the import time and each step's seconds.
    """
    start = time.perf_counter()
    if kind == "peer":
        import umap

        def fit(method: str, X, seed=None):
            assert method == "umap"
            return umap.UMAP().fit_transform(X)  # plain defaults: no seed, all cores
    else:
        from embedcore.projection import project

        def fit(method: str, X, seed=42):
            return project(X, method, random_state=seed)

    imported = time.perf_counter() - start
    vectors = load_vectors(max(step[1] for step in steps))
    times = []
    for method, n, *seed in steps:
        X = vectors[:n].copy()
        t0 = time.perf_counter()
        coords = fit(method, X, *seed)
        times.append(time.perf_counter() - t0)
        assert coords.shape == (n, 2), coords.shape
        log(f"{kind} {method} {n}: {times[-1]:.2f} s")
    return {"import": imported, "times": times}


def rows(quick: bool = False) -> list[Row]:
    big, small = (2_000, 1_000) if quick else (10_000, 1_000)
    load_vectors(big)  # embed the corpus now, outside every timed process
    log(f"umap-learn, fresh process: {small} texts ...")
    peer_a = run_fresh("bench.maps:fits", {"kind": "peer", "steps": [["umap", small]]})
    log(f"embedcore.project, fresh process: {small} texts ...")
    ours_a = run_fresh("bench.maps:fits", {"kind": "ours", "steps": [["umap", small]]})
    log(f"umap-learn, fresh process: {big} texts, twice (the slow one) ...")
    peer_b = run_fresh("bench.maps:fits", {"kind": "peer", "steps": [["umap", big], ["umap", big]]})
    log(f"embedcore.project, fresh process: {big} texts, then again with another seed ...")
    ours_b = run_fresh("bench.maps:fits", {"kind": "ours", "steps": [["umap", big, 42], ["umap", big, 43]]})
    log(f"PCA preview, fresh process: {big} texts ...")
    ours_pca = run_fresh("bench.maps:fits", {"kind": "ours", "steps": [["pca", big], ["pca", big, 43]]})

    peer_small, ours_small = peer_a["times"][0], ours_a["times"][0]
    peer_big_fresh, peer_warm = peer_b["times"]
    ours_fresh, ours_warm = ours_b["times"]
    pca_fresh, pca_warm = ours_pca["times"]
    imports = (
        f"imports (not in the figures): umap {peer_b['import']:.1f} s, "
        f"embedcore.projection {ours_b['import']:.2f} s (umap-learn loads inside the first call)"
    )
    peer_name = "umap-learn defaults, fresh process"
    size = f"{big // 1000}k"
    return [
        Row(
            f"UMAP {size}×384, fresh process",
            peer_name,
            fmt_s(ours_fresh),
            fmt_s(peer_big_fresh),
            ratio(ours_fresh, peer_big_fresh, "time"),
            "≤ 10 s",
            ours_fresh <= 10,
            [imports],
        ),
        Row(
            f"UMAP {size}×384, warm process",
            "umap-learn defaults, second fit in the same process",
            fmt_s(ours_warm),
            fmt_s(peer_warm),
            ratio(ours_warm, peer_warm, "time"),
            "≤ 3 s",
            ours_warm <= 3,
        ),
        Row(
            f"PCA preview {size}, fresh process",
            peer_name + " (UMAP: what a person waits for without the preview)",
            fmt_s(pca_fresh),
            fmt_s(peer_big_fresh),
            ratio(pca_fresh, peer_big_fresh, "time"),
            "≤ 1 s",
            pca_fresh <= 1,
            [f"PCA again in the same process: {fmt_s(pca_warm)}"],
        ),
        Row(
            "UMAP 1k×384, fresh process",
            peer_name,
            fmt_s(ours_small),
            fmt_s(peer_small),
            ratio(ours_small, peer_small, "time"),
            "≤ 5 s",
            ours_small <= 5,
        ),
    ]
