"""information_schema views, computed from the catalog (PostgreSQL 15's columns, see pg_columns)."""

from __future__ import annotations

from .. import types as T
from . import oids as O, pg_columns, typedata, view

_ORDER = {name: [c.split(":", 1)[0] for c in spec.split(",")] for name, spec in pg_columns.INFORMATION_SCHEMA.items()}


def _rows(name: str, dicts) -> list[tuple]:
    cols = _ORDER[name]
    return [tuple(d.get(c) for c in cols) for d in dicts]


def _yes(b: bool) -> str:
    return "YES" if b else "NO"


@view("information_schema", "schemata")
def _schemata(catalog, session):
    return _rows("schemata", ({"catalog_name": catalog.database, "schema_name": n, "schema_owner": owner}
                              for _, n, owner in O.namespaces(catalog)))


@view("information_schema", "tables")
def _tables(catalog, session):
    return _rows("tables", ({"table_catalog": catalog.database, "table_schema": t.schema, "table_name": t.name,
                             "table_type": "BASE TABLE", "is_insertable_into": "YES", "is_typed": "NO"}
                            for t in O.tables(catalog)))


def _data_type(oid: int, catalog) -> str:
    t = typedata.by_oid(oid, catalog)
    if t is None:
        return "USER-DEFINED"
    if t.typcategory == "A":
        return "ARRAY"
    return {"bpchar": "character", "char": '"char"'}.get(t.typname, t.formatted)


def _type_facts(oid: int, typmod: int) -> dict:
    d = {}
    if oid in (T.VARCHAR, T.BPCHAR) and typmod >= 4:
        d["character_maximum_length"] = typmod - 4
        d["character_octet_length"] = (typmod - 4) * 4
    elif oid in (T.TEXT, T.VARCHAR, T.BPCHAR):
        d["character_octet_length"] = 1073741824
    if oid == T.NUMERIC:
        if typmod >= 4:
            d.update(numeric_precision=((typmod - 4) >> 16) & 0xFFFF, numeric_scale=(typmod - 4) & 0xFFFF)
        d["numeric_precision_radix"] = 10
    elif oid in (T.INT2, T.INT4, T.INT8):
        d.update(numeric_precision={T.INT2: 16, T.INT4: 32, T.INT8: 64}[oid], numeric_scale=0,
                 numeric_precision_radix=2)
    elif oid in (T.FLOAT4, T.FLOAT8):
        d.update(numeric_precision=24 if oid == T.FLOAT4 else 53, numeric_precision_radix=2)
    if oid in (T.DATE, T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL):
        d["datetime_precision"] = 0 if oid == T.DATE else (typmod if typmod >= 0 else 6)
    return d


@view("information_schema", "columns")
def _columns(catalog, session):
    db = catalog.database
    out = []
    for t in O.tables(catalog):
        for pos, c in O.attnums(t):
            base = typedata.by_oid(c.type_oid)
            dom = getattr(c, "domain", None)
            d = {"table_catalog": db, "table_schema": t.schema, "table_name": t.name, "column_name": c.name,
                 "ordinal_position": pos, "column_default": None if getattr(c, "generated", None) else c.default,
                 "is_nullable": _yes(not c.not_null), "data_type": _data_type(c.type_oid, catalog),
                 "udt_catalog": db, "udt_schema": "pg_catalog", "udt_name": base.typname if base else None,
                 "dtd_identifier": str(pos), "is_self_referencing": "NO",
                 "is_identity": _yes(bool(getattr(c, "identity", None))),
                 "identity_generation": {"a": "ALWAYS", "d": "BY DEFAULT"}.get(getattr(c, "identity", None) or ""),
                 "is_generated": "ALWAYS" if getattr(c, "generated", None) else "NEVER",
                 "generation_expression": getattr(c, "generated", None), "is_updatable": "YES",
                 "collation_name": None}
            if dom:
                schema, _, name = dom.rpartition(".")
                d.update(domain_catalog=db, domain_schema=schema or "public", domain_name=name)
            d.update(_type_facts(c.type_oid, c.typmod))
            out.append(d)
    return _rows("columns", out)


def _constraint_rows(catalog):
    from .pg_catalog import constraints
    return [c for c in constraints(catalog) if c.get("table") is not None]


_CONTYPE = {"p": "PRIMARY KEY", "u": "UNIQUE", "c": "CHECK", "f": "FOREIGN KEY"}


