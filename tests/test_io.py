"""Reading texts and writing vectors with real bytes, as a browser upload would deliver them."""

from __future__ import annotations

import codecs
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedcore import io as eio
from embedcore.errors import InputError, NoTextColumnError, ParseError, TooManyTextsError


def upload(tmp_path, name: str, data: bytes) -> pd.DataFrame:
    """Write the bytes to a real file and read them back the way the dashboard gets them."""
    path = tmp_path / name
    path.write_bytes(data)
    return eio.read_upload(path.read_bytes(), path.name)


# --- pasted text ------------------------------------------------------------------------------


def test_parse_pasted_strips_and_counts_blank_lines():
    table = eio.parse_pasted("  first \n\n\t\nsecond\r\nfirst\n   \n")
    assert table.texts == ["first", "second", "first"]
    assert table.dropped_blank == 3
    assert table.duplicates == 1
    assert table.labels is None
    assert table.source == "pasted"
    assert len(table) == 3


def test_parse_pasted_keeps_tabs_and_markup_verbatim():
    table = eio.parse_pasted("label\ttext\n<script>alert('x')</script>\n")
    assert table.texts == ["label\ttext", "<script>alert('x')</script>"]


def test_parse_pasted_all_blank_gives_empty_table():
    table = eio.parse_pasted("\n \n\t")
    assert table.texts == [] and table.dropped_blank == 3


# --- TextTable ----------------------------------------------------------------------------------


def test_with_limit_slices_every_column_and_counts():
    table = eio.TextTable(
        texts=["a", "b", "a", "c"], labels=["x", "y", "x", "z"], extra={"id": [1, 2, 3, 4]}, duplicates=1
    )
    limited = table.with_limit(2)
    assert limited.texts == ["a", "b"]
    assert limited.labels == ["x", "y"]
    assert limited.extra == {"id": [1, 2]}
    assert limited.duplicates == 0
    assert limited.truncated == 2
    assert table.with_limit(10) is table
    assert len(table) == 4  # the original is untouched


def test_text_table_rejects_mismatched_columns():
    with pytest.raises(InputError, match="2 labels for 3 texts"):
        eio.TextTable(texts=["a", "b", "c"], labels=["x", "y"])
    with pytest.raises(InputError, match="'id'"):
        eio.TextTable(texts=["a"], extra={"id": [1, 2]})


def test_check_limit():
    eio.check_limit(eio.MAX_TEXTS)
    eio.check_limit(10**9, None)
    with pytest.raises(TooManyTextsError, match="20,001 texts"):
        eio.check_limit(eio.MAX_TEXTS + 1)
    assert issubclass(TooManyTextsError, ValueError)


def test_to_frame():
    table = eio.TextTable(texts=["a", "b"], labels=["x", "y"], extra={"lang": ["en", "de"]})
    df = table.to_frame()
    assert list(df.columns) == ["text", "label", "lang"]
    assert df["lang"].tolist() == ["en", "de"]


# --- plain text uploads ---------------------------------------------------------------------------


def test_txt_one_text_per_line_blank_lines_counted(tmp_path):
    df = upload(tmp_path, "notes.txt", b"alpha\n\nbeta  \n gamma\n")
    assert df.attrs["format"] == "text"
    table = eio.table_from_frame(df, "text")
    assert table.texts == ["alpha", "beta", "gamma"]
    assert table.dropped_blank == 1
    assert table.source == "notes.txt"


def test_utf8_bom_removed(tmp_path):
    df = upload(tmp_path, "bom.txt", codecs.BOM_UTF8 + "Größe\nnaïve café\n".encode())
    assert eio.table_from_frame(df, "text").texts == ["Größe", "naïve café"]


def test_utf8_bom_csv_header_is_clean(tmp_path):
    df = upload(tmp_path, "bom.csv", codecs.BOM_UTF8 + b"text,label\nhello,a\n")
    assert list(df.columns) == ["text", "label"]


