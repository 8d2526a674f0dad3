"""Labelled data for the four evaluation tasks, read from the formats the field already uses.

Every reader takes a file's bytes and its name (what an upload gives; the command line reads
the file first) and returns a task object. A problem is an
:class:`~embedcore.errors.EvaluationInputError` naming the file, the line (1-based; a CSV's
header is line 1) and the column, read before anything is embedded.

* STS: CSV / TSV / JSONL with ``text_a``, ``text_b``, ``score`` (any numeric scale).
* Retrieval: the BEIR layout — ``corpus.jsonl`` (``_id``, optional ``title``, ``text``),
  ``queries.jsonl`` (``_id``, ``text``), ``qrels`` TSV with a header (``query-id``,
  ``corpus-id``, ``score``; a score above 0 is relevant, as BEIR reads it) — or one CSV of
  ``query``, ``relevant`` text pairs.
* Bitext: ``text``, ``sentence_id``, ``language`` (the Across languages page's format).
* Classification / clustering: ``text``, ``label``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from embedcore.errors import EvaluationInputError, ParseError

__all__ = [
    "TASK_KINDS",
    "BitextTask",
    "ClassificationTask",
    "RetrievalTask",
    "STSTask",
    "read_bitext",
    "read_classification",
    "read_records",
    "read_retrieval",
    "read_retrieval_pairs",
    "read_sts",
]

TASK_KINDS = ("sts", "retrieval", "bitext", "classification")

#: Accepted column names, the documented one first.
_STS_A = ("text_a", "sentence1", "sentence_a", "text1")
_STS_B = ("text_b", "sentence2", "sentence_b", "text2")
_STS_SCORE = ("score", "label", "similarity", "gold")
_PAIR_QUERY = ("query", "question")
_PAIR_RELEVANT = ("relevant", "relevant text", "relevant_text", "positive", "document", "answer")
_TEXT = ("text", "sentence")
_SENTENCE_ID = ("sentence_id", "id", "pair_id", "group")
_LANGUAGE = ("language", "lang", "locale")
_LABEL = ("label", "category", "class", "topic")


@dataclass
class Record:
    """One row of a table: its 1-based line number and its cells by column name."""

    line: int
    cells: dict[str, str]


def _decode(data: bytes, filename: str) -> str:
    from embedcore.io import decode_text

    try:
        text, _ = decode_text(data, filename)
    except ParseError as exc:
        raise EvaluationInputError(str(exc).removeprefix(f"{filename} ").strip(), file=filename) from None
    return text


def read_records(data: bytes, filename: str, *, delimiter: str | None = None) -> list[Record]:
    """The rows of a CSV, TSV or JSON Lines file, each with the line it starts on.

    Examples
    --------
    >>> [(r.line, r.cells) for r in read_records(b"a,b\\n1,x\\n2,y\\n", "t.csv")]
    [(2, {'a': '1', 'b': 'x'}), (3, {'a': '2', 'b': 'y'})]
    """
    text = _decode(data, filename)
    name = filename.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvaluationInputError(
                    f"not valid JSON ({exc.msg} at character {exc.colno}); JSON Lines needs one object per line.",
                    file=filename,
                    line=number,
                ) from None
            if not isinstance(value, dict):
                raise EvaluationInputError(
                    "expected a JSON object {...} on each line.", file=filename, line=number
                )
            records.append(Record(number, {str(k): "" if v is None else str(v) for k, v in value.items()}))
        if not records:
            raise EvaluationInputError("holds no records.", file=filename)
        return records
    if delimiter is None:
        if name.endswith((".tsv", ".tab")):
            delimiter = "\t"
        else:
            from embedcore.io.readers import sniff_delimiter

            delimiter = sniff_delimiter(text) or ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise EvaluationInputError("is empty.", file=filename) from None
    records, start = [], reader.line_num + 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                if len(row) > len(header):
                    raise EvaluationInputError(
                        f"{len(row)} fields but the header has {len(header)}; check the delimiter and quoting.",
                        file=filename,
                        line=start,
                    )
                records.append(Record(start, dict(zip(header, [c.strip() for c in row], strict=False))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise EvaluationInputError(f"not a well-formed table ({exc}).", file=filename, line=start) from None
    if not records:
        raise EvaluationInputError("has a header row but no data rows.", file=filename)
    return records


def _column(records: Sequence[Record], names: Sequence[str], filename: str, given: str | None = None) -> str:
    """The column to read: ``given`` if it exists, else the first of ``names`` (any case) present."""
    columns = list(dict.fromkeys(k for r in records[:50] for k in r.cells))
    if given is not None:
        if given in columns:
            return given
        missing = given
    else:
        lowered = {c.lower(): c for c in columns}
        for name in names:
            if name in lowered:
                return lowered[name]
        missing = names[0]
    listed = ", ".join(repr(c) for c in columns)
    raise EvaluationInputError(
        f"there is no column {missing!r}; the columns are: {listed}.", file=filename, line=1, column=missing
    )


def _cell(record: Record, column: str, filename: str, *, required: bool = True) -> str:
    value = record.cells.get(column, "").strip()
    if required and not value:
        raise EvaluationInputError("is empty.", file=filename, line=record.line, column=column)
    return value


@dataclass
class STSTask:
    """Pairs of texts with a similarity score (any scale): Spearman and Pearson of cosine vs score."""

    text_a: list[str]
    text_b: list[str]
    scores: np.ndarray
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    kind: str = "sts"

    @property
    def n_items(self) -> int:
        return len(self.text_a)

    def texts(self) -> list[str]:
        """Every distinct text to embed, in first-seen order."""
        return list(dict.fromkeys([*self.text_a, *self.text_b]))


@dataclass
class RetrievalTask:
    """A corpus sorted by id, queries, and each query's relevant corpus rows (binary relevance)."""

    corpus_ids: list[str]
    corpus_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    relevant: list[np.ndarray]
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    kind: str = "retrieval"

    @property
    def n_items(self) -> int:
        return len(self.query_ids)

    def texts(self) -> list[str]:
        return list(dict.fromkeys([*self.query_texts, *self.corpus_texts]))


