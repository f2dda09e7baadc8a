"""python -m services.compute --config <state>/cluster.json --az az1"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from services.common.config import ClusterConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.compute", description="DSQL query processor")
    ap.add_argument("--config", required=True, help="path of cluster.json")
    ap.add_argument("--az", required=True, help="availability zone of this process (e.g. az1)")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(asctime)s %(levelname)s compute[" + args.az + "] %(name)s: %(message)s")
    config = ClusterConfig.load(args.config)
    if args.az not in config.azs:
        ap.error(f"unknown az {args.az!r}; the config has {sorted(config.azs)}")
    from services.compute.server import serve
    asyncio.run(serve(config, args.az))
    return 0


if __name__ == "__main__":
    sys.exit(main())
