"""Texts in, vectors out: reading pasted text and uploaded files, writing downloads, sample sets.

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

import codecs
import csv
import io
import json
import math
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcore.errors import (
    InputError,
    NoTextColumnError,
    ParseError,
    TooManyTextsError,
    VectorColumnsError,
    VectorDimensionsError,
    VectorFileError,
    VectorLengthError,
    VectorValuesError,
)

if TYPE_CHECKING:  # pandas is imported lazily: `import embedcore` must stay fast.
    import pandas as pd

__all__ = [
    "MAX_TEXTS",
    "MAX_UPLOAD_BYTES",
    "MAX_VECTOR_FILE_BYTES",
    "MAX_VECTOR_ROWS",
    "MISSING_LABEL",
    "SAMPLES",
    "TABLE_TYPES",
    "UPLOAD_TYPES",
    "TextTable",
    "check_limit",
    "coordinates_csv_bytes",
    "decode_text",
    "is_vector_file",
    "label_columns",
    "load_sample",
    "parse_pasted",
    "read_upload",
    "read_vectors",
    "require_text_columns",
    "table_from_frame",
    "text_columns",
    "to_csv_bytes",
    "to_npy_bytes",
    "to_npz_bytes",
    "to_parquet_bytes",
    "to_projector_zip",
]

#: Most texts one embedding run accepts (cosine matrices grow with n², see docs/FACTS.md).
MAX_TEXTS = 20_000
#: Largest upload :func:`read_upload` parses (Streamlit's own default cap is 200 MB).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Most rows a file of texts *with their vectors* brings into the explorer (nothing is embedded:
#: the map, search and selection stay interactive up to here on one machine; see the README).
MAX_VECTOR_ROWS = 100_000
#: Largest file of vectors accepted as an upload (``server.maxUploadSize`` in .streamlit/config.toml
#: matches it): 100,000 × 384 float32 vectors with their texts are about 170 MB of Parquet.
MAX_VECTOR_FILE_BYTES = 200 * 1024 * 1024
#: Files that hold texts with their vectors (the batch command line's outputs).
VECTOR_FILE_SUFFIXES = (".parquet", ".npz", ".npy")
#: Label given to rows whose label cell is empty or missing.
MISSING_LABEL = "(missing)"

#: The file types :func:`read_upload` reads, by format (without the dot): the one list every
#: uploader and the search page's documents (:data:`embedcore.analysis.search.DOCUMENT_TYPES`) start from.
UPLOAD_TYPES: dict[str, tuple[str, ...]] = {
    "text": ("txt", "text", "md", "markdown"),
    "csv": ("csv",),
    "tsv": ("tsv", "tab"),
    "jsonl": ("jsonl", "ndjson"),
    "json": ("json",),
}
#: The types that hold a table (columns to choose from), not lines of text.
TABLE_TYPES: tuple[str, ...] = tuple(t for fmt in ("csv", "tsv", "jsonl", "json") for t in UPLOAD_TYPES[fmt])

_TEXT_EXTENSIONS = {f".{t}" for t in UPLOAD_TYPES["text"]}
_CSV_EXTENSIONS = {f".{t}" for t in UPLOAD_TYPES["csv"]}
_TSV_EXTENSIONS = {f".{t}" for t in UPLOAD_TYPES["tsv"]}
_JSONL_EXTENSIONS = {f".{t}" for t in UPLOAD_TYPES["jsonl"]}
_JSON_EXTENSIONS = {f".{t}" for t in UPLOAD_TYPES["json"]}
#: Formats people upload by mistake, with what to do instead.
_KNOWN_BINARY = {
    b"%PDF": "a PDF; use the semantic-search page for documents, or export the text first",
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx or Word .docx is one); save it as CSV first",
    b"\xd0\xcf\x11\xe0": "an old Office document (.xls/.doc); save it as CSV first",
    b"PAR1": "a Parquet file; export it as CSV or JSON Lines first",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive; unpack it first",
}
#: Column names that usually hold the text, best first.
_TEXT_NAMES = (
    "text", "sentence", "content", "body", "document", "passage", "query", "question",
    "prompt", "message", "comment", "review", "description", "title", "name",
)  # fmt: skip
_LABEL_NAMES = (
    "label", "labels", "category", "class", "topic", "theme", "tag", "group", "language",
    "lang", "cluster", "type", "source",
)  # fmt: skip
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


# --- the table ------------------------------------------------------------------------------


@dataclass
class TextTable:
    """Texts ready to embed, with optional labels and any other columns beside them.

    Attributes
    ----------
    texts : list of str
        Non-blank, stripped texts in input order; repeats are kept.
    labels : list of str or None
        One label per text (empty cells become :data:`MISSING_LABEL`), or None.
    extra : dict of str to list
        Other columns of the source (``language``, ``sentence_id``, ...), one value per text.
    source : str
        Where the texts came from: ``"pasted"``, a file name, ``"sample:topics"``.
    dropped_blank : int
        Rows dropped because the text was empty or whitespace only.
    duplicates : int
        ``len(texts) - len(set(texts))``: how many texts repeat an earlier one.
    truncated : int
        Rows cut off by :meth:`with_limit`.
    warnings : list of str
        Things the reader had to guess (the encoding, ...), worth showing to a person.
    vectors : ndarray of shape (n, d), float32, or None
        The texts' embeddings when the source already had them (:func:`read_vectors`): nothing
        needs embedding. None for plain texts.
    model : str or None
        The model that made ``vectors``, when the file says so.
    """

    texts: list[str]
    labels: list[str] | None = None
    extra: dict[str, list] = field(default_factory=dict)
    source: str = ""
    dropped_blank: int = 0
    duplicates: int = 0
    truncated: int = 0
    warnings: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = field(default=None, repr=False)
    model: str | None = None

    def __post_init__(self) -> None:
        n = len(self.texts)
        if self.vectors is not None and (self.vectors.ndim != 2 or len(self.vectors) != n):
            raise VectorLengthError(f"{n} texts but vectors of shape {self.vectors.shape}; one row per text.")
        if self.labels is not None and len(self.labels) != n:
            raise InputError(f"{len(self.labels)} labels for {n} texts; give one label per text.")
        for name, values in self.extra.items():
            if len(values) != n:
                raise InputError(f"Column {name!r} has {len(values)} values for {n} texts.")

    def __len__(self) -> int:
        return len(self.texts)

    def with_limit(self, n: int) -> TextTable:
        """The first ``n`` rows (all of them when there are fewer); ``truncated`` counts the rest."""
        if n < 0:
            raise InputError(f"The row limit must be 0 or more, not {n}.")
        if n >= len(self.texts):
            return self
        texts = self.texts[:n]
        return replace(
            self,
            texts=texts,
            labels=None if self.labels is None else self.labels[:n],
            extra={k: v[:n] for k, v in self.extra.items()},
            vectors=None if self.vectors is None else self.vectors[:n],
            duplicates=len(texts) - len(set(texts)),
            truncated=self.truncated + len(self.texts) - n,
            warnings=list(self.warnings),
        )

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame with columns ``text``, ``label`` (when present) and the extras."""
        import pandas as pd

        data: dict[str, list] = {"text": self.texts}
        if self.labels is not None:
            data["label"] = self.labels
        for name, values in self.extra.items():
            if name not in data:
                data[name] = values
        return pd.DataFrame(data)