@view("information_schema", "table_constraints")
def _table_constraints(catalog, session):
    db = catalog.database
    out = []
    for c in _constraint_rows(catalog):
        t = c["table"]
        out.append({"constraint_catalog": db, "constraint_schema": t.schema, "constraint_name": c["conname"],
                    "table_catalog": db, "table_schema": t.schema, "table_name": t.name,
                    "constraint_type": _CONTYPE[c["contype"]], "is_deferrable": "NO", "initially_deferred": "NO",
                    "enforced": "YES",
                    "nulls_distinct": None if c["contype"] != "u" else
                    _yes(not getattr(c.get("index"), "nulls_not_distinct", False))})
    for t in O.tables(catalog):     # NOT NULL columns appear as CHECK constraints, as in PostgreSQL
        for n, col in O.attnums(t):
            if col.not_null:
                out.append({"constraint_catalog": db, "constraint_schema": t.schema,
                            "constraint_name": f"{O.namespace_oid(catalog, t.schema)}_{t.id}_{n}_not_null",
                            "table_catalog": db, "table_schema": t.schema, "table_name": t.name,
                            "constraint_type": "CHECK", "is_deferrable": "NO", "initially_deferred": "NO",
                            "enforced": "YES"})
    return _rows("table_constraints", out)


@view("information_schema", "key_column_usage")
def _key_column_usage(catalog, session):
    db = catalog.database
    out = []
    for c in _constraint_rows(catalog):
        if c["contype"] not in ("p", "u"):
            continue
        t = c["table"]
        names = {n: col.name for n, col in O.attnums(t)}
        for pos, attnum in enumerate(c["conkey"], start=1):
            out.append({"constraint_catalog": db, "constraint_schema": t.schema, "constraint_name": c["conname"],
                        "table_catalog": db, "table_schema": t.schema, "table_name": t.name,
                        "column_name": names[attnum], "ordinal_position": pos})
    return _rows("key_column_usage", out)


@view("information_schema", "constraint_column_usage")
def _constraint_column_usage(catalog, session):
    db = catalog.database
    out = []
    for c in _constraint_rows(catalog):
        t = c["table"]
        names = {n: col.name for n, col in O.attnums(t)}
        for attnum in c.get("conkey") or ():
            out.append({"table_catalog": db, "table_schema": t.schema, "table_name": t.name,
                        "column_name": names[attnum], "constraint_catalog": db, "constraint_schema": t.schema,
                        "constraint_name": c["conname"]})
    return _rows("constraint_column_usage", out)


@view("information_schema", "check_constraints")
def _check_constraints(catalog, session):
    from .functions import constraint_def
    db = catalog.database
    out = []
    for c in _constraint_rows(catalog):
        if c["contype"] == "c":
            out.append({"constraint_catalog": db, "constraint_schema": c["table"].schema,
                        "constraint_name": c["conname"], "check_clause": constraint_def(c, True)[6:]})
    return _rows("check_constraints", out)


@view("information_schema", "sequences")
def _sequences(catalog, session):
    fn = getattr(catalog, "objects", None)
    out = []
    for s in (fn("sequence") if fn is not None else ()):
        out.append({"sequence_catalog": catalog.database, "sequence_schema": s["schema"],
                    "sequence_name": s["name"], "data_type": typedata.format_type(s.get("type", 20)),
                    "numeric_precision": {21: 16, 23: 32, 20: 64}.get(s.get("type", 20), 64),
                    "numeric_precision_radix": 2, "numeric_scale": 0, "start_value": str(s.get("start", 1)),
                    "minimum_value": str(s.get("min", 1)), "maximum_value": str(s.get("max", 2 ** 63 - 1)),
                    "increment": str(s.get("increment", 1)), "cycle_option": _yes(bool(s.get("cycle")))})
    return _rows("sequences", out)


@view("information_schema", "routines")
def _routines(catalog, session):
    db = catalog.database
    return _rows("routines", ({"specific_catalog": db, "specific_schema": f.schema,
                               "specific_name": f"{f.name}_{f.oid}", "routine_catalog": db,
                               "routine_schema": f.schema, "routine_name": f.name, "routine_type": "FUNCTION",
                               "data_type": typedata.format_type(f.return_type, -1, catalog),
                               "routine_body": "SQL", "routine_definition": f.body, "external_language": "SQL",
                               "is_deterministic": _yes(f.volatility.startswith("i"))}
                              for f in typedata.functions(catalog)))


@view("information_schema", "domains")
def _domains(catalog, session):
    db = catalog.database
    out = []
    for d in typedata.domains(catalog):
        out.append({"domain_catalog": db, "domain_schema": d.schema, "domain_name": d.typname,
                    "data_type": _data_type(d.basetype, catalog), "domain_default": d.default,
                    "udt_catalog": db, "udt_schema": "pg_catalog",
                    "udt_name": typedata.by_oid(d.basetype).typname, **_type_facts(d.basetype, d.typtypmod)})
    return _rows("domains", out)


@view("information_schema", "enabled_roles")
def _enabled_roles(catalog, session):
    return [(getattr(session, "user", "admin"),)]


@view("information_schema", "applicable_roles")
def _applicable_roles(catalog, session):
    return ()


@view("information_schema", "table_privileges")
def _table_privileges(catalog, session):
    return ()


for _name in ("referential_constraints", "views", "parameters"):
    view("information_schema", _name)(lambda catalog, session: ())
