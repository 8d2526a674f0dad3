"""Evaluate 1-3 models on one labelled task: embed through the cache, score, intervals, paired tests, cost.

The engine behind the *Evaluate models* page and ``python -m embedcore evaluate``:

>>> from embedcore.evaluation import evaluate, load_builtin          # doctest: +SKIP
>>> from embedcore import make_provider                              # doctest: +SKIP
>>> local = make_provider("local")                                   # doctest: +SKIP
>>> report = evaluate(load_builtin("sts"), [(local, "sentence-transformers/all-MiniLM-L6-v2")])  # doctest: +SKIP
>>> report.results[0].metrics["spearman"]                            # doctest: +SKIP

Embedding goes through each provider's ``embed()``, so every batch lands in the cache as it
arrives: a stopped run (``should_stop``, Ctrl-C, a failed request) loses nothing, and running
it again sends only what is missing. :func:`estimate_cost` says before anything is sent how
many texts, tokens and requests a run will cost (cached texts cost nothing).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from embedcore.errors import EvaluationCancelled, InputError
from embedcore.evaluation.bootstrap import PairedTest, bootstrap_ci, paired_bootstrap
from embedcore.evaluation.scoring import PRIMARY_METRIC, score

__all__ = [
    "MAX_MODELS",
    "CostEstimate",
    "Evaluation",
    "ModelResult",
    "Progress",
    "embedding_cost",
    "estimate_cost",
    "evaluate",
    "evaluate_vectors",
]

MAX_MODELS = 3
#: A typical token count per character of English prose (the estimate beside the upper bound).
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Progress:
    """What a progress callback is told.

    ``stage`` is ``"embedding"`` (``done``/``total`` in texts) or ``"scoring"`` (in steps);
    ``model`` names the model being worked on; ``index`` is its position (0-based) of ``n_models``.
    """

    stage: str
    model: str
    index: int
    n_models: int
    done: int
    total: int

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1], never going back: every model's embedding first (90 %),
        then every model's scoring (10 %).

        Examples
        --------
        >>> Progress("embedding", "m2", 1, 2, 50, 100).fraction
        0.675
        >>> round(Progress("scoring", "m1", 0, 2, 1, 1).fraction, 3)
        0.95
        """
        within = self.done / self.total if self.total else 1.0
        share = (self.index + within) / max(self.n_models, 1)
        return min(1.0, 0.9 * share if self.stage == "embedding" else 0.9 + 0.1 * share)


