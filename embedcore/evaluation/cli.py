"""``python -m embedcore evaluate {sts,retrieval,bitext,classification} …``: the command line's part.

    python -m embedcore evaluate sts pairs.csv --model all-MiniLM-L6-v2 -o results.json
    python -m embedcore evaluate retrieval beir-folder/ --provider ionos --model BAAI/bge-m3 --model BAAI/bge-large-en-v1.5
    python -m embedcore evaluate retrieval --corpus c.jsonl --queries q.jsonl --qrels test.tsv
    python -m embedcore evaluate classification --builtin --estimate

The results file is JSON: ``{"task", "source", "confidence", "n_boot", "results": [{"task",
"model", "metrics", "ci", "n_items", "cost", "failures", ...}, ...], "comparisons": [...]}``
(one entry in ``results`` per ``--model``). Every batch is cached as it arrives, so an
interrupted run is resumed by running the same command again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from embedcore.errors import EmbedcoreError
from embedcore.providers import catalog

__all__ = ["add_parser", "run"]

_DESCRIPTION = """\
Evaluate 1-3 embedding models on labelled data and write the metrics with 95 % bootstrap
intervals, paired tests between the models, the cost and the worst items.

tasks and their files:
  sts             CSV/TSV/JSONL with text_a, text_b, score (any numeric scale)
                  -> Spearman and Pearson of cosine vs score
  retrieval       a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv or qrels.tsv),
                  --corpus/--queries/--qrels, or one CSV of query, relevant pairs
                  -> nDCG@10, MRR@10, Recall@1/10/100, MAP@100
  bitext          text, sentence_id, language -> accuracy and MRR of finding the translation
  classification  text, label -> k-NN accuracy and macro-F1 (stratified 5-fold), k-means V-measure
"""


class EvaluateUsageError(EmbedcoreError):
    """A problem with the command's own arguments."""


