"""``make run``'s entry point: ``streamlit run app.py``, with the slow first steps begun at once.

Streamlit runs app.py only when the first visitor arrives, so a warm-up started there makes
that visitor wait for it. Starting it here, in the server process before Streamlit boots,
gives it the seconds between ``make run`` and the first page load (see embedcore.warmup).
Arguments are passed to ``streamlit run`` (``--server.port 8502``, ...).

The file watcher is off unless an argument names one (``make dev`` passes
``--server.fileWatcherType poll`` for live reload). Any watcher makes Streamlit rescan every
module in ``sys.modules`` (a ``realpath`` per file) on the server's event loop after each script
run in which new modules appeared. On a first visit the warm-up is importing plotly, umap-learn and
torch in another thread at that moment, and the rescan held the event loop for 3-5 s (py-spy) while
the visitor waited; measured open → first map: 7.4-9.2 s without a watcher, 10.5-11.2 s polling.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from embedcore import warmup

    warmup.start()
    from streamlit.web import cli

    arguments = sys.argv[1:]
    if not any(a.startswith("--server.fileWatcherType") for a in arguments):
        arguments += ["--server.fileWatcherType", "none"]
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *arguments]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
