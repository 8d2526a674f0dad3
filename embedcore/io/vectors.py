"""Reading files of texts with their vectors (``.parquet``, ``.npz``, ``.npy``): nothing to embed."""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcore.errors import (
    VectorColumnsError,
    VectorDimensionsError,
    VectorFileError,
    VectorLengthError,
    VectorValuesError,
)

if TYPE_CHECKING:  # pandas is imported lazily: `import embedcore` must stay fast.
    pass
from embedcore.io.table import (
    LABEL_COLUMN_NAMES,
    MAX_VECTOR_ROWS,
    MISSING_LABEL,
    TEXT_COLUMN_NAMES,
    VECTOR_FILE_SUFFIXES,
    TextTable,
    file_extension,
    finish_table,
    label_string,
    text_string,
)

# --- files of texts with their vectors ---------------------------------------------------------

_VECTOR_NAMES = ("vector", "vectors", "embedding", "embeddings")
_NPZ_TEXT_NAMES = ("text", "texts")
_NPZ_LABEL_NAMES = ("label", "labels")
#: Where the model's name is kept: the Parquet schema's metadata, or a 0-d array in an NPZ.
MODEL_METADATA_KEY = "embedcore.model"


def is_vector_file(filename: str) -> bool:
    """Does the name say this is a file of vectors (``.parquet``, ``.npz``, ``.npy``)?

    Examples
    --------
    >>> is_vector_file("run.parquet"), is_vector_file("texts.csv")
    (True, False)
    """
    return file_extension(filename) in VECTOR_FILE_SUFFIXES


def read_vectors(
    source: bytes | str | Any,
    filename: str | None = None,
    *,
    max_rows: int | None = MAX_VECTOR_ROWS,
    max_bytes: int | None = None,
) -> TextTable:
    """Open a file of texts with their vectors, as ``python -m embedcore embed`` writes them.

    Parameters
    ----------
    source : bytes or path
        The file's contents (an upload) or its path (read without a copy in memory).
    filename : str, optional
        Its name (the extension picks the format); defaults to the path's name.
    max_rows : int or None
        Keep the first ``max_rows`` rows (``truncated`` counts the rest, with a warning).
    max_bytes : int or None
        Refuse larger files.

    Formats
    -------
    ``.parquet``: a column of texts (``text``, or another text-like name), one of vectors
    (``vector``/``embedding``: a list of numbers per row, all of one length) and optionally
    ``label`` (or ``category``, ``source``...); other columns go to ``extra``. ``.npz``: arrays
    ``vectors`` (or ``embedding``) of shape (n, d), ``text`` (strings, shape (n,)), optionally
    ``label`` and ``model``; saved without pickling (``np.savez(..., text=np.array(texts))``).
    A bare ``.npy`` holds no texts and is refused with a way out.

    Returns
    -------
    TextTable
        With ``vectors`` (n, d) float32 and ``model`` when the file names it. Rows whose text is
        empty are dropped together with their vectors (``dropped_blank`` counts them).

    Raises
    ------
    VectorColumnsError
        No texts or no vectors in the file (the message lists what it has).
    VectorLengthError
        Texts, labels and vectors of different lengths.
    VectorDimensionsError
        Vectors of different lengths, not 2-D, or empty.
    VectorValuesError
        NaN, infinite or missing vectors, or vectors that are not numbers.
    VectorFileError
        Not a readable file of that format, too large, or no rows.

    Examples
    --------
    >>> import numpy as np
    >>> from embedcore.io.writers import to_parquet_bytes
    >>> data = to_parquet_bytes(["a cat", "a dog"], np.eye(2), model="my-model")
    >>> table = read_vectors(data, "run.parquet")
    >>> table.texts, table.vectors.shape, table.model
    (['a cat', 'a dog'], (2, 2), 'my-model')
    """
    from pathlib import Path

    is_bytes = isinstance(source, (bytes, bytearray, memoryview))
    name = filename or (Path(source).name if not is_bytes else "the file")
    size = len(source) if is_bytes else _file_size(source, name)
    if max_bytes is not None and size > max_bytes:
        raise VectorFileError(
            f"{name} is {size / 1e6:.0f} MB; the limit for an upload is {max_bytes / 1e6:.0f} MB. "
            "Keep fewer rows, or have the app's operator put it in the folder EMBEDCORE_VECTORS_DIR names."
        )
    ext = file_extension(name)
    if ext == ".npy":
        raise VectorColumnsError(
            f"{name} holds only the vectors, not their texts, so the map could not say what a point "
            "is. Write .parquet or .npz from the command line instead "
            "(python -m embedcore embed texts.csv --output vectors.parquet): both keep texts and labels.",
            columns=["(one array)"],
        )
    if ext == ".parquet":
        table = _read_parquet_vectors(source, name, max_rows)
    elif ext == ".npz":
        table = _read_npz_vectors(source, name, max_rows)
    else:
        raise VectorFileError(f"{name} is not a file of vectors; expected .parquet or .npz.")
    table.source = name
    return table


