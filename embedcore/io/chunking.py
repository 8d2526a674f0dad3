"""Cutting documents into overlapping chunks for semantic search, and reading documents.

:func:`chunk_text` makes windows of at most ``size`` words (or tokens) that overlap by
``overlap`` words, and prefers to end a window where a paragraph or a sentence ends.
Two promises hold for every input, and the tests check them with generated text:

* no chunk exceeds its limit: ``size`` words, and ``max_tokens`` tokens when a
  ``count_tokens`` callable is given (a single "word" longer than the token limit,
  such as a long URL, is cut into pieces that fit);
* no text is dropped: every non-whitespace character of the source lies inside some
  chunk, and ``chunk.text == source_text[chunk.start:chunk.end]``.

Written by hand rather than taken from LangChain/LlamaIndex text splitters because
those pull in large dependency trees and do not report character offsets for every
chunk; the job here is small.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from embedcore.errors import InputError, ParseError

__all__ = ["Chunk", "chunk_text", "read_document"]

_WORD = re.compile(r"\S+")
_PARAGRAPH_GAP = re.compile(r"\n[^\S\n]*\n")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’»)\]]*$")

#: Boundary strengths after a word. A line end ranks below a sentence end because PDF text
#: and hard-wrapped files break lines in mid-sentence.
_NONE, _LINE, _SENTENCE, _PARAGRAPH = 0, 1, 2, 3


@dataclass(frozen=True)
class Chunk:
    """One window of a document.

    Attributes
    ----------
    text : str
        Exactly ``document[start:end]`` (inner whitespace kept as it was).
    source : str
        The document's name (a file name, or what the caller passed).
    index : int
        Position of the chunk in its document, from 0.
    start, end : int
        Character offsets into the document text.
    """

    text: str
    source: str
    index: int
    start: int
    end: int


def _boundaries(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Boundary strength after each span (the last span ends the text: a paragraph end)."""
    strengths = []
    for i, (start, end) in enumerate(spans):
        if i + 1 == len(spans):
            strengths.append(_PARAGRAPH)
            continue
        gap = text[end : spans[i + 1][0]]
        if _PARAGRAPH_GAP.search(gap):
            strengths.append(_PARAGRAPH)
        elif _SENTENCE_END.search(text[start:end]):
            strengths.append(_SENTENCE)
        elif "\n" in gap:
            strengths.append(_LINE)
        else:
            strengths.append(_NONE)
    return strengths


def chunk_text(
    text: str,
    *,
    size: int = 200,
    overlap: int = 40,
    unit: str = "words",
    source: str = "",
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Chunk]:
    """Split a document into overlapping chunks that end at paragraph or sentence ends when possible.

    Parameters
    ----------
    text : str
        The document.
    size : int
        Most words per chunk (``unit="words"``) or most tokens (``unit="tokens"``).
    overlap : int
        Words (or tokens) each chunk repeats from the end of the previous one; ``0 <= overlap < size``.
    unit : {"words", "tokens"}
        What ``size`` and ``overlap`` count. Tokens need ``count_tokens``.
    source : str
        Name stored in every chunk.
    max_tokens : int, optional
        A second limit in tokens (the model's input limit), used with ``unit="words"``.
    count_tokens : callable, optional
        ``count_tokens(text) -> int``; it should count what the model counts (special tokens
        included, if the limit includes them). Assumed to grow with the text and to give
        every word at least one token (true of WordPiece/BPE tokenizers).

    Returns
    -------
    list of Chunk
        In document order; empty for a blank document. A window ends at the last paragraph
        end, else the last sentence (or line) end, that keeps it at least half full; else it
        is cut at the word limit. (A line end counts when there is no sentence end.)

    Raises
    ------
    InputError
        Invalid sizes, an unknown unit, or tokens asked for without ``count_tokens``.
    """
    if not isinstance(text, str):
        raise InputError(f"Expected the document as a string, got {type(text).__name__}.")
    _validate(size, overlap, unit, max_tokens, count_tokens)
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        return []
    strengths = _boundaries(text, spans)

    token_limit = max_tokens
    if unit == "tokens":
        token_limit = size if max_tokens is None else min(size, max_tokens)

    def tokens(first: int, stop: int) -> int:
        """Tokens in the text from span ``first`` up to (not including) span ``stop``."""
        if stop <= first:
            return 0
        assert count_tokens is not None
        return count_tokens(text[spans[first][0] : spans[stop - 1][1]])

    chunks: list[Chunk] = []
    s = 0
    covered = 0  # spans before this index are inside some chunk already
    while True:
        hi = min(len(spans), s + size)  # a word is at least one token, so this caps tokens too
        if token_limit is not None:
            if tokens(s, s + 1) > token_limit:
                _split_span(text, spans, strengths, s, token_limit, count_tokens)
                hi = min(len(spans), s + size)
            hi = _largest_fitting(s, hi, lambda e, s=s: tokens(s, e) <= token_limit)
        e = hi if hi == len(spans) else _best_end(strengths, s, hi, overlap)
        if e <= covered:
            # The overlap plus the next word does not fit the token limit: this window would
            # repeat the previous chunk, so start afresh after it instead.
            s = covered
            continue
        covered = e
        start, end = spans[s][0], spans[e - 1][1]
        chunks.append(Chunk(text[start:end], source, len(chunks), start, end))
        if e == len(spans):
            return chunks
        if unit == "tokens":
            # The earliest start whose tail up to e fits in `overlap` tokens.
            nxt = _smallest_fitting(max(s + 1, e - overlap), e, lambda b, e=e: tokens(b, e) <= overlap)
        else:
            nxt = e - overlap
        s = max(s + 1, nxt)


