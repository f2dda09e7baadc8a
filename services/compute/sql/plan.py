"""Planning: bound statements -> trees of small plan nodes.

Access paths for one table (index-organized by its primary key):
    PkGet   equality on every primary key column (IN lists multiply the keys): one batched get
    PkScan  equality on a key prefix and/or a range on the next key column: one key-range scan;
            with nothing usable it is the full scan of the table's key range
Above them: Filter, Join (hash or nested loop), LookupJoin (index nested loop), Aggregate, Project, Distinct, Sort, Limit, Trim;
and the writers Insert / Update / Delete over a scan of the target table.
Expressions in a node refer to positions in the rows its child produces.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from services.common import errors

from . import functions as F
from . import types as T
from .bind import (BoundDelete, BoundInsert, BoundSelect, BoundSetOp, BoundUpdate, BoundValues, FromJoin,
                   FromSubquery, FromTable, FromVirtual, SortItem)
from services.common.pushdown import COMPARISONS, PUSHABLE_KINDS

from .bind import _Distinct, _NullIf
from .expr import (AggCall, BoolOp, BoolTest, Case, Coalesce, ColRef, Const, Expr, Func, InList, NullTest, Param,
                   WindowCall, replace)

MAX_POINT_KEYS = 1000


# ------------------------------------------------------------------ nodes

class PlanNode:
    def children(self):
        return []


@dataclasses.dataclass
class Result(PlanNode):
    """One empty row (SELECT without FROM)."""


@dataclasses.dataclass
class PkGet(PlanNode):
    table: Any
    keys: list[list[Expr]]          # each a full primary key (in key column order)
    for_update: bool = False


@dataclasses.dataclass
class PkScan(PlanNode):
    table: Any
    eq: list[Expr]                  # values of a primary key prefix
    lower: tuple[Expr, bool] | None = None   # (value, inclusive) on the next key column
    upper: tuple[Expr, bool] | None = None
    reverse: bool = False
    limit: Expr | None = None       # rows to fetch at most (limit + offset), when safe
    for_update: bool = False
    # pushdown to storage (a filter the compute still applies): (column position, op, value expr | None)
    pushdown: list = dataclasses.field(default_factory=list)
    columns: list[int] | None = None    # projection: the column positions the query reads (None: all)


@dataclasses.dataclass
class IndexScan(PlanNode):
    """A key range of a secondary index, then one batched get of the rows it points at."""
    table: Any
    index: Any
    eq: list[Expr]
    lower: tuple[Expr, bool] | None = None
    upper: tuple[Expr, bool] | None = None
    for_update: bool = False


@dataclasses.dataclass
class Filter(PlanNode):
    child: PlanNode
    pred: Expr

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Project(PlanNode):
    child: PlanNode
    exprs: list[Expr]

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Aggregate(PlanNode):
    child: PlanNode
    group_by: list[Expr]
    aggs: list[AggCall]

    def children(self):
        return [self.child]


@dataclasses.dataclass
class WindowAgg(PlanNode):
    """Appends one column per window function call to every row of its child."""
    child: PlanNode
    windows: list

    def children(self):
        return [self.child]


@dataclasses.dataclass
class RecursiveUnion(PlanNode):
    """WITH RECURSIVE: run `right` over the previous round's rows (holder["rows"]) until it yields none."""
    left: PlanNode
    right: PlanNode
    all: bool
    holder: dict
    types: list[int]

    def children(self):
        return [self.left, self.right]


