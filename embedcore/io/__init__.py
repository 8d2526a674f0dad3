"""Texts in, vectors out: reading pasted text and uploaded files, writing downloads, sample sets.

The modules: :mod:`~embedcore.io.table` (:class:`TextTable`, the limits, cell cleaning),
:mod:`~embedcore.io.readers` (pasted text, uploads, the column chooser), :mod:`~embedcore.io.vectors`
(files of texts with their vectors), :mod:`~embedcore.io.writers` (downloads), :mod:`~embedcore.io.samples`
(the built-in sets) and :mod:`~embedcore.io.chunking` (documents into passages). Their public names
are re-exported here, so ``from embedcore import io; io.read_upload(...)`` keeps working.

Reading is two steps so the dashboard can offer a column chooser in between:
:func:`read_upload` turns bytes into a :class:`pandas.DataFrame` (every cell of a
CSV/TSV as a string, JSON values as they are), then :func:`table_from_frame`
picks the text and label columns and cleans them into a :class:`TextTable`.
Pasted text goes straight to a table with :func:`parse_pasted`.

Supported uploads
-----------------
======================  ==========================================================
``.txt .text .md``      one text per line (Markdown is not rendered: lines as they are)
``.csv``                first row is the header; delimiter sniffed among ``, ; TAB |``
``.tsv .tab``           tab-separated, first row is the header
``.jsonl .ndjson``      one JSON object (or string) per line
``.json``               an array of objects or strings (JSON Lines accepted too)
other / no extension    guessed from the content: JSON if it starts with ``[``/``{``, else text
======================  ==========================================================

Encoding: UTF-8 (a BOM is removed); UTF-16 when the file starts with a UTF-16 BOM
(Excel's "Unicode text"); otherwise Windows-1252 (what Excel on Windows writes for
"CSV") when the bytes decode to plausible text, with a warning attached to the
result, because a wrong guess would silently give mojibake. A file with NUL bytes
and no UTF-16 BOM is refused as binary. Everything that goes wrong raises
:class:`~embedcore.errors.ParseError` with a message for a person, never a pandas traceback.

Texts are kept verbatim apart from stripping surrounding whitespace: HTML, code
and ``<script>`` tags are just text here (the dashboard must escape them when
it renders HTML). Repeated texts stay in the table (``duplicates`` counts them);
the embedding pipeline sends each distinct text once.
"""

from __future__ import annotations

from embedcore.io.readers import (
    decode_text,
    label_columns,
    read_upload,
    require_text_columns,
    table_from_frame,
    text_columns,
)
from embedcore.io.samples import LARGE_SAMPLES, SAMPLES, load_sample
from embedcore.io.table import (
    LABEL_COLUMN_NAMES,
    MAX_TEXTS,
    MAX_UPLOAD_BYTES,
    MAX_VECTOR_FILE_BYTES,
    MAX_VECTOR_ROWS,
    MISSING_LABEL,
    TABLE_TYPES,
    TEXT_COLUMN_NAMES,
    UPLOAD_TYPES,
    VECTOR_FILE_SUFFIXES,
    TextTable,
    check_limit,
    file_extension,
    finish_table,
    is_missing,
    label_string,
    parse_pasted,
    plain_value,
    text_string,
)
from embedcore.io.vectors import MODEL_METADATA_KEY, is_vector_file, read_vectors
from embedcore.io.writers import (
    coordinates_csv_bytes,
    to_coordinates_csv_bytes,
    to_csv_bytes,
    to_npy_bytes,
    to_npz_bytes,
    to_parquet_bytes,
    to_projector_zip,
    write_atomically,
)

__all__ = [
    "LABEL_COLUMN_NAMES",
    "LARGE_SAMPLES",
    "MAX_TEXTS",
    "MAX_UPLOAD_BYTES",
    "MAX_VECTOR_FILE_BYTES",
    "MAX_VECTOR_ROWS",
    "MISSING_LABEL",
    "MODEL_METADATA_KEY",
    "SAMPLES",
    "TABLE_TYPES",
    "TEXT_COLUMN_NAMES",
    "UPLOAD_TYPES",
    "VECTOR_FILE_SUFFIXES",
    "TextTable",
    "check_limit",
    "coordinates_csv_bytes",
    "decode_text",
    "file_extension",
    "finish_table",
    "is_missing",
    "is_vector_file",
    "label_columns",
    "label_string",
    "load_sample",
    "parse_pasted",
    "plain_value",
    "read_upload",
    "read_vectors",
    "require_text_columns",
    "table_from_frame",
    "text_columns",
    "text_string",
    "to_coordinates_csv_bytes",
    "to_csv_bytes",
    "to_npy_bytes",
    "to_npz_bytes",
    "to_parquet_bytes",
    "to_projector_zip",
    "write_atomically",
]