def _validate(
    size: int, overlap: int, unit: str, max_tokens: int | None, count_tokens: Callable[[str], int] | None
) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"Chunk size must be a whole number of at least 1, not {size!r}.")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise InputError(f"Overlap must be a whole number of 0 or more, not {overlap!r}.")
    if overlap >= size:
        raise InputError(f"Overlap ({overlap}) must be smaller than the chunk size ({size}).")
    if unit not in ("words", "tokens"):
        raise InputError(f"Unknown chunk unit {unit!r}; use 'words' or 'tokens'.")
    if (unit == "tokens" or max_tokens is not None) and count_tokens is None:
        raise InputError("Counting tokens needs a count_tokens function (the model's tokenizer).")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InputError(f"max_tokens must be a whole number of at least 1, not {max_tokens!r}.")


def _largest_fitting(s: int, hi: int, fits: Callable[[int], bool]) -> int:
    """Largest e in [s+1, hi] with fits(e), given fits(s+1) and that fits is monotone."""
    if fits(hi):
        return hi
    lo = s + 1  # fits(lo) holds, fits(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _smallest_fitting(lo: int, e: int, fits: Callable[[int], bool]) -> int:
    """Smallest b in [lo, e] with fits(b), given fits(e) and that fits grows with b."""
    if fits(lo):
        return lo
    hi = e  # fits(hi) holds, fits(lo) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _best_end(strengths: list[int], s: int, hi: int, overlap: int) -> int:
    """Where to end the window starting at span s: the last strong boundary in its second half."""
    window = hi - s
    # A shorter chunk must still be longer than the overlap, or the next one would not advance.
    shortest = max(overlap + 1, (window + 1) // 2)
    if shortest >= window:
        return hi
    for wanted in (_PARAGRAPH, _SENTENCE, _LINE):
        for e in range(hi, s + shortest - 1, -1):
            if strengths[e - 1] >= wanted:
                return e
    return hi


def _split_span(
    text: str,
    spans: list[tuple[int, int]],
    strengths: list[int],
    i: int,
    limit: int,
    count_tokens: Callable[[str], int] | None,
) -> None:
    """Replace span i (one word over the token limit) by character pieces that each fit."""
    assert count_tokens is not None
    start, end = spans[i]
    pieces = []
    while start < end:
        if count_tokens(text[start : start + 1]) > limit:
            raise InputError(
                f"A token limit of {limit} is too small: one character alone counts "
                f"{count_tokens(text[start : start + 1])} tokens."
            )
        cut = _largest_fitting(start, end, lambda c, start=start: count_tokens(text[start:c]) <= limit)
        pieces.append((start, cut))
        start = cut
    spans[i : i + 1] = pieces
    strengths[i : i + 1] = [_NONE] * (len(pieces) - 1) + [strengths[i]]


# --- reading documents ----------------------------------------------------------------------


def read_document(data: bytes, filename: str) -> str:
    """The plain text of an uploaded document, for :func:`chunk_text`.

    ``.pdf``: the text layer of every page (pypdf), pages separated by blank lines.
    A table (:data:`embedcore.io.TABLE_TYPES`: ``.csv .tsv .jsonl .json`` ...): the best text column (see
    :func:`embedcore.io.text_columns`), one row per paragraph.
    Anything else (``.txt``, ``.md``, ...): decoded as text, with the same encoding rules
    as :func:`embedcore.io.read_upload`.

    Raises
    ------
    ParseError
        Empty or binary files, damaged or password-protected PDFs, a PDF without a text
        layer (a scan), a table without a text column.
    """
    from embedcore import io as eio

    ext = eio._extension(filename)
    if ext == ".pdf" or (not ext and data.startswith(b"%PDF")):
        return _read_pdf(data, filename)
    if ext[1:] in eio.TABLE_TYPES:
        df = eio.read_upload(data, filename)
        table = eio.table_from_frame(df, eio.require_text_columns(df)[0])
        return "\n\n".join(table.texts)
    text, _warnings = eio.decode_text(data, filename)
    return text


def _read_pdf(data: bytes, filename: str) -> str:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError

    if not data.strip():
        raise ParseError(f"{filename} is empty.")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to restrict editing.
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotDecryptedError:
        raise ParseError(
            f"{filename} is password-protected; remove the password and upload it again."
        ) from None
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, OSError) as exc:
        # pypdf raises a variety of low-level errors on damaged files; all mean the same here.
        raise ParseError(f"{filename} is not a readable PDF ({type(exc).__name__}: {exc}).") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise ParseError(
            f"{filename} has no extractable text ({len(pages)} page(s)); it is probably a scan. "
            "Run OCR on it first, or upload the text."
        )
    return text
