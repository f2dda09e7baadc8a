# Kubernetes targets (operator, Helm chart, kind e2e). Included from the main Makefile,
# which provides PY (the venv's python) and STAMP (the venv is installed).
.PHONY: e2e helm-lint operator-test crd

# The operator's tests against an emulated API server, and the chart rendered and linted
# by the Helm engine, validated against the Kubernetes OpenAPI schemas.
operator-test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/operator tests/helm $(PYTEST_ARGS)

helm-lint: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/helm $(PYTEST_ARGS)

# Regenerate the chart's CRD from operator/dsql_operator/crd.py (a test fails when stale).
crd: $(STAMP)
	$(PY) -c "import sys; sys.path.append('operator'); from dsql_operator import crd; crd.main()"

# kind + Docker: build, load, helm install, apply a DSQLCluster, psql through the Service.
# Prints SKIP and succeeds where there is no Docker engine (E2E_REQUIRED=1 makes it fail).
e2e: $(STAMP)
	$(PY) e2e/run.py $(E2E_ARGS)
