"""Catalog functions clients call (psql, drivers, ORMs): object names and definitions, visibility,
privileges, sizes, descriptions, and the reg* type resolvers. They read the running session's
catalog through the executor's Env (registered volatile with `wants_env`), so a plan never
caches an answer across DDL."""

from __future__ import annotations

import os

from services.common import errors
from services.common.errors import PgError

from .. import functions as F
from .. import types as T
from ..functions_ext import quote_ident
from ..types import regoid
from . import current_session, oids as O, typedata

OID, TEXT, BOOL, INT4, INT8, NAME = T.OID, T.TEXT, T.BOOL, T.INT4, T.INT8, T.NAME


def _register(name, sig, res, fn, strict=True):
    """A function of the session: fn(session, *args)."""
    def call(env, *args):
        if strict and any(a is None for a in args):
            return None
        return fn(env.session, *args)
    call.wants_env = True
    F.FUNCTIONS.setdefault(name, []).append((tuple(sig), res, call, False, True))


def _pure(name, sig, res, fn, strict=True):
    F.FUNCTIONS.setdefault(name, []).append((tuple(sig), res, fn, strict, False))


# ------------------------------------------------------------------ names and visibility

def search_path(session) -> list[str]:
    """The schemas names resolve in: pg_catalog first (implicitly, as PostgreSQL), then search_path."""
    from ..bind import search_path as sp
    path = sp(session)
    return (["pg_catalog"] if "pg_catalog" not in path else []) + path


def visible_schema(session, schema: str) -> bool:
    return schema in search_path(session)


def _split_name(text: str) -> list[str]:
    """'a."B".c' -> ['a', 'B', 'c'] (unquoted parts fold to lower case)."""
    parts, cur, i, quoted = [], [], 0, False
    s = text.strip()
    while i < len(s):
        ch = s[i]
        if quoted:
            if ch == '"' and i + 1 < len(s) and s[i + 1] == '"':
                cur.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch.lower())
        i += 1
    parts.append("".join(cur))
    return parts


# well-known OIDs of system catalogs (regclass input of 'pg_class' and the like)
SYSTEM_RELATION_OIDS = {"pg_type": 1247, "pg_attribute": 1249, "pg_proc": 1255, "pg_class": 1259,
                        "pg_attrdef": 2604, "pg_constraint": 2606, "pg_inherits": 2611, "pg_index": 2610,
                        "pg_namespace": 2615, "pg_am": 2601, "pg_description": 2609, "pg_depend": 2608,
                        "pg_database": 1262, "pg_authid": 1260, "pg_roles": 1260, "pg_collation": 3456,
                        "pg_trigger": 2620, "pg_sequence": 2224, "pg_tablespace": 1213, "pg_opclass": 2616,
                        "pg_opfamily": 2753, "pg_rewrite": 2618, "pg_shdescription": 2396}


def resolve_relation(session, text: str) -> int:
    parts = _split_name(text)
    catalog = session.catalog
    if len(parts) > 2:
        parts = parts[-2:]
    schema, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    rels = O.relations(catalog)
    for sch in ([schema] if schema else search_path(session)):
        if sch == "pg_catalog" and name in SYSTEM_RELATION_OIDS:
            return SYSTEM_RELATION_OIDS[name]
        for r in rels:
            if r.schema == sch and r.name == name:
                return r.oid
        for s in _sequences(catalog):
            if s["schema"] == sch and s["name"] == name:
                return s["id"]
    raise errors.UndefinedTable(f'relation "{text.strip()}" does not exist')


def _sequences(catalog) -> list[dict]:
    fn = getattr(catalog, "objects", None)
    return list(fn("sequence")) if fn is not None else []


def relation_label(session, oid: int) -> str | None:
    for name, o in SYSTEM_RELATION_OIDS.items():
        if o == oid:
            return name
    r = O.relation_by_oid(session.catalog, oid)
    schema = name = None
    if r is not None:
        schema, name = r.schema, r.name
    else:
        for s in _sequences(session.catalog):
            if s["id"] == oid:
                schema, name = s["schema"], s["name"]
    if name is None:
        return None
    return quote_ident(name) if table_is_visible(session, oid) else f"{quote_ident(schema)}.{quote_ident(name)}"