def check_limit(n: int, limit: int | None = MAX_TEXTS) -> None:
    """Raise :class:`TooManyTextsError` when ``n`` texts exceed ``limit`` (``None`` = no limit)."""
    if limit is not None and n > limit:
        raise TooManyTextsError(
            f"{n:,} texts is more than the limit of {limit:,}. Use fewer texts "
            f"(the first {limit:,} can be kept), or raise the limit where it is configured."
        )


def _finish(texts: list[str], source: str, **kwargs: Any) -> TextTable:
    return TextTable(texts=texts, source=source, duplicates=len(texts) - len(set(texts)), **kwargs)


def parse_pasted(text: str, *, source: str = "pasted") -> TextTable:
    """One text per line: lines are stripped, blank lines dropped and counted.

    No column syntax (a tab or a comma is part of the text); upload a CSV/TSV for labels.
    """
    if not isinstance(text, str):
        raise InputError(f"Expected the pasted text as a string, got {type(text).__name__}.")
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line]
    return _finish(kept, source, dropped_blank=len(lines) - len(kept))


# --- decoding -------------------------------------------------------------------------------


def decode_text(data: bytes, filename: str = "the file") -> tuple[str, list[str]]:
    """Bytes of a text file to ``str``, and the warnings a person should see.

    UTF-8 (BOM removed), UTF-16 with a BOM, else Windows-1252 when that gives plausible
    text. Raises :class:`ParseError` for empty, binary and undecodable files.
    """
    if not data.strip():
        raise ParseError(f"{filename} is empty.")
    for magic, what in _KNOWN_BINARY.items():
        if data.startswith(magic):
            raise ParseError(f"{filename} is not a text file: this looks like {what}.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise ParseError(f"{filename} starts like UTF-16 text but is damaged ({exc.reason}).") from None
    if b"\x00" in data[:65536]:
        raise ParseError(
            f"{filename} is not a text file: this looks like a binary file (it contains NUL bytes). "
            "Upload plain text, CSV, TSV or JSON Lines."
        )
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    # Control characters other than tab/newline/form feed mean it is not text in cp1252 either.
    if text is not None and not re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text):
        return text, [
            f"{filename} is not UTF-8; it was read as Windows-1252 (Western European). "
            "If accented letters look wrong, save the file as UTF-8 and upload it again."
        ]
    raise ParseError(
        f"{filename} is not UTF-8 text (invalid byte at position {utf8_error.start}) and does not look "
        "like a Windows-1252 file either. Save it as UTF-8 and upload it again."
    )


