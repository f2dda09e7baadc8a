"""MVCC on RocksDB: version-key order, snapshot reads, tombstones, paged scans, atomic apply."""

from types import SimpleNamespace as NS

import pytest
from hypothesis import given, settings, strategies as st

from services.storage.mvcc import (SCAN_ROWS_MAX, GapError, Store, decode_version_key, key_prefix,
                                   version_key)


def E(index, ts, *writes):
    """A log entry; writes are (key, value) or (key, None) for a delete."""
    return NS(index=index, commit_ts=ts,
              writes=[NS(key=k, value=v or b"", delete=v is None) for k, v in writes])


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db")
    yield s
    s.close()


@given(st.lists(st.tuples(st.binary(max_size=6), st.integers(0, 2**64 - 1)), min_size=2, max_size=30))
def test_version_key_order(pairs):
    """Version keys sort by user key bytes, then newest first; they decode back."""
    encoded = sorted(version_key(k, ts) for k, ts in pairs)
    decoded = [decode_version_key(v) for v in encoded]
    assert decoded == sorted(pairs, key=lambda p: (p[0], -p[1]))
    for k, ts in pairs:
        assert version_key(k, ts).startswith(key_prefix(k))


def test_prefix_keys_and_zero_bytes_keep_order():
    """Keys that are prefixes of others, or contain 0x00/0xFF, still sort by bytes."""
    keys = [b"", b"\x00", b"\x00\x00", b"\x00\x01", b"\x00\xff", b"a", b"a\x00", b"a\x00\x01", b"ab", b"\xff"]
    enc = [version_key(k, 5) for k in keys]
    assert sorted(enc) == enc
    assert sorted(version_key(k, ts) for k in keys for ts in (1, 9)) == \
        [version_key(k, ts) for k in keys for ts in (9, 1)]


def test_get_at_snapshot_with_tombstones(store):
    """Get returns the newest version <= read_ts; a tombstone reads as absent."""
    store.apply([E(1, 10, (b"a", b"a10"), (b"b", b"b10"))], 10)
    store.apply([E(2, 20, (b"a", b"a20")), E(3, 30, (b"b", None))], 30)
    assert store.get(5, [b"a", b"b"]) == [None, None]
    assert store.get(10, [b"a", b"b"]) == [b"a10", b"b10"]
    assert store.get(19, [b"a", b"b", b"c"]) == [b"a10", b"b10", None]
    assert store.get(25, [b"a", b"b"]) == [b"a20", b"b10"]
    assert store.get(30, [b"b", b"a"]) == [None, b"a20"]
    assert store.applied_index == 3 and store.applied_ts == 30 and store.closed_ts == 30


def test_apply_is_idempotent_and_detects_gaps(store):
    store.apply([E(1, 10, (b"a", b"1"))], 10)
    assert store.apply([E(1, 10, (b"a", b"1"))], 10) == 0
    with pytest.raises(GapError):
        store.apply([E(3, 30, (b"a", b"3"))], 30)
    assert store.applied_index == 1


def test_state_survives_reopen(tmp_path):
    """Versions and the applied index/ts persist together."""
    s = Store(tmp_path / "db")
    s.apply([E(1, 10, (b"k", b"v"))], 15)
    s.close()
    s = Store(tmp_path / "db")
    assert (s.applied_index, s.applied_ts, s.closed_ts) == (1, 10, 15)
    assert s.get(10, [b"k"]) == [b"v"]
    s.close()


def test_scan_forward_reverse_bounds(store):
    store.apply([E(1, 10, (b"a", b"1"), (b"b", b"1"), (b"c", b"1"), (b"d", b"1"))], 10)
    store.apply([E(2, 20, (b"b", b"2"), (b"c", None), (b"e", b"2"))], 20)
    assert store.scan(15, b"", b"") == ([(b"a", b"1"), (b"b", b"1"), (b"c", b"1"), (b"d", b"1")], False)
    assert store.scan(20, b"", b"") == ([(b"a", b"1"), (b"b", b"2"), (b"d", b"1"), (b"e", b"2")], False)
    assert store.scan(20, b"b", b"e") == ([(b"b", b"2"), (b"d", b"1")], False)
    assert store.scan(20, b"", b"", reverse=True) == (
        [(b"e", b"2"), (b"d", b"1"), (b"b", b"2"), (b"a", b"1")], False)
    assert store.scan(20, b"b", b"e", reverse=True) == ([(b"d", b"1"), (b"b", b"2")], False)
    assert store.scan(20, b"c", b"c") == ([], False)
    assert store.scan(5, b"", b"") == ([], False)


