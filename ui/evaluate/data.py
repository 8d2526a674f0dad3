"""The Evaluate page's data: which task, and its labelled set (built in, or the visitor's files).

A file is read once per upload (kept under its content digest). A file that cannot be read empties
its uploader and is named with its line and column (:mod:`ui.common.uploads`), and the set read
before stays in use, said to be kept — a bad file after a good one loses nothing.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from embedcore import evaluation as ev
from embedcore.errors import InputError
from ui.common import cached, state, uploads

TASK = "evaluate_task"
SOURCE = "evaluate_source"
RETRIEVAL_LAYOUT = "evaluate_retrieval_layout"
#: ``{uploader base key: (upload digest, task, file names)}`` — the last set each uploader read.
READ = "evaluate_read"

TASK_LABELS = {
    "sts": "Similarity (STS)",
    "retrieval": "Retrieval",
    "bitext": "Across languages (bitext)",
    "classification": "Classification & clustering",
}
TASK_HELP = {
    "sts": "Pairs of texts with a similarity score on any scale: columns `text_a`, `text_b`, `score` "
    "(CSV, TSV or JSONL). Measures Spearman and Pearson correlation of cosine with your scores.",
    "retrieval": "The BEIR layout — `corpus.jsonl` (`_id`, optional `title`, `text`), `queries.jsonl` "
    "(`_id`, `text`) and a qrels TSV (`query-id`, `corpus-id`, `score`, with a header) — or one CSV "
    "of `query`, `relevant text` pairs. Measures nDCG@10, MRR@10, Recall@1/10/100 and MAP@100.",
    "bitext": "Translations: columns `sentence_id` (the same for a sentence and its translations), `language` "
    "and `text` — the Across languages page's format. Measures how often a sentence finds its "
    "translation first (accuracy) and MRR, per language pair.",
    "classification": "Labelled texts: columns `text` and `label`. Measures k-NN accuracy and macro-F1 "
    "under stratified cross-validation, and the V-measure of k-means with one cluster per label.",
}
_BEIR, _PAIRS = "BEIR files", "One CSV of pairs"


def task_kind() -> str:
    """The task chosen at the top of the page (Similarity first)."""
    # A radio, not a segmented control: `required=` needs a newer Streamlit than our floor (1.55).
    kind = st.radio("Task", list(TASK_LABELS), format_func=TASK_LABELS.get, key=TASK, horizontal=True)
    st.caption(TASK_HELP[kind])
    return kind


def labelled_set(kind: str):
    """The task's labelled set: built in by default, else read from the visitor's files; None
    while the files needed are not all uploaded yet."""
    source = st.radio(
        "Data",
        ["Built-in set", "Upload"],
        key=f"{SOURCE}_{kind}",
        horizontal=True,
        label_visibility="collapsed",
    )
    if source == "Built-in set":
        st.caption(f":material/dataset: {ev.BUILTIN_SETS[kind]}")
        return cached.evaluation_set(kind)
    return _uploaded(kind)


def _digest(files) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.getvalue() + b"\0")
    return h.hexdigest()


def _uploaded(kind: str):
    if kind == "retrieval":
        layout = st.radio("Layout", [_BEIR, _PAIRS], key=RETRIEVAL_LAYOUT, horizontal=True)
        if layout == _BEIR:
            base = "evaluate_upload_beir"
            files = st.file_uploader(
                "corpus.jsonl, queries.jsonl and the qrels .tsv",
                accept_multiple_files=True,
                key=state.widget_key(base),
            )
            return _read(kind, base, files or [], _read_beir)
    # No type= filter (ui.common.uploads says why): the reader says what is wrong with a file.
    base = f"evaluate_upload_{kind}"
    file = st.file_uploader("A CSV, TSV or JSONL file", key=state.widget_key(base))
    return _read(kind, base, [file] if file is not None else [], _READERS[kind])


def _read_beir(files):
    by_role = {}
    for f in files:
        name = f.name.lower()
        role = "qrels" if name.endswith(".tsv") else "queries" if "quer" in name else "corpus"
        by_role[role] = (f.getvalue(), f.name)
    missing = [r for r in ("corpus", "queries", "qrels") if r not in by_role]
    if missing:
        st.info(
            f"Still needed: {', '.join(missing)} (names as in BEIR: corpus.jsonl, queries.jsonl, test.tsv).",
            icon=":material/upload_file:",
        )
        return None
    return ev.read_retrieval(by_role["corpus"], by_role["queries"], by_role["qrels"])


def _reader(read):
    return lambda files: read(files[0].getvalue(), files[0].name)


_READERS = {
    "sts": _reader(ev.read_sts),
    "retrieval": _reader(ev.read_retrieval_pairs),
    "bitext": _reader(ev.read_bitext),
    "classification": _reader(ev.read_classification),
}


def _read(kind: str, base: str, files, read):
    """Read ``files`` once per content; a refused file empties the uploader, is named, and the
    set read before stays in use (said so)."""
    kept: dict = st.session_state.setdefault(READ, {})
    previous = kept.get(base)
    if not files:
        uploads.show_refused(base)
        return previous[1] if previous else None
    digest = _digest(files)
    if previous and previous[0] == digest:
        return previous[1]
    uploads.forget_refused(base)
    names = ", ".join(f.name for f in files)
    try:
        task = read(files)
    except InputError as exc:
        uploads.refuse(base, [str(exc)], name=names, kept=previous[2] if previous else None)
    if task is not None:
        kept[base] = (digest, task, names)
    return task
