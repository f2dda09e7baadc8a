#!/usr/bin/env python3
"""Start one DSQL service in a pod, from the cluster.json the operator rendered.

    dsql-entrypoint --service journal --az us-east-1a --config /etc/dsql/config/cluster.json

The ConfigMap names every endpoint by its Kubernetes DNS name, which is what peers dial. A
process binds to the host of its own endpoint, and a pod cannot bind a Service's name, so
this rewrites the pod's own entry to its IP ($POD_IP, else 0.0.0.0) in a private copy and
execs `python -m services.<service>` on it. (When the services grow a bind-address option,
this shrinks to that flag.)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

SERVICES = ("relay", "compute", "journal", "storage")


def rewrite(config: dict, service: str, az: str, bind_host: str) -> dict:
    if az not in config["azs"] or service not in config["azs"][az]:
        raise SystemExit(f"dsql-entrypoint: {service} in {az} is not in the cluster config")
    out = json.loads(json.dumps(config))
    out["azs"][az][service]["host"] = bind_host
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dsql-entrypoint")
    parser.add_argument("--service", required=True, choices=SERVICES)
    parser.add_argument("--az", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--runtime-dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = parser.parse_args(argv)
    config = json.loads(pathlib.Path(args.config).read_text())
    bind_host = os.environ.get("DSQL_BIND_HOST") or os.environ.get("POD_IP") or "0.0.0.0"
    path = pathlib.Path(args.runtime_dir) / "cluster.json"
    path.write_text(json.dumps(rewrite(config, args.service, args.az, bind_host), indent=2))
    os.execvp(sys.executable, [sys.executable, "-m", f"services.{args.service}",
                               "--config", str(path), "--az", args.az])


if __name__ == "__main__":
    main()