# --- reading uploads ------------------------------------------------------------------------


def _extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()
    return name[name.rfind(".") :] if "." in name else ""


def read_upload(data: bytes, filename: str, *, max_bytes: int | None = MAX_UPLOAD_BYTES) -> pd.DataFrame:
    """Read an uploaded file into a DataFrame; the format comes from the file name's extension.

    Parameters
    ----------
    data : bytes
        The file's contents.
    filename : str
        Its name; the extension picks the reader (see the module docstring).
    max_bytes : int or None
        Refuse larger files (None: no limit).

    Returns
    -------
    pandas.DataFrame
        Plain-text files give one column ``text`` with one row per line (blank lines kept,
        so :func:`table_from_frame` can count them). CSV/TSV cells are strings, exactly as
        written. ``df.attrs`` holds ``source`` (the file name), ``format`` and ``warnings``.

    Raises
    ------
    ParseError
        Empty, binary, undecodable or malformed files, a CSV with a header and no rows.
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise InputError(f"Expected the file's bytes, got {type(data).__name__}.")
    if max_bytes is not None and len(data) > max_bytes:
        raise ParseError(
            f"{filename} is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Split the file or keep only the columns you need."
        )
    text, warnings = decode_text(data, filename)
    ext = _extension(filename)
    if ext in _TEXT_EXTENSIONS:
        fmt = "text"
    elif ext in _CSV_EXTENSIONS:
        fmt = "csv"
    elif ext in _TSV_EXTENSIONS:
        fmt = "tsv"
    elif ext in _JSONL_EXTENSIONS:
        fmt = "jsonl"
    elif ext in _JSON_EXTENSIONS:
        fmt = "json"
    else:
        fmt = "json" if text.lstrip()[:1] in ("[", "{") else "text"
        warnings.append(f"Unknown file type {ext or '(no extension)'!r}; read as {fmt.upper()}.")

    if fmt == "text":
        df = _frame({"text": text.splitlines()})
    elif fmt in ("csv", "tsv"):
        df = _read_delimited(text, filename, "\t" if fmt == "tsv" else None)
    elif fmt == "jsonl":
        df = _records_frame(_parse_json_lines(text, filename), filename)
    else:
        df = _records_frame(_parse_json(text, filename), filename)
    df.attrs.update(source=filename, format=fmt, warnings=warnings)
    return df


def _frame(data: Any, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(data, columns=columns)


def _sniff_delimiter(text: str) -> str | None:
    """The delimiter of a CSV, or None for a one-column file.

    csv.Sniffer alone misreads one-column files whose texts contain commas, so its
    answer must also occur in the header line; otherwise the header decides.
    """
    header = text.split("\n", 1)[0]
    candidates = ",;\t|"
    try:
        found = csv.Sniffer().sniff(text[:65536], delimiters=candidates).delimiter
    except csv.Error:
        found = None
    if found and found in header:
        return found
    counts = {c: header.count(c) for c in candidates}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else None


def _read_delimited(text: str, filename: str, sep: str | None) -> pd.DataFrame:
    import pandas as pd

    if sep is None:
        sep = _sniff_delimiter(text)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            # A one-column file: a separator that never occurs in text keeps each line whole.
            sep=sep or "\x1f",
            dtype=str,
            keep_default_na=False,  # "NA", "null", "None" are texts here, not missing values
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise ParseError(f"{filename} has no header row and no data.") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise ParseError(
            f"{filename} is not a well-formed table: {detail}. Check quoting and that every row "
            "has as many fields as the header."
        ) from None
    # pandas silently turns the first column into the index when every row has one field
    # more than the header; that is a broken file, not a feature.
    if not isinstance(df.index, pd.RangeIndex):
        raise ParseError(
            f"{filename}: the rows have more fields than the header. Check the delimiter and quoting."
        )
    if df.empty:
        raise ParseError(f"{filename} has a header row but no data rows.")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _parse_json_lines(text: str, filename: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"{filename}: line {number} is not valid JSON ({exc.msg} at column {exc.colno}). "
                "JSON Lines needs one complete JSON object per line."
            ) from None
    return records


def _parse_json(text: str, filename: str) -> list[Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # Many ".json" files in the wild are JSON Lines.
        if exc.msg == "Extra data":
            return _parse_json_lines(text, filename)
        raise ParseError(
            f"{filename} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if isinstance(value, dict):
        # A single object: accept it as one row only if it looks like a record, else explain.
        lists = [k for k, v in value.items() if isinstance(v, list)]
        raise ParseError(
            f"{filename} holds one JSON object; expected an array of objects or strings"
            + (f" (perhaps the array under {lists[0]!r})." if lists else ".")
        )
    if not isinstance(value, list):
        raise ParseError(f"{filename} holds a single JSON value; expected an array of objects or strings.")
    return value


def _records_frame(records: list[Any], filename: str) -> pd.DataFrame:
    if not records:
        raise ParseError(f"{filename} contains no records.")
    rows = []
    for i, record in enumerate(records, start=1):
        if isinstance(record, str):
            rows.append({"text": record})
        elif isinstance(record, dict):
            rows.append({str(k): v for k, v in record.items()})
        else:
            raise ParseError(
                f"{filename}: record {i} is a JSON {type(record).__name__}, not an object or a string."
            )
    return _frame(rows)


# --- choosing columns -----------------------------------------------------------------------


def _present(series: pd.Series) -> list[Any]:
    return [v for v in series.tolist() if not _is_missing(v)]


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.number)):
        return True
    return isinstance(value, str) and bool(_NUMBER.fullmatch(value))


def _looks_like_ids(strings: Sequence[str]) -> bool:
    """Every value one token with a digit in it, none repeated: ``A-1001``, a UUID, ``doc_7``.

    Words without digits stay text (a column of single words is a fair thing to embed), and so
    does anything with a space in it (``Pixel 8 Pro``).
    """
    stripped = [s.strip() for s in strings]
    return (
        bool(stripped)
        and len(set(stripped)) == len(stripped)
        and all(s and not any(c.isspace() for c in s) and any(c.isdigit() for c in s) for s in stripped)
    )


def _column_strings(series: pd.Series) -> tuple[float, float, float]:
    """(share of non-empty cells that are strings, share of those that are numbers, mean length)."""
    values = _present(series)
    if not values:
        return 0.0, 0.0, 0.0
    strings = [v for v in values if isinstance(v, str)]
    if not strings:
        return 0.0, 0.0, 0.0
    numeric = sum(1 for s in strings if _NUMBER.fullmatch(s))
    return len(strings) / len(values), numeric / len(strings), sum(map(len, strings)) / len(strings)


def _name_rank(name: str, names: Sequence[str]) -> int:
    key = name.strip().lower()
    return names.index(key) if key in names else len(names)


def text_columns(df: pd.DataFrame) -> list[str]:
    """Columns that could hold the texts, best first.

    A candidate has mostly string cells that are mostly not numbers and are not ids (see
    :func:`require_text_columns`). Columns named like ``text``, ``sentence``, ``content``...
    come first, then the rest by mean length (longest first). Empty when no column qualifies.
    """
    scored = []
    for column in df.columns:
        share, numeric, mean_len = _column_strings(df[column])
        if share >= 0.9 and numeric < 0.5 and mean_len > 0:
            if _looks_like_ids([v for v in _present(df[column]) if isinstance(v, str)]):
                continue
            scored.append((_name_rank(str(column), _TEXT_NAMES), -mean_len, str(column)))
    return [name for *_, name in sorted(scored)]


def _why_not_text(series: pd.Series) -> str:
    values = _present(series)
    if not values:
        return "is empty"
    if sum(map(_is_number, values)) >= len(values) / 2:
        return "holds numbers"
    strings = [v for v in values if isinstance(v, str)]
    if len(strings) < 0.9 * len(values):
        kinds = sorted(
            {"true/false" if isinstance(v, bool) else type(v).__name__ for v in values if v not in strings}
        )
        return f"holds {', '.join(kinds)} values, not text"
    return "holds ids (one word with digits per row, none repeated)"


def require_text_columns(df: pd.DataFrame) -> list[str]:
    """:func:`text_columns`, or an error that says why no column qualifies.

    Raises
    ------
    NoTextColumnError
        Every column holds numbers, ids, non-text JSON values or nothing: embedding the ids
        ``"1"``, ``"2"``, ``"3"`` of a table of scores would give a meaningless map. The
        message names each column and what it holds.
    """
    candidates = text_columns(df)
    if candidates:
        return candidates
    columns = [str(c) for c in df.columns]
    attrs = getattr(df, "attrs", {}) or {}
    source = str(attrs.get("source") or "The table")
    if not columns:
        raise NoTextColumnError(f"{source} has no columns.", columns=columns)
    described = "; ".join(
        f"{name!r} {_why_not_text(df[column])}" for name, column in zip(columns, df.columns, strict=True)
    )
    raise NoTextColumnError(
        f"{source} has no column of text to embed: {described}. Upload a table with a column of "
        "sentences or documents (a header named text is picked first).",
        columns=columns,
    )


def label_columns(df: pd.DataFrame, *, max_unique: int = 50) -> list[str]:
    """Columns suited to colouring points: few distinct short values, best first.

    A candidate has between 2 and ``max_unique`` distinct values, fewer distinct values
    than rows, and short values (mean under 40 characters, so it is not a text column).
    Names like ``label``, ``category``, ``language`` first, then by fewest distinct values.
    """
    n = len(df)
    scored = []
    for column in df.columns:
        values = [_label_string(v) for v in df[column].tolist()]
        distinct = len(set(values))
        mean_len = sum(map(len, values)) / n if n else 0.0
        if 2 <= distinct <= max_unique and distinct < n and mean_len < 40:
            scored.append((_name_rank(str(column), _LABEL_NAMES), distinct, str(column)))
    return [name for *_, name in sorted(scored)]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _label_string(value: Any) -> str:
    if _is_missing(value):
        return MISSING_LABEL
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JSON 3.0 and a CSV "3" mean the same label
    text = str(value).strip()
    return text or MISSING_LABEL


def _text_string(value: Any) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def _plain(value: Any) -> Any:
    """Cell values as plain Python (numpy scalars and NaN do not survive JSON or Arrow well)."""
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def table_from_frame(df: pd.DataFrame, text_column: str, label_column: str | None = None) -> TextTable:
    """Pick the text (and label) column of a DataFrame and clean it into a :class:`TextTable`.

    Texts are stripped; empty, whitespace-only and missing texts are dropped and counted.
    Labels are strings (a missing label becomes :data:`MISSING_LABEL`). Every other column
    is kept in ``extra`` for the rows that stay.

    Raises
    ------
    ParseError
        A named column does not exist (the message lists the ones that do).
    """
    columns = [str(c) for c in df.columns]
    for role, name in (("text", text_column), ("label", label_column)):
        if name is not None and name not in columns:
            listed = ", ".join(repr(c) for c in columns) or "none"
            raise ParseError(f"There is no {role} column {name!r}; the columns are: {listed}.")
    raw_texts = [_text_string(v) for v in df[text_column].tolist()]
    keep = [i for i, t in enumerate(raw_texts) if t]
    texts = [raw_texts[i] for i in keep]
    labels = None
    if label_column is not None:
        raw_labels = df[label_column].tolist()
        labels = [_label_string(raw_labels[i]) for i in keep]
    extra = {}
    for column in df.columns:
        if column in (text_column, label_column):
            continue
        values = df[column].tolist()
        extra[str(column)] = [_plain(values[i]) for i in keep]
    attrs = getattr(df, "attrs", {}) or {}
    return _finish(
        texts,
        str(attrs.get("source", "table")),
        labels=labels,
        extra=extra,
        dropped_blank=len(raw_texts) - len(texts),
        warnings=list(attrs.get("warnings", [])),
    )


# --- files of texts with their vectors ---------------------------------------------------------

_VECTOR_NAMES = ("vector", "vectors", "embedding", "embeddings")
_NPZ_TEXT_NAMES = ("text", "texts")
_NPZ_LABEL_NAMES = ("label", "labels")
#: Where the model's name is kept: the Parquet schema's metadata, or a 0-d array in an NPZ.
MODEL_METADATA_KEY = "embedcore.model"


def is_vector_file(filename: str) -> bool:
    """Does the name say this is a file of vectors (``.parquet``, ``.npz``, ``.npy``)?"""
    return _extension(filename) in VECTOR_FILE_SUFFIXES


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
    ext = _extension(name)
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
    raw = [t.strip() if isinstance(t, str) else _text_string(t) for t in texts]
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
    return _finish(
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
    return _label_string(value)


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
    text_col = _pick(strings, _TEXT_NAMES) or (strings[0] if len(strings) == 1 else None)
    if text_col is None:
        raise VectorColumnsError(
            f"{name} has no column of texts (named text, sentence, content...); its columns are: {listed}.",
            columns=columns,
        )
    label_col = _pick([c for c in columns if c not in (text_col, vector_col)], _LABEL_NAMES)
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


# --- writers --------------------------------------------------------------------------------


def _check_rows(texts: Sequence[str], array: Any, labels: Sequence[str] | None, what: str) -> np.ndarray:
    matrix = np.asarray(array, dtype=np.float32)
    if matrix.ndim != 2:
        raise InputError(f"{what} must be a 2-D array (n_texts, n_columns); got shape {matrix.shape}.")
    if matrix.shape[0] != len(texts):
        raise InputError(f"{len(texts)} texts but {matrix.shape[0]} rows of {what}.")
    if labels is not None and len(labels) != len(texts):
        raise InputError(f"{len(labels)} labels for {len(texts)} texts.")
    return matrix


def _csv_with_columns(
    texts: Sequence[str], labels: Sequence[str] | None, matrix: np.ndarray, names: list[str]
) -> bytes:
    import pyarrow as pa

    columns = {"text": pa.array(list(texts), type=pa.string())}
    if labels is not None:
        columns["label"] = pa.array([str(x) for x in labels], type=pa.string())
    for i, name in enumerate(names):
        columns[name] = pa.array(matrix[:, i])
    return _arrow_csv(pa.table(columns), header=True, delimiter=",")


def _arrow_csv(table: Any, *, header: bool, delimiter: str) -> bytes:
    """Arrow's C++ CSV writer: 8x faster than pandas for float32 matrices (20k x 1024: 5 s vs 39 s).

    Floats print as the shortest text that reads back to the same float32; strings are quoted.
    """
    import pyarrow.csv as pa_csv

    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=header, delimiter=delimiter)
    pa_csv.write_csv(table, buffer, options)
    return buffer.getvalue()


def to_csv_bytes(texts: Sequence[str], vectors: Any, labels: Sequence[str] | None = None) -> bytes:
    """CSV (UTF-8, no BOM) with columns ``text``, ``label`` (if given), ``dim_0 … dim_{d-1}``.

    Parameters
    ----------
    texts : sequence of str, length n
    vectors : array-like of shape (n, d)
        Written as float32.
    labels : sequence of str of length n, optional
    """
    matrix = _check_rows(texts, vectors, labels, "vectors")
    return _csv_with_columns(texts, labels, matrix, [f"dim_{i}" for i in range(matrix.shape[1])])


def coordinates_csv_bytes(texts: Sequence[str], coords: Any, labels: Sequence[str] | None = None) -> bytes:
    """CSV of projected points: ``text``, ``label`` (if given), then ``x``, ``y`` (and ``z`` in 3-D).

    Parameters
    ----------
    coords : array-like of shape (n, 2) or (n, 3)
    """
    matrix = _check_rows(texts, coords, labels, "coordinates")
    if matrix.shape[1] not in (2, 3):
        raise InputError(f"Coordinates must have 2 or 3 columns, got {matrix.shape[1]}.")
    return _csv_with_columns(texts, labels, matrix, ["x", "y", "z"][: matrix.shape[1]])


def to_npy_bytes(vectors: Any) -> bytes:
    """A NumPy ``.npy`` file of the vectors, shape (n, d), float32 (``np.load`` reads it back)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise InputError(f"vectors must be a 2-D array (n_texts, dimensions); got shape {matrix.shape}.")
    buffer = io.BytesIO()
    np.save(buffer, matrix, allow_pickle=False)
    return buffer.getvalue()


