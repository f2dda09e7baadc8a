"""Catalog objects other than tables: sequences, domains and SQL functions.

Each is a JSON document in etcd (`Catalog.create_object`), kind "sequence", "domain" or "function",
with "schema", "key" (the name; a function's key adds its argument type oids: `f(23,23)`), "name",
"owner" and "id". The binder records every object a statement uses in `Binder.objects_used` as
(kind, schema, key), so privilege checks can tell them from the tables in `Binder.tables_used`.

Sequences (DSQL: `CACHE 1` or `CACHE >= 65536`, type bigint). A sequence's next value lives outside
the watched catalog prefix, at `/dsql/sequences/<db>/<id>`, so handing out numbers never invalidates
catalog caches. A compute takes a block of `cache` values with one etcd compare-and-swap on that
key and serves nextval() from it, shared by its sessions; values are therefore unique across
computes, increasing within a block, and a block's unused values are lost when the process ends
(the gaps the guide describes). nextval is not transactional, as in PostgreSQL.

SQL functions are inlined: a call binds the body (`SELECT expr`, `RETURN expr`, or a one-row query
used as a scalar subquery) with each parameter reference replaced by the call's argument, cast to
the parameter's type, and the result cast to the declared return type.

Domains: a column declared with a domain stores the base type; its NOT NULL and CHECK constraints
are copied into the table's checks (sql/constraints.py) at CREATE TABLE / ADD COLUMN.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading

import pglast
from pglast import ast
from pglast.stream import RawStream

from services.common import errors
from services.common.errors import PgError

from . import functions as F
from . import types as T
from .expr import Expr

INT8_MIN, INT8_MAX = -(1 << 63), (1 << 63) - 1
SEQUENCE_CACHE_MIN = 65536            # DSQL: CACHE 1 or CACHE >= 65536
SEQUENCE_VALUES_PREFIX = "/dsql/sequences/"
INT_RANGES = {T.INT2: (-(1 << 15), (1 << 15) - 1), T.INT4: (-(1 << 31), (1 << 31) - 1), T.INT8: (INT8_MIN, INT8_MAX)}


def parse_qualified(text: str) -> list[str]:
    """'a.b', '"A".b' -> name parts as PostgreSQL's stringToQualifiedNameList makes them."""
    parts, cur, i, quoted = [], "", 0, False
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if quoted and text[i + 1:i + 2] == '"':
                cur += '"'
                i += 1
            else:
                quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch if quoted else ch.lower()
        i += 1
    parts.append(cur)
    if quoted or any(p == "" for p in parts):
        raise PgError("invalid name syntax", sqlstate="42602")
    return parts


def _record(binder, doc: dict, kind: str) -> None:
    binder.objects_used[(kind, doc["schema"], doc["key"])] = doc.get("revision", 0)


def find_object(catalog, session, kind: str, parts: list[str], key: str | None = None) -> dict | None:
    from .bind import search_path
    name = parts[-1]
    schemas = [parts[-2]] if len(parts) > 1 else search_path(session)
    for sch in schemas:
        d = catalog.get_object(kind, sch, key or name)
        if d is not None:
            return d
    return None


# ------------------------------------------------------------------ sequences