def table_is_visible(session, oid: int) -> bool:
    catalog = session.catalog
    r = O.relation_by_oid(catalog, oid)
    if r is None:
        seq = next((s for s in _sequences(catalog) if s["id"] == oid), None)
        if seq is None:
            return int(oid) in SYSTEM_RELATION_OIDS.values()
        schema, name = seq["schema"], seq["name"]
    else:
        schema, name = r.schema, r.name
    rels = O.relations(catalog)
    for sch in search_path(session):
        if any(x.schema == sch and x.name == name for x in rels) or \
                any(s["schema"] == sch and s["name"] == name for s in _sequences(catalog)):
            return sch == schema
    return False


def resolve_type(session, text: str) -> int:
    s = text.strip()
    array = s.endswith("[]")
    if array:
        s = s[:-2].strip()
    parts = _split_name(s)
    name = parts[-1]
    t = T.by_name(name) if len(parts) == 1 or parts[0] == "pg_catalog" else None
    info = typedata.by_oid(t.oid) if t is not None else typedata.builtin_by_name(name)
    if info is None and name in ("timestamp without time zone", "timestamp with time zone", "time without time zone",
                                 "character varying", "double precision", "bit varying", "time with time zone"):
        info = next((x for x in typedata.builtin().values() if x.formatted == name), None)
    if info is None:
        d = typedata.domain_by_name(".".join(parts), session.catalog)
        if d is not None:
            return d.oid
        raise PgError(f'type "{text.strip()}" does not exist', sqlstate="42704")
    if array:
        if not info.typarray:
            raise PgError(f'type "{text.strip()}" does not exist', sqlstate="42704")
        return info.typarray
    return info.oid


def type_label(session, oid: int) -> str | None:
    catalog = session.catalog if session is not None else None
    if typedata.by_oid(oid, catalog) is None:
        return None
    return typedata.format_type(oid, -1, catalog)


def resolve_namespace(session, text: str) -> int:
    name = _split_name(text)[-1]
    oid = O.namespace_oid(session.catalog, name)
    if oid is None:
        raise PgError(f'schema "{text.strip()}" does not exist', sqlstate="3F000")
    return oid


def resolve_role(session, text: str) -> int:
    name = _split_name(text)[-1]
    for r in O.roles(session.catalog):
        if r.name == name:
            return r.oid
    raise PgError(f'role "{text.strip()}" does not exist', sqlstate="42704")


def resolve_proc(session, text: str) -> int:
    name = _split_name(text.split("(")[0])[-1]
    for f in typedata.functions(session.catalog):
        if f.name == name:
            return f.oid
    raise errors.UndefinedFunction(f'function "{text.strip()}" does not exist')


def _with_session(fn, missing=None):
    def call(arg):
        from . import note_resolved
        note_resolved()
        s = current_session()
        if s is None:
            if missing is not None:
                return missing(arg)
            raise PgError("no catalog to resolve the name in", sqlstate="XX000")
        return fn(s, arg)
    return call


def _install_resolvers() -> None:
    regtype_in, regtype_out = regoid.NAME_TO_OID["regtype"], regoid.OID_TO_NAME["regtype"]
    regoid.NAME_TO_OID.update(
        regclass=_with_session(resolve_relation), regtype=_with_session(resolve_type, regtype_in),
        regnamespace=_with_session(resolve_namespace), regrole=_with_session(resolve_role),
        regproc=_with_session(resolve_proc), regprocedure=_with_session(resolve_proc))
    regoid.OID_TO_NAME.update(
        regclass=_with_session(relation_label, lambda o: None),
        regtype=_with_session(type_label, regtype_out),
        regnamespace=_with_session(lambda s, o: O.namespace_name(s.catalog, o), lambda o: None),
        regrole=_with_session(lambda s, o: O.role_name(s.catalog, o), lambda o: None),
        regproc=_with_session(lambda s, o: next((f.name for f in typedata.functions(s.catalog) if f.oid == o), None),
                              lambda o: None))
    regoid.OID_TO_NAME["regprocedure"] = regoid.OID_TO_NAME["regproc"]


_install_resolvers()


def _to_reg(kind):
    def fn(session, text):
        try:
            return regoid.make(kind, regoid.NAME_TO_OID[kind](text))
        except PgError:
            return None
    return fn