def _extra_columns(
    extra: Mapping[str, Sequence[Any]] | None, taken: set[str], n: int, what: str
) -> Iterator[tuple[str, list[Any]]]:
    """``(name, plain values)`` of each extra export column, checked against the ``taken`` names and ``n``."""
    for name, values in (extra or {}).items():
        if name in taken:
            raise InputError(f"Extra column {name!r} clashes with {what} the export writes itself.")
        if len(values) != n:
            raise InputError(f"Extra column {name!r} has {len(values)} values for {n} texts.")
        yield name, [_plain(v) for v in values]


def to_parquet_bytes(
    texts: Sequence[str],
    vectors: Any,
    labels: Sequence[str] | None = None,
    extra: Mapping[str, Sequence[Any]] | None = None,
    *,
    model: str | None = None,
) -> bytes:
    """Parquet with ``text``, ``label`` (if given), the ``extra`` columns and ``vector`` (list<float32>).

    ``pandas.read_parquet`` reads it back; each ``vector`` cell is then a float32 array of length d.

    Parameters
    ----------
    texts : sequence of str, length n
    vectors : array-like of shape (n, d)
    labels : sequence of str of length n, optional
    extra : mapping of column name to a sequence of length n, optional
    model : str, optional
        The model that made the vectors, kept in the schema's metadata (``embedcore.model``)
        so the explorer can say which model it is showing (:func:`read_vectors`).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    matrix = _check_rows(texts, vectors, labels, "vectors")
    n, d = matrix.shape
    columns: dict[str, pa.Array] = {"text": pa.array(list(texts), type=pa.string())}
    if labels is not None:
        columns["label"] = pa.array([str(x) for x in labels], type=pa.string())
    for name, plain in _extra_columns(extra, {*columns, "vector"}, n, "a column"):
        try:
            columns[name] = pa.array(plain)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed types in one column (JSON allows it, Parquet does not): keep them as strings.
            columns[name] = pa.array([None if v is None else str(v) for v in plain], type=pa.string())
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32) if n else np.zeros(1, np.int32))
    columns["vector"] = pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))
    table = pa.table(columns)
    if model:
        table = table.replace_schema_metadata({MODEL_METADATA_KEY: model})
    buffer = io.BytesIO()
    # No dictionary for the floats: it never pays off on embeddings and slows writing and reading.
    # Row groups of 16k rows: readers decode them in parallel (one 100k group: 2-5x slower to read).
    pq.write_table(
        table, buffer, use_dictionary=[name for name in columns if name != "vector"], row_group_size=16_384
    )
    return buffer.getvalue()


def to_npz_bytes(
    texts: Sequence[str],
    vectors: Any,
    labels: Sequence[str] | None = None,
    extra: Mapping[str, Sequence[Any]] | None = None,
    *,
    model: str | None = None,
) -> bytes:
    """NumPy ``.npz`` with arrays ``vectors`` (n, d) float32, ``text``, ``label``, the extras, ``model``.

    Strings are stored as numpy string arrays, so ``np.load(path)`` reads everything back
    without ``allow_pickle``. The vectors are stored as they are (fast to write and to load);
    the text arrays, padded to their longest entry, are compressed.
    """
    matrix = _check_rows(texts, vectors, labels, "vectors")
    arrays: dict[str, np.ndarray] = {"text": np.array(list(texts), dtype=str)}
    if labels is not None:
        arrays["label"] = np.array([str(x) for x in labels], dtype=str)
    for name, plain in _extra_columns(extra, {*arrays, "vectors", "model"}, len(texts), "an array"):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in plain):
            arrays[name] = np.asarray(plain)
        else:
            arrays[name] = np.array(["" if v is None else str(v) for v in plain], dtype=str)
    if model:
        arrays["model"] = np.array(model, dtype=str)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        _npz_entry(archive, "vectors", matrix, zipfile.ZIP_STORED)
        for name, array in arrays.items():
            _npz_entry(archive, name, array, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _npz_entry(archive: zipfile.ZipFile, name: str, array: np.ndarray, compression: int) -> None:
    info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compression
    with archive.open(info, "w", force_zip64=True) as handle:
        np.lib.format.write_array(handle, np.asanyarray(array), allow_pickle=False)


_PROJECTOR_BREAKS = re.compile(r"[\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


def _projector_cell(value: Any) -> str:
    # The projector splits on tabs and line breaks and has no escape syntax, so they become spaces.
    cleaned = _PROJECTOR_BREAKS.sub(" ", str(value)).strip()
    return cleaned or MISSING_LABEL


def to_projector_zip(texts: Sequence[str], vectors: Any, labels: Sequence[str] | None = None) -> bytes:
    """A ZIP with ``vectors.tsv`` and ``metadata.tsv`` for projector.tensorflow.org ("Load").

    ``vectors.tsv`` has one row per text, tab-separated, no header. ``metadata.tsv`` has
    one line per text; with labels it has two columns and therefore a header row
    (``text<TAB>label``), without labels a single column and no header, as the projector
    requires. Tabs and line breaks inside texts become spaces.

    Parameters
    ----------
    texts : sequence of str, length n
    vectors : array-like of shape (n, d)
    labels : sequence of str of length n, optional
    """
    matrix = _check_rows(texts, vectors, labels, "vectors")
    if labels is None:
        metadata = "".join(_projector_cell(t) + "\n" for t in texts)
    else:
        rows = (
            f"{_projector_cell(t)}\t{_projector_cell(lab)}\n" for t, lab in zip(texts, labels, strict=True)
        )
        metadata = "text\tlabel\n" + "".join(rows)
    buffer = io.BytesIO()
    # Level 1: 7x faster than the default 6 on float text, for a file only 10% larger.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("vectors.tsv", _vectors_tsv(matrix))
        archive.writestr("metadata.tsv", metadata.encode("utf-8"))
    return buffer.getvalue()


def _vectors_tsv(matrix: np.ndarray) -> bytes:
    import pyarrow as pa

    table = pa.table({f"d{i}": pa.array(matrix[:, i]) for i in range(matrix.shape[1])})
    return _arrow_csv(table, header=False, delimiter="\t")


# --- samples --------------------------------------------------------------------------------

#: Built-in sample sets: name -> one-line description for the dashboard.
SAMPLES: dict[str, str] = {
    "seed": "Three short texts: 'AI Model Hub', 'Michael Jackson', 'best selling music artists'.",
    "topics": "100 one-sentence texts in five themes (music, sports, cooking, space, programming), "
    "labelled by theme; a few sit between themes.",
    "multilingual": "The same 20 sentences in English, German, French, Spanish, Italian, Portuguese "
    "and Dutch, with sentence_id and language columns.",
    "docs": "10,000 sentences from the documentation of Python and ten of its packages (NumPy, SciPy, "
    "scikit-learn, pandas, PyTorch, ...), labelled by package: the map at scale.",
}
_SAMPLE_LABELS = {"seed": None, "topics": "label", "multilingual": "label", "docs": "label"}
#: Samples kept compressed in the package (the rest are plain CSV): ``name -> file name``.
_SAMPLE_FILES = {"docs": "docs.csv.gz"}
#: Samples large enough that a page should not open them unasked (the explorer's default is small).
LARGE_SAMPLES = frozenset({"docs"})


def load_sample(name: str) -> TextTable:
    """A built-in sample set (see :data:`SAMPLES`) as a :class:`TextTable`.

    Read with the same code as uploads, from ``embedcore/samples/<name>.csv`` (``docs``: gzipped;
    where its sentences come from and their licences: ``embedcore/samples/NOTICE.md``). ``multilingual``
    has ``extra["sentence_id"]`` (int, 1-20: the same id = the same sentence) and
    ``extra["language"]`` (ISO code ``en de fr es it pt nl``); its labels are the language
    names (``English``...). Portuguese is Brazilian Portuguese.
    """
    if name not in SAMPLES:
        raise InputError(f"No sample called {name!r}; the samples are: {', '.join(SAMPLES)}.")
    filename = _SAMPLE_FILES.get(name, f"{name}.csv")
    data = resources.files("embedcore").joinpath("samples", filename).read_bytes()
    if filename.endswith(".gz"):
        import gzip

        data, filename = gzip.decompress(data), filename[: -len(".gz")]
    table = table_from_frame(read_upload(data, filename), "text", _SAMPLE_LABELS[name])
    table.source = f"sample:{name}"
    if "sentence_id" in table.extra:  # CSV cells are strings; ids are numbers to the alignment code
        table.extra["sentence_id"] = [int(x) for x in table.extra["sentence_id"]]
    return table
