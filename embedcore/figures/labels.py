"""User text made safe and short for hover labels, tick labels and legends (HTML escaped)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

# --- text helpers ----------------------------------------------------------------


def _words(text: object) -> list[str]:
    # Hover labels have no use for the user's line breaks and tabs; Plotly would
    # ignore "\n" anyway (only <br> breaks a line).
    return str(text).split()


def _truncate(words: list[str], max_chars: int) -> str:
    text = " ".join(words)
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    # Prefer a word boundary when one is close, so the ellipsis does not split a word.
    space = cut.rfind(" ")
    if space >= max_chars * 0.75:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _wrap(text: str, width: int) -> list[str]:
    # Greedy word wrap, hand-written because textwrap.wrap costs ~60 µs a text
    # (3 s for a 50k-point map) and we need none of its options.
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while len(word) > width:  # a URL or a very long token: hard-split it
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def hover_text(text: object, width: int = 60, max_chars: int = 300) -> str:
    """A user text made safe and readable for a Plotly hover label.

    Whitespace is collapsed, the text is truncated to ``max_chars`` characters
    (with "…"), wrapped at ``width`` characters with ``<br>``, and ``& < >`` are
    HTML-escaped so markup typed by a user displays literally. Characters beyond ASCII are
    written as numeric references (``é`` → ``&#233;``), which Plotly's labels decode: a map's
    JSON then stays ASCII, which plotly and Streamlit copy and escape ~3x faster than a
    string holding one "…" (0.15 s of every change to a 100k-point map).

    Parameters
    ----------
    text : object
        Converted with ``str``.
    width : int
        Characters per line before wrapping.
    max_chars : int
        Characters kept, ellipsis included.

    Returns
    -------
    str
        Plotly pseudo-HTML.

    Examples
    --------
    >>> hover_text("<b>bold</b> and a long text that wraps", width=20, max_chars=50)
    '&lt;b&gt;bold&lt;/b&gt; and a<br>long text that wraps'
    """
    if width < 1 or max_chars < 1:
        raise ValueError(f"width and max_chars must be positive, got {width} and {max_chars}")
    short = _truncate(_words(text), max_chars)
    # Wrap before escaping: "&lt;" must neither be split nor count as four characters.
    lines = (html.escape(line, quote=False) for line in _wrap(short, width))
    return "<br>".join(lines).encode("ascii", "xmlcharrefreplace").decode("ascii")


def short_label(text: object, max_chars: int = 28) -> str:
    """A one-line, escaped, truncated label for ticks, legends and titles.

    Examples
    --------
    >>> short_label("<i>a long title of a document</i>", 12)
    '&lt;i&gt;a long…'
    """
    return html.escape(_truncate(_words(text), max_chars), quote=False)


def opacity_for(n_points: int) -> float:
    """Marker opacity for a map of ``n_points``: lower as points pile up.

    At 10,000 points and more, opaque markers hide one another and a dense region reads as
    one solid patch; translucent ones let the density show (the Projector and
    embedding-atlas fade points the same way).

    Examples
    --------
    >>> opacity_for(10), opacity_for(100_000)
    (0.8, 0.35)
    """
    if n_points <= 2_000:
        return 0.8
    if n_points <= 10_000:
        return 0.6
    if n_points <= 50_000:
        return 0.45
    return 0.35


def hover_chars_for(n_points: int) -> int:
    """Characters of hover text per point, shrinking with the point count.

    Hover strings dominate a scatter's JSON (coordinates are ~11 bytes a point,
    a 300-character hover ~330): these steps keep 50k points under ~8 MB, well
    inside Streamlit's 200 MB message limit and quick to parse in a browser.
    Full texts belong in the table beside the map.

    Examples
    --------
    >>> hover_chars_for(10), hover_chars_for(100_000)
    (300, 80)
    """
    if n_points <= 2_000:
        return 300
    if n_points <= 10_000:
        return 160
    if n_points <= 50_000:
        return 100
    return 80  # 100k points: ~8 MB of hover text, serialised on every rerun


def hover_texts(texts: Sequence[object], max_chars: int | None = None) -> np.ndarray:
    """:func:`hover_text` of every text, as an object array for :func:`scatter_figure`'s ``hover``.

    Worth computing once per data set and reusing: 100,000 texts take 1-3 s, the rest of
    a 100k-point figure a fraction of that.

    Parameters
    ----------
    texts : sequence of str, length n
    max_chars : int, optional
        Default :func:`hover_chars_for` ``(n)``.

    Returns
    -------
    ndarray of shape (n,), dtype object

    Examples
    --------
    >>> hover_texts(["a<b", "b"]).tolist()
    ['a&lt;b', 'b']
    """
    chars = max_chars or hover_chars_for(len(texts))
    return np.array([hover_text(t, width=60, max_chars=chars) for t in texts], dtype=object)