def sequence_options(opts, *, identity: bool, position=None) -> dict:
    """Validated sequence parameters from CREATE SEQUENCE / identity options (PostgreSQL's rules
    plus DSQL's: CACHE required, 1 or >= 65536; bigint only for a standalone sequence)."""
    seen = {}
    for o in opts or ():
        if o.defname in seen:
            raise PgError("conflicting or redundant options", sqlstate="42601", position=position)
        seen[o.defname] = o.arg
    unknown = set(seen) - {"cache", "as", "increment", "minvalue", "maxvalue", "cycle", "start", "owned_by",
                           "sequence_name"}
    if unknown:
        raise errors.FeatureNotSupported(f"sequence option {sorted(unknown)[0].upper()} is not supported")

    def num(v):
        return int(v.ival) if isinstance(v, ast.Integer) else int(getattr(v, "fval", v))
    type_oid = T.INT8
    if "as" in seen and seen["as"] is not None:
        from .bind import type_from_typename
        type_oid, _ = type_from_typename(seen["as"])
        if type_oid not in INT_RANGES:
            raise PgError("sequence type must be smallint, integer, or bigint", sqlstate="42611", position=position)
        if type_oid != T.INT8 and not identity:
            raise errors.FeatureNotSupported("sequences of a type other than bigint are not supported",
                                             position=position)
    if "cache" not in seen:
        raise errors.FeatureNotSupported(
            "CACHE must be specified", position=position,
            hint=f"Use CACHE 1 for strictly sequential values or CACHE {SEQUENCE_CACHE_MIN} (or more) for "
                 "highly concurrent workloads.")
    cache = num(seen["cache"])
    if cache <= 0:
        raise PgError(f"CACHE ({cache}) must be greater than zero", sqlstate="22023", position=position)
    if cache != 1 and cache < SEQUENCE_CACHE_MIN:
        raise errors.FeatureNotSupported(f"CACHE ({cache}) must be 1 or at least {SEQUENCE_CACHE_MIN}",
                                         position=position)
    inc = num(seen["increment"]) if seen.get("increment") is not None else 1
    if inc == 0:
        raise PgError("INCREMENT must not be zero", sqlstate="22023", position=position)
    lo, hi = INT_RANGES[type_oid]
    minv = num(seen["minvalue"]) if seen.get("minvalue") is not None else (1 if inc > 0 else lo)
    maxv = num(seen["maxvalue"]) if seen.get("maxvalue") is not None else (hi if inc > 0 else -1)
    tname = {T.INT2: "smallint", T.INT4: "integer", T.INT8: "bigint"}[type_oid]
    for what, v in (("MINVALUE", minv), ("MAXVALUE", maxv)):
        if v < lo or v > hi:
            raise PgError(f'{what} ({v}) is out of range for sequence data type {tname}', sqlstate="22023",
                          position=position)
    if minv >= maxv:
        raise PgError(f"MINVALUE ({minv}) must be less than MAXVALUE ({maxv})", sqlstate="22023", position=position)
    start = num(seen["start"]) if seen.get("start") is not None else (minv if inc > 0 else maxv)
    if start < minv:
        raise PgError(f"START value ({start}) cannot be less than MINVALUE ({minv})", sqlstate="22023",
                      position=position)
    if start > maxv:
        raise PgError(f"START value ({start}) cannot be greater than MAXVALUE ({maxv})", sqlstate="22023",
                      position=position)
    cycle = bool(seen["cycle"].boolval if isinstance(seen.get("cycle"), ast.Boolean) else
                 getattr(seen.get("cycle"), "ival", 0)) if "cycle" in seen else False
    return {"type": type_oid, "cache": cache, "increment": inc, "min": minv, "max": maxv, "start": start,
            "cycle": cycle}


class SequenceAllocator:
    """Blocks of sequence values per compute process, taken from etcd by compare-and-swap."""

    def __init__(self, catalog):
        self.catalog = catalog
        self._blocks: dict[int, list[int]] = {}     # sequence id -> [next, remaining]
        self._lock = threading.Lock()

    def _key(self, seq) -> str:
        return f"{SEQUENCE_VALUES_PREFIX}{self.catalog.database}/{seq['id']}"

    def nextval(self, seq: dict) -> int:
        with self._lock:
            b = self._blocks.get(seq["id"])
            if b is None or b[1] == 0 or b[2] != seq.get("generation", 0):
                b = self._blocks[seq["id"]] = self._take(seq)
            v = b[0]
            b[0] += seq["increment"]
            b[1] -= 1
            return v

    def _take(self, seq: dict) -> list:
        store, key, inc = self.catalog.store, self._key(seq), seq["increment"]
        for _ in range(1000):
            cur = store.get(key)
            state = json.loads(cur[0]) if cur else {"next": seq["start"], "generation": seq.get("generation", 0)}
            nxt = state["next"]
            if state.get("generation", 0) != seq.get("generation", 0):
                nxt = seq["start"]
            if nxt > seq["max"] or nxt < seq["min"]:
                if not seq["cycle"]:
                    which, bound = ("maximum", seq["max"]) if inc > 0 else ("minimum", seq["min"])
                    raise PgError(f'nextval: reached {which} value of sequence "{seq["name"]}" ({bound})',
                                  sqlstate="2200H")
                nxt = seq["min"] if inc > 0 else seq["max"]
            room = (seq["max"] - nxt) // inc + 1 if inc > 0 else (nxt - seq["min"]) // -inc + 1
            n = min(seq["cache"], room)
            new = {"next": nxt + n * inc, "generation": seq.get("generation", 0)}
            if store.txn({key: cur[1] if cur else 0}, {key: json.dumps(new).encode()}):
                return [nxt, n, seq.get("generation", 0)]
        raise errors.schema_conflict()

    def setval(self, seq: dict, value: int, is_called: bool) -> None:
        if value < seq["min"] or value > seq["max"]:
            raise PgError(f'setval: value {value} is out of bounds for sequence "{seq["name"]}" '
                          f'({seq["min"]}..{seq["max"]})', sqlstate="22003")
        store, key = self.catalog.store, self._key(seq)
        nxt = value + seq["increment"] if is_called else value
        for _ in range(1000):
            cur = store.get(key)
            if store.txn({key: cur[1] if cur else 0},
                         {key: json.dumps({"next": nxt, "generation": seq.get("generation", 0)}).encode()}):
                with self._lock:
                    self._blocks.pop(seq["id"], None)
                return
        raise errors.schema_conflict()

    def forget(self, seq_id: int) -> None:
        with self._lock:
            self._blocks.pop(seq_id, None)


