"""100,000 real texts with real vectors, written as the batch command line writes them.

The offline corpus (:mod:`bench.corpus`) has about 69,000 distinct sentences on this machine.
The rest, up to 100,000, are near-duplicates of corpus sentences — what real corpora are
full of (the same sentence with a prefix, without its last word, with one word changed) —
each embedded with the real model, never made up. Labels are the sources of the sentences.

Cached in ``bench/results/`` (gitignored): ``large_texts.json`` and ``large.npy`` (float32,
rows in the order of the texts). The vectors come from the static distillation of MiniLM
(model2vec, 256 dimensions) that ``make`` builds at install, called directly: all-MiniLM-L6-v2
itself embeds ~100 texts/s on two busy cores (a quarter of an hour or more for 100k), the
static model 100,000 in seconds — and the explorer's cost at this size is in the map, the
hover texts and the reruns, not in the width of the vectors.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from embedcore.providers.catalog import MINILM_STATIC_ID as MODEL
from embedcore.providers.local import STATIC_BUILD_NAME as STATIC_BUILD

from .common import RESULTS, log

TEXTS_FILE = RESULTS / "large_texts.json"
VECTORS_FILE = RESULTS / "large.npy"
SIZE = 100_000
_THE = re.compile(r"\bthe\b")


def _near_duplicate(sentence: str, i: int) -> str:
    """A deterministic, realistic variant of ``sentence`` (the ``i``-th made)."""
    kind = i % 3
    if kind == 0:
        return f"Note: {sentence}"
    if kind == 1:
        words = sentence[:-1].split()
        return " ".join(words[:-1]) + sentence[-1] if len(words) > 6 else f"In short, {sentence}"
    changed = _THE.sub("this", sentence, count=1)
    return changed if changed != sentence else f"{sentence[:-1]}, as documented{sentence[-1]}"


def build_texts(n: int = SIZE) -> tuple[list[str], list[str]]:
    """The corpus's distinct sentences, then near-duplicates of them, ``n`` in all (distinct)."""
    from . import corpus

    data = json.loads(corpus.TEXTS_FILE.read_text()) if corpus.TEXTS_FILE.exists() else None
    if data is None or data.get("version") != corpus.CORPUS_VERSION:
        corpus.load_texts(1)  # builds the corpus file
        data = json.loads(corpus.TEXTS_FILE.read_text())
    base_texts, base_labels = data["texts"], data["labels"]
    texts, labels = list(base_texts[:n]), list(base_labels[:n])
    seen = set(texts)
    i = 0
    while len(texts) < n:
        source = i % len(base_texts)
        variant = _near_duplicate(base_texts[source], i)
        i += 1
        if variant not in seen:
            seen.add(variant)
            texts.append(variant)
            labels.append(base_labels[source])
    return texts, labels


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()


def load_texts(n: int = SIZE) -> tuple[list[str], list[str]]:
    """The first ``n`` large-set texts and labels (built and cached on first use)."""
    if TEXTS_FILE.exists():
        data = json.loads(TEXTS_FILE.read_text())
        if len(data["texts"]) >= n:
            return data["texts"][:n], data["labels"][:n]
    texts, labels = build_texts(max(n, SIZE))
    RESULTS.mkdir(parents=True, exist_ok=True)
    TEXTS_FILE.write_text(json.dumps({"digest": _digest(texts), "texts": texts, "labels": labels}))
    return texts[:n], labels[:n]


def _meta_file() -> Path:
    return VECTORS_FILE.with_suffix(".json")


def _have(texts: list[str]) -> np.ndarray | None:
    meta = _meta_file()
    if not (VECTORS_FILE.exists() and meta.exists()):
        return None
    info = json.loads(meta.read_text())
    have = np.load(VECTORS_FILE, mmap_mode="r")
    if info["rows"] != len(have) or info["digest"] != _digest(texts[: len(have)]):
        return None
    return have


def static_model_path() -> str:
    """The static MiniLM the app builds at install (``make``), or the one the tests share."""
    import os

    from embedcore.providers.local import static_model_dir

    shared = os.environ.get("EMBEDCORE_TEST_MODELS_DIR")
    if shared and (Path(shared) / STATIC_BUILD).is_dir():
        return str(Path(shared) / STATIC_BUILD)
    return str(static_model_dir())


def _embed_missing(n: int) -> None:
    texts, _ = load_texts(n)
    if (have := _have(texts)) is not None and len(have) >= n:
        return
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(static_model_path(), normalize=True)
    log(f"embedding {n:,} large-set texts with the static MiniLM (model2vec) ...")
    vectors = model.encode(texts, batch_size=2048).astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    tmp = VECTORS_FILE.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(VECTORS_FILE)
    _meta_file().write_text(json.dumps({"rows": len(vectors), "digest": _digest(texts), "model": MODEL}))


def load_vectors(n: int = SIZE) -> np.ndarray:
    """Real vectors of the first ``n`` large-set texts by :data:`MODEL`, float32 (n, 256)."""
    texts, _ = load_texts(max(n, SIZE))  # the vectors file holds all SIZE rows
    have = _have(texts)
    if have is None or len(have) < n:
        from .common import run_fresh

        run_fresh("bench.large_data:_embed_worker", {"n": SIZE}, timeout=None)
        have = _have(texts)
    return np.array(have[:n])


def _embed_worker(n: int) -> int:
    _embed_missing(n)
    return n


if __name__ == "__main__":  # python -m bench.large_data [N]: build the texts and embed them
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else SIZE
    print(load_vectors(count).shape)
