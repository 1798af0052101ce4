# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
VENV_AF2 ?= .venv-af2
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW2_VERSION ?= 2.10.5
BIN := $(VENV)/bin
BIN_AF2 := $(VENV_AF2)/bin
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: test lint typecheck test-af3 test-af2 demo fake-server bench e2e clean

$(VENV)/.installed: pyproject.toml constraints/airflow-3.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -c constraints/airflow-3.txt "apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev]"
	touch $@

$(VENV_AF2)/.installed: pyproject.toml constraints/airflow-2.txt
	$(PYTHON) -m venv $(VENV_AF2)
	$(BIN_AF2)/pip install $(PIP_FLAGS) -c constraints/airflow-2.txt "apache-airflow==$(AIRFLOW2_VERSION)" -e ".[test]"
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

test-af3: $(VENV)/.installed
	$(BIN)/pytest

test-af2: $(VENV_AF2)/.installed
	$(BIN_AF2)/pytest -p no:cacheprovider

# Lint, types, the whole suite on Airflow 3, then the suites again on Airflow 2.10.
test: lint typecheck test-af3 test-af2

demo: $(VENV)/.installed
	$(BIN)/python scripts/demo.py

fake-server: $(VENV)/.installed
	$(BIN)/ica-fake-server --host 127.0.0.1 --port 8642 --api-key fake-api-key

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -c constraints/airflow-3.txt -e ".[bench]"
	touch $@

# A few minutes: prints one table and rewrites benchmarks/RESULTS.md.
bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/run_all.py

$(VENV)/.e2e-installed: $(VENV)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -c constraints/airflow-3.txt -e ".[dev,deploy]"
	touch $@

# The example DAG through a real Airflow deployment (PostgreSQL from apt: root or sudo), ~2 min.
e2e: $(VENV)/.e2e-installed
	ICA_E2E_DEPLOYMENT=1 $(BIN)/pytest -p no:cacheprovider tests/deployment

clean:
	rm -rf $(VENV) $(VENV_AF2) airflow-home .demo .e2e .pytest_cache .mypy_cache .ruff_cache
