"""Opening files of texts with their vectors (Parquet, NPZ): what works, and each way it fails.

The vectors here are fixtures (small, seeded): the readers' job is the file format, not the model.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedcore import io as eio
from embedcore.errors import (
    ParseError,
    VectorColumnsError,
    VectorDimensionsError,
    VectorFileError,
    VectorLengthError,
    VectorValuesError,
)

TEXTS = ["a cat on a mat", "a dog in the fog", "tea for two", "rain in Spain"]
LABELS = ["pets", "pets", "drinks", "weather"]


def vectors(n: int = len(TEXTS), d: int = 6) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(n, d)).astype(np.float32)


def parquet_bytes(columns: dict, metadata: dict | None = None) -> bytes:
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# --- what opens --------------------------------------------------------------------------------


@pytest.mark.parametrize("write, name", [(eio.to_parquet_bytes, "v.parquet"), (eio.to_npz_bytes, "v.npz")])
def test_round_trip_from_bytes_and_from_a_path(tmp_path, write, name):
    data = write(TEXTS, vectors(), labels=LABELS, extra={"row_id": [10, 11, 12, 13]}, model="m/1")
    (tmp_path / name).write_bytes(data)
    for source in (data, tmp_path / name, str(tmp_path / name)):
        table = eio.read_vectors(source, name if isinstance(source, bytes) else None)
        assert table.texts == TEXTS and table.labels == LABELS and table.model == "m/1"
        assert table.extra["row_id"] == [10, 11, 12, 13] and table.source == name
        assert table.vectors.dtype == np.float32 and table.vectors.flags.c_contiguous
        np.testing.assert_array_equal(table.vectors, vectors())
        assert table.dropped_blank == table.truncated == 0 and not table.warnings


def test_a_parquet_made_elsewhere_with_other_column_names():
    """pandas writes ``embedding`` as a list column and ``sentence`` / ``category`` as strings."""
    import pandas as pd

    frame = pd.DataFrame(
        {"sentence": TEXTS, "category": LABELS, "embedding": list(vectors().astype(np.float64))}
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    table = eio.read_vectors(buffer.getvalue(), "made-with-pandas.parquet")
    assert table.texts == TEXTS and table.labels == LABELS and table.model is None
    np.testing.assert_allclose(table.vectors, vectors(), rtol=1e-6)


def test_a_fixed_size_list_column_and_bytes_strings_in_npz():
    flat = pa.array(vectors().reshape(-1))
    data = parquet_bytes({"text": TEXTS, "vector": pa.FixedSizeListArray.from_arrays(flat, 6)})
    np.testing.assert_array_equal(eio.read_vectors(data, "f.parquet").vectors, vectors())
    npz = npz_bytes(vectors=vectors(), text=np.array([t.encode() for t in TEXTS]))  # dtype S
    assert eio.read_vectors(npz, "b.npz").texts == TEXTS


def test_blank_texts_are_dropped_with_their_vectors():
    texts = ["first", "", None, "  ", "last"]
    data = parquet_bytes({"text": texts, "vector": list(vectors(5))})
    table = eio.read_vectors(data, "blanks.parquet")
    assert table.texts == ["first", "last"] and table.dropped_blank == 3
    np.testing.assert_array_equal(table.vectors, vectors(5)[[0, 4]])


def test_more_rows_than_the_limit_keeps_the_first_and_says_so():
    data = eio.to_npz_bytes([f"text {i}" for i in range(10)], vectors(10))
    table = eio.read_vectors(data, "ten.npz", max_rows=4)
    assert len(table) == 4 and table.truncated == 6 and table.vectors.shape == (4, 6)
    assert "10 rows; the first 4 are used" in table.warnings[0]
    assert len(table.with_limit(2).vectors) == 2  # the vectors follow any later cut


# --- each way it fails -------------------------------------------------------------------------


def test_wrong_columns_name_what_the_file_has():
    with pytest.raises(VectorColumnsError, match=r"no column of vectors.*'text', 'score'") as caught:
        eio.read_vectors(parquet_bytes({"text": TEXTS, "score": [1.0, 2.0, 3.0, 4.0]}), "s.parquet")
    assert caught.value.columns == ["text", "score"]
    with pytest.raises(VectorColumnsError, match="no column of texts"):
        eio.read_vectors(parquet_bytes({"id": [1, 2, 3, 4], "vector": list(vectors())}), "ids.parquet")
    with pytest.raises(
        VectorColumnsError, match=r"no texts \(an array named text\); its arrays are: 'vectors'"
    ):
        eio.read_vectors(npz_bytes(vectors=vectors()), "v.npz")
    with pytest.raises(VectorColumnsError, match="holds only the vectors, not their texts"):
        eio.read_vectors(eio.to_npy_bytes(vectors()), "v.npy")
    with pytest.raises(VectorColumnsError, match="1-D array of strings"):
        eio.read_vectors(npz_bytes(vectors=vectors(), text=np.arange(4)), "numbers.npz")


def test_mismatched_lengths():
    with pytest.raises(VectorLengthError, match="3 texts for 4 vectors"):
        eio.read_vectors(npz_bytes(vectors=vectors(), text=np.array(TEXTS[:3])), "short.npz")
    with pytest.raises(VectorLengthError, match="2 labels for 4 vectors"):
        eio.read_vectors(
            npz_bytes(vectors=vectors(), text=np.array(TEXTS), label=np.array(["x", "y"])), "l.npz"
        )
    with pytest.raises(VectorLengthError):
        eio.TextTable(texts=TEXTS, vectors=vectors(3))


def test_nan_infinite_and_missing_values():
    bad = vectors()
    bad[2, 1] = np.nan
    bad[3, 0] = np.inf
    with pytest.raises(
        VectorValuesError, match=r"2 vector\(s\) hold NaN or infinite values \(first at row 3\)"
    ):
        eio.read_vectors(eio.to_parquet_bytes(TEXTS, bad), "nan.parquet")
    with pytest.raises(VectorValuesError, match="first at row 3"):
        eio.read_vectors(npz_bytes(vectors=bad, text=np.array(TEXTS)), "nan.npz")
    rows = [list(map(float, v)) for v in vectors()]
    rows[1] = None
    with pytest.raises(VectorValuesError, match="row 2 has no vector"):
        eio.read_vectors(parquet_bytes({"text": TEXTS, "vector": rows}), "null.parquet")
    rows = [list(map(float, v)) for v in vectors()]
    rows[3][2] = None
    with pytest.raises(VectorValuesError, match="vector of row 4 has missing values"):
        eio.read_vectors(parquet_bytes({"text": TEXTS, "vector": rows}), "hole.parquet")
    with pytest.raises(VectorValuesError, match="not numbers"):
        eio.read_vectors(parquet_bytes({"text": TEXTS, "vector": [["a", "b"]] * 4}), "strings.parquet")


def test_wrong_dimensions():
    ragged = [list(map(float, v)) for v in vectors()]
    ragged[2] = ragged[2][:4]
    with pytest.raises(VectorDimensionsError, match="row 1 has 6, row 3 has 4"):
        eio.read_vectors(parquet_bytes({"text": TEXTS, "vector": ragged}), "ragged.parquet")
    with pytest.raises(VectorDimensionsError, match=r"shape \(24,\)"):
        eio.read_vectors(npz_bytes(vectors=vectors().reshape(-1), text=np.array(TEXTS)), "flat.npz")
    with pytest.raises(VectorDimensionsError, match="no dimensions"):
        eio.read_vectors(npz_bytes(vectors=np.zeros((4, 0), np.float32), text=np.array(TEXTS)), "empty.npz")
    with pytest.raises(VectorDimensionsError, match="not a list of numbers"):
        eio.read_vectors(parquet_bytes({"text": TEXTS, "vector": [1.0, 2.0, 3.0, 4.0]}), "scalar.parquet")


def test_unreadable_files_pickles_and_size():
    with pytest.raises(VectorFileError, match="not a readable Parquet file"):
        eio.read_vectors(b"PAR1 this is not parquet", "broken.parquet")
    with pytest.raises(VectorFileError, match="not a readable NPZ file"):
        eio.read_vectors(b"not a zip", "broken.npz")
    pickled = npz_bytes(vectors=vectors(), text=np.array(TEXTS, dtype=object))
    with pytest.raises(VectorFileError, match="holds Python objects, which are not loaded"):
        eio.read_vectors(pickled, "pickled.npz")
    data = eio.to_parquet_bytes(TEXTS, vectors())
    with pytest.raises(VectorFileError, match="the limit for an upload is 0 MB"):
        eio.read_vectors(data, "big.parquet", max_bytes=100)
    with pytest.raises(VectorFileError, match="has no rows"):
        eio.read_vectors(
            parquet_bytes(
                {"text": pa.array([], pa.string()), "vector": pa.array([], pa.list_(pa.float32()))}
            ),
            "none.parquet",
        )
    with pytest.raises(VectorFileError, match=r"expected \.parquet or \.npz"):
        eio.read_vectors(data, "vectors.csv")
    # Every one of them is also a ParseError, which the pages already show as a message.
    assert issubclass(VectorFileError, ParseError)


def test_npz_writer_stores_vectors_uncompressed_and_texts_compressed():
    data = eio.to_npz_bytes(TEXTS, vectors(), labels=LABELS, model="m/1")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        kinds = {i.filename: i.compress_type for i in archive.infolist()}
    assert kinds["vectors.npy"] == zipfile.ZIP_STORED and kinds["text.npy"] == zipfile.ZIP_DEFLATED


def test_is_vector_file():
    assert eio.is_vector_file("out/V.PARQUET") and eio.is_vector_file("a.npz") and eio.is_vector_file("a.npy")
    assert not eio.is_vector_file("texts.csv") and not eio.is_vector_file("parquet")
