# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
VENV_AF2 ?= .venv-af2
# `make test` runs the newest and the oldest supported Airflow line; each is pinned, Airflow
# included, by constraints/airflow-<line>.txt (scripts/pin_constraints.py regenerates them).
NEWEST ?= 3.3
OLDEST ?= 2.10
NEWEST_PINS := constraints/airflow-$(NEWEST).txt
OLDEST_PINS := constraints/airflow-$(OLDEST).txt
BIN := $(VENV)/bin
BIN_AF2 := $(VENV_AF2)/bin
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: test lint typecheck test-af3 test-af2 test-matrix pin-constraints demo demo-events fake-server bench e2e up down e2e-distributed screenshots release-check clean

$(VENV)/.installed: pyproject.toml $(NEWEST_PINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -c $(NEWEST_PINS) apache-airflow -e ".[dev]"
	touch $@

$(VENV_AF2)/.installed: pyproject.toml $(OLDEST_PINS)
	$(PYTHON) -m venv $(VENV_AF2)
	$(BIN_AF2)/pip install $(PIP_FLAGS) -c $(OLDEST_PINS) apache-airflow -e ".[test,events]"
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

test-af3: $(VENV)/.installed
	$(BIN)/pytest

test-af2: $(VENV_AF2)/.installed
	$(BIN_AF2)/pytest -p no:cacheprovider

# Lint, types, the whole suite on the newest Airflow, then the suites again on the oldest.
test: lint typecheck test-af3 test-af2

# Unit, dag.test end-to-end (poke and deferred) and integration tests on every supported
# Airflow line, one kept environment each in .venvs/; checks the table of docs/compatibility.md.
test-matrix:
	$(PYTHON) scripts/test_matrix.py

# Maintainers: re-resolve constraints/ from PyPI as of each line's newest release (needs uv).
UV ?= uv
pin-constraints:
	$(PYTHON) scripts/pin_constraints.py --uv $(UV)

demo: $(VENV)/.installed
	$(BIN)/python scripts/demo.py

# The demo's batch waited for with ICA's notifications (moto's SQS server in its own process),
# then the same batch polled; prints the notifications that woke the wait and each run's requests.
# The dev extra brings what it needs: moto (test) and the Amazon provider (events).
demo-events: $(VENV)/.installed
	$(BIN)/python scripts/demo_events.py

fake-server: $(VENV)/.installed
	$(BIN)/ica-fake-server --host 127.0.0.1 --port 8642 --api-key fake-api-key

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -c $(NEWEST_PINS) -e ".[bench]"
	touch $@

# A few minutes: prints one table and rewrites benchmarks/RESULTS.md.
bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/run_all.py

$(VENV)/.e2e-installed: $(VENV)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -c $(NEWEST_PINS) -e ".[dev,deploy]"
	touch $@

# The example DAG through a real Airflow deployment (PostgreSQL from apt: root or sudo), ~3-4 min.
e2e: $(VENV)/.e2e-installed
	ICA_E2E_DEPLOYMENT=1 $(BIN)/pytest -p no:cacheprovider tests/deployment

# The same deployment, up for a person to click around (the example DAGs only, no check run
# first); returns once it is up, printing the UI's URL (no login), the fake ICA's web pages,
# the pid and how to stop it: `make down`. `make e2e` stops a deployment left up.
up: $(VENV)/.e2e-installed
	$(BIN)/python deploy/up.py --detach

down:
	$(BIN)/python deploy/up.py --down

$(VENV)/.distributed-installed: $(VENV)/.e2e-installed
	$(BIN)/pip install $(PIP_FLAGS) -c $(NEWEST_PINS) -e ".[dev,deploy,distributed]"
	touch $@

# The example DAG on a distributed Airflow (CeleryExecutor, 2 workers, 2 triggerers; PostgreSQL and
# Redis from apt: root or sudo) while a worker, a triggerer and the scheduler go down, ~2-3 min.
e2e-distributed: $(VENV)/.distributed-installed
	ICA_E2E_DISTRIBUTED=1 $(BIN)/pytest -p no:cacheprovider tests/deployment_distributed

# Maintainers: a make e2e run, then its screenshots over the ones the guides show in docs/, and
# the connection form's (PostgreSQL and the API server alone); commit them.
screenshots: e2e
	$(BIN)/python -m deploy.airflow_e2e.ui_walkthrough --refresh-docs
	$(BIN)/python deploy/screenshot_connection_form.py

$(VENV)/.release-installed: $(VENV)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -c $(NEWEST_PINS) -e ".[release]"
	touch $@

# The sdist and the wheel built and checked (twine), the wheel installed into a fresh virtualenv
# with Airflow, where the provider, its connection type and the example DAGs must show.
release-check: $(VENV)/.release-installed
	$(BIN)/python scripts/release_check.py

clean:
	rm -rf $(VENV) $(VENV_AF2) .venvs airflow-home .demo .e2e .pytest_cache .mypy_cache .ruff_cache
