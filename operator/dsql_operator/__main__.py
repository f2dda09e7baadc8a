"""`python -m dsql_operator`: run the operator (what the container does).

    DSQL_WATCH_NAMESPACES   comma-separated namespaces to watch (default: all)
    DSQL_DEFAULT_IMAGE      image of the services when a DSQLCluster names none
    DSQL_RECONCILE_INTERVAL_S, DSQL_DELETE_RETRY_S, DSQL_ACCOUNT_ID   see handlers.OperatorConfig
    DSQL_LIVENESS_ENDPOINT  default http://0.0.0.0:8080/healthz
"""

from __future__ import annotations

import os

import kopf

from dsql_operator.handlers import main_registry


def main() -> None:
    namespaces = [n.strip() for n in os.environ.get("DSQL_WATCH_NAMESPACES", "").split(",") if n.strip()]
    kopf.configure(verbose=False)
    kopf.run(registry=main_registry(), standalone=True, clusterwide=not namespaces, namespaces=namespaces,
             liveness_endpoint=os.environ.get("DSQL_LIVENESS_ENDPOINT", "http://0.0.0.0:8080/healthz"))


if __name__ == "__main__":
    main()
