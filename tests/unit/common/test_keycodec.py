"""The key encoding's byte order is SQL order (property-based), and row values round-trip."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from functools import cmp_to_key

from hypothesis import given, settings, strategies as st

from services.common import keycodec as K
from services.compute.sql.types.interval import Interval

UTC = dt.timezone.utc

STRATEGIES = {
    "int2": st.integers(-(1 << 15), (1 << 15) - 1),
    "int4": st.integers(-(1 << 31), (1 << 31) - 1),
    "int8": st.integers(-(1 << 63), (1 << 63) - 1),
    "bool": st.booleans(),
    "float8": st.floats(allow_nan=True, allow_infinity=True),
    "float4": st.floats(width=32, allow_nan=True, allow_infinity=True),
    "numeric": st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: abs(d.adjusted()) < 200),
        st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("0"),
                         Decimal("-0.000"), Decimal("1.000"), Decimal("10"), Decimal("100"), Decimal("0.01")])),
    "text": st.text(),
    "varchar": st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF)),
    "bpchar": st.text(alphabet="ab \x00"),
    "bytea": st.binary(),
    "uuid": st.uuids(),
    "date": st.dates(),
    "time": st.times(),
    "timestamp": st.datetimes(),
    "timestamptz": st.datetimes(timezones=st.just(UTC)),
    "interval": st.builds(Interval, st.integers(-10000, 10000), st.integers(-100000, 100000),
                          st.integers(-(10 ** 12), 10 ** 12)),
}


def sql_key(kind: str, v):
    """PostgreSQL's ordering of a value as a Python sort key."""
    if kind in ("float4", "float8"):
        return (1, 0.0) if math.isnan(v) else (0, v)
    if kind == "numeric":
        return (1, Decimal(0)) if v.is_nan() else (0, v)
    if kind == "bpchar":
        return v.rstrip(" ").encode()
    if kind in ("text", "varchar"):
        return v.encode("utf-8")        # C collation = byte order of UTF-8
    if kind == "interval":
        return v.sort_key()
    return v


def sql_cmp(kind, a, b, desc=False, nulls_first=None):
    if nulls_first is None:
        nulls_first = desc
    if a is None or b is None:
        if a is None and b is None:
            return 0
        return (-1 if nulls_first else 1) * (1 if a is None else -1)
    ka, kb = sql_key(kind, a), sql_key(kind, b)
    c = (ka > kb) - (ka < kb)
    return -c if desc else c


def _sign(x):
    return (x > 0) - (x < 0)


def check_pair(kind, a, b, desc=False, nulls_first=None):
    ea = K.encode_value(kind, a, desc, nulls_first)
    eb = K.encode_value(kind, b, desc, nulls_first)
    assert _sign((ea > eb) - (ea < eb)) == sql_cmp(kind, a, b, desc, nulls_first), (kind, a, b, ea, eb)


def _make_test(kind):
    strat = STRATEGIES[kind]
    nullable = st.one_of(st.none(), strat)

    @settings(max_examples=300, deadline=None)
    @given(nullable, nullable, st.booleans(), st.sampled_from([None, True, False]))
    def test(a, b, desc, nulls_first):
        check_pair(kind, a, b, desc, nulls_first)
    test.__name__ = f"test_order_{kind}"
    return test


for _kind in STRATEGIES:
    globals()[f"test_order_{_kind}"] = _make_test(_kind)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), STRATEGIES["int4"]), st.one_of(st.none(), STRATEGIES["text"]),
                          STRATEGIES["numeric"]), min_size=2, max_size=8),
       st.tuples(st.booleans(), st.booleans(), st.booleans()))
def test_composite_keys_sort_like_sql(rows, descs):
    kinds = ("int4", "text", "numeric")
    prefix = K.object_prefix(20000)

    def cmp_rows(r1, r2):
        for k, a, b, d in zip(kinds, r1, r2, descs):
            c = sql_cmp(k, a, b, d)
            if c:
                return c
        return 0
    enc = {i: K.encode_key(prefix, kinds, r, list(descs)) for i, r in enumerate(rows)}
    by_sql = sorted(range(len(rows)), key=cmp_to_key(lambda i, j: cmp_rows(rows[i], rows[j])))
    by_bytes = sorted(range(len(rows)), key=lambda i: enc[i])
    # equal SQL keys may come in any order; compare the key sequences
    assert [enc[i] for i in by_bytes] == sorted(enc.values())
    for i, j in zip(by_sql, by_sql[1:]):
        c = cmp_rows(rows[i], rows[j])
        assert (enc[i] < enc[j]) if c < 0 else (enc[i] == enc[j]), (rows[i], rows[j])


def test_table_prefix_bounds_every_key():
    p = K.object_prefix(16384)
    end = K.prefix_end(p)
    for v in (-(1 << 63), 0, (1 << 63) - 1, None):
        k = K.encode_key(p, ["int8"], [v])
        assert p <= k < end
    assert K.object_prefix(16385) >= end


def test_key_encoder_matches_encode_key():
    p = K.object_prefix(7)
    enc = K.key_encoder(p, ["int4", "text"])
    assert enc([5, "x"]) == K.encode_key(p, ["int4", "text"], [5, "x"])


@settings(max_examples=200, deadline=None)
@given(st.tuples(*(st.one_of(st.none(), STRATEGIES[k]) for k in
                   ("int2", "int4", "int8", "bool", "float8", "text", "bytea", "uuid", "date", "time",
                    "timestamp", "timestamptz", "interval")),
                 st.decimals(allow_nan=False, allow_infinity=False)))
def test_row_codec_round_trip(values):
    kinds = ["int2", "int4", "int8", "bool", "float8", "text", "bytea", "uuid", "date", "time", "timestamp",
             "timestamptz", "interval", "numeric"]
    codec = K.RowCodec(list(zip(range(1, len(kinds) + 1), kinds)))
    got = codec.decode(codec.encode(list(values)))
    for k, a, b in zip(kinds, values, got):
        if k == "float8" and a is not None and math.isnan(a):
            assert math.isnan(b)
        elif k == "interval" and a is not None:
            assert tuple(a) == tuple(b)
        else:
            assert a == b, (k, a, b)


def test_row_codec_column_ids_allow_added_and_dropped_columns():
    old = K.RowCodec([(1, "int4"), (2, "text")])
    data = old.encode([1, "a"])
    new = K.RowCodec([(1, "int4"), (3, "bool"), (2, "text")], missing=[None, True, None])
    assert new.decode(data) == [1, True, "a"]
    dropped = K.RowCodec([(2, "text")])
    assert dropped.decode(data) == ["a"]
    assert K.RowCodec([(1, "int4"), (2, "text")]).decode(old.encode([None, None])) == [None, None]


def test_row_values_are_compact():
    codec = K.RowCodec([(1, "int4"), (2, "text"), (3, "float8")])
    assert len(codec.encode([1, "abc", 1.5])) <= 2 + 3 * 2 + 4 + 3 + 8