@dataclasses.dataclass
class ProjectSet(PlanNode):
    """Expands set-returning (unnest) columns of a projected row into one row per element."""
    child: PlanNode
    srf: list[int]

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Sort(PlanNode):
    """Sorts its child's rows. With `limit` (an expression: LIMIT + OFFSET of the Limit node above)
    it is a top-N sort: a bounded heap keeps only the first `limit` rows of the stable sort."""
    child: PlanNode
    keys: list[tuple[int, bool, bool, int]]    # (column, desc, nulls_first, type oid)
    limit: Expr | None = None

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Distinct(PlanNode):
    child: PlanNode
    types: list[int]
    keys: list[int] | None = None       # DISTINCT ON: the first row of each key (child is sorted)

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Limit(PlanNode):
    child: PlanNode
    limit: Expr | None
    offset: Expr | None

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Trim(PlanNode):
    """Drop the resjunk columns (ORDER BY expressions not in the select list)."""
    child: PlanNode
    width: int

    def children(self):
        return [self.child]


@dataclasses.dataclass
class Join(PlanNode):
    left: PlanNode
    right: PlanNode
    kind: str                       # INNER / LEFT / RIGHT / FULL / CROSS
    cond: Expr | None               # over left_row + right_row
    left_width: int
    right_width: int
    left_keys: list[Expr] = dataclasses.field(default_factory=list)   # hash keys (over the left row)
    right_keys: list[Expr] = dataclasses.field(default_factory=list)  # (over the right row)
    key_types: list[int] = dataclasses.field(default_factory=list)

    def children(self):
        return [self.left, self.right]


@dataclasses.dataclass
class LookupJoin(PlanNode):
    """Index nested-loop join: for each batch of left rows, one batched get of the right table's rows
    by primary key. Chosen when the join keys cover the right table's whole primary key and the left
    side is selective (a key lookup or range), so reading the whole right table would be wasted."""
    left: PlanNode
    table: Any                      # the right table
    kind: str                       # INNER / LEFT
    cond: Expr | None               # residual join condition over left_row + right_row
    left_width: int
    right_width: int
    pk_exprs: list[Expr]            # over the left row, one per primary key column in key order
    right_filter: Expr | None       # conditions on the right table alone, over its row

    def children(self):
        return [self.left]


@dataclasses.dataclass
class SetOp(PlanNode):
    op: str                         # UNION / INTERSECT / EXCEPT
    all: bool
    left: PlanNode
    right: PlanNode
    types: list[int]

    def children(self):
        return [self.left, self.right]


@dataclasses.dataclass
class VirtualScan(PlanNode):
    """The rows of a system view, computed from the catalog."""
    rows: Any


@dataclasses.dataclass
class LateralScan(PlanNode):
    """A function in FROM over the earlier FROM items: per left row (the outer row of its arguments,
    padded to the scope's offset), that row followed by each row the function returns."""
    left: PlanNode
    rows: Any
    offset: int

    def children(self):
        return [self.left]


@dataclasses.dataclass
class Values(PlanNode):
    rows: list[list[Expr]]


@dataclasses.dataclass
class Insert(PlanNode):
    table: Any
    rows: list[list[Expr]] | None
    source: PlanNode | None         # INSERT ... SELECT: rows of len(columns) values
    columns: list[int]
    defaults: list[Expr]            # per table column, for INSERT ... SELECT
    returning: list[Expr]
    on_conflict: str | None
    arbiter: int | None = None      # None: the primary key; else the unique index id
    conflict_sets: list = dataclasses.field(default_factory=list)   # over existing + proposed row
    conflict_where: Expr | None = None


@dataclasses.dataclass
class Update(PlanNode):
    table: Any
    source: PlanNode                # rows of the table
    sets: list[tuple[int, Expr]]
    returning: list[Expr]
    join_width: int | None = None   # UPDATE ... FROM: source rows are the table's columns + the FROM items'


@dataclasses.dataclass
class Delete(PlanNode):
    table: Any
    source: PlanNode
    returning: list[Expr]
    join_width: int | None = None   # DELETE ... USING: source rows are the table's columns + the USING items'


# ------------------------------------------------------------------ helpers

def conjuncts(e: Expr | None) -> list[Expr]:
    if e is None:
        return []
    if isinstance(e, BoolOp) and e.op == "AND":
        out = []
        for a in e.args:
            out += conjuncts(a)
        return out
    return [e]


