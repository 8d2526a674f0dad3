"""Chunking promises (checked on generated text) and reading real document bytes."""

from __future__ import annotations

import codecs
import io
import itertools
import json
import re

import pypdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedcore.errors import InputError, ParseError
from embedcore.io.chunking import Chunk, chunk_text, read_document

WORD = re.compile(r"\S+")


def words(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def check_invariants(text: str, chunks: list[Chunk]) -> None:
    """The promises every chunking must keep, whatever the limits."""
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text == chunk.text.strip() and chunk.text
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        assert after.start <= before.end or not text[before.end : after.start].strip()  # no gap with text
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    assert all(covered[i] or text[i].isspace() for i in range(len(text))), "some text is in no chunk"


# Text made of short words, sentence ends, line breaks and paragraph breaks.
word_st = st.text(alphabet="abcdeé語.,!?'\"", min_size=1, max_size=8)
separator_st = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", " \n \n ", "\t"])
text_st = st.lists(st.tuples(word_st, separator_st), max_size=300).map(
    lambda parts: "".join(w + s for w, s in parts)
)


@settings(max_examples=300, deadline=None)
@given(text=text_st, size=st.integers(1, 40), data=st.data())
def test_word_chunks_never_exceed_size_and_cover_everything(text, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_text(text, size=size, overlap=overlap, source="doc")
    check_invariants(text, chunks)
    spans = words(text)
    for chunk in chunks:
        assert len(WORD.findall(chunk.text)) <= size
        assert chunk.source == "doc"
    # Every word appears whole inside some chunk (with the words unit nothing is cut).
    for start, end in spans:
        assert any(c.start <= start and end <= c.end for c in chunks)
    # Consecutive chunks share at most `overlap` words.
    for before, after in itertools.pairwise(chunks):
        shared = [w for w in spans if after.start <= w[0] and w[1] <= before.end]
        assert len(shared) <= overlap


def approx_tokens(text: str) -> int:
    """A stand-in tokenizer for tests: one token per word plus one per 3 characters of it."""
    return sum(1 + len(w) // 3 for w in text.split())


long_word_text_st = st.lists(
    st.one_of(word_st, st.text(alphabet="xyz/:", min_size=20, max_size=120)), max_size=80
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=long_word_text_st, size=st.integers(2, 60), max_tokens=st.integers(3, 30), data=st.data())
def test_token_limit_respected_even_for_giant_words(text, size, max_tokens, data):
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_text(text, size=size, overlap=overlap, max_tokens=max_tokens, count_tokens=approx_tokens)
    check_invariants(text, chunks)
    for chunk in chunks:
        assert approx_tokens(chunk.text) <= max_tokens
        assert len(WORD.findall(chunk.text)) <= size


@settings(max_examples=200, deadline=None)
@given(text=text_st, size=st.integers(1, 80), data=st.data())
def test_tokens_unit_counts_characters_when_told_to(text, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_text(text, size=size, overlap=overlap, unit="tokens", count_tokens=len)
    check_invariants(text, chunks)
    assert all(len(c.text) <= size for c in chunks)


def test_prefers_paragraph_then_sentence_ends():
    para = "This is one sentence of the paragraph. Here comes another one of them."  # 13 words
    text = "\n\n".join([para] * 4)
    chunks = chunk_text(text, size=30, overlap=0)
    # Two paragraphs (26 words) fit in 30 words: the chunk stops at the paragraph end.
    assert [c.text for c in chunks] == ["\n\n".join([para] * 2)] * 2

    text = " ".join(["A short sentence of six words."] * 10)
    chunks = chunk_text(text, size=20, overlap=0)
    assert all(c.text.endswith(".") for c in chunks)
    assert [len(c.text.split()) for c in chunks] == [18, 18, 18, 6]


def test_sentence_end_beats_a_line_break():
    # Hard-wrapped text (as pypdf gives): line ends are weaker than the sentence end.
    text = "alpha beta gamma. delta\nepsilon zeta\neta theta iota kappa lambda"
    chunks = chunk_text(text, size=8, overlap=0)
    assert chunks[0].text == "alpha beta gamma. delta\nepsilon zeta"
    chunks = chunk_text(text.replace(".", ""), size=8, overlap=0)
    assert chunks[0].text.endswith("zeta")


def test_overlap_repeats_the_tail_of_the_previous_chunk():
    text = " ".join(f"w{i}" for i in range(25))
    chunks = chunk_text(text, size=10, overlap=3)
    assert [c.text.split()[0] for c in chunks] == ["w0", "w7", "w14", "w21"]
    assert chunks[1].text.split()[:3] == chunks[0].text.split()[-3:]
    assert chunks[-1].text.split()[-1] == "w24"


def test_short_and_blank_documents():
    assert chunk_text("") == []
    assert chunk_text(" \n\t ") == []
    (only,) = chunk_text("  just a few words  ", source="a.txt")
    assert (only.text, only.start, only.end, only.source, only.index) == (
        "just a few words",
        2,
        18,
        "a.txt",
        0,
    )


def test_offsets_point_into_unicode_text():
    text = "Ünïcödé wörds 🙂 und mehr Wörter. " * 20
    chunks = chunk_text(text, size=7, overlap=2)
    check_invariants(text, chunks)


def test_single_character_over_the_limit_is_an_error():
    with pytest.raises(InputError, match="too small"):
        chunk_text("abc", size=5, overlap=0, max_tokens=1, count_tokens=lambda t: len(t) + 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 10, "overlap": 10}, "smaller than the chunk size"),
        ({"size": 0, "overlap": 0}, "at least 1"),
        ({"size": 10, "overlap": -1}, "0 or more"),
        ({"size": 10, "overlap": 2, "unit": "lines"}, "Unknown chunk unit"),
        ({"size": 10, "overlap": 2, "unit": "tokens"}, "count_tokens"),
        ({"size": 10, "overlap": 2, "max_tokens": 5}, "count_tokens"),
        ({"size": 10, "overlap": 2, "max_tokens": 0, "count_tokens": len}, "max_tokens"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        chunk_text("some text here", **kwargs)


# --- reading documents ------------------------------------------------------------------------


def make_pdf(page_texts: list[str]) -> bytes:
    """A real PDF with a Helvetica text layer, one page per text, built by hand."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        None,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in page_texts:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_id
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_pdf_text_extracted_page_by_page(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(["Embeddings map text to vectors.", "Second page about cosine similarity."]))
    text = read_document(path.read_bytes(), path.name)
    assert text == "Embeddings map text to vectors.\n\nSecond page about cosine similarity."


def test_pdf_without_text_layer(tmp_path):
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ParseError, match="no extractable text"):
        read_document(buffer.getvalue(), "scan.pdf")


def test_password_protected_pdf():
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["secret"]))))
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ParseError, match="password-protected"):
        read_document(buffer.getvalue(), "locked.pdf")


def test_pdf_with_empty_user_password_is_read():
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["open to all"]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert read_document(buffer.getvalue(), "restricted.pdf") == "open to all"


@pytest.mark.parametrize("data", [b"%PDF-1.4\nthis is not really a pdf", b"not a pdf at all", b""])
def test_damaged_pdf(data):
    with pytest.raises(ParseError):
        read_document(data, "broken.pdf")


def test_text_and_markdown_documents(tmp_path):
    path = tmp_path / "notes.md"
    path.write_bytes(codecs.BOM_UTF8 + b"# Title\n\nBody with <b>html</b>.\n")
    assert read_document(path.read_bytes(), path.name) == "# Title\n\nBody with <b>html</b>.\n"


def test_binary_document_refused():
    with pytest.raises(ParseError, match="binary"):
        read_document(b"\x00\x01\x02" * 100, "blob.txt")


def test_table_documents_rows_become_paragraphs():
    data = b"id,body\n1,First row text.\n2,\n3,Third row.\n"
    assert read_document(data, "rows.csv") == "First row text.\n\nThird row."
    jsonl = "\n".join(json.dumps({"n": i, "content": f"row {i}"}) for i in range(3)).encode()
    assert read_document(jsonl, "rows.jsonl") == "row 0\n\nrow 1\n\nrow 2"


def test_table_document_without_text_column():
    with pytest.raises(ParseError, match="no column of text"):
        read_document(b"a,b\n1,2\n3,4\n", "numbers.csv")


def test_document_to_chunks_end_to_end():
    text = read_document(make_pdf(["One two three four five six seven eight nine ten."]), "p.pdf")
    chunks = chunk_text(text, size=4, overlap=1, source="p.pdf")
    assert [c.text for c in chunks] == ["One two three four", "four five six seven", "seven eight nine ten."]
    assert {c.source for c in chunks} == {"p.pdf"}