def test_utf16_with_bom(tmp_path):
    data = "text\tlabel\nÜber\tde\n".encode("utf-16")  # Python writes the BOM first
    df = upload(tmp_path, "excel.tsv", data)
    assert df["text"].tolist() == ["Über"]


def test_markdown_is_read_as_lines(tmp_path):
    df = upload(tmp_path, "README.md", b"# Title\n\nSome *text* here.\n- item\n")
    assert eio.table_from_frame(df, "text").texts == ["# Title", "Some *text* here.", "- item"]


def test_html_and_script_kept_verbatim(tmp_path):
    html = '<b>bold</b> & <script>alert("hi")</script>'
    df = upload(tmp_path, "page.csv", f'text\n"{html.replace(chr(34), chr(34) * 2)}"\n'.encode())
    assert eio.table_from_frame(df, "text").texts == [html]
    df = upload(tmp_path, "page.txt", html.encode())
    assert eio.table_from_frame(df, "text").texts == [html]


def test_binary_file_refused(tmp_path):
    data = bytes(range(256)) * 4
    with pytest.raises(ParseError, match="this looks like a binary file"):
        upload(tmp_path, "data.txt", data)


@pytest.mark.parametrize(
    ("magic", "hint"),
    [(b"%PDF-1.7\n", "PDF"), (b"PK\x03\x04\x14\x00", "Excel"), (b"\x89PNG\r\n\x1a\n", "PNG")],
)
def test_known_binary_formats_named(tmp_path, magic, hint):
    with pytest.raises(ParseError, match=hint):
        upload(tmp_path, "upload.csv", magic + b"\x00" * 50)


def test_windows_1252_fallback_with_warning(tmp_path):
    df = upload(tmp_path, "excel.csv", "text;label\nCafé crème;boisson\n".encode("cp1252"))
    table = eio.table_from_frame(df, "text", "label")
    assert table.texts == ["Café crème"]
    assert table.labels == ["boisson"]
    assert any("Windows-1252" in w for w in table.warnings)


def test_undecodable_non_utf8_refused(tmp_path):
    # 0x81 is undefined in Windows-1252 and invalid as a UTF-8 start byte.
    with pytest.raises(ParseError, match="not UTF-8"):
        upload(tmp_path, "odd.txt", b"abc \x81\x8d def\n")


def test_control_characters_refused(tmp_path):
    with pytest.raises(ParseError, match="not UTF-8"):
        upload(tmp_path, "odd.txt", b"abc\x01\x02\xe9\n")


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\n"])
def test_empty_file(tmp_path, data):
    with pytest.raises(ParseError, match="empty"):
        upload(tmp_path, "empty.csv", data)


def test_size_limit(tmp_path):
    with pytest.raises(ParseError, match="limit"):
        eio.read_upload(b"x\n" * 100, "big.txt", max_bytes=50)


# --- CSV / TSV ------------------------------------------------------------------------------------


def test_csv_with_quotes_commas_and_newlines(tmp_path):
    data = (
        b'id,text,label\n1,"Hello, world",greeting\n2,"line one\nline two",multi\n3,"She said ""hi""",quote\n'
    )
    df = upload(tmp_path, "t.csv", data)
    table = eio.table_from_frame(df, "text", "label")
    assert table.texts == ["Hello, world", "line one\nline two", 'She said "hi"']
    assert table.labels == ["greeting", "multi", "quote"]
    assert table.extra == {"id": ["1", "2", "3"]}


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_delimiter_sniffed(tmp_path, sep):
    data = f"text{sep}label\nfirst text, with comma{sep}a\nsecond{sep}b\n".encode()
    df = upload(tmp_path, "t.csv", data)
    assert list(df.columns) == ["text", "label"]
    assert df["text"].tolist() == ["first text, with comma", "second"]


def test_one_column_csv_with_commas_in_texts(tmp_path):
    df = upload(tmp_path, "t.csv", b"text\nHello, world\nGood morning, Vietnam\n")
    assert list(df.columns) == ["text"]
    assert df["text"].tolist() == ["Hello, world", "Good morning, Vietnam"]


