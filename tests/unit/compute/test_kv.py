"""The transaction client against real journal and storage processes.

Proves read-your-writes, snapshot reads, first-committer-wins, that read-only
transactions never reach the journal, leader redirects and replica failover,
and durability across kill -9 of the journal and a rebuild of storage from the log.
"""

from __future__ import annotations

import shutil
import time

import pytest

from services.common.errors import SerializationFailure
from services.compute.kv import KV
from tests.unit.compute.cluster_fixture import Cluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two AZs: az1's journal leads, az2's journal follows; a storage in each AZ."""
    c = Cluster(tmp_path_factory.mktemp("kv"), azs=("az1", "az2"))
    try:
        c.start("az1", "journal")
        c.start("az2", "journal")
        c.start("az1", "storage")
        c.start("az2", "storage")
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def kv(cluster):
    k = KV(cluster.config, "az1")
    yield k
    k.close()


def test_read_your_writes(kv):
    """Buffered puts and deletes overlay storage in get and scan, before commit."""
    t = kv.begin()
    t.put(b"ryw/a", b"1")
    t.put(b"ryw/c", b"3")
    assert t.commit() is not None
    t = kv.begin()
    assert t.get([b"ryw/a", b"ryw/b", b"ryw/c"]) == [b"1", None, b"3"]
    t.put(b"ryw/b", b"2")
    t.delete(b"ryw/c")
    t.put(b"ryw/a", b"1'")
    assert t.get([b"ryw/a", b"ryw/b", b"ryw/c"]) == [b"1'", b"2", None]
    assert list(t.scan(b"ryw/", b"ryw0")) == [(b"ryw/a", b"1'"), (b"ryw/b", b"2")]
    assert list(t.scan(b"ryw/", b"ryw0", reverse=True)) == [(b"ryw/b", b"2"), (b"ryw/a", b"1'")]
    assert list(t.scan(b"ryw/", b"ryw0", limit=1)) == [(b"ryw/a", b"1'")]
    assert t.write_count == 3
    t.put(b"ryw/d", b"4")
    assert t.write_count == 4 and t.write_bytes == sum(len(x) for x in (
        b"ryw/a", b"1'", b"ryw/b", b"2", b"ryw/c", b"ryw/d", b"4"))
    t.commit()
    t = kv.begin()
    assert list(t.scan(b"ryw/", b"ryw0")) == [(b"ryw/a", b"1'"), (b"ryw/b", b"2"), (b"ryw/d", b"4")]
    t.rollback()


def test_scan_pages_and_merges(kv):
    """A scan longer than a storage page is paged transparently and merged with buffered writes."""
    t = kv.begin()
    for i in range(0, 2500, 1):
        t.put(b"pg/%05d" % i, b"v%d" % i)
    t.commit()
    t = kv.begin()
    t.delete(b"pg/00000")
    t.delete(b"pg/01500")
    t.put(b"pg/01500x", b"new")
    t.put(b"pg/99999", b"tail")
    rows = list(t.scan(b"pg/", b"pg0"))
    assert len(rows) == 2500 - 2 + 2
    assert rows[0][0] == b"pg/00001" and rows[-1] == (b"pg/99999", b"tail")
    assert (b"pg/01500x", b"new") in rows and all(k != b"pg/01500" for k, _ in rows)
    assert [k for k, _ in rows] == sorted(k for k, _ in rows)
    rev = list(t.scan(b"pg/", b"pg0", reverse=True))
    assert rev == rows[::-1]
    assert [k for k, _ in t.scan(b"pg/", b"pg0", limit=3)] == [b"pg/00001", b"pg/00002", b"pg/00003"]
    assert len(list(t.scan(b"pg/", b"pg0", limit=1200))) == 1200


def test_snapshot_reads(cluster, kv):
    """A transaction does not see commits after its start; one started after COMMIT returned
    (even from another compute's clock) does."""
    w = kv.begin()
    w.put(b"snap/k", b"old")
    w.commit()
    reader = kv.begin()
    assert reader.get([b"snap/k"]) == [b"old"]
    w = kv.begin()
    w.put(b"snap/k", b"new")
    w.put(b"snap/k2", b"x")
    w.commit()
    assert reader.get([b"snap/k", b"snap/k2"]) == [b"old", None]
    assert list(reader.scan(b"snap/", b"snap0")) == [(b"snap/k", b"old")]
    other = KV(cluster.config, "az2")
    try:
        assert other.begin().get([b"snap/k", b"snap/k2"]) == [b"new", b"x"]
    finally:
        other.close()


def test_first_committer_wins(kv):
    """Two transactions writing the same key from overlapping snapshots: the second gets OC000."""
    t1, t2 = kv.begin(), kv.begin()
    t1.put(b"occ/k", b"1")
    t2.put(b"occ/k", b"2")
    t1.commit()
    with pytest.raises(SerializationFailure) as e:
        t2.commit()
    assert e.value.sqlstate == "40001" and "(OC000)" in e.value.message
    assert kv.begin().get([b"occ/k"]) == [b"1"]
    # Check keys (SELECT ... FOR UPDATE) lose to a concurrent writer too.
    t3, t4 = kv.begin(), kv.begin()
    t3.add_check_key(b"occ/locked")
    t3.put(b"occ/other", b"x")
    t4.put(b"occ/locked", b"y")
    t4.commit()
    with pytest.raises(SerializationFailure):
        t3.commit()
    # Disjoint write sets both commit, in timestamp order.
    t5, t6 = kv.begin(), kv.begin()
    t5.put(b"occ/a", b"1")
    t6.put(b"occ/b", b"1")
    assert t6.commit() > t5.start_ts and t5.commit() > t6.start_ts


def test_read_only_commit_skips_journal(kv, monkeypatch):
    """A transaction that wrote nothing commits with no journal call and returns None."""
    calls = []
    monkeypatch.setattr(kv, "_commit", lambda req: calls.append(req))
    t = kv.begin()
    t.get([b"ro/x"])
    list(t.scan(b"ro/", b"ro0"))
    t.add_check_key(b"ro/x")
    assert t.commit() is None
    t = kv.begin()
    t.put(b"ro/x", b"1")
    t.rollback()
    assert calls == []
    with pytest.raises(RuntimeError):
        t.get([b"ro/x"])


def test_not_leader_redirect(cluster, kv):
    """A commit sent to a follower journal is redirected to the leader (az1's journal when the
    leader is static; whichever replica won the election under Raft)."""
    roles = {az: cluster.journal_status(az).role for az in ("az1", "az2")}
    assert sorted(roles.values()) == ["follower", "leader"]
    leader_az = next(az for az, role in roles.items() if role == "leader")
    follower_az = next(az for az, role in roles.items() if role == "follower")
    if cluster.config.journal_replication == "static":
        assert leader_az == "az1"
    follower = cluster.config.endpoint(follower_az, "journal").grpc_target
    leader = cluster.config.endpoint(leader_az, "journal").grpc_target
    kv._leader = follower
    t = kv.begin()
    t.put(b"redirect/k", b"v")
    assert t.commit()
    assert kv._leader == leader


def test_read_failover_to_other_az(tmp_path):
    """With this AZ's storage down, reads are served by another AZ's replica; storage in az2
    follows the leader journal through its own AZ's follower journal."""
    c = Cluster(tmp_path, azs=("az1", "az2"))
    try:
        c.start("az1", "journal")
        c.start("az2", "journal")
        c.start("az1", "storage")
        c.start("az2", "storage")
        kv = KV(c.config, "az1")
        t = kv.begin()
        t.put(b"fo/k", b"v")
        t.commit()
        assert kv.begin().get([b"fo/k"]) == [b"v"]
        c.kill("az1", "storage")
        assert kv.begin().get([b"fo/k"]) == [b"v"]
        # The dead replica is tried last from now on, not first on every read.
        az1, az2 = (c.config.endpoint(a, "storage").grpc_target for a in ("az1", "az2"))
        assert kv._storage_order() == [az2, az1]
        assert list(kv.begin().scan(b"fo/", b"fo0")) == [(b"fo/k", b"v")]
        assert c.storage_status("az2").applied_index >= 1
        kv.close()
    finally:
        c.stop_all()


def test_durability_across_journal_kill_and_storage_rebuild(tmp_path):
    """Storage started before the journal waits for it; every acknowledged commit survives a
    kill -9 of the journal and of storage, and a storage rebuilt from an empty directory
    replays the whole log. Commit timestamps keep growing across the restart."""
    c = Cluster(tmp_path, azs=("az1",))
    try:
        c.start("az1", "storage")               # before the journal: must retry
        time.sleep(0.3)
        c.start("az1", "journal")
        kv = KV(c.config, "az1")
        expected = {}
        last_ts = 0
        for i in range(50):
            t = kv.begin()
            for j in range(3):
                k = b"dur/%03d/%d" % (i, j)
                t.put(k, b"v%d" % i)
                expected[k] = b"v%d" % i
            if i % 10 == 0 and i:
                t.delete(b"dur/%03d/0" % (i - 1))
                expected.pop(b"dur/%03d/0" % (i - 1))
            last_ts = t.commit()
        assert dict(kv.begin().scan(b"dur/", b"dur0")) == expected

        c.kill("az1", "journal")                # kill -9
        c.kill("az1", "storage")
        c.start("az1", "journal")
        c.start("az1", "storage")               # resumes from its applied index
        assert dict(kv.begin().scan(b"dur/", b"dur0")) == expected
        t = kv.begin()
        t.put(b"dur/after", b"restart")
        ts = t.commit()
        assert ts > last_ts
        expected[b"dur/after"] = b"restart"

        c.kill("az1", "storage")
        shutil.rmtree(c.config.az_dir("az1", "storage"))
        c.start("az1", "storage")               # rebuilds everything from the log
        assert dict(kv.begin().scan(b"dur/", b"dur0")) == expected
        st = c.storage_status("az1")
        js = c.journal_status("az1")
        assert st.applied_index == js.last_index == 51 and st.applied_ts == js.last_commit_ts == ts
        kv.close()
    finally:
        c.stop_all()


def test_concurrent_commits_share_fsync(cluster):
    """Many threads committing at once all succeed (group commit) with distinct timestamps."""
    import concurrent.futures
    kv = KV(cluster.config, "az1")
    try:
        def one(i):
            t = kv.begin()
            t.put(b"gc/%04d" % i, b"x")
            return t.commit()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            stamps = list(ex.map(one, range(400)))
        assert len(set(stamps)) == 400
        assert len(list(kv.begin().scan(b"gc/", b"gc0"))) == 400
        import urllib.request
        port = cluster.config.endpoint("az1", "journal").metrics_port
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        val = lambda name: float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith(name + " ")))
        # Fewer fsyncs than entries: concurrent commits shared a write+fsync.
        assert val("dsql_journal_fsync_batch_entries_sum") > val("dsql_journal_fsync_batch_entries_count")
    finally:
        kv.close()


