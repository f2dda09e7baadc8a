"""Faults on the real processes of a three-AZ cluster under a concurrent write workload.

Each test runs the list-append workload (tests/faults/workload.py) through the PostgreSQL
endpoint, injects one fault, brings the victim back and then checks: the history has no
anomaly and loses no acknowledged commit (tests/integration/history.py), writes went on
after the fault (the outage is measured and printed, never asserted against a clock), and
every AZ converges - same journal commit index, same storage applied index and the same rows
in every storage replica.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from services.common.errors import PgError
from services.common.hlc import wall_us
from services.compute.kv import KV
from tests.faults.conftest import FaultCluster, wait_until
from tests.faults.workload import Workload
from tests.integration import history

SCHEMA = "faults"
WARMUP_COMMITS = 10
AFTER_COMMITS = 5


@pytest.fixture(scope="module")
def fc(fault_cluster: FaultCluster) -> FaultCluster:
    w = Workload(fault_cluster.config, "")
    with w.connect_retrying(autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    return fault_cluster


def _workload(fc: FaultCluster, name: str, seed: int) -> Workload:
    fc.ensure_running()
    w = Workload(fc.config, f"{SCHEMA}.{name}", seed=seed)
    w.setup()
    w.start()
    w.wait_commits(WARMUP_COMMITS, since=time.monotonic())
    return w


def _identical_replicas(fc: FaultCluster) -> int:
    """Every storage replica holds the same rows at one timestamp; returns the row count."""
    index = fc.converged()
    ts = wall_us()
    rows = {az: wait_until(f"a scan of {az}'s storage", lambda az=az: fc.scan_all(az, ts) or None)
            for az in fc.azs}
    first = rows[fc.azs[0]]
    for az in fc.azs[1:]:
        assert rows[az] == first, f"storage of {az} differs from {fc.azs[0]} at ts {ts} (log index {index})"
    return len(first)


def _finish(fc: FaultCluster, w: Workload, what: str, outages: dict[str, float]) -> None:
    w.stop()
    checked = w.check()
    bad = history.forbidden(checked["result"])
    rows = _identical_replicas(fc)
    print(f"\n{what}: {w.summary()}; " + ", ".join(f"{k} {v:.2f} s" for k, v in outages.items())
          + f"; {rows} rows identical in every AZ; checker: {history.summarize(checked['result'])}")
    assert not bad, history.summarize(bad)
    assert w.committed(), "nothing committed"


def test_kill_9_the_journal_leader(fc):
    w = _workload(fc, "kill_leader", seed=1)
    try:
        old = wait_until("a journal leader", fc.leader)
        t_kill = time.monotonic()
        fc.kill(old, "journal")
        new = wait_until("a new leader", lambda: fc.leader([a for a in fc.azs if a != old]))
        t_elected = time.monotonic()
        resumed = w.wait_commits(AFTER_COMMITS, since=t_kill)
        fc.restart(old, "journal")
        w.wait_commits(AFTER_COMMITS, since=time.monotonic())
    finally:
        w.stop()
    assert new != old
    _finish(fc, w, f"journal leader {old} killed, {new} elected",
            {"election": t_elected - t_kill, "writes resumed after": resumed - t_kill})


def test_kill_9_a_storage_process(fc):
    w = _workload(fc, "kill_storage", seed=2)
    victim = fc.azs[1]
    try:
        t_kill = time.monotonic()
        fc.kill(victim, "storage")
        resumed = w.wait_commits(AFTER_COMMITS, since=t_kill)
        time.sleep(1.0)                         # let the others get ahead of the dead replica
        fc.restart(victim, "storage")
        w.wait_commits(AFTER_COMMITS, since=time.monotonic())
    finally:
        w.stop()
    _finish(fc, w, f"storage {victim} killed", {"writes resumed after": resumed - t_kill})


def _dsql(fc: FaultCluster, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "services.launcher.cli", "--state-dir", str(fc.state), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("killed " if "--kill" in args else "started ") == 4, done.stdout


def test_kill_9_every_process_of_the_leaders_az(fc):
    w = _workload(fc, "kill_az", seed=3)
    try:
        victim = wait_until("a journal leader", fc.leader)
        t_kill = time.monotonic()
        _dsql(fc, "stop", "--az", victim, "--kill")          # the CLI this time
        resumed = w.wait_commits(AFTER_COMMITS, since=t_kill)
        time.sleep(1.0)
        behind = max(fc.storage(a).applied_index for a in fc.azs if a != victim)
        t_back = time.monotonic()
        _dsql(fc, "start", "--az", victim)
        wait_until(f"{victim}'s storage to catch up", lambda: fc.storage(victim).applied_index >= behind)
        caught_up = time.monotonic() - t_back
        w.wait_commits(AFTER_COMMITS, since=time.monotonic())
    finally:
        w.stop()
    _finish(fc, w, f"every process of {victim} killed",
            {"writes resumed after": resumed - t_kill, "restart and catch-up": caught_up})


MINORITY_KEY = b"\xfe\xfefaults-minority-write"


def test_partition_isolates_the_leaders_az(fc):
    w = _workload(fc, "partition", seed=4)
    victim = None
    try:
        victim = wait_until("a journal leader", fc.leader)
        t_cut = time.monotonic()
        fc.proxies.isolate(victim)
        majority = [a for a in fc.azs if a != victim]
        new = wait_until("a leader in the majority", lambda: fc.leader(majority))
        t_elected = time.monotonic()
        resumed = w.wait_commits(AFTER_COMMITS, since=t_cut)
        # The minority cannot commit: a transaction client in the isolated AZ gets an error.
        kv = KV(fc.views[victim], victim)
        try:
            txn = kv.begin()
            txn.put(MINORITY_KEY, b"must never appear")
            with pytest.raises(PgError) as refused:
                txn.commit()
        finally:
            kv.close()
        wait_until(f"{victim}'s journal to stop leading", lambda: fc.journal(victim).role != "leader")
        t_heal = time.monotonic()
        fc.proxies.heal()
        w.wait_commits(AFTER_COMMITS, since=t_heal)
    finally:
        fc.proxies.heal()
        w.stop()
    assert refused.value.sqlstate in ("08006", "08007"), refused.value
    print(f"\nminority commit refused: {refused.value.sqlstate} {refused.value}")
    for az in fc.azs:
        kv = KV(fc.config, az)
        try:
            assert kv.begin().get([MINORITY_KEY]) == [None], f"the minority's write reached {az}"
        finally:
            kv.close()
    _finish(fc, w, f"{victim} isolated, {new} elected",
            {"election": t_elected - t_cut, "writes resumed after": resumed - t_cut})


def _scrape(fc: FaultCluster, az: str, service: str) -> dict[str, float]:
    import urllib.request
    port = fc.config.endpoint(az, service).metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_replication_metrics(fc):
    """The issue's metrics, read from the processes after the faults: Raft term, role, commit and
    applied index, lag per follower, snapshot index, the commit latency histogram; storage
    applied index and closed-timestamp and apply lag."""
    fc.ensure_running()
    fc.converged()
    leader = wait_until("a journal leader", fc.leader)
    m = _scrape(fc, leader, "journal")
    assert m["dsql_journal_raft_role"] == 3 and m["dsql_journal_raft_term"] >= 1
    assert m["dsql_journal_raft_commit_index"] >= m["dsql_journal_raft_applied_index"] > 0
    for peer in fc.azs:
        if peer != leader:
            assert f'dsql_journal_raft_replication_lag_entries{{peer="{peer}"}}' in m
    assert "dsql_journal_raft_snapshot_index" in m
    assert m["dsql_journal_commit_seconds_count"] > 0 and 'dsql_journal_commit_seconds_bucket{le="0.01"}' in m
    for az in fc.azs:
        if az != leader:
            f = _scrape(fc, az, "journal")
            assert f["dsql_journal_raft_role"] == 0 and f["dsql_journal_raft_term"] == m["dsql_journal_raft_term"]
        s = _scrape(fc, az, "storage")
        assert s["dsql_storage_applied_index"] == fc.storage(az).applied_index > 0
        for name in ("dsql_storage_closed_ts_lag_seconds", "dsql_storage_apply_lag_seconds",
                     "dsql_storage_applied_ts_age_seconds"):
            assert name in s, name
