"""Write ``embedcore/samples/docs.csv.gz``: the built-in large sample (10,000 real sentences).

    python scripts/make_docs_sample.py

Sentences of prose from documentation that ships with Python and with permissively licensed
packages (PSF, BSD-3-Clause, Apache-2.0 — see ``embedcore/samples/NOTICE.md``), each labelled
with its source, taken round-robin across the sources so that no one package fills the map.
What is installed differs between machines, so the output is committed: every machine then
shows the same sample. Run again only to make a new version of it (and update embedcore/samples/NOTICE.md).
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import _docstrings, _sentences  # noqa: E402  (the same prose filter as the bench)

OUTPUT = ROOT / "embedcore" / "samples" / "docs.csv.gz"
SIZE = 10_000
#: Packages whose docstrings may be redistributed with a notice (licence in embedcore/samples/NOTICE.md).
PACKAGES = ("numpy", "scipy", "sklearn", "pandas", "networkx", "sympy", "torch", "transformers", "streamlit")


def blocks() -> dict[str, list[str]]:
    """Source label -> blocks of documentation text."""
    import pydoc_data.topics

    found: dict[str, list[str]] = {"python reference": []}
    for key in sorted(pydoc_data.topics.topics):
        found["python reference"].append(pydoc_data.topics.topics[key])
    found["python stdlib"] = list(_docstrings(Path(sysconfig.get_paths()["stdlib"])))
    site = Path(sysconfig.get_paths()["purelib"])
    for package in PACKAGES:
        if (site / package).is_dir():
            found[package] = list(_docstrings(site / package))
    return found


def main() -> int:
    per_source: dict[str, list[str]] = {}
    seen: set[str] = set()
    for label, texts in blocks().items():
        sentences = []
        for block in texts:
            for sentence in _sentences(block):
                if sentence not in seen:
                    seen.add(sentence)
                    sentences.append(sentence)
        sentences.sort()
        random.Random(label).shuffle(sentences)
        per_source[label] = sentences
    rows: list[tuple[str, str]] = []
    depth = 0
    while len(rows) < SIZE and any(depth < len(s) for s in per_source.values()):
        for label, sentences in per_source.items():
            if depth < len(sentences) and len(rows) < SIZE:
                rows.append((sentences[depth], label))
        depth += 1
    random.Random(0).shuffle(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    # mtime=0: the same sentences give the same bytes.
    OUTPUT.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=9, mtime=0))
    counts = {label: sum(1 for _, lab in rows if lab == label) for label in per_source}
    print(f"{len(rows)} sentences -> {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB): {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
