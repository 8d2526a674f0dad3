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


def choice_label(info: ViewInfo) -> str:
    """How a view is named in the chooser: two views may share a name, never a name and a minute.

    Examples
    --------
    >>> from datetime import timezone
    >>> choice_label(ViewInfo("x" * 32, "Tea", None, datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), "", "", 2))
    'Tea · 2026-01-02 03:04 UTC'
    """
    return f"{info.name} · {created_text(info.created)}"


def file_name(name: str) -> str:
    """The download's file name from the view's name: letters, digits, ``-`` and ``_`` kept.

    Examples
    --------
    >>> file_name("Three clusters / bge-m3"), file_name("???")
    ('Three-clusters-bge-m3.json', 'view.json')
    """
    stem = re.sub(r"[^\w-]+", "-", name).strip("-_") or "view"
    return f"{stem}.json"