def test_kill_journal_under_load_keeps_every_acknowledged_commit(tmp_path):
    """kill -9 of the journal while many commits are in flight: every commit that was
    acknowledged is readable after the restart; the others failed with 08007 (unknown)."""
    import concurrent.futures
    import threading
    from services.common.errors import PgError

    c = Cluster(tmp_path, azs=("az1",))
    try:
        c.start("az1", "journal")
        c.start("az1", "storage")
        kv = KV(c.config, "az1")
        acked, unknown = [], []
        stop = threading.Event()

        def writer(w):
            i = 0
            while not stop.is_set():
                k = b"load/%02d/%06d" % (w, i)
                i += 1
                t = kv.begin()
                t.put(k, b"x")
                try:
                    t.commit()
                    acked.append(k)
                except PgError as e:
                    assert e.sqlstate == "08007"
                    unknown.append(k)
                    return

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            futs = [ex.submit(writer, w) for w in range(8)]
            time.sleep(1.0)
            c.kill("az1", "journal")
            stop.set()
            for f in futs:
                f.result()
        assert len(acked) > 50
        c.start("az1", "journal")
        got = {k for k, _ in kv.begin().scan(b"load/", b"load0")}
        assert set(acked) <= got
        assert got <= set(acked) | set(unknown)
        kv.close()
    finally:
        c.stop_all()