@dataclass
class BitextTask:
    """Texts with a sentence id (same id = translations) and a language."""

    texts_: list[str]
    sentence_ids: list[str]
    languages: list[str]
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    kind: str = "bitext"

    @property
    def n_items(self) -> int:
        return len(set(self.sentence_ids))

    def texts(self) -> list[str]:
        return list(dict.fromkeys(self.texts_))


@dataclass
class ClassificationTask:
    """Labelled texts: k-NN accuracy and macro-F1 under stratified cross-validation; k-means V-measure."""

    texts_: list[str]
    labels: list[str]
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    kind: str = "classification"

    @property
    def n_items(self) -> int:
        return len(self.texts_)

    def texts(self) -> list[str]:
        return list(dict.fromkeys(self.texts_))


def read_sts(data: bytes, filename: str, *, text_a=None, text_b=None, score=None) -> STSTask:
    """Read STS pairs (``text_a``, ``text_b``, ``score``) from CSV, TSV or JSON Lines.

    Also accepted: ``sentence1`` / ``sentence2`` and ``label`` / ``similarity`` (STS-B's names).

    Raises
    ------
    EvaluationInputError
        A missing column, an empty text, a score that is not a finite number, fewer than 3
        pairs, or every score equal (a correlation needs them to vary).

    Examples
    --------
    >>> t = read_sts(b"text_a,text_b,score\\nA cat.,A cat sits.,4\\nRain.,Tax law.,0\\nSun.,Sunny.,3\\n", "s.csv")
    >>> t.n_items, t.scores.tolist()
    (3, [4.0, 0.0, 3.0])
    """
    records = read_records(data, filename)
    ca = _column(records, _STS_A, filename, text_a)
    cb = _column(records, _STS_B, filename, text_b)
    cs = _column(records, _STS_SCORE, filename, score)
    a, b, s = [], [], []
    for r in records:
        a.append(_cell(r, ca, filename))
        b.append(_cell(r, cb, filename))
        raw = _cell(r, cs, filename)
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise EvaluationInputError(f"{raw!r} is not a number.", file=filename, line=r.line, column=cs)
        s.append(value)
    if len(a) < 3:
        raise EvaluationInputError(f"has {len(a)} pair(s); a correlation needs at least 3.", file=filename)
    scores = np.array(s, dtype=np.float64)
    if np.all(scores == scores[0]):
        raise EvaluationInputError(
            f"every score is {scores[0]:g}; scores must vary for a correlation to mean anything.",
            file=filename,
            column=cs,
        )
    return STSTask(a, b, scores, source=filename)


def _index_texts(records: Sequence[Record], filename: str, *, title: bool) -> dict[str, tuple[str, int]]:
    cid = _column(records, ("_id", "id"), filename)
    ctext = _column(records, ("text",), filename)
    has_title = title and any("title" in r.cells for r in records)
    out: dict[str, tuple[str, int]] = {}
    for r in records:
        key = _cell(r, cid, filename)
        if key in out:
            raise EvaluationInputError(
                f"the id {key!r} was already used on line {out[key][1]}.",
                file=filename,
                line=r.line,
                column=cid,
            )
        body = _cell(r, ctext, filename, required=not has_title)
        text = f"{r.cells.get('title', '').strip()} {body}".strip() if has_title else body
        if not text:
            raise EvaluationInputError(
                "has neither a title nor a text.", file=filename, line=r.line, column=ctext
            )
        out[key] = (text, r.line)
    return out


