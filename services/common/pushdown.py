"""Scan pushdown: the filter and projection a compute asks storage to apply to the rows of a
scan (ScanRequest.predicates / .columns), evaluated on row values in the format of
keycodec.RowCodec. Shared by storage (services/storage) and the compute's test KV.

A predicate is (column id, op, kind, value bytes): `column op constant` for op in
=, <>, <, <=, >, >= (the constant in the row value format of `kind`), or IS NULL / IS NOT NULL.
A row passes when every predicate is true. Only kinds whose Python comparison is exactly SQL's
are allowed (PUSHABLE_KINDS: integers, booleans, text/varchar under the C collation, where
code point order is UTF-8 byte order); a comparison with a NULL column value is not true.

Pushdown is an optimisation only: the compute re-checks the whole WHERE clause, so a row
storage keeps that SQL would drop is harmless. Hence, conservatively, a row where a
predicate's column is absent (a column added after the row was written, whose value is the
default recorded at ADD COLUMN time, unknown here) passes that predicate.

Projection: with `columns`, storage ships a row value holding only those column ids (the
compute's decoder gives absent columns their "missing" value; the query does not read them).
"""

from __future__ import annotations

import operator
from typing import Callable

from services.common.keycodec import _get_varint, _put_varint, _val_dec, _val_enc

PUSHABLE_KINDS = frozenset(("int2", "int4", "int8", "bool", "text", "varchar"))
COMPARISONS = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
               ">=": operator.ge}
NULL_TESTS = ("is_null", "is_not_null")
OPS = tuple(COMPARISONS) + NULL_TESTS

Predicate = tuple          # (column id, op, kind, value bytes)


def encode_constant(kind: str, value) -> bytes:
    return _val_enc(kind)(value)


def _entries(data: bytes):
    """(column id, body start, body end | None for NULL, entry start, entry end) of a row value."""
    if not data or data[0] != 1:
        raise ValueError("unknown row format")
    n, pos = _get_varint(data, 1)
    for _ in range(n):
        start = pos
        cid, pos = _get_varint(data, pos)
        ln, pos = _get_varint(data, pos)
        if ln == 0:
            yield cid, pos, None, start, pos
            continue
        end = pos + ln - 1
        yield cid, pos, end, start, end
        pos = end


def compile_row_filter(predicates, columns=None) -> Callable[[bytes], bytes | None]:
    """-> fn(row value) -> the value to ship (projected when `columns` is not None) or None
    when a predicate is false. `predicates`: iterable of (column id, op, kind, value bytes)."""
    by_col: dict[int, list] = {}
    for cid, op, kind, value in predicates:
        if kind not in PUSHABLE_KINDS:
            raise ValueError(f"predicates on {kind} columns cannot be pushed down")
        if op in COMPARISONS:
            dec = _val_dec(kind)
            by_col.setdefault(cid, []).append((COMPARISONS[op], dec(value), dec))
        elif op in NULL_TESTS:
            by_col.setdefault(cid, []).append((op, None, None))
        else:
            raise ValueError(f"unknown predicate operator {op!r}")
    keep = frozenset(columns) if columns is not None else None

    def fn(data: bytes) -> bytes | None:
        if not by_col and keep is None:
            return data
        kept = []
        for cid, bs, be, es, ee in _entries(data):
            tests = by_col.get(cid)
            if tests is not None:
                for test, const, dec in tests:
                    if test == "is_null":
                        if be is not None:
                            return None
                    elif test == "is_not_null":
                        if be is None:
                            return None
                    elif be is None or not test(dec(data[bs:be]), const):
                        return None
            if keep is not None and cid in keep:
                kept.append(data[es:ee])
        if keep is None:
            return data
        out = bytearray(b"\x01")
        _put_varint(out, len(kept))
        for e in kept:
            out += e
        return bytes(out)
    return fn
