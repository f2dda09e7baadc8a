"""Point select and one-row commit latency: our cluster against PostgreSQL 15 on the same machine.

    .venv/bin/python -m bench.point_ops [--iterations 2000]

Starts a throwaway local cluster (`dsql up --detach`) and a throwaway PostgreSQL 15, runs the same
statements through psycopg 3 (one connection, prepared statements; TLS to ours, plain TCP to
PostgreSQL, so the ratio slightly flatters PostgreSQL), and prints the mean and
percentiles of each and the ratio to PostgreSQL.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg

from services.launcher import cluster
from services.launcher.cli import dsn, make_token
from services.common.config import ClusterConfig
from tests import pg_oracle

DSQL = [sys.executable, "-m", "services.launcher.cli"]


def measure(conn: psycopg.Connection, iterations: int) -> dict[str, list[float]]:
    conn.execute("CREATE TABLE bench.kv (id int PRIMARY KEY, v text)")
    conn.execute("INSERT INTO bench.kv VALUES " + ",".join(f"({i}, 'value {i}')" for i in range(1, 1001)))
    times: dict[str, list[float]] = {"point select": [], "one-row insert (autocommit)": [],
                                     "one-row update in BEGIN/COMMIT": []}
    for i in range(iterations):
        t0 = time.perf_counter()
        conn.execute("SELECT v FROM bench.kv WHERE id = %s", (i % 1000 + 1,), prepare=True).fetchone()
        t1 = time.perf_counter()
        conn.execute("INSERT INTO bench.kv VALUES (%s, 'new')", (10_000 + i,), prepare=True)
        t2 = time.perf_counter()
        with conn.transaction():
            conn.execute("UPDATE bench.kv SET v = 'u' WHERE id = %s", (i % 1000 + 1,), prepare=True)
        t3 = time.perf_counter()
        times["point select"].append(t1 - t0)
        times["one-row insert (autocommit)"].append(t2 - t1)
        times["one-row update in BEGIN/COMMIT"].append(t3 - t2)
    return times


def summary(samples: list[float]) -> tuple[float, float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.fmean(ms), ms[len(ms) // 2], ms[int(len(ms) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()

    state = pathlib.Path(tempfile.mkdtemp(prefix="dsql-bench-"))
    oracle = pg_oracle.Oracle(cluster.free_port())
    try:
        subprocess.run([*DSQL, "--state-dir", str(state), "up", "--detach", "--port", str(cluster.free_port())],
                       check=True, capture_output=True)
        config = ClusterConfig.load(state / "cluster.json")
        oracle.start()
        results = {}
        with psycopg.connect(dsn(config), password=make_token(config), autocommit=True) as conn:
            conn.execute("CREATE SCHEMA bench")
            results["dsql"] = measure(conn, args.iterations)
        with psycopg.connect(oracle.dsn, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA bench")
            results["postgres"] = measure(conn, args.iterations)
    finally:
        subprocess.run([*DSQL, "--state-dir", str(state), "down"], capture_output=True)
        oracle.stop()
        shutil.rmtree(state, ignore_errors=True)

    print(f"{'operation':<34} {'dsql mean/p50/p99 ms':>24} {'pg15 mean/p50/p99 ms':>24} {'ratio':>7}")
    for op in results["dsql"]:
        d, p = summary(results["dsql"][op]), summary(results["postgres"][op])
        print(f"{op:<34} {d[0]:>8.3f}{d[1]:>8.3f}{d[2]:>8.3f} {p[0]:>8.3f}{p[1]:>8.3f}{p[2]:>8.3f} "
              f"{d[0] / p[0]:>6.1f}x")


if __name__ == "__main__":
    main()