_alloc_lock = threading.Lock()


def allocator(catalog) -> SequenceAllocator:
    a = getattr(catalog, "_sequence_allocator", None)
    if a is None:
        with _alloc_lock:
            a = getattr(catalog, "_sequence_allocator", None)
            if a is None:
                a = catalog._sequence_allocator = SequenceAllocator(catalog)
    return a


def _session_values(session) -> dict:
    d = getattr(session, "sequence_values", None)
    if d is None:
        d = session.sequence_values = {}
    return d


def lookup_sequence(catalog, session, text: str) -> dict:
    parts = parse_qualified(text)
    seq = find_object(catalog, session, "sequence", parts)
    if seq is None:
        raise errors.UndefinedTable(f'relation "{".".join(parts)}" does not exist')
    return seq


# what a sequence function needs (any one of), checked at each call as PostgreSQL does
_SEQUENCE_PRIVILEGES = {"nextval": ("USAGE", "UPDATE"), "currval": ("SELECT", "USAGE"), "setval": ("UPDATE",),
                        "lastval": ("SELECT", "USAGE")}


def _check_sequence(session, fn: str, seq: dict) -> None:
    from .privileges import check_object
    check_object(session, "sequence", seq, _SEQUENCE_PRIVILEGES[fn])


def _sequence_func(binder, name: str, args: list, loc, checked: bool = True):
    """nextval/currval/setval(regclass, ...): the sequence name is resolved at bind time when it is
    a constant (and recorded), at run time otherwise. An identity column's nextval is not `checked`
    (PostgreSQL: inserting into the table is enough)."""
    from .bind import Scope
    from .expr import Func
    catalog, session = binder.catalog, binder.session
    first = args[0]
    const_name = None
    if isinstance(first, ast.TypeCast) and isinstance(first.arg, ast.A_Const) and \
            [s.sval for s in first.typeName.names][-1] in ("regclass", "text", "varchar"):
        first = first.arg
    if isinstance(first, ast.A_Const) and isinstance(first.val, ast.String):
        const_name = first.val.sval
    fixed = None
    if const_name is not None:
        fixed = lookup_sequence(catalog, session, const_name)
        _record(binder, fixed, "sequence")
        bound_first = []
    else:
        bound_first = [binder.coerce(binder.expr(first, Scope(), False), T.TEXT)]
    rest = [binder.coerce(binder.expr(a, Scope(), False), T.INT8 if i == 0 else T.BOOL)
            for i, a in enumerate(args[1:])]

    def seq_of(env, text):
        if fixed is not None:
            seq = catalog.get_object("sequence", fixed["schema"], fixed["key"])
            if seq is None or seq["id"] != fixed["id"]:
                raise errors.UndefinedTable(f'relation "{fixed["name"]}" does not exist')
        else:
            seq = lookup_sequence(catalog, session, text)
        if checked:
            _check_sequence(env.session or session, name, seq)
        return seq
    if name == "nextval":
        def fn(env, *vals):
            seq = seq_of(env, vals[0] if vals else None)
            v = allocator(catalog).nextval(seq)
            values = _session_values(env.session or session)
            values[(seq["schema"], seq["key"])] = v
            values[None] = v
            values["last"] = seq
            return v
    elif name == "currval":
        def fn(env, *vals):
            seq = seq_of(env, vals[0] if vals else None)
            v = _session_values(env.session or session).get((seq["schema"], seq["key"]))
            if v is None:
                raise PgError(f'currval of sequence "{seq["name"]}" is not yet defined in this session',
                              sqlstate="55000")
            return v
    else:
        def fn(env, *vals):
            if any(v is None for v in vals):
                return None
            seq = seq_of(env, vals[0] if bound_first else None)
            value = vals[len(bound_first)]
            called = vals[len(bound_first) + 1] if len(vals) > len(bound_first) + 1 else True
            allocator(catalog).setval(seq, value, called)
            if called:
                _session_values(env.session or session)[(seq["schema"], seq["key"])] = value
            return value
    fn.wants_env = True
    return Func(name, fn, bound_first + rest, T.INT8, strict=False, volatile=True, location=loc)


