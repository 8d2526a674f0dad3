"""The built-in sample sets (``embedcore/samples/``), read with the same code as uploads."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from embedcore.errors import (
    InputError,
)

if TYPE_CHECKING:  # pandas is imported lazily: `import embedcore` must stay fast.
    pass
from embedcore.io.readers import read_upload, table_from_frame
from embedcore.io.table import TextTable

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

    Examples
    --------
    >>> load_sample("seed").texts
    ['AI Model Hub', 'Michael Jackson', 'best selling music artists']
    >>> table = load_sample("topics")
    >>> len(table), sorted(set(table.labels))[:2]
    (100, ['cooking', 'music'])
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
