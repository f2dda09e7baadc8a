"""Binding: pglast nodes -> typed expressions and bound statements, names resolved against
the catalog, with PostgreSQL's rules for literals, parameters, operators and casts."""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal
from typing import Any

import pglast
from pglast import ast

from services.common import errors
from services.common.errors import PgError

from . import constraints, objects
from . import functions as F
from . import syscat
from . import types as T
from .arrays import ARRAY_FUNCS, ArrayBinder, is_array
from .expr import (AggCall, BoolOp, BoolTest, Case, Coalesce, ColRef, Const, Expr, Func, InList,
                   NullTest, Param, WindowCall, contains_agg, replace)
from .parse import Statement

DEFAULT_SCHEMA = "public"


# ------------------------------------------------------------------ scopes

@dataclasses.dataclass
class RangeEntry:
    """One table (or derived table) of a FROM clause and where its columns sit in the row."""
    alias: str
    table: Any                      # catalog.Table (None for derived tables)
    names: list[str]                # column names in row order (hidden columns included)
    types: list[tuple[int, int]]    # (oid, typmod)
    hidden: list[bool]
    offset: int = 0                 # position of the first column in the combined row
    merged: set = dataclasses.field(default_factory=set)   # JOIN USING columns shown by the other side
    coalesced: dict = dataclasses.field(default_factory=dict)   # FULL JOIN USING: name -> (other entry, index)
    schema: str | None = None       # a system view's schema (tables have theirs in `table`)


SYSTEM_COLUMN = "tableoid"          # of system views: the catalog's pg_class OID (psql's \\dd reads it)


def _with_tableoid(rows_fn, classoid: int):
    return lambda catalog, session: [tuple(r) + (classoid,) for r in rows_fn(catalog, session)]


class Scope:
    def __init__(self, entries: list[RangeEntry] | None = None):
        self.entries = entries or []

    @property
    def width(self) -> int:
        return sum(len(e.names) for e in self.entries)


# ------------------------------------------------------------------ bound statements

@dataclasses.dataclass
class FromTable:
    entry: RangeEntry


@dataclasses.dataclass
class FromJoin:
    left: Any
    right: Any
    kind: str                       # INNER / LEFT / RIGHT / FULL / CROSS
    cond: Expr | None


@dataclasses.dataclass
class FromSubquery:
    entry: RangeEntry
    query: Any                      # BoundSelect / BoundSetOp / BoundValues


@dataclasses.dataclass
class FromVirtual:
    entry: RangeEntry
    rows: Any                       # (catalog, session) -> list of tuples (a system view)
    lateral: bool = False           # a function in FROM over the earlier FROM items' row (outer_stack[-1])


@dataclasses.dataclass
class BoundSetOp:
    op: str                         # UNION / INTERSECT / EXCEPT
    all: bool
    left: Any
    right: Any
    left_casts: list[Expr]          # over the left branch's row, to the common types
    right_casts: list[Expr]
    targets: list[tuple[str, Expr]] # ColRefs over the set operation's output
    order_by: list
    limit: Expr | None
    offset: Expr | None
    for_update: bool = False


@dataclasses.dataclass
class BoundValues:
    rows: list[list[Expr]]
    targets: list[tuple[str, Expr]]
    order_by: list = dataclasses.field(default_factory=list)
    limit: Expr | None = None
    offset: Expr | None = None
    for_update: bool = False


@dataclasses.dataclass
class SortItem:
    expr: Expr
    desc: bool
    nulls_first: bool


@dataclasses.dataclass
class BoundSelect:
    from_: Any                      # FromTable / FromJoin / None
    where: Expr | None
    targets: list[tuple[str, Expr]]
    group_by: list[Expr]
    having: Expr | None
    aggs: list[AggCall]
    order_by: list[SortItem]
    limit: Expr | None
    offset: Expr | None
    distinct: bool
    scope: Scope
    for_update: bool = False
    has_agg: bool = False
    windows: list = dataclasses.field(default_factory=list)   # WindowCalls, evaluated after aggregation
    distinct_on: list = dataclasses.field(default_factory=list)   # DISTINCT ON expressions


@dataclasses.dataclass
class BoundInsert:
    table: Any
    entry: RangeEntry
    columns: list[int]              # positions (in table.columns) given explicitly
    rows: list[list[Expr]] | None   # one full-width row of expressions per VALUES row
    select: BoundSelect | None      # INSERT ... SELECT (targets coerced)
    returning: list[tuple[str, Expr]]
    on_conflict: str | None = None  # None / 'nothing'
    defaults: list[Expr] = dataclasses.field(default_factory=list)  # per column (INSERT ... SELECT)
    arbiter: int | None = None      # ON CONFLICT: None = primary key, else unique index id
    conflict_sets: list = dataclasses.field(default_factory=list)
    conflict_where: Expr | None = None


@dataclasses.dataclass
class BoundUpdate:
    table: Any
    entry: RangeEntry
    sets: list[tuple[int, Expr]]    # (column position, new value)
    where: Expr | None
    returning: list[tuple[str, Expr]]
    from_: Any = None               # UPDATE ... FROM items (columns after the target's)


@dataclasses.dataclass
class BoundDelete:
    table: Any
    entry: RangeEntry
    where: Expr | None
    returning: list[tuple[str, Expr]]
    from_: Any = None               # DELETE ... USING items (columns after the target's)


# ------------------------------------------------------------------ helpers

def search_path(session) -> list[str]:
    """The session's search_path as schema names ("$user" replaced by the user name)."""
    settings = getattr(session, "settings", None) or {}
    raw = settings.get("search_path", '"$user", public')
    out = []
    for part in raw.split(","):
        p = part.strip()
        if p.startswith('"') and p.endswith('"') and len(p) >= 2:
            p = p[1:-1].replace('""', '"')
        else:
            p = p.lower()
        if p == "$user":
            p = getattr(session, "user", "admin")
        if p:
            out.append(p)
    return out


def current_user(session) -> str:
    """The role privileges are checked for: SET ROLE's choice, else the session user."""
    role = (getattr(session, "settings", None) or {}).get("role", "none")
    user = getattr(session, "user", "admin")
    if not role or role in ("none", user):
        return user
    # however the setting was made (SET ROLE checks it too), never act as a role one is not a member of
    from ..authcatalog import auth_of
    if role not in auth_of(session.catalog).member_roles(user):
        raise PgError(f'permission denied to set role "{role}"', sqlstate="42501")
    return role


def resolve_schema(catalog, session, name: str | None, relname: str, create: bool = False) -> str:
    """The schema an unqualified name refers to (PostgreSQL's search_path rules)."""
    if name:
        return name
    if catalog is None:
        return DEFAULT_SCHEMA
    path = search_path(session) if session is not None else [DEFAULT_SCHEMA]
    if not create:
        for sch in path:
            if catalog.get_table(sch, relname) is not None:
                return sch
    for sch in path:
        if catalog.get_schema(sch) is not None:
            return sch
    if create:
        raise errors.InvalidSchemaName("no schema has been selected to create in")
    return path[0] if path else DEFAULT_SCHEMA


def qualified(rv: ast.RangeVar, catalog=None, session=None, create: bool = False) -> tuple[str, str]:
    return resolve_schema(catalog, session, rv.schemaname, rv.relname, create), rv.relname


def type_from_typename(tn: ast.TypeName, stmt: Statement | None = None) -> tuple[int, int]:
    names = [n.sval for n in tn.names]
    name = names[-1]
    if len(names) == 2 and names[0] not in ("pg_catalog", DEFAULT_SCHEMA):
        name = None
    t = T.by_name(name) if name else None
    if name == "timestamp" and t is None:
        t = T.by_name("timestamp")
    if tn.arrayBounds and t is not None:
        if t.oid not in T.ARRAY_OF or len(tn.arrayBounds) > 1:
            raise errors.FeatureNotSupported("this array type is not supported",
                                             position=stmt.position(tn.location) if stmt else None)
        return T.ARRAY_OF[t.oid], -1
    if t is None:
        raise errors.UndefinedObject(f'type "{".".join(names) if names[0] != "pg_catalog" else name}" does not exist',
                                     position=stmt.position(tn.location) if stmt else None)
    mods = []
    for m in tn.typmods or ():
        if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer):
            mods.append(m.val.ival)
    typmod = -1
    if t.oid in (T.VARCHAR, T.BPCHAR) and mods:
        typmod = mods[0] + 4
    elif t.oid == T.BPCHAR and name in ("bpchar",) and not mods:
        typmod = -1
    elif t.oid == T.NUMERIC and mods:
        p = mods[0]
        s = mods[1] if len(mods) > 1 else 0
        if p < 1 or p > 1000:
            raise PgError(f"NUMERIC precision {p} must be between 1 and 1000", sqlstate="22023",
                          position=stmt.position(tn.location) if stmt else None)
        typmod = ((p << 16) | (s & 0xFFFF)) + 4
    if t.oid == T.BPCHAR and not mods and names[-1] in ("bpchar",) and len(names) == 2:
        # 'char' without length in SQL means char(1); pglast spells it bpchar with typmod 1
        typmod = -1
    return t.oid, typmod


def _str_nodes(fields) -> list[str]:
    return [f.sval for f in fields if isinstance(f, ast.String)]


def select_common_type(types: list[int], context: str, position=None, positions=None) -> int:
    known = [t for t in types if t != T.UNKNOWN]
    if not known:
        return T.TEXT
    first = known[0]
    if all(t == first for t in known):
        return first
    if all(t in F.NUM_RANK for t in known):
        best = first
        for t in known[1:]:
            if F.NUM_RANK[t] > F.NUM_RANK[best]:
                best = t
        return best
    if all(t in F.STRINGS for t in known):
        return T.TEXT if any(t == T.TEXT for t in known) or len(set(known)) > 1 else first
    dts = (T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ)
    if all(t in dts for t in known):
        return T.TIMESTAMPTZ if T.TIMESTAMPTZ in known else T.TIMESTAMP
    for i, t in enumerate(types):
        if t != T.UNKNOWN and t != first and not F.can_implicit(t, first):
            pos = positions[i] if positions else position
            raise PgError(f"{context} types {F.type_name(first)} and {F.type_name(t)} cannot be matched",
                          sqlstate="42804", position=pos)
    return first


def expr_key(e: Expr):
    """Structural identity of an expression (GROUP BY matching)."""
    if isinstance(e, ColRef):
        return ("col", e.index)
    if isinstance(e, Const):
        return ("const", e.type, repr(e.value))
    if isinstance(e, Param):
        return ("param", e.index)
    if isinstance(e, Func):
        return ("func", e.name, e.type, tuple(expr_key(a) for a in e.args))
    if isinstance(e, Coalesce):
        return ("coalesce", e.name, e.type, tuple(expr_key(a) for a in e.args))
    if isinstance(e, AggCall):
        return ("agg", e.name, e.star, e.distinct, tuple(expr_key(a) for a in e.args),
                expr_key(e.filter) if e.filter is not None else None,
                tuple((expr_key(x), d, nf) for x, d, nf in e.order))
    return ("node", id(e))


_SVF = {
    "SVFOP_CURRENT_DATE": ("current_date", T.DATE), "SVFOP_CURRENT_TIMESTAMP": ("current_timestamp", T.TIMESTAMPTZ),
    "SVFOP_CURRENT_TIMESTAMP_N": ("current_timestamp", T.TIMESTAMPTZ),
    "SVFOP_LOCALTIMESTAMP": ("localtimestamp", T.TIMESTAMP), "SVFOP_LOCALTIMESTAMP_N": ("localtimestamp", T.TIMESTAMP),
    "SVFOP_CURRENT_TIME": ("current_time", T.TIME), "SVFOP_LOCALTIME": ("localtime", T.TIME),
    "SVFOP_CURRENT_USER": ("current_user", T.TEXT), "SVFOP_SESSION_USER": ("session_user", T.TEXT),
    "SVFOP_USER": ("current_user", T.TEXT), "SVFOP_CURRENT_ROLE": ("current_role", T.TEXT),
    "SVFOP_CURRENT_CATALOG": ("current_catalog", T.TEXT), "SVFOP_CURRENT_SCHEMA": ("current_schema", T.TEXT),
}


