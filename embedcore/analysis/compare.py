"""How much do two embedding models agree about the same texts?

Models may have different dimensions (384 vs 1024), so vectors are never
compared directly; what is compared is the *similarity structure* each model
induces over the same texts:

* :func:`pairwise_agreement` — Spearman rank correlation of all pairwise cosine
  similarities (do both models rank the pairs alike?). Rank-based because
  models calibrate cosine differently (one puts unrelated texts at 0.1, another
  at 0.4); only the order is comparable.
* :func:`neighbour_overlap` — per text, Jaccard overlap of its k nearest
  neighbours under each model (do both models see the same neighbourhood?).
* :func:`compare_models` / :func:`disagreements` — both, for every pair of
  models, and the texts on which the models disagree most.

scipy is imported inside the function that needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from embedcore.analysis.similarity import cosine_matrix, nearest_neighbours
from embedcore.errors import InputError

__all__ = [
    "MAX_PAIRS",
    "ComparisonReport",
    "Disagreement",
    "PairComparison",
    "compare_models",
    "disagreements",
    "neighbour_overlap",
    "pairwise_agreement",
]

#: Pairs used for the rank correlation before sampling: 2M pairs is n ≈ 2000
#: texts, ~1 s of ranking; the sampling error of the correlation at that size is
#: far below anything a reader could act on.
MAX_PAIRS = 2_000_000


# --- helpers -------------------------------------------------------------------------


def _check_rows(X_a: np.ndarray, X_b: np.ndarray, a: str = "model A", b: str = "model B") -> None:
    if X_a.shape[0] != X_b.shape[0]:
        raise InputError(
            f"{a} has {X_a.shape[0]} vectors and {b} has {X_b.shape[0]}: "
            "models can only be compared on the same texts, one vector per text each."
        )


def _sample_rows(n: int, max_pairs: int, random_state: int) -> np.ndarray | None:
    """``None`` for "use all texts"; else a sorted, reproducible subset of rows.

    The subset is the largest ``m`` with ``m(m-1)/2 <= max_pairs``, and all
    pairs among those rows are used. A subset of texts rather than a sample of
    independent pairs: the similarities then come from one BLAS product of an
    (m, d) block (~0.1 s) instead of gathering 2M row pairs (~12 s for 1024
    dimensions, measured), and every model is scored on the same pairs.
    """
    if n * (n - 1) // 2 <= max_pairs:
        return None
    m = int((1 + np.sqrt(1 + 8 * max_pairs)) // 2)
    while m * (m - 1) // 2 > max_pairs:
        m -= 1
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=max(m, 3), replace=False))


def _pair_similarities(X: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Cosine similarity of every pair i < j of ``rows`` (all rows when None), row-major.

    Returns
    -------
    ndarray of shape (m(m-1)/2,), float32
    """
    X = np.asarray(X)
    S = cosine_matrix(X if rows is None else X[rows])
    return S[np.triu_indices(S.shape[0], k=1)]


def _ranks(values: np.ndarray) -> np.ndarray | None:
    """Average ranks (float64) for a Spearman correlation, or None when all values tie."""
    from scipy.stats import rankdata

    if values.size < 2 or np.ptp(values) == 0:
        return None
    return rankdata(values)


