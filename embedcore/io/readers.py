"""Reading texts: uploaded bytes into a DataFrame, then the column chooser into a :class:`TextTable`.

See :mod:`embedcore.io` for the formats and encodings accepted.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcore.errors import (
    InputError,
    NoTextColumnError,
    ParseError,
)

if TYPE_CHECKING:  # pandas is imported lazily: `import embedcore` must stay fast.
    import pandas as pd
from embedcore.io.table import (
    LABEL_COLUMN_NAMES,
    MAX_UPLOAD_BYTES,
    TEXT_COLUMN_NAMES,
    UPLOAD_TYPES,
    TextTable,
    file_extension,
    finish_table,
    is_missing,
    label_string,
    plain_value,
    text_string,
)

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
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def decode_text(data: bytes, filename: str = "the file") -> tuple[str, list[str]]:
    """Bytes of a text file to ``str``, and the warnings a person should see.

    UTF-8 (BOM removed), UTF-16 with a BOM, else Windows-1252 when that gives plausible
    text. Raises :class:`ParseError` for empty, binary and undecodable files.

    Examples
    --------
    >>> decode_text("café".encode("utf-8"))
    ('café', [])
    >>> text, warnings = decode_text("café".encode("cp1252"), "old.csv")
    >>> text, warnings[0].split(";")[0]
    ('café', 'old.csv is not UTF-8')
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

    Examples
    --------
    >>> df = read_upload(b"text,topic\\nhello there,greeting\\nbye now,farewell\\n", "f.csv")
    >>> df.shape, list(df.columns)
    ((2, 2), ['text', 'topic'])
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
    ext = file_extension(filename)
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


def sniff_delimiter(text: str) -> str | None:
    r"""The delimiter of a CSV, or None for a one-column file.

    csv.Sniffer alone misreads one-column files whose texts contain commas, so its
    answer must also occur in the header line; otherwise the header decides.

    Examples
    --------
    >>> sniff_delimiter("text;label\nhello, world;greeting\n")
    ';'
    >>> sniff_delimiter("text\nhello, world\n") is None
    True
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
        sep = sniff_delimiter(text)
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
    return [v for v in series.tolist() if not is_missing(v)]


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

    Examples
    --------
    >>> df = read_upload(b"id,text\\n1,hello there\\n2,bye now\\n", "f.csv")
    >>> text_columns(df)
    ['text']
    """
    scored = []
    for column in df.columns:
        share, numeric, mean_len = _column_strings(df[column])
        if share >= 0.9 and numeric < 0.5 and mean_len > 0:
            if _looks_like_ids([v for v in _present(df[column]) if isinstance(v, str)]):
                continue
            scored.append((_name_rank(str(column), TEXT_COLUMN_NAMES), -mean_len, str(column)))
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

    Examples
    --------
    >>> require_text_columns(read_upload(b"text\\nhello there\\n", "f.csv"))
    ['text']
    >>> require_text_columns(read_upload(b"id\\n1\\n2\\n", "f.csv"))
    Traceback (most recent call last):
    ...
    embedcore.errors.NoTextColumnError: ...
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

    Examples
    --------
    >>> df = read_upload(b"text,topic\\nhi,greeting\\nbye now,farewell\\nhello,greeting\\n", "f.csv")
    >>> label_columns(df)
    ['topic']
    """
    n = len(df)
    scored = []
    for column in df.columns:
        values = [label_string(v) for v in df[column].tolist()]
        distinct = len(set(values))
        mean_len = sum(map(len, values)) / n if n else 0.0
        if 2 <= distinct <= max_unique and distinct < n and mean_len < 40:
            scored.append((_name_rank(str(column), LABEL_COLUMN_NAMES), distinct, str(column)))
    return [name for *_, name in sorted(scored)]


def table_from_frame(df: pd.DataFrame, text_column: str, label_column: str | None = None) -> TextTable:
    """Pick the text (and label) column of a DataFrame and clean it into a :class:`TextTable`.

    Texts are stripped; empty, whitespace-only and missing texts are dropped and counted.
    Labels are strings (a missing label becomes :data:`MISSING_LABEL`). Every other column
    is kept in ``extra`` for the rows that stay.

    Raises
    ------
    ParseError
        A named column does not exist (the message lists the ones that do).

    Examples
    --------
    >>> df = read_upload(b"text,topic\\nhello there,greeting\\n  ,none\\nbye now,farewell\\n", "f.csv")
    >>> table = table_from_frame(df, "text", "topic")
    >>> table.texts, table.labels, table.dropped_blank
    (['hello there', 'bye now'], ['greeting', 'farewell'], 1)
    """
    columns = [str(c) for c in df.columns]
    for role, name in (("text", text_column), ("label", label_column)):
        if name is not None and name not in columns:
            listed = ", ".join(repr(c) for c in columns) or "none"
            raise ParseError(f"There is no {role} column {name!r}; the columns are: {listed}.")
    raw_texts = [text_string(v) for v in df[text_column].tolist()]
    keep = [i for i, t in enumerate(raw_texts) if t]
    texts = [raw_texts[i] for i in keep]
    labels = None
    if label_column is not None:
        raw_labels = df[label_column].tolist()
        labels = [label_string(raw_labels[i]) for i in keep]
    extra = {}
    for column in df.columns:
        if column in (text_column, label_column):
            continue
        values = df[column].tolist()
        extra[str(column)] = [plain_value(values[i]) for i in keep]
    attrs = getattr(df, "attrs", {}) or {}
    return finish_table(
        texts,
        str(attrs.get("source", "table")),
        labels=labels,
        extra=extra,
        dropped_blank=len(raw_texts) - len(texts),
        warnings=list(attrs.get("warnings", [])),
    )