# ------------------------------------------------------------------ the binder

class Binder(ArrayBinder):
    def __init__(self, catalog, stmt: Statement, param_types: list[int] | None = None, session=None):
        self.catalog = catalog
        self.stmt = stmt
        self.param_types: list[int] = list(param_types or [])
        self.session = session
        self.tables_used: dict[tuple[str, str], int] = {}   # -> revision seen
        self.objects_used: dict[tuple[str, str, str], int] = {}   # (kind, schema, key) -> revision: sequences, functions
        self.privileges_used: dict[tuple[str, str], set[str]] = {}   # -> SELECT / INSERT / UPDATE / DELETE
        self.param_locations: dict[int, int | None] = {}
        self.ctes: list[dict] = []          # WITH name -> (SelectStmt node, column names), innermost last
        self.outer: list[Scope] = []        # enclosing queries' scopes (correlated references)
        self.outer_refs = 0                 # OuterRefs made so far (detects correlation)
        self.window_defs = None             # the WINDOW clause of the query being bound

    # ---- positions / errors
    def pos(self, node) -> int | None:
        if isinstance(node, ast.A_Const):
            return self.stmt.const_position(node)
        if isinstance(node, ast.TypeCast) and node.arg is not None:
            p = self.pos(node.arg)
            if p is not None:
                return p
        return self.stmt.position(getattr(node, "location", None))

    def current_schema(self) -> str | None:
        for sch in search_path(self.session):
            if self.catalog.get_schema(sch) is not None:
                return sch
        return None

    # ---- tables
    def lookup_table(self, rv: ast.RangeVar, privilege: str = "SELECT"):
        schema, name = qualified(rv, self.catalog, self.session)
        if rv.catalogname and rv.catalogname != self.catalog.database:
            raise errors.FeatureNotSupported(
                f"cross-database references are not implemented: {rv.catalogname}.{schema}.{name}",
                position=self.pos(rv))
        t = self.catalog.get_table(schema, name)
        if t is None:
            raise errors.UndefinedTable(f'relation "{name if not rv.schemaname else schema + "." + name}" does not exist',
                                        position=self.pos(rv))
        self.tables_used[(schema, name)] = t.revision
        self.privileges_used.setdefault((schema, name), set()).add(privilege)
        return t

    def table_entry(self, t, alias: str | None, offset: int = 0) -> RangeEntry:
        return RangeEntry(alias=alias or t.name, table=t, names=[c.name for c in t.columns],
                          types=[(c.type_oid, c.typmod) for c in t.columns],
                          hidden=[c.hidden for c in t.columns], offset=offset)

    # ---- parameters
    def param(self, number: int, node) -> Expr:
        i = number - 1
        if i < 0 or number > 65535:
            raise PgError(f"there is no parameter ${number}", sqlstate="42P02", position=self.pos(node))
        while len(self.param_types) <= i:
            self.param_types.append(0)
        t = self.param_types[i]
        self.param_locations.setdefault(i, self.pos(node))
        return Param(i, t if t else T.UNKNOWN, location=self.pos(node))

    def resolve_unknown_params(self) -> None:
        for i, t in enumerate(self.param_types):
            if not t:
                self.param_types[i] = T.TEXT

    # ---- coercion
    def coerce(self, e: Expr, target: int, typmod: int = -1, context: int = F.IMPLICIT,
               error_fn=None) -> Expr:
        src = e.type
        if isinstance(e, Param) and src == T.UNKNOWN:
            self.param_types[e.index] = target
            e = Param(e.index, target, location=e.location)
            src = target
        if isinstance(e, Const) and src == T.UNKNOWN:
            if e.value is None:
                return Const(None, target, typmod if typmod >= 0 else -1, e.location)
            try:
                v = T.lookup(target).text_in(e.value, -1)
            except PgError as err:
                if err.position is None:
                    err.position = e.location
                raise
            if typmod >= 0:
                v = T.lookup(target).coerce_typmod(v, typmod, context == F.EXPLICIT)
            return Const(v, target, typmod, e.location)
        if src == target:
            if typmod >= 0 and typmod != e.typmod and target in (T.VARCHAR, T.BPCHAR, T.NUMERIC):
                t = T.lookup(target)
                explicit = context == F.EXPLICIT
                return self.fold(Func("typmod", lambda v: t.coerce_typmod(v, typmod, explicit), [e],
                                      target, typmod, location=e.location))
            return e
        fn = F.cast_func(src, target, context)
        if fn is None:
            if error_fn is not None:
                raise error_fn(src, target)
            raise PgError(f"cannot cast type {F.type_name(src)} to {F.type_name(target, typmod)}",
                          sqlstate="42846", position=e.location)
        if fn is F._identity and typmod < 0:
            # binary-compatible (varchar -> text): keep the node, retype
            if isinstance(e, ColRef):
                return e
            return dataclasses.replace(e, type=target, typmod=-1) if dataclasses.is_dataclass(e) else e
        out = Func("cast", fn, [e], target, -1, location=e.location)
        if typmod >= 0 and target in (T.VARCHAR, T.BPCHAR, T.NUMERIC):
            t = T.lookup(target)
            explicit = context == F.EXPLICIT
            out = Func("typmod", lambda v: t.coerce_typmod(v, typmod, explicit), [out], target, typmod,
                       location=e.location)
        return self.fold(out)

    def fold(self, e: Expr) -> Expr:
        """Evaluate strict, non-volatile functions of constants now (errors get positions)."""
        if isinstance(e, Func) and not e.volatile and all(isinstance(a, Const) for a in e.args):
            if getattr(self, "_lazy", 0):
                # inside CASE / COALESCE / AND / OR an arm may never run: leave its errors to run time
                try:
                    v = e.compile(None)(None)
                except PgError:
                    return e
            else:
                v = e.compile(None)(None)
            return Const(v, e.type, e.typmod, e.location)
        return e

    def _lazily(self, fn):
        self._lazy = getattr(self, "_lazy", 0) + 1
        try:
            return fn()
        finally:
            self._lazy -= 1

    def assign(self, e: Expr, col, what: str = "column") -> Expr:
        """Assignment coercion to a column (INSERT/UPDATE)."""
        def err(src, dst):
            return PgError(f'column "{col.name}" is of type {F.type_name(col.type_oid, col.typmod)} but expression '
                           f'is of type {F.type_name(src)}', sqlstate="42804", position=e.location,
                           hint="You will need to rewrite or cast the expression.")
        if e.type == T.UNKNOWN and isinstance(e, Const) or isinstance(e, Param) and e.type == T.UNKNOWN:
            return self.coerce(e, col.type_oid, col.typmod, F.ASSIGNMENT)
        return self.coerce(e, col.type_oid, col.typmod, F.ASSIGNMENT, error_fn=err)

    def to_bool(self, e: Expr, clause: str) -> Expr:
        if e.type == T.BOOL:
            return e
        if e.type == T.UNKNOWN:
            return self.coerce(e, T.BOOL)
        raise PgError(f"argument of {clause} must be type boolean, not type {F.type_name(e.type)}",
                      sqlstate="42804", position=e.location)

    # ---- expressions
    def expr(self, node, scope: Scope, allow_agg: bool = False, agg_ok_msg: str | None = None) -> Expr:
        m = getattr(self, "x_" + type(node).__name__, None)
        if m is None:
            raise errors.FeatureNotSupported(f"{type(node).__name__} expressions are not supported",
                                             position=self.pos(node))
        return m(node, scope, allow_agg)

    def x_A_Const(self, n, scope, allow_agg):
        loc = self.stmt.const_position(n)
        if n.isnull:
            return Const(None, T.UNKNOWN, location=loc)
        v = n.val
        if isinstance(v, ast.Integer):
            return Const(v.ival, T.INT4, location=loc)
        if isinstance(v, ast.Float):
            s = v.fval
            if s.lstrip("-").isdigit():
                iv = int(s)
                if -(1 << 31) <= iv < (1 << 31):
                    return Const(iv, T.INT4, location=loc)
                if -(1 << 63) <= iv < (1 << 63):
                    return Const(iv, T.INT8, location=loc)
            return Const(T.lookup(T.NUMERIC).text_in(s), T.NUMERIC, location=loc)
        if isinstance(v, ast.String):
            return Const(v.sval, T.UNKNOWN, location=loc)
        if isinstance(v, ast.Boolean):
            return Const(bool(v.boolval), T.BOOL, location=loc)
        if isinstance(v, ast.BitString):
            raise errors.FeatureNotSupported("bit strings are not supported", position=loc)
        raise errors.FeatureNotSupported("constant not supported", position=loc)

    def x_ParamRef(self, n, scope, allow_agg):
        return self.param(n.number, n)

    def x_CollateClause(self, n, scope, allow_agg):
        coll = _str_nodes(n.collname)[-1]
        e = self.expr(n.arg, scope, allow_agg)
        if coll not in ("C", "POSIX", "default", "ucs_basic"):
            raise PgError(f'collation "{coll}" for encoding "UTF8" does not exist', sqlstate="42704",
                          position=self.pos(n))
        if e.type == T.UNKNOWN:
            e = self.coerce(e, T.TEXT)
        if F.category(e.type) != "S":
            raise PgError(f"collations are not supported by type {F.type_name(e.type)}", sqlstate="42804",
                          position=self.pos(n))
        return e

    def x_TypeCast(self, n, scope, allow_agg):
        try:
            oid, typmod = type_from_typename(n.typeName, self.stmt)
        except errors.UndefinedObject:
            cast = objects.domain_cast(self, n, scope, allow_agg)
            if cast is None:
                raise
            return cast
        if isinstance(n.arg, ast.A_ArrayExpr) and not n.arg.elements and is_array(oid):
            return Const([], oid, location=self.pos(n))
        arg = self.expr(n.arg, scope, allow_agg)
        if isinstance(arg, Const) and arg.type == T.UNKNOWN:
            arg.location = self.pos(n.arg) if arg.location is None else arg.location
        out = self.coerce(arg, oid, typmod, F.EXPLICIT)
        if out is arg and oid != arg.type:
            out = Func("cast", F._identity, [arg], oid, typmod, location=self.pos(n))
        elif out is arg and typmod != arg.typmod and typmod >= 0:
            pass
        return out

    def x_ColumnRef(self, n, scope, allow_agg):
        fields = n.fields
        if any(isinstance(f, ast.A_Star) for f in fields):
            raise PgError("row expansion via \"*\" is not supported here", sqlstate="0A000", position=self.pos(n))
        names = _str_nodes(fields)
        col = names[-1]
        loc = self.pos(n)
        chain = [scope] + list(reversed(self.outer))      # innermost first
        for depth, sc in enumerate(chain):
            hit = self._find_column(sc, names, loc, first=depth == 0)
            if hit is None:
                continue
            e, i = hit
            oid, typmod = e.types[i]
            if depth == 0:
                if len(names) == 1 and col in e.coalesced:
                    return self._using_coalesce(e, i, col, loc)
                return ColRef(e.offset + i, oid, typmod, name=col, location=loc)
            self.outer_refs += 1
            return OuterRef(depth, e.offset + i, oid, typmod, name=col, location=loc)
        if len(names) == 1:
            raise errors.UndefinedColumn(f'column "{col}" does not exist', position=loc)
        qual = names[-2]
        if any(e.table is not None and e.table.name == qual for e in scope.entries):
            alias = [e.alias for e in scope.entries if e.table is not None and e.table.name == qual][0]
            raise errors.UndefinedTable(f'invalid reference to FROM-clause entry for table "{qual}"', position=loc,
                                        hint=f'Perhaps you meant to reference the table alias "{alias}".')
        raise errors.UndefinedTable(f'missing FROM-clause entry for table "{qual}"', position=loc)

    def _using_coalesce(self, e, i, col, loc):
        """The merged column of FULL JOIN ... USING: COALESCE(left, right)."""
        oe, oi = e.coalesced[col]
        a = ColRef(e.offset + i, e.types[i][0], e.types[i][1], name=col, location=loc)
        b = ColRef(oe.offset + oi, oe.types[oi][0], oe.types[oi][1], name=col, location=loc)
        t = select_common_type([a.type, b.type], "JOIN/USING", loc)
        return Coalesce([self.coerce(a, t), self.coerce(b, t)], t)

    def _find_column(self, scope: Scope, names: list[str], loc, first: bool):
        """(entry, column index) of a column reference in one scope, None if it has no such name."""
        col = names[-1]
        if len(names) == 1:
            found = [(e, i) for e in scope.entries for i, nm in enumerate(e.names)
                     if nm == col and (not e.hidden[i] or nm == SYSTEM_COLUMN) and nm not in e.merged]
            if not found:
                return None
            if len(found) > 1:
                raise PgError(f'column reference "{col}" is ambiguous', sqlstate="42702", position=loc)
            return found[0]
        qual = names[-2]
        schema = names[-3] if len(names) >= 3 else None
        cands = [e for e in scope.entries if e.alias == qual and
                 (schema is None or schema == (e.table.schema if e.table is not None else e.schema))]
        if not cands:
            return None
        e = cands[0]
        idx = [i for i, nm in enumerate(e.names) if nm == col and (not e.hidden[i] or nm == SYSTEM_COLUMN)]
        if not idx:
            raise errors.UndefinedColumn(f"column {qual}.{col} does not exist", position=loc)
        return e, idx[0]

    def x_A_Expr(self, n, scope, allow_agg):
        kind = n.kind.name
        op = _str_nodes(n.name)[-1] if n.name else None
        loc = self.pos(n)
        if kind == "AEXPR_OP" and isinstance(n.lexpr, ast.RowExpr) and isinstance(n.rexpr, ast.RowExpr):
            return self._row_compare(op, n, scope, allow_agg, loc)
        if kind == "AEXPR_OP":
            if n.lexpr is None:
                arg = self.expr(n.rexpr, scope, allow_agg)
                if isinstance(arg, Const) and arg.type in F.NUM_RANK and op == "-" and arg.value is not None \
                        and isinstance(n.rexpr, ast.A_Const):
                    v = -arg.value
                    t = arg.type
                    if t == T.INT8 and -(1 << 31) <= v < (1 << 31):
                        t = T.INT4
                    return Const(v, t, location=loc)
                r = F.resolve_unary(op, arg.type, loc)
                arg = self.coerce(arg, r.ltype)
                return self.fold(Func(op, r.fn, [arg], r.result, location=loc))
            left = self.expr(n.lexpr, scope, allow_agg)
            right = self.expr(n.rexpr, scope, allow_agg)
            return self.binop(op, left, right, loc)
        if kind == "AEXPR_SIMILAR":
            left = self.expr(n.lexpr, scope, allow_agg)
            right = self.expr(n.rexpr, scope, allow_agg)
            return self.binop(op, left, right, loc)
        if kind in ("AEXPR_LIKE", "AEXPR_ILIKE"):
            left = self.expr(n.lexpr, scope, allow_agg)
            right = self.expr(n.rexpr, scope, allow_agg)
            return self.binop(op, left, right, loc)
        if kind == "AEXPR_IN":
            left = self.expr(n.lexpr, scope, allow_agg)
            items = [self.expr(x, scope, allow_agg) for x in n.rexpr]
            return self.in_list(left, items, op == "<>", loc)
        if kind in ("AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN", "AEXPR_BETWEEN_SYM", "AEXPR_NOT_BETWEEN_SYM"):
            a = self.expr(n.lexpr, scope, allow_agg)
            lo = self.expr(n.rexpr[0], scope, allow_agg)
            hi = self.expr(n.rexpr[1], scope, allow_agg)
            if "SYM" in kind:
                c1 = BoolOp("AND", [self.binop(">=", a, lo, loc), self.binop("<=", a, hi, loc)])
                c2 = BoolOp("AND", [self.binop(">=", a, hi, loc), self.binop("<=", a, lo, loc)])
                e = BoolOp("OR", [c1, c2])
            else:
                e = BoolOp("AND", [self.binop(">=", a, lo, loc), self.binop("<=", a, hi, loc)])
            if "NOT" in kind:
                e = BoolOp("NOT", [e])
            return e
        if kind == "AEXPR_NULLIF":
            a = self.expr(n.lexpr, scope, allow_agg)
            b = self.expr(n.rexpr, scope, allow_agg)
            r = F.resolve_binop("=", a.type, b.type, loc)
            a = self.coerce(a, r.ltype)
            eq = self.binop("=", a, b, loc)
            return _NullIf(a, eq, r.ltype)
        if kind in ("AEXPR_DISTINCT", "AEXPR_NOT_DISTINCT"):
            a = self.expr(n.lexpr, scope, allow_agg)
            b = self.expr(n.rexpr, scope, allow_agg)
            r = F.resolve_binop("=", a.type, b.type, loc)
            eq = Func("=", r.fn, [self.coerce(a, r.ltype), self.coerce(b, r.rtype)], T.BOOL, location=loc)
            return _Distinct(eq, kind == "AEXPR_NOT_DISTINCT")
        if kind == "AEXPR_OP_ANY" or kind == "AEXPR_OP_ALL":
            return self.array_any_all(n, scope, allow_agg, kind, op, loc)
        raise errors.FeatureNotSupported(f"expression {kind} not supported", position=loc)

    def _row_compare(self, op, n, scope, allow_agg, loc) -> Expr:
        ls = [self.expr(x, scope, allow_agg) for x in n.lexpr.args or ()]
        rs = [self.expr(x, scope, allow_agg) for x in n.rexpr.args or ()]
        if len(ls) != len(rs):
            raise PgError("unequal number of entries in row expressions", sqlstate="42601", position=loc)
        if op == "!=":
            op = "<>"
        if op in ("=", "<>"):
            parts = [self.binop(op, a, b, loc) for a, b in zip(ls, rs)]
            return parts[0] if len(parts) == 1 else BoolOp("AND" if op == "=" else "OR", parts)
        if op not in ("<", "<=", ">", ">="):
            raise errors.FeatureNotSupported(f"row comparison with {op} is not supported", position=loc)
        acc = self.binop(op, ls[-1], rs[-1], loc)
        for a, b in zip(reversed(ls[:-1]), reversed(rs[:-1])):
            acc = BoolOp("OR", [self.binop(op[0], a, b, loc), BoolOp("AND", [self.binop("=", a, b, loc), acc])])
        return acc

    def binop(self, op: str, left: Expr, right: Expr, loc) -> Expr:
        if is_array(left.type) or is_array(right.type):
            return self.array_binop(op, left, right, loc)
        r = F.resolve_binop(op, left.type, right.type, loc)
        if op == "||" and (left.type not in F.STRINGS or right.type not in F.STRINGS):
            # anynonarray || text: the non-text side goes through its output function
            left = self.coerce(left, r.ltype, context=F.EXPLICIT)
            right = self.coerce(right, r.rtype, context=F.EXPLICIT)
        else:
            left = self.coerce(left, r.ltype)
            right = self.coerce(right, r.rtype)
        return self.fold(Func(op if op != "!=" else "<>", r.fn, [left, right], r.result, location=loc))

    def _textout(self, e: Expr, target: int) -> Expr:
        if e.type in F.STRINGS or target != T.TEXT:
            return self.coerce(e, target, context=F.EXPLICIT)
        out = T.lookup(e.type).text_out
        return self.fold(Func("textout", out, [e], T.TEXT, location=e.location))

    def in_list(self, left: Expr, items: list[Expr], negate: bool, loc) -> Expr:
        t = select_common_type([left.type] + [i.type for i in items], "IN", loc)
        left = self.coerce(left, t) if left.type != t and left.type in F.NUM_RANK and t in F.NUM_RANK or \
            left.type == T.UNKNOWN else left
        eqs, out_items = [], []
        for it in items:
            r = F.resolve_binop("=", left.type, it.type, loc)
            it2 = self.coerce(it, r.rtype)
            if r.ltype != left.type:
                lf = F.cast_func(left.type, r.ltype, F.IMPLICIT) or F._identity
                fn = r.fn
                eqs.append(lambda a, b, lf=lf, fn=fn: fn(lf(a), b))
            else:
                eqs.append(r.fn)
            out_items.append(it2)
        return InList(left, out_items, eqs, negate)

    def x_BoolExpr(self, n, scope, allow_agg):
        op = {"AND_EXPR": "AND", "OR_EXPR": "OR", "NOT_EXPR": "NOT"}[n.boolop.name]
        args = [self.to_bool(self.expr(a, scope, allow_agg), op) for a in n.args[:1]]
        args += self._lazily(lambda: [self.to_bool(self.expr(a, scope, allow_agg), op) for a in n.args[1:]])
        return BoolOp(op, args)

    def x_NullTest(self, n, scope, allow_agg):
        a = self.expr(n.arg, scope, allow_agg)
        return NullTest(a, n.nulltesttype.name == "IS_NOT_NULL")

    def x_BooleanTest(self, n, scope, allow_agg):
        a = self.to_bool(self.expr(n.arg, scope, allow_agg), "IS " + n.booltesttype.name)
        return BoolTest(a, n.booltesttype.name)

    def x_CaseExpr(self, n, scope, allow_agg):
        return self._lazily(lambda: self._case_expr(n, scope, allow_agg))

    def _case_expr(self, n, scope, allow_agg):
        loc = self.pos(n)
        arg = self.expr(n.arg, scope, allow_agg) if n.arg is not None else None
        conds, results = [], []
        for w in n.args:
            if arg is not None:
                c = self.binop("=", arg, self.expr(w.expr, scope, allow_agg), self.pos(w))
            else:
                c = self.to_bool(self.expr(w.expr, scope, allow_agg), "CASE/WHEN")
            conds.append(c)
            results.append(self.expr(w.result, scope, allow_agg))
        default = self.expr(n.defresult, scope, allow_agg) if n.defresult is not None else None
        all_results = ([default] if default is not None else []) + results   # PostgreSQL looks at ELSE first
        t = select_common_type([r.type for r in all_results], "CASE", loc, [r.location for r in all_results])
        results = [self.coerce(r, t) for r in results]
        if default is not None:
            default = self.coerce(default, t)
        return Case(list(zip(conds, results)), default, t)

    def x_CoalesceExpr(self, n, scope, allow_agg):
        def bind():
            args = [self.expr(a, scope, allow_agg) for a in n.args]
            t = select_common_type([a.type for a in args], "COALESCE", self.pos(n), [a.location for a in args])
            return Coalesce([self.coerce(a, t) for a in args], t)
        return self._lazily(bind)

    def x_MinMaxExpr(self, n, scope, allow_agg):
        args = [self.expr(a, scope, allow_agg) for a in n.args]
        name = "greatest" if n.op.name == "IS_GREATEST" else "least"
        t = select_common_type([a.type for a in args], name.upper(), self.pos(n))
        args = [self.coerce(a, t) for a in args]
        key = F.sort_key_func(t) or F._identity
        pick = max if name == "greatest" else min

        def fn(*vals):
            vs = [v for v in vals if v is not None]
            return pick(vs, key=key) if vs else None
        return Func(name, fn, args, t, strict=False)

    def x_SQLValueFunction(self, n, scope, allow_agg):
        name, t = _SVF.get(n.op.name, (None, None))
        if name is None:
            raise errors.FeatureNotSupported(f"{n.op.name} not supported", position=self.pos(n))
        sess = self.session
        if name in ("current_timestamp",):
            f = F._now
        elif name == "localtimestamp":
            f = _local_ts
        elif name == "current_date":
            f = F._current_date
        elif name in ("current_time", "localtime"):
            f = _local_time
            t = T.TIME
        elif name in ("current_user", "session_user", "current_role"):
            user = getattr(sess, "user", "admin") if name == "session_user" else current_user(sess)
            return Const(user, T.NAME)
        elif name == "current_catalog":
            return Const(self.catalog.database, T.NAME)
        else:
            return Const(self.current_schema(), T.NAME)
        return Func(name, f, [], t, volatile=True)

    def x_FuncCall(self, n, scope, allow_agg):
        names = _str_nodes(n.funcname)
        name = names[-1].lower()
        loc = self.pos(n)
        if len(names) == 2 and names[0] == "sys":
            from .sysfuncs import bind_call
            return bind_call(self, name, [self.expr(a, scope, allow_agg) for a in (n.args or ())], loc)
        user_call = objects.bind_call(self, n, names, scope, allow_agg)   # sequences, SQL functions
        if user_call is not None:
            return user_call
        if len(names) > 1 and names[0] not in ("pg_catalog",):
            raise errors.UndefinedFunction(f"function {'.'.join(names)}() does not exist", position=loc)
        if n.over is not None:
            return self.window_call(n, name, scope, allow_agg, loc)
        if name in F.WINDOW_FUNCTIONS:
            raise PgError(f"window function {name} requires an OVER clause", sqlstate="42809", position=loc)
        if name in F.AGGREGATES:
            if not allow_agg:
                raise PgError("aggregate functions are not allowed in WHERE" if allow_agg is False else
                              "aggregate function calls cannot be nested", sqlstate="42803", position=loc)
            args = [self.expr(a, scope, None) for a in (n.args or ())]
            rt, factory, targets = F.resolve_aggregate(name, [a.type for a in args], bool(n.agg_star), loc)
            args = [self.coerce(a, tt) for a, tt in zip(args, targets)]
            order = self._sort_list(n.agg_order, scope, None)
            filt = self.to_bool(self.expr(n.agg_filter, scope, None), "FILTER") if n.agg_filter is not None else None
            return AggCall(name, args, rt, star=bool(n.agg_star), distinct=bool(n.agg_distinct),
                           make_state=factory, location=loc, filter=filt, order=order)
        if name == "make_interval" and any(isinstance(a, ast.NamedArgExpr) for a in (n.args or ())):
            from .functions_ext import MAKE_INTERVAL_ARGS
            slots = [Const(0, T.INT4)] * 6 + [Const(0.0, T.FLOAT8)]
            for i, a in enumerate(n.args):
                if isinstance(a, ast.NamedArgExpr):
                    if a.name not in MAKE_INTERVAL_ARGS:
                        raise errors.UndefinedFunction(f"function make_interval({a.name} => integer) does not exist",
                                                       position=loc)
                    slots[MAKE_INTERVAL_ARGS.index(a.name)] = self.expr(a.arg, scope, allow_agg)
                else:
                    slots[i] = self.expr(a, scope, allow_agg)
            slots = [self.coerce(x, T.FLOAT8 if i == 6 else T.INT4) for i, x in enumerate(slots)]
            fn, rt, _, strict, volatile = F.resolve_function(name, [x.type for x in slots], loc)
            return self.fold(Func(name, fn, slots, rt, strict=strict, location=loc))
        args = [self.expr(a, scope, allow_agg) for a in (n.args or ())]
        if name in ARRAY_FUNCS:
            return self.array_function(name, args, loc)
        if name == "unnest" and len(args) == 1:
            a = args[0]
            if a.type == T.UNKNOWN:
                raise errors.UndefinedFunction("function unnest(unknown) is not unique", position=loc)
            if not is_array(a.type):
                raise errors.UndefinedFunction(f"function unnest({F.type_name(a.type)}) does not exist",
                                               position=loc)
            f = Func("unnest", lambda v: v, [a], T.ELEMENT_OF[a.type], location=loc)
            f.srf = True
            return f
        if name == "generate_subscripts" and len(args) in (2, 3) and is_array(args[0].type):
            dim = self.coerce(args[1], T.INT4)

            def subscripts(arr, d, rev=False):
                n = len(arr) if d == 1 and arr is not None else 0
                return list(range(n, 0, -1)) if rev else list(range(1, n + 1))
            rest = [self.coerce(args[2], T.BOOL)] if len(args) == 3 else []
            f = Func(name, subscripts, [args[0], dim, *rest], T.INT4, location=loc)
            f.srf = True
            return f
        if name == "generate_series" and len(args) in (2, 3):
            return self._generate_series(args, loc)
        if name == "pg_typeof" and len(args) == 1:
            return Const(args[0].type, T.REGTYPE, location=loc)
        if name in ("concat_ws", "format") and args:
            args = [self.coerce(a, T.TEXT) if a.type == T.UNKNOWN else a for a in args]
            args[0] = self.coerce(args[0], T.TEXT)
            outs = [T.lookup(a.type).text_out for a in args]
            if name == "concat_ws":
                def concat_ws(sep, *vals):
                    if sep is None:
                        return None
                    return sep.join(o(v) for v, o in zip(vals, outs[1:]) if v is not None)
                return self.fold(Func(name, concat_ws, args, T.TEXT, strict=False, location=loc))
            from .functions_ext import format_func

            def format_(fmt, *vals):
                return format_func(fmt, vals, outs[1:])
            return self.fold(Func(name, format_, args, T.TEXT, strict=False, location=loc))
        if name in ("json_build_object", "json_build_array"):
            from .functions_ext import json_build
            args = [self.coerce(a, T.TEXT) if a.type == T.UNKNOWN else a for a in args]
            return Func(name, json_build(name, [a.type for a in args], loc), args, T.JSON, strict=False,
                        location=loc)
        if name == "concat":
            if not args:
                raise errors.UndefinedFunction("function concat() does not exist", position=loc,
                                               hint="No function matches the given name and argument types. You "
                                                    "might need to add explicit type casts.")
            args = [self.coerce(a, T.TEXT) if a.type == T.UNKNOWN else a for a in args]
            outs = [T.lookup(a.type).text_out for a in args]

            def concat(*vals):
                return "".join("" if v is None else o(v) for v, o in zip(vals, outs))
            return Func("concat", concat, args, T.TEXT, strict=False)
        if name in ("current_schema", "current_database", "current_user", "session_user", "current_catalog") \
                and not args:
            user = getattr(self.session, "user", "admin") if name == "session_user" else current_user(self.session)
            v = {"current_schema": self.current_schema(), "current_database": self.catalog.database,
                 "current_catalog": self.catalog.database}.get(name, user)
            return Const(v, T.NAME, location=loc)
        if name in ("extract", "date_part") and len(args) == 2 and isinstance(args[0], Const):
            src = args[1]
            if src.type == T.UNKNOWN:
                src = self.coerce(src, T.TIMESTAMPTZ)
            field = args[0].value
            if src.type in (T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8) or field is None:
                raise errors.UndefinedFunction(f"function {name}(unknown, {F.type_name(src.type)}) does not exist",
                                               position=loc)
            fn = F.extract_field(field, src.type, loc)
            if name == "date_part":
                return self.fold(Func(name, lambda v: float(fn(v)), [src], T.FLOAT8, location=loc))
            return self.fold(Func(name, fn, [src], T.NUMERIC, location=loc))
        if name == "date_trunc" and len(args) == 2 and isinstance(args[0], Const):
            src = args[1]
            if src.type == T.UNKNOWN:
                src = self.coerce(src, T.TIMESTAMPTZ)
            if src.type == T.DATE:
                src = self.coerce(src, T.TIMESTAMPTZ)
            if src.type == T.INTERVAL:
                from .functions_ext import interval_trunc_func
                return self.fold(Func(name, interval_trunc_func(args[0].value), [src], T.INTERVAL, location=loc))
            if src.type not in (T.TIMESTAMP, T.TIMESTAMPTZ):
                raise errors.UndefinedFunction(f"function date_trunc(unknown, {F.type_name(src.type)}) does not exist",
                                               position=loc)
            return self.fold(Func(name, F.date_trunc_func(args[0].value, loc), [src], src.type, location=loc))
        if name == "coalesce":
            t = select_common_type([a.type for a in args], "COALESCE", loc)
            return Coalesce([self.coerce(a, t) for a in args], t)
        fn, rt, targets, strict, volatile = F.resolve_function(name, [a.type for a in args], loc)
        args = [self.coerce(a, tt) for a, tt in zip(args, targets)]
        return self.fold(Func(name, fn, args, rt, strict=strict, volatile=volatile, location=loc))

    def _generate_series(self, args, loc) -> Expr:
        """generate_series(start, stop [, step]) over integers, numeric or timestamps: a set-returning Func."""
        types = [a.type for a in args]
        if all(t in (T.INT2, T.INT4, T.INT8, T.UNKNOWN) for t in types):
            t = T.INT8 if T.INT8 in types else T.INT4
            args = [self.coerce(a, t) for a in args]
        elif all(t in F.NUM_RANK or t == T.UNKNOWN for t in types) and T.NUMERIC in types:
            t = T.NUMERIC
            args = [self.coerce(a, t) for a in args]
        elif len(args) == 3 and types[0] in (T.TIMESTAMP, T.TIMESTAMPTZ, T.UNKNOWN):
            t = T.TIMESTAMPTZ if T.TIMESTAMPTZ in types[:2] or types[0] == T.UNKNOWN else T.TIMESTAMP
            args = [self.coerce(args[0], t), self.coerce(args[1], t), self.coerce(args[2], T.INTERVAL)]
        else:
            raise errors.UndefinedFunction(
                f"function generate_series({', '.join(F.type_name(x) for x in types)}) does not exist",
                position=loc, hint="No function matches the given name and argument types. You might need to "
                                   "add explicit type casts.")
        from .functions_ext import series
        f = Func("generate_series", series(t), args, t, location=loc)
        f.srf = True
        return f

    def window_call(self, n, name, scope, allow_agg, loc) -> WindowCall:
        if not allow_agg:
            raise PgError("window functions are not allowed in WHERE", sqlstate="42P20", position=loc)
        w = n.over
        if w.name or w.refname:
            ref = w.name or w.refname
            defs = [d for d in (self.window_defs or ()) if d.name == ref]
            if not defs:
                raise PgError(f'window "{ref}" does not exist', sqlstate="42704", position=loc)
            base = defs[0]
            w = ast.WindowDef(partitionClause=base.partitionClause, orderClause=w.orderClause or base.orderClause,
                              frameOptions=base.frameOptions if not w.orderClause else w.frameOptions,
                              startOffset=base.startOffset if not w.orderClause else w.startOffset,
                              endOffset=base.endOffset if not w.orderClause else w.endOffset)
        frame = self._frame(w, scope, loc)
        partition = [self.expr(x, scope, True) for x in w.partitionClause or ()]
        order = self._sort_list(w.orderClause, scope, True)
        args = [self.expr(a, scope, True) for a in (n.args or ())]
        if name in F.AGGREGATES:
            rt, factory, targets = F.resolve_aggregate(name, [a.type for a in args], bool(n.agg_star), loc)
            args = [self.coerce(a, tt) for a, tt in zip(args, targets)]
            if n.agg_distinct:
                raise errors.FeatureNotSupported("DISTINCT is not implemented for window functions", position=loc)
            filt = self.to_bool(self.expr(n.agg_filter, scope, True), "FILTER") if n.agg_filter is not None else None
            return WindowCall(name, args, partition, order, rt, frame, make_state=factory, star=bool(n.agg_star),
                              location=loc, filter=filt)
        if name not in F.WINDOW_FUNCTIONS:
            raise errors.FeatureNotSupported(f"{name} is not a window function", position=loc)
        rt, targets = F.resolve_window(name, [a.type for a in args], loc)
        args = [self.coerce(a, tt) for a, tt in zip(args, targets)]
        return WindowCall(name, args, partition, order, rt, frame, location=loc)

    def _frame(self, w, scope, loc):
        """(mode, start kind, start offset, end kind, end offset); kinds: up/op/cr/of/uf (unbounded preceding,
        offset preceding, current row, offset following, unbounded following)."""
        fo = w.frameOptions or 0
        if not fo & 0x1:
            return ("range", "up", None, "cr", None)
        if fo & 0x8 or fo & 0x38000:
            raise errors.FeatureNotSupported("GROUPS frames and frame exclusion are not supported yet", position=loc)
        mode = "rows" if fo & 0x4 else "range"
        start = "up" if fo & 0x20 else "cr" if fo & 0x200 else "op" if fo & 0x800 else "of" if fo & 0x2000 else "uf"
        end = "uf" if fo & 0x100 else "cr" if fo & 0x400 else "op" if fo & 0x1000 else "of" if fo & 0x4000 else "up"
        offs = []
        for kind, node in ((start, w.startOffset), (end, w.endOffset)):
            if kind in ("op", "of"):
                if mode == "range":
                    raise errors.FeatureNotSupported("RANGE with offset PRECEDING/FOLLOWING is not supported yet",
                                                     position=loc)
                offs.append(self.coerce(self.expr(node, scope, False), T.INT8))
            else:
                offs.append(None)
        return (mode, start, offs[0], end, offs[1])

    def _sort_list(self, items, scope, allow_agg) -> list[tuple[Expr, bool, bool]]:
        order = []
        for sb in items or ():
            e = self.expr(sb.node, scope, allow_agg)
            if e.type == T.UNKNOWN:
                e = self.coerce(e, T.TEXT)
            desc = sb.sortby_dir.name == "SORTBY_DESC"
            nf = {"SORTBY_NULLS_FIRST": True, "SORTBY_NULLS_LAST": False}.get(sb.sortby_nulls.name, desc)
            order.append((e, desc, nf))
        return order

    def x_SubLink(self, n, scope, allow_agg):
        from .plan import Planner
        kind = n.subLinkType.name
        loc = self.pos(n)
        before = self.outer_refs
        self.outer.append(scope)
        try:
            inner = self.bind_select(n.subselect)
        finally:
            self.outer.pop()
        correlated = self.outer_refs != before
        plan = Planner().plan_query(inner)
        if kind == "EXISTS_SUBLINK":
            return SubqueryExpr(plan, "exists", T.BOOL, correlated=correlated)
        if kind == "ARRAY_SUBLINK" and len(inner.targets) == 1:
            from .arrays import array_of
            return SubqueryExpr(plan, "array", array_of(inner.targets[0][1].type, loc), correlated=correlated)
        if len(inner.targets) != 1:
            raise PgError("subquery must return only one column" if kind == "EXPR_SUBLINK" else
                          "subquery has too many columns", sqlstate="42601", position=loc)
        itype = inner.targets[0][1].type
        if kind == "EXPR_SUBLINK":
            return SubqueryExpr(plan, "scalar", itype, inner.targets[0][1].typmod, correlated=correlated)
        if kind in ("ANY_SUBLINK", "ALL_SUBLINK"):
            op = _str_nodes(n.operName)[-1] if n.operName else "="
        if kind == "ALL_SUBLINK" or (kind == "ANY_SUBLINK" and op != "="):
            if isinstance(n.testexpr, ast.RowExpr):
                raise errors.FeatureNotSupported("row comparisons with subqueries are not supported yet",
                                                 position=loc)
            left = self.expr(n.testexpr, scope, allow_agg)
            r = F.resolve_binop(op, left.type, itype, loc)
            if r.result != T.BOOL:
                raise PgError(f"op ANY/ALL (array) requires operator to yield boolean", sqlstate="42809",
                              position=loc)
            left = self.coerce(left, r.ltype)
            conv = F.cast_func(itype, r.rtype, F.IMPLICIT) or F._identity
            return SubqueryExpr(plan, "all" if kind == "ALL_SUBLINK" else "any", T.BOOL, arg=left, key=r.fn,
                                conv=conv, correlated=correlated)
        if kind == "ANY_SUBLINK":
            left = self.expr(n.testexpr, scope, allow_agg)
            r = F.resolve_binop("=", left.type, itype, loc)
            left = self.coerce(left, r.ltype)
            conv = F.cast_func(itype, r.rtype, F.IMPLICIT) or F._identity
            return SubqueryExpr(plan, "in", T.BOOL, arg=left, key=F.sort_key_func(r.rtype), conv=conv,
                                correlated=correlated)
        raise errors.FeatureNotSupported(f"{kind} subqueries are not supported yet", position=loc)

    def x_SetToDefault(self, n, scope, allow_agg):
        raise PgError("DEFAULT is not allowed in this context", sqlstate="42601", position=self.pos(n))

    # ---- output names (FigureColname)
    def colname(self, node) -> str:
        return self._colname(node)[0]

    def _colname(self, node) -> tuple[str, int]:
        """FigureColnameInternal: (name, strength); strength 2 beats a cast's type name."""
        if isinstance(node, ast.ColumnRef):
            f = node.fields[-1]
            return (f.sval, 2) if isinstance(f, ast.String) else ("?column?", 0)
        if isinstance(node, ast.FuncCall):
            return _str_nodes(node.funcname)[-1], 2
        if isinstance(node, ast.TypeCast):
            inner, strength = self._colname(node.arg)
            if strength > 1:
                return inner, strength
            names = [x.sval for x in node.typeName.names]
            return names[-1], 1
        if isinstance(node, ast.SubLink):
            k = node.subLinkType.name
            if k == "EXISTS_SUBLINK":
                return "exists", 2
            if k == "EXPR_SUBLINK" and isinstance(node.subselect, ast.SelectStmt) and node.subselect.targetList:
                rt = node.subselect.targetList[0]
                if rt.name:
                    return rt.name, 2
                return self._colname(rt.val)
            if k == "ARRAY_SUBLINK":
                return "array", 2
        if isinstance(node, ast.A_ArrayExpr):
            return "array", 2
        if isinstance(node, ast.A_Indirection):
            last = node.indirection[-1] if node.indirection else None
            if isinstance(last, ast.String):
                return last.sval, 2
            return self._colname(node.arg)
        nm = self._colname_simple(node)
        return nm, (0 if nm == "?column?" else 2)

    def _colname_simple(self, node) -> str:
        if isinstance(node, ast.CaseExpr):
            return "case"
        if isinstance(node, ast.CoalesceExpr):
            return "coalesce"
        if isinstance(node, ast.MinMaxExpr):
            return "greatest" if node.op.name == "IS_GREATEST" else "least"
        if isinstance(node, ast.A_Expr) and node.kind.name == "AEXPR_NULLIF":
            return "nullif"
        if isinstance(node, ast.SQLValueFunction):
            return _SVF.get(node.op.name, ("?column?",))[0]
        return "?column?"

    # ---- SELECT
    def bind_from(self, items, scope: Scope):
        result = None
        for item in items:
            node = self.bind_from_item(item, scope)
            result = node if result is None else FromJoin(result, node, "CROSS", None)
        return result

    def bind_from_item(self, item, scope: Scope):
        if isinstance(item, ast.RangeVar) and item.schemaname is None:
            for frame in reversed(self.ctes):
                if item.relname in frame:
                    val = frame[item.relname]
                    alias = item.alias.aliasname if item.alias is not None else item.relname
                    if len(val) == 4:           # the work table of the recursive CTE being bound
                        _, holder, wnames, wtypes = val
                        entry = RangeEntry(alias=alias, table=None, names=list(wnames), types=list(wtypes),
                                           hidden=[False] * len(wnames), offset=scope.width)
                        scope.entries.append(entry)
                        return FromVirtual(entry, lambda catalog, session, h=holder: h["rows"])
                    node, colnames = val[0], val[1]
                    if len(val) == 3:
                        q = self._bind_recursive(frame, item.relname, node, colnames)
                        names = list(colnames or [])
                        if item.alias is not None and item.alias.colnames:
                            names = [c.sval for c in item.alias.colnames]
                        return self._subquery_entry(q, alias, names, scope)
                    q = self.bind_select(node)
                    alias = item.alias.aliasname if item.alias is not None else item.relname
                    names = list(colnames or [])
                    if item.alias is not None and item.alias.colnames:
                        names = [c.sval for c in item.alias.colnames]
                    return self._subquery_entry(q, alias, names, scope)
        if isinstance(item, ast.RangeSubselect):
            if item.lateral:
                raise errors.FeatureNotSupported("LATERAL is not supported yet", position=self.pos(item))
            saved, self.outer = self.outer, [Scope()]   # not LATERAL: no references to sibling FROM items
            try:
                q = self.bind_select(item.subquery)
            finally:
                self.outer = saved
            alias = item.alias.aliasname if item.alias is not None else "unnamed_subquery"
            names = [c.sval for c in item.alias.colnames] if item.alias is not None and item.alias.colnames else []
            return self._subquery_entry(q, alias, names, scope)
        if isinstance(item, ast.RangeFunction):
            return self._range_function(item, scope)
        if isinstance(item, ast.RangeVar) and (item.schemaname is None or item.schemaname in syscat.system_schemas()):
            view = syscat.lookup(item.schemaname, item.relname)
            if view is not None:
                cols, fn = view
                alias = item.alias.aliasname if item.alias is not None else item.relname
                entry = RangeEntry(alias=alias, table=None, names=[c for c, _ in cols],
                                   types=[(o, -1) for _, o in cols], hidden=[False] * len(cols), offset=scope.width,
                                   schema=item.schemaname or "pg_catalog")
                classoid = syscat.catalog_oid(item.schemaname, item.relname)
                if classoid is not None:       # the system column tableoid, named only explicitly
                    entry.names.append(SYSTEM_COLUMN)
                    entry.types.append((T.OID, -1))
                    entry.hidden.append(True)
                    fn = _with_tableoid(fn, classoid)
                scope.entries.append(entry)
                return FromVirtual(entry, fn)
            if item.schemaname is not None:
                raise errors.UndefinedTable(f'relation "{item.schemaname}.{item.relname}" does not exist',
                                            position=self.pos(item))
        if isinstance(item, ast.RangeVar):
            t = self.lookup_table(item)
            alias = item.alias.aliasname if item.alias is not None else t.name
            for e in scope.entries:
                if e.alias == alias:
                    raise PgError(f'table name "{alias}" specified more than once', sqlstate="42712",
                                  position=self.pos(item))
            entry = self.table_entry(t, alias, scope.width)
            if item.alias is not None and item.alias.colnames:
                for i, cn in enumerate(item.alias.colnames):
                    vis = [j for j, h in enumerate(entry.hidden) if not h]
                    entry.names[vis[i]] = cn.sval
            scope.entries.append(entry)
            return FromTable(entry)
        if isinstance(item, ast.JoinExpr):
            left = self.bind_from_item(item.larg, scope)
            right = self.bind_from_item(item.rarg, scope)
            kind = {"JOIN_INNER": "INNER", "JOIN_LEFT": "LEFT", "JOIN_RIGHT": "RIGHT",
                    "JOIN_FULL": "FULL"}.get(item.jointype.name)
            if kind is None:
                raise errors.FeatureNotSupported(f"{item.jointype.name} not supported", position=self.pos(item))
            cond = None
            if item.usingClause or item.isNatural:
                lents = _entries_of(left)
                rents = _entries_of(right)
                if item.isNatural:
                    lnames = [nm for e in lents for i, nm in enumerate(e.names) if not e.hidden[i] and nm not in e.merged]
                    rnames = {nm for e in rents for i, nm in enumerate(e.names) if not e.hidden[i]}
                    names = [nm for nm in lnames if nm in rnames]
                else:
                    names = [x.sval for x in item.usingClause]
                conds = []
                lscope, rscope = Scope(lents), Scope(rents)
                for nm in names:
                    ref = ast.ColumnRef(fields=(ast.String(sval=nm),), location=-1)
                    try:
                        l = self.expr(ref, lscope, False)
                        r = self.expr(ref, rscope, False)
                    except PgError:
                        raise errors.UndefinedColumn(
                            f'column "{nm}" specified in USING clause does not exist in '
                            f'{"left" if not self._has(lscope, nm) else "right"} table', position=None) from None
                    conds.append(self.binop("=", l, r, self.pos(item)))
                    if kind == "FULL" and isinstance(l, ColRef) and isinstance(r, ColRef):
                        le = next(e for e in lents if e.offset <= l.index < e.offset + len(e.names))
                        re_ = next(e for e in rents if e.offset <= r.index < e.offset + len(e.names))
                        le.coalesced[nm] = (re_, r.index - re_.offset)
                    hide = rents if kind != "RIGHT" else lents
                    for e in hide:
                        if nm in e.names:
                            e.merged.add(nm)
                cond = and_(conds) if conds else None
                if cond is None and kind == "INNER":
                    kind = "CROSS"
                return FromJoin(left, right, kind, cond)
            if item.quals is not None:
                cond = self.to_bool(self.expr(item.quals, scope, False), "JOIN/ON")
            elif kind != "INNER":
                raise errors.SyntaxError_("syntax error: JOIN requires ON", position=self.pos(item))
            if kind == "INNER" and cond is None:
                kind = "CROSS"
            return FromJoin(left, right, kind, cond)
        raise errors.FeatureNotSupported(f"{type(item).__name__} in FROM is not supported yet",
                                         position=self.pos(item))

    def _bind_recursive(self, frame, name, node, colnames):
        """WITH RECURSIVE name AS (non-recursive term UNION [ALL] recursive term)."""
        original = frame[name]
        frame[name] = (node.larg, colnames)          # the non-recursive term may not see itself
        try:
            left = self.bind_select(node.larg)
        finally:
            frame[name] = original
        names = list(colnames or []) + [nm for nm, _ in left.targets][len(colnames or []):]
        if colnames and len(colnames) > len(left.targets):
            raise PgError(f'WITH query "{name}" has {len(left.targets)} columns available but '
                          f'{len(colnames)} columns specified', sqlstate="42P10")
        types = [(e.type if e.type != T.UNKNOWN else T.TEXT, e.typmod) for _, e in left.targets]
        holder = {"rows": []}
        frame[name] = ("worktable", holder, names, types)
        try:
            q = self.bind_select(node)
        finally:
            frame[name] = original
        if not isinstance(q, BoundSetOp):
            raise errors.FeatureNotSupported("this recursive query form is not supported", position=None)
        q.worktable = holder
        return q

    def _subquery_entry(self, q, alias: str, names: list[str], scope: Scope) -> FromSubquery:
        for e in scope.entries:
            if e.alias == alias:
                raise PgError(f'table name "{alias}" specified more than once', sqlstate="42712")
        cols = [nm for nm, _ in q.targets]
        if len(names) > len(cols):
            raise PgError(f'table "{alias}" has {len(cols)} columns available but {len(names)} columns specified',
                          sqlstate="42P10")
        cols = names + cols[len(names):]
        entry = RangeEntry(alias=alias, table=None, names=cols,
                           types=[(e.type, e.typmod) for _, e in q.targets],
                           hidden=[False] * len(cols), offset=scope.width)
        scope.entries.append(entry)
        return FromSubquery(entry, q)

    def _range_function(self, item, scope: Scope):
        """unnest(<array>[, ...]) / generate_series / generate_subscripts in FROM, WITH ORDINALITY, and
        implicitly LATERAL: arguments may refer to the FROM items before it (run once per row of those)."""
        if len(item.functions) != 1:
            raise errors.FeatureNotSupported("ROWS FROM with several functions is not supported",
                                             position=self.pos(item))
        fc = item.functions[0][0]
        if not isinstance(fc, ast.FuncCall):
            raise errors.FeatureNotSupported("this function in FROM is not supported", position=self.pos(item))
        name = _str_nodes(fc.funcname)[-1].lower()
        try:
            types, fn = self._set_function(item, fc, name)
            lateral = False
        except (errors.UndefinedColumn, errors.UndefinedTable):
            if not scope.entries:
                raise
            # a reference to an earlier FROM item: bind it as an outer reference to that item's row
            self.outer.append(scope)
            try:
                types, fn = self._set_function(item, fc, name)
            finally:
                self.outer.pop()
            lateral = True
        alias = item.alias.aliasname if item.alias is not None else name
        given = [c.sval for c in item.alias.colnames] if item.alias is not None and item.alias.colnames else []
        default = [alias if item.alias is not None and len(types) == 1 else name] * len(types)
        if item.ordinality:
            types, default = types + [(T.INT8, -1)], default + ["ordinality"]
        if len(given) > len(types):
            raise PgError(f'table "{alias}" has {len(types)} columns available but {len(given)} columns specified',
                          sqlstate="42P10", position=self.pos(item))
        names = given + default[len(given):]
        entry = RangeEntry(alias=alias, table=None, names=names, types=types, hidden=[False] * len(names),
                           offset=scope.width)
        scope.entries.append(entry)
        ordinality = bool(item.ordinality)

        def rows(catalog, session, env):
            out = fn(env)
            return [r + [k] for k, r in enumerate(out, 1)] if ordinality else out
        rows.wants_env = True
        return FromVirtual(entry, rows, lateral)

    def _set_function(self, item, fc, name):
        """-> ([(type, typmod)] of the columns, env -> rows) of a set-returning function call in FROM."""
        if name == "unnest" and len(fc.args or ()) > 1:
            parts = [self.expr(ast.FuncCall(funcname=fc.funcname, args=(a,), location=fc.location), Scope(), False)
                     for a in fc.args]
            args = [p.args[0] for p in parts]

            def many(env):   # the arrays side by side, the shorter ones padded with NULLs
                arrays = [a.compile(env)(None) or [] for a in args]
                return [list(r) for r in itertools.zip_longest(*arrays)]
            return [(p.type, -1) for p in parts], many
        e = self.expr(fc, Scope(), False)
        if not getattr(e, "srf", False) or name not in ("unnest", "generate_series", "generate_subscripts"):
            raise errors.FeatureNotSupported(f"function {name} in FROM is not supported", position=self.pos(item))
        if any(isinstance(x, ColRef) for x in e.walk()):
            raise errors.FeatureNotSupported(f"{name}() arguments must not refer to other FROM items",
                                             position=self.pos(item))
        value = e.compile
        if name == "unnest":
            arg = e.args[0]
            return [(e.type, -1)], lambda env: [[x] for x in (arg.compile(env)(None) or [])]
        return [(e.type, -1)], lambda env: [[x] for x in (value(env)(None) or [])]

    @staticmethod
    def _has(scope: Scope, name: str) -> bool:
        return any(nm == name for e in scope.entries for nm in e.names)

    def bind_select(self, n: ast.SelectStmt, resolve_unknown: bool = True):
        """A query: plain SELECT, set operation, VALUES, with an optional WITH clause.
        resolve_unknown=False keeps unknown-typed output columns (set operation branches)."""
        if n.withClause is not None:
            recursive = bool(n.withClause.recursive)
            frame = {}
            self.ctes.append(frame)
            try:
                for cte in n.withClause.ctes:
                    if not isinstance(cte.ctequery, ast.SelectStmt):
                        raise errors.FeatureNotSupported("data-modifying statements in WITH are not supported")
                    if cte.ctename in frame:
                        raise PgError(f'WITH query name "{cte.ctename}" specified more than once', sqlstate="42712")
                    frame[cte.ctename] = (cte.ctequery, [c.sval for c in cte.aliascolnames or ()])
                    q = cte.ctequery
                    if recursive and q.op is not None and q.op.name == "SETOP_UNION":
                        frame[cte.ctename] = (q, [c.sval for c in cte.aliascolnames or ()], "recursive")
                inner = _without_with(n)
                return self.bind_select(inner, resolve_unknown)
            finally:
                self.ctes.pop()
        if n.op is not None and n.op.name != "SETOP_NONE":
            return self.bind_setop(n)
        if n.valuesLists:
            return self.bind_values(n)
        return self._bind_simple_select(n, resolve_unknown)

    def _bind_output_order(self, n, targets):
        """ORDER BY / LIMIT of a set operation or VALUES: output columns only."""
        order_by = []
        for sb in n.sortClause or ():
            node = sb.node
            idx = None
            if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
                idx = node.val.ival - 1
                if idx < 0 or idx >= len(targets):
                    raise PgError(f"ORDER BY position {idx + 1} is not in select list", sqlstate="42P10",
                                  position=self.pos(node))
            elif isinstance(node, ast.ColumnRef) and len(node.fields) == 1 and isinstance(node.fields[0], ast.String):
                nm = node.fields[0].sval
                for i, (tn, _) in enumerate(targets):
                    if tn == nm:
                        idx = i
                        break
                if idx is None:
                    raise errors.UndefinedColumn(f'column "{nm}" does not exist', position=self.pos(node))
            else:
                raise errors.FeatureNotSupported(
                    "invalid UNION/INTERSECT/EXCEPT ORDER BY clause", position=self.pos(node),
                    hint="Only result column names can be used, not expressions or functions.")
            desc = sb.sortby_dir.name == "SORTBY_DESC"
            nf = {"SORTBY_NULLS_FIRST": True, "SORTBY_NULLS_LAST": False}.get(sb.sortby_nulls.name, desc)
            order_by.append(SortItem(targets[idx][1], desc, nf))
        limit = self.coerce(self.expr(n.limitCount, Scope(), False), T.INT8) if n.limitCount is not None else None
        offset = self.coerce(self.expr(n.limitOffset, Scope(), False), T.INT8) if n.limitOffset is not None else None
        return order_by, limit, offset

    def bind_setop(self, n: ast.SelectStmt) -> BoundSetOp:
        op = {"SETOP_UNION": "UNION", "SETOP_INTERSECT": "INTERSECT", "SETOP_EXCEPT": "EXCEPT"}[n.op.name]
        left = self.bind_select(n.larg, resolve_unknown=False)
        right = self.bind_select(n.rarg, resolve_unknown=False)
        if len(left.targets) != len(right.targets):
            pos = None
            if isinstance(n.rarg, ast.SelectStmt) and n.rarg.targetList:
                pos = self.pos(n.rarg.targetList[0])
            raise PgError(f"each {op} query must have the same number of columns", sqlstate="42601",
                          position=pos)
        lcasts, rcasts, targets = [], [], []
        for i in range(len(left.targets)):
            t = select_common_type([left.targets[i][1].type, right.targets[i][1].type], op)
            for side in (left, right):
                nm, e = side.targets[i]
                if e.type == T.UNKNOWN:
                    side.targets[i] = (nm, self.coerce(e, t) if isinstance(side, BoundSelect) else e)
            (ln, le), (_, re_) = left.targets[i], right.targets[i]
            lcasts.append(self.coerce(ColRef(i, le.type, le.typmod, name=ln), t))
            rcasts.append(self.coerce(ColRef(i, re_.type, re_.typmod), t))
            typmod = le.typmod if le.type == re_.type == t and le.typmod == re_.typmod else -1
            targets.append((ln, ColRef(i, t, typmod, name=ln)))
        order_by, limit, offset = self._bind_output_order(n, targets)
        return BoundSetOp(op, bool(n.all), left, right, lcasts, rcasts, targets, order_by, limit, offset)

    def bind_values(self, n: ast.SelectStmt) -> BoundValues:
        rows = [[self.expr(x, Scope(), False) for x in vl] for vl in n.valuesLists]
        width = len(rows[0])
        for r in rows:
            if len(r) != width:
                raise PgError("VALUES lists must all be the same length", sqlstate="42601")
        targets = []
        for i in range(width):
            t = select_common_type([r[i].type for r in rows], "VALUES")
            for r in rows:
                r[i] = self.coerce(r[i], t)
            targets.append((f"column{i + 1}", ColRef(i, t, -1, name=f"column{i + 1}")))
        order_by, limit, offset = self._bind_output_order(n, targets)
        return BoundValues(rows, targets, order_by, limit, offset)

    def _bind_simple_select(self, n: ast.SelectStmt, resolve_unknown: bool = True) -> BoundSelect:
        saved_defs, self.window_defs = self.window_defs, n.windowClause
        try:
            return self._bind_simple_select2(n, resolve_unknown)
        finally:
            self.window_defs = saved_defs

    def _bind_simple_select2(self, n: ast.SelectStmt, resolve_unknown: bool = True) -> BoundSelect:
        scope = Scope()
        from_ = self.bind_from(n.fromClause, scope) if n.fromClause else None
        where = None
        if n.whereClause is not None:
            where = self.to_bool(self.expr(n.whereClause, scope, False), "WHERE")
        # targets
        targets: list[tuple[str, Expr]] = []
        for rt in n.targetList or ():
            v = rt.val
            if isinstance(v, ast.ColumnRef) and isinstance(v.fields[-1], ast.A_Star):
                quals = _str_nodes(v.fields)
                ents = scope.entries
                if quals:
                    ents = [e for e in scope.entries if e.alias == quals[-1]]
                    if not ents:
                        raise errors.UndefinedTable(f'missing FROM-clause entry for table "{quals[-1]}"',
                                                    position=self.pos(v))
                if not scope.entries:
                    raise PgError("SELECT * with no tables specified is not valid", sqlstate="42601",
                                  position=self.pos(v))
                for e in ents:
                    for i, nm in enumerate(e.names):
                        if not e.hidden[i] and (quals or nm not in e.merged):
                            oid, tm = e.types[i]
                            if not quals and nm in e.coalesced:
                                targets.append((nm, self._using_coalesce(e, i, nm, None)))
                                continue
                            targets.append((nm, ColRef(e.offset + i, oid, tm, name=nm)))
                continue
            ex = self.expr(v, scope, True)
            if ex.type == T.UNKNOWN and resolve_unknown:
                ex = self.coerce(ex, T.TEXT)
            targets.append((rt.name or self.colname(v), ex))
        # grouping
        group_by = []
        for g in n.groupClause or ():
            if isinstance(g, ast.A_Const) and isinstance(g.val, ast.Integer):
                k = g.val.ival
                if k < 1 or k > len(targets):
                    raise PgError(f"GROUP BY position {k} is not in select list", sqlstate="42P10",
                                  position=self.pos(g))
                group_by.append(targets[k - 1][1])
                continue
            if isinstance(g, ast.ColumnRef) and len(g.fields) == 1 and isinstance(g.fields[0], ast.String):
                nm = g.fields[0].sval
                try:
                    group_by.append(self.expr(g, scope, False))
                    continue
                except PgError as err:
                    if err.sqlstate != "42703":
                        raise
                    match = [e for (tn, e) in targets if tn == nm]
                    if not match:
                        raise
                    group_by.append(match[0])
                    continue
            group_by.append(self.expr(g, scope, False))
        having = None
        if n.havingClause is not None:
            having = self.to_bool(self.expr(n.havingClause, scope, True), "HAVING")
        # order by
        order_by = []
        for s in n.sortClause or ():
            e = self.sort_expr(s.node, scope, targets)
            desc = s.sortby_dir.name == "SORTBY_DESC"
            if s.sortby_dir.name == "SORTBY_USING":
                raise errors.FeatureNotSupported("ORDER BY USING is not supported", position=self.pos(s))
            nf = {"SORTBY_NULLS_FIRST": True, "SORTBY_NULLS_LAST": False}.get(s.sortby_nulls.name, desc)
            order_by.append(SortItem(e, desc, nf))
        limit = offset = None
        if n.limitCount is not None:
            limit = self.coerce(self.expr(n.limitCount, scope, False), T.INT8)
        if n.limitOffset is not None:
            offset = self.coerce(self.expr(n.limitOffset, scope, False), T.INT8)
        distinct = bool(n.distinctClause)
        distinct_on = []
        if n.distinctClause and any(x is not None for x in n.distinctClause):
            distinct = False
            distinct_on = [self.sort_expr(x, scope, targets) for x in n.distinctClause]
            on_keys = {expr_key(e) for e in distinct_on}
            for si in order_by[:len(distinct_on)]:
                if expr_key(si.expr) not in on_keys:
                    raise PgError("SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                                  sqlstate="42P10", position=getattr(si.expr, "location", None))
        for_update = False
        for lc in n.lockingClause or ():
            for_update = True
        aggs: list[AggCall] = []
        has_agg = bool(group_by) or having is not None or any(contains_agg(e) for _, e in targets) or \
            any(contains_agg(s.expr) for s in order_by)
        bs = BoundSelect(from_, where, targets, group_by, having, aggs, order_by, limit, offset,
                         distinct, scope, for_update, has_agg)
        bs.distinct_on = distinct_on
        if has_agg:
            self.rewrite_aggregates(bs)
        self.extract_windows(bs)
        return bs

    def extract_windows(self, bs: BoundSelect) -> None:
        """Replace window calls by columns that the WindowAgg node appends to the row."""
        base = (len(bs.group_by) + len(bs.aggs)) if bs.has_agg else bs.scope.width
        wins: list[WindowCall] = []

        def fn(e):
            if isinstance(e, WindowCall):
                for x in e.children():
                    if any(isinstance(y, WindowCall) for y in x.walk()):
                        raise PgError("window function calls cannot be nested", sqlstate="42P20",
                                      position=e.location)
                wins.append(e)
                return ColRef(base + len(wins) - 1, e.type, e.typmod, name=e.name)
            return None
        if not any(isinstance(x, WindowCall) for _, t in bs.targets for x in t.walk()) and \
                not any(isinstance(x, WindowCall) for si in bs.order_by for x in si.expr.walk()):
            return
        bs.targets = [(nm, replace(e, fn)) for nm, e in bs.targets]
        bs.order_by = [SortItem(replace(si.expr, fn), si.desc, si.nulls_first) for si in bs.order_by]
        bs.distinct_on = [replace(e, fn) for e in bs.distinct_on]
        bs.windows = wins

    def sort_expr(self, node, scope: Scope, targets):
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            k = node.val.ival
            if k < 1 or k > len(targets):
                raise PgError(f"ORDER BY position {k} is not in select list", sqlstate="42P10",
                              position=self.pos(node))
            return targets[k - 1][1]
        if isinstance(node, ast.ColumnRef) and len(node.fields) == 1 and isinstance(node.fields[0], ast.String):
            nm = node.fields[0].sval
            match = [e for (tn, e) in targets if tn == nm]
            if len(match) > 1:
                raise PgError(f'ORDER BY "{nm}" is ambiguous', sqlstate="42702", position=self.pos(node))
            if match:
                return match[0]
        e = self.expr(node, scope, True)
        if e.type == T.UNKNOWN:
            e = self.coerce(e, T.TEXT)
        return e

    def _functional_dependencies(self, bs: BoundSelect) -> None:
        """Grouping by a table's primary key groups all its columns (PostgreSQL allows them)."""
        grouped = {g.index for g in bs.group_by if isinstance(g, ColRef)}
        gkeys = {expr_key(g) for g in bs.group_by}
        full = []
        for en in bs.scope.entries:
            if en.table is not None and en.table.pk_name is not None:
                pk_idx = {en.offset + en.table.column_index(c) for c in en.table.pk}
                if pk_idx <= grouped:
                    full.append(en)
        if not full:
            return

        def visit(e):
            if isinstance(e, AggCall) or expr_key(e) in gkeys:
                return
            if isinstance(e, ColRef):
                for en in full:
                    if en.offset <= e.index < en.offset + len(en.names) and ("col", e.index) not in gkeys:
                        bs.group_by.append(e)
                        gkeys.add(("col", e.index))
                return
            for c in e.children():
                visit(c)
        for _, e in bs.targets:
            visit(e)
        if bs.having is not None:
            visit(bs.having)
        for si in bs.order_by:
            visit(si.expr)

    def rewrite_aggregates(self, bs: BoundSelect) -> None:
        """Express targets/having/order by over the Aggregate node's output row:
        [group values..., aggregate values...]."""
        self._functional_dependencies(bs)
        gkeys = {expr_key(g): i for i, g in enumerate(bs.group_by)}
        aggs: list[AggCall] = []
        akeys: dict = {}
        ng = len(bs.group_by)

        def fn(e: Expr):
            k = expr_key(e)
            if k in gkeys:
                return ColRef(gkeys[k], e.type, e.typmod, name=getattr(e, "name", "?column?"))
            if isinstance(e, AggCall):
                for a in e.args:
                    if contains_agg(a):
                        raise PgError("aggregate function calls cannot be nested", sqlstate="42803",
                                      position=e.location)
                if k not in akeys:
                    akeys[k] = len(aggs)
                    aggs.append(e)
                return ColRef(ng + akeys[k], e.type, e.typmod, name=e.name)
            if isinstance(e, ColRef):
                ent = None
                for en in bs.scope.entries:
                    if en.offset <= e.index < en.offset + len(en.names):
                        ent = en
                qual = f"{ent.alias}." if ent else ""
                raise PgError(f'column "{qual}{e.name}" must appear in the GROUP BY clause or be used in an '
                              f'aggregate function', sqlstate="42803", position=e.location)
            return None
        bs.targets = [(nm, replace(e, fn)) for nm, e in bs.targets]
        if bs.having is not None:
            bs.having = replace(bs.having, fn)
        bs.order_by = [SortItem(replace(s.expr, fn), s.desc, s.nulls_first) for s in bs.order_by]
        bs.distinct_on = [replace(e, fn) for e in bs.distinct_on]
        bs.aggs = aggs

    # ---- INSERT / UPDATE / DELETE
    def bind_returning(self, rl, scope: Scope) -> list[tuple[str, Expr]]:
        out = []
        for rt in rl or ():
            v = rt.val
            if isinstance(v, ast.ColumnRef) and isinstance(v.fields[-1], ast.A_Star):
                for e in scope.entries:
                    for i, nm in enumerate(e.names):
                        if not e.hidden[i]:
                            oid, tm = e.types[i]
                            out.append((nm, ColRef(e.offset + i, oid, tm, name=nm)))
                continue
            ex = self.expr(v, scope, False)
            if ex.type == T.UNKNOWN:
                ex = self.coerce(ex, T.TEXT)
            out.append((rt.name or self.colname(v), ex))
        return out

    def _returning_list(self, n):
        rc = getattr(n, "returningClause", None)
        if rc is not None:
            return rc.exprs
        return getattr(n, "returningList", None)

    def _dml_with(self, n, bind):
        """Bind a data-modifying statement inside its WITH clause's CTEs."""
        if n.withClause is None:
            return bind(n)
        if n.withClause.recursive:
            raise errors.FeatureNotSupported("WITH RECURSIVE is not supported yet")
        frame = {}
        self.ctes.append(frame)
        try:
            for cte in n.withClause.ctes:
                if not isinstance(cte.ctequery, ast.SelectStmt):
                    raise errors.FeatureNotSupported("data-modifying statements in WITH are not supported")
                if cte.ctename in frame:
                    raise PgError(f'WITH query name "{cte.ctename}" specified more than once', sqlstate="42712")
                frame[cte.ctename] = (cte.ctequery, [c.sval for c in cte.aliascolnames or ()])
            d = {slot: getattr(n, slot, None) for slot in n.__slots__}
            d["withClause"] = None
            return bind(type(n)(**{k: v for k, v in d.items() if v is not None}))
        finally:
            self.ctes.pop()

    def bind_insert(self, n: ast.InsertStmt) -> BoundInsert:
        if n.withClause is not None:
            return self._dml_with(n, self.bind_insert)
        t = self.lookup_table(n.relation, "INSERT")
        alias = n.relation.alias.aliasname if n.relation.alias is not None else t.name
        entry = self.table_entry(t, alias)
        scope = Scope([entry])
        if n.cols:
            positions = []
            for rt in n.cols:
                c = t.column(rt.name)
                if c is None:
                    raise errors.UndefinedColumn(f'column "{rt.name}" of relation "{t.name}" does not exist',
                                                 position=self.pos(rt))
                if rt.indirection:
                    raise errors.FeatureNotSupported("assignment to subfields is not supported",
                                                     position=self.pos(rt))
                p = t.column_index(c.id)
                if p in positions:
                    raise PgError(f'column "{c.name}" specified more than once', sqlstate="42701",
                                  position=self.pos(rt))
                positions.append(p)
        else:
            positions = [i for i, c in enumerate(t.columns) if not c.hidden]
        on_conflict = None
        arbiter = None
        conflict_sets: list = []
        conflict_where = None
        occ = n.onConflictClause
        if occ is not None:
            act = occ.action.name
            on_conflict = "nothing" if act == "ONCONFLICT_NOTHING" else "update"
            inf = occ.infer
            if inf is None and on_conflict == "update":
                raise PgError("ON CONFLICT DO UPDATE requires inference specification or constraint name",
                              sqlstate="42601", position=self.pos(occ),
                              hint="For example, ON CONFLICT (column_name).")
            if inf is not None:
                if inf.conname:
                    if t.pk_name == inf.conname:
                        arbiter = None
                    else:
                        ix = [i for i in t.indexes if i.unique and i.name == inf.conname]
                        if not ix:
                            raise errors.UndefinedObject(
                                f'constraint "{inf.conname}" for table "{t.name}" does not exist')
                        arbiter = ix[0].id
                else:
                    cols = set()
                    for el in inf.indexElems or ():
                        c = t.column(el.name) if el.name else None
                        if c is None:
                            raise errors.UndefinedColumn(f'column "{el.name}" does not exist', position=self.pos(el))
                        cols.add(c.id)
                    if t.pk_name is not None and cols == set(t.pk):
                        arbiter = None
                    else:
                        ix = [i for i in t.indexes if i.unique and set(i.columns) == cols]
                        if not ix:
                            raise PgError("there is no unique or exclusion constraint matching the ON CONFLICT "
                                          "specification", sqlstate="42P10")
                        arbiter = ix[0].id
                if inf.whereClause is not None:
                    raise errors.FeatureNotSupported("ON CONFLICT ... WHERE is not supported")
            if on_conflict == "update":
                excluded = self.table_entry(t, "excluded", len(t.columns))
                cscope = Scope([entry, excluded])
                seen = set()
                for rt in occ.targetList:
                    c = t.column(rt.name)
                    if c is None:
                        raise errors.UndefinedColumn(f'column "{rt.name}" of relation "{t.name}" does not exist',
                                                     position=self.pos(rt))
                    p = t.column_index(c.id)
                    if p in seen:
                        raise PgError(f'multiple assignments to same column "{c.name}"', sqlstate="42601")
                    seen.add(p)
                    if isinstance(rt.val, ast.SetToDefault):
                        e = self.default_expr(t, p)
                    else:
                        target_error = constraints.update_target_error(c)
                        if target_error is not None:
                            target_error.position = self.pos(rt)
                            raise target_error
                        e = self.assign(self.expr(rt.val, cscope, False), c)
                    conflict_sets.append((p, e))
                if occ.whereClause is not None:
                    conflict_where = self.to_bool(self.expr(occ.whereClause, cscope, False), "WHERE")
        sel = n.selectStmt
        rows = None
        bsel = None
        override = {"OVERRIDING_SYSTEM_VALUE": "system", "OVERRIDING_USER_VALUE": "user"}.get(
            getattr(n.override, "name", ""), None)
        if sel is None:
            rows = [[self.default_expr(t, i) for i in range(len(t.columns))]]
        elif sel.valuesLists:
            rows = []
            for vl in sel.valuesLists:
                if len(vl) > len(positions):
                    raise PgError("INSERT has more expressions than target columns", sqlstate="42601",
                                  position=self.pos(vl[len(positions)]))
                if len(vl) < len(positions) and n.cols:
                    raise PgError("INSERT has more target columns than expressions", sqlstate="42601",
                                  position=self.pos(n.cols[len(vl)]))
                full: list[Expr | None] = [None] * len(t.columns)
                for p, x in zip(positions[:len(vl)], vl):
                    if isinstance(x, ast.SetToDefault) or (override == "user" and t.columns[p].identity):
                        full[p] = self.default_expr(t, p)
                    else:
                        target_error = constraints.insert_target_error(t.columns[p], override == "system")
                        if target_error is not None:
                            target_error.position = self.pos(x)
                            raise target_error
                        full[p] = self.assign(self.expr(x, Scope(), False), t.columns[p])
                for i in range(len(full)):
                    if full[i] is None:
                        full[i] = self.default_expr(t, i)
                rows.append(full)
        else:
            bsel = self.bind_select(sel)
            if len(bsel.targets) > len(positions):
                raise PgError("INSERT has more expressions than target columns", sqlstate="42601")
            for p in positions[:len(bsel.targets)]:
                target_error = constraints.insert_target_error(t.columns[p], override == "system")
                if target_error is not None:
                    raise target_error
            bsel.targets = [(nm, self.assign(e, t.columns[p])) for (nm, e), p in zip(bsel.targets, positions)]
            rows = None
            positions = positions[:len(bsel.targets)]
        returning = self.bind_returning(self._returning_list(n), scope)
        defaults = [self.default_expr(t, i, used=i not in positions) for i in range(len(t.columns))] \
            if bsel is not None else []
        return BoundInsert(t, entry, positions, rows, bsel, returning, on_conflict, defaults, arbiter,
                           conflict_sets, conflict_where)

    def default_expr(self, t, pos: int, used: bool = True) -> Expr:
        """A column's default; `used` when the statement evaluates it (its functions need EXECUTE)."""
        c = t.columns[pos]
        if c.hidden:
            return Func("gen_random_uuid", F._gen_random_uuid, [], T.UUID, volatile=True)
        if c.identity:
            return self.assign(objects.nextval_expr(self, c.sequence), c)
        if c.default is None or c.generated:
            return Const(None, c.type_oid, c.typmod)
        node = pglast.parse_sql(f"SELECT {c.default}")[0].stmt.targetList[0].val
        sub = Binder(self.catalog, Statement(node=node, text=c.default, kind="Expr", query=""), session=self.session)
        e = sub.expr(node, Scope(), False)
        if used:
            self.objects_used.update(sub.objects_used)
        return sub.assign(e, c)

    def bind_update(self, n: ast.UpdateStmt) -> BoundUpdate:
        if n.withClause is not None:
            return self._dml_with(n, self.bind_update)
        t = self.lookup_table(n.relation, "UPDATE")
        alias = n.relation.alias.aliasname if n.relation.alias is not None else t.name
        entry = self.table_entry(t, alias)
        scope = Scope([entry])
        from_ = self.bind_from(n.fromClause, scope) if n.fromClause else None
        sets = []
        seen = set()
        targets = []
        for rt in n.targetList:
            if isinstance(rt.val, ast.MultiAssignRef):
                src = rt.val.source
                if isinstance(src, ast.RowExpr) and len(src.args) == rt.val.ncolumns:
                    targets.append((rt, src.args[rt.val.colno - 1]))
                    continue
                raise errors.FeatureNotSupported("multiple-column UPDATE from a subquery is not supported yet",
                                                 position=self.pos(rt))
            targets.append((rt, rt.val))
        for rt, val in targets:
            c = t.column(rt.name)
            if c is None:
                raise errors.UndefinedColumn(f'column "{rt.name}" of relation "{t.name}" does not exist',
                                             position=self.pos(rt))
            p = t.column_index(c.id)
            if p in seen:
                raise PgError(f'multiple assignments to same column "{c.name}"', sqlstate="42601",
                              position=self.pos(rt))
            seen.add(p)
            if isinstance(val, ast.SetToDefault):
                e = self.default_expr(t, p)
            else:
                target_error = constraints.update_target_error(c)
                if target_error is not None:
                    target_error.position = self.pos(rt)
                    raise target_error
                e = self.assign(self.expr(val, scope, False), c)
            sets.append((p, e))
        where = self.to_bool(self.expr(n.whereClause, scope, False), "WHERE") if n.whereClause is not None else None
        returning = self.bind_returning(self._returning_list(n), scope)
        return BoundUpdate(t, entry, sets, where, returning, from_)

    def bind_delete(self, n: ast.DeleteStmt) -> BoundDelete:
        if n.withClause is not None:
            return self._dml_with(n, self.bind_delete)
        t = self.lookup_table(n.relation, "DELETE")
        alias = n.relation.alias.aliasname if n.relation.alias is not None else t.name
        entry = self.table_entry(t, alias)
        scope = Scope([entry])
        from_ = self.bind_from(n.usingClause, scope) if n.usingClause else None
        where = self.to_bool(self.expr(n.whereClause, scope, False), "WHERE") if n.whereClause is not None else None
        returning = self.bind_returning(self._returning_list(n), scope)
        return BoundDelete(t, entry, where, returning, from_)


class _NoEnvT:
    params: list = []
    now = None


_NoEnv = _NoEnvT()


@dataclasses.dataclass(eq=False)
class _NullIf(Expr):
    arg: Expr
    eq: Expr
    type: int
    typmod: int = -1

    def children(self):
        return [self.arg, self.eq]

    def compile(self, env):
        a = self.arg.compile(env)
        eq = self.eq.compile(env)
        return lambda row: None if eq(row) else a(row)


@dataclasses.dataclass(eq=False)
class _Distinct(Expr):
    eq: Func
    not_distinct: bool
    type: int = 16
    typmod: int = -1

    def children(self):
        return [self.eq]

    def compile(self, env):
        if isinstance(self.eq, Const):
            v = self.eq.value
            return lambda row: (v is True) if self.not_distinct else (v is not True)
        a = self.eq.args[0].compile(env)
        b = self.eq.args[1].compile(env)
        fn = self.eq.fn
        nd = self.not_distinct

        def f(row):
            x, y = a(row), b(row)
            if x is None or y is None:
                same = x is None and y is None
            else:
                same = bool(fn(x, y))
            return same if nd else not same
        return f


def _local_ts(env):
    return env.now.replace(tzinfo=None)


_local_ts.wants_env = True


def _local_time(env):
    return env.now.time().replace(tzinfo=None)


_local_time.wants_env = True


def _without_with(n: ast.SelectStmt) -> ast.SelectStmt:
    d = {slot: getattr(n, slot, None) for slot in n.__slots__}
    d["withClause"] = None
    return ast.SelectStmt(**{k: v for k, v in d.items() if v is not None})


@dataclasses.dataclass(eq=False)
class SubqueryExpr(Expr):
    """An uncorrelated subquery, run once per statement execution (env.ctx, env.generation)."""
    plan: Any
    kind: str                       # scalar / exists / in
    type: int
    typmod: int = -1
    arg: Expr | None = None         # IN: the tested expression
    key: Any = None
    conv: Any = None
    correlated: bool = False

    def children(self):
        return [self.arg] if self.arg is not None else []

    def compile(self, env):
        from .execute import run
        cache = {}
        plan, kind = self.plan, self.kind
        correlated = self.correlated

        def result(row=None):
            gen = env.generation
            if correlated or cache.get("gen") != gen:
                if correlated:
                    env.outer_stack.append(row)
                    try:
                        rows = list(run(plan, env.ctx))
                    finally:
                        env.outer_stack.pop()
                else:
                    rows = run(plan, env.ctx)
                if kind == "exists":
                    v = next(iter(rows), None) is not None
                elif kind == "scalar":
                    got = list(itertools.islice(rows, 2))
                    if len(got) > 1:
                        raise PgError("more than one row returned by a subquery used as an expression",
                                      sqlstate="21000")
                    v = got[0][0] if got else None
                elif kind == "array":
                    v = [r[0] for r in rows]
                elif kind in ("any", "all"):
                    v = [None if r[0] is None else self.conv(r[0]) for r in rows]
                else:
                    keyf = self.key or (lambda x: x)
                    conv = self.conv
                    vals = [r[0] for r in rows]
                    v = ({keyf(conv(x)) for x in vals if x is not None}, any(x is None for x in vals), bool(vals))
                cache["gen"], cache["v"] = gen, v
            return cache["v"]
        if kind in ("any", "all"):
            a = self.arg.compile(env)
            cmp = self.key
            want = kind == "any"

            def f_anyall(row):
                x = a(row)
                vals = result(row)
                saw_null = False
                for v in vals:
                    r = None if (x is None or v is None) else cmp(x, v)
                    if r is None:
                        saw_null = True
                    elif r == want:
                        return want
                return None if saw_null else not want
            return f_anyall
        if kind != "in":
            return lambda row: result(row)
        a = self.arg.compile(env)
        keyf = self.key or (lambda x: x)

        def f_in(row):
            x = a(row)
            keys, has_null, nonempty = result(row)
            if not nonempty:
                return False
            if x is None:
                return None
            if keyf(x) in keys:
                return True
            return None if has_null else False
        return f_in


@dataclasses.dataclass(eq=False)
class OuterRef(Expr):
    """A column of an enclosing query's current row (correlated subquery)."""
    depth: int                      # 1 = the immediately enclosing query
    index: int
    type: int
    typmod: int = -1
    name: str = "?column?"
    location: int | None = None

    def compile(self, env):
        d, i = self.depth, self.index
        return lambda row: env.outer_stack[-d][i]


def _entries_of(fr) -> list[RangeEntry]:
    if isinstance(fr, (FromTable, FromSubquery, FromVirtual)):
        return [fr.entry]
    return _entries_of(fr.left) + _entries_of(fr.right)


def and_(conds: list[Expr]) -> Expr:
    return conds[0] if len(conds) == 1 else BoolOp("AND", conds)
