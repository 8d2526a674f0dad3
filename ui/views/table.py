"""What the saved views page shows of a view: the table row, the label in the chooser, the file name.

Pure functions of :class:`~embedcore.stores.view_rules.ViewInfo`: no Streamlit, so each is shown
by example here and used the same way by the page and its tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from embedcore.stores.view_rules import ViewInfo

#: The table's columns, in order; ``author`` is left out when nobody signs in.
COLUMNS = ("name", "author", "created", "data set", "model", "texts")


def created_text(created: datetime) -> str:
    """A view's time of saving as people read it, in UTC (every visitor sees the same time).

    Examples
    --------
    >>> from datetime import timezone
    >>> created_text(datetime(2026, 12, 7, 21, 35, 12, tzinfo=timezone.utc))
    '2026-12-07 21:35 UTC'
    """
    return f"{created:%Y-%m-%d %H:%M} UTC"


def shows_authors(infos: Sequence[ViewInfo], signed_in: bool) -> bool:
    """Whether the table has an author column: with sign-in on, or when any view has an author.

    Examples
    --------
    >>> from datetime import timezone
    >>> info = ViewInfo("x" * 32, "Tea", None, datetime(2026, 1, 1, tzinfo=timezone.utc), "notes", "toy", 2)
    >>> shows_authors([info], signed_in=False), shows_authors([info], signed_in=True)
    (False, True)
    """
    return signed_in or any(info.author for info in infos)


def views_frame(infos: Sequence[ViewInfo], *, with_author: bool) -> pd.DataFrame:
    """One row per view, in the order given (the store lists the newest first).

    Examples
    --------
    >>> from datetime import timezone
    >>> info = ViewInfo("x" * 32, "Tea", "ana@example.com", datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc),
    ...                 "sample:topics", "minilm", 120)
    >>> views_frame([info], with_author=False).iloc[0].to_dict()
    {'name': 'Tea', 'created': '2026-01-02 03:04 UTC', 'data set': 'sample:topics', 'model': 'minilm', 'texts': 120}
    """
    rows = [
        {
            "name": info.name,
            "author": info.author or "",
            "created": created_text(info.created),
            "data set": info.dataset,
            "model": info.model,
            "texts": info.n_texts,
        }
        for info in infos
    ]
    columns = [c for c in COLUMNS if with_author or c != "author"]
    return pd.DataFrame(rows, columns=columns)


def choice_labels(infos: Sequence[ViewInfo]) -> dict[str, str]:
    """How each view is named in the chooser, ``{id: label}``: its name and time, unique.

    A copy imported in the same minute as its original has the same name and time; the chooser
    tells options apart by their label (and Streamlit's selectbox maps a label back to its
    option), so a repeated label gets the start of the view's id.

    Examples
    --------
    >>> from datetime import timezone
    >>> when = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    >>> infos = [ViewInfo(c * 32, "Tea", None, when, "", "", 2) for c in "ab"]
    >>> list(choice_labels(infos).values())
    ['Tea · 2026-01-02 03:04 UTC · aaaaaa', 'Tea · 2026-01-02 03:04 UTC · bbbbbb']
    >>> choice_labels(infos[:1])
    {'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': 'Tea · 2026-01-02 03:04 UTC'}
    """
    plain = {info.id: f"{info.name} · {created_text(info.created)}" for info in infos}
    repeated = {label for label in plain.values() if list(plain.values()).count(label) > 1}
    return {
        view_id: f"{label} · {view_id[:6]}" if label in repeated else label
        for view_id, label in plain.items()
    }


def file_name(name: str) -> str:
    """The download's file name from the view's name: letters, digits, ``-`` and ``_`` kept.

    Examples
    --------
    >>> file_name("Three clusters / bge-m3"), file_name("???")
    ('Three-clusters-bge-m3.json', 'view.json')
    """
    stem = re.sub(r"[^\w-]+", "-", name).strip("-_") or "view"
    return f"{stem}.json"
