"""Execution: runs plan nodes against a transaction. Rows are lists of values.

Storage layout (see services/common/keycodec.py):
    row        object_prefix(table.id) + pk columns          -> RowCodec(all columns)
    index      object_prefix(index.id) + index cols [+ pk]   -> the row's key
A unique index entry has no pk suffix unless one of its columns is NULL (NULLS DISTINCT), so a duplicate is
found by one point read.
"""

from __future__ import annotations

import time

import functools
import heapq
import itertools
import sys
from typing import Iterator

import struct

from services.common import errors, keycodec, pushdown
from services.common.errors import PgError

from . import constraints
from . import functions as F
from . import types as T
from .expr import Env
from .plan import (Aggregate, Delete, Distinct, Filter, IndexScan, Insert, Join, Limit, LookupJoin, PkGet, PkScan, PlanNode,
                   LateralScan, Project, ProjectSet, RecursiveUnion, Result, SetOp, Sort, Trim, Update, Values, VirtualScan, WindowAgg)

ROW_LIMIT_MESSAGE = "transaction row limit exceeded"
QUERY_MEMORY_MESSAGE = "query requires too much temp space, out of memory."


# ------------------------------------------------------------------ per-table codecs

class TableCodec:
    """Key and row encoders of one table definition (cached per table id + revision)."""

    def __init__(self, table):
        self.table = table
        self.prefix = keycodec.object_prefix(table.id)
        self.end = keycodec.prefix_end(self.prefix)
        kinds = [T.lookup(c.type_oid).name for c in table.columns]
        self.kinds = kinds
        self.row = keycodec.RowCodec([(c.id, k) for c, k in zip(table.columns, kinds)])
        self.pk_pos = [table.column_index(cid) for cid in table.pk]
        self.pk_kinds = [kinds[p] for p in self.pk_pos]
        self._pk_enc = keycodec.key_encoder(self.prefix, self.pk_kinds)
        self.indexes = []
        key_cols = set(self.pk_pos)
        for ix in table.indexes:
            pos = [table.column_index(cid) for cid in ix.columns]
            key_cols.update(pos)
            self.indexes.append((ix, pos, keycodec.object_prefix(ix.id), [kinds[p] for p in pos]))
        self.not_null_pos = [i for i, c in enumerate(table.columns) if (c.not_null or i in self.pk_pos)]
        self.has_rules = bool(table.checks) or any(c.generated for c in table.columns)
        self.var_key_pos = [i for i in sorted(key_cols)
                            if kinds[i] in ("text", "varchar", "bpchar", "bytea", "numeric")]

    def pk_key(self, row) -> bytes:
        return self._pk_enc([row[p] for p in self.pk_pos])

    def pk_key_of_values(self, values) -> bytes:
        return self._pk_enc(values)

    def key_prefix(self, values) -> bytes:
        return keycodec.encode_key(self.prefix, self.pk_kinds[:len(values)], values)

    def index_entries(self, row, row_key: bytes) -> list[tuple[bytes, bytes, object]]:
        """(index key, value, index) of every index entry of a row. Indexes in every state are
        maintained: a write-only index being built must not miss a row written meanwhile."""
        out = []
        for ix, pos, prefix, kinds in self.indexes:
            vals = [row[p] for p in pos]
            k = keycodec.encode_key(prefix, kinds, vals, nulls_first=ix.nulls_first)
            if not ix.unique or (not ix.nulls_not_distinct and any(v is None for v in vals)):
                k += row_key[len(self.prefix):]
            out.append((k, row_key, ix))
        return out


_codec_cache: dict[tuple[int, int, int], TableCodec] = {}


def codec_for(table) -> TableCodec:
    k = (table.id, table.revision, id(table))
    c = _codec_cache.get(k)
    if c is None or c.table is not table:
        if len(_codec_cache) > 4096:
            _codec_cache.clear()
        c = TableCodec(table)
        _codec_cache[k] = c
    return c


# ------------------------------------------------------------------ context

class TxnState:
    """What a transaction has done so far (for the limits)."""

    def __init__(self, txn):
        self.txn = txn
        self.rows_modified = 0
        self.bytes_modified = 0
        self.wrote = False
        self.tables_written: dict[tuple[str, str], int] = {}


class ExecContext:
    """One statement's execution: the transaction, the expression environment, the limits and
    the memory held by the operators that keep rows (sort, hash aggregate, hash join build side,
    DISTINCT, window partitions, recursive CTE work tables, set operations). `mem` is what they
    hold now (a cheap estimate per row, `row_bytes`); above `limits.query_memory_bytes_max` the
    statement fails with 53200, the guide's message."""

    def __init__(self, state: TxnState, env: Env, limits=None):
        self.state = state
        self.txn = state.txn
        self.env = env
        self.limits = limits
        self.mem = 0
        self.mem_peak = 0
        self.mem_max = getattr(limits, "query_memory_bytes_max", None) if limits is not None else None

    def charge(self, n_bytes: int) -> None:
        m = self.mem = self.mem + n_bytes
        if m > self.mem_peak:
            self.mem_peak = m
            if self.mem_max is not None and m > self.mem_max:
                raise errors.OutOfMemory(QUERY_MEMORY_MESSAGE)

    def release(self, n_bytes: int) -> None:
        self.mem -= n_bytes

    def account(self) -> "MemAccount":
        return MemAccount(self)

    def count_write(self, n_rows: int, n_bytes: int) -> None:
        st = self.state
        st.rows_modified += n_rows
        st.bytes_modified += n_bytes
        st.wrote = True
        lim = self.limits
        if lim is not None:
            if st.rows_modified > lim.txn_rows_max:
                raise errors.ProgramLimitExceeded(ROW_LIMIT_MESSAGE)
            if st.bytes_modified > lim.txn_bytes_max:
                raise errors.ProgramLimitExceeded(
                    "transaction size limit 10mb exceeded",
                    detail=f"Current transaction size {st.bytes_modified / 1048576:.0f}mb 10mb")


