"""Scan pushdown evaluated by storage: row filters on decoded values with SQL semantics, projection,
and filtered pages of the MVCC store (resume key, examined-row cap, reverse)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest
from hypothesis import given, settings, strategies as st

from services.common import keycodec
from services.common.pushdown import compile_row_filter, encode_constant
from services.storage.mvcc import Store

COLS = [(1, "int4"), (2, "text"), (3, "bool"), (5, "int8"), (6, "float8")]
CODEC = keycodec.RowCodec(COLS)
KIND = dict(COLS)


def P(cid, op, value=None):
    kind = KIND[cid]
    return (cid, op, kind, b"" if value is None else encode_constant(kind, value))


def passes(row, preds, columns=None):
    out = compile_row_filter(preds, columns)(CODEC.encode(row))
    return out is not None


def test_comparisons_follow_sql():
    row = [5, "b", True, -3, 1.5]
    assert passes(row, [P(1, "=", 5)]) and not passes(row, [P(1, "=", 6)])
    assert passes(row, [P(1, "<>", 6)]) and not passes(row, [P(1, "<>", 5)])
    assert passes(row, [P(1, "<", 6), P(1, "<=", 5), P(1, ">", 4), P(1, ">=", 5)])
    assert not passes(row, [P(1, "<", 5)]) and not passes(row, [P(1, ">", 5)])
    assert passes(row, [P(5, "<", 0), P(5, ">=", -3)])
    assert passes(row, [P(3, "=", True)]) and not passes(row, [P(3, "=", False)])
    assert passes(row, [P(3, ">", False)])
    # text: C collation = code point order = UTF-8 byte order ('B' < 'a' < 'b' < 'é')
    assert passes(row, [P(2, ">", "B"), P(2, ">", "a"), P(2, "<", "é"), P(2, "<", "ba"), P(2, ">", "")])
    assert not passes(row, [P(2, "=", "B")])


def test_null_semantics():
    row = [None, None, None, 7, None]
    for op in ("=", "<>", "<", "<=", ">", ">="):
        assert not passes(row, [P(1, op, 1)])        # NULL op x is not true
        assert not passes(row, [P(2, op, "a")])
    assert passes(row, [P(1, "is_null"), P(2, "is_null"), P(5, "is_not_null")])
    assert not passes(row, [P(1, "is_not_null")])
    assert not passes(row, [P(5, "is_null")])


def test_absent_column_passes():
    """A column added after the row was written: its value (the ADD COLUMN default) is unknown to
    storage, so the row is kept and the compute decides."""
    old = keycodec.RowCodec([(1, "int4")]).encode([1])
    f = compile_row_filter([P(2, "=", "x"), P(3, "is_null")])
    assert f(old) == old


def test_projection_keeps_only_asked_columns():
    row = [5, "hello" * 20, True, None, 2.5]
    data = CODEC.encode(row)
    out = compile_row_filter([P(1, "=", 5)], [1, 6])(data)
    assert len(out) < len(data)
    assert CODEC.decode(out) == [5, None, None, None, 2.5]
    assert CODEC.decode(compile_row_filter([], [6])(data)) == [None, None, None, None, 2.5]
    assert CODEC.decode(compile_row_filter([], [])(data)) == [None] * 5
    assert compile_row_filter([P(1, "=", 6)], [1])(data) is None


def test_unsupported_kinds_are_refused():
    with pytest.raises(ValueError):
        compile_row_filter([(6, "=", "float8", encode_constant("float8", 1.0))])
    with pytest.raises(ValueError):
        compile_row_filter([(1, "like", "int4", encode_constant("int4", 1))])


_SQL = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_int = st.one_of(st.none(), st.integers(-2**31, 2**31 - 1))
_text = st.one_of(st.none(), st.text(max_size=4))
_pred = st.one_of(
    st.tuples(st.just(1), st.sampled_from(list(_SQL) + ["is_null", "is_not_null"]), st.integers(-2**31, 2**31 - 1)),
    st.tuples(st.just(2), st.sampled_from(list(_SQL) + ["is_null", "is_not_null"]), st.text(max_size=4)),
    st.tuples(st.just(3), st.sampled_from(list(_SQL)), st.booleans()))


@settings(max_examples=300, deadline=None)
@given(st.tuples(_int, _text, st.one_of(st.none(), st.booleans())), st.lists(_pred, max_size=3))
def test_filter_matches_sql_model(vals, preds):
    row = [vals[0], vals[1], vals[2], None, None]

    def sql(cid, op, c):
        v = row[[1, 2, 3].index(cid)]
        if op == "is_null":
            return v is None
        if op == "is_not_null":
            return v is not None
        return v is not None and _SQL[op](v, c)
    expect = all(sql(*p) for p in preds)
    assert passes(row, [P(cid, op, None if op.startswith("is_") else c) for cid, op, c in preds]) == expect


# ------------------------------------------------------------------ the store's filtered pages

@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db")
    yield s
    s.close()


def _load(store, n):
    writes = [NS(key=b"k%04d" % i, value=CODEC.encode([i, f"v{i}", i % 2 == 0, None, None]), delete=False)
              for i in range(n)]
    store.apply([NS(index=1, commit_ts=10, writes=writes)], 10)
    # a later version deletes k0003 and rewrites k0004 as odd
    store.apply([NS(index=2, commit_ts=20, writes=[
        NS(key=b"k0003", value=b"", delete=True),
        NS(key=b"k0004", value=CODEC.encode([4, "v4", False, None, None]), delete=False)])], 20)


def _all_pages(store, ts, f, reverse=False, limit=0, examine_max=10_000):
    start, end = b"k", b"l"
    out, calls = [], 0
    while True:
        rows, more, resume, _ = store.scan_filtered(ts, start, end, f, limit, reverse, examine_max=examine_max)
        calls += 1
        out += rows
        if not more:
            return out, calls
        if reverse:
            end = resume
        else:
            start = resume + b"\x00"


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("examine_max,limit", [(10_000, 0), (3, 0), (1, 0), (10_000, 2), (2, 1)])
def test_filtered_scan_pages(store, reverse, examine_max, limit):
    _load(store, 40)
    even = compile_row_filter([(3, "=", "bool", b"\x01")], [1])
    got, calls = _all_pages(store, 30, even, reverse, limit, examine_max)
    expect = [b"k%04d" % i for i in range(0, 40, 2) if i != 4]
    if reverse:
        expect.reverse()
    assert [k for k, _ in got] == expect
    assert all(CODEC.decode(v) == [int(k[1:]), None, None, None, None] for k, v in got)
    if examine_max < 40:
        assert calls > 1
    # at the older snapshot k0004 is still even and k0003 exists
    got, _ = _all_pages(store, 15, even, reverse, limit, examine_max)
    assert len(got) == 20


def test_filtered_scan_counts_examined(store):
    _load(store, 40)
    f = compile_row_filter([(1, ">=", "int4", encode_constant("int4", 35))])
    rows, more, resume, examined = store.scan_filtered(30, b"k", b"l", f)
    assert [k for k, _ in rows] == [b"k%04d" % i for i in range(35, 40)]
    assert not more and examined == 39          # k0003 is deleted
    rows, more, resume, examined = store.scan_filtered(30, b"k", b"l", f, examine_max=10)
    assert rows == [] and more and examined == 10 and resume == b"k0010"
