"""The evaluation readers: the formats the field uses in, typed errors naming file, line and column out;
the built-in sets; and every docstring example of embedcore.evaluation, run as a doctest."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil

import numpy as np
import pytest

import embedcore.evaluation
from embedcore.errors import EvaluationInputError, ParseError
from embedcore.evaluation import (
    load_builtin,
    read_bitext,
    read_classification,
    read_retrieval,
    read_retrieval_pairs,
    read_sts,
)
from embedcore.evaluation.metrics import retrieval_scores


def _beir(corpus: list[dict], queries: list[dict], qrels: str):
    return (
        ("".join(json.dumps(r) + "\n" for r in corpus).encode(), "corpus.jsonl"),
        ("".join(json.dumps(r) + "\n" for r in queries).encode(), "queries.jsonl"),
        (qrels.encode(), "qrels.tsv"),
    )


CORPUS = [{"_id": "d2", "title": "Two", "text": "second"}, {"_id": "d1", "text": "first"}]
QUERIES = [{"_id": "q1", "text": "one?"}, {"_id": "q2", "text": "two?"}]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"text_a,text_b\na,b\n", ("s.csv", 1, "score")),
        (b"text_a,text_b,score\na,b,1\n,c,2\nd,e,3\n", ("s.csv", 3, "text_a")),
        (b"text_a,text_b,score\na,b,1\nc,d,nan\nd,e,3\n", ("s.csv", 3, "score")),
        (b"text_a,text_b,score\na,b,2\nc,d,2\nd,e,2\n", ("s.csv", None, "score")),  # all equal
        (b"text_a,text_b,score\na,b,2\nc,d,3\n", ("s.csv", None, None)),  # too few
        # A quoted text over two lines: the next row's line number counts both.
        (b'text_a,text_b,score\n"a\nb",c,1\nd,e,\nf,g,2\n', ("s.csv", 4, "score")),
    ],
)
def test_sts_errors_name_file_line_and_column(data, where):
    with pytest.raises(EvaluationInputError) as caught:
        read_sts(data, "s.csv")
    assert (caught.value.file, caught.value.line, caught.value.column) == where
    assert isinstance(caught.value, ParseError) and isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("s.csv")


def test_sts_accepts_stsb_names_tsv_and_jsonl():
    tsv = b"sentence1\tsentence2\tlabel\na\tb\t0.5\nc\td\t4\ne\tf\t2\n"
    assert read_sts(tsv, "stsb.tsv").scores.tolist() == [0.5, 4.0, 2.0]
    lines = b"".join(
        json.dumps({"text_a": a, "text_b": "x", "score": s}).encode() + b"\n"
        for a, s in zip("abc", "123", strict=True)
    )
    task = read_sts(lines, "p.jsonl")
    assert task.text_a == ["a", "b", "c"] and task.texts() == ["a", "b", "c", "x"]


def test_retrieval_beir_sorted_by_id_with_titles_and_graded_scores():
    task = read_retrieval(
        *_beir(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq2\td1\t0\n")
    )
    assert task.corpus_ids == ["d1", "d2"] and task.corpus_texts == ["first", "Two second"]
    # A score of 0 is judged not relevant (BEIR's reading), so q2 has d2 only.
    assert [r.tolist() for r in task.relevant] == [[0], [1]] and task.warnings == []


@pytest.mark.parametrize(
    ("qrels", "where", "text"),
    [
        (
            "query-id\tcorpus-id\tscore\nq1\td9\t1\n",
            ("qrels.tsv", 2, "corpus-id"),
            "document 'd9' is not in corpus.jsonl",
        ),
        (
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq7\td1\t1\n",
            ("qrels.tsv", 3, "query-id"),
            "query 'q7' is not in",
        ),
        ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", ("qrels.tsv", 2, "score"), "'high' is not an integer"),
        ("query-id\tcorpus-id\nq1\td1\n", ("qrels.tsv", 1, "score"), "there is no column 'score'"),
        (
            "query-id\tcorpus-id\tscore\nq1\td1\t0\n",
            ("qrels.tsv", None, None),
            "no query has a relevant document",
        ),
    ],
)
def test_retrieval_qrels_errors(qrels, where, text):
    with pytest.raises(EvaluationInputError, match=text) as caught:
        read_retrieval(*_beir(CORPUS, QUERIES, qrels))
    assert (caught.value.file, caught.value.line, caught.value.column) == where


def test_retrieval_duplicate_ids_and_missing_text_are_errors():
    with pytest.raises(EvaluationInputError, match="'d1' was already used on line 1") as caught:
        read_retrieval(*_beir([{"_id": "d1", "text": "a"}, {"_id": "d1", "text": "b"}], QUERIES, "q\tc\ts\n"))
    assert caught.value.line == 2 and caught.value.column == "_id"
    with pytest.raises(EvaluationInputError, match="line 2, column 'text'"):
        read_retrieval(*_beir(QUERIES, [{"_id": "q1", "text": "x"}, {"_id": "q2"}], "q\tc\ts\n"))
    with pytest.raises(EvaluationInputError, match=r"corpus\.jsonl, line 1: not valid JSON"):
        read_retrieval((b"{nope\n", "corpus.jsonl"), *_beir(CORPUS, QUERIES, "")[1:])


def test_a_query_without_relevant_document_is_left_out_with_a_warning_naming_it():
    task = read_retrieval(*_beir(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1\n"))
    assert task.query_ids == ["q1"]
    assert task.warnings == [
        "queries.jsonl: 1 query has no relevant document in qrels.tsv and is left out: 'q2' (line 2)."
    ]
    with pytest.raises(ValueError, match="at least one relevant document"):
        retrieval_scores(np.array([[0, 1]]), [np.array([], dtype=np.int64)])


def test_retrieval_pairs_and_their_errors():
    task = read_retrieval_pairs(b"question,answer\nq1,A\nq2,B\nq1,B\n", "pairs.csv")
    assert task.query_texts == ["q1", "q2"] and [r.tolist() for r in task.relevant] == [[0, 1], [1]]
    with pytest.raises(
        EvaluationInputError, match=r"pairs\.csv, line 1, column 'relevant': there is no column"
    ):
        read_retrieval_pairs(b"query,passage\nq,p\n", "pairs.csv")


def test_bitext_and_classification_errors():
    with pytest.raises(EvaluationInputError, match="has 1 language"):
        read_bitext(b"id,language,text\n1,en,a\n2,en,b\n", "b.csv")
    with pytest.raises(EvaluationInputError, match="no sentence id appears in two languages"):
        read_bitext(b"id,language,text\n1,en,a\n2,de,b\n", "b.csv")
    with pytest.raises(EvaluationInputError) as caught:
        read_bitext(b"id,language,text\n1,en,a\n1,,b\n", "b.csv")
    assert (caught.value.line, caught.value.column) == (3, "language")
    with pytest.raises(EvaluationInputError, match="has 1 label"):
        read_classification(b"text,label\na,x\nb,x\n", "c.csv")
    with pytest.raises(EvaluationInputError, match="the label 'y' has a single text") as caught:
        read_classification(b"text,label\na,x\nb,x\nc,y\n", "c.csv")
    assert (caught.value.line, caught.value.column) == (4, "label")
    with pytest.raises(EvaluationInputError, match=r"c\.csv, line 1, column 'topic'"):
        read_classification(b"text,label\na,x\n", "c.csv", label="topic")
    with pytest.raises(EvaluationInputError, match=r"^c\.csv: is empty\.$"):
        read_classification(b"", "c.csv")


def test_builtin_sets_are_real_and_well_formed():
    sts = load_builtin("sts")
    assert sts.n_items == 160 and sts.scores.min() >= 0 and sts.scores.max() == 5
    assert len(set(np.round(sts.scores))) == 6  # every band of the 0-5 scale is used
    retrieval = load_builtin("retrieval")
    assert (retrieval.n_items, len(retrieval.corpus_ids)) == (60, 180) and retrieval.warnings == []
    assert all(1 <= len(r) <= 3 for r in retrieval.relevant)
    assert load_builtin("bitext").n_items == 20 and load_builtin("classification").n_items == 100
    with pytest.raises(ValueError, match="No built-in set for 'qa'"):
        load_builtin("qa")


def _evaluation_modules():
    package = embedcore.evaluation
    return [
        package,
        *(
            importlib.import_module(m.name)
            for m in pkgutil.iter_modules(package.__path__, "embedcore.evaluation.")
        ),
    ]


@pytest.mark.parametrize("module", _evaluation_modules(), ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