def and_all(cs: list[Expr]) -> Expr | None:
    if not cs:
        return None
    if len(cs) == 1:
        return cs[0]
    return BoolOp("AND", cs)


def col_refs(e: Expr) -> set[int]:
    return {x.index for x in e.walk() if isinstance(x, ColRef)}


def is_runtime_const(e: Expr) -> bool:
    for x in e.walk():
        if isinstance(x, (ColRef, AggCall)) or getattr(x, "correlated", False):
            return False
        if isinstance(x, Func) and x.volatile and x.name not in ("now", "current_timestamp", "current_date",
                                                                  "localtimestamp", "transaction_timestamp"):
            return False
    return True


def shift(e: Expr, delta: int) -> Expr:
    if delta == 0:
        return e

    def fn(x):
        if isinstance(x, ColRef):
            return dataclasses.replace(x, index=x.index + delta)
        return None
    return replace(e, fn)


_FLIP = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _same_key_type(col_oid: int, val_oid: int) -> bool:
    if col_oid == val_oid:
        return True
    strings = (T.TEXT, T.VARCHAR)
    return col_oid in strings and val_oid in strings


def key_condition(c: Expr, pk_pos: dict[int, int], table):
    """(pk column rank, op, value expr | list of value exprs) if c restricts a primary key column."""
    if isinstance(c, Func) and c.name in _FLIP and len(c.args) == 2:
        a, b = c.args
        op = c.name
        if isinstance(b, ColRef) and not isinstance(a, ColRef):
            a, b, op = b, a, _FLIP[op]
        if isinstance(a, ColRef) and a.index in pk_pos and is_runtime_const(b):
            col = table.columns[a.index]
            if _same_key_type(col.type_oid, b.type) and a.type == col.type_oid:
                return pk_pos[a.index], op, b
    if isinstance(c, InList) and not c.negate and isinstance(c.arg, ColRef) and c.arg.index in pk_pos:
        col = table.columns[c.arg.index]
        if c.arg.type == col.type_oid and all(is_runtime_const(i) and _same_key_type(col.type_oid, i.type)
                                              for i in c.items):
            return pk_pos[c.arg.index], "in", list(c.items)
    return None


_PUSH_FLIP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_PUSH_FAMILIES = ({T.INT2, T.INT4, T.INT8}, {T.TEXT, T.VARCHAR}, {T.BOOL})


def pushdown_condition(c: Expr, table):
    """(column position, op, value expr | None) if storage can evaluate c exactly as SQL does:
    `column op constant` on integer, boolean and text/varchar columns, or column IS [NOT] NULL."""
    def column(e):
        if isinstance(e, ColRef) and 0 <= e.index < len(table.columns):
            col = table.columns[e.index]
            if e.type == col.type_oid and T.lookup(col.type_oid).name in PUSHABLE_KINDS:
                return col
        return None
    if isinstance(c, NullTest) and column(c.arg) is not None:
        return c.arg.index, "is_not_null" if c.negate else "is_null", None
    if isinstance(c, Func) and c.name in COMPARISONS and len(c.args) == 2 and c.strict:
        a, b = c.args
        op = c.name
        if isinstance(b, ColRef) and not isinstance(a, ColRef):
            a, b, op = b, a, _PUSH_FLIP[op]
        col = column(a)
        if col is not None and is_runtime_const(b) and \
                any(col.type_oid in f and b.type in f for f in _PUSH_FAMILIES):
            return a.index, op, b
    return None


_PROJECTABLE = (Const, Param, ColRef, Func, BoolOp, NullTest, BoolTest, Case, Coalesce, InList, AggCall, WindowCall,
                _NullIf, _Distinct)


