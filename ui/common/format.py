"""Small wordings the pages share: counts with the right plural, durations, cache shares, and
:func:`md_escape` for any user or server text shown in markdown.

No Streamlit here: plain functions, so the unit tests can call them directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Irregular plurals of the nouns the pages count; the rest take an "s".
_PLURALS = {"batch": "batches", "query": "queries", "match": "matches"}


def noun_for(n: int, noun: str, plural_form: str | None = None) -> str:
    """The noun alone, in the number ``n`` asks for: ``noun_for(1, "text")`` is ``"text"``."""
    return noun if n == 1 else plural_form or _PLURALS.get(noun) or f"{noun}s"


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``"1 text"``, ``"2 texts"``, ``"1,500 texts"``: a count with its noun in the right number.

    Parameters
    ----------
    n : int
    noun : str
        The singular (``"text"``, ``"chunk"``, ``"document"``).
    plural_form : str, optional
        For nouns that do not just take an "s" and are not in the built-in list.
    """
    return f"{n:,} {noun_for(n, noun, plural_form)}"


def duration(seconds: float) -> str:
    """A wall-clock time as people read it: ``"3 ms"`` under a second, else ``"1.23 s"``.

    A cache hit takes milliseconds; printed as ``"0.00 s"`` it reads like nothing happened.
    """
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def megabytes(nbytes: float) -> str:
    """A size in megabytes (10^6 bytes, as the cache cap is set): ``0.4 MB``, ``12 MB``, ``1,500 MB``."""
    mb = nbytes / 1_000_000
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:,.0f} MB"


def cache_share(cached: int, fetched: int) -> tuple[str, str]:
    """``(value, help)`` for a "From cache" metric: a short share that fits a narrow column.

    ``"100 / 100"`` in a metric a third of a column wide is cut to ``"100 …"``; a percentage
    never is, and the counts go into the help text.

    Parameters
    ----------
    cached, fetched : int
        Distinct texts answered from the cache, and sent to the model.
    """
    total = cached + fetched
    if total == 0:
        return "—", "Nothing was embedded."
    share = cached / total
    # Rounded down near 100 %: "100 %" must mean every text, and "0 %" none.
    percent = 100 if cached == total else 0 if cached == 0 else min(99, max(1, round(share * 100)))
    help_text = (
        f"{cached:,} of {plural(total, 'distinct text')} came from the embedding cache; "
        f"{fetched:,} {'was' if fetched == 1 else 'were'} sent to the model."
    )
    return f"{percent} %", help_text


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_escape(text: object) -> str:
    """Text shown literally inside Streamlit markdown (labels, captions, alerts).

    Collection names, file names and model ids come from users or servers: without escaping,
    a name like ``![x](https://host/pixel)`` would render as an image in everyone's session.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def short_model_names(model_ids: Iterable[str]) -> dict[str, str]:
    """``{id: name}`` with the organisation dropped (``BAAI/bge-m3`` → ``bge-m3``) where that stays unique.

    For places too narrow for a full id (the sidebar): two ids with the same tail keep their
    full form, so no two entries ever look the same.
    """
    ids = list(dict.fromkeys(model_ids))
    tails = [i.rsplit("/", 1)[-1] or i for i in ids]
    return {i: tail if tails.count(tail) == 1 else i for i, tail in zip(ids, tails, strict=True)}


def file_stem(model: str) -> str:
    """A file-name-safe stem for downloads, from the model id (``BAAI/bge-m3`` → ``embeddings-bge-m3``)."""
    tail = model.rsplit("/", 1)[-1]
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in tail).strip("-.") or "model"
    return f"embeddings-{safe}"