def test_csv_keeps_na_like_texts_and_leading_zeros(tmp_path):
    df = upload(tmp_path, "t.csv", b"text,code\nNA,007\nnull,\nNone,1\n")
    table = eio.table_from_frame(df, "text", "code")
    assert table.texts == ["NA", "null", "None"]
    assert table.labels == ["007", eio.MISSING_LABEL, "1"]


def test_csv_blank_cells_dropped_and_counted(tmp_path):
    df = upload(tmp_path, "t.csv", b"text,label\nkeep,a\n,b\n   ,c\nalso,d\n")
    table = eio.table_from_frame(df, "text", "label")
    assert table.texts == ["keep", "also"]
    assert table.labels == ["a", "d"]
    assert table.dropped_blank == 2


def test_csv_header_only_refused(tmp_path):
    with pytest.raises(ParseError, match="no data rows"):
        upload(tmp_path, "t.csv", b"text,label\n")


def test_csv_ragged_rows_refused(tmp_path):
    with pytest.raises(ParseError, match=r"line 3") as info:
        upload(tmp_path, "t.csv", b"a,b\n1,2\n3,4,5\n6,7\n")
    assert "Error tokenizing" not in str(info.value)


def test_csv_every_row_one_field_too_many_refused(tmp_path):
    # pandas would silently make the first column the index.
    with pytest.raises(ParseError, match="more fields than the header"):
        upload(tmp_path, "t.csv", b"a,b\n1,2,3\n4,5,6\n")


def test_tsv(tmp_path):
    df = upload(tmp_path, "t.tsv", "text\tlang\nguten Tag\tde\nbonjour, ça va\tfr\n".encode())
    assert df.attrs["format"] == "tsv"
    assert df["lang"].tolist() == ["de", "fr"]


def test_missing_column_names_the_existing_ones(tmp_path):
    df = upload(tmp_path, "t.csv", b"sentence,category\nhi,a\n")
    with pytest.raises(ParseError, match=r"'text'.*'sentence', 'category'"):
        eio.table_from_frame(df, "text")
    with pytest.raises(ParseError, match="label column 'topic'"):
        eio.table_from_frame(df, "sentence", "topic")


# --- JSON Lines / JSON ----------------------------------------------------------------------------


def test_jsonl(tmp_path):
    lines = [{"text": "one", "label": 1, "meta": {"k": 1}}, {"text": "two", "label": 2.0}, {"text": ""}]
    data = ("\n".join(json.dumps(x) for x in lines) + "\n\n").encode()
    df = upload(tmp_path, "t.jsonl", data)
    table = eio.table_from_frame(df, "text", "label")
    assert table.texts == ["one", "two"]
    assert table.labels == ["1", "2"]  # 2.0 and 2 are the same label
    assert table.dropped_blank == 1
    assert table.extra["meta"] == [{"k": 1}, None]


def test_jsonl_of_strings(tmp_path):
    df = upload(tmp_path, "t.ndjson", b'"first"\n"second"\n')
    assert eio.table_from_frame(df, "text").texts == ["first", "second"]


def test_malformed_jsonl_names_the_line(tmp_path):
    data = b'{"text": "ok"}\n{"text": "fine"}\n{"text": broken}\n'
    with pytest.raises(ParseError, match="line 3 is not valid JSON"):
        upload(tmp_path, "t.jsonl", data)


def test_jsonl_non_object_record(tmp_path):
    with pytest.raises(ParseError, match="record 2 is a JSON int"):
        upload(tmp_path, "t.jsonl", b'{"text": "a"}\n42\n')


def test_json_array(tmp_path):
    df = upload(tmp_path, "t.json", json.dumps([{"text": "a", "label": "x"}, {"text": "b"}]).encode())
    table = eio.table_from_frame(df, "text", "label")
    assert table.labels == ["x", eio.MISSING_LABEL]


def test_json_file_that_is_really_jsonl(tmp_path):
    df = upload(tmp_path, "t.json", b'{"text": "a"}\n{"text": "b"}\n')
    assert df["text"].tolist() == ["a", "b"]


