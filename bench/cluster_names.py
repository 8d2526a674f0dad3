"""Cluster names a person would give, measured on the labelled samples (issue 19, item 4).

The measure: a cluster's name *hits* when it holds a word of its majority label's reference
terms — the label's own words and the 15 most frequent content words of that label's texts
(English stop words, numbers and words under three letters left out). A label is a human's
name for a group of texts, so a name that shares none of its words tells a reader little.

Figures: the share of clusters whose name hits, over k-means (k = the number of labels) and
HDBSCAN (default parameters) clusterings of the ``topics`` sample (100 texts, 5 themes) and of
the first 1,500 texts of the ``docs`` sample (11 packages; the 1,500-text set of the issue's
walkthrough). Peer, on the very same clusters: the naming the app used before (c-TF-IDF's
three best single words, no diversity, :func:`previous_names`, kept here unchanged). Also
reported: the share of texts HDBSCAN puts in a cluster.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .common import Row, log

#: Most frequent content words of a label that count as its reference terms.
TOP_TERMS = 15
_WORD = re.compile(r"[^\W\d_]{3,}")


def reference_terms(texts: Sequence[str], labels: Sequence[str], top: int = TOP_TERMS) -> dict[str, set[str]]:
    """``{label: words}``: the label's own words and its texts' ``top`` most frequent content words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    counts: dict[str, Counter] = {}
    for text, label in zip(texts, labels, strict=True):
        words = (w for w in _WORD.findall(str(text).lower()) if w not in ENGLISH_STOP_WORDS)
        counts.setdefault(label, Counter()).update(words)
    return {
        label: {w for w, _ in counter.most_common(top)} | set(_WORD.findall(str(label).lower()))
        for label, counter in counts.items()
    }


def name_hits(
    names: Sequence[str], clusters: np.ndarray, labels: Sequence[str], terms: dict[str, set[str]]
) -> list[tuple[bool, int, int]]:
    """For each cluster ``c`` (``names[c]``): does its name hold a reference term of its majority
    label, and how many of its words are such terms, of how many."""
    out = []
    for c, name in enumerate(names):
        members = np.flatnonzero(clusters == c)
        if not members.size:
            continue
        majority = Counter(labels[i] for i in members).most_common(1)[0][0]
        words = _WORD.findall(name.lower())
        good = sum(w in terms[majority] for w in words)
        out.append((good > 0, good, len(words)))
    return out


def previous_names(texts: Sequence[str], clusters, words: int = 3) -> list[str]:
    """The app's naming before issue 19 (``embedcore.analysis.explore.cluster_names`` as of d429443), the peer."""
    from sklearn.feature_extraction.text import CountVectorizer

    codes = np.asarray(clusters, dtype=np.int64).ravel()
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    documents = [" ".join(str(texts[i]) for i in np.flatnonzero(codes == c)) for c in range(n_clusters)]
    names = [f"cluster {c}" for c in range(n_clusters)]
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    counts = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    vocabulary = vectorizer.get_feature_names_out()
    frequency = counts.sum(axis=0)
    average_words = counts.sum() / max(n_clusters, 1)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    scores = tf * np.log1p(average_words / np.maximum(frequency, 1.0))
    for c in range(n_clusters):
        ranked = sorted(np.flatnonzero(counts[c]), key=lambda j: (-scores[c, j], vocabulary[j]))
        if ranked:
            names[c] = ", ".join(vocabulary[j] for j in ranked[:words])
    return names


def _data_sets(quick: bool):
    from embedcore import io as eio
    from embedcore.providers.local import LocalModel

    model = LocalModel(cache=None)
    topics = eio.load_sample("topics")
    docs = eio.load_sample("docs")
    n_docs = 500 if quick else 1_500
    for name, texts, labels in (
        ("topics", topics.texts, topics.labels),
        (f"docs[:{n_docs}]", docs.texts[:n_docs], docs.labels[:n_docs]),
    ):
        vectors = model.embed(list(texts), "sentence-transformers/all-MiniLM-L6-v2").vectors
        yield name, list(texts), list(labels), vectors


def measure(quick: bool = False) -> dict:
    """Hits of the new and the previous names on the same clusterings; HDBSCAN's clustered share."""
    from embedcore.analysis.explore import cluster_names
    from embedcore.analysis.similarity import hdbscan_labels, kmeans_labels

    ours: list[bool] = []
    peer: list[bool] = []
    clustered = {}
    examples = {}
    for name, texts, labels, vectors in _data_sets(quick):
        terms = reference_terms(texts, labels)
        for method, clusters in (
            ("k-means", kmeans_labels(vectors, len(set(labels)))),
            ("HDBSCAN", hdbscan_labels(vectors)),
        ):
            new, old = cluster_names(texts, clusters), previous_names(texts, clusters)
            hits_new, hits_old = (
                name_hits(new, clusters, labels, terms),
                name_hits(old, clusters, labels, terms),
            )
            ours += hits_new
            peer += hits_old
            log(f"{name} {method}: {_share(hits_new)} vs {_share(hits_old)} before")
            log(f"   new: {new[:6]}")
            log(f"   old: {old[:6]}")
            examples[f"{name} {method}"] = new[:4]
            if method == "HDBSCAN":
                # Before issue 19: smallest cluster 1 % of n (5..100), min_samples up to 10.
                old_size = int(min(100, max(5, round(len(texts) / 100))))
                before = hdbscan_labels(vectors, old_size, min_samples=min(old_size, 10))
                clustered[name] = [(float((c >= 0).mean()), int(c.max()) + 1) for c in (clusters, before)]
    return {"ours": ours, "peer": peer, "clustered": clustered, "examples": examples}


def _share(hits: list) -> str:
    named = sum(h[0] for h in hits)
    good, total = sum(h[1] for h in hits), sum(h[2] for h in hits)
    return f"{named}/{len(hits)} names hit, {good}/{total} words"


def rows(quick: bool = False) -> list[Row]:
    got = measure(quick)
    ours, peer = [tuple(h) for h in got["ours"]], [tuple(h) for h in got["peer"]]
    share, share_peer = (sum(h[0] for h in x) / len(x) for x in (ours, peer))
    words, words_peer = (sum(h[1] for h in x) / max(sum(h[2] for h in x), 1) for x in (ours, peer))
    notes = [
        f"HDBSCAN on {name}: {c} clusters holding {s:.0%} of the texts (before: {c0} clusters, {s0:.0%})"
        for name, ((s, c), (s0, c0)) in got["clustered"].items()
    ]
    notes += [f"{where}: {'; '.join(names)}" for where, names in got["examples"].items()]
    peer_name = "the previous names (c-TF-IDF top 3 words) of the same clusters"
    figures = (
        (
            "cluster names holding a word of their majority label's top terms",
            share,
            share_peer,
            _share(ours),
            notes,
        ),
        ("words of cluster names that are top terms of their majority label", words, words_peer, "", []),
    )
    return [
        Row(
            target=target,
            peer=peer_name,
            ours=f"{value:.0%}" + (f" ({detail})" if detail else ""),
            peer_figure=f"{before:.0%}",
            ratio=f"{(value - before) * 100:+.0f} points",
            goal="≥ peer",
            met=value >= before,
            notes=row_notes,
        )
        for target, value, before, detail, row_notes in figures
    ]