for _kind, _oid in (("regclass", T.REGCLASS), ("regtype", T.REGTYPE), ("regnamespace", T.REGNAMESPACE),
                    ("regrole", T.REGROLE), ("regproc", T.REGPROC), ("regprocedure", T.REGPROCEDURE)):
    _register(f"to_{_kind}", (TEXT,), _oid, _to_reg(_kind))

_register("pg_table_is_visible", (OID,), BOOL, table_is_visible)
_register("pg_type_is_visible", (OID,), BOOL,
          lambda s, oid: (lambda t: t is not None and visible_schema(s, t.schema))(typedata.by_oid(oid, s.catalog)))
_register("pg_function_is_visible", (OID,), BOOL,
          lambda s, oid: any(f.oid == oid and visible_schema(s, f.schema) for f in typedata.functions(s.catalog)))
_register("pg_get_userbyid", (OID,), NAME,
          lambda s, oid: O.role_name(s.catalog, oid) or f"unknown (OID={int(oid)})")
_register("format_type", (OID, INT4), TEXT,
          lambda s, oid, typmod: None if oid is None else typedata.format_type(oid, typmod, s.catalog), strict=False)


# ------------------------------------------------------------------ definitions

def _col(table, cid) -> str:
    return quote_ident(table.column_by_id(cid).name)


def index_def(catalog, r, column: int = 0) -> str:
    t = r.table
    keys, inc = r.key_columns, r.include_columns
    if column:
        allcols = keys + inc
        return _col(t, allcols[column - 1]) if 0 < column <= len(allcols) else ""
    s = (f"CREATE {'UNIQUE ' if r.unique else ''}INDEX {quote_ident(r.name)} ON "
         f"{quote_ident(t.schema)}.{quote_ident(t.name)} USING {O.INDEX_AM_NAME} "
         f"({', '.join(_col(t, c) for c in keys)})")
    if inc:
        s += f" INCLUDE ({', '.join(_col(t, c) for c in inc)})"
    if getattr(r.index, "nulls_not_distinct", False):
        s += " NULLS NOT DISTINCT"
    return s


def _indexdef(session, oid, column=0, pretty=False):
    r = O.relation_by_oid(session.catalog, oid)
    if r is None or r.kind != "i":
        return None
    return index_def(session.catalog, r, column or 0)


_register("pg_get_indexdef", (OID,), TEXT, _indexdef)
_register("pg_get_indexdef", (OID, INT4, BOOL), TEXT, _indexdef)


def constraint_def(con: dict, pretty: bool = True) -> str:
    t = con.get("table")
    if con["contype"] in ("p", "u"):
        cols = ", ".join(_col(t, c) for c in (t.pk if con["contype"] == "p" else con["index"].columns))
        if con["contype"] == "p":
            s = f"PRIMARY KEY ({cols})"
            inc = list(getattr(t, "pk_include", []) or [])
        else:
            nnd = " NULLS NOT DISTINCT" if getattr(con["index"], "nulls_not_distinct", False) else ""
            s = f"UNIQUE{nnd} ({cols})"
            inc = list(con["index"].include or [])
        if inc:
            s += f" INCLUDE ({', '.join(_col(t, c) for c in inc)})"
        return s
    expr = con.get("conbin") or ""
    if pretty and con.get("source") is not None:
        from .exprtext import check_text
        expr = check_text(con["table"], con["source"], pretty=True)
    return f"CHECK ({expr})" if pretty else f"CHECK (({expr}))"


def _constraintdef(session, oid, pretty=False):
    from .pg_catalog import constraints
    for c in constraints(session.catalog):
        if c["oid"] == int(oid):
            return constraint_def(c, bool(pretty))
    return None


_register("pg_get_constraintdef", (OID,), TEXT, _constraintdef)
_register("pg_get_constraintdef", (OID, BOOL), TEXT, _constraintdef)
# adbin/conbin hold the expression's SQL text: deparsing it is the identity
_pure("pg_get_expr", (TEXT, OID), TEXT, lambda expr, rel: expr)
_pure("pg_get_expr", (TEXT, OID, BOOL), TEXT, lambda expr, rel, pretty: expr)
_pure("pg_get_statisticsobjdef_columns", (OID,), TEXT, lambda oid: None)
_pure("pg_relation_is_publishable", (OID,), BOOL, lambda oid: False)
_pure("pg_get_viewdef", (OID,), TEXT, lambda oid: None)
_pure("pg_get_viewdef", (OID, BOOL), TEXT, lambda oid, pretty: None)
_pure("pg_get_triggerdef", (OID,), TEXT, lambda oid: None)
_pure("pg_get_partkeydef", (OID,), TEXT, lambda oid: None)
_pure("pg_encoding_to_char", (INT4,), NAME, lambda enc: "UTF8" if enc == 6 else "SQL_ASCII" if enc == 0 else "")
_pure("pg_char_to_encoding", (NAME,), INT4, lambda name: 6 if name.upper().replace("-", "") == "UTF8" else -1)