def read_retrieval(
    corpus: tuple[bytes, str], queries: tuple[bytes, str], qrels: tuple[bytes, str]
) -> RetrievalTask:
    """Read a BEIR-layout retrieval set: each argument is ``(bytes, filename)``.

    A corpus entry's text is its ``title`` and ``text`` joined by a space (as BEIR and
    sentence-transformers join them). A qrels line with a score of 0 or less is read but not
    relevant. A query with no relevant document is left out (as BEIR and sentence-transformers
    do) and named in ``warnings``.

    Raises
    ------
    EvaluationInputError
        Missing columns, duplicate ids, a qrels line naming a query or document that does not
        exist, a score that is not an integer, or no query with a relevant document at all.

    Examples
    --------
    >>> c = (b'{"_id": "d1", "text": "Paris is in France."}\\n{"_id": "d2", "text": "Rome."}', "corpus.jsonl")
    >>> q = (b'{"_id": "q1", "text": "Where is Paris?"}\\n{"_id": "q2", "text": "Unjudged"}', "queries.jsonl")
    >>> t = read_retrieval(c, q, (b"query-id\\tcorpus-id\\tscore\\nq1\\td1\\t1\\n", "qrels.tsv"))
    >>> t.query_ids, t.corpus_ids, [r.tolist() for r in t.relevant], len(t.warnings)
    (['q1'], ['d1', 'd2'], [[0]], 1)
    """
    corpus_name, queries_name, qrels_name = corpus[1], queries[1], qrels[1]
    docs = _index_texts(read_records(*corpus), corpus_name, title=True)
    qs = _index_texts(read_records(*queries), queries_name, title=False)
    qrel_records = read_records(qrels[0], qrels_name, delimiter="\t")
    cq = _column(qrel_records, ("query-id", "query_id", "qid"), qrels_name)
    cc = _column(qrel_records, ("corpus-id", "corpus_id", "docid", "doc-id"), qrels_name)
    cs = _column(qrel_records, ("score", "relevance"), qrels_name)
    relevant_ids: dict[str, set[str]] = {}
    for r in qrel_records:
        q, d, raw = _cell(r, cq, qrels_name), _cell(r, cc, qrels_name), _cell(r, cs, qrels_name)
        if q not in qs:
            raise EvaluationInputError(
                f"query {q!r} is not in {queries_name}.", file=qrels_name, line=r.line, column=cq
            )
        if d not in docs:
            raise EvaluationInputError(
                f"document {d!r} is not in {corpus_name}.", file=qrels_name, line=r.line, column=cc
            )
        try:
            value = int(float(raw)) if float(raw).is_integer() else None
        except ValueError:
            value = None
        if value is None:
            raise EvaluationInputError(
                f"{raw!r} is not an integer relevance.", file=qrels_name, line=r.line, column=cs
            )
        if value > 0:
            relevant_ids.setdefault(q, set()).add(d)
    # Sorted by id: equal scores then rank by id, the order sentence-transformers breaks ties in.
    corpus_ids = sorted(docs)
    row_of = {d: i for i, d in enumerate(corpus_ids)}
    kept = [q for q in qs if relevant_ids.get(q)]
    left_out = [q for q in qs if not relevant_ids.get(q)]
    if not kept:
        raise EvaluationInputError(
            f"no query has a relevant document (a score above 0) for {queries_name}'s ids.", file=qrels_name
        )
    warnings = []
    if left_out:
        shown = ", ".join(f"{q!r} (line {qs[q][1]})" for q in left_out[:5]) + (
            " …" if len(left_out) > 5 else ""
        )
        warnings.append(
            f"{queries_name}: {len(left_out)} quer{'y has' if len(left_out) == 1 else 'ies have'} no relevant "
            f"document in {qrels_name} and {'is' if len(left_out) == 1 else 'are'} left out: {shown}."
        )
    return RetrievalTask(
        corpus_ids=corpus_ids,
        corpus_texts=[docs[d][0] for d in corpus_ids],
        query_ids=kept,
        query_texts=[qs[q][0] for q in kept],
        relevant=[np.array(sorted(row_of[d] for d in relevant_ids[q]), dtype=np.int64) for q in kept],
        source=f"{corpus_name}, {queries_name}, {qrels_name}",
        warnings=warnings,
    )