def test_json_object_points_to_the_array(tmp_path):
    with pytest.raises(ParseError, match="'items'"):
        upload(tmp_path, "t.json", b'{"items": [{"text": "a"}]}')


def test_json_empty_array(tmp_path):
    with pytest.raises(ParseError, match="no records"):
        upload(tmp_path, "t.json", b"[]")


def test_unknown_extension_guessed(tmp_path):
    df = upload(tmp_path, "data", b'[{"text": "a"}]')
    assert df.attrs["format"] == "json"
    df = upload(tmp_path, "notes.log", b"one\ntwo\n")
    assert df.attrs["format"] == "text"
    assert "notes.log" in df.attrs["source"] and df.attrs["warnings"]


# --- choosing columns -------------------------------------------------------------------------------


def test_text_and_label_columns_ranked():
    df = pd.DataFrame(
        {
            "id": [str(i) for i in range(6)],
            "notes": [f"a much longer free text number {i} here" for i in range(6)],
            "sentence": [f"short {i}" for i in range(6)],
            "score": [0.5, 0.1, 0.2, 0.3, 0.4, 0.6],
            "topic": ["a", "b", "a", "b", "a", "b"],
            "lang": ["en", "de", "en", "de", "fr", "fr"],
        }
    )
    cols = eio.text_columns(df)
    assert cols[:2] == ["sentence", "notes"]  # the conventional name first, then the longest
    assert "id" not in cols and "score" not in cols
    labels = eio.label_columns(df)
    assert labels[:2] == ["topic", "lang"]
    assert "notes" not in labels and "id" not in labels


def test_a_table_without_text_is_refused_naming_its_columns(tmp_path):
    # Embedding the ids "1", "2", "3" of a scores table is never what anyone wanted.
    df = upload(tmp_path, "scores.csv", b"id,score\n1,0.5\n2,0.75\n3,1e-3\n")
    assert eio.text_columns(df) == []
    with pytest.raises(NoTextColumnError) as caught:
        eio.require_text_columns(df)
    message = str(caught.value)
    assert "scores.csv" in message and "'id'" in message and "'score'" in message
    assert "numbers" in message
    assert caught.value.columns == ["id", "score"]
    assert isinstance(caught.value, ParseError)  # callers catching the broad type still do


def test_id_like_columns_are_not_text(tmp_path):
    df = upload(
        tmp_path,
        "products.csv",
        b"sku,uuid,flag\nA-1001,6f1c2b9e-0d4e-4c55-9a57-1b2c3d4e5f60,true\n"
        b"A-1002,0b7e6a42-8f1d-4d2a-b3c4-5d6e7f809a1b,false\nB-7,9c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f,true\n",
    )
    assert eio.text_columns(df) == ["flag"]  # words without digits are still text (word embeddings)
    records = [{"id": i, "value": i * 1.5, "ok": True} for i in range(3)]
    df = upload(tmp_path, "records.jsonl", "\n".join(json.dumps(r) for r in records).encode())
    with pytest.raises(NoTextColumnError, match=r"'id'.*'value'.*'ok'"):
        eio.require_text_columns(df)


def test_real_text_columns_still_pass(tmp_path):
    df = upload(
        tmp_path, "reviews.csv", b"id,review\n1,Great phone and 2 days of battery\n2,Broke after 3 weeks\n"
    )
    assert eio.require_text_columns(df) == ["review"]
    # A column of product names with model numbers reads as text: it has spaces.
    df = upload(tmp_path, "phones.csv", b"name\nPixel 8 Pro\niPhone 15\nGalaxy S24 Ultra\n")
    assert eio.require_text_columns(df) == ["name"]
    df = upload(tmp_path, "lines.txt", b"one line\nanother line\n")
    assert eio.require_text_columns(df) == ["text"]
    with pytest.raises(NoTextColumnError, match="numbers"):
        eio.require_text_columns(upload(tmp_path, "ids.txt", b"17\n18\n19\n"))


def test_label_columns_on_the_multilingual_sample():
    data = (eio.resources.files("embedcore") / "samples" / "multilingual.csv").read_bytes()
    df = eio.read_upload(data, "multilingual.csv")
    assert eio.text_columns(df)[0] == "text"
    assert eio.label_columns(df)[:2] == ["label", "language"]


