"""The Raft-replicated journal (journal_replication = "raft") as real processes: three journal
replicas, storage tailing them, the transaction client committing through whichever leads.

Proves that an acknowledged commit needs a majority, that kill -9 of the leader under a
concurrent write load elects a new leader within seconds without losing an acknowledged
commit, that storage catches up through any replica, and that the old leader rejoins as a
follower and catches up.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import grpc
import pytest

from services.common.config import ClusterConfig
from services.common.errors import PgError
from services.common.hlc import wall_us
from services.compute.kv import KV
from services.pb.dsql.journal.v1 import journal_pb2 as jpb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as jgrpc
from tests.unit.compute.cluster_fixture import Cluster

pytestmark = pytest.mark.timeout(120)

AZS = ("az1", "az2", "az3")


def wait_for(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def statuses(c: Cluster, azs=AZS) -> dict[str, jpb.StatusResponse]:
    out = {}
    for az in azs:
        if (az, "journal") in c.procs:
            try:
                out[az] = c.journal_status(az)
            except grpc.RpcError:
                pass
    return out


def leader_of(c: Cluster, azs=AZS) -> str | None:
    """The AZ whose journal leads and serves (a commit through it succeeds)."""
    st = statuses(c, azs)
    leaders = [az for az, s in st.items() if s.role == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def start_raft_cluster(tmp_path, storages=("az1", "az2")) -> Cluster:
    c = Cluster(tmp_path, azs=AZS, journal_replication="raft")
    for az in AZS:
        c.start(az, "journal")
    for az in storages:
        c.start(az, "storage")
    wait_for(lambda: leader_of(c), what="a leader")
    return c


def direct_commit(c: Cluster, az: str, key: bytes, timeout: float) -> jpb.CommitResponse:
    with grpc.insecure_channel(c.config.endpoint(az, "journal").grpc_target) as ch:
        return jgrpc.JournalStub(ch).Commit(
            jpb.CommitRequest(start_ts=wall_us(), writes=[jpb.Mutation(key=key, value=b"v")]), timeout=timeout)


def test_replication_mode_of_new_and_old_config_files(tmp_path):
    """New configs are Raft; a cluster.json from before the field existed keeps its static
    journal (its commits live in the static log); a Raft journal refuses to start over one."""
    c = Cluster(tmp_path / "c", azs=("az1",), journal_replication="static")
    raw = c.config.to_json().replace('"journal_replication": "static",', "")
    assert "journal_replication" not in raw
    assert ClusterConfig.from_json(raw).journal_replication == "static"
    assert ClusterConfig.from_json(c.config.to_json()).journal_replication == "static"
    assert Cluster(tmp_path / "d", azs=("az1",)).config.journal_replication == "raft"
    with pytest.raises(ValueError):
        ClusterConfig.from_json(c.config.to_json().replace('"static"', '"paxos"'))
    c.start("az1", "journal")
    with grpc.insecure_channel(c.config.endpoint("az1", "journal").grpc_target) as ch:
        r = jgrpc.JournalStub(ch).Commit(jpb.CommitRequest(start_ts=wall_us(), writes=[jpb.Mutation(key=b"k")]),
                                         timeout=10)
        assert r.outcome == jpb.CommitResponse.COMMITTED
    c.kill("az1", "journal")
    import dataclasses
    from services.journal.replicated import RaftJournalServer
    with pytest.raises(SystemExit, match="static-mode journal"):
        RaftJournalServer(dataclasses.replace(c.config, journal_replication="raft"), "az1")


def test_commit_needs_a_majority(tmp_path):
    """Commits replicate to every replica; with one follower down they still commit (2 of 3);
    with both down the leader acknowledges nothing. A follower answers NOT_LEADER naming the
    leader, and serves Subscribe from its own committed log."""
    c = start_raft_cluster(tmp_path, storages=("az1",))
    try:
        kv = KV(c.config, "az1")
        leader = leader_of(c)
        followers = [az for az in AZS if az != leader]
        stamps = []
        for i in range(20):
            t = kv.begin()
            t.put(b"maj/%02d" % i, b"v")
            stamps.append(t.commit())
        # Every replica has every commit, in the same order, with the same journal index.
        wait_for(lambda: len({(s.last_index, s.last_commit_ts) for s in statuses(c).values()}) == 1
                 and statuses(c)[leader].last_commit_ts == stamps[-1], what="replicas to converge")
        st = statuses(c)
        assert {s.replication for s in st.values()} == {"raft"}
        assert sorted(s.role for s in st.values()) == ["follower", "follower", "leader"]
        assert st[followers[0]].leader == c.config.endpoint(leader, "journal").grpc_target
        import urllib.request
        port = c.config.endpoint(leader, "journal").metrics_port
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        for name in ("dsql_journal_raft_term ", "dsql_journal_raft_role 3.0", "dsql_journal_raft_commit_index ",
                     "dsql_journal_raft_applied_index ", "dsql_journal_is_leader 1.0",
                     f'dsql_journal_raft_replication_lag_entries{{peer="{followers[0]}"}}'):
            assert name in metrics, name
        r = direct_commit(c, followers[0], b"maj/redirect", 5)
        assert r.outcome == jpb.CommitResponse.NOT_LEADER
        assert r.leader == c.config.endpoint(leader, "journal").grpc_target
        # A follower serves Subscribe from its committed log.
        with grpc.insecure_channel(c.config.endpoint(followers[0], "journal").grpc_target) as ch:
            call = jgrpc.JournalStub(ch).Subscribe(jpb.SubscribeRequest(from_index=1), timeout=10)
            got = []
            for batch in call:
                got.extend(batch.entries)
                if len(got) >= 20:
                    break
            call.cancel()
        assert [e.commit_ts for e in got[:20]] == stamps and [e.index for e in got[:20]] == list(range(1, 21))

        c.kill(followers[0], "journal")
        t = kv.begin()
        t.put(b"maj/one-down", b"v")
        assert t.commit() > stamps[-1]
        c.kill(followers[1], "journal")
        # No majority: no acknowledgement (a timeout, NOT_LEADER once CheckQuorum deposes it,
        # or "outcome unknown"), never COMMITTED.
        try:
            r = direct_commit(c, leader, b"maj/no-majority", 2.0)
            assert r.outcome != jpb.CommitResponse.COMMITTED
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN)
        # A follower comes back: the group commits again, and the restarted replica has it all.
        c.start(followers[0], "journal")
        t = kv.begin()
        t.put(b"maj/back", b"v")
        ts = t.commit()
        wait_for(lambda: statuses(c, [followers[0]]).get(followers[0]) is not None
                 and statuses(c, [followers[0]])[followers[0]].last_commit_ts >= ts, what="catch-up")
        keys = {k for k, _ in kv.begin().scan(b"maj/", b"maj0")}
        assert {b"maj/%02d" % i for i in range(20)} | {b"maj/one-down", b"maj/back"} <= keys
        kv.close()
    finally:
        c.stop_all()


def test_kill_leader_under_load(tmp_path):
    """kill -9 of the leader while 6 writers commit: a new leader is elected and writes resume
    within a few seconds; every acknowledged commit is readable afterwards (the unknown ones
    may or may not be); storage in the dead leader's AZ catches up through another replica;
    the old leader restarts, rejoins as a follower and catches up."""
    c = start_raft_cluster(tmp_path, storages=("az1", "az2", "az3"))
    try:
        kv = KV(c.config, "az1")
        old = leader_of(c)
        acked: list[tuple[float, float, bytes]] = []     # (started, acknowledged, key)
        unknown: list[bytes] = []
        stop = threading.Event()

        def writer(w):
            i = 0
            while not stop.is_set():
                k = b"load/%02d/%06d" % (w, i)
                i += 1
                t = kv.begin()
                t.put(k, b"x")
                started = time.monotonic()
                try:
                    t.commit()
                    acked.append((started, time.monotonic(), k))
                except PgError as e:
                    assert e.sqlstate == "08007", e
                    unknown.append(k)

        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            futs = [ex.submit(writer, w) for w in range(6)]
            time.sleep(1.5)
            before = len(acked)
            killed_at = time.monotonic()
            c.kill(old, "journal")
            # Failover time: until the first commit that started after the kill is acknowledged.
            wait_for(lambda: any(s > killed_at for s, _, _ in acked[before:]), timeout=10,
                     what="a commit after the leader was killed")
            resumed = min(a for s, a, _ in acked[before:] if s > killed_at) - killed_at
            time.sleep(1.0)
            stop.set()
            for f in futs:
                f.result()
        new = leader_of(c, [az for az in AZS if az != old])
        assert new is not None and new != old
        assert before > 20 and len(acked) > before + 20
        assert resumed < 5.0, resumed
        print(f"\nfailover: first commit {resumed:.2f}s after kill -9 of {old}; "
              f"{len(acked)} acknowledged, {len(unknown)} unknown")
        acked_keys = {k for _, _, k in acked}
        want = len(acked_keys)
        for az in AZS:          # every storage replica, including the dead leader's AZ
            reader = KV(c.config, az)
            got = {k for k, _ in reader.begin().scan(b"load/", b"load0")}
            reader.close()
            assert acked_keys <= got, (az, len(acked_keys - got))
            assert got <= acked_keys | set(unknown)
        assert want > 0
        js = c.journal_status(new)
        wait_for(lambda: all(c.storage_status(az).applied_index == js.last_index for az in AZS),
                 what="storage to apply everything")

        # The old leader comes back as a follower and catches up.
        c.start(old, "journal")
        t = kv.begin()
        t.put(b"load/after", b"x")
        ts = t.commit()
        wait_for(lambda: (s := statuses(c, [old]).get(old)) is not None and s.last_commit_ts >= ts
                 and s.role == "follower", what="the old leader to catch up")
        assert leader_of(c) == new
        kv.close()
        for az in AZS:      # no storage replica ever saw a gap, a commit_ts going back, or a crash
            text = (c.logs / f"{az}-storage.log").read_text()
            assert "Traceback" not in text and "log gap" not in text, text[-3000:]
    finally:
        c.stop_all()


def _metric(c: Cluster, az: str, name: str) -> float:
    import urllib.request
    port = c.config.endpoint(az, "journal").metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def _subscribe_all(c: Cluster, az: str, count: int) -> list[tuple[int, int]]:
    with grpc.insecure_channel(c.config.endpoint(az, "journal").grpc_target) as ch:
        call = jgrpc.JournalStub(ch).Subscribe(jpb.SubscribeRequest(from_index=1), timeout=20)
        got = []
        for batch in call:
            got.extend((e.index, e.commit_ts) for e in batch.entries)
            if len(got) >= count:
                break
        call.cancel()
    return got


def test_snapshots_compact_the_raft_log_and_catch_up_a_lagging_replica(tmp_path):
    """With raft_snapshot_entries = 20, the replicas compact their Raft logs; a replica that was
    down while the leader compacted past its log gets InstallSnapshot, fetches the journal
    entries it lacks from a peer and ends with exactly the same journal; storage in its AZ then
    reads everything from it; a replica restarted over its own snapshot keeps every entry."""
    c = Cluster(tmp_path, azs=AZS, journal_replication="raft", raft_snapshot_entries=20)
    try:
        for az in AZS:
            c.start(az, "journal")
        leader = wait_for(lambda: leader_of(c), what="a leader")
        lagging = next(az for az in AZS if az != leader)
        c.kill(lagging, "journal")
        kv = KV(c.config, leader)
        stamps = []
        for i in range(60):
            t = kv.begin()
            t.put(b"snap/%03d" % i, b"v%d" % i)
            stamps.append(t.commit())
        assert _metric(c, leader, "dsql_journal_raft_snapshot_index") >= 40
        c.start(lagging, "journal")
        final = c.journal_status(leader)
        wait_for(lambda: (s := statuses(c, [lagging]).get(lagging)) is not None
                 and (s.last_index, s.last_commit_ts) == (final.last_index, final.last_commit_ts),
                 timeout=60, what="the lagging replica to catch up")
        log_text = (c.logs / f"{lagging}-journal.log").read_text()
        assert "installs a snapshot" in log_text and "fetched entries" in log_text, log_text[-3000:]
        want = _subscribe_all(c, leader, final.last_index)
        assert _subscribe_all(c, lagging, final.last_index) == want
        assert [ts for _, ts in want][-60:] == stamps
        # Storage in the lagging AZ tails the replica that was restored from a snapshot.
        c.start(lagging, "storage")
        reader = KV(c.config, lagging)
        assert len(list(reader.begin().scan(b"snap/", b"snap0"))) == 60
        reader.close()
        # A restart over a snapshot of its own re-derives the rest from the Raft log.
        c.kill(leader, "journal")
        c.start(leader, "journal")
        t = kv.begin()
        t.put(b"snap/after", b"x")
        ts = t.commit()
        for az in AZS:
            proc = c.procs[(az, "journal")]
            wait_for(lambda az=az, proc=proc: proc.poll() is not None or (
                (st := statuses(c, [az]).get(az)) is not None and st.last_commit_ts >= ts), timeout=60,
                what=f"{az} to apply")
            assert proc.poll() is None, (proc.returncode, (c.logs / f"{az}-journal.log").read_text()[-3000:])
        after = c.journal_status(leader)
        assert _subscribe_all(c, leader, after.last_index)[:len(want)] == want
        kv.close()
    finally:
        c.stop_all()


def test_storage_behind_the_journal_log_head_copies_a_peer_checkpoint(tmp_path):
    """With journal_retain_entries = 10 the journals cut their logs' heads; a storage replica that
    starts empty is refused the old entries (OUT_OF_RANGE, dsql-log-first), copies a checkpoint
    from a peer storage, then tails the journal; a journal restarted over a cut log keeps it."""
    c = Cluster(tmp_path, azs=AZS, journal_replication="raft", raft_snapshot_entries=10,
                journal_retain_entries=10)
    try:
        for az in AZS:
            c.start(az, "journal")
        for az in AZS[:2]:
            c.start(az, "storage")
        leader = wait_for(lambda: leader_of(c), what="a leader")
        kv = KV(c.config, leader)
        for i in range(60):
            t = kv.begin()
            t.put(b"cp/%03d" % i, b"v%d" % i)
            t.commit()
        with pytest.raises(grpc.RpcError) as refused:
            _subscribe_all(c, AZS[2], 1)
        assert refused.value.code() == grpc.StatusCode.OUT_OF_RANGE
        first = int(dict(refused.value.trailing_metadata())["dsql-log-first"])
        assert first > 10
        # A journal restarted over its cut log serves from the same head.
        c.kill(AZS[2], "journal")
        c.start(AZS[2], "journal")
        c.start(AZS[2], "storage")
        t = kv.begin()
        t.put(b"cp/after", b"x")
        t.commit()
        final = c.journal_status(leader).last_index
        wait_for(lambda: c.storage_status(AZS[2]).applied_index == final, timeout=60,
                 what="the new storage replica to catch up")
        text = (c.logs / f"{AZS[2]}-storage.log").read_text()
        assert "installed a checkpoint" in text, text[-3000:]
        from services.pb.dsql.storage.v1 import storage_pb2 as spb
        from services.pb.dsql.storage.v1 import storage_pb2_grpc as sgrpc
        with grpc.insecure_channel(c.config.endpoint(AZS[2], "storage").grpc_target) as ch:
            rows = sgrpc.StorageStub(ch).Scan(spb.ScanRequest(read_ts=wall_us(), start=b"cp/", end=b"cp0",
                                                             limit=1000), timeout=30).rows
        assert len(rows) == 61
        kv.close()
    finally:
        c.stop_all()
