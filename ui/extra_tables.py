"""Display tables for the Compare and Search pages (no Streamlit here).

Like :mod:`ui.tables`: they only arrange what embedcore computed into DataFrames with
readable columns, so the pages stay free of loops.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from embedcore.collections import CollectionInfo
from embedcore.compare import ComparisonReport, Disagreement
from embedcore.types import EmbeddingResult


def model_runs_frame(runs: Sequence[tuple[str, str, EmbeddingResult]]) -> pd.DataFrame:
    """One row per model run: ``(name, served_by, result)`` → dimensions, tokens, time, cache use.

    ``tokens`` counts what was billed in the call that made the vectors (0 when every text
    came from the cache); ``seconds`` is that call's wall-clock time.
    """
    return pd.DataFrame(
        {
            "model": [name for name, _, _ in runs],
            "served by": [where for _, where, _ in runs],
            "dimensions": [r.dimensions for _, _, r in runs],
            "tokens": [r.total_tokens for _, _, r in runs],
            "seconds": [r.elapsed for _, _, r in runs],
            "from cache": [r.cached for _, _, r in runs],
            "embedded": [r.fetched for _, _, r in runs],
        }
    )


def pairs_frame(report: ComparisonReport) -> pd.DataFrame:
    """One row per pair of models: Spearman of pair similarities and mean Jaccard@k of neighbours."""
    return pd.DataFrame(
        {
            "model A": [p.model_a for p in report.pairs],
            "model B": [p.model_b for p in report.pairs],
            "spearman": [p.spearman for p in report.pairs],
            f"jaccard@{report.k}": [p.mean_jaccard for p in report.pairs],
            "pairs compared": [p.n_pairs for p in report.pairs],
        }
    )


def disagreements_frame(items: Sequence[Disagreement], k: int) -> pd.DataFrame:
    """Texts the models disagree on most: the text, its Jaccard@k and how many neighbours are shared."""
    models = list(items[0].neighbours) if items else []
    shared = [len(set.intersection(*(set(d.neighbours[m]) for m in models))) if models else 0 for d in items]
    return pd.DataFrame(
        {
            "text": [d.text for d in items],
            "jaccard": [d.jaccard for d in items],
            "shared": [f"{s} of {k}" for s in shared],
        }
    )


def neighbour_lists(item: Disagreement) -> dict[str, pd.DataFrame]:
    """Each model's neighbours of one text, best first, marking those every model shares."""
    models = list(item.neighbours)
    common = set.intersection(*(set(rows) for rows in item.neighbours.values())) if models else set()
    return {
        model: pd.DataFrame(
            {
                "#": list(range(1, len(rows) + 1)),
                "shared": [row in common for row in rows],
                "neighbour": item.neighbour_texts[model],
            }
        )
        for model, rows in item.neighbours.items()
    }


def collections_frame(infos: Sequence[CollectionInfo]) -> pd.DataFrame:
    """One row per stored collection: name, model, where, documents, chunks, chunking, created."""
    return pd.DataFrame(
        {
            "name": [i.name for i in infos],
            "model": [i.model for i in infos],
            "endpoint": ["bundled (local)" if i.endpoint_id == "local:" else i.endpoint_id for i in infos],
            "documents": [i.n_documents for i in infos],
            "chunks": [i.n_chunks for i in infos],
            "chunking": [f"{i.chunk_size} words, overlap {i.overlap}" for i in infos],
            "created": [i.created.strftime("%Y-%m-%d %H:%M UTC") for i in infos],
        }
    )
