"""``streamlit run app.py`` as Streamlit Community Cloud starts it, telling what it used when it stops.

``python bench/cloud_server.py RECORD [streamlit options]`` runs ``streamlit run app.py`` in this
very process (no ``scripts/serve.py``: Cloud knows nothing of it) and, as the server exits (a
SIGTERM stops Streamlit cleanly), writes to the JSON file ``RECORD``: ``modules``, the name of
every module the process imported, and ``peak_rss``, its peak resident memory in bytes.
The Cloud browser tests (tests/browser/test_cloud.py) and the ``cloud`` benchmark read it: an
API-only install must never import torch or sentence-transformers, and must fit in 690 MB.
"""

from __future__ import annotations

import atexit
import json
import resource
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _record(path: str) -> None:
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    Path(path).write_text(json.dumps({"modules": sorted(sys.modules), "peak_rss": peak}))


def main() -> int:
    record, *arguments = sys.argv[1:]
    # Written as the interpreter starts to shut down, before it joins the remaining threads:
    # without watchdog (an API-only install) Streamlit polls every watched file from a thread
    # pool whose queued polls are drained at exit, which took over 30 s once the app had a few
    # hundred modules, and a server killed then would write nothing. threading._register_atexit
    # is CPython's hook for exactly this moment (concurrent.futures uses it); atexit stays as
    # the fallback for an interpreter without it.
    # Hooks run in reverse order of registration: registered after the thread pool's own
    # (made when concurrent.futures.thread is first imported), this one runs before that join.
    import concurrent.futures.thread  # noqa: F401

    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_record, record)
    atexit.register(_record, record)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *arguments]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
