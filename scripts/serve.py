"""``make run``'s entry point: ``streamlit run app.py``, warmed up while nobody is waiting.

The warm-up (embedcore.warmup: plotly, UMAP's compiled code, the bundled model) starts with the
first visitor's run (app.py) or, when nobody has come yet, :data:`WARM_UP_AFTER_S` after the
server starts, whichever is first. Started at once instead, it competed with Streamlit's boot
and with the browser loading the page on two cores: health check 2.1 s instead of 1.1 s, and
open → first map 6.5-8.2 s instead of 5.1-7.6 s (three runs each, alternating, load ~4), while a
visitor who comes later still finds it done.
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
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Seconds after the server starts when the warm-up begins if no visitor has started it.
WARM_UP_AFTER_S = 5.0


def main() -> int:
    sys.path.insert(0, str(ROOT))
    # Streamlit (with pandas and plotly) is imported before the timer starts: on a busy machine
    # the import took longer than WARM_UP_AFTER_S, and the warm-up thread importing pandas at the
    # same moment left the main thread a half-initialised pandas ("partially initialized module
    # 'pandas' has no attribute 'Series'"), so the server exited before it served anything.
    from streamlit.web import cli

    from embedcore import warmup

    timer = threading.Timer(WARM_UP_AFTER_S, warmup.start)
    timer.daemon = True
    timer.start()

    arguments = sys.argv[1:]
    if not any(a.startswith("--server.fileWatcherType") for a in arguments):
        arguments += ["--server.fileWatcherType", "none"]
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *arguments]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
