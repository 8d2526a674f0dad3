"""``make run``'s entry point: ``streamlit run app.py``, with the slow first steps begun at once.

Streamlit runs app.py only when the first visitor arrives, so a warm-up started there makes
that visitor wait for it. Starting it here, in the server process before Streamlit boots,
gives it the seconds between ``make run`` and the first page load (see embedcore.warmup).
Arguments are passed to ``streamlit run`` (``--server.port 8502``, ...).
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

    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