def read_retrieval_pairs(data: bytes, filename: str, *, query=None, relevant=None) -> RetrievalTask:
    """Read retrieval pairs: one row per (``query``, ``relevant`` text); the corpus is every relevant text.

    A query on several rows has several relevant texts; an empty cell is an error naming its line.

    Examples
    --------
    >>> t = read_retrieval_pairs(b"query,relevant\\nq one,doc A\\nq two,doc B\\nq one,doc C\\n", "p.csv")
    >>> t.query_texts, t.corpus_texts, [r.tolist() for r in t.relevant]
    (['q one', 'q two'], ['doc A', 'doc B', 'doc C'], [[0, 2], [1]])
    """
    records = read_records(data, filename)
    cq = _column(records, _PAIR_QUERY, filename, query)
    cr = _column(records, _PAIR_RELEVANT, filename, relevant)
    rel: dict[str, list[str]] = {}
    for r in records:
        q = _cell(r, cq, filename)
        d = _cell(r, cr, filename)
        rel.setdefault(q, []).append(d)
    docs = sorted({d for ds in rel.values() for d in ds})
    # Ids are the corpus texts' positions, zero-padded so sorting ids keeps the corpus order.
    width = len(str(len(docs)))
    row_of = {d: i for i, d in enumerate(docs)}
    queries = list(rel)
    return RetrievalTask(
        corpus_ids=[f"d{i:0{width}d}" for i in range(len(docs))],
        corpus_texts=docs,
        query_ids=[f"q{i}" for i in range(len(queries))],
        query_texts=queries,
        relevant=[np.array(sorted({row_of[d] for d in rel[q]}), dtype=np.int64) for q in queries],
        source=filename,
    )


def read_bitext(data: bytes, filename: str, *, text=None, sentence_id=None, language=None) -> BitextTask:
    """Read translations: ``text``, ``sentence_id`` (same id = same sentence), ``language``.

    Raises
    ------
    EvaluationInputError
        Missing columns or cells, fewer than two languages, or no sentence in two languages.

    Examples
    --------
    >>> t = read_bitext(b"sentence_id,language,text\\n1,en,Hello\\n1,de,Hallo\\n2,en,Bye\\n", "b.csv")
    >>> t.n_items, sorted(set(t.languages))
    (2, ['de', 'en'])
    """
    records = read_records(data, filename)
    ct = _column(records, _TEXT, filename, text)
    ci = _column(records, _SENTENCE_ID, filename, sentence_id)
    cl = _column(records, _LANGUAGE, filename, language)
    texts, ids, langs = [], [], []
    for r in records:
        texts.append(_cell(r, ct, filename))
        ids.append(_cell(r, ci, filename))
        langs.append(_cell(r, cl, filename))
    return _check_bitext(BitextTask(texts, ids, langs, source=filename), filename, cl, ci)


def _check_bitext(
    task: BitextTask, filename: str, cl: str = "language", ci: str = "sentence_id"
) -> BitextTask:
    if len(set(task.languages)) < 2:
        raise EvaluationInputError(
            f"has {len(set(task.languages))} language(s); finding translations needs at least two.",
            file=filename,
            column=cl,
        )
    langs_of: dict[str, set[str]] = {}
    for sid, lang in zip(task.sentence_ids, task.languages, strict=True):
        langs_of.setdefault(sid, set()).add(lang)
    if not any(len(v) >= 2 for v in langs_of.values()):
        raise EvaluationInputError("no sentence id appears in two languages.", file=filename, column=ci)
    return task


def read_classification(data: bytes, filename: str, *, text=None, label=None) -> ClassificationTask:
    """Read labelled texts (``text``, ``label``).

    Raises
    ------
    EvaluationInputError
        Missing columns or cells, fewer than 2 labels, or a label with a single text
        (stratified cross-validation needs two of each).

    Examples
    --------
    >>> t = read_classification(b"text,label\\na,x\\nb,x\\nc,y\\nd,y\\n", "c.csv")
    >>> t.n_items, sorted(set(t.labels))
    (4, ['x', 'y'])
    """
    records = read_records(data, filename)
    ct = _column(records, _TEXT, filename, text)
    cl = _column(records, _LABEL, filename, label)
    texts, labels, first_line = [], [], {}
    for r in records:
        texts.append(_cell(r, ct, filename))
        labels.append(_cell(r, cl, filename))
        first_line.setdefault(labels[-1], r.line)
    return _check_classification(ClassificationTask(texts, labels, source=filename), filename, cl, first_line)


def _check_classification(
    task: ClassificationTask, filename: str, cl: str = "label", lines: dict[str, int] | None = None
) -> ClassificationTask:
    counts: dict[str, int] = {}
    for label in task.labels:
        counts[label] = counts.get(label, 0) + 1
    if len(counts) < 2:
        raise EvaluationInputError(
            f"has {len(counts)} label(s); classification and clustering need at least 2.",
            file=filename,
            column=cl,
        )
    for label, n in counts.items():
        if n < 2:
            raise EvaluationInputError(
                f"the label {label!r} has a single text; cross-validation needs at least 2 per label.",
                file=filename,
                line=(lines or {}).get(label),
                column=cl,
            )
    return task
