"""python -m services.storage --config <state>/cluster.json --az az1"""

from __future__ import annotations

import argparse
import asyncio
import logging

from prometheus_client import start_http_server

from services.common.config import ClusterConfig
from services.storage.server import serve


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m services.storage")
    ap.add_argument("--config", required=True)
    ap.add_argument("--az", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s {args.az}-storage %(levelname)s %(name)s: %(message)s")
    config = ClusterConfig.load(args.config)
    ep = config.endpoint(args.az, "storage")
    if ep.metrics_port:
        start_http_server(ep.metrics_port, addr=ep.host)
    asyncio.run(serve(config, args.az))


if __name__ == "__main__":
    main()
