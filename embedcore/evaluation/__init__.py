"""Which model for my data? Evaluate 1-3 embedding models on labelled data.

Four tasks in the formats the field uses (:mod:`.tasks`), metrics equal to the reference
implementations' (:mod:`.metrics`), bootstrap intervals and paired tests (:mod:`.bootstrap`),
and the run itself — embedding through the cache, cost, progress and Stop (:mod:`.run`).

>>> from embedcore.evaluation import load_builtin, evaluate_vectors
>>> task = load_builtin("classification")
>>> task.kind, task.n_items
('classification', 100)

The page and the command line call: :func:`load_builtin` or a ``read_*`` reader, then
:func:`estimate_cost` per model, then :func:`evaluate` (or :func:`evaluate_vectors` for
vectors already made), and read :class:`Evaluation`.
"""

from __future__ import annotations

from embedcore.evaluation.bootstrap import PairedTest, bootstrap_ci, paired_bootstrap
from embedcore.evaluation.builtin import BUILTIN_SETS, load_builtin
from embedcore.evaluation.run import (
    MAX_MODELS,
    CostEstimate,
    Evaluation,
    ModelResult,
    Progress,
    embedding_cost,
    estimate_cost,
    evaluate,
    evaluate_vectors,
)
from embedcore.evaluation.scoring import PRIMARY_METRIC
from embedcore.evaluation.tasks import (
    TASK_KINDS,
    BitextTask,
    ClassificationTask,
    RetrievalTask,
    STSTask,
    read_bitext,
    read_classification,
    read_retrieval,
    read_retrieval_pairs,
    read_sts,
)

__all__ = [
    "BUILTIN_SETS",
    "MAX_MODELS",
    "PRIMARY_METRIC",
    "TASK_KINDS",
    "BitextTask",
    "ClassificationTask",
    "CostEstimate",
    "Evaluation",
    "ModelResult",
    "PairedTest",
    "Progress",
    "RetrievalTask",
    "STSTask",
    "bootstrap_ci",
    "embedding_cost",
    "estimate_cost",
    "evaluate",
    "evaluate_vectors",
    "load_builtin",
    "paired_bootstrap",
    "read_bitext",
    "read_classification",
    "read_retrieval",
    "read_retrieval_pairs",
    "read_sts",
]