class MemAccount:
    """The memory one operator holds; close() gives it back to the statement."""
    __slots__ = ("ctx", "held")

    def __init__(self, ctx: ExecContext):
        self.ctx = ctx
        self.held = 0

    def charge(self, n_bytes: int) -> None:
        self.held += n_bytes
        self.ctx.charge(n_bytes)

    def close(self) -> None:
        self.ctx.release(self.held)
        self.held = 0


_getsizeof = sys.getsizeof
_ROW_OVERHEAD = 64


def row_bytes(row) -> int:
    """A cheap estimate of the memory one row (a list or tuple of values) holds."""
    return _ROW_OVERHEAD + 8 * len(row) + sum(map(_getsizeof, row))


def _holding(fn):
    """Runs an operator generator fn(node, ctx, acct) with a memory account closed when it ends."""
    @functools.wraps(fn)
    def runner(node, ctx):
        acct = ctx.account()
        try:
            yield from fn(node, ctx, acct)
        finally:
            acct.close()
    return runner


# ------------------------------------------------------------------ reads

def run(node: PlanNode, ctx: ExecContext) -> Iterator[list]:
    return _RUNNERS[type(node)](node, ctx)


def check_cancel(ctx: ExecContext) -> None:
    s = ctx.env.session
    if s is not None and getattr(s, "cancel_requested", False):
        s.cancel_requested = False
        raise errors.QueryCanceled("canceling statement due to user request")
    deadline = getattr(s, "statement_deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise errors.QueryCanceled("canceling statement due to statement timeout")


def _result(node, ctx):
    yield []


def _pk_get(node: PkGet, ctx):
    codec = codec_for(node.table)
    env = ctx.env
    keys = []
    seen = set()
    for key_exprs in node.keys:
        vals = [e.compile(env)(None) for e in key_exprs]
        if any(v is None for v in vals):
            continue
        k = codec.pk_key_of_values(vals)
        if k not in seen:
            seen.add(k)
            keys.append(k)
    if not keys:
        return
    if node.for_update:
        for k in keys:
            ctx.txn.add_check_key(k)
    dec = codec.row.decode
    values = ctx.txn.get(keys)
    if len(keys) > 1:
        pairs = sorted(zip(keys, values))
        values = [v for _, v in pairs]
    for v in values:
        if v is not None:
            yield dec(v)


def _scan_bounds(node: PkScan, ctx):
    codec = codec_for(node.table)
    env = ctx.env
    eq = [e.compile(env)(None) for e in node.eq]
    if any(v is None for v in eq):
        return None
    base = codec.key_prefix(eq) if eq else codec.prefix
    start, end = base, keycodec.prefix_end(base)
    kind = codec.pk_kinds[len(eq)] if len(eq) < len(codec.pk_kinds) else None
    if node.lower is not None:
        v = node.lower[0].compile(env)(None)
        if v is None:
            return None
        b = base + keycodec.encode_value(kind, v)
        start = b if node.lower[1] else keycodec.prefix_end(b)
    if node.upper is not None:
        v = node.upper[0].compile(env)(None)
        if v is None:
            return None
        b = base + keycodec.encode_value(kind, v)
        end = keycodec.prefix_end(b) if node.upper[1] else b
    return start, end


def _pk_scan(node: PkScan, ctx):
    b = _scan_bounds(node, ctx)
    if b is None:
        return
    start, end = b
    if start >= end:
        return
    limit = None
    if node.limit is not None:
        limit = node.limit.compile(ctx.env)(None)
        if limit is not None and limit <= 0:
            return
    codec = codec_for(node.table)
    dec = codec.row.decode
    pushdown = None
    if (node.pushdown or node.columns is not None) and limit is None:
        pushdown = _pushdown_spec(node, codec, ctx)
    n = 0
    scan = ctx.txn.scan(start, end, reverse=node.reverse, limit=limit, pushdown=pushdown) if pushdown \
        else ctx.txn.scan(start, end, reverse=node.reverse, limit=limit)
    for k, v in scan:
        if node.for_update:
            ctx.txn.add_check_key(k)
        n += 1
        if not n & 1023:
            check_cancel(ctx)
        yield dec(v)


def _pushdown_spec(node: PkScan, codec: TableCodec, ctx):
    """(predicates, column ids | None) for storage; a comparison with a NULL constant is left to
    the compute (it is never true, the compute's filter drops every row)."""
    env = ctx.env
    preds = []
    for pos, op, e in node.pushdown:
        col = node.table.columns[pos]
        kind = codec.kinds[pos]
        if e is None:
            preds.append((col.id, op, kind, b""))
            continue
        v = e.compile(env)(None)
        if v is None:
            continue
        try:
            preds.append((col.id, op, kind, pushdown.encode_constant(kind, v)))
        except (TypeError, ValueError, struct.error, OverflowError):
            continue        # e.g. an int8 constant against an int4 column: the compute filters
    columns = None
    if node.columns is not None:
        columns = [node.table.columns[p].id for p in node.columns]
    if not preds and columns is None:
        return None
    return preds, columns


def _index_scan(node: IndexScan, ctx):
    codec = codec_for(node.table)
    entry = next(e for e in codec.indexes if e[0].id == node.index.id)
    _, _, prefix, kinds = entry
    env = ctx.env
    eq = [e.compile(env)(None) for e in node.eq]
    if any(v is None for v in eq):
        return
    base = keycodec.encode_key(prefix, kinds[:len(eq)], eq)
    start, end = base, keycodec.prefix_end(base)
    if node.lower is not None or node.upper is not None:
        kind = kinds[len(eq)]
        start, end = base + keycodec.VALUE, base + keycodec.NULLS_LAST     # values only, no NULLs
        if node.lower is not None:
            v = node.lower[0].compile(env)(None)
            if v is None:
                return
            b = base + keycodec.encode_value(kind, v)
            start = b if node.lower[1] else keycodec.prefix_end(b)
        if node.upper is not None:
            v = node.upper[0].compile(env)(None)
            if v is None:
                return
            b = base + keycodec.encode_value(kind, v)
            end = keycodec.prefix_end(b) if node.upper[1] else b
    if start >= end:
        return
    row_keys = [v for _, v in ctx.txn.scan(start, end)]
    if not row_keys:
        return
    if node.for_update:
        for k in row_keys:
            ctx.txn.add_check_key(k)
    dec = codec.row.decode
    for v in ctx.txn.get(row_keys):
        if v is not None:
            yield dec(v)


def _filter(node: Filter, ctx):
    pred = node.pred.compile(ctx.env)
    for row in run(node.child, ctx):
        if pred(row):
            yield row


def _project(node: Project, ctx):
    fs = [e.compile(ctx.env) for e in node.exprs]
    for row in run(node.child, ctx):
        yield [f(row) for f in fs]


def _trim(node: Trim, ctx):
    w = node.width
    for row in run(node.child, ctx):
        yield row[:w]


def _hashable(v):
    return v


# aggregates whose state grows with every input value (charged like rows held)
_COLLECTING_AGGS = frozenset(("string_agg", "array_agg", "json_agg", "jsonb_agg", "percentile_cont",
                              "percentile_disc", "mode", "json_object_agg", "jsonb_object_agg"))


def _aggregate(node: Aggregate, ctx):
    env = ctx.env
    gfs = [g.compile(env) for g in node.group_by]
    gkeys = [F.sort_key_func(g.type) for g in node.group_by]
    arg_fs = []
    filt_fs = []
    ord_fs = []
    for a in node.aggs:
        arg_fs.append([x.compile(env) for x in a.args])
        filt_fs.append(a.filter.compile(env) if a.filter is not None else None)
        ord_fs.append([o[0].compile(env) for o in a.order])
    ordered = any(a.order for a in node.aggs)
    acct = ctx.account()
    try:
        yield from _aggregate_rows(node, ctx, acct, gfs, gkeys, arg_fs, filt_fs, ord_fs, ordered)
    finally:
        acct.close()


def _aggregate_rows(node, ctx, acct, gfs, gkeys, arg_fs, filt_fs, ord_fs, ordered):
    groups: dict = {}
    order = []
    group_bytes = 64 * (len(node.aggs) + 1)
    for row in run(node.child, ctx):
        gv = [f(row) for f in gfs]
        key = tuple((k(v) if (k and v is not None) else v) for k, v in zip(gkeys, gv))
        st = groups.get(key)
        if st is None:
            st = (gv, [a.make_state() for a in node.aggs], [set() if a.distinct else None for a in node.aggs],
                  [[] for _ in node.aggs] if ordered else None)
            groups[key] = st
            order.append(key)
            acct.charge(row_bytes(gv) + group_bytes)
        for j, (agg, state, fs, seen) in enumerate(zip(node.aggs, st[1], arg_fs, st[2])):
            if filt_fs[j] is not None and filt_fs[j](row) is not True:
                continue
            if agg.order:
                item = ([f(row) for f in ord_fs[j]], [f(row) for f in fs])
                st[3][j].append(item)
                acct.charge(row_bytes(item[0]) + row_bytes(item[1]))
                continue
            if agg.star:
                state.add(True)
                continue
            vals = [f(row) for f in fs]
            if seen is not None:
                if vals[0] is None or vals[0] in seen:
                    continue
                seen.add(vals[0])
                acct.charge(row_bytes(vals))
            elif agg.name in _COLLECTING_AGGS:
                acct.charge(row_bytes(vals))
            if len(vals) == 1:
                state.add(vals[0])
            else:
                state.add(*vals)
    if not groups and not node.group_by:
        yield [a.make_state().result() for a in node.aggs]
        return
    for key in order:
        gv, states, seens, pending = groups[key]
        if ordered:
            for agg, state, seen, items in zip(node.aggs, states, seens, pending):
                if not agg.order:
                    continue
                _sort_rows(items, [(d, nf, e.type) for e, d, nf in agg.order])
                for _, vals in items:
                    if seen is not None:
                        k = _hashable(vals[0])
                        if vals[0] is None or k in seen:
                            continue
                        seen.add(k)
                    state.add(*vals)
        yield gv + [s.result() for s in states]


@_holding
def _recursive_union(node, ctx, acct):
    keys = [F.sort_key_func(t) for t in node.types]

    def key(row):
        return tuple((kf(v) if (kf and v is not None) else v) for kf, v in zip(keys, row))
    seen = set()
    work = []
    for r in run(node.left, ctx):
        if not node.all:
            k = key(r)
            if k in seen:
                continue
            seen.add(k)
            acct.charge(row_bytes(k))
        work.append(r)
        acct.charge(row_bytes(r))
        yield r
    total = len(work)
    while work:
        check_cancel(ctx)
        node.holder["rows"] = work
        work_bytes = sum(map(row_bytes, work))
        new = []
        for r in run(node.right, ctx):
            if not node.all:
                k = key(r)
                if k in seen:
                    continue
                seen.add(k)
                acct.charge(row_bytes(k))
            new.append(r)
            acct.charge(row_bytes(r))
            yield r
        acct.charge(-work_bytes)        # the previous round's work table is dropped
        total += len(new)
        if total > 10_000_000:
            raise PgError("recursive query produced too many rows", sqlstate="54000")
        work = new


def _project_set(node, ctx):
    for row in run(node.child, ctx):
        lists = [row[i] or [] for i in node.srf]
        for k in range(max((len(x) for x in lists), default=0)):
            out = list(row)
            for i, lst in zip(node.srf, lists):
                out[i] = lst[k] if k < len(lst) else None
            yield out


class _Desc:
    """A sort key compared in reverse (DESC columns of a composite top-N key)."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return other.v < self.v

    def __gt__(self, other):
        return other.v > self.v

    def __eq__(self, other):
        return self.v == other.v


def _composite_key(keys):
    """One key function over a whole row giving the order of the multi-pass stable sort in _sort:
    NULLs first or last per column whatever the direction, DESC columns compared reversed."""
    parts = []
    for idx, desc, nulls_first, oid in keys:
        parts.append((idx, desc, (0, 0) if nulls_first else (2, 0), F.sort_key_func(oid)))

    def key(row):
        out = []
        for idx, desc, null_key, kf in parts:
            v = row[idx]
            if v is None:
                out.append(null_key)
            else:
                if kf is not None:
                    v = kf(v)
                out.append((1, _Desc(v) if desc else v))
        return out
    return key


def _sort(node: Sort, ctx):
    if node.limit is not None:
        n = node.limit.compile(ctx.env)(None)
        if n is not None and n >= 0:
            yield from _top_n(node, ctx, n)
            return
    rows = []
    acct = ctx.account()
    try:
        for row in run(node.child, ctx):
            rows.append(row)
            acct.charge(row_bytes(row))
        for idx, desc, nulls_first, oid in reversed(node.keys):
            kf = F.sort_key_func(oid)
            # NULLs: with desc=False they go last unless nulls_first; reverse=True flips everything
            null_rank_first = (0 if nulls_first else 1) if not desc else (1 if nulls_first else 0)

            def key(row, idx=idx, kf=kf, nr=null_rank_first):
                v = row[idx]
                if v is None:
                    return (nr, 0)
                return (1 - nr, kf(v) if kf else v)
            try:
                rows.sort(key=key, reverse=desc)
            except TypeError:
                raise PgError("could not compare values for ORDER BY", sqlstate="XX000") from None
        yield from rows
    finally:
        acct.close()


def _top_n(node: Sort, ctx, n: int):
    """The first n rows of the stable sort, keeping at most n rows: a max-heap of
    (inverted key, inverted arrival number, row) whose top is the row that sorts last."""
    if n == 0:
        for _ in run(node.child, ctx):      # still evaluated (errors, volatile functions) like PG
            pass
        return
    key = _composite_key(node.keys)
    heap: list = []
    acct = ctx.account()
    try:
        try:
            for seq, row in enumerate(run(node.child, ctx)):
                item = (_Desc(key(row)), -seq, row)
                if len(heap) < n:
                    heapq.heappush(heap, item)
                    acct.charge(row_bytes(row))
                elif heap[0] < item:        # sorts before the current last row: replace it
                    old = heapq.heapreplace(heap, item)[2]
                    acct.charge(row_bytes(row) - row_bytes(old))
            heap.sort(reverse=True)
        except TypeError:
            raise PgError("could not compare values for ORDER BY", sqlstate="XX000") from None
        for item in heap:
            yield item[2]
    finally:
        acct.close()


@_holding
def _distinct(node: Distinct, ctx, acct):
    keys = [F.sort_key_func(t) for t in node.types]
    seen = set()
    for row in run(node.child, ctx):
        vals = row if node.keys is None else [row[i] for i in node.keys]
        k = tuple((kf(v) if (kf and v is not None) else v) for kf, v in zip(keys, vals))
        if k in seen:
            continue
        seen.add(k)
        acct.charge(row_bytes(k))
        yield row


def _limit(node: Limit, ctx):
    env = ctx.env
    limit = node.limit.compile(env)(None) if node.limit is not None else None
    offset = node.offset.compile(env)(None) if node.offset is not None else 0
    offset = offset or 0
    if offset < 0:
        raise PgError("OFFSET must not be negative", sqlstate="2201X")
    if limit is not None and limit < 0:
        raise PgError("LIMIT must not be negative", sqlstate="2201W")
    if limit == 0:
        return
    n = 0
    for i, row in enumerate(run(node.child, ctx)):
        if i < offset:
            continue
        yield row
        n += 1
        if limit is not None and n >= limit:
            return


@_holding
def _join(node: Join, ctx, acct):
    env = ctx.env
    cond = node.cond.compile(env) if node.cond is not None else None
    rights = []
    for r in run(node.right, ctx):
        rights.append(r)
        acct.charge(row_bytes(r))
    lnull = [None] * node.left_width
    rnull = [None] * node.right_width
    kind = node.kind
    right_matched = [False] * len(rights) if kind in ("RIGHT", "FULL") else None
    if node.left_keys:
        lfs = [e.compile(env) for e in node.left_keys]
        rfs = [e.compile(env) for e in node.right_keys]
        kfs = [F.sort_key_func(t) for t in node.key_types]
        table: dict = {}
        for i, r in enumerate(rights):
            k = []
            for f, kf in zip(rfs, kfs):
                v = f(r)
                if v is None:
                    break
                k.append(kf(v) if kf else v)
            else:
                table.setdefault(tuple(k), []).append(i)

        def candidates(lrow):
            k = []
            for f, kf in zip(lfs, kfs):
                v = f(lrow)
                if v is None:
                    return ()
                k.append(kf(v) if kf else v)
            return table.get(tuple(k), ())
    else:
        all_idx = range(len(rights))

        def candidates(lrow):
            return all_idx
    n = 0
    for lrow in run(node.left, ctx):
        n += 1
        if not n & 255:
            check_cancel(ctx)
        matched = False
        for i in candidates(lrow):
            row = lrow + rights[i]
            if cond is None or cond(row):
                matched = True
                if right_matched is not None:
                    right_matched[i] = True
                yield row
        if not matched and kind in ("LEFT", "FULL"):
            yield lrow + rnull
    if right_matched is not None:
        for i, m in enumerate(right_matched):
            if not m:
                yield lnull + rights[i]


LOOKUP_BATCH_ROWS = 1000


def _lookup_join(node: LookupJoin, ctx):
    """Batches of left rows, each answered by one batched primary-key get of the right table."""
    env = ctx.env
    codec = codec_for(node.table)
    dec = codec.row.decode
    key_fs = [e.compile(env) for e in node.pk_exprs]
    cond = node.cond.compile(env) if node.cond is not None else None
    right_ok = node.right_filter.compile(env) if node.right_filter is not None else None
    rnull = [None] * node.right_width
    outer = node.kind == "LEFT"
    left = run(node.left, ctx)
    while True:
        batch = list(itertools.islice(left, LOOKUP_BATCH_ROWS))
        if not batch:
            return
        check_cancel(ctx)
        keys = []
        for lrow in batch:
            vals = [f(lrow) for f in key_fs]
            keys.append(None if any(v is None for v in vals) else codec.pk_key_of_values(vals))
        wanted = sorted({k for k in keys if k is not None})
        found = dict(zip(wanted, ctx.txn.get(wanted))) if wanted else {}
        for lrow, key in zip(batch, keys):
            value = found.get(key) if key is not None else None
            if value is not None:
                rrow = dec(value)
                if right_ok is None or right_ok(rrow):
                    row = lrow + rrow
                    if cond is None or cond(row):
                        yield row
                        continue
            if outer:
                yield lrow + rnull


def _sort_rows(items, keys):
    """Stable multi-key sort of (order key values, payload) items; keys: (desc, nulls_first, type)."""
    for j in range(len(keys) - 1, -1, -1):
        desc, nulls_first, oid = keys[j]
        kf = F.sort_key_func(oid)
        nr = (0 if nulls_first else 1) if not desc else (1 if nulls_first else 0)

        def key(it, j=j, kf=kf, nr=nr):
            v = it[0][j]
            if v is None:
                return (nr, 0)
            return (1 - nr, kf(v) if kf else v)
        items.sort(key=key, reverse=desc)
    return items


@_holding
def _window(node: WindowAgg, ctx, acct):
    env = ctx.env
    rows = []
    for r in run(node.child, ctx):
        rows.append(r)
        acct.charge(row_bytes(r) + 8 * (len(node.windows) + 1))
    extra = [[None] * len(node.windows) for _ in rows]
    for j, w in enumerate(node.windows):
        pfs = [e.compile(env) for e in w.partition]
        ofs = [o[0].compile(env) for o in w.order]
        afs = [a.compile(env) for a in w.args]
        filt = w.filter.compile(env) if w.filter is not None else None
        frame = w.frame
        offs = []
        for which, e in (("starting", frame[2]), ("ending", frame[4])):
            v = e.compile(env)([]) if e is not None else None
            if e is not None and v is None:
                raise PgError(f"frame {which} offset must not be null", sqlstate="22004")
            if v is not None and v < 0:
                raise PgError(f"frame {which} offset must not be negative", sqlstate="22013")
            offs.append(v)
        pkeys = [F.sort_key_func(e.type) for e in w.partition]
        parts: dict = {}
        for i, r in enumerate(rows):
            k = tuple((kf(v) if (kf and v is not None) else v) for kf, v in zip(pkeys, (f(r) for f in pfs)))
            parts.setdefault(k, []).append(i)
        okeys = [(d, nf, e.type) for e, d, nf in w.order]
        okf = [F.sort_key_func(e.type) for e, _, _ in w.order]
        for idxs in parts.values():
            items = [([f(rows[i]) for f in ofs], i) for i in idxs]
            if w.order:
                _sort_rows(items, okeys)
            order = [i for _, i in items]
            peer_keys = [tuple((kf(v) if (kf and v is not None) else v) for kf, v in zip(okf, it[0]))
                         for it in items]
            n = len(order)
            # peer groups: [start, end) ranges of equal order keys
            group_end = [0] * n
            p = n
            for q in range(n - 1, -1, -1):
                if q < n - 1 and peer_keys[q] != peer_keys[q + 1]:
                    p = q + 1
                group_end[q] = p
            group_start = [0] * n
            for q in range(1, n):
                group_start[q] = group_start[q - 1] if peer_keys[q] == peer_keys[q - 1] else q
            bounds = _frame_bounds(frame, offs, n, group_start, group_end)
            keep = [filt(rows[i]) is True for i in order] if filt is not None else None
            vals = _window_values(w, order, rows, afs, group_end, peer_keys, n, bounds, keep)
            for pos, i in enumerate(order):
                extra[i][j] = vals[pos]
    for r, e in zip(rows, extra):
        yield r + e


def _window_values(w, order, rows, afs, group_end, peer_keys, n, bounds, keep):
    name = w.name
    args = [[f(rows[i]) for f in afs] for i in order]
    if name == "row_number":
        return list(range(1, n + 1))
    if name in ("rank", "dense_rank", "percent_rank", "cume_dist"):
        out = []
        rank = dense = 0
        for pos in range(n):
            if pos == 0 or peer_keys[pos] != peer_keys[pos - 1]:
                rank = pos + 1
                dense += 1
            if name == "rank":
                out.append(rank)
            elif name == "dense_rank":
                out.append(dense)
            elif name == "percent_rank":
                out.append((rank - 1) / (n - 1) if n > 1 else 0.0)
            else:
                out.append(group_end[pos] / n)
        return out
    if name == "ntile":
        out = []
        for pos in range(n):
            buckets = args[pos][0]
            if buckets is None:
                out.append(None)
                continue
            if buckets <= 0:
                raise PgError("argument of ntile must be greater than zero", sqlstate="22014")
            per, extra_rows = divmod(n, buckets)
            # the first `extra_rows` buckets get one more row
            big = (per + 1) * extra_rows
            out.append(pos // (per + 1) + 1 if pos < big else extra_rows + (pos - big) // per + 1 if per else pos + 1)
        return out
    if name in ("lag", "lead"):
        out = []
        for pos in range(n):
            a = args[pos]
            off = a[1] if len(a) > 1 else 1
            if off is None:
                out.append(None)
                continue
            tgt = pos - off if name == "lag" else pos + off
            out.append(args[tgt][0] if 0 <= tgt < n else (a[2] if len(a) > 2 else None))
        return out

    if name in ("first_value", "last_value", "nth_value"):
        out = []
        for pos in range(n):
            st, end = bounds[pos]
            if name == "first_value":
                out.append(args[st][0] if end > st else None)
            elif name == "last_value":
                out.append(args[end - 1][0] if end > st else None)
            else:
                k = args[pos][1]
                if k is not None and k <= 0:
                    raise PgError("argument of nth_value must be greater than zero", sqlstate="22016")
                out.append(args[st + k - 1][0] if k is not None and st + k - 1 < end else None)
        return out

    def add(state, i):
        if keep is not None and not keep[i]:
            return
        a = args[i]
        if w.star:
            state.add(True)
        else:
            state.add(*a)
    out = [None] * n
    growing = all(b[0] == 0 for b in bounds) and all(bounds[i][1] <= bounds[i + 1][1] for i in range(n - 1))
    if growing:
        state = w.make_state()
        done = 0
        for pos in range(n):
            end = bounds[pos][1]
            while done < end:
                add(state, done)
                done += 1
            out[pos] = state.result()
        return out
    for pos in range(n):
        state = w.make_state()
        st, end = bounds[pos]
        for i in range(st, end):
            add(state, i)
        out[pos] = state.result()
    return out


def _frame_bounds(frame, offs, n, group_start, group_end):
    """[start, end) of each row's window frame (positions in partition order)."""
    mode, sk, _, ek, _ = frame
    so, eo = offs
    out = []
    for pos in range(n):
        if sk == "up":
            st = 0
        elif sk == "cr":
            st = pos if mode == "rows" else group_start[pos]
        elif sk == "op":
            st = pos - so
        elif sk == "of":
            st = pos + so
        else:
            st = n
        if ek == "uf":
            end = n
        elif ek == "cr":
            end = pos + 1 if mode == "rows" else group_end[pos]
        elif ek == "op":
            end = pos - eo + 1
        elif ek == "of":
            end = pos + eo + 1
        else:
            end = 0
        st, end = max(0, min(st, n)), max(0, min(end, n))
        out.append((st, max(st, end)))
    return out


def _virtual(node: VirtualScan, ctx):
    session = ctx.env.session
    args = (ctx.env,) if getattr(node.rows, "wants_env", False) else ()
    for i, r in enumerate(node.rows(session.catalog, session, *args)):
        if i % 1024 == 1023:
            check_cancel(ctx)
        yield list(r)


def _lateral_scan(node: LateralScan, ctx):
    env = ctx.env
    session = env.session
    pad = [None] * node.offset
    for left in run(node.left, ctx):
        env.outer_stack.append(pad + list(left))
        try:
            rows = list(node.rows(session.catalog, session, env))
        finally:
            env.outer_stack.pop()
        for r in rows:
            yield list(left) + list(r)


def _values(node: Values, ctx):
    for r in node.rows:
        yield [e.compile(ctx.env)(None) for e in r]


@_holding
def _setop(node: SetOp, ctx, acct):
    keys = [F.sort_key_func(t) for t in node.types]

    def k(row):
        return tuple((kf(v) if (kf and v is not None) else v) for kf, v in zip(keys, row))
    if node.op == "UNION":
        if node.all:
            yield from run(node.left, ctx)
            yield from run(node.right, ctx)
            return
        seen = set()
        for side in (node.left, node.right):
            for row in run(side, ctx):
                kk = k(row)
                if kk not in seen:
                    seen.add(kk)
                    acct.charge(row_bytes(kk))
                    yield row
        return
    counts: dict = {}
    for row in run(node.right, ctx):
        kk = k(row)
        n = counts.get(kk, 0)
        if not n:
            acct.charge(row_bytes(kk) + 16)
        counts[kk] = n + 1
    emitted = set()
    for row in run(node.left, ctx):
        kk = k(row)
        n = counts.get(kk, 0)
        if node.op == "INTERSECT":
            if n > 0:
                if node.all:
                    counts[kk] = n - 1
                    yield row
                elif kk not in emitted:
                    emitted.add(kk)
                    acct.charge(16)
                    yield row
        else:  # EXCEPT
            if node.all:
                if n > 0:
                    counts[kk] = n - 1
                else:
                    yield row
            elif n == 0 and kk not in emitted:
                emitted.add(kk)
                acct.charge(row_bytes(kk))
                yield row


# ------------------------------------------------------------------ writes

def _record_out(values, columns) -> str:
    """A row as PostgreSQL's ExecBuildSlotValueDescription prints it: unquoted, each value cut to 64 chars."""
    parts = []
    for v, c in zip(values, columns):
        parts.append("null" if v is None else T.lookup(c.type_oid).text_out(v)[:VALUE_DESCRIPTION_CHARS_MAX])
    return "(" + ", ".join(parts) + ")"


VALUE_DESCRIPTION_CHARS_MAX = 64


def _visible_record(table, row) -> str:
    vis = [j for j, cc in enumerate(table.columns) if not cc.hidden]
    return _record_out([row[j] for j in vis], [table.columns[j] for j in vis])


def _check_row(table, row, codec: TableCodec, ctx: ExecContext) -> None:
    """Generated columns, NOT NULL, CHECK (in PostgreSQL's order), then the size limits."""
    rules = constraints.rules_for(table, ctx.env.session) if codec.has_rules else None
    if rules is not None:
        constraints.generate(rules, row, ctx.env)
    for i in codec.not_null_pos:
        if row[i] is None:
            c = table.columns[i]
            raise errors.NotNullViolation(
                f'null value in column "{c.name}" of relation "{table.name}" violates not-null constraint',
                detail=f"Failing row contains {_visible_record(table, row)}.")
    if rules is not None:
        constraints.check(rules, table, row, ctx.env, lambda r: _visible_record(table, r))
    lim = ctx.limits
    if lim is not None:
        for i in codec.var_key_pos:
            v = row[i]
            if v is not None:
                n = len(v.encode("utf-8")) if isinstance(v, str) else len(v) if isinstance(v, bytes) else len(str(v))
                if n > lim.key_column_bytes_max:
                    raise errors.ProgramLimitExceeded("maximum key column size exceeded")
        for v in row:
            if isinstance(v, (str, bytes)) and len(v) > lim.column_bytes_max // 4 and \
                    (len(v.encode("utf-8")) if isinstance(v, str) else len(v)) > lim.column_bytes_max:
                raise errors.ProgramLimitExceeded("maximum column size exceeded")


def _dup_error(table, constraint: str, cols, vals) -> PgError:
    names = ", ".join(c.name for c in cols)
    shown = ", ".join("null" if v is None else T.lookup(c.type_oid).text_out(v) for c, v in zip(cols, vals))
    return errors.UniqueViolation(f'duplicate key value violates unique constraint "{constraint}"',
                                  detail=f"Key ({names})=({shown}) already exists.")


def _pk_name(table) -> str:
    return table.pk_name or f"{table.name}_pkey"


def _limits_check(table, key: bytes, value: bytes, ctx) -> None:
    lim = ctx.limits
    if lim is None:
        return
    if len(key) > lim.key_bytes_max:
        raise errors.ProgramLimitExceeded("key size too large")
    if len(value) > lim.row_bytes_max:
        raise errors.ProgramLimitExceeded("maximum row size exceeded")


def _index_limits_check(entries, ctx) -> None:
    lim = ctx.limits
    if lim is None:
        return
    for k, _, _ in entries:
        if len(k) > lim.key_bytes_max:
            raise errors.ProgramLimitExceeded("key size too large")


def _returning(exprs, rows, ctx):
    fs = [e.compile(ctx.env) for e in exprs]
    return [[f(r) for f in fs] for r in rows]


def run_insert(node: Insert, ctx: ExecContext):
    """-> (count, returning rows)"""
    table = node.table
    codec = codec_for(table)
    env = ctx.env
    rows = []
    if node.rows is not None:
        compiled = [[e.compile(env) for e in r] for r in node.rows]
        for r in compiled:
            rows.append([f(None) for f in r])
    else:
        src_rows = list(run(node.source, ctx))
        dfs = [e.compile(env) for e in node.defaults]
        for sr in src_rows:
            full = [f(None) for f in dfs]
            for p, v in zip(node.columns, sr):
                full[p] = v
            rows.append(full)
    return insert_rows(node, rows, ctx)


def insert_rows(node: Insert, rows: list[list], ctx: ExecContext):
    """Insert full-width rows of values (INSERT, COPY FROM) -> (count, returning rows)."""
    table = node.table
    codec = codec_for(table)
    env = ctx.env
    # build keys
    entries = []
    check_keys = []
    for row in rows:
        _check_row(table, row, codec, ctx)
        key = codec.pk_key(row)
        value = codec.row.encode(row)
        _limits_check(table, key, value, ctx)
        idx = codec.index_entries(row, key)
        _index_limits_check(idx, ctx)
        entries.append((row, key, value, idx))
        check_keys.append(key)
        for k, _, ix in idx:
            if ix.unique:
                check_keys.append(k)
    hidden_pk = any(table.columns[p].hidden for p in codec.pk_pos)
    existing = {}
    got = []
    if check_keys and not (hidden_pk and not any(ix.unique for ix in table.indexes)):
        got = ctx.txn.get(check_keys)
        existing = {k for k, v in zip(check_keys, got) if v is not None}
    existing_values = {}
    if node.on_conflict == "update" and check_keys:
        existing_values = {k: v for k, v in zip(check_keys, got) if v is not None}
    written = []
    updates = []                 # (old, new) from ON CONFLICT DO UPDATE
    touched: set[bytes] = set()  # rows inserted or updated by this statement
    new_keys: set[bytes] = set()
    for row, key, value, idx in entries:
        if node.on_conflict == "update":
            arb_key = key if node.arbiter is None else next(k for k, _, ix in idx if ix.id == node.arbiter)
            if arb_key in existing or arb_key in new_keys:
                if arb_key in new_keys or (node.arbiter is None and key in touched):
                    raise PgError("ON CONFLICT DO UPDATE command cannot affect row a second time",
                                  sqlstate="21000",
                                  hint="Ensure that no rows proposed for insertion within the same command "
                                       "have duplicate constrained values.")
                row_key = arb_key if node.arbiter is None else existing_values[arb_key]
                if row_key in touched:
                    raise PgError("ON CONFLICT DO UPDATE command cannot affect row a second time",
                                  sqlstate="21000")
                raw = existing_values.get(row_key) if node.arbiter is None else ctx.txn.get([row_key])[0]
                old = codec.row.decode(raw)
                both = old + row
                if node.conflict_where is not None and not node.conflict_where.compile(env)(both):
                    continue
                new = list(old)
                for p, e in node.conflict_sets:
                    new[p] = e.compile(env)(both)
                touched.add(row_key)
                updates.append((old, new))
                continue
        conflict = None
        if key in existing or key in new_keys:
            conflict = (_pk_name(table), [table.columns[p] for p in codec.pk_pos], [row[p] for p in codec.pk_pos])
        else:
            for k, _, ix in idx:
                if ix.unique and (k in existing or k in new_keys):
                    cols = [table.column_by_id(c) for c in ix.columns]
                    conflict = (ix.name, cols, [row[table.column_index(c)] for c in ix.columns])
                    break
        if conflict is not None:
            if node.on_conflict == "nothing":
                continue
            raise _dup_error(table, *conflict)
        new_keys.add(key)
        ctx.txn.put(key, value)
        n_bytes = len(key) + len(value)
        for k, v, ix in idx:
            if ix.unique:
                new_keys.add(k)
            ctx.txn.put(k, v)
            n_bytes += len(k) + len(v)
        ctx.count_write(1 + len(idx), n_bytes)
        touched.add(key)
        written.append(row)
    if updates:
        _apply_changes(table, codec, updates, ctx)
        written += [n for _, n in updates]
    ctx.state.tables_written[(table.schema, table.name)] = table.revision
    return len(written), _returning(node.returning, written, ctx)


def run_update(node: Update, ctx: ExecContext):
    table = node.table
    codec = codec_for(table)
    env = ctx.env
    sets = [(p, e.compile(env)) for p, e in node.sets]
    old_rows = list(run(node.source, ctx))
    changes = []
    out_rows = []
    w = node.join_width
    seen = set()
    for old in old_rows:
        if w is not None:
            k = codec.pk_key(old[:w])
            if k in seen:
                continue    # a target row joined to several FROM rows is updated once
            seen.add(k)
        new = list(old)
        for p, f in sets:
            new[p] = f(old)
        if w is not None:
            changes.append((old[:w], new[:w]))
        else:
            changes.append((old, new))
        out_rows.append(new)
    _apply_changes(table, codec, changes, ctx)
    ctx.state.tables_written[(table.schema, table.name)] = table.revision
    return len(changes), _returning(node.returning, out_rows, ctx)


def _apply_changes(table, codec: TableCodec, changes, ctx: ExecContext) -> None:
    """Write updated rows: (old row, new row) pairs; moves rows whose primary key changed."""
    pk_set = set(codec.pk_pos)
    for _, new in changes:
        _check_row(table, new, codec, ctx)
    # new primary keys / unique index keys must not exist (unless freed by this statement)
    check = []
    prepared = []
    for old, new in changes:
        ok = codec.pk_key(old)
        nk = codec.pk_key(new) if any(old[p] != new[p] for p in pk_set) else ok
        value = codec.row.encode(new)
        _limits_check(table, nk, value, ctx)
        old_idx = codec.index_entries(old, ok)
        new_idx = codec.index_entries(new, nk)
        _index_limits_check(new_idx, ctx)
        prepared.append((old, new, ok, nk, value, old_idx, new_idx))
        if nk != ok:
            check.append(nk)
        for (k1, _, ix), (k2, _, _) in zip(old_idx, new_idx):
            if ix.unique and k1 != k2:
                check.append(k2)
    existing = set()
    if check:
        got = ctx.txn.get(check)
        existing = {k for k, v in zip(check, got) if v is not None}
    # keys this statement frees become available, keys it takes are taken
    freed = set()
    for old, new, ok, nk, value, old_idx, new_idx in prepared:
        if nk != ok:
            freed.add(ok)
        for (k1, _, ix), (k2, _, _) in zip(old_idx, new_idx):
            if ix.unique and k1 != k2:
                freed.add(k1)
    taken: set[bytes] = set()
    for old, new, ok, nk, value, old_idx, new_idx in prepared:
        if nk != ok:
            if (nk in existing and nk not in freed) or nk in taken:
                raise _dup_error(table, _pk_name(table), [table.columns[p] for p in codec.pk_pos],
                                 [new[p] for p in codec.pk_pos])
            taken.add(nk)
        for (k1, _, ix), (k2, _, _) in zip(old_idx, new_idx):
            if ix.unique and k1 != k2:
                if (k2 in existing and k2 not in freed) or k2 in taken:
                    cols = [table.column_by_id(c) for c in ix.columns]
                    raise _dup_error(table, ix.name, cols, [new[table.column_index(c)] for c in ix.columns])
                taken.add(k2)
    for old, new, ok, nk, value, old_idx, new_idx in prepared:
        n_rows = 1
        n_bytes = len(nk) + len(value)
        if nk != ok and ok not in taken:
            ctx.txn.delete(ok)
        ctx.txn.put(nk, value)
        for (k1, v1, ix), (k2, v2, _) in zip(old_idx, new_idx):
            if k1 != k2 or v1 != v2:
                if k1 != k2 and k1 not in taken:
                    ctx.txn.delete(k1)
                ctx.txn.put(k2, v2)
                n_rows += 1
                n_bytes += len(k2) + len(v2)
        ctx.count_write(n_rows, n_bytes)


def run_delete(node: Delete, ctx: ExecContext):
    table = node.table
    codec = codec_for(table)
    rows = list(run(node.source, ctx))
    if node.join_width is not None:
        seen, uniq = set(), []
        for r in rows:
            k = codec.pk_key(r[:node.join_width])
            if k not in seen:
                seen.add(k)
                uniq.append(r)
        rows = uniq
    w = node.join_width
    for row in rows:
        row = row[:w] if w is not None else row
        k = codec.pk_key(row)
        ctx.txn.delete(k)
        idx = codec.index_entries(row, k)
        for ik, _, _ in idx:
            ctx.txn.delete(ik)
        ctx.count_write(1 + len(idx), len(k))
    ctx.state.tables_written[(table.schema, table.name)] = table.revision
    return len(rows), _returning(node.returning, rows, ctx)


def table_has_rows(txn, table) -> bool:
    codec = codec_for(table)
    for _ in txn.scan(codec.prefix, codec.end, limit=1):
        return True
    return False


_RUNNERS = {
    RecursiveUnion: _recursive_union, ProjectSet: _project_set, Result: _result, PkGet: _pk_get, PkScan: _pk_scan, IndexScan: _index_scan, Filter: _filter, Project: _project,
    Trim: _trim, Aggregate: _aggregate, Sort: _sort, Distinct: _distinct, Limit: _limit, Join: _join, LookupJoin: _lookup_join,
    SetOp: _setop, Values: _values, WindowAgg: _window, VirtualScan: _virtual, LateralScan: _lateral_scan,
}
