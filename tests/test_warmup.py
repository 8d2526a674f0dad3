"""embedcore.warmup: the slow first steps of a process begin in the background, once."""

from __future__ import annotations

import gc
import itertools
import threading

import pytest

from embedcore import warmup
from embedcore.analysis import projection


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
    assert warmup.finished(timeout=300)
    # In the order a first visit needs them: the model load never takes CPU from the figures
    # and the first UMAP (the default page's vectors ship with the install).
    order = warmup.steps()
    assert [name for name, _, _ in order] == [
        "import_figures",
        "warm_up_umap",
        "load_local_model",
        "freeze_long_lived",
    ]
    assert all(previous[2] <= following[1] for previous, following in itertools.pairwise(order))
    from embedcore.providers.local import LocalModel

    # Loaded once per process: a new provider finds the model in memory.
    assert LocalModel(cache=None).load() < 1.0
    # Last, what the steps built is kept out of Streamlit's collection after every script run.
    assert gc.get_freeze_count() > 100_000


_IMPORT_WATCH = r"""
import sys, threading
from embedcore.providers import local, prepare

seen = []

def _importing():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "_find_and_load":
            return True
        frame = frame.f_back
    return False

class Watch:
    # Records, for each first import of torch, whether the heavy-import lock was held then.
    def find_spec(self, name, path=None, target=None):
        # An import statement, not an availability check (importlib.util.find_spec)
        if name == "torch" and _importing():
            seen.append(local.HEAVY_IMPORT_LOCK._is_owned())
        return None

sys.meta_path.insert(0, Watch())
with prepare._encoding_reported(lambda done, total: None, lambda: None):
    pass
assert "torch" in sys.modules, "model2vec's distiller no longer imports torch: update this test"
print(seen)
"""


@pytest.mark.slow
def test_every_import_that_pulls_in_torch_holds_the_heavy_import_lock():
    # torch imported in two threads at once can hand one of them a half-initialised module;
    # the warm-up (sentence-transformers) and a static build (model2vec) may both import it.
    import subprocess
    import sys

    from embedcore.providers.local import LocalModel

    if not LocalModel.available():
        pytest.skip("torch / sentence-transformers are not installed")  # the [local] extra
    for setup in (
        _IMPORT_WATCH,
        _IMPORT_WATCH.replace(
            "with prepare._encoding_reported(lambda done, total: None, lambda: None):\n    pass\n",
            "local.LocalModel(cache=None).load()\n",
        ),
    ):
        out = subprocess.run([sys.executable, "-c", setup], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        seen = out.stdout.strip()
        # torch imported, each time under the lock
        assert seen.startswith("[True") and "False" not in seen, seen


def test_the_figures_module_finishes_importing_pandas_before_plotly_looks_for_it():
    # plotly uses sys.modules["pandas"] as it finds it; a half-imported pandas (another thread)
    # failed the warm-up once. the embedcore.figures package imports pandas itself first, which waits.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import builtins\n"
        "order = []\n"
        "real = builtins.__import__\n"
        "def spy(name, *args, **kwargs):\n"
        "    top = name.split('.')[0]\n"
        "    if top in ('pandas', 'plotly') and top not in sys.modules:\n"
        "        order.append(top)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = spy\n"
        "import embedcore.figures.scatter\n"
        "print(order[:2])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['pandas', 'plotly']"


_STOPPED_AT_EXIT = r"""
import concurrent.futures, logging, threading
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from embedcore import warmup

def cut_short():
    # As transformers' loader does: a new thread pool per load, given work until, once the
    # interpreter begins to exit, concurrent.futures refuses it (before the main thread is
    # marked stopped).
    while True:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: None).result()

# Not a daemon: it runs on while the interpreter exits, as the server's warm-up did when stopped.
threading.Thread(target=getattr(warmup, "_run"), args=([cut_short],)).start()
"""


def test_a_step_cut_short_by_the_server_stopping_is_no_failure_in_the_log():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _STOPPED_AT_EXIT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "warm-up step cut_short stopped: the server is shutting down" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_an_error_from_a_thread_pool_refusing_work_at_exit_is_recognised_through_its_causes():
    refused = RuntimeError("cannot schedule new futures after interpreter shutdown")
    try:
        try:
            raise refused
        except RuntimeError as exc:
            raise OSError("loading the model failed") from exc
    except OSError as wrapped:
        assert warmup.cut_short_by_exit(wrapped)  # the loader's own error, caused by the refusal
    assert not warmup.cut_short_by_exit(RuntimeError("out of memory"))  # a real failure stays one
    assert not warmup.cut_short_by_exit(None)