def nextval_expr(binder, qualified_name: str):
    """nextval of an identity column's sequence ("schema.name")."""
    schema, _, name = qualified_name.partition(".")
    return _sequence_func(binder, "nextval", [ast.A_Const(val=ast.String(sval=f'"{schema}"."{name}"'))], None,
                          checked=False)


def _lastval(binder, loc):
    from .expr import Func
    session = binder.session

    def fn(env):
        values = _session_values(env.session or session)
        v = values.get(None)
        if v is None:
            raise PgError("lastval is not yet defined in this session", sqlstate="55000")
        _check_sequence(env.session or session, "lastval", values["last"])
        return v
    fn.wants_env = True
    return Func("lastval", fn, [], T.INT8, strict=False, volatile=True, location=loc)


# ------------------------------------------------------------------ SQL functions

def function_key(name: str, arg_oids: list[int]) -> str:
    return f"{name}({','.join(map(str, arg_oids))})"


def _substitute(node, params: dict):
    """Replace parameter references (by name or $n) in a parsed body with the given AST nodes."""
    if isinstance(node, ast.ColumnRef) and len(node.fields) == 1 and isinstance(node.fields[0], ast.String):
        return params.get(node.fields[0].sval, node)
    if isinstance(node, ast.ParamRef):
        return params.get(f"${node.number}", node)
    if isinstance(node, tuple):
        return tuple(_substitute(x, params) for x in node)
    if isinstance(node, list):
        return [_substitute(x, params) for x in node]
    if isinstance(node, ast.Node):
        for slot in node.__slots__:
            v = getattr(node, slot, None)
            if isinstance(v, (ast.Node, list, tuple)):
                setattr(node, slot, _substitute(v, params))
    return node


def _typename(oid: int, typmod: int = -1) -> ast.TypeName:
    from .functions import type_name
    return pglast.parse_sql(f"SELECT NULL::{type_name(oid, typmod)}")[0].stmt.targetList[0].val.typeName


def _contains(node, classes) -> bool:
    if isinstance(node, classes):
        return True
    if isinstance(node, (list, tuple)):
        return any(_contains(x, classes) for x in node)
    if isinstance(node, ast.Node):
        return any(_contains(getattr(node, slot, None), classes) for slot in node.__slots__)
    return False


def _parse_body(fn: dict):
    return pglast.parse_sql(f"SELECT {fn['body']}" if fn["body_kind"] == "return" else fn["body"])[0].stmt


def is_inlinable(fn: dict) -> bool:
    """A body that is one expression over the parameters (no FROM, no subquery)."""
    body = _parse_body(fn)
    return (isinstance(body, ast.SelectStmt) and not body.fromClause and not body.whereClause and
            not body.groupClause and not body.valuesLists and body.op.name == "SETOP_NONE" and
            len(body.targetList or ()) == 1 and not body.limitCount and not body.sortClause and
            not _contains(body.targetList, ast.SubLink))


def inline_body(fn: dict, arg_nodes: list):
    """The AST that replaces a call of an inlinable `fn`: its expression with the arguments substituted
    (cast to the parameter types), cast to the return type."""
    body = _parse_body(fn)
    params = {}
    for i, (pname, (oid, typmod), arg) in enumerate(zip(fn["arg_names"], fn["arg_types"], arg_nodes)):
        cast = ast.TypeCast(arg=copy.deepcopy(arg), typeName=_typename(oid, typmod))
        params[f"${i + 1}"] = cast
        if pname:
            params[pname] = cast
    body = _substitute(body, params)
    return ast.TypeCast(arg=body.targetList[0].val, typeName=_typename(*fn["return_type"]))


@dataclasses.dataclass(eq=False)
class _QueryCall(Expr):
    """A call of a SQL function whose body is a query: the body runs as a correlated scalar subquery
    whose enclosing row is the call's argument values (parameters are outer references, so a column
    of the body's tables wins over a parameter of the same name, as in PostgreSQL)."""
    args: list
    sub: object
    type: int
    typmod: int = -1
    location: int | None = None

    def children(self):
        return list(self.args)

    def compile(self, env):
        fs = [a.compile(env) for a in self.args]
        run_sub = self.sub.compile(env)
        return lambda row: run_sub([f(row) for f in fs])