def _rank_correlation(ra: np.ndarray | None, rb: np.ndarray | None) -> float:
    # Spearman = Pearson of the average ranks (what scipy.stats.spearmanr computes).
    # Ranking each model once and correlating per pair of models halves the work
    # of calling spearmanr per pair, which re-ranks both inputs every time.
    # A constant input has no ranking: the correlation is undefined, so NaN.
    if ra is None or rb is None:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _jaccard(nn_a: np.ndarray, nn_b: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard index of two (n, k) neighbour-index arrays (each row a set)."""
    k = nn_a.shape[1]
    if k == 0:
        return np.ones(nn_a.shape[0], dtype=np.float64)
    inter = (nn_a[:, :, None] == nn_b[:, None, :]).any(axis=2).sum(axis=1)
    return inter / (2 * k - inter)


# --- public functions ------------------------------------------------------------------


def pairwise_agreement(X_a, X_b, *, max_pairs: int = MAX_PAIRS, random_state: int = 0) -> float:
    """Spearman correlation of the pairwise cosine similarities under two models.

    Parameters
    ----------
    X_a : array-like of shape (n_texts, d_a)
    X_b : array-like of shape (n_texts, d_b)
        The same texts, in the same order, embedded by two models; ``d_a`` and
        ``d_b`` may differ.
    max_pairs : int
        When ``n(n-1)/2 > max_pairs``, all pairs among a reproducible random
        subset of ``m`` texts are used, ``m`` the largest with
        ``m(m-1)/2 <= max_pairs`` (2M pairs → m = 2000).
    random_state : int
        Seed of that subset.

    Returns
    -------
    float
        In [-1, 1]: 1 when both models rank every pair alike; about 0 when
        their similarity structures are unrelated. NaN when a model gives every
        pair the same similarity (no ranking to compare).

    Raises
    ------
    InputError
        Different numbers of rows, fewer than 3 texts, NaN / inf values.
    """
    X_a, X_b = np.asarray(X_a), np.asarray(X_b)
    _check_rows(X_a, X_b)
    n = X_a.shape[0]
    if n < 3:
        raise InputError(f"Comparing similarity structures needs at least 3 texts, got {n}.")
    rows = _sample_rows(n, max_pairs, random_state)
    return _rank_correlation(_ranks(_pair_similarities(X_a, rows)), _ranks(_pair_similarities(X_b, rows)))


def neighbour_overlap(X_a, X_b, k: int = 5) -> np.ndarray:
    """Jaccard overlap of each text's k nearest neighbours under two models.

    Parameters
    ----------
    X_a : array-like of shape (n_texts, d_a)
    X_b : array-like of shape (n_texts, d_b)
    k : int
        Neighbours per text (the text itself excluded); clamped to ``n_texts - 1``.

    Returns
    -------
    ndarray of shape (n_texts,), float64
        ``|N_a ∩ N_b| / |N_a ∪ N_b|`` per text, in [0, 1]; 1 = same neighbours.
        For unrelated models the expected value is about ``k / n``. Exact ties
        in similarity are broken by the lower row index, as in
        :func:`embedcore.analysis.similarity.top_k`.
    """
    X_a, X_b = np.asarray(X_a), np.asarray(X_b)
    _check_rows(X_a, X_b)
    if X_a.shape[0] < 2:
        raise InputError("Neighbours need at least 2 texts.")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}.")
    return _jaccard(nearest_neighbours(X_a, k)[0], nearest_neighbours(X_b, k)[0])


@dataclass
class PairComparison:
    """Agreement of two models on the same texts.

    Attributes
    ----------
    model_a, model_b : str
    spearman : float
        :func:`pairwise_agreement`.
    mean_jaccard : float
        Mean of ``jaccard``.
    jaccard : ndarray of shape (n_texts,), float64
        :func:`neighbour_overlap` per text.
    n_pairs : int
        Pairs behind ``spearman`` (all, or the sample).
    """

    model_a: str
    model_b: str
    spearman: float
    mean_jaccard: float
    jaccard: np.ndarray
    n_pairs: int


@dataclass
class ComparisonReport:
    """Every pair of models compared on the same texts (see :func:`compare_models`).

    Attributes
    ----------
    models : list of str
    texts : list of str
    k : int
        Neighbours per text actually used (after clamping).
    pairs : list of PairComparison
        One per unordered pair of models, in the order of ``models``.
    neighbours : dict of str to ndarray of shape (n_texts, k), int64
        Each model's nearest-neighbour rows, most similar first.
    """

    models: list[str]
    texts: list[str]
    k: int
    pairs: list[PairComparison] = field(default_factory=list)
    neighbours: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def chance_level(self) -> float:
        """``k / (n_texts - 1)``: about the neighbour overlap two unrelated models reach by luck."""
        return self.k / max(len(self.texts) - 1, 1)

    def pair(self, a: str, b: str) -> PairComparison:
        """The comparison of models ``a`` and ``b`` (either order)."""
        for p in self.pairs:
            if {p.model_a, p.model_b} == {a, b} and a != b:
                return p
        raise KeyError(f"no comparison of {a!r} with {b!r}")

    def matrix(self, metric: str = "spearman") -> np.ndarray:
        """Model × model matrix of ``"spearman"`` or ``"mean_jaccard"`` (diagonal 1).

        Returns
        -------
        ndarray of shape (n_models, n_models), float64, symmetric
        """
        if metric not in ("spearman", "mean_jaccard"):
            raise ValueError(f"metric must be 'spearman' or 'mean_jaccard', got {metric!r}")
        index = {m: i for i, m in enumerate(self.models)}
        out = np.eye(len(self.models))
        for p in self.pairs:
            i, j = index[p.model_a], index[p.model_b]
            out[i, j] = out[j, i] = getattr(p, metric)
        return out

    def mean_jaccard_per_text(self) -> np.ndarray:
        """Each text's Jaccard averaged over all model pairs, shape (n_texts,)."""
        return np.mean([p.jaccard for p in self.pairs], axis=0)


@dataclass
class Disagreement:
    """A text on which models disagree about the neighbours.

    Attributes
    ----------
    index : int
        Row of the text.
    text : str
    jaccard : float
        Neighbour overlap (mean over the model pairs considered); low = disagreement.
    neighbours : dict of str to list of int
        Each model's k nearest rows, most similar first.
    neighbour_texts : dict of str to list of str
        The same, as texts.
    """

    index: int
    text: str
    jaccard: float
    neighbours: dict[str, list[int]]
    neighbour_texts: dict[str, list[str]]


def compare_models(
    vectors: Mapping[str, np.ndarray],
    texts: Sequence[str],
    k: int = 5,
    *,
    max_pairs: int = MAX_PAIRS,
    random_state: int = 0,
) -> ComparisonReport:
    """Compare every pair of models on the same texts.

    Parameters
    ----------
    vectors : mapping of str to ndarray of shape (n_texts, d_model)
        Model name → its vectors for ``texts`` (dimensions may differ).
    texts : sequence of str, length n_texts
    k : int
        Neighbours per text for the Jaccard overlap; clamped to ``n_texts - 1``.
    max_pairs, random_state
        As in :func:`pairwise_agreement` (the same pairs for every model).

    Returns
    -------
    ComparisonReport

    Raises
    ------
    InputError
        Fewer than two models, fewer than 3 texts, a model whose row count
        differs from ``len(texts)``, NaN / inf values.
    """
    names = list(vectors)
    texts = [str(t) for t in texts]
    n = len(texts)
    if len(names) < 2:
        raise InputError("Comparing models needs vectors from at least two models.")
    if n < 3:
        raise InputError(f"Comparing models needs at least 3 texts, got {n}.")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}.")
    arrays = {}
    for name in names:
        arr = np.asarray(vectors[name])
        if arr.ndim != 2 or arr.shape[0] != n:
            raise InputError(
                f"Model {name!r} has vectors of shape {arr.shape} for {n} texts: "
                "each model needs one vector per text, in the same order."
            )
        arrays[name] = arr
    rows = _sample_rows(n, max_pairs, random_state)
    # Each model's pair ranks and neighbours are computed once and reused for
    # every pair of models it takes part in.
    ranks = {name: _ranks(_pair_similarities(arrays[name], rows)) for name in names}
    n_pairs = n * (n - 1) // 2 if rows is None else rows.size * (rows.size - 1) // 2
    neighbours = {name: nearest_neighbours(arrays[name], k)[0] for name in names}
    k_eff = next(iter(neighbours.values())).shape[1]
    report = ComparisonReport(models=names, texts=texts, k=k_eff, neighbours=neighbours)
    for a, b in combinations(names, 2):
        jac = _jaccard(neighbours[a], neighbours[b])
        report.pairs.append(
            PairComparison(
                model_a=a,
                model_b=b,
                spearman=_rank_correlation(ranks[a], ranks[b]),
                mean_jaccard=float(jac.mean()),
                jaccard=jac,
                n_pairs=int(n_pairs),
            )
        )
    return report