def _file_size(path: Any, name: str) -> int:
    import os

    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise VectorFileError(f"Cannot read {name}: {exc.strerror or exc}.") from None


def _vectors_table(
    name: str,
    texts: list[Any],
    vectors: np.ndarray,
    labels: list[Any] | None,
    extra: dict[str, list],
    model: str | None,
    total: int,
) -> TextTable:
    """Check the vectors' values, drop rows without text, and build the table."""
    if vectors.shape[1] == 0:
        raise VectorDimensionsError(f"{name}: the vectors have no dimensions (each row is empty).")
    # One pass without an (n, d) temporary: a row sums to NaN or ±inf (in float64, which float32
    # values cannot overflow) exactly when it holds a NaN or an infinity.
    if not np.isfinite(vectors.sum(axis=1, dtype=np.float64)).all():
        bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        raise VectorValuesError(
            f"{name}: {len(bad):,} vector(s) hold NaN or infinite values (first at row {bad[0] + 1:,}). "
            "Re-embed those texts or drop those rows."
        )
    # Cells from Arrow / numpy are str or None: the generic (pandas-aware) cleaners cost seconds here.
    raw = [t.strip() if isinstance(t, str) else text_string(t) for t in texts]
    keep = [i for i, t in enumerate(raw) if t]
    if not keep:
        raise VectorFileError(f"{name}: every text is empty.")
    if len(keep) < len(raw):
        index = np.asarray(keep)
        vectors = vectors[index]
        labels = None if labels is None else [labels[i] for i in keep]
        extra = {k: [v[i] for i in keep] for k, v in extra.items()}
    warnings = []
    truncated = total - len(raw)
    if truncated:
        warnings.append(
            f"{name} has {total:,} rows; the first {len(raw):,} are used (the most one machine keeps "
            "interactive)."
        )
    kept = [raw[i] for i in keep]
    return finish_table(
        kept,
        name,
        labels=None if labels is None else [_file_label(v) for v in labels],
        extra=extra,
        dropped_blank=len(raw) - len(kept),
        truncated=truncated,
        warnings=warnings,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        model=model,
    )


def _file_label(value: Any) -> str:
    if isinstance(value, str):
        return value.strip() or MISSING_LABEL
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_LABEL
    return label_string(value)


def _pick(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    lowered = {n.lower(): n for n in names}
    return next((lowered[w] for w in wanted if w in lowered), None)


def _read_parquet_vectors(source: Any, name: str, max_rows: int | None) -> TextTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(
            io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source
        )
        schema = handle.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise VectorFileError(f"{name} is not a readable Parquet file ({exc}).") from None
    columns = list(schema.names)
    listed = ", ".join(repr(c) for c in columns) or "none"
    vector_col = _pick(columns, _VECTOR_NAMES)
    if vector_col is None:
        listish = [c for c in columns if _is_list_type(schema.field(c).type)]
        vector_col = listish[0] if len(listish) == 1 else None
    if vector_col is None:
        raise VectorColumnsError(
            f"{name} has no column of vectors (a list of numbers per row, named vector or embedding); "
            f"its columns are: {listed}.",
            columns=columns,
        )
    if not _is_list_type(schema.field(vector_col).type):
        raise VectorDimensionsError(
            f"{name}: the column {vector_col!r} holds {schema.field(vector_col).type}, not a list of numbers per row."
        )
    strings = [
        c
        for c in columns
        if c != vector_col
        and (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))
    ]
    text_col = _pick(strings, TEXT_COLUMN_NAMES) or (strings[0] if len(strings) == 1 else None)
    if text_col is None:
        raise VectorColumnsError(
            f"{name} has no column of texts (named text, sentence, content...); its columns are: {listed}.",
            columns=columns,
        )
    label_col = _pick([c for c in columns if c not in (text_col, vector_col)], LABEL_COLUMN_NAMES)
    model = None
    metadata = schema.metadata or {}
    if MODEL_METADATA_KEY.encode() in metadata:
        model = metadata[MODEL_METADATA_KEY.encode()].decode("utf-8", "replace") or None
    try:
        table = handle.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise VectorFileError(f"{name}: the Parquet data cannot be read ({exc}).") from None
    total = table.num_rows
    if total == 0:
        raise VectorFileError(f"{name} has no rows.")
    if max_rows is not None and total > max_rows:
        table = table.slice(0, max_rows)
    vectors = _list_column_matrix(table.column(vector_col), name, vector_col)
    texts = table.column(text_col).to_pylist()
    labels = table.column(label_col).to_pylist() if label_col else None
    extra = {}
    for column in columns:
        if column in (text_col, label_col, vector_col):
            continue
        kind = schema.field(column).type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)):
            extra[column] = table.column(column).to_pylist()
    return _vectors_table(name, texts, vectors, labels, extra, model, total)


