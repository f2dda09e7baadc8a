"""pg_type and pg_proc rows: PostgreSQL 15's built-in types (pg_type_data) plus the catalog's
domains, and the catalog's SQL functions; format_type() lives here too."""

from __future__ import annotations

import dataclasses
import functools

from . import oids as O, pg_columns
from .pg_type_data import ROWS

_TYPE_COLS = [c.split(":", 1)[0] for c in pg_columns.PG_CATALOG["pg_type"].split(",")]
_PROC_COLS = [c.split(":", 1)[0] for c in pg_columns.PG_CATALOG["pg_proc"].split(",")]


@dataclasses.dataclass
class TypeInfo:
    oid: int
    typname: str
    typlen: int
    typbyval: bool
    typtype: str
    typcategory: str
    typispreferred: bool
    typdelim: str
    typelem: int
    typarray: int
    procs: tuple                  # (input, output, receive, send) as (oid, name)
    typalign: str
    typstorage: str
    typcollation: int
    formatted: str                # format_type(oid, NULL)
    namespace: int = O.PG_CATALOG_NS
    schema: str = "pg_catalog"
    owner: int = O.BOOTSTRAP_ROLE
    basetype: int = 0
    typtypmod: int = -1
    notnull: bool = False
    default: str | None = None
    checks: tuple = ()
    acl: list | None = None       # typacl (domains)
    id: int = 0                   # for check constraint OIDs (oids.check_oid)

    def row(self) -> tuple:
        from ..types.regoid import RegOid
        procs = [RegOid(o, n) for o, n in self.procs]
        d = {"oid": self.oid, "typname": self.typname, "typnamespace": self.namespace, "typowner": self.owner,
             "typlen": self.typlen, "typbyval": self.typbyval, "typtype": self.typtype,
             "typcategory": self.typcategory, "typispreferred": self.typispreferred, "typisdefined": True,
             "typdelim": self.typdelim, "typrelid": 0, "typsubscript": RegOid(0, "-"), "typelem": self.typelem,
             "typarray": self.typarray, "typinput": procs[0], "typoutput": procs[1], "typreceive": procs[2],
             "typsend": procs[3], "typmodin": RegOid(0, "-"), "typmodout": RegOid(0, "-"),
             "typanalyze": RegOid(0, "-"), "typalign": self.typalign, "typstorage": self.typstorage,
             "typnotnull": self.notnull, "typbasetype": self.basetype, "typtypmod": self.typtypmod,
             "typndims": 0, "typcollation": self.typcollation, "typdefault": self.default, "typacl": self.acl}
        return tuple(d.get(c) for c in _TYPE_COLS)


@functools.cache
def builtin() -> dict[int, TypeInfo]:
    out = {}
    for line in ROWS.splitlines():
        f = line.split("|")
        out[int(f[0])] = TypeInfo(
            int(f[0]), f[1], int(f[2]), f[3] == "t", f[4], f[5], f[6] == "t", f[7], int(f[8]), int(f[9]),
            ((int(f[10]), f[11]), (int(f[12]), f[13]), (int(f[14]), f[15]), (int(f[16]), f[17])),
            f[18], f[19], int(f[20]), f[21])
    return out


@functools.cache
def _builtin_by_name() -> dict[str, TypeInfo]:
    return {t.typname: t for t in builtin().values()}


def by_oid(oid: int, catalog=None) -> TypeInfo | None:
    t = builtin().get(int(oid))
    if t is None and catalog is not None:
        for d in domains(catalog):
            if d.oid == int(oid):
                return d
    return t


def builtin_by_name(name: str) -> TypeInfo | None:
    return _builtin_by_name().get(name)


def domains(catalog) -> list[TypeInfo]:
    fn = getattr(catalog, "objects", None)
    out = []
    for d in (fn("domain") if fn is not None else ()):
        base, typmod = (d.get("base_type") or [25, -1])[:2]
        b = builtin().get(base) or builtin()[25]
        out.append(dataclasses.replace(
            b, oid=d["id"], typname=d["name"], typtype="d", typarray=0, typelem=0, formatted=d["name"],
            namespace=O.namespace_oid(catalog, d["schema"]), schema=d["schema"],
            owner=O.role_oid(catalog, d.get("owner", "admin")), basetype=base, typtypmod=typmod,
            notnull=bool(d.get("not_null")), default=d.get("default"), checks=tuple(d.get("checks") or ()),
            id=d["id"], acl=O.acl(catalog, "domain", d["id"], d.get("owner", "admin"))))
    return out