class _FakeKV:
    """Storage stand-in for the overlay logic: a dict, pages of at most 3 rows."""

    def __init__(self, data):
        self.data = dict(data)
        self.calls = []

    def _read(self, method, req):
        from services.pb.dsql.storage.v1 import storage_pb2 as spb
        self.calls.append(method)
        if method == "Get":
            return spb.GetResponse(values=[spb.OptionalValue(found=True, value=self.data[k])
                                           if k in self.data else spb.OptionalValue() for k in req.keys])
        keys = sorted(k for k in self.data if k >= req.start and (not req.end or k < req.end))
        if req.reverse:
            keys.reverse()
        page = min(req.limit or 3, 3)
        return spb.ScanResponse(rows=[spb.KeyValue(key=k, value=self.data[k]) for k in keys[:page]],
                                more=len(keys) > page)


from hypothesis import given, settings, strategies as st  # noqa: E402

_KEYS = st.sampled_from([b"", b"a", b"a\x00", b"ab", b"b", b"c", b"c\xff", b"d"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, st.binary(max_size=2)),
       st.lists(st.tuples(_KEYS, st.one_of(st.none(), st.binary(max_size=2)))),
       _KEYS, st.sampled_from([b"", b"b", b"c\xff", b"zz"]), st.booleans(),
       st.one_of(st.none(), st.integers(0, 6)))