def bind_query_body(binder, fn: dict, args: list, loc):
    from .bind import Binder, RangeEntry, Scope, SubqueryExpr
    from .parse import Statement
    from .plan import Planner
    names = [p or f"${i + 1}" for i, p in enumerate(fn["arg_names"])]
    body = _substitute(_parse_body(fn), {f"${i + 1}": ast.ColumnRef(fields=(ast.String(sval=fn["name"]),
                                                                             ast.String(sval=nm)))
                                         for i, nm in enumerate(names)})
    sub = Binder(binder.catalog, Statement(node=body, text=fn["body"], kind="SelectStmt", query=""),
                 session=binder.session)
    sub.outer.append(Scope([RangeEntry(alias=fn["name"], table=None, names=names,
                                       types=[tuple(t) for t in fn["arg_types"]], hidden=[False] * len(names))]))
    inner = sub.bind_select(body)
    if len(inner.targets) != 1:
        raise PgError(f"return type mismatch in function declared to return {T.lookup(fn['return_type'][0]).name}",
                      sqlstate="42P13", detail="Final statement must return exactly one column.")
    binder.tables_used.update(sub.tables_used)
    binder.objects_used.update(sub.objects_used)
    for rel, privs in sub.privileges_used.items():        # SQL functions run with the caller's privileges
        binder.privileges_used.setdefault(rel, set()).update(privs)
    t = inner.targets[0][1]
    query = SubqueryExpr(Planner().plan_query(inner), "scalar", t.type, t.typmod, correlated=True)
    call = _QueryCall([binder.coerce(a, oid, typmod) for a, (oid, typmod) in zip(args, fn["arg_types"])],
                      query, t.type, t.typmod, loc)
    return binder.coerce(call, fn["return_type"][0], fn["return_type"][1], F.ASSIGNMENT)


def bind_call(binder, n: ast.FuncCall, names: list[str], scope, allow_agg):
    """A call of a sequence function or of a user's SQL function, bound; None for anything else."""
    name = names[-1].lower() if len(names) == 1 else names[-1]
    qualified = len(names) > 1 and names[0] != "pg_catalog"
    if not qualified and name in ("nextval", "currval", "setval") and n.args and not n.over:
        want = {"nextval": 1, "currval": 1, "setval": (2, 3)}[name]
        if len(n.args) in (want if isinstance(want, tuple) else (want,)):
            return _sequence_func(binder, name, list(n.args), binder.pos(n))
    if not qualified and name == "lastval" and not n.args:
        return _lastval(binder, binder.pos(n))
    catalog = binder.catalog
    if catalog is None or not hasattr(catalog, "objects") or (len(names) > 1 and names[0] == "pg_catalog"):
        return None
    if not qualified and (name in F.FUNCTIONS or name in F.AGGREGATES or name in F.WINDOW_FUNCTIONS):
        return None
    fns = catalog.objects("function")
    if not fns:
        return None
    from .bind import search_path
    schemas = [names[-2]] if qualified else search_path(binder.session)
    nargs = len(n.args or ())
    cands = [f for f in fns if f["name"] == name and f["schema"] in schemas and len(f["arg_types"]) == nargs]
    if not cands:
        return None
    if n.agg_star or n.agg_distinct or n.over is not None or n.agg_order or n.agg_filter is not None:
        raise PgError(f"{name}(...) is not an aggregate function", sqlstate="42809", position=binder.pos(n))
    args = [binder.expr(a, scope, allow_agg) for a in n.args or ()]
    types = [a.type for a in args]
    exact = [f for f in cands if [t for t, _ in f["arg_types"]] == types]
    cands = exact or [f for f in cands if all(a == t or a == T.UNKNOWN or F.can_implicit(a, t)
                                              for a, (t, _) in zip(types, f["arg_types"]))]
    if not cands:
        return None          # reported like PostgreSQL: function f(bigint) does not exist
    fn = cands[0]
    _record(binder, fn, "function")
    if is_inlinable(fn):
        return binder.expr(inline_body(fn, list(n.args or ())), scope, allow_agg)
    return bind_query_body(binder, fn, args, binder.pos(n))


# ------------------------------------------------------------------ DDL

def _owner(session) -> str:
    from .bind import current_user
    return current_user(session)


def _target(catalog, session, parts: list[str]) -> tuple[str, str]:
    from .bind import resolve_schema
    schema = resolve_schema(catalog, session, parts[-2] if len(parts) > 1 else None, parts[-1], create=True)
    return schema, parts[-1]


def create_sequence_object(catalog, schema: str, name: str, params: dict, owner: str, *,
                           owned_by: dict | None = None, identity: bool = False) -> dict | None:
    doc = {"schema": schema, "key": name, "name": name, "owner": owner, "owned_by": owned_by,
           "identity": identity, **params}
    return catalog.create_object("sequence", doc)


