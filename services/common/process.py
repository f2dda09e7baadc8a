"""The entry point the four services share: `python -m services.<name> --config F --az AZ`.

Parses the arguments, sets up logging to stderr, loads the cluster config, opens the
process's Prometheus endpoint, then runs the service's `serve(config, az)` until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Awaitable, Callable

from prometheus_client import start_http_server

from services.common.config import ClusterConfig

Serve = Callable[[ClusterConfig, str], Awaitable[None]]


def run_service(service: str, serve: Serve, argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m services.{service}")
    ap.add_argument("--config", required=True, help="path of cluster.json")
    ap.add_argument("--az", required=True, help="availability zone of this process")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format=f"%(asctime)s %(levelname)s {service}[{args.az}] %(name)s: %(message)s")
    config = ClusterConfig.load(args.config)
    if args.az not in config.azs:
        ap.error(f"unknown az {args.az!r}; the config has {sorted(config.azs)}")
    ep = config.endpoint(args.az, service)
    start_http_server(ep.metrics_port, addr=ep.host)
    asyncio.run(serve(config, args.az))
    return 0