def add_parser(commands, provider_options, epilog: str) -> None:
    """Register ``evaluate`` on the command line's subparsers (called from ``embedcore.__main__``)."""
    from embedcore.evaluation.tasks import TASK_KINDS

    p = commands.add_parser(
        "evaluate",
        help="evaluate 1-3 models on labelled data (sts, retrieval, bitext, classification)",
        description=_DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", choices=TASK_KINDS, help="what to measure")
    p.add_argument(
        "input", nargs="?", metavar="INPUT", help="the labelled file (retrieval: a BEIR folder or a CSV)"
    )
    p.add_argument("--builtin", action="store_true", help="use the built-in offline set for the task instead")
    p.add_argument("--corpus", help="retrieval: corpus.jsonl (_id, title, text)")
    p.add_argument("--queries", help="retrieval: queries.jsonl (_id, text)")
    p.add_argument("--qrels", help="retrieval: qrels TSV with a header (query-id, corpus-id, score)")
    p.add_argument("--text-column", help="bitext/classification: the texts' column (default: text)")
    p.add_argument("--label-column", help="classification: the labels' column (default: label)")
    p.add_argument("--id-column", help="bitext: the sentence id column (default: sentence_id or id)")
    p.add_argument("--language-column", help="bitext: the language column (default: language)")
    provider_options(p)
    p.add_argument(
        "--model",
        action="append",
        help=f"model id, up to 3 times to compare models (local default: {catalog.MINILM_ID})",
    )
    p.add_argument("--output", "-o", help="write the results as JSON here")
    p.add_argument("--items", help="write every item's scores as CSV here (one file; a 'model' column)")
    p.add_argument("--estimate", action="store_true", help="print what the run would cost, send nothing")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resamples and folds (default: 0)")
    p.add_argument("--batch-size", type=int, default=None, help="texts per batch (default: 64)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the vector cache")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _read(path: str) -> tuple[bytes, str]:
    try:
        return Path(path).read_bytes(), Path(path).name
    except OSError as exc:
        raise EvaluateUsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def load_task(args: argparse.Namespace):
    """The task the arguments name: a built-in set or the files given."""
    from embedcore.evaluation import tasks
    from embedcore.evaluation.builtin import load_builtin

    beir = (args.corpus, args.queries, args.qrels)
    if args.builtin:
        if args.input or any(beir):
            raise EvaluateUsageError("Give either --builtin or files, not both.")
        return load_builtin(args.task)
    if args.task == "retrieval" and any(beir):
        if not all(beir):
            raise EvaluateUsageError("A BEIR set needs all three of --corpus, --queries and --qrels.")
        return tasks.read_retrieval(_read(args.corpus), _read(args.queries), _read(args.qrels))
    if not args.input:
        raise EvaluateUsageError(
            f"Give the labelled file for {args.task}, or --builtin for the built-in set."
        )
    if args.task == "retrieval" and Path(args.input).is_dir():
        folder = Path(args.input)
        qrels = next((q for q in (folder / "qrels" / "test.tsv", folder / "qrels.tsv") if q.is_file()), None)
        if qrels is None:
            raise EvaluateUsageError(f"{folder} has neither qrels/test.tsv nor qrels.tsv.")
        return tasks.read_retrieval(
            _read(str(folder / "corpus.jsonl")), _read(str(folder / "queries.jsonl")), _read(str(qrels))
        )
    data = _read(args.input)
    if args.task == "sts":
        return tasks.read_sts(*data)
    if args.task == "retrieval":
        return tasks.read_retrieval_pairs(*data)
    if args.task == "bitext":
        return tasks.read_bitext(
            *data, text=args.text_column, sentence_id=args.id_column, language=args.language_column
        )
    return tasks.read_classification(*data, text=args.text_column, label=args.label_column)


def run(args: argparse.Namespace, make) -> int:
    """Run ``evaluate``; ``make(args, **kwargs)`` builds the provider as ``embed`` does."""
    from embedcore.evaluation.run import estimate_cost, evaluate
    from embedcore.io import write_atomically

    for option in ("output", "items"):
        value = getattr(args, option)
        if value and not Path(value).parent.is_dir():
            raise EvaluateUsageError(f"The folder for --{option} does not exist: {Path(value).parent}.")
    models = args.model or ([catalog.MINILM_ID] if args.provider == "local" else [])
    if not models:
        raise EvaluateUsageError(
            f"--model is required for the {args.provider} provider; "
            f"`embedcore models --provider {args.provider}` lists them."
        )
    if len(models) > 3:
        raise EvaluateUsageError(f"Compare at most 3 models at once; got {len(models)}.")
    if len(set(models)) != len(models):
        raise EvaluateUsageError("The same --model is given twice.")
    if args.batch_size is not None and args.batch_size < 1:
        raise EvaluateUsageError("--batch-size must be at least 1.")
    if args.bootstrap < 0:
        raise EvaluateUsageError("--bootstrap must be 0 or more.")

    task = load_task(args)
    for warning in task.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sizes = {"batch_size": args.batch_size} if args.batch_size else {}
    provider = make(args, cache=False if args.no_cache else None, **sizes)
    print(
        f"{args.task}: {task.n_items:,} items, {len(task.texts()):,} distinct texts ({task.source}).",
        file=sys.stderr,
    )
    for model in models:
        e = estimate_cost(task, provider, model)
        print(
            f"  {model}: {e.to_embed:,} texts to embed ({e.cached:,} cached), about {e.tokens_estimate:,} "
            f"tokens (at most {e.tokens_max:,}), {e.requests:,} "
            f"{'batch(es)' if args.provider == 'local' else 'request(s)'}",
            file=sys.stderr,
        )
    if args.estimate:
        return 0

    from tqdm import tqdm

    with tqdm(
        total=100, unit="%", file=sys.stderr, disable=args.quiet, mininterval=0.5, dynamic_ncols=True
    ) as bar:

        def progress(p) -> None:
            bar.set_description(f"{p.stage} {p.model[-30:]}", refresh=False)
            bar.update(round(100 * p.fraction) - bar.n)

        report = evaluate(
            task, [(provider, m) for m in models], progress=progress, n_boot=args.bootstrap, seed=args.seed
        )

    _print_report(report)
    if args.output:
        write_atomically(Path(args.output), report.to_json().encode("utf-8"))
        print(f"Wrote {args.output}.", file=sys.stderr)
    if args.items:
        import pandas as pd

        frames = [r.items.assign(model=r.model) for r in report.results]
        write_atomically(
            Path(args.items), pd.concat(frames, ignore_index=True).to_csv(index=False).encode("utf-8")
        )
        print(f"Wrote {args.items}.", file=sys.stderr)
    return 0


def _print_report(report) -> None:
    level = round(report.confidence * 100)
    for r in report.results:
        print(f"{r.model}  ({r.n_items:,} items)")
        for name, value in r.metrics.items():
            low, high = r.ci[name]
            print(f"  {name:<12} {value:.4f}   {level}% CI [{low:.4f}, {high:.4f}]")
        c = r.cost
        print(
            f"  cost: {c.get('embedded', 0):,} embedded, {c.get('cached', 0):,} cached, "
            f"{c.get('tokens', 0):,} tokens, {c.get('requests', 0):,} requests, {c.get('seconds', 0):.1f} s"
        )
        for warning in r.warnings:
            print(f"  warning: {warning}")
    for sentence in report.verdicts():
        print(sentence)