def create_sequence(catalog, st, session):
    from .ddl import DdlAction
    n: ast.CreateSeqStmt = st.node
    if n.sequence.relpersistence == "t":
        raise errors.FeatureNotSupported("temporary sequences not supported")
    opts = [o for o in n.options or () if o.defname != "owned_by"]
    owned = next((o for o in n.options or () if o.defname == "owned_by"), None)
    params = sequence_options(opts, identity=False)
    schema, name = _target(catalog, session, [x for x in (n.sequence.schemaname, n.sequence.relname) if x])
    owned_by = None
    if owned is not None:
        parts = [x.sval for x in owned.arg]
        if parts != ["none"]:
            if len(parts) < 2:
                raise PgError("invalid OWNED BY option", sqlstate="42601",
                              hint="Specify OWNED BY table.column or OWNED BY NONE.")
            from .bind import resolve_schema
            tschema = resolve_schema(catalog, session, parts[-3] if len(parts) > 2 else None, parts[-2])
            t = catalog.get_table(tschema, parts[-2])
            if t is None:
                raise errors.UndefinedTable(f'relation "{parts[-2]}" does not exist')
            c = t.column(parts[-1])
            if c is None:
                raise errors.UndefinedColumn(f'column "{parts[-1]}" of relation "{t.name}" does not exist')
            if t.schema != schema:
                raise PgError("sequence must be in same schema as table it is linked to", sqlstate="55000")
            owned_by = {"table": t.id, "column": c.id}

    def apply(txn):
        if catalog.get_schema(schema) is None:
            raise errors.InvalidSchemaName(f'schema "{schema}" does not exist')
        kind = catalog.relation_exists(schema, name)
        if kind is not None:
            if n.if_not_exists:
                return "CREATE SEQUENCE", [f'relation "{name}" already exists, skipping'], None
            raise errors.DuplicateTable(f'relation "{name}" already exists')
        if create_sequence_object(catalog, schema, name, params, _owner(session), owned_by=owned_by) is None:
            raise errors.DuplicateTable(f'relation "{name}" already exists')
        return "CREATE SEQUENCE", [], None
    return DdlAction("CREATE SEQUENCE", apply)


def create_domain(catalog, st, session):
    from .bind import Binder, Scope, type_from_typename
    from .ddl import DdlAction
    n: ast.CreateDomainStmt = st.node
    parts = [x.sval for x in n.domainname]
    schema, name = _target(catalog, session, parts)
    if n.collClause is not None:
        raise errors.FeatureNotSupported("COLLATE not supported")
    oid, typmod = type_from_typename(n.typeName, st)
    b = Binder(catalog, st, session=session)
    not_null, default, checks = False, None, []
    taken: set[str] = set()
    value_col = dataclasses.make_dataclass("V", [("name", str), ("type_oid", int), ("typmod", int)])(
        "value", oid, typmod)
    for c in n.constraints or ():
        ct = c.contype.name
        if ct == "CONSTR_NOTNULL":
            not_null = True
        elif ct == "CONSTR_NULL":
            not_null = False
        elif ct == "CONSTR_DEFAULT":
            b.assign(b.expr(c.raw_expr, Scope(), False), value_col)
            default = RawStream()(c.raw_expr)
        elif ct == "CONSTR_CHECK":
            text = RawStream()(c.raw_expr)
            _validate_domain_check(catalog, session, text, oid, typmod)
            from .constraints import choose_name
            cname = c.conname or choose_name(name, [], "check", taken)
            taken.add(cname)
            checks.append({"name": cname, "expr": text})
        else:
            raise errors.FeatureNotSupported(f"constraint {ct} is not supported in domains", position=b.pos(c))
    doc = {"schema": schema, "key": name, "name": name, "owner": _owner(session), "base_type": [oid, typmod],
           "not_null": not_null, "default": default, "checks": checks}

    def apply(txn):
        if catalog.get_object("domain", schema, name) is not None:
            raise PgError(f'type "{name}" already exists', sqlstate="42710")
        if catalog.create_object("domain", doc) is None:
            raise PgError(f'type "{name}" already exists', sqlstate="42710")
        return "CREATE DOMAIN", [], None
    return DdlAction("CREATE DOMAIN", apply)


def _validate_domain_check(catalog, session, text: str, oid: int, typmod: int) -> None:
    """Bind a domain CHECK over a one-column table whose column is VALUE."""
    from .constraints import bind_rules
    from ..catalog import Column, Table
    t = Table(id=-1, schema="", name="", columns=[Column(id=1, name="value", type_oid=oid, typmod=typmod)], pk=[1],
              checks=[{"name": "c", "expr": text}])
    bind_rules(t, session)