def _description(session, oid, catalog_name=None, subid=0):
    """PostgreSQL's obj_description / col_description: a pg_description lookup (the one-argument
    form matches any catalog)."""
    from .pg_catalog import description_index
    index = description_index(session.catalog)
    if catalog_name is not None:
        return index.get((int(oid), SYSTEM_RELATION_OIDS.get(catalog_name, -1), subid))
    return next((d for (o, _, sub), d in index.items() if o == int(oid) and sub == subid), None)


def _shared_description(session, oid, catalog_name):
    from .pg_catalog import shared_descriptions
    classoid = SYSTEM_RELATION_OIDS.get(catalog_name, -1)
    return next((d for o, c, d in shared_descriptions(session.catalog) if o == int(oid) and c == classoid), None)


_register("obj_description", (OID,), TEXT, _description)
_register("obj_description", (OID, NAME), TEXT, _description)
_register("col_description", (OID, INT4), TEXT, lambda s, oid, n: _description(s, oid, "pg_class", n))
_register("shobj_description", (OID, NAME), TEXT, _shared_description)


def _function(session, oid):
    return next((f for f in typedata.functions(session.catalog) if f.oid == int(oid)), None)


def _function_args(session, oid):
    f = _function(session, oid)
    if f is None:
        return None
    names = f.arg_names + [""] * (len(f.arg_types) - len(f.arg_names))
    return ", ".join(f"{n} {typedata.format_type(t, -1, session.catalog)}".strip()
                     for n, t in zip(names, f.arg_types))


_register("pg_get_function_arguments", (OID,), TEXT, _function_args)
_register("pg_get_function_identity_arguments", (OID,), TEXT, _function_args)
_register("pg_get_function_result", (OID,), TEXT,
          lambda s, oid: (lambda f: f and typedata.format_type(f.return_type, -1, s.catalog))(_function(s, oid)))
# the body of a BEGIN ATOMIC / RETURN function; ours are all kept as prosrc text (psql's \\df+ falls back to it)
_pure("pg_get_function_sqlbody", (OID,), TEXT, lambda oid: None)
_register("pg_get_functiondef", (OID,), TEXT,
          lambda s, oid: (lambda f: f and (
              f"CREATE OR REPLACE FUNCTION {f.schema}.{f.name}({_function_args(s, oid)})\n RETURNS "
              f"{typedata.format_type(f.return_type, -1, s.catalog)}\n LANGUAGE sql\nAS $function${f.body}"
              f"$function$\n"))(_function(s, oid)))


def _serial_sequence(session, table: str, column: str):
    from .. import types as _T  # noqa: F401
    oid = resolve_relation(session, table)
    r = O.relation_by_oid(session.catalog, oid)
    if r is None or r.kind != "r":
        return None
    c = r.table.column(column)
    if c is None:
        raise PgError(f'column "{column}" of relation "{r.name}" does not exist', sqlstate="42703")
    seq = getattr(c, "sequence", None)
    return seq


_register("pg_get_serial_sequence", (TEXT, TEXT), TEXT, _serial_sequence)


# ------------------------------------------------------------------ session facts

def _current_schemas(session, implicit):
    path = search_path(session) if implicit else [s for s in search_path(session)[1:]]
    cat = session.catalog
    return [s for s in path if s in ("pg_catalog", "information_schema") or cat.get_schema(s) is not None]


_register("current_schemas", (BOOL,), T.ARRAY_OF[NAME], _current_schemas)
_register("pg_backend_pid", (), INT4, lambda s: int(getattr(s, "backend_pid", 0) or os.getpid()))