def test_scan_limit_and_more(store):
    """`more` is set exactly when a visible row lies past the page."""
    store.apply([E(1, 10, *[(b"k%02d" % i, b"v") for i in range(10)])], 10)
    store.apply([E(2, 20, (b"k09", None))], 20)
    rows, more = store.scan(20, b"", b"", limit=3)
    assert [k for k, _ in rows] == [b"k00", b"k01", b"k02"] and more
    rows, more = store.scan(20, b"k06", b"", limit=3)
    assert [k for k, _ in rows] == [b"k06", b"k07", b"k08"] and not more   # k09 is deleted
    rows, more = store.scan(20, b"", b"", limit=3, reverse=True)
    assert [k for k, _ in rows] == [b"k08", b"k07", b"k06"] and more
    rows, more = store.scan(20, b"", b"", bytes_max=1)
    assert len(rows) == 1 and more


def test_scan_server_max(store):
    store.apply([E(1, 10, *[(b"%05d" % i, b"") for i in range(SCAN_ROWS_MAX + 5)])], 10)
    rows, more = store.scan(10, b"", b"", limit=0)
    assert len(rows) == SCAN_ROWS_MAX and more


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from([b"", b"a", b"a\x00", b"ab", b"b", b"\x00", b"\xff"]),
                                   st.one_of(st.none(), st.binary(max_size=3))),
                         min_size=1, max_size=4), min_size=1, max_size=6),
       st.data())
def test_matches_model(tmp_path_factory, commits, data):
    """Get and Scan agree with a dictionary model at every snapshot."""
    s = Store(tmp_path_factory.mktemp("db") / "db")
    try:
        model = {}           # ts -> dict of visible rows
        state = {}
        for i, writes in enumerate(commits, start=1):
            s.apply([E(i, i * 10, *writes)], i * 10)
            for k, v in writes:
                if v is None:
                    state.pop(k, None)
                else:
                    state[k] = v
            model[i * 10] = dict(state)
        for ts in range(0, len(commits) * 10 + 10, 5):
            visible = model.get(ts - ts % 10, {}) if ts >= 10 else {}
            keys = [b"", b"a", b"a\x00", b"ab", b"b", b"\x00", b"\xff", b"zz"]
            assert s.get(ts, keys) == [visible.get(k) for k in keys]
            lo = data.draw(st.sampled_from([b"", b"a", b"a\x00", b"b"]))
            hi = data.draw(st.sampled_from([b"", b"a\x00", b"b", b"\xff"]))
            want = sorted((k, v) for k, v in visible.items() if k >= lo and (not hi or k < hi))
            assert s.scan(ts, lo, hi)[0] == want
            assert s.scan(ts, lo, hi, reverse=True)[0] == want[::-1]
            if want:
                rows, more = s.scan(ts, lo, hi, limit=1)
                assert rows == want[:1] and more == (len(want) > 1)
    finally:
        s.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from([b"a", b"a\x00", b"b", b"c"]),
                                   st.one_of(st.none(), st.binary(max_size=2))),
                         min_size=1, max_size=3), min_size=1, max_size=8),
       st.sampled_from([0, 5, 10, 15, 20, 35, 50, 90]), st.integers(1, 3))
def test_gc_keeps_every_read_at_or_above_horizon(tmp_path_factory, commits, horizon, keys_max):
    """After a full GC sweep, reads at or above the horizon are unchanged; superseded versions
    and tombstones below it are gone."""
    s = Store(tmp_path_factory.mktemp("db") / "db")
    try:
        for i, writes in enumerate(commits, start=1):
            s.apply([E(i, i * 10, *writes)], i * 10)
        top = len(commits) * 10 + 10
        keys = [b"a", b"a\x00", b"b", b"c"]
        before = {ts: (s.get(ts, keys), s.scan(ts, b"", b"")[0]) for ts in range(horizon, top, 5)}
        n_before = sum(1 for vk in s.db.keys(from_key=b"d") if vk < b"e")
        cursor, total = b"", 0
        while True:
            cursor, dropped = s.gc_step(horizon, cursor, keys_max)
            total += dropped
            if not cursor:
                break
        assert s.gc_horizon == min(horizon, s.closed_ts)
        for ts, (got, rows) in before.items():
            assert s.get(ts, keys) == got
            assert s.scan(ts, b"", b"")[0] == rows
        # Each key keeps at most one version at or below the horizon, never a tombstone.
        below = {}
        for vk in s.db.keys(from_key=b"d"):
            if vk >= b"e":
                break
            k, ts = decode_version_key(vk)
            if ts <= horizon:
                below[k] = below.get(k, 0) + 1
                assert s.db[vk][:1] == b"\x01"
        assert all(n == 1 for n in below.values())
        assert n_before - total == sum(1 for vk in s.db.keys(from_key=b"d") if vk < b"e")
    finally:
        s.close()