def domain_by_name(qualified: str, catalog=None) -> TypeInfo | None:
    from . import current_session
    if catalog is None:
        s = current_session()
        catalog = getattr(s, "catalog", None)
    if catalog is None:
        return None
    schema, _, name = qualified.rpartition(".")
    for d in domains(catalog):
        if d.typname == name and (not schema or d.schema == schema):
            return d
    return None


def all_types(catalog) -> list[TypeInfo]:
    return list(builtin().values()) + domains(catalog)


def format_type(oid: int, typmod: int = -1, catalog=None) -> str | None:
    """PostgreSQL's format_type(oid, typmod)."""
    if oid is None:
        return None
    if int(oid) == 0:
        return "-"
    t = by_oid(oid, catalog)
    if t is None:
        return "???"
    if typmod is None:
        typmod = -1
    name = t.formatted
    if t.typcategory == "A" and t.typelem:
        return (format_type(t.typelem, typmod, catalog) or "???") + "[]"
    if t.typtype == "d":
        from . import current_session
        from .functions import visible_schema
        s = current_session()
        return name if s is None or visible_schema(s, t.schema) else f"{t.schema}.{name}"
    if typmod < 0:
        return name
    n = t.typname
    if n in ("bpchar", "varchar"):
        return f"{name}({typmod - 4})"
    if n == "numeric" and typmod >= 4:
        return f"numeric({((typmod - 4) >> 16) & 0xFFFF},{(typmod - 4) & 0xFFFF})"
    if n in ("timestamp", "timestamptz", "time", "timetz"):
        base, _, zone = name.partition(" ")
        return f"{base}({typmod}) {zone}".rstrip()
    if n == "interval":
        return f"interval({typmod & 0xFFFF})" if typmod & 0xFFFF != 0xFFFF else "interval"
    if n in ("bit", "varbit"):
        return f"{name}({typmod})"
    return name


# ------------------------------------------------------------------ functions (pg_proc)

@dataclasses.dataclass
class FuncInfo:
    oid: int
    name: str
    schema: str
    namespace: int
    owner: int
    arg_types: list[int]
    arg_names: list[str]
    return_type: int
    body: str
    volatility: str
    acl: list | None = None       # proacl

    def row(self) -> tuple:
        d = {"oid": self.oid, "proname": self.name, "pronamespace": self.namespace, "proowner": self.owner,
             "prolang": 14, "procost": 100.0, "prorows": 0.0, "provariadic": 0, "prokind": "f",
             "prosecdef": False, "proleakproof": False, "proisstrict": False, "proretset": False,
             "provolatile": self.volatility[:1] if self.volatility else "v", "proparallel": "u",
             "pronargs": len(self.arg_types), "pronargdefaults": 0, "prorettype": self.return_type,
             "proargtypes": list(self.arg_types), "proargnames": list(self.arg_names) or None,
             "prosrc": self.body, "proacl": self.acl}
        from ..types.regoid import RegOid
        d["prosupport"] = RegOid(0, "-")
        return tuple(d.get(c) for c in _PROC_COLS)


def _oid_of(t) -> int:
    return int(t[0]) if isinstance(t, (list, tuple)) else int(t)


def functions(catalog) -> list[FuncInfo]:
    fn = getattr(catalog, "objects", None)
    out = []
    for f in (fn("function") if fn is not None else ()):
        out.append(FuncInfo(f["id"], f["name"], f["schema"], O.namespace_oid(catalog, f["schema"]),
                            O.role_oid(catalog, f.get("owner", "admin")),
                            [_oid_of(t) for t in f.get("arg_types") or ()], list(f.get("arg_names") or ()),
                            _oid_of(f.get("return_type") or 2278), f.get("body", ""), f.get("volatility", "v"),
                            O.acl(catalog, "function", f["id"], f.get("owner", "admin"))))
    return out
