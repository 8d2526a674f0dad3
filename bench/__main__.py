"""``python -m bench [NAME ...] [--quick]`` — run benchmarks, print one table, write results/latest.md.

Every benchmark runs in its own fresh interpreter (and starts more where a "fresh process"
is what is measured), so one benchmark's imports and memory never colour another's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

from .common import RESULTS, Row, log, run_fresh

#: name -> (worker target, what it checks). Run in this order by default.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "umap": (
        "bench.maps:rows",
        "2-D maps of 10k texts (corpus, templated): UMAP fresh / new set warm, quality, stability; PCA; 1k",
    ),
    "rate_limit": (
        "bench.api:rate_limit_rows",
        "embedding through a rate-limited API vs naive loop and openai SDK",
    ),
    "cache": ("bench.api:cache_rows", "the same 10k texts again: 0 requests, ≤ 1 s"),
    "local": ("bench.local_model:rows", "LocalModel.embed vs sentence-transformers directly"),
    "cosine": ("bench.cosine:rows", "cosine_matrix 10k² vs raw matmul; top_k 50k² memory"),
    "cluster_names": (
        "bench.cluster_names:rows",
        "cluster names on the labelled samples: share holding a word of their label, vs the previous names",
    ),
    "browser": ("bench.browser:rows", "50k-point WebGL map in headless chromium vs SVG; heatmap payload"),
    "reruns": ("bench.app:rerun_rows", "display-only widget reruns of the explorer page with 10k texts"),
    "memory": ("bench.app:memory_rows", "RSS of the app with 10k texts embedded and mapped"),
    "first_visit": (
        "bench.first_visit:rows",
        "a visitor in chromium: cold server → first and final map, idle CPU, in-app embedding of 1,500 texts",
    ),
    "large_map": (
        "bench.large_map:rows",
        "100k texts with vectors from a file: read, open → map, reruns, hover in chromium, peak RSS",
    ),
    "cloud": (
        "bench.cloud:rows",
        "the API-only install (Community Cloud): first visit map times, peak RSS for the sample, 10k, 20k, 100k",
    ),
    "visitors": (
        "bench.visitors:rows",
        "8 chromium visitors at once, each uploading 400 texts to the explorer: slowest vs fair share, RSS",
    ),
    "visitors_browsers_below": (
        "bench.visitors:rows_browsers_below_server",
        "the visitors bench with chromium at nice 19: the server's cores as if the browsers were elsewhere",
    ),
    "team": (
        "bench.team:rows",
        "3 replicas on one PostgreSQL + pgvector: shared cache, claims, one rate limit, search on 100k chunks",
    ),
    "budget": (
        "bench.budget:rows",
        "an action with the budget on the operator's token vs without, SQLite and PostgreSQL",
    ),
    "views": (
        "bench.views:rows",
        "a saved view of 20,000 texts opened in chromium vs building the same map from cached texts",
    ),
    "evaluate": (
        "bench.evaluate:rows",
        "retrieval scoring of 10k queries × 100k docs (384-d): streamed top-100 + metrics vs one blocked GEMM",
    ),
}

#: Benchmarks that generate their own vectors: the shared corpus is not embedded for them.
_NO_CORPUS = {"evaluate"}

HEADER = ("target", "peer", "ours", "peer figure", "ratio", "goal", "met?")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "**NO**")
        cells = (r.target, r.peer, r.ours, r.peer_figure, r.ratio, r.goal, met)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def notes(rows: list[Row]) -> str:
    out = [f"- **{r.target}**: {note}" for r in rows for note in r.notes]
    return "\n".join(out)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def _load() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke check in ~3 minutes")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    options = parser.parse_args(argv)
    if options.list:
        for name, (_, what) in BENCHMARKS.items():
            print(f"{name:12} {what}")
        return 0
    unknown = [n for n in options.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = options.names or list(BENCHMARKS)

    started = time.perf_counter()
    load_before = _load()
    from .corpus import load_texts, load_vectors

    # The corpus first (cached after the first run): embedding it must not land inside a figure.
    # Benchmarks on vectors they make themselves need none of it.
    if set(names) - _NO_CORPUS:
        need = 5_000 if options.quick else (50_000 if "cosine" in names else 10_000)
        load_texts(need)
        load_vectors(need)

    all_rows: list[Row] = []
    for name in names:
        target, what = BENCHMARKS[name]
        print(f"== {name}: {what}{' (quick)' if options.quick else ''}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            got = run_fresh(target, {"quick": options.quick}, timeout=1800)
            rows = [Row.from_json(r) for r in got]
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            log(f"{name} FAILED: {exc}")
            rows = [Row(name, "—", "error", "—", "—", "—", False, [f"failed: {str(exc)[-600:]}"])]
        log(f"{name} took {time.perf_counter() - t0:.0f} s")
        all_rows.extend(rows)

    elapsed = time.perf_counter() - started
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    header = (
        f"Benchmarks{' (--quick)' if options.quick else ''}, {stamp}: {_machine()}; "
        f"load average {load_before} before, {_load()} after; {elapsed / 60:.1f} min."
    )
    text = f"{header}\n\n{table(all_rows)}\n"
    if any(r.notes for r in all_rows):
        text += f"\nNotes:\n\n{notes(all_rows)}\n"
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "latest.md" if not options.names else f"latest-{'-'.join(names)}.md"
    if options.quick:
        name = name.replace("latest", "latest-quick")
    (RESULTS / name).write_text(text)
    print(f"(written to {RESULTS / name})")
    # A missed target is a finding shown in the table; only a benchmark that crashed fails the run.
    return 1 if any(r.ours == "error" for r in all_rows) else 0


if __name__ == "__main__":
    sys.exit(main())
