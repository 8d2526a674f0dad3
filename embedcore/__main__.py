"""The batch command line: embed a file of texts into Parquet, NPZ or NPY, list a provider's models,
prepare the bundled static model, copy the local cache and collections into the team's database.

    python -m embedcore embed texts.csv --text-column text --output vectors.parquet
    python -m embedcore embed texts.jsonl --provider ionos --model BAAI/bge-m3 --output v.npz
    python -m embedcore models --provider ionos
    python -m embedcore prepare
    python -m embedcore evaluate sts pairs.csv --model all-MiniLM-L6-v2 --output results.json
    EMBEDCORE_DATABASE_URL=postgresql://… python -m embedcore migrate

Every vector is written to the cache as soon as its batch arrives, so a run that is stopped
(Ctrl-C, a dropped connection, a rate limit) is resumed by running the same command again:
only the texts still missing are sent.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from embedcore.errors import EmbedcoreError, NotFoundError
from embedcore.providers import catalog
from embedcore.providers.endpoints import TOKEN_ENV
from embedcore.providers.registry import (
    PLUGINS_ENV,
    ProviderKind,
    make_provider,
    provider_kind,
    provider_kinds,
)

_OUTPUT_SUFFIXES = (".parquet", ".npz", ".npy")

_CACHE_EPILOG = """\
cache:
  Vectors are kept in $EMBEDCORE_CACHE_DIR (default: your user cache directory), so a rerun
  after an interruption sends only the texts that are still missing. With
  EMBEDCORE_DATABASE_URL set they are kept in that PostgreSQL database instead, shared with
  every app replica and job that uses it (and so is the API's rate limit).
"""


def _epilog(kinds: Sequence[ProviderKind]) -> str:
    """The tokens each provider kind reads (from the registry), then where vectors are kept."""
    width = max((len(k.name) for k in kinds), default=0)
    lines = [
        f"    {k.name.ljust(width)}  {k.token_env}{' ' + k.token_help if k.token_help else ''}"
        for k in kinds
        if k.token_env
    ]
    tokens = (
        "tokens:\n"
        "  Tokens are read from the environment only, never from a command-line option (options end up\n"
        "  in your shell history and in the process list):\n" + "\n".join(lines) + "\n\n"
    )
    return tokens + _CACHE_EPILOG


_MIGRATE_EPILOG = """\
database:
  The target is EMBEDCORE_DATABASE_URL, or --to. A password is never taken from the command
  line (it would end up in your shell history and the process list): give it in
  EMBEDCORE_DATABASE_URL, PGPASSWORD or ~/.pgpass. Running the command again copies nothing twice.
"""


class _CLIError(EmbedcoreError):
    """A problem with the command's own arguments or files, reported like any other error."""


def _parser(*, methods: bool = True) -> argparse.ArgumentParser:
    """The command line; ``methods=False`` leaves the projection-method registry unread (its import
    and entry-point scan cost 0.3-0.9 s, which an ``embed`` run need not pay)."""
    kinds = provider_kinds()
    epilog = _epilog(kinds)
    parser = argparse.ArgumentParser(
        prog="embedcore",
        description="Embed texts in batches and list embedding models, locally or through an API.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def provider_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--provider",
            choices=[k.name for k in kinds],
            default=kinds[0].name,
            help="; ".join(f"{k.name}: {k.summary}" for k in kinds)
            + f" (more kinds: modules named in ${PLUGINS_ENV})",
        )
        p.add_argument(
            "--base-url",
            help="endpoint base URL, e.g. http://127.0.0.1:8000/v1 (required for "
            + ", ".join(k.name for k in kinds if k.needs_base_url)
            + "; optional for "
            + ", ".join(k.name for k in kinds if k.default_base_url)
            + ")",
        )

    embed = commands.add_parser(
        "embed",
        help="embed the texts of a file into .parquet, .npz or .npy",
        description="Embed the texts of a .csv, .tsv, .jsonl, .json or .txt file (one text per line).",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    embed.add_argument("input", metavar="INPUT", help="a .csv, .tsv, .jsonl, .json or .txt file")
    embed.add_argument(
        "--text-column", default="text", help="column holding the texts (default: text; .txt files: text)"
    )
    embed.add_argument("--id-column", help="column of row ids to keep beside the vectors (.parquet, .npz)")
    embed.add_argument("--label-column", help="column of labels to keep beside the vectors (.parquet, .npz)")
    provider_options(embed)
    embed.add_argument(
        "--model",
        help="model id ("
        + "; ".join(f"{k.name} default: {k.default_model}" for k in kinds if k.default_model)
        + "; required for "
        + ", ".join(k.name for k in kinds if not k.default_model)
        + " — see `embedcore models`)",
    )
    embed.add_argument(
        "--output",
        "-o",
        required=True,
        help=".parquet (text, id/label, vector columns) or .npz (arrays text, label, id, vectors): "
        "both open in the explorer without embedding again; .npy (the vectors only, float32, n × d)",
    )
    embed.add_argument("--batch-size", type=int, default=None, help="texts per batch (default: 64)")
    embed.add_argument("--no-cache", action="store_true", help="neither read nor write the vector cache")
    embed.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    if methods:
        from embedcore.analysis.projection import method_names, registered_methods

        names, listed = method_names(), registered_methods()
    else:
        names, listed = (), ()
    project = commands.add_parser(
        "project",
        help=f"map the vectors of a file to 2-D or 3-D coordinates ({', '.join(names)})",
        description="Map the vectors of a .parquet or .npz file (as `embed` writes them) or a .npy to "
        "2-D or 3-D coordinates, with any registered projection method.",
    )
    project.add_argument("input", metavar="INPUT", help=".parquet or .npz from `embed`, or a .npy of vectors")
    project.add_argument(
        "--method",
        choices=names or None,
        default=names[0] if names else None,
        help="; ".join(f"{m.name}: {m.display_name}" for m in listed)
        + f" (default: {names[0] if names else ''})",
    )
    project.add_argument("--dims", type=int, choices=(2, 3), default=2, help="2 or 3 (default: 2)")
    project.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    project.add_argument(
        "--output",
        "-o",
        required=True,
        help=".npy (float32, n × dims) or .csv (one row of coordinates per vector)",
    )

    models = commands.add_parser(
        "models",
        help="list the models a provider serves",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    provider_options(models)

    prepare = commands.add_parser(
        "prepare",
        help="build the bundled static model now, so nobody waits for it later",
        description="Distil all-MiniLM-L6-v2 into the static model2vec model once (about 35 s on two "
        "idle cores, several minutes on a busy machine). Does nothing when it is built already.",
    )
    prepare.add_argument(
        "--models-dir",
        help="where to keep it (default: $EMBEDCORE_MODELS_DIR, else <virtualenv>/share/embedcore/models)",
    )
    prepare.add_argument(
        "--maps",
        action="store_true",
        help="also compile umap-learn's layout code into numba's disk cache, so the first map of a "
        "new server process loads it instead of compiling (7-8 s of CPU)",
    )
    prepare.add_argument(
        "--samples",
        action="store_true",
        help="also embed the built-in sample sets with the bundled model, so a first visit's "
        "default page needs no model load",
    )
    prepare.add_argument(
        "--progress",
        choices=("text", "json"),
        default="text",
        help="text: stages on stderr (default); json: one JSON object per line on stdout, for programs",
    )
    from embedcore.evaluation.cli import add_parser as add_evaluate

    add_evaluate(commands, provider_options, epilog)
    migrate = commands.add_parser(
        "migrate",
        help="copy the local SQLite cache and collections into PostgreSQL",
        description="Copy the embedding cache and the collections of a cache directory into the "
        "team's PostgreSQL + pgvector database. Safe to run again.",
        epilog=_MIGRATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    migrate.add_argument(
        "--to",
        metavar="URL",
        help="postgresql://user@host:5432/dbname without a password (default: EMBEDCORE_DATABASE_URL)",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="the cache directory holding embeddings.sqlite3 and collections.sqlite3 "
        "(default: EMBEDCORE_CACHE_DIR or your user cache directory)",
    )
    migrate.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    return parser


def _provider(args: argparse.Namespace, **kwargs):
    kind = provider_kind(args.provider)
    api_key = None  # IONOS_API_TOKEN: read by the client, for the endpoint it belongs to only
    if kind.token_env and kind.token_env != TOKEN_ENV:
        api_key = os.environ.get(kind.token_env, "")
    return make_provider(kind.name, base_url=args.base_url, api_key=api_key, **kwargs)


def _read_table(path: Path, text_column: str, extra_columns: Sequence[str]):
    from embedcore.io import read_upload, table_from_frame

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _CLIError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    # No size limit here: the command line is the way in for corpora too large to upload.
    frame = read_upload(data, path.name, max_bytes=None)
    table = table_from_frame(frame, text_column)
    for column in extra_columns:
        if column not in table.extra:
            listed = ", ".join(repr(str(c)) for c in frame.columns)
            raise _CLIError(f"There is no column {column!r} in {path.name}; the columns are: {listed}.")
    return table


def _embed(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise _CLIError(f"--output must end in .parquet, .npz or .npy, not {output.name!r}.")
    if not output.parent.is_dir():
        raise _CLIError(f"The folder for --output does not exist: {output.parent}.")
    if args.batch_size is not None and args.batch_size < 1:
        raise _CLIError("--batch-size must be at least 1.")
    kind = provider_kind(args.provider)
    model = args.model or kind.default_model
    if model is None:
        raise _CLIError(
            f"--model is required for the {args.provider} provider; "
            f"`embedcore models --provider {args.provider}` lists them."
        )

    extra_columns = [c for c in (args.id_column, args.label_column) if c]
    table = _read_table(Path(args.input), args.text_column, extra_columns)
    for warning in table.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if table.dropped_blank:
        print(f"note: skipped {table.dropped_blank} row(s) with an empty text", file=sys.stderr)
    if output.suffix.lower() == ".npy" and extra_columns:
        print(
            "note: .npy holds the vectors only; ids and labels need a .parquet or .npz output",
            file=sys.stderr,
        )

    kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    provider = _provider(args, cache=False if args.no_cache else None, **kwargs)
    print(f"Embedding {len(table):,} texts with {model} ({args.provider})…", file=sys.stderr)

    from tqdm import tqdm

    with tqdm(
        total=len(table),
        unit="text",
        file=sys.stderr,
        disable=args.quiet,
        mininterval=0.5,
        dynamic_ncols=True,
    ) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result = provider.embed(table.texts, model, progress=progress)

    if output.suffix.lower() == ".npy":
        from embedcore.io import to_npy_bytes

        data = to_npy_bytes(result.vectors)
    else:
        from embedcore.io import to_npz_bytes, to_parquet_bytes

        labels = table.extra[args.label_column] if args.label_column else None
        extra = {args.id_column: table.extra[args.id_column]} if args.id_column else None
        write = to_npz_bytes if output.suffix.lower() == ".npz" else to_parquet_bytes
        data = write(table.texts, result.vectors, labels=labels, extra=extra, model=model)
    from embedcore.io import write_atomically

    write_atomically(output, data)

    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    n, d = result.vectors.shape
    print(
        f"Wrote {n:,} × {d} vectors to {output}: {result.cached:,} cached, {result.fetched:,} fetched, "
        f"{result.prompt_tokens:,} tokens, {result.requests:,} {'request(s)' if kind.takes_url else 'batch(es)'}, "
        f"{result.elapsed:.1f} s."
    )
    return 0


def _project(args: argparse.Namespace) -> int:
    import numpy as np

    from embedcore import io
    from embedcore.analysis.projection import display_name, project

    source, output = Path(args.input), Path(args.output)
    if output.suffix.lower() not in (".npy", ".csv"):
        raise _CLIError(f"--output must end in .npy or .csv; got {output.name!r}.")
    if not source.is_file():
        raise _CLIError(f"{source} is not a file.")
    if source.suffix.lower() == ".npy":
        try:
            vectors = np.load(source, allow_pickle=False)
        except ValueError as exc:
            raise _CLIError(f"{source.name} is not a plain array of vectors: {exc}") from exc
    else:
        vectors = io.read_vectors(str(source), max_rows=None).vectors
    coords = project(vectors, args.method, args.dims, random_state=args.seed)
    csv = output.suffix.lower() == ".csv"
    io.write_atomically(output, io.to_coordinates_csv_bytes(coords) if csv else io.to_npy_bytes(coords))
    print(f"{len(coords):,} vectors mapped by {display_name(args.method)} to {output}", file=sys.stderr)
    return 0


def _models(args: argparse.Namespace) -> int:
    provider = _provider(args, cache=False)
    models = provider.list_models()
    if not models:
        print("The endpoint lists no models.")
        return 0

    def cell(value) -> str:
        return "?" if value is None else str(value)

    rows = [("MODEL", "DIMS", "MAX TOKENS", "LANGUAGES")] + [
        (m.id, cell(m.dimensions), cell(m.max_input_tokens), cell(m.languages)) for m in models
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=False)) + "  " + row[3]
        )
    return 0


def _stop_on_sigterm(_signum, _frame) -> None:
    # Turned into KeyboardInterrupt so the build's clean-up (temporary directory, lock) runs
    # when the dashboard stops a build, as it does on Ctrl-C.
    raise KeyboardInterrupt


def _quiet_transformers() -> None:
    # Its weight-loading bar and load report would bury the stages printed here.
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return  # build_static_model says which packages are missing
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _prepare_maps() -> None:
    from embedcore.analysis import projection

    started = time.perf_counter()
    projection.warm_up(background=False)
    print(f"UMAP's compiled code is cached ({time.perf_counter() - started:.0f} s).", file=sys.stderr)


def _prepare_samples() -> None:
    from embedcore.providers.sample_seed import build_sample_seed

    started = time.perf_counter()
    path, count = build_sample_seed()
    print(
        f"{count} sample texts embedded into {path} ({time.perf_counter() - started:.0f} s).", file=sys.stderr
    )


def _prepare(args: argparse.Namespace) -> int:
    if args.maps:
        _prepare_maps()
    if args.samples:
        _prepare_samples()
    from embedcore.providers.local import static_model_dir
    from embedcore.providers.prepare import (
        STAGES,
        BuildProgress,
        build_static_model,
        is_built,
        require_build_packages,
    )

    directory = static_model_dir(args.models_dir)
    as_json = args.progress == "json"
    if not as_json and is_built(directory):
        print(f"The static model is already prepared: {directory}", file=sys.stderr)
        return 0
    require_build_packages()
    if not as_json:
        print(f"Preparing {catalog.MINILM_STATIC_ID} in {directory} …", file=sys.stderr)
    shown = {"stage": "", "tenth": -1}

    def report(progress: BuildProgress) -> None:
        if as_json:
            print(
                json.dumps(
                    {
                        "stage": progress.stage,
                        "done": progress.done,
                        "total": progress.total,
                        "elapsed": round(progress.elapsed, 2),
                    }
                ),
                flush=True,
            )
            return
        tenth = int(10 * progress.done / progress.total) if progress.total else -1
        if progress.stage != shown["stage"] or tenth > shown["tenth"]:
            shown.update(stage=progress.stage, tenth=tenth)
            if progress.stage != "done":
                print(f"  {progress.text}", file=sys.stderr)

    _quiet_transformers()
    # signal.signal works in the main thread only (a test may call main() from another one).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if in_main else None
    try:
        built = build_static_model(directory, progress=report)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    if as_json:
        if not built:  # found built (perhaps after waiting for another process): no stages were told
            report(BuildProgress("done"))
    else:
        size_mb = sum(p.stat().st_size for p in directory.iterdir()) / 1e6
        print(
            f"{STAGES['done']}: {directory} ({size_mb:.0f} MB)"
            + ("" if built else ", built by another process"),
            file=sys.stderr,
        )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from embedcore.stores.cache import CACHE_FILENAME, default_cache_path
    from embedcore.stores.collections import COLLECTIONS_FILENAME
    from embedcore.stores.database import DATABASE_URL_ENV, Database, database_url_from_env
    from embedcore.stores.migrate import copy_to_postgres

    if args.to is not None:
        from embedcore.stores.database import parse_url

        try:
            has_password = bool(parse_url(args.to).get("password"))
        except ValueError:
            raise _CLIError(
                "--to is not a PostgreSQL URL; expected postgresql://user@host:5432/dbname."
            ) from None
        if has_password:
            raise _CLIError(
                "--to must not contain the password (command lines end up in shell history and the "
                f"process list): give it in {DATABASE_URL_ENV}, PGPASSWORD or ~/.pgpass."
            )
        url, setting = args.to, "--to"
    else:
        url, setting = database_url_from_env(), DATABASE_URL_ENV
        if url is None:
            raise _CLIError(f"Where to? Set {DATABASE_URL_ENV} (or pass --to postgresql://user@host/dbname).")
    folder = Path(args.source).expanduser() if args.source else default_cache_path().parent
    cache_file, collections_file = folder / CACHE_FILENAME, folder / COLLECTIONS_FILENAME
    if not cache_file.is_file() and not collections_file.is_file():
        raise _CLIError(
            f"There is nothing to copy in {folder}: no {CACHE_FILENAME} or {COLLECTIONS_FILENAME}."
        )

    database = Database(url, setting=setting)
    print(f"Copying {folder} into {database.display}…", file=sys.stderr)
    say = (lambda message: None) if args.quiet else (lambda message: print(f"  {message}", file=sys.stderr))
    try:
        report = copy_to_postgres(
            database, cache_path=cache_file, collections_path=collections_file, progress=say
        )
    finally:
        database.close()
    print(
        f"Vectors: {report.vectors_copied:,} copied, {report.vectors_present:,} already there"
        + (f", {report.vectors_damaged:,} unreadable and skipped" if report.vectors_damaged else "")
        + "."
    )
    print(
        f"Collections: {len(report.collections_copied)} copied, "
        f"{len(report.collections_present)} already there."
    )
    for name in report.collections_conflicting:
        print(
            f"warning: a different collection called {name!r} is already in the database; "
            "it was left as it is (rename the local one to copy it).",
            file=sys.stderr,
        )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from embedcore.evaluation.cli import run

    if args.provider == "local":
        _quiet_transformers()  # its weight-loading bar would tear the progress bar
    return run(args, _provider)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 bad usage, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        # The method registry is read only when its lists are shown or used.
        parser = _parser(methods=any(a in ("-h", "--help", "project") for a in argv))
    except EmbedcoreError as exc:  # a module named in $EMBEDCORE_PROVIDERS that cannot be imported
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    commands = {
        "embed": _embed,
        "project": _project,
        "models": _models,
        "prepare": _prepare,
        "migrate": _migrate,
        "evaluate": _evaluate,
    }
    try:
        return commands[args.command](args)
    except NotFoundError as exc:
        listed = exc.available and not all(name in str(exc) for name in exc.available)
        hint = f" Available: {', '.join(exc.available)}." if listed else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 1
    except EmbedcoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resumable = (args.command in ("embed", "evaluate") and not args.no_cache) or args.command == "migrate"
        print(
            "\ninterrupted"
            + (
                ": the batches that finished are kept; run the same command again to continue."
                if resumable
                else "."
            ),
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
