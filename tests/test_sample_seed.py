"""The sample vectors prepared at install: a new user's empty cache answers the default sample."""

from __future__ import annotations

import numpy as np
import pytest

from embedcore import io
from embedcore.providers import catalog
from embedcore.providers.local import SAMPLE_SEED_FILENAME, LocalModel
from embedcore.providers.sample_seed import build_sample_seed
from embedcore.stores.cache import EmbeddingCache

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(tmp_path, monkeypatch, local_model):
    monkeypatch.setenv("EMBEDCORE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("EMBEDCORE_SAMPLE_SEED", "1")
    # The small samples only: the 10,000-sentence docs sample would add minutes per test, and
    # its texts go through the very same code.
    path, count = build_sample_seed(names=("seed", "topics", "multilingual"))
    assert path == tmp_path / "models" / SAMPLE_SEED_FILENAME and path.is_file()
    assert not list(path.parent.glob(".*partial*"))  # written whole, then renamed
    return count


def test_a_fresh_cache_answers_the_samples_from_the_seed_with_the_models_own_vectors(
    seeded, tmp_path, local_model
):
    topics = io.load_sample("topics").texts
    assert seeded >= len(topics)
    user_cache = EmbeddingCache(tmp_path / "user" / "embeddings.sqlite3")
    result = LocalModel(cache=user_cache).embed(topics, catalog.MINILM_ID)
    assert (result.cached, result.fetched) == (100, 0)
    fresh = local_model.embed(topics, catalog.MINILM_ID).vectors  # no cache: the model itself
    np.testing.assert_allclose(result.vectors, fresh, atol=1e-5)
    # The hits were copied into the user's own cache: counted and clearable like any other.
    assert user_cache.count("local:", catalog.MINILM_ID) == 100


def test_install_seeds_every_sample_the_docs_one_included(monkeypatch, tmp_path):
    """``prepare --samples`` embeds all of them: a visitor choosing the large sample waits for no model."""

    embedded: list[str] = []

    class Recording(LocalModel):  # records what would be embedded, embeds nothing
        def embed(self, texts, model, **kwargs):
            embedded.extend(texts)
            raise KeyboardInterrupt  # stop before the model loads

    monkeypatch.setattr("embedcore.providers.sample_seed.LocalModel", Recording)
    with pytest.raises(KeyboardInterrupt):
        build_sample_seed(tmp_path / "seed.sqlite3")
    assert set(io.load_sample("docs").texts) <= set(embedded)
    assert set(io.load_sample("topics").texts) <= set(embedded)


def test_other_texts_and_the_switch_leave_the_seed_out(seeded, tmp_path, monkeypatch):
    user_cache = EmbeddingCache(tmp_path / "user" / "embeddings.sqlite3")
    result = LocalModel(cache=user_cache).embed(["a sentence no sample has"], catalog.MINILM_ID)
    assert (result.cached, result.fetched) == (0, 1)
    monkeypatch.setenv("EMBEDCORE_SAMPLE_SEED", "0")
    other = EmbeddingCache(tmp_path / "other" / "embeddings.sqlite3")
    result = LocalModel(cache=other).embed(io.load_sample("seed").texts, catalog.MINILM_ID)
    assert result.cached == 0