# --- writers ----------------------------------------------------------------------------------------


@pytest.fixture
def vectors():
    # A unit-test fixture, not an embedding: writers only move numbers around.
    return np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)


TEXTS = ["plain", "tab\there", "line\nbreak and, comma", 'quote " mark']


def test_csv_round_trip(tmp_path, vectors):
    path = tmp_path / "v.csv"
    path.write_bytes(eio.to_csv_bytes(TEXTS, vectors, ["a", "b", "a", "c"]))
    df = pd.read_csv(path)
    assert list(df.columns) == ["text", "label"] + [f"dim_{i}" for i in range(5)]
    assert df["text"].tolist() == TEXTS
    np.testing.assert_array_equal(df.filter(like="dim_").to_numpy(np.float32), vectors)


def test_csv_without_labels(vectors):
    df = pd.read_csv(io.BytesIO(eio.to_csv_bytes(TEXTS, vectors)))
    assert "label" not in df.columns and df.shape == (4, 6)


def test_npy_round_trip(tmp_path, vectors):
    path = tmp_path / "v.npy"
    path.write_bytes(eio.to_npy_bytes(vectors.astype(np.float64)))
    loaded = np.load(path, allow_pickle=False)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, vectors)


def test_parquet_round_trip(tmp_path, vectors):
    path = tmp_path / "v.parquet"
    extra = {"lang": ["en", "de", None, "fr"], "mixed": [1, "two", 3.0, None]}
    path.write_bytes(eio.to_parquet_bytes(TEXTS, vectors, ["a", "b", "a", "c"], extra))
    df = pd.read_parquet(path)
    assert list(df.columns) == ["text", "label", "lang", "mixed", "vector"]
    assert df["text"].tolist() == TEXTS
    assert df["lang"].tolist()[:2] == ["en", "de"]
    assert df["mixed"].tolist()[:2] == ["1", "two"]
    stacked = np.stack(df["vector"].to_list())
    assert stacked.dtype == np.float32
    np.testing.assert_array_equal(stacked, vectors)


def test_parquet_extra_name_clash(vectors):
    with pytest.raises(InputError, match="clashes"):
        eio.to_parquet_bytes(TEXTS, vectors, None, {"vector": [1, 2, 3, 4]})


def _unzip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_projector_zip_with_labels(vectors):
    files = _unzip(eio.to_projector_zip(TEXTS, vectors, ["a", "b\tc", "a", "d"]))
    assert set(files) == {"vectors.tsv", "metadata.tsv"}
    vec_lines = files["vectors.tsv"].splitlines()
    assert len(vec_lines) == 4 and all(len(line.split("\t")) == 5 for line in vec_lines)
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(files["vectors.tsv"]), dtype=np.float32), vectors)
    meta_lines = files["metadata.tsv"].split("\n")
    assert meta_lines[-1] == ""  # ends with a newline
    meta_lines = meta_lines[:-1]
    assert meta_lines[0] == "text\tlabel"  # two columns: a header row is required
    assert len(meta_lines) == 5
    assert all(len(line.split("\t")) == 2 for line in meta_lines)
    assert meta_lines[2] == "tab here\tb c"
    assert meta_lines[3] == "line break and, comma\ta"


def test_projector_zip_single_column_has_no_header(vectors):
    files = _unzip(eio.to_projector_zip(TEXTS, vectors))
    meta_lines = files["metadata.tsv"].splitlines()
    assert meta_lines == ["plain", "tab here", "line break and, comma", 'quote " mark']


def test_coordinates_csv(vectors):
    df = pd.read_csv(io.BytesIO(eio.coordinates_csv_bytes(TEXTS, vectors[:, :2], ["a", "b", "c", "d"])))
    assert list(df.columns) == ["text", "label", "x", "y"]
    df3 = pd.read_csv(io.BytesIO(eio.coordinates_csv_bytes(TEXTS, vectors[:, :3])))
    assert list(df3.columns) == ["text", "x", "y", "z"]
    with pytest.raises(InputError, match="2 or 3 columns"):
        eio.coordinates_csv_bytes(TEXTS, vectors)


