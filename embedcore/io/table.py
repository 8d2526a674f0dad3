"""The table of texts every reader returns (:class:`TextTable`), the limits, and how cells are cleaned."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcore.errors import (
    InputError,
    TooManyTextsError,
    VectorLengthError,
)

if TYPE_CHECKING:  # pandas is imported lazily: `import embedcore` must stay fast.
    import pandas as pd


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


#: Column names that usually hold the text, best first.
TEXT_COLUMN_NAMES = (
    "text", "sentence", "content", "body", "document", "passage", "query", "question",
    "prompt", "message", "comment", "review", "description", "title", "name",
)  # fmt: skip
LABEL_COLUMN_NAMES = (
    "label", "labels", "category", "class", "topic", "theme", "tag", "group", "language",
    "lang", "cluster", "type", "source",
)  # fmt: skip


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

    Examples
    --------
    >>> table = TextTable(texts=["a cat", "a dog"], labels=["pet", "pet"])
    >>> len(table), table.to_frame().columns.tolist()
    (2, ['text', 'label'])
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
    """Raise :class:`TooManyTextsError` when ``n`` texts exceed ``limit`` (``None`` = no limit).

    Examples
    --------
    >>> check_limit(3, limit=5)
    >>> check_limit(6, limit=5)
    Traceback (most recent call last):
    ...
    embedcore.errors.TooManyTextsError: 6 texts is more than the limit of 5. ...
    """
    if limit is not None and n > limit:
        raise TooManyTextsError(
            f"{n:,} texts is more than the limit of {limit:,}. Use fewer texts "
            f"(the first {limit:,} can be kept), or raise the limit where it is configured."
        )


def finish_table(texts: list[str], source: str, **kwargs: Any) -> TextTable:
    """A :class:`TextTable` of ``texts`` with its ``duplicates`` counted (every reader ends here).

    Examples
    --------
    >>> finish_table(["a", "b", "a"], "mine").duplicates
    1
    """
    return TextTable(texts=texts, source=source, duplicates=len(texts) - len(set(texts)), **kwargs)


def parse_pasted(text: str, *, source: str = "pasted") -> TextTable:
    """One text per line: lines are stripped, blank lines dropped and counted.

    No column syntax (a tab or a comma is part of the text); upload a CSV/TSV for labels.

    Examples
    --------
    >>> table = parse_pasted("a cat\\n\\n  a dog  \\na cat\\n")
    >>> table.texts, table.dropped_blank, table.duplicates
    (['a cat', 'a dog', 'a cat'], 1, 1)
    """
    if not isinstance(text, str):
        raise InputError(f"Expected the pasted text as a string, got {type(text).__name__}.")
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line]
    return finish_table(kept, source, dropped_blank=len(lines) - len(kept))


# --- file names and cells ----------------------------------------------------------------------


def file_extension(filename: str) -> str:
    """The lower-case extension of a file name with its dot (``""`` without one); folders ignored.

    Examples
    --------
    >>> file_extension("notes/Data.CSV"), file_extension("README")
    ('.csv', '')
    """
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()
    return name[name.rfind(".") :] if "." in name else ""


def is_missing(value: Any) -> bool:
    """Is a cell empty: ``None``, NaN, or pandas' ``NA`` / ``NaT`` (an empty string is a value).

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(""), is_missing(0)
    (True, True, False, False)
    """
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def label_string(value: Any) -> str:
    """A cell as a label: stripped text; missing or blank cells become :data:`MISSING_LABEL`.

    Examples
    --------
    >>> label_string(3.0), label_string(None), label_string(" x ")
    ('3', '(missing)', 'x')
    """
    if is_missing(value):
        return MISSING_LABEL
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JSON 3.0 and a CSV "3" mean the same label
    text = str(value).strip()
    return text or MISSING_LABEL


def text_string(value: Any) -> str:
    """A cell as a text to embed: stripped; JSON objects and lists as JSON; missing cells ``""``.

    Examples
    --------
    >>> text_string("  hi "), text_string({"a": 1}), text_string(None)
    ('hi', '{"a": 1}', '')
    """
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def plain_value(value: Any) -> Any:
    """Cell values as plain Python (numpy scalars and NaN do not survive JSON or Arrow well).

    Examples
    --------
    >>> import numpy as np
    >>> plain_value(np.int64(3)), plain_value(float("nan"))
    (3, None)
    """
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
