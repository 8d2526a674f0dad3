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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _record(path: str) -> None:
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    Path(path).write_text(json.dumps({"modules": sorted(sys.modules), "peak_rss": peak}))


def main() -> int:
    record, *arguments = sys.argv[1:]
    atexit.register(_record, record)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *arguments]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