def test_overlay_matches_model(stored, writes, start, end, reverse, limit):
    """get and scan equal a model where buffered puts/deletes replace storage rows."""
    from services.compute.kv import Transaction
    fake = _FakeKV(stored)
    t = Transaction(fake, 1)
    model = dict(stored)
    for k, v in writes:
        if v is None:
            t.delete(k)
            model.pop(k, None)
        else:
            t.put(k, v)
            model[k] = v
    keys = [b"", b"a", b"ab", b"b", b"zz"]
    assert t.get(keys) == [model.get(k) for k in keys]
    want = sorted((k, v) for k, v in model.items() if k >= start and (not end or k < end))
    if reverse:
        want.reverse()
    if limit is not None:
        want = want[:limit]
    assert list(t.scan(start, end, reverse=reverse, limit=limit)) == want
    assert t.write_count == len({k for k, _ in writes})


def test_kill_storage_under_load_resumes_exactly(tmp_path):
    """kill -9 of storage while it applies a stream of commits: after restart it resumes from
    its persisted applied index (each batch is one atomic WriteBatch) and ends up identical
    to the log: every acknowledged row, the journal's last index and commit timestamp."""
    import concurrent.futures
    import threading

    c = Cluster(tmp_path, azs=("az1",))
    try:
        c.start("az1", "journal")
        c.start("az1", "storage")
        kv = KV(c.config, "az1")
        stop = threading.Event()
        acked = []

        def writer(w):
            i = 0
            while not stop.is_set():
                t = kv.begin()
                k = b"sk/%02d/%06d" % (w, i)
                t.put(k, b"x")
                t.commit()
                acked.append(k)
                i += 1

        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            futs = [ex.submit(writer, w) for w in range(4)]
            time.sleep(0.7)
            c.kill("az1", "storage")
            time.sleep(0.3)
            c.start("az1", "storage")
            time.sleep(0.5)
            stop.set()
            for f in futs:
                f.result()
        assert {k for k, _ in kv.begin().scan(b"sk/", b"sk0")} == set(acked)
        js = c.journal_status("az1")
        st = c.storage_status("az1")
        assert (st.applied_index, st.applied_ts) == (js.last_index, js.last_commit_ts)
        kv.close()
    finally:
        c.stop_all()


def test_unknown_commit_outcome_moves_to_the_next_journal(tmp_path):
    """A journal whose Commit fails after the request may have arrived gives 08007, and the
    next commit starts at another journal instead of the one that just failed."""
    import grpc

    from services.common.errors import PgError
    from services.journal.server import SERVICE
    from tests.unit.compute.cluster_fixture import make_config

    config = make_config(tmp_path, azs=("az1", "az2"), journal_replication="raft")
    calls = []

    def commit(request, context):
        calls.append(request)
        context.abort(grpc.StatusCode.UNKNOWN, "leadership changed while it replicated")
    server = grpc.server(__import__("concurrent.futures").futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
        "Commit": grpc.unary_unary_rpc_method_handler(commit)})])
    server.add_insecure_port(config.endpoint("az1", "journal").grpc_target)
    server.start()
    kv = KV(config, "az1")
    try:
        t = kv.begin()
        t.put(b"k", b"v")
        with pytest.raises(PgError) as e:
            t.commit()
        assert e.value.sqlstate == "08007" and len(calls) == 1
        assert kv._leader == config.endpoint("az2", "journal").grpc_target
    finally:
        kv.close()
        server.stop(0)