def _table_columns_read(bs) -> set[int] | None:
    """Positions of the FROM table's columns a single-table SELECT reads (None: unknown, e.g. a
    subquery that may read the row through an outer reference)."""
    every = [e for _, e in bs.targets] + list(bs.group_by) + list(bs.aggs) + list(bs.windows) + \
        [s.expr for s in bs.order_by] + list(bs.distinct_on) + [x for x in (bs.where, bs.having) if x is not None]
    for e in every:
        for x in e.walk():
            if not isinstance(x, _PROJECTABLE) or getattr(x, "correlated", False):
                return None
    if bs.has_agg:     # the select list, HAVING, ORDER BY and windows read the aggregate's output
        over_row = list(bs.group_by) + list(bs.aggs)
    else:
        over_row = [e for _, e in bs.targets] + list(bs.windows) + [s.expr for s in bs.order_by] + \
            list(bs.distinct_on)
    if bs.where is not None:
        over_row.append(bs.where)
    out: set[int] = set()
    for e in over_row:
        out |= col_refs(e)
    return out


# ------------------------------------------------------------------ planner

class Planner:
    def __init__(self, limits=None):
        self.limits = limits

    # ---- access paths
    @staticmethod
    def _analyze(table, conds, positions):
        """Conditions usable on a key made of the columns at `positions` (in key order)."""
        pos = {p: i for i, p in enumerate(positions)}
        eq: dict[int, Any] = {}
        ranges: dict[int, list] = {}
        used: dict[int, list[Expr]] = {}
        for c in conds:
            kc = key_condition(c, pos, table)
            if kc is None:
                continue
            rank, op, val = kc
            if op in ("=", "in"):
                if rank not in eq:
                    eq[rank] = [val] if op == "=" else val
                    used.setdefault(rank, []).append(c)
            else:
                ranges.setdefault(rank, []).append((op, val, c))
        return eq, ranges, used

    @staticmethod
    def _prefix_and_range(n, eq, ranges, used):
        k = 0
        eq_vals = []
        used_conds = []
        while k < n and k in eq and len(eq[k]) == 1:
            eq_vals.append(eq[k][0])
            used_conds += used[k]
            k += 1
        lower = upper = None
        if k < n and k in ranges:
            for op, val, c in ranges[k]:
                if op in (">", ">=") and lower is None:
                    lower = (val, op == ">=")
                    used_conds.append(c)
                elif op in ("<", "<=") and upper is None:
                    upper = (val, op == "<=")
                    used_conds.append(c)
        return eq_vals, lower, upper, used_conds

    def access_path(self, table, conds: list[Expr], for_update: bool = False):
        """-> (node, residual conditions, pk scan or None). conds are over the table's own row."""
        pk_cols = [table.column_index(cid) for cid in table.pk]
        eq, ranges, used = self._analyze(table, conds, pk_cols)
        n = len(pk_cols)
        prefix = 0
        while prefix < n and prefix in eq:
            prefix += 1
        if prefix == n:
            combos = 1
            for r in range(n):
                combos *= len(eq[r])
            if combos <= MAX_POINT_KEYS:
                keys = [list(k) for k in itertools.product(*(eq[r] for r in range(n)))]
                used_conds = [c for r in range(n) for c in used[r]]
                residual = [c for c in conds if c not in used_conds]
                return PkGet(table, keys, for_update), residual, None
        eq_vals, lower, upper, used_conds = self._prefix_and_range(n, eq, ranges, used)
        if not eq_vals and lower is None and upper is None:
            best = None
            for ix in table.indexes:
                if not ix.valid:
                    continue
                cols = [table.column_index(cid) for cid in ix.columns]
                ieq, irng, iused = self._analyze(table, conds, cols)
                ev, lo, hi, uc = self._prefix_and_range(len(cols), ieq, irng, iused)
                score = (len(ev), lo is not None or hi is not None, ix.unique)
                if (ev or lo is not None or hi is not None) and (best is None or score > best[0]):
                    best = (score, ix, ev, lo, hi, uc)
            if best is not None:
                _, ix, ev, lo, hi, uc = best
                residual = [c for c in conds if c not in uc]
                return IndexScan(table, ix, ev, lo, hi, for_update), residual, None
        residual = [c for c in conds if c not in used_conds]
        scan = PkScan(table, eq_vals, lower, upper, for_update=for_update)
        if not for_update:
            scan.pushdown = [pc for pc in (pushdown_condition(c, table) for c in residual) if pc is not None]
        return scan, residual, scan

    def plan_query(self, q) -> PlanNode:
        if isinstance(q, BoundSelect):
            return self.plan_select(q)
        if isinstance(q, BoundSetOp):
            left = self.plan_query(q.left)
            if any(not (isinstance(e, ColRef) and e.index == i) for i, e in enumerate(q.left_casts)):
                left = Project(left, q.left_casts)
            right = self.plan_query(q.right)
            if any(not (isinstance(e, ColRef) and e.index == i) for i, e in enumerate(q.right_casts)):
                right = Project(right, q.right_casts)
            if getattr(q, "worktable", None) is not None:
                node: PlanNode = RecursiveUnion(left, right, q.all, q.worktable, [e.type for _, e in q.targets])
            else:
                node = SetOp(q.op, q.all, left, right, [e.type for _, e in q.targets])
        elif isinstance(q, BoundValues):
            node = Values(q.rows)
        else:
            raise TypeError(type(q))
        if q.order_by:
            node = Sort(node, [(s.expr.index, s.desc, s.nulls_first, s.expr.type) for s in q.order_by],
                        _top_n(q.limit, q.offset))
        if q.limit is not None or q.offset is not None:
            node = Limit(node, q.limit, q.offset)
        return Project(node, [e for _, e in q.targets])

    def plan_from(self, fr, conds: list[Expr], for_update=False):
        """-> (node, residual conds over the combined row, single-table scan or None)."""
        if isinstance(fr, (FromSubquery, FromVirtual)):
            e = fr.entry
            node = self.plan_query(fr.query) if isinstance(fr, FromSubquery) else VirtualScan(fr.rows)
            if conds:
                node = Filter(node, and_all([shift(c, -e.offset) for c in conds]))
            return node, [], None
        if isinstance(fr, FromTable):
            e = fr.entry
            local = [shift(c, -e.offset) for c in conds]
            node, residual, scan = self.access_path(e.table, local, for_update)
            if residual:
                node = Filter(node, and_all(residual))
            return node, [], scan
        assert isinstance(fr, FromJoin)
        if isinstance(fr.right, FromVirtual) and fr.right.lateral:
            if fr.kind not in ("INNER", "CROSS"):
                raise errors.FeatureNotSupported(f"{fr.kind} JOIN to a function over earlier FROM items is not "
                                                 "supported")
            loff = _offset(fr.left)
            left, _, _ = self.plan_from(fr.left, [])
            node = LateralScan(left, fr.right.rows, loff)
            rest = conjuncts(fr.cond) + conds
            return (Filter(node, shift(and_all(rest), -loff)) if rest else node), [], None
        lw = _width(fr.left)
        rw = _width(fr.right)
        loff = _offset(fr.left)
        roff = loff + lw
        lconds, rconds, rest = [], [], []
        for c in conds:
            refs = col_refs(c)
            if refs and all(loff <= i < roff for i in refs) and fr.kind in ("INNER", "CROSS", "LEFT"):
                lconds.append(c)
            elif refs and all(roff <= i < roff + rw for i in refs) and fr.kind in ("INNER", "CROSS", "RIGHT"):
                rconds.append(c)
            else:
                rest.append(c)
        jconds = conjuncts(fr.cond)
        if fr.kind in ("INNER", "CROSS"):
            for c in list(jconds):
                refs = col_refs(c)
                if refs and all(loff <= i < roff for i in refs):
                    lconds.append(c)
                    jconds.remove(c)
                elif refs and all(roff <= i < roff + rw for i in refs):
                    rconds.append(c)
                    jconds.remove(c)
        elif fr.kind == "LEFT":
            for c in list(jconds):
                refs = col_refs(c)
                if refs and all(roff <= i < roff + rw for i in refs):
                    rconds.append(c)
                    jconds.remove(c)
        left, _, _ = self.plan_from(fr.left, lconds)
        right, _, _ = self.plan_from(fr.right, rconds)
        # both sides produce rows starting at their own offset 0; the join row is left + right
        lkeys, rkeys, ktypes, others = [], [], [], []
        for c in jconds:
            if isinstance(c, Func) and c.name == "=" and len(c.args) == 2:
                a, b = c.args
                ra, rb = col_refs(a), col_refs(b)
                if ra and rb and all(loff <= i < roff for i in ra) and all(roff <= i < roff + rw for i in rb):
                    lkeys.append(shift(a, -loff)); rkeys.append(shift(b, -roff)); ktypes.append(a.type)
                    continue
                if ra and rb and all(roff <= i < roff + rw for i in ra) and all(loff <= i < roff for i in rb):
                    lkeys.append(shift(b, -loff)); rkeys.append(shift(a, -roff)); ktypes.append(b.type)
                    continue
            others.append(c)
        cond = and_all([shift(c, -loff) for c in others])
        kind = fr.kind if fr.kind != "CROSS" else "INNER"
        node = (_lookup_join(fr, left, right, kind, cond, lw, rw, lkeys, rkeys)
                or Join(left, right, kind, cond, lw, rw, lkeys, rkeys, ktypes))
        if rest:
            node = Filter(node, shift(and_all(rest), -loff))
        return node, [], None

    # ---- SELECT
    def plan_select(self, bs: BoundSelect) -> PlanNode:
        conds = conjuncts(bs.where)
        scan = None
        if bs.from_ is None:
            node: PlanNode = Result()
            if conds:
                node = Filter(node, and_all(conds))
        else:
            node, rest, scan = self.plan_from(bs.from_, conds, bs.for_update)
            if rest:
                node = Filter(node, and_all(rest))
            if scan is not None and isinstance(bs.from_, FromTable) and bs.from_.entry.offset == 0 \
                    and not bs.for_update:
                read = _table_columns_read(bs)
                if read is not None and len(read) < len(scan.table.columns):
                    scan.columns = sorted(i for i in read if i < len(scan.table.columns))
        if bs.has_agg:
            node = Aggregate(node, bs.group_by, bs.aggs)
            if bs.having is not None:
                node = Filter(node, bs.having)
        if bs.windows:
            node = WindowAgg(node, bs.windows)
        width = len(bs.targets)
        exprs = [e for _, e in bs.targets]
        sort_keys = []
        for s in bs.order_by:
            idx = None
            for i, e in enumerate(exprs[:width]):
                if e is s.expr:
                    idx = i
                    break
            if idx is None:
                if bs.distinct:
                    raise errors.PgError("for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                                         sqlstate="42P10", position=getattr(s.expr, "location", None))
                idx = len(exprs)
                exprs.append(s.expr)
            sort_keys.append((idx, s.desc, s.nulls_first, s.expr.type))
        # the primary key order of a single-table scan makes a sort unnecessary
        sorted_by_scan = False
        if scan is not None and sort_keys and not bs.has_agg and not bs.distinct and not bs.windows:
            sorted_by_scan = self._scan_order(scan, bs.order_by)
        on_keys = []
        for e in bs.distinct_on:
            idx = next((i for i, x in enumerate(exprs) if x is e), None)
            if idx is None:
                idx = len(exprs)
                exprs.append(e)
            on_keys.append(idx)
        if on_keys:
            sorted_by_scan = False
        if sorted_by_scan and bs.limit is not None and isinstance(node, PkScan) and not bs.windows:
            scan.limit = bs.limit if bs.offset is None else \
                Func("+", lambda a, b: a + b, [bs.limit, bs.offset], T.INT8, strict=True)
        node = Project(node, exprs)
        srf = [i for i, e in enumerate(exprs) if getattr(e, "srf", False)]
        for e in exprs:
            for x in e.walk():
                if getattr(x, "srf", False) and not any(x is exprs[i] for i in srf):
                    raise errors.FeatureNotSupported("set-returning functions are only supported at the top "
                                                     "of a select list", position=getattr(x, "location", None))
        if srf:
            node = ProjectSet(node, srf)
        if bs.distinct:
            node = Distinct(node, [e.type for e in exprs])
        if sort_keys and not sorted_by_scan:
            node = Sort(node, sort_keys, None if on_keys else _top_n(bs.limit, bs.offset))
        if on_keys:
            node = Distinct(node, [exprs[i].type for i in on_keys], on_keys)
        if bs.limit is not None or bs.offset is not None:
            node = Limit(node, bs.limit, bs.offset)
        if len(exprs) > width:
            node = Trim(node, width)
        return node

    def _scan_order(self, scan: PkScan, order_by: list[SortItem]) -> bool:
        table = scan.table
        pk_cols = [table.column_index(cid) for cid in table.pk]
        neq = len(scan.eq)
        remaining = pk_cols[neq:]
        desc = None
        j = 0
        for s in order_by:
            e = s.expr
            if not isinstance(e, ColRef):
                return False
            if e.index in pk_cols[:neq]:
                continue
            if j >= len(remaining) or e.index != remaining[j]:
                return False
            if desc is None:
                desc = s.desc
            elif desc != s.desc:
                return False
            j += 1
        scan.reverse = bool(desc)
        return True

    # ---- writes
    def plan_insert(self, bi: BoundInsert) -> Insert:
        source = self.plan_query(bi.select) if bi.select is not None else None
        return Insert(bi.table, bi.rows, source, bi.columns, bi.defaults, [e for _, e in bi.returning],
                      bi.on_conflict, bi.arbiter, bi.conflict_sets, bi.conflict_where)

    def _dml_join(self, b):
        fr = FromJoin(FromTable(b.entry), b.from_, "CROSS", None)
        node, _, _ = self.plan_from(fr, conjuncts(b.where))
        return node, len(b.entry.names)

    def plan_update(self, bu: BoundUpdate) -> Update:
        if bu.from_ is not None:
            node, w = self._dml_join(bu)
            return Update(bu.table, node, bu.sets, [e for _, e in bu.returning], w)
        node, residual, _ = self.access_path(bu.table, conjuncts(bu.where))
        if residual:
            node = Filter(node, and_all(residual))
        return Update(bu.table, node, bu.sets, [e for _, e in bu.returning])

    def plan_delete(self, bd: BoundDelete) -> Delete:
        if bd.from_ is not None:
            node, w = self._dml_join(bd)
            return Delete(bd.table, node, [e for _, e in bd.returning], w)
        node, residual, _ = self.access_path(bd.table, conjuncts(bd.where))
        if residual:
            node = Filter(node, and_all(residual))
        return Delete(bd.table, node, [e for _, e in bd.returning])


def _top_n(limit: Expr | None, offset: Expr | None) -> Expr | None:
    """The number of rows a sort under LIMIT/OFFSET must produce (None: all of them)."""
    if limit is None:
        return None
    if offset is None:
        return limit
    return Func("+", lambda a, b: a + b, [limit, offset], T.INT8, strict=True)


def _width(fr) -> int:
    if isinstance(fr, (FromTable, FromSubquery, FromVirtual)):
        return len(fr.entry.names)
    return _width(fr.left) + _width(fr.right)


def _offset(fr) -> int:
    if isinstance(fr, (FromTable, FromSubquery, FromVirtual)):
        return fr.entry.offset
    return _offset(fr.left)


# Key kinds whose memcomparable encoding is equal exactly when the SQL values are equal, so a
# primary-key get finds the same rows an equality test would (floats and numeric are not: -0.0 = 0.0).
LOOKUP_KEY_KINDS = frozenset({"int2", "int4", "int8", "bool", "text", "varchar", "uuid", "bytea", "date",
                              "timestamp", "timestamptz"})


def _selective(node: PlanNode) -> bool:
    """Does the node read a bounded part of a table (a key lookup or range) rather than all of it?"""
    if isinstance(node, (PkGet, IndexScan)):
        return True
    if isinstance(node, PkScan):
        return bool(node.eq) or node.lower is not None or node.upper is not None or node.limit is not None
    if isinstance(node, Limit):
        return True
    if isinstance(node, (Filter, Project, Sort, Distinct)):
        return _selective(node.child)
    return False


def _lookup_join(fr, left, right, kind, cond, lw, rw, lkeys, rkeys) -> LookupJoin | None:
    if kind not in ("INNER", "LEFT") or not isinstance(fr.right, FromTable) or not _selective(left):
        return None
    scan, right_filter = right, None
    if isinstance(scan, Filter):
        scan, right_filter = scan.child, scan.pred
    if (not isinstance(scan, PkScan) or scan.eq or scan.lower is not None or scan.upper is not None
            or scan.for_update or scan.reverse or scan.limit is not None):
        return None
    table = scan.table
    pk_pos = [table.column_index(cid) for cid in table.pk]
    by_pos = {}
    for lk, rk in zip(lkeys, rkeys):
        if not isinstance(rk, ColRef) or rk.index not in pk_pos or rk.index in by_pos:
            return None
        col_type = table.columns[rk.index].type_oid
        if lk.type != col_type or T.lookup(col_type).name not in LOOKUP_KEY_KINDS:
            return None
        by_pos[rk.index] = lk
    if sorted(by_pos) != sorted(pk_pos):
        return None
    return LookupJoin(left, table, kind, cond, lw, rw, [by_pos[p] for p in pk_pos], right_filter)


def explain(node: PlanNode, indent: int = 0) -> list[str]:
    """A short textual plan (EXPLAIN)."""
    pad = "  " * indent + ("->  " if indent else "")
    name = type(node).__name__
    extra = ""
    if isinstance(node, IndexScan):
        extra = f" using {node.index.name} on {node.table.schema}.{node.table.name}"
    if isinstance(node, (PkGet, PkScan)):
        extra = f" on {node.table.schema}.{node.table.name}"
        if isinstance(node, PkGet):
            extra += f" ({len(node.keys)} key{'s' if len(node.keys) != 1 else ''})"
        else:
            if not node.eq and node.lower is None and node.upper is None:
                name = "Full Scan"
            else:
                name = "PK Range Scan"
            if node.reverse:
                extra += " backward"
            if node.pushdown:
                extra += f" (storage filter: {len(node.pushdown)} condition{'s' if len(node.pushdown) != 1 else ''})"
            if node.columns is not None:
                extra += f" (storage columns: {len(node.columns)} of {len(node.table.columns)})"
    if isinstance(node, Join):
        name = ("Hash " if node.left_keys else "Nested Loop ") + node.kind.title() + " Join"
    if isinstance(node, LookupJoin):
        name = f"Index Nested Loop {node.kind.title()} Join"
        extra = f" (primary key lookups on {node.table.schema}.{node.table.name})"
    if isinstance(node, Sort) and node.limit is not None:
        name = "Top-N Sort"
    if isinstance(node, Sort):
        extra = " (Sort Key: " + ", ".join(
            f"#{i + 1}" + (" DESC" if d else "") + (" NULLS FIRST" if nf and not d else "")
            + (" NULLS LAST" if d and not nf else "") for i, d, nf, _ in node.keys) + ")"
    lines = [pad + name + extra]
    for c in node.children():
        lines += explain(c, indent + 1)
    return lines
