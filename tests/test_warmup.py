"""embedcore.warmup: the slow first steps of a process begin in the background, once."""

from __future__ import annotations

import itertools
import threading

import pytest

from embedcore import projection, warmup


def test_turned_off_by_the_environment_starts_nothing(monkeypatch):
    monkeypatch.setenv("EMBEDCORE_WARM_UP", "off")
    before = threading.active_count()
    assert warmup.enabled() is False
    assert warmup.start() is False
    assert threading.active_count() == before


@pytest.mark.slow
def test_loads_the_bundled_model_and_umap_code_in_the_background(monkeypatch):
    monkeypatch.setenv("EMBEDCORE_WARM_UP", "1")
    assert warmup.start() is True
    assert warmup.start() is True  # idempotent: the same threads, nothing started twice
    names = [t.name for t in threading.enumerate()]
    assert names.count("embedcore-warm-up") <= 1
    projection.warm_up().join(timeout=300)
    assert projection.is_warm() and projection.warm_up_error() is None
    assert warmup.model_ready(timeout=300)
    # In the order a first visit needs them: the model load never takes CPU from the figures
    # and the first UMAP (the default page's vectors ship with the install).
    order = warmup.steps()
    assert [name for name, _, _ in order] == ["import_figures", "warm_up_umap", "load_local_model"]
    assert all(previous[2] <= following[1] for previous, following in itertools.pairwise(order))
    from embedcore.local import LocalModel

    # Loaded once per process: a new provider finds the model in memory.
    assert LocalModel(cache=None).load() < 1.0