def _sleep(session, seconds) -> None:
    """pg_sleep: in short slices, so that a cancel or the statement timeout ends it."""
    import time
    from services.common.errors import QueryCanceled
    end = time.monotonic() + float(seconds)
    while True:
        now = time.monotonic()
        if getattr(session, "cancel_requested", False):
            session.cancel_requested = False
            raise QueryCanceled("canceling statement due to user request")
        deadline = getattr(session, "statement_deadline", None)
        if deadline is not None and now > deadline:
            raise QueryCanceled("canceling statement due to statement timeout")
        if now >= end:
            return None
        time.sleep(min(0.01, end - now))


_register("pg_sleep", (T.FLOAT8,), T.VOID if hasattr(T, "VOID") else TEXT, _sleep)
_pure("pg_is_in_recovery", (), BOOL, lambda: False)
_pure("pg_postmaster_start_time", (), T.TIMESTAMPTZ, lambda: _STARTED)
_pure("pg_conf_load_time", (), T.TIMESTAMPTZ, lambda: _STARTED)
_pure("pg_jit_available", (), BOOL, lambda: False)
_register("pg_my_temp_schema", (), OID, lambda s: 0)
_register("pg_is_other_temp_schema", (OID,), BOOL, lambda s, oid: False)
_pure("txid_current_if_assigned", (), INT8, lambda: None, strict=False)

import datetime as _dt  # noqa: E402
_STARTED = _dt.datetime.now(_dt.timezone.utc)


# ------------------------------------------------------------------ privileges

def _privilege(session, *args) -> bool:
    """has_*_privilege: asks the roles part when it is there; else every role may do everything
    (admin owns the cluster)."""
    check = getattr(session, "has_privilege", None)
    return True if check is None else bool(check(*args))


for _fn, _arities in (("has_table_privilege", (2, 3)), ("has_schema_privilege", (2, 3)),
                      ("has_database_privilege", (2, 3)), ("has_column_privilege", (3, 4)),
                      ("has_sequence_privilege", (2, 3)), ("has_function_privilege", (2, 3)),
                      ("has_any_column_privilege", (2, 3)), ("has_type_privilege", (2, 3)),
                      ("has_tablespace_privilege", (2, 3)), ("has_language_privilege", (2, 3)),
                      ("pg_has_role", (2, 3))):
    for _n in _arities:
        for _first in ((TEXT,), (OID,), (NAME,)) if _n == _arities[1] else ((),):
            _rest = [TEXT] * (_n - len(_first))
            if _fn == "has_column_privilege":
                _rest[-2] = TEXT
            _register(_fn, (*_first, *_rest), BOOL,
                      lambda s, *a, _name=_fn: _privilege(s, _name, *a))
        for _second in (OID,):
            if _n == _arities[0]:
                _register(_fn, (_second, *[TEXT] * (_n - 1)), BOOL, lambda s, *a, _name=_fn: _privilege(s, _name, *a))


# ------------------------------------------------------------------ sizes

def size_pretty(n) -> str:
    """pg_size_pretty as PostgreSQL 15 computes it (C integer division, half rounding)."""
    from decimal import Decimal
    size = int(Decimal(n)) if not isinstance(n, int) else n

    def cdiv(a, b):
        q = abs(a) // b
        return q if a >= 0 else -q
    if abs(size) < 10 * 1024:
        return f"{size} bytes"
    size = cdiv(size, 1 << 9)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        if unit == "PB" or abs(size) < 20 * 1024 - 1:
            return f"{cdiv(size + (-1 if size < 0 else 1), 2)} {unit}"
        size = cdiv(size, 1 << 10)
    raise AssertionError("unreachable")


_pure("pg_size_pretty", (INT8,), TEXT, size_pretty)
_pure("pg_size_pretty", (T.NUMERIC,), TEXT, size_pretty)


def _relation_size(session, oid, *_fork):
    from .stats import table_stats
    r = O.relation_by_oid(session.catalog, oid)
    if r is None:        # a sequence keeps its value in etcd: no storage bytes
        return 0 if any(s["id"] == int(oid) for s in _sequences(session.catalog)) else None
    st = table_stats(session.catalog, r.table) if r.kind == "r" else None
    return int(st["bytes"]) if st else 0


for _fn in ("pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size"):
    _register(_fn, (T.REGCLASS,), INT8, _relation_size)
_register("pg_relation_size", (T.REGCLASS, TEXT), INT8, _relation_size)
_register("pg_database_size", (NAME,), INT8,
          lambda s, name: sum(_relation_size(s, t.id) or 0 for t in O.tables(s.catalog)))