@dataclass
class CostEstimate:
    """What embedding a task with one model will cost, known before anything is sent.

    Attributes
    ----------
    model : str
    texts : int
        Distinct texts the task needs.
    cached : int
        Of those, already in the cache: free.
    to_embed : int
    tokens_estimate : int
        About 1 token per 4 characters of the texts to embed (English prose).
    tokens_max : int
        An upper bound (:func:`embedcore.providers.budget.estimate_tokens`, what the budget reserves).
    requests : int
        Batches to send (the provider's batch size).
    """

    model: str
    texts: int
    cached: int
    to_embed: int
    tokens_estimate: int
    tokens_max: int
    requests: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ModelResult:
    """One model on one task.

    Attributes
    ----------
    task, model : str
    metrics : dict of str -> float
    ci : dict of str -> (low, high)
        Percentile bootstrap interval at ``confidence``.
    n_items : int
        Units resampled: STS pairs, queries, bitext sentences, labelled texts.
    cost : dict
        ``texts``, ``embedded`` (sent to the model), ``cached``, ``tokens``, ``requests``,
        ``seconds`` (embedding), ``score_seconds``.
    items : DataFrame
        Per-item scores (download them with ``items.to_csv()``).
    failures : list of dict
        The worst items, each with what the model returned instead.
    details : dict
    warnings : list of str
    """

    task: str
    model: str
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    n_items: int
    cost: dict[str, Any]
    items: pd.DataFrame
    failures: list[dict]
    details: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    scored: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields: ``task``, ``model``, ``metrics``, ``ci``, ``n_items``, ``cost`` (+ extras)."""
        return {
            "task": self.task,
            "model": self.model,
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
            "ci": {k: [_num(lo), _num(hi)] for k, (lo, hi) in self.ci.items()},
            "n_items": self.n_items,
            "cost": self.cost,
            "failures": self.failures,
            "details": self.details,
            "warnings": self.warnings,
        }


@dataclass
class Evaluation:
    """Every model's result on one task, and the paired tests between each pair of models."""

    task: str
    source: str
    results: list[ModelResult]
    comparisons: list[PairedTest]
    confidence: float
    n_boot: int
    warnings: list[str] = field(default_factory=list)

    @property
    def primary_metric(self) -> str:
        return PRIMARY_METRIC[self.task]

    def verdicts(self) -> list[str]:
        """One sentence per pair of models on the task's primary metric."""
        return [c.sentence() for c in self.comparisons if c.metric == self.primary_metric]

    def table(self) -> pd.DataFrame:
        """One row per model and metric: value, CI low, CI high."""
        rows = [
            {"model": r.model, "metric": m, "value": v, "ci_low": r.ci[m][0], "ci_high": r.ci[m][1]}
            for r in self.results
            for m, v in r.metrics.items()
        ]
        return pd.DataFrame(rows, columns=["model", "metric", "value", "ci_low", "ci_high"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "source": self.source,
            "confidence": self.confidence,
            "n_boot": self.n_boot,
            "results": [r.to_dict() for r in self.results],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "warnings": self.warnings,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_jsonable)


def _num(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return _num(float(value))
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def estimate_cost(task, provider, model: str) -> CostEstimate:
    """What embedding ``task`` with ``model`` on ``provider`` will cost; sends nothing.

    Texts in the provider's cache cost nothing. The bundled model's install-time sample vectors
    (``prepare --samples``) are not looked at, so for the local provider the estimate may count
    texts that are then found at once; local embedding costs no tokens in any case.

    Examples
    --------
    >>> from embedcore.evaluation.tasks import STSTask
    >>> class NoCache:  # any provider: only its cache and batch size are read
    ...     endpoint_id, cache, batch_size = "local:", None, 2
    >>> t = STSTask(["a b", "c"], ["a b", "d"], np.array([1.0, 0.0]))
    >>> e = estimate_cost(t, NoCache(), "m")
    >>> (e.texts, e.cached, e.to_embed, e.requests)
    (3, 0, 3, 2)
    """
    from embedcore.providers.budget import estimate_tokens

    texts = task.texts()
    cache = getattr(provider, "cache", None)
    cached = cache.get_many(provider.endpoint_id, model, texts) if cache is not None else {}
    missing = [t for t in texts if t not in cached]
    batch = max(1, int(getattr(provider, "batch_size", 64) or 64))
    return CostEstimate(
        model=model,
        texts=len(texts),
        cached=len(texts) - len(missing),
        to_embed=len(missing),
        tokens_estimate=sum(math.ceil(len(t) / _CHARS_PER_TOKEN) + 2 for t in missing),
        tokens_max=sum(estimate_tokens(missing, model)) if missing else 0,
        requests=math.ceil(len(missing) / batch),
    )


def _as_pairs(models: Sequence) -> list[tuple[Any, str, str]]:
    out = []
    for m in models:
        if isinstance(m, dict):
            provider, model, name = m["provider"], m["model"], m.get("name")
        else:
            provider, model, *rest = m
            name = rest[0] if rest else None
        out.append((provider, model, name or model))
    if not 1 <= len(out) <= MAX_MODELS:
        raise InputError(f"Choose 1 to {MAX_MODELS} models to evaluate; got {len(out)}.")
    names = [n for _, _, n in out]
    if len(set(names)) != len(names):
        raise InputError("The same model is chosen twice; give each a different name.")
    return out


def evaluate(
    task,
    models: Sequence,
    *,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    n_failures: int = 10,
    budget: Any = None,
) -> Evaluation:
    """Embed the task's texts with each model (through the cache) and evaluate them.

    Parameters
    ----------
    task : STSTask, RetrievalTask, BitextTask or ClassificationTask
        From :mod:`embedcore.evaluation.tasks` or :func:`load_builtin`.
    models : sequence of (provider, model) or (provider, model, name), 1 to 3
        Any mix of providers (:func:`embedcore.make_provider`); ``name`` labels the model in
        results (default: the model id; two entries need different names).
    progress : callable, optional
        Called with a :class:`Progress` after each embedded batch and scoring step.
    should_stop : callable, optional
        Asked after each batch and between scoring steps; True stops with
        :class:`~embedcore.errors.EvaluationCancelled` (batches embedded so far stay cached).
    n_boot, confidence, seed : bootstrap resamples, interval level, random seed
    n_failures : int
        Worst items kept per model.
    budget : BudgetGuard, optional
        Passed to each provider's ``embed`` (the operator's token's daily budget).

    Returns
    -------
    Evaluation
    """
    chosen = _as_pairs(models)
    vectors, costs = {}, {}
    for index, (provider, model, name) in enumerate(chosen):
        vectors[name], costs[name] = _embed(
            task, provider, model, name, index, len(chosen), progress, should_stop, budget
        )
    return evaluate_vectors(
        task,
        vectors,
        costs=costs,
        progress=progress,
        should_stop=should_stop,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        n_failures=n_failures,
    )


def _embed(task, provider, model, name, index, n_models, progress, should_stop, budget):
    texts = task.texts()

    def report(done: int, total: int) -> None:
        if should_stop is not None and should_stop():
            raise EvaluationCancelled(
                f"Stopped while embedding with {name}: {done:,} of {total:,} texts are embedded and "
                "cached; running the evaluation again continues from there."
            )
        if progress is not None:
            progress(Progress("embedding", name, index, n_models, done, total))

    kwargs = {"budget": budget} if budget is not None else {}
    result = provider.embed(texts, model, progress=report, **kwargs)
    return result.vectors, embedding_cost(result)


def embedding_cost(result) -> dict[str, Any]:
    """What embedding cost, as a result's ``cost``: texts, embedded (sent), cached, tokens,
    requests, seconds. For a page that embeds through its own path, then :func:`evaluate_vectors`.

    Examples
    --------
    >>> import numpy as np
    >>> from embedcore.types import EmbeddingResult
    >>> r = EmbeddingResult(vectors=np.zeros((3, 2), np.float32), model="m", cached=1, fetched=2,
    ...                     prompt_tokens=9, requests=1, elapsed=0.5)
    >>> embedding_cost(r)
    {'texts': 3, 'embedded': 2, 'cached': 1, 'tokens': 9, 'requests': 1, 'seconds': 0.5}
    """
    return {
        "texts": len(result.vectors),
        "embedded": int(result.fetched),
        "cached": int(result.cached),
        "tokens": int(result.prompt_tokens),
        "requests": int(result.requests),
        "seconds": round(float(result.elapsed), 3),
    }


def evaluate_vectors(
    task,
    vectors: dict[str, np.ndarray],
    *,
    costs: dict[str, dict] | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    n_failures: int = 10,
) -> Evaluation:
    """Evaluate vectors already made: ``vectors[name]`` has one row per text of ``task.texts()``.

    Examples
    --------
    >>> from embedcore.evaluation.tasks import STSTask
    >>> t = STSTask(["a", "b", "c", "d"], ["a2", "b2", "c2", "d2"], np.array([5.0, 3.0, 1.0, 0.0]))
    >>> rng = np.random.default_rng(0)
    >>> good = rng.standard_normal((8, 16)).astype(np.float32)
    >>> good[4:] = good[:4] + np.array([0.1, 0.6, 1.5, 9.0])[:, None] * rng.standard_normal((4, 16))
    >>> ev = evaluate_vectors(t, {"good": good}, n_boot=200)
    >>> ev.results[0].metrics["spearman"], ev.results[0].n_items
    (1.0, 4)
    """
    names = list(vectors)
    if not 1 <= len(names) <= MAX_MODELS:
        raise InputError(f"Choose 1 to {MAX_MODELS} models to evaluate; got {len(names)}.")
    results = []
    for index, name in enumerate(names):
        if should_stop is not None and should_stop():
            raise EvaluationCancelled("The evaluation was stopped before scoring finished.")
        started = time.perf_counter()
        scored = score(task, vectors[name], n_failures=n_failures, seed=seed, should_stop=should_stop)
        ci = bootstrap_ci(scored.stat, scored.n_units, n_boot=n_boot, confidence=confidence, seed=seed)
        cost = dict((costs or {}).get(name, {}))
        cost["score_seconds"] = round(time.perf_counter() - started, 3)
        results.append(
            ModelResult(
                task=task.kind,
                model=name,
                metrics=scored.metrics,
                ci=ci,
                n_items=scored.n_units,
                cost=cost,
                items=scored.items,
                failures=scored.failures,
                details=scored.details,
                warnings=scored.warnings,
                scored=scored,
            )
        )
        if progress is not None:
            progress(Progress("scoring", name, index, len(names), 1, 1))
    comparisons = []
    for i in range(len(results)):
        for j in range(i + 1, len(results)):
            a, b = results[i], results[j]
            comparisons += paired_bootstrap(
                a.scored.stat,
                b.scored.stat,
                a.n_items,
                names=(a.model, b.model),
                n_boot=n_boot,
                confidence=confidence,
                seed=seed,
            )
    return Evaluation(
        task=task.kind,
        source=task.source,
        results=results,
        comparisons=comparisons,
        confidence=confidence,
        n_boot=n_boot,
        warnings=list(task.warnings),
    )
