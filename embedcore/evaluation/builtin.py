"""The built-in labelled sets: every task runs offline on the bundled models, no file needed.

* ``sts`` — ``samples/eval_sts.csv``: sentence pairs written for this project, scored 0-5
  (5 = same meaning, 0 = unrelated), STS-B's scale.
* ``retrieval`` — ``samples/eval_corpus.jsonl``, ``eval_queries.jsonl``, ``eval_qrels.tsv``:
  short passages and questions written for this project, in the BEIR layout.
* ``bitext`` — the Across languages sample (``multilingual.csv``): 20 sentences in 7 languages.
* ``classification`` — the labelled topical sample (``topics.csv``): 100 texts in 5 themes.

All written for this project and MIT-licensed like it (``embedcore/samples/NOTICE.md``).
"""

from __future__ import annotations

from importlib import resources

from embedcore.errors import InputError
from embedcore.evaluation.tasks import read_bitext, read_classification, read_retrieval, read_sts

__all__ = ["BUILTIN_SETS", "load_builtin"]

#: task kind -> what its built-in set is, for a page's caption.
BUILTIN_SETS: dict[str, str] = {
    "sts": "160 English sentence pairs scored 0-5 for similarity of meaning (written for this project).",
    "retrieval": "60 questions over 180 short passages on everyday topics, 1-3 relevant passages each "
    "(written for this project, BEIR layout).",
    "bitext": "The Across languages sample: 20 sentences in English, German, French, Spanish, Italian, "
    "Portuguese and Dutch.",
    "classification": "The topical sample: 100 sentences in five themes (music, sports, cooking, space, "
    "programming).",
}


def _sample(name: str) -> tuple[bytes, str]:
    # The package's own path, so the codemod moving this module keeps it right.
    return resources.files("embedcore").joinpath("samples", name).read_bytes(), name


def load_builtin(kind: str):
    """The built-in set for a task kind (``sts``, ``retrieval``, ``bitext``, ``classification``).

    Examples
    --------
    >>> load_builtin("sts").n_items
    160
    >>> t = load_builtin("bitext"); (t.n_items, len(set(t.languages)))
    (20, 7)
    >>> load_builtin("classification").n_items
    100
    """
    if kind == "sts":
        task = read_sts(*_sample("eval_sts.csv"))
    elif kind == "retrieval":
        task = read_retrieval(
            _sample("eval_corpus.jsonl"), _sample("eval_queries.jsonl"), _sample("eval_qrels.tsv")
        )
    elif kind == "bitext":
        task = read_bitext(*_sample("multilingual.csv"))
    elif kind == "classification":
        task = read_classification(*_sample("topics.csv"))
    else:
        raise InputError(f"No built-in set for {kind!r}; the tasks are: {', '.join(BUILTIN_SETS)}.")
    task.source = f"built-in:{kind}"
    return task
