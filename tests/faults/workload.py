"""A concurrent list-append workload over real PostgreSQL connections that survives faults.

Each client runs short transactions (reads and appends on a few keys, as in
tests/integration/test_history_checker.py) through the cluster's endpoint, reconnecting after
a lost connection, and records every transaction with its outcome and when its COMMIT started
and ended. The history goes to tests/integration/history.py's checker: `ok` committed, `fail`
certainly not (an error before COMMIT, or 40001), `info` unknown (COMMIT itself failed).
"""

from __future__ import annotations

import itertools
import random
import threading
import time

import psycopg

from services.common.config import ClusterConfig
from services.launcher.cli import dsn, make_token
from tests.integration import history


def _parse(v: str) -> list[int]:
    return [int(x) for x in v.split(",") if x]


class Workload:
    def __init__(self, config: ClusterConfig, table: str, *, clients: int = 4, keys: int = 6, seed: int = 0):
        self.config, self.table, self.keys = config, table, keys
        self.clients = clients
        self.seed = seed
        self.history: list[dict] = []
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._values = itertools.count(1_000_000)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(dsn(self.config), password=make_token(self.config), connect_timeout=10, **kwargs)

    def connect_retrying(self, timeout: float = 90.0, **kwargs) -> psycopg.Connection:
        """A connection, retried while the cluster is still settling (a busy machine)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.connect(**kwargs)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def setup(self) -> None:
        with self.connect_retrying(autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {self.table} (k int PRIMARY KEY, v text NOT NULL)")
            conn.execute(f"INSERT INTO {self.table} VALUES " + ", ".join(f"({k}, '')" for k in range(self.keys)))

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(self.clients)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in self._threads), "a workload client hangs"

    # -- the record ------------------------------------------------------------------------------

    def committed(self) -> list[dict]:
        """Committed transactions that wrote (read-only ones never reach the journal)."""
        with self._lock:
            return [h for h in self.history if h["status"] == "ok" and any(op[0] == "append" for op in h["ops"])]

    def wait_commits(self, n: int, since: float, timeout: float = 90.0) -> float:
        """Wait until n writing transactions whose COMMIT started after `since` committed; returns when
        the first of them committed (so `result - since` is how long writes were out)."""
        deadline = time.monotonic() + timeout
        while True:
            ok = sorted(h["t1"] for h in self.committed() if h["t0"] >= since)
            if len(ok) >= n:
                return ok[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(ok)} commits in {timeout:.0f} s after t={since:.1f}; "
                                     f"client errors: {self.errors[-5:]}")
            time.sleep(0.05)

    def check(self) -> dict:
        """Read the final lists and run the history checker; returns its result."""
        with self.connect_retrying(autocommit=True) as conn:
            final = {k: _parse(v) for k, v in conn.execute(f"SELECT k, v FROM {self.table}").fetchall()}
        with self._lock:
            hist = [dict(h) for h in self.history]
        return {"final": final, "result": history.check(hist, final), "history": hist}

    def summary(self) -> str:
        with self._lock:
            hist = list(self.history)
        by = {s: sum(1 for h in hist if h["status"] == s) for s in ("ok", "fail", "info")}
        return (f"{len(hist)} transactions: {by['ok']} committed, {by['fail']} failed, "
                f"{by['info']} unknown outcome")

    # -- a client ----------------------------------------------------------------------------------

    def _client(self, n: int) -> None:
        rnd = random.Random(self.seed * 1000 + n)
        conn = None
        while not self._stop.is_set():
            if conn is None or conn.closed:
                try:
                    conn = self.connect()
                except psycopg.Error as e:
                    self._note(e)
                    time.sleep(0.2)
                    continue
            plan = [("r" if rnd.random() < 0.4 else "append", rnd.randrange(self.keys))
                    for _ in range(rnd.randint(1, 3))]
            ops, status, t0 = [], "ok", None
            try:
                for op, k in plan:
                    if op == "r":
                        row = conn.execute(f"SELECT v FROM {self.table} WHERE k = %s", (k,)).fetchone()
                        ops.append(("r", k, _parse(row[0])))
                    else:
                        v = next(self._values)
                        conn.execute(f"UPDATE {self.table} SET v = v || %s WHERE k = %s", (f",{v}", k))
                        ops.append(("append", k, v))
            except psycopg.Error as e:
                status = "fail"              # nothing reached the journal
                self._note(e)
                conn = self._rollback(conn)
            else:
                t0 = time.monotonic()
                try:
                    conn.commit()
                except psycopg.errors.SerializationFailure:
                    status = "fail"
                except psycopg.Error as e:
                    status = "info"
                    self._note(e)
                    conn = self._rollback(conn)
            with self._lock:
                self.history.append({"id": next(self._ids), "status": status, "ops": ops,
                                     "t0": t0 if t0 is not None else time.monotonic(), "t1": time.monotonic()})
        if conn is not None:
            conn.close()

    def _rollback(self, conn):
        try:
            conn.rollback()
            return conn
        except psycopg.Error:
            conn.close()
            return None

    def _note(self, e: BaseException) -> None:
        with self._lock:
            self.errors.append(f"{type(e).__name__}: {str(e).strip()[:200]}")
