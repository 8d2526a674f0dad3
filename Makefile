# The few verbs people type. Each one builds the virtualenv it needs first, so
# `make run` and `make test` work on a fresh machine with only python3.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run dev test test-fast test-cloud cloud-venv bench lint format clean browser db

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changed.
$(VENV)/.local-deps: $(PY) requirements.txt requirements-local.txt
	$(PY) -m pip install -r requirements-local.txt
	touch $@

$(VENV)/.dev-deps: $(VENV)/.local-deps requirements-dev.txt
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

# The static model2vec model, distilled once here (about 35 s on two idle cores, several
# minutes on a busy machine) into .venv/share/embedcore/models, so no visitor and no test
# waits for it. Redone when the recipe in embedcore/providers/local.py changes (a no-op if unchanged).
# --maps also fills numba's disk cache with umap-learn's layout code (the first map of every
# new server process then loads it instead of compiling); --samples embeds the built-in sample
# sets with the bundled model, so a first visit's default page needs no model load.
$(VENV)/.static-model: $(VENV)/.local-deps embedcore/providers/local.py embedcore/providers/prepare.py embedcore/samples/*
	HF_HUB_OFFLINE=1 $(PY) -m embedcore prepare --maps --samples
	touch $@

## run: start the dashboard on the bundled offline model (http://localhost:8501; another port: make run PORT=8502)
# scripts/serve.py is `streamlit run app.py` that starts loading the model at once (embedcore.warmup).
run: $(VENV)/.local-deps $(VENV)/.static-model
	HF_HUB_OFFLINE=1 $(PY) scripts/serve.py --server.port $(PORT)

## dev: `make run` with live reload (polls the app's own modules; a saved page reruns)
dev: $(VENV)/.local-deps $(VENV)/.static-model
	HF_HUB_OFFLINE=1 $(PY) scripts/serve.py --server.port $(PORT) --server.fileWatcherType poll

## browser: Debian's chromium for the end-to-end tests (never `playwright install`)
browser:
	@bash scripts/ensure-chromium.sh

## test: the whole suite, browser tests included
test: $(VENV)/.dev-deps $(VENV)/.static-model browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest

## test-fast: everything but the browser and slow tests
test-fast: $(VENV)/.dev-deps $(VENV)/.static-model
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not browser and not slow"

## cloud-venv: an API-only virtualenv as Community Cloud installs it (requirements.txt alone) + 3 test tools
# Outside the project folder (Streamlit's watcher and ruff never walk it); no torch, no model.
CLOUD_VENV ?= /tmp/embedcore-cloud-venv
$(CLOUD_VENV)/.deps: requirements.txt
	rm -rf $(CLOUD_VENV)
	$(PYTHON) -m venv $(CLOUD_VENV)
	$(CLOUD_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLOUD_VENV)/bin/python -m pip install --quiet -r requirements.txt pytest playwright pytest-timeout
	touch $@
cloud-venv: $(CLOUD_VENV)/.deps

## test-cloud: the browser tests of the app on that install, against a fake IONOS API (not part of `make test`)
# --confcutdir: tests/conftest.py loads the full suite's fixtures (pytest-httpserver), not installed there.
test-cloud: $(CLOUD_VENV)/.deps browser
	EMBEDCORE_CLOUD_VENV=$(CLOUD_VENV) $(CLOUD_VENV)/bin/python -m pytest -m cloud --confcutdir=tests/browser tests/browser/test_cloud.py

## bench: the performance benchmarks; prints a table of figures and ratios
bench: $(VENV)/.dev-deps $(CLOUD_VENV)/.deps browser
	HF_HUB_OFFLINE=1 EMBEDCORE_CLOUD_VENV=$(CLOUD_VENV) $(PY) -m bench

## db: a local PostgreSQL + pgvector for EMBEDCORE_DATABASE_URL; prints the URL (Ctrl-C stops it)
db: $(VENV)/.dev-deps
	$(PY) scripts/local_db.py

lint: $(VENV)/.dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