def create_function(catalog, st, session):
    from .bind import Binder, Scope, type_from_typename
    from .ddl import DdlAction
    n: ast.CreateFunctionStmt = st.node
    if n.is_procedure:
        raise errors.FeatureNotSupported("CREATE PROCEDURE not supported")
    opts = {o.defname: o.arg for o in n.options or ()}
    lang = getattr(opts.get("language"), "sval", "sql" if n.sql_body is not None else None)
    if lang is None:
        raise PgError("no language specified", sqlstate="42P13")
    if lang.lower() != "sql":
        raise errors.FeatureNotSupported(f"unsupported language \"{lang}\"",
                                         hint="Aurora DSQL supports functions in LANGUAGE SQL only.")
    parts = [x.sval for x in n.funcname]
    schema, name = _target(catalog, session, parts)
    arg_names, arg_types = [], []
    for p in n.parameters or ():
        if p.mode.name not in ("FUNC_PARAM_DEFAULT", "FUNC_PARAM_IN"):
            raise errors.FeatureNotSupported("only IN parameters are supported in SQL functions")
        if p.defexpr is not None:
            raise errors.FeatureNotSupported("parameter defaults are not supported in SQL functions")
        arg_names.append(p.name)
        arg_types.append(list(type_from_typename(p.argType, st)))
    if n.returnType is None or n.returnType.setof:
        raise errors.FeatureNotSupported("set-returning and TABLE functions are not supported")
    ret = list(type_from_typename(n.returnType, st))
    if n.sql_body is not None:
        body = n.sql_body
        if isinstance(body, ast.ReturnStmt):
            kind, text = "return", RawStream()(body.returnval)
        else:
            stmts = [x for x in (body[0] if isinstance(body, (list, tuple)) and body and
                                 isinstance(body[0], (list, tuple)) else body or ()) if x is not None]
            if len(stmts) != 1 or not isinstance(stmts[0], (ast.SelectStmt, ast.ReturnStmt)):
                raise errors.FeatureNotSupported("SQL function bodies other than one SELECT or RETURN are not supported")
            one = stmts[0]
            kind, text = ("return", RawStream()(one.returnval)) if isinstance(one, ast.ReturnStmt) \
                else ("select", RawStream()(one))
    else:
        src = opts.get("as")
        text = (src[0].sval if isinstance(src, (list, tuple)) else getattr(src, "sval", None)) if src else None
        if text is None:
            raise PgError("no function body specified", sqlstate="42P13")
        try:
            stmts = pglast.parse_sql(text)
        except pglast.parser.ParseError as e:
            raise errors.SyntaxError_(str(e.args[0])) from None
        if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
            raise errors.FeatureNotSupported("SQL function bodies other than one SELECT are not supported")
        kind, text = "select", RawStream()(stmts[0].stmt)
    key = function_key(name, [t for t, _ in arg_types])
    doc = {"schema": schema, "key": key, "name": name, "owner": _owner(session), "arg_names": arg_names,
           "arg_types": arg_types, "return_type": ret, "body": text, "body_kind": kind,
           "volatility": getattr(opts.get("volatility"), "sval", "volatile")}
    # check the body binds (PostgreSQL's check_function_bodies), with NULLs of the parameter types
    b = Binder(catalog, st, session=session)
    args = [ast.A_Const(isnull=True) for _ in arg_types]
    if is_inlinable(doc):
        b.expr(inline_body(doc, args), Scope(), False)
    else:
        bind_query_body(b, doc, [b.expr(a, Scope(), False) for a in args], None)

    def apply(txn):
        cur = catalog.get_object("function", schema, key)
        if cur is not None:
            if not n.replace:
                sig = ", ".join(T.lookup(t).name for t, _ in arg_types)
                raise PgError(f'function "{name}" already exists with same argument types', sqlstate="42723",
                              detail=f"{name}({sig})")
            if cur["return_type"][0] != ret[0]:
                raise PgError("cannot change return type of existing function", sqlstate="42P13",
                              hint=f"Use DROP FUNCTION {name} first.")
            catalog.replace_object("function", {**doc, "id": cur["id"], "revision": cur["revision"]})
            return "CREATE FUNCTION", [], None
        if catalog.create_object("function", doc) is None:
            raise errors.schema_conflict()
        return "CREATE FUNCTION", [], None
    return DdlAction("CREATE FUNCTION", apply)


def find_function(catalog, session, parts: list[str], argtypes: list[int] | None) -> dict | None:
    """The SQL function `parts` names with these argument type oids, or by a unique name (None: any)."""
    from .bind import search_path
    schemas = [parts[-2]] if len(parts) > 1 else search_path(session)
    cands = [f for f in catalog.objects("function") if f["name"] == parts[-1] and f["schema"] in schemas
             and (argtypes is None or [t for t, _ in f["arg_types"]] == argtypes)]
    if len(cands) > 1:
        raise PgError(f'function name "{".".join(parts)}" is not unique', sqlstate="42725",
                      hint="Specify the argument list to select the function unambiguously.")
    return cands[0] if cands else None