def disagreements(
    report: ComparisonReport, top: int = 20, *, models: Sequence[str] | None = None
) -> list[Disagreement]:
    """The texts whose neighbours differ most between models, worst first.

    Parameters
    ----------
    report : ComparisonReport
    top : int
        How many texts to return.
    models : sequence of str, optional
        Restrict to these models (at least two); default all. The Jaccard of a
        text is averaged over the pairs among them.

    Returns
    -------
    list of Disagreement
        Sorted by Jaccard ascending, then row index.
    """
    chosen = list(models) if models is not None else list(report.models)
    unknown = [m for m in chosen if m not in report.neighbours]
    if unknown:
        raise InputError(f"Unknown model(s) {unknown}; the report has {report.models}.")
    if len(set(chosen)) < 2:
        raise InputError("Disagreement needs at least two models.")
    jac = np.mean([report.pair(a, b).jaccard for a, b in combinations(dict.fromkeys(chosen), 2)], axis=0)
    order = np.lexsort((np.arange(jac.size), jac))[: max(int(top), 0)]
    out = []
    for row in order.tolist():
        nbrs = {m: report.neighbours[m][row].tolist() for m in chosen}
        out.append(
            Disagreement(
                index=row,
                text=report.texts[row],
                jaccard=float(jac[row]),
                neighbours=nbrs,
                neighbour_texts={m: [report.texts[j] for j in rows] for m, rows in nbrs.items()},
            )
        )
    return out
