# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STATE ?= .state

.PHONY: run test unit integration difftest protos check-protos down status clean

$(STAMP): pyproject.toml tests/clients/node/package-lock.json
	@command -v psql >/dev/null || (apt-get update -qq && apt-get install -y -qq postgresql-client)
	@test -f /usr/share/java/postgresql.jar || (apt-get update -qq && apt-get install -y -qq libpostgresql-jdbc-java)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@if command -v npm >/dev/null; then npm ci --silent --no-audit --no-fund --prefix tests/clients/node; fi
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/dsql up --state-dir $(STATE)

down: $(STAMP)
	$(VENV)/bin/dsql down --state-dir $(STATE)

status: $(STAMP)
	$(VENV)/bin/dsql status --state-dir $(STATE)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit $(PYTEST_ARGS)

integration: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

# Issue 3: the SQL corpus (tests/difftest/corpus) on our cluster vs a throwaway PostgreSQL 15.
difftest: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/difftest $(PYTEST_ARGS)

protos: $(STAMP)
	$(PY) tools/gen_protos.py

check-protos: $(STAMP)
	$(PY) tools/gen_protos.py --check

clean:
	rm -rf $(VENV) $(STATE) build *.egg-info

# Kubernetes packaging, operator tests and the kind e2e suite.
-include k8s.mk
