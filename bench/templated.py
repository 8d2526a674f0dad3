"""A 10k set of templated sentences, embedded with the real bundled MiniLM, cached like the corpus.

Many real collections are like this: notifications, tickets, log lines and reports written
from a few dozen templates, where only a name, a number or a date changes. Their kNN graph
falls apart into many small connected components (each template's near-duplicates are each
other's only neighbours), which is where umap-learn's spectral start is slowest: it lays
out every component separately (``multi_component_layout``).

The sentences are generated from fixed templates and word lists with a fixed seed, so the
set is the same on every machine; the vectors are embedded with all-MiniLM-L6-v2 through
sentence-transformers directly (as :mod:`bench.corpus` does), never faked. Cached in
``bench/results/templated_texts.json`` and ``templated.npy``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random

import numpy as np

from .common import RESULTS, log

TEXTS_FILE = RESULTS / "templated_texts.json"
VECTORS_FILE = RESULTS / "templated.npy"
#: Bump when the templates or word lists change, so stale caches are rebuilt.
VERSION = 1
#: Sentences in the set; smaller sizes are prefixes (the order is shuffled, so any prefix mixes all templates).
SIZE = 10_000

_NAMES = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
]
_CITIES = ["Berlin", "Madrid", "Lyon", "Porto", "Vienna", "Krakow", "Dublin", "Oslo", "Turin", "Ghent"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]
_PRODUCTS = [
    "blue kettle",
    "desk lamp",
    "garden hose",
    "winter jacket",
    "coffee grinder",
    "yoga mat",
    "road bike",
]
_TEAMS = ["Rovers", "United", "Athletic", "Wanderers", "City", "Rangers"]
_SERVICES = ["billing", "search", "login", "checkout", "upload", "reporting"]

# (label, template): each slot {x} is filled from the list of the same name in _SLOTS.
_TEMPLATES = [
    ("orders", "Order {num} for a {product} was shipped to {city} on {day}."),
    ("orders", "Your {product} from order {num} will arrive in {city} by {day}."),
    ("orders", "We have refunded {num} euros for the {product} you returned."),
    ("orders", "The {product} in order {num} is out of stock until {month}."),
    ("support", "{name} opened ticket {num}: the {service} page does not load."),
    ("support", "Ticket {num} from {name} about {service} was closed on {day}."),
    ("support", "{name} asked for a password reset on {day} at {hour} o'clock."),
    ("support", "Customer {name} in {city} reports that {service} is very slow."),
    ("logs", "Service {service} restarted after {num} failed health checks."),
    ("logs", "Disk usage on server {num} reached {pct} percent at {hour} o'clock."),
    ("logs", "The nightly {service} backup finished in {num} seconds on {day}."),
    ("logs", "Request to {service} timed out after {num} milliseconds."),
    ("weather", "Expect {pct} percent chance of rain in {city} on {day}."),
    ("weather", "Temperatures in {city} will reach {temp} degrees this {day}."),
    ("weather", "Strong winds of {num} km/h are forecast for {city} in {month}."),
    ("sports", "{team} beat {team2} {score} to {score2} on {day} in {city}."),
    ("sports", "{name} scored twice as {team} won in {city} last {day}."),
    ("sports", "Tickets for {team} against {team2} in {month} are sold out."),
    ("calendar", "Meeting with {name} moved to {day} at {hour} o'clock in {city}."),
    ("calendar", "{name} is on holiday from {month} {date} to {month2} {date2}."),
    ("calendar", "Reminder: dentist appointment on {day} at {hour} o'clock."),
    ("finance", "Invoice {num} of {price} euros from {name} is due on {month} {date}."),
    ("finance", "Your card was charged {price} euros at a shop in {city}."),
    ("finance", "Salary of {price} euros was paid to account {num} on {day}."),
    ("travel", "Flight {num} from {city} to {city2} is delayed by {hour} hours."),
    ("travel", "Train {num} to {city} departs from platform {hour} at {day} noon."),
    ("travel", "Your hotel booking in {city} for {date} nights is confirmed."),
]


def _slots(rng: random.Random) -> dict[str, str]:
    city, city2 = rng.sample(_CITIES, 2)
    team, team2 = rng.sample(_TEAMS, 2)
    month, month2 = rng.sample(_MONTHS, 2)
    return {
        "name": rng.choice(_NAMES),
        "city": city,
        "city2": city2,
        "day": rng.choice(_DAYS),
        "month": month,
        "month2": month2,
        "product": rng.choice(_PRODUCTS),
        "team": team,
        "team2": team2,
        "service": rng.choice(_SERVICES),
        "num": str(rng.randrange(100, 99_999)),
        "pct": str(rng.randrange(5, 100)),
        "hour": str(rng.randrange(1, 13)),
        "temp": str(rng.randrange(-10, 40)),
        "score": str(rng.randrange(0, 6)),
        "score2": str(rng.randrange(0, 6)),
        "date": str(rng.randrange(1, 29)),
        "date2": str(rng.randrange(1, 29)),
        "price": f"{rng.randrange(5, 5000)}.{rng.randrange(0, 100):02d}",
    }


def build_texts(n: int = SIZE) -> tuple[list[str], list[str]]:
    """``n`` distinct templated sentences and their labels (the template's domain), seeded."""
    rng = random.Random(0)
    seen: dict[str, str] = {}
    for label, template in itertools.cycle(_TEMPLATES):
        if len(seen) >= n:
            break
        seen.setdefault(template.format(**_slots(rng)), label)
    items = list(seen.items())
    rng.shuffle(items)
    return [t for t, _ in items], [label for _, label in items]


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def _check_size(n: int) -> None:
    if n > SIZE:
        raise RuntimeError(f"the templated set has {SIZE} sentences, {n} were asked for")


def load_texts(n: int = SIZE) -> tuple[list[str], list[str]]:
    """The first ``n`` sentences and labels (rebuilt in ~0.1 s; also written to ``templated_texts.json``)."""
    _check_size(n)
    texts, labels = build_texts()
    RESULTS.mkdir(parents=True, exist_ok=True)
    TEXTS_FILE.write_text(json.dumps({"version": VERSION, "texts": texts, "labels": labels}))
    return texts[:n], labels[:n]


def _embed_worker() -> int:
    from sentence_transformers import SentenceTransformer

    from .corpus import model_path

    texts, _ = build_texts()
    log(f"embedding {len(texts)} templated sentences with MiniLM (once; minutes on a busy machine) ...")
    model = SentenceTransformer(model_path(), device="cpu")
    vectors = model.encode(
        texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    ).astype(np.float32)
    tmp = VECTORS_FILE.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(VECTORS_FILE)
    VECTORS_FILE.with_suffix(".json").write_text(json.dumps({"rows": len(texts), "digest": _digest(texts)}))
    return len(texts)


def load_vectors(n: int = SIZE) -> np.ndarray:
    """Real MiniLM vectors of the first ``n`` sentences, float32 (n, 384); embedded once, then cached.

    Embeds in a fresh process (so the caller never imports torch for it).
    """
    _check_size(n)
    texts, _ = build_texts()
    meta_file = VECTORS_FILE.with_suffix(".json")
    fresh = False
    if VECTORS_FILE.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        fresh = meta.get("rows") == len(texts) and meta.get("digest") == _digest(texts)
    if not fresh:
        from .common import run_fresh

        run_fresh("bench.templated:_embed_worker", {}, timeout=None)
    return np.load(VECTORS_FILE, mmap_mode="r")[:n].copy()
