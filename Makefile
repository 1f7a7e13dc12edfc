# The two README commands: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: demo test test-fast test-e2e lint airflow system-deps venv clean bench bench-e2e bench-scheduler faults dist

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing Python dependencies into $(VENV) (about a minute on a fresh machine)"
	@$(BIN)/pip install -q --disable-pip-version-check -U pip 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@# the package itself, editable: its console script and the coverage page's airflow.plugins entry point
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

venv: $(STAMP)

## system-deps: Debian's PostgreSQL server (apt-get when root, else one line saying what to install)
system-deps:
	@bash scripts/system-deps.sh

## demo: demo data into .local/, both DAG families end to end on embedded stores, a summary
demo: venv system-deps
	@$(BIN)/python -m devtools demo

## test: the whole suite (unit, integration on real services, DAG runs, scheduler end to end)
test: venv system-deps lint
	@$(BIN)/python -m pytest -q

test-fast: venv
	@$(BIN)/python -m pytest -q -m "not scheduler and not browser"

## test-e2e: only the end-to-end tests (real scheduler; the trigger form in headless chromium)
test-e2e: venv system-deps
	@$(BIN)/python -m pytest -q -m "scheduler or browser"

lint: venv
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

## airflow: a local Airflow (api-server, scheduler, dag-processor) on the embedded connections
airflow: venv system-deps
	@bash scripts/airflow-local.sh

## bench: one task's bodies vs the bare engines, then whole DAG runs vs the bare engines (~30 min);
## the end-to-end figures go to test-artifacts/bench-e2e.json. BENCH_ARGS=--quick: a smoke test
bench: venv system-deps
	@$(BIN)/python scripts/benchmark.py
	@$(BIN)/python scripts/bench_e2e.py --json test-artifacts/bench-e2e.json $(BENCH_ARGS)
	@$(BIN)/python scripts/bench_scheduler.py --json test-artifacts/bench-scheduler.json $(BENCH_ARGS)

## bench-scheduler: whole duckling runs under a real scheduler (LocalExecutor) vs the floor and the engines
bench-scheduler: venv system-deps
	@$(BIN)/python scripts/bench_scheduler.py --json test-artifacts/bench-scheduler.json $(BENCH_ARGS)

bench-e2e: venv system-deps
	@$(BIN)/python scripts/bench_e2e.py --json test-artifacts/bench-e2e.json $(BENCH_ARGS)

clean:
	rm -rf .local dist

## dist: the wheel a deployment installs (dist/backfill-<version>-py3-none-any.whl)
dist: venv
	@rm -rf dist && $(BIN)/pip wheel -q --disable-pip-version-check --no-deps -w dist . 2>&1 | grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	@ls dist/*.whl

## faults: the fault-injection suite; prints the table of figures (also part of make test)
faults: venv system-deps
	@$(BIN)/python -m pytest -q -m faults