def drop_objects(catalog, st, session, kind: str, names: list[list[str]], missing_ok: bool):
    """DROP SEQUENCE / DOMAIN / FUNCTION (a function named with argument types or by a unique name)."""
    from .ddl import DdlAction
    label = {"sequence": "sequence", "domain": "type", "function": "function"}[kind]
    tag = f"DROP {kind.upper()}"

    def apply(txn):
        notices, docs = [], []
        for parts, argtypes in names:
            if kind == "function":
                doc = find_function(catalog, session, parts, argtypes)
            else:
                doc = find_object(catalog, session, kind, parts)
            if doc is None:
                if missing_ok:
                    notices.append(f'{label} {".".join(parts)} does not exist, skipping' if kind != "sequence"
                                   else f'sequence "{parts[-1]}" does not exist, skipping')
                    continue
                if kind == "sequence":
                    raise errors.UndefinedTable(f'sequence "{parts[-1]}" does not exist')
                if kind == "function":
                    raise errors.UndefinedFunction(f"function {'.'.join(parts)}"
                                                   f"{'' if argtypes is None else '(' + ', '.join(T.lookup(t).name for t in argtypes) + ')'}"
                                                   " does not exist")
                raise errors.UndefinedObject(f'type "{".".join(parts)}" does not exist')
            if kind == "domain":
                users = [t.name for t in catalog.tables() if any(c.domain == f"{doc['schema']}.{doc['name']}"
                                                                 for c in t.columns)]
                if users:
                    raise PgError(f"cannot drop type {doc['name']} because other objects depend on it",
                                  sqlstate="2BP01", hint="Use DROP ... CASCADE to drop the dependent objects too.")
            if kind == "sequence" and doc.get("identity"):
                raise PgError(f"cannot drop sequence {doc['name']} because column of table requires it",
                              sqlstate="2BP01", hint="You can drop the table instead.")
            docs.append(doc)
        for doc in docs:
            catalog.drop_object(kind, doc)
            if kind == "sequence":
                allocator(catalog).forget(doc["id"])
        return tag, notices, None
    return DdlAction(tag, apply)


def owned_sequences(catalog, table) -> list[dict]:
    """The sequences a table's columns own (identity columns, OWNED BY)."""
    return [seq for seq in catalog.objects("sequence", table.schema)
            if (seq.get("owned_by") or {}).get("table") == table.id]


def drop_owned_sequences(catalog, table) -> None:
    """DROP TABLE drops the sequences its columns own."""
    for seq in owned_sequences(catalog, table):
        catalog.drop_object("sequence", seq)
        allocator(catalog).forget(seq["id"])


# ------------------------------------------------------------------ domain casts

@dataclasses.dataclass(eq=False)
class _DomainCheck(Expr):
    """`expr::domain`: the value cast to the base type, then the domain's NOT NULL and CHECKs."""
    arg: Expr
    domain: dict
    checks: list                 # (name, bound boolean expression over a one-column row [VALUE])
    type: int
    typmod: int = -1
    location: int | None = None

    def children(self):
        return [self.arg]

    def compile(self, env):
        af = self.arg.compile(env)
        cfs = [(name, c.compile(env)) for name, c in self.checks]
        dom = self.domain

        def check(row):
            v = af(row)
            if v is None and dom["not_null"]:
                raise errors.NotNullViolation(f"domain {dom['name']} does not allow null values")
            for name, f in cfs:
                if f([v]) is False:
                    raise PgError(f'value for domain {dom["name"]} violates check constraint "{name}"',
                                  sqlstate="23514")
            return v
        return check


def domain_cast(binder, n: ast.TypeCast, scope, allow_agg):
    """Bind a cast to a domain; None when the type name is not a domain."""
    from .bind import RangeEntry, Scope
    tn = n.typeName
    names = [x.sval for x in tn.names]
    if binder.catalog is None or not hasattr(binder.catalog, "objects") or tn.arrayBounds or tn.typmods or \
            names[0] == "pg_catalog":
        return None
    dom = find_object(binder.catalog, binder.session, "domain", names)
    if dom is None:
        return None
    _record(binder, dom, "domain")
    oid, typmod = dom["base_type"]
    arg = binder.expr(ast.TypeCast(arg=n.arg, typeName=_typename(oid, typmod)), scope, allow_agg)
    value_scope = Scope([RangeEntry(alias=dom["name"], table=None, names=["value"], types=[(oid, typmod)],
                                    hidden=[False])])
    checks = []
    for ck in dom["checks"]:
        node = pglast.parse_sql(f"SELECT {ck['expr']}")[0].stmt.targetList[0].val
        checks.append((ck["name"], binder.to_bool(binder.expr(node, value_scope, False), "CHECK")))
    return _DomainCheck(arg, dom, checks, oid, typmod, binder.pos(n))