def _is_list_type(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)


def _list_column_matrix(column: Any, name: str, column_name: str) -> np.ndarray:
    """A Parquet list column (one list per row, all of one length) as an (n, d) float32 matrix."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(array)
    if array.null_count:
        first = int(np.flatnonzero(np.asarray(array.is_null()))[0])
        raise VectorValuesError(
            f"{name}: row {first + 1:,} has no vector (the {column_name!r} cell is empty)."
        )
    if not (pa.types.is_floating(array.type.value_type) or pa.types.is_integer(array.type.value_type)):
        raise VectorValuesError(
            f"{name}: the {column_name!r} column holds lists of {array.type.value_type}, not numbers."
        )
    lengths = np.asarray(pc.list_value_length(array), dtype=np.int64)
    d = int(lengths[0])
    if (lengths != d).any():
        other = int(np.flatnonzero(lengths != d)[0])
        raise VectorDimensionsError(
            f"{name}: the vectors have different lengths — row 1 has {d}, row {other + 1:,} has "
            f"{int(lengths[other])}. Every vector of one file must come from one model."
        )
    values = array.flatten()
    if values.null_count:
        first = int(np.flatnonzero(np.asarray(values.is_null()))[0]) // max(d, 1)
        raise VectorValuesError(f"{name}: the vector of row {first + 1:,} has missing values.")
    flat = values.to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(n, d)


def _read_npz_vectors(source: Any, name: str, max_rows: int | None) -> TextTable:
    try:
        archive = np.load(
            io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source,
            allow_pickle=False,
        )
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise VectorFileError(f"{name} is not a readable NPZ file ({exc}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise VectorColumnsError(
            f"{name} holds a single array, not the named arrays of an .npz (vectors and text).",
            columns=["(one array)"],
        )
    with archive:
        names = list(archive.files)
        listed = ", ".join(repr(c) for c in names) or "none"
        vector_key, text_key = _pick(names, _VECTOR_NAMES), _pick(names, _NPZ_TEXT_NAMES)
        if vector_key is None or text_key is None:
            missing = " and ".join(
                what
                for what, key in (
                    ("vectors (an array named vectors)", vector_key),
                    ("texts (an array named text)", text_key),
                )
                if key is None
            )
            raise VectorColumnsError(f"{name} has no {missing}; its arrays are: {listed}.", columns=names)
        label_key = _pick(names, _NPZ_LABEL_NAMES)

        def load(key: str) -> np.ndarray:
            try:
                return archive[key]
            except ValueError as exc:  # object arrays need pickle, which is never allowed
                raise VectorFileError(
                    f"{name}: the array {key!r} holds Python objects, which are not loaded (unpickling "
                    "can run code). Save strings as a string array: np.array(texts, dtype=str)."
                ) from exc
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise VectorFileError(f"{name}: the array {key!r} cannot be read ({exc}).") from None

        vectors = load(vector_key)
        if vectors.ndim != 2:
            raise VectorDimensionsError(
                f"{name}: {vector_key!r} has shape {vectors.shape}; expected (texts, dimensions)."
            )
        if vectors.dtype.kind not in "fiu":
            raise VectorValuesError(f"{name}: {vector_key!r} holds {vectors.dtype}, not numbers.")
        texts = load(text_key)
        if texts.ndim != 1 or texts.dtype.kind not in "US":
            raise VectorColumnsError(
                f"{name}: {text_key!r} must be a 1-D array of strings; it has shape {texts.shape} "
                f"and type {texts.dtype}.",
                columns=names,
            )
        labels = load(label_key) if label_key else None
        for what, array in (("texts", texts), ("labels", labels)):
            if array is not None and len(array) != len(vectors):
                raise VectorLengthError(
                    f"{name}: {len(array):,} {what} for {len(vectors):,} vectors; one of each per row."
                )
        model = None
        if "model" in names:
            value = load("model")
            model = str(value.reshape(-1)[0]) if value.size == 1 and value.dtype.kind in "US" else None
        total = len(vectors)
        if total == 0:
            raise VectorFileError(f"{name} has no rows.")
        keep = slice(0, max_rows if max_rows is not None else total)
        extra = {
            key: _decoded(archive[key][keep])
            for key in names
            if key not in (vector_key, text_key, label_key, "model")
            and archive[key].ndim == 1
            and len(archive[key]) == total
            and archive[key].dtype.kind in "USbiuf"
        }
        return _vectors_table(
            name,
            _decoded(texts[keep]),
            np.asarray(vectors[keep], dtype=np.float32),
            None if labels is None else _decoded(labels[keep]),
            extra,
            model,
            total,
        )


def _decoded(array: np.ndarray) -> list[Any]:
    if array.dtype.kind == "S":
        return [b.decode("utf-8", "replace") for b in array.tolist()]
    return array.tolist()