def test_writers_check_shapes(vectors):
    with pytest.raises(InputError, match="3 texts but 4 rows"):
        eio.to_csv_bytes(TEXTS[:3], vectors)
    with pytest.raises(InputError, match="2 labels for 4 texts"):
        eio.to_projector_zip(TEXTS, vectors, ["a", "b"])
    with pytest.raises(InputError, match="2-D"):
        eio.to_npy_bytes(np.zeros(3))


def test_writers_accept_zero_rows():
    empty = np.zeros((0, 3), np.float32)
    assert pd.read_parquet(io.BytesIO(eio.to_parquet_bytes([], empty))).shape[0] == 0
    assert np.load(io.BytesIO(eio.to_npy_bytes(empty))).shape == (0, 3)


# --- samples ----------------------------------------------------------------------------------------


def test_seed_sample():
    table = eio.load_sample("seed")
    assert table.texts == ["AI Model Hub", "Michael Jackson", "best selling music artists"]
    assert table.labels is None
    assert table.source == "sample:seed"


def test_topics_sample():
    table = eio.load_sample("topics")
    assert len(table) == 100
    assert table.duplicates == 0 and table.dropped_blank == 0
    counts = pd.Series(table.labels).value_counts().to_dict()
    assert counts == {"music": 20, "sports": 20, "cooking": 20, "space": 20, "programming": 20}
    assert all(10 < len(t) < 120 for t in table.texts)


def test_multilingual_sample():
    table = eio.load_sample("multilingual")
    ids, langs = table.extra["sentence_id"], table.extra["language"]
    assert len(table) == 140 and table.duplicates == 0
    assert sorted(set(langs)) == ["de", "en", "es", "fr", "it", "nl", "pt"]
    assert sorted(set(ids)) == list(range(1, 21))
    # every sentence exists once in every language
    assert sorted(zip(ids, langs, strict=True)) == sorted(
        {(i, lang) for i in range(1, 21) for lang in set(langs)}
    )
    names = dict(zip(langs, table.labels, strict=True))
    assert names["de"] == "German" and names["en"] == "English"
    english = {i: t for i, t, lang in zip(ids, table.texts, langs, strict=True) if lang == "en"}
    german = {i: t for i, t, lang in zip(ids, table.texts, langs, strict=True) if lang == "de"}
    assert english[8] == "Learning a new language takes time and patience."
    assert german[8] == "Eine neue Sprache zu lernen braucht Zeit und Geduld."


def test_docs_sample_is_large_real_and_labelled_by_source():
    table = eio.load_sample("docs")
    assert len(table) == 10_000 and table.duplicates == 0 and table.dropped_blank == 0
    assert table.source == "sample:docs" and "docs" in eio.LARGE_SAMPLES
    counts = pd.Series(table.labels).value_counts()
    assert set(counts.index) == {
        "python reference", "python stdlib", "numpy", "scipy", "sklearn", "pandas",
        "networkx", "sympy", "torch", "transformers", "streamlit",
    }  # fmt: skip
    assert counts.min() >= 900  # balanced: no package fills the map
    # Prose sentences, not code: what the extraction keeps.
    assert all(t[0].isupper() and t[-1] in ".!?" and 6 <= len(t.split()) <= 40 for t in table.texts)
    # Every source the sample ships is named, with its licence, in embedcore/samples/NOTICE.md.
    notice = (Path(eio.__file__).parents[2] / "embedcore/samples/NOTICE.md").read_text()
    assert all(f"| {label} |" in notice for label in counts.index)


def test_every_sample_is_described_and_loads():
    assert set(eio.SAMPLES) == {"seed", "topics", "multilingual", "docs"}
    for name in eio.SAMPLES:
        assert len(eio.load_sample(name)) > 0


def test_unknown_sample():
    with pytest.raises(InputError, match="topics"):
        eio.load_sample("nope")
