"""A randomized concurrency test: several clients run list-append transactions on a few keys
through the real cluster; the recorded history is checked (tests/integration/history.py) for
G0, G1a, G1b, G1c, lost updates and read skew (G-single), and none may appear. Aborted
transactions must leave no trace. Bounded in transactions and in time."""

from __future__ import annotations

import random
import threading
import time

import psycopg

from tests.integration import history

CLIENTS = 8
TXNS_PER_CLIENT = 60
KEYS = 5
TIME_BUDGET_S = 60.0


def test_list_append_history_has_no_si_anomalies(connect, schema):
    t = f"{schema}.hist_append"
    setup = connect(autocommit=True)
    setup.execute(f"DROP TABLE IF EXISTS {t}")
    setup.execute(f"CREATE TABLE {t} (k int PRIMARY KEY, v text NOT NULL)")
    setup.execute(f"INSERT INTO {t} VALUES " + ", ".join(f"({k}, '')" for k in range(KEYS)))

    conns = [connect() for _ in range(CLIENTS)]
    hist: list[dict] = []
    lock = threading.Lock()
    counter = iter(range(1, 10**9))
    deadline = time.monotonic() + TIME_BUDGET_S
    errors: list[BaseException] = []

    def parse(v: str) -> list[int]:
        return [int(x) for x in v.split(",") if x]

    def client(n: int) -> None:
        rnd = random.Random(1000 + n)
        conn = conns[n]
        try:
            for _ in range(TXNS_PER_CLIENT):
                if time.monotonic() > deadline:
                    return
                with lock:
                    tid = next(counter)
                plan = []
                for _ in range(rnd.randint(1, 4)):
                    k = rnd.randrange(KEYS)
                    if rnd.random() < 0.5:
                        plan.append(("r", k, None))
                    else:
                        with lock:
                            plan.append(("append", k, next(counter) + 1_000_000))
                ops = []
                status = "ok"
                try:
                    for op, k, v in plan:
                        if op == "r":
                            row = conn.execute(f"SELECT v FROM {t} WHERE k = %s", (k,)).fetchone()
                            ops.append(("r", k, parse(row[0])))
                        else:
                            conn.execute(f"UPDATE {t} SET v = v || %s WHERE k = %s", (f",{v}", k))
                            ops.append(("append", k, v))
                except psycopg.Error:
                    conn.rollback()
                    status = "fail"          # a statement failed: nothing was sent to the journal
                else:
                    try:
                        conn.commit()
                    except psycopg.errors.SerializationFailure:
                        status = "fail"
                    except psycopg.Error:
                        status = "info"      # outcome unknown
                # appends that never ran are not part of the history
                with lock:
                    hist.append({"id": tid, "status": status, "ops": ops})
        except BaseException as e:   # noqa: BLE001 - reported by the main thread
            errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t0
    assert not errors, errors

    final = {k: parse(v) for k, v in setup.execute(f"SELECT k, v FROM {t}").fetchall()}
    result = history.check(hist, final)
    bad = history.forbidden(result)

    writers = [h for h in hist if any(op[0] == "append" for op in h["ops"])]
    ok = sum(1 for h in hist if h["status"] == "ok")
    failed = [h for h in writers if h["status"] == "fail"]
    rate = len(failed) / max(1, len(writers))
    print(f"\n{len(hist)} transactions in {elapsed:.1f} s ({len(hist) / elapsed:.0f}/s): {ok} committed, "
          f"{len(failed)} of {len(writers)} writers aborted (conflict rate {rate:.0%}), "
          f"{sum(1 for h in hist if h['status'] == 'info')} unknown; {history.values(hist)} appends; "
          f"checker: {history.summarize(result)}")
    assert not bad, history.summarize(bad)
    # aborted transactions left no trace
    aborted_values = {op[2] for h in failed for op in h["ops"] if op[0] == "append"}
    assert not aborted_values & {v for lst in final.values() for v in lst}
    # the run exercised what it claims to: commits, reads of others' appends, and conflicts
    assert ok >= len(hist) // 3
    assert failed, "no transaction conflicted: the workload is not concurrent enough"
    assert sum(len(v) for v in final.values()) > 0
