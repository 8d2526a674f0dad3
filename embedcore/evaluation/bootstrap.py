"""Uncertainty: percentile bootstrap confidence intervals and paired bootstrap tests between models.

A metric is computed from *units* (STS pairs, retrieval queries, bitext sentences, labelled
texts). A statistic here is a function ``stat(weights) -> dict[str, float]`` where
``weights[i]`` is how often unit ``i`` is drawn (all ones: the data as it is). Drawing the
same weights for two models on the same units gives the *paired* comparison: the spread of
the difference, not of each metric on its own, which is what decides whether one model is
better on this data.

The p-value of :func:`paired_bootstrap` is the two-sided bootstrap p-value (the smallest
``1 - confidence`` at which the percentile interval of the difference still excludes zero):
``min(1, 2 * min(share <= 0, share >= 0))`` with the ``(count + 1) / (n + 1)`` correction, so
with 1,000 resamples the smallest reported p is about 0.002.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["PairedTest", "bootstrap_ci", "paired_bootstrap", "resample_weights"]

Statistic = Callable[[np.ndarray], dict[str, float]]


def resample_weights(n_units: int, n_boot: int, seed: int = 0):
    """Yield ``n_boot`` bootstrap weight vectors (counts of each unit in a resample of size n).

    Examples
    --------
    >>> w = next(resample_weights(5, 3, seed=1))
    >>> int(w.sum()), w.shape
    (5, (5,))
    """
    rng = np.random.default_rng(seed)
    for _ in range(int(n_boot)):
        yield np.bincount(rng.integers(0, n_units, n_units), minlength=n_units).astype(np.float64)


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


def bootstrap_ci(
    stat: Statistic,
    n_units: int,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every metric ``stat`` returns.

    Parameters
    ----------
    stat : callable
        ``stat(weights) -> {metric: value}``; ``weights`` has shape (n_units,), float64.
    n_units : int
    n_boot : int
        Resamples (0: intervals collapse to the point value).
    confidence : float
        0.95 for a 95 % interval.
    seed : int
        The same seed gives the same intervals.

    Returns
    -------
    dict of str -> (low, high)

    Examples
    --------
    >>> values = np.arange(100, dtype=float)
    >>> ci = bootstrap_ci(lambda w: {"mean": float(w @ values / w.sum())}, 100, seed=0)
    >>> 40 < ci["mean"][0] < 49.5 < ci["mean"][1] < 60
    True
    """
    point = stat(np.ones(n_units))
    if n_boot <= 0 or n_units < 2:
        return {name: (value, value) for name, value in point.items()}
    draws = {name: np.empty(n_boot) for name in point}
    for b, weights in enumerate(resample_weights(n_units, n_boot, seed)):
        for name, value in stat(weights).items():
            draws[name][b] = value
    return {name: _interval(values, confidence) for name, values in draws.items()}


@dataclass
class PairedTest:
    """Model ``a`` against model ``b`` on one metric, on the same items.

    Attributes
    ----------
    metric : str
    model_a, model_b : str
    difference : float
        ``metric(a) - metric(b)`` on the data as it is.
    ci : (float, float)
        Percentile bootstrap interval of the difference.
    p_value : float
        Two-sided paired bootstrap p-value (see the module docstring).
    """

    metric: str
    model_a: str
    model_b: str
    difference: float
    ci: tuple[float, float]
    p_value: float

    def better(self, alpha: float = 0.05) -> str | None:
        """The model that is better at level ``alpha``, or None when no difference is detectable."""
        if not np.isfinite(self.p_value) or self.p_value >= alpha or self.difference == 0:
            return None
        return self.model_a if self.difference > 0 else self.model_b

    def sentence(self, alpha: float = 0.05) -> str:
        """What a person reads: ``"a is better than b on ndcg@10 (p = 0.003)"``.

        Examples
        --------
        >>> PairedTest("spearman", "m1", "m2", 0.1, (0.05, 0.15), 0.002).sentence()
        'm1 is better than m2 on spearman (p = 0.002)'
        """
        winner = self.better(alpha)
        p = f"p = {self.p_value:.3f}" if self.p_value >= 0.001 else "p < 0.001"
        if winner is None:
            return (
                f"no detectable difference between {self.model_a} and {self.model_b} on {self.metric} ({p})"
            )
        loser = self.model_b if winner == self.model_a else self.model_a
        return f"{winner} is better than {loser} on {self.metric} ({p})"

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "difference": _json_float(self.difference),
            "ci": [_json_float(v) for v in self.ci],
            "p_value": _json_float(self.p_value),
            "better": self.better(),
            "sentence": self.sentence(),
        }


def _json_float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def paired_bootstrap(
    stat_a: Statistic,
    stat_b: Statistic,
    n_units: int,
    *,
    names: tuple[str, str] = ("a", "b"),
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PairedTest]:
    """Paired bootstrap of ``stat_a - stat_b`` over the same resampled units, one test per metric.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.random(200) + 0.2, rng.random(200)
    >>> tests = paired_bootstrap(lambda w: {"m": w @ a / w.sum()}, lambda w: {"m": w @ b / w.sum()}, 200)
    >>> tests[0].p_value < 0.01, round(tests[0].difference, 1)
    (True, 0.2)
    """
    ones = np.ones(n_units)
    point_a, point_b = stat_a(ones), stat_b(ones)
    metrics = [m for m in point_a if m in point_b]
    diffs = {m: np.empty(max(n_boot, 0)) for m in metrics}
    for b, weights in enumerate(resample_weights(n_units, n_boot, seed)):
        ra, rb = stat_a(weights), stat_b(weights)
        for m in metrics:
            diffs[m][b] = ra[m] - rb[m]
    tests = []
    for m in metrics:
        d = diffs[m][np.isfinite(diffs[m])]
        point = point_a[m] - point_b[m]
        if d.size == 0 or not np.isfinite(point):
            p = float("nan")
        elif np.all(d == 0):
            p = 1.0
        else:
            below = (np.count_nonzero(d <= 0) + 1) / (d.size + 1)
            above = (np.count_nonzero(d >= 0) + 1) / (d.size + 1)
            p = float(min(1.0, 2 * min(below, above)))
        tests.append(PairedTest(m, names[0], names[1], float(point), _interval(d, confidence), p))
    return tests
