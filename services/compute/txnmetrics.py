"""Prometheus metrics of the compute's transactions (served on the compute's metrics port).

    dsql_compute_transactions_committed_total{kind}     kind: read_write / read_only
    dsql_compute_transactions_aborted_total{reason}     OC000, OC001, limit, age_limit, error, rollback,
                                                        commit_error
    dsql_compute_transaction_rows                       rows (table + index) modified per committed write
    dsql_compute_transaction_bytes                      bytes modified per committed write transaction
    dsql_compute_transaction_age_seconds                age of a transaction at commit
    dsql_compute_transaction_conflict_ratio             share of the last 1000 write commits refused 40001
    dsql_compute_transaction_limit{limit}               the limits the histograms are measured against
"""

from __future__ import annotations

import collections
import threading

from prometheus_client import Counter, Gauge, Histogram

COMMITTED = Counter("dsql_compute_transactions_committed_total", "Transactions committed", ["kind"])
ABORTED = Counter("dsql_compute_transactions_aborted_total", "Transactions aborted, by reason", ["reason"])
ROWS = Histogram("dsql_compute_transaction_rows", "Rows (table and index) modified per write transaction",
                 buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 2500, 5000, 10000))
BYTES = Histogram("dsql_compute_transaction_bytes", "Bytes modified per write transaction",
                  buckets=(100, 1000, 10_000, 100_000, 1 << 20, 2 << 20, 5 << 20, 10 << 20))
AGE = Histogram("dsql_compute_transaction_age_seconds", "Transaction age at commit",
                buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60, 300))
CONFLICT_RATIO = Gauge("dsql_compute_transaction_conflict_ratio",
                       "Share of the last write commits that failed with 40001")
LIMIT = Gauge("dsql_compute_transaction_limit", "Per-transaction limits", ["limit"])

WINDOW = 1000
_lock = threading.Lock()
_window: collections.deque[int] = collections.deque(maxlen=WINDOW)
_limits_set = [False]


def set_limits(limits) -> None:
    if limits is None or _limits_set[0]:
        return
    _limits_set[0] = True
    LIMIT.labels("rows").set(limits.txn_rows_max)
    LIMIT.labels("bytes").set(limits.txn_bytes_max)
    LIMIT.labels("age_seconds").set(limits.transaction_max_s)


_conflicts_in_window = [0]


def _outcome(conflict: int) -> None:
    with _lock:
        if len(_window) == WINDOW:
            _conflicts_in_window[0] -= _window[0]
        _window.append(conflict)
        _conflicts_in_window[0] += conflict
        CONFLICT_RATIO.set(_conflicts_in_window[0] / len(_window))


def committed(state, age_s: float) -> None:
    if state is not None and state.wrote:
        COMMITTED.labels("read_write").inc()
        ROWS.observe(state.rows_modified)
        BYTES.observe(state.bytes_modified)
        _outcome(0)
    else:
        COMMITTED.labels("read_only").inc()
    AGE.observe(max(age_s, 0.0))


def aborted(reason: str) -> None:
    ABORTED.labels(reason).inc()
    if reason in ("OC000", "OC001"):
        _outcome(1)


def conflict_ratio() -> float:
    with _lock:
        return _conflicts_in_window[0] / len(_window) if _window else 0.0
