"""Rough latency figures of the data path (not a test; run by hand):

    .venv/bin/python -m tests.unit.compute.bench_kv [--azs 3] [--n 1000] [--interval-ms 2]
                                                    [--replication static|raft]

Starts a journal per AZ (static: the first leads; raft: elected) and a storage per AZ as processes, then
measures from one thread: one-row commit, point get (fresh transaction each time, so
each read is at a new snapshot), 100-row scan, and commit throughput with 16 threads.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import statistics
import tempfile
import time

from services.compute.kv import KV
from tests.unit.compute.cluster_fixture import Cluster


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000


def report(name, xs):
    print(f"{name:<28} mean {statistics.mean(xs) * 1000:6.3f} ms   p50 {pct(xs, .5):6.3f}   "
          f"p99 {pct(xs, .99):6.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--azs", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--interval-ms", type=int, default=2)
    ap.add_argument("--replication", choices=("static", "raft"), default="static")
    args = ap.parse_args()
    azs = tuple(f"az{i + 1}" for i in range(args.azs))
    c = Cluster(pathlib.Path(tempfile.mkdtemp(prefix="bench-kv-")), azs=azs,
                closed_ts_interval_ms=args.interval_ms, journal_replication=args.replication)
    try:
        for az in azs:
            c.start(az, "journal")
        for az in azs:
            c.start(az, "storage")
        kv = KV(c.config, "az1")
        t = kv.begin()
        for i in range(100):
            t.put(b"scan/%03d" % i, b"x" * 100)
        t.commit()
        for i in range(200):               # warm up
            t = kv.begin()
            t.put(b"warm/%d" % i, b"v")
            t.commit()
            kv.begin().get([b"warm/%d" % i])
        commits, gets, scans = [], [], []
        for i in range(args.n):
            t0 = time.perf_counter()
            t = kv.begin()
            t.put(b"k/%06d" % i, b"v" * 100)
            t.commit()
            commits.append(time.perf_counter() - t0)
        for i in range(args.n):
            t0 = time.perf_counter()
            kv.begin().get([b"k/%06d" % i])
            gets.append(time.perf_counter() - t0)
        for i in range(args.n // 4):
            t0 = time.perf_counter()
            list(kv.begin().scan(b"scan/", b"scan0"))
            scans.append(time.perf_counter() - t0)
        report("one-row commit", commits)
        report("point get (new snapshot)", gets)
        report("100-row scan", scans)

        def one(i):
            t = kv.begin()
            t.put(b"tp/%06d" % i, b"v" * 100)
            t.commit()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            t0 = time.perf_counter()
            list(ex.map(one, range(args.n * 2)))
            dt = time.perf_counter() - t0
        print(f"{'commits/s, 16 threads':<28} {args.n * 2 / dt:8.0f}")
        kv.close()
    finally:
        c.stop_all()


if __name__ == "__main__":
    main()
