"""information_schema views, computed from the catalog (PostgreSQL 15's columns, see pg_columns)."""

from __future__ import annotations

from .. import types as T
from . import empty, oids as O, pg_columns, typedata, view

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


# ---------------------------------------------------------------- roles and privileges
# PostgreSQL shows a row when the current user has the privileges of the grantor or the grantee
# (pg_has_role(..., 'USAGE')), or the grantee is PUBLIC; an owner holds every privilege, granted by itself.

def _auth(catalog, session):
    from ...authcatalog import auth_of
    from ..bind import current_user
    auth = auth_of(catalog)
    return auth, auth.effective_roles(current_user(session))


@view("information_schema", "enabled_roles")
def _enabled_roles(catalog, session):
    _, mine = _auth(catalog, session)
    return sorted((r,) for r in mine)


def _applicable(catalog, session, grantable_only: bool = False) -> list[tuple]:
    auth, mine = _auth(catalog, session)
    return sorted((member.name, role.name, _yes(admin)) for role, member, _, admin in auth.memberships()
                  if member.name in mine and (admin or not grantable_only))


@view("information_schema", "applicable_roles")
def _applicable_roles(catalog, session):
    return _applicable(catalog, session)


@view("information_schema", "administrable_role_authorizations")
def _administrable_role_authorizations(catalog, session):
    return _applicable(catalog, session, grantable_only=True)


_TABLE_PRIVILEGE_ORDER = ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_COLUMN_PRIVILEGES = ("INSERT", "SELECT", "UPDATE", "REFERENCES")


def _table_grants(catalog, session, public: bool):
    """(grantor, grantee, table, privilege, grantable) the current user may see."""
    from ...authcatalog import PUBLIC
    auth, mine = _auth(catalog, session)
    tables = {t.id: t for t in O.tables(catalog)}
    out = []
    for t in tables.values():                      # the owner's own privileges
        if t.owner in mine:
            out += [(t.owner, t.owner, t, p, True) for p in _TABLE_PRIVILEGE_ORDER]
    for grantee in auth.grantees():
        for (kind, oid), g in auth.grants(grantee).items():
            t = tables.get(oid) if kind == "table" else None
            if t is None or not (g.grantor in mine or grantee in mine or (public and grantee == PUBLIC)):
                continue
            out += [(g.grantor, grantee, t, p, p in g.grantable)
                    for p in _TABLE_PRIVILEGE_ORDER if p in g.privs]
    return out


def _table_privilege_rows(name, catalog, session, public):
    db = catalog.database
    return _rows(name, ({"grantor": grantor, "grantee": grantee, "table_catalog": db, "table_schema": t.schema,
                         "table_name": t.name, "privilege_type": p, "is_grantable": _yes(grantable),
                         "with_hierarchy": _yes(p == "SELECT")}
                        for grantor, grantee, t, p, grantable in _table_grants(catalog, session, public)))


def _column_privilege_rows(name, catalog, session, public):
    db = catalog.database
    return _rows(name, ({"grantor": grantor, "grantee": grantee, "table_catalog": db, "table_schema": t.schema,
                         "table_name": t.name, "column_name": c.name, "privilege_type": p,
                         "is_grantable": _yes(grantable)}
                        for grantor, grantee, t, p, grantable in _table_grants(catalog, session, public)
                        if p in _COLUMN_PRIVILEGES for _, c in O.attnums(t)))


@view("information_schema", "table_privileges")
def _table_privileges(catalog, session):
    return _table_privilege_rows("table_privileges", catalog, session, public=True)


@view("information_schema", "role_table_grants")
def _role_table_grants(catalog, session):
    return _table_privilege_rows("role_table_grants", catalog, session, public=False)


@view("information_schema", "column_privileges")
def _column_privileges(catalog, session):
    return _column_privilege_rows("column_privileges", catalog, session, public=True)


@view("information_schema", "role_column_grants")
def _role_column_grants(catalog, session):
    return _column_privilege_rows("role_column_grants", catalog, session, public=False)


def _object_grants(catalog, session, public: bool, kinds):
    """(grantor, grantee, kind, object document, privilege, grantable) from the ACLs of sequences,
    functions and domains (their default ones included) that the current user may see."""
    from ...authcatalog import PUBLIC
    auth, mine = _auth(catalog, session)
    for kind, privs in kinds:
        for d in sorted(catalog.objects(kind) if hasattr(catalog, "objects") else (), key=lambda d: d["id"]):
            owner = d.get("owner", "admin")
            for grantee, g in auth.acl(kind, d["id"], owner, default=True):
                if g.grantor in mine or grantee in mine or (public and grantee == PUBLIC):
                    for p in privs:
                        if p in g.privs:
                            yield (g.grantor, grantee, kind, d, p,
                                   p in g.grantable or auth.has_privs_of_role(grantee, owner))


def _usage_rows(name, catalog, session, public):
    db = catalog.database
    return _rows(name, ({"grantor": grantor, "grantee": grantee, "object_catalog": db, "object_schema": d["schema"],
                         "object_name": d["name"], "object_type": kind.upper(), "privilege_type": p,
                         "is_grantable": _yes(grantable)}
                        for grantor, grantee, kind, d, p, grantable in _object_grants(
                            catalog, session, public, (("domain", ("USAGE",)), ("sequence", ("USAGE",))))))


def _routine_rows(name, catalog, session, public):
    db = catalog.database
    return _rows(name, ({"grantor": grantor, "grantee": grantee, "specific_catalog": db,
                         "specific_schema": d["schema"], "specific_name": f"{d['name']}_{d['id']}",
                         "routine_catalog": db, "routine_schema": d["schema"], "routine_name": d["name"],
                         "privilege_type": p, "is_grantable": _yes(grantable)}
                        for grantor, grantee, _, d, p, grantable in _object_grants(
                            catalog, session, public, (("function", ("EXECUTE",)),))))


@view("information_schema", "usage_privileges")
def _usage_privileges(catalog, session):
    return _usage_rows("usage_privileges", catalog, session, public=True)


@view("information_schema", "role_usage_grants")
def _role_usage_grants(catalog, session):
    return _usage_rows("role_usage_grants", catalog, session, public=False)


@view("information_schema", "routine_privileges")
def _routine_privileges(catalog, session):
    return _routine_rows("routine_privileges", catalog, session, public=True)


@view("information_schema", "role_routine_grants")
def _role_routine_grants(catalog, session):
    return _routine_rows("role_routine_grants", catalog, session, public=False)


# ---------------------------------------------------------------- usage of tables, types and domains

def _owned_tables(catalog, session):
    _, mine = _auth(catalog, session)
    return [t for t in O.tables(catalog) if t.owner in mine]


@view("information_schema", "constraint_table_usage")
def _constraint_table_usage(catalog, session):
    db = catalog.database
    _, mine = _auth(catalog, session)
    return _rows("constraint_table_usage", (
        {"table_catalog": db, "table_schema": c["table"].schema, "table_name": c["table"].name,
         "constraint_catalog": db, "constraint_schema": c["table"].schema, "constraint_name": c["conname"]}
        for c in _constraint_rows(catalog) if c["contype"] in ("p", "u", "f") and c["table"].owner in mine))


def _column_type_usage(catalog, session, name: str, kind: str) -> list[tuple]:
    """Columns and the type (kind "udt": the base type, for a domain too) or domain ("domain") they use,
    where the current user has the privileges of the type's owner."""
    db = catalog.database
    _, mine = _auth(catalog, session)
    out = []
    for t in O.tables(catalog):
        for _, c in O.attnums(t):
            dom = getattr(c, "domain", None)
            typ = typedata.by_oid(c.type_oid) if kind == "udt" else \
                typedata.domain_by_name(dom, catalog) if dom else None
            if typ is not None and O.role_name(catalog, typ.owner) in mine:
                out.append({f"{kind}_catalog": db, f"{kind}_schema": typ.schema, f"{kind}_name": typ.typname,
                            "table_catalog": db, "table_schema": t.schema, "table_name": t.name,
                            "column_name": c.name})
    return _rows(name, out)


@view("information_schema", "column_udt_usage")
def _column_udt_usage(catalog, session):
    return _column_type_usage(catalog, session, "column_udt_usage", "udt")


@view("information_schema", "column_domain_usage")
def _column_domain_usage(catalog, session):
    return _column_type_usage(catalog, session, "column_domain_usage", "domain")


@view("information_schema", "domain_constraints")
def _domain_constraints(catalog, session):
    db = catalog.database       # shown to whoever may use the domain: everyone (USAGE is PUBLIC's)
    return _rows("domain_constraints", (
        {"constraint_catalog": db, "constraint_schema": d.schema, "constraint_name": chk["name"],
         "domain_catalog": db, "domain_schema": d.schema, "domain_name": d.typname,
         "is_deferrable": "NO", "initially_deferred": "NO"}
        for d in typedata.domains(catalog) for chk in d.checks))


@view("information_schema", "domain_udt_usage")
def _domain_udt_usage(catalog, session):
    db = catalog.database
    _, mine = _auth(catalog, session)
    out = []
    for d in typedata.domains(catalog):
        base = typedata.by_oid(d.basetype)
        if base is not None and O.role_name(catalog, base.owner) in mine:
            out.append({"udt_catalog": db, "udt_schema": base.schema, "udt_name": base.typname,
                        "domain_catalog": db, "domain_schema": d.schema, "domain_name": d.typname})
    return _rows("domain_udt_usage", out)


@view("information_schema", "column_column_usage")
def _column_column_usage(catalog, session):
    """Generated columns and the columns their expressions read."""
    import re
    db = catalog.database
    out = []
    for t in _owned_tables(catalog, session):
        cols = O.attnums(t)
        for _, g in cols:
            expr = getattr(g, "generated", None)
            if not expr:
                continue
            words = {w.strip('"') for w in re.findall(r'[A-Za-z_][A-Za-z0-9_$]*|"[^"]+"', expr)}
            out += [{"table_catalog": db, "table_schema": t.schema, "table_name": t.name, "column_name": c.name,
                     "dependent_column": g.name} for _, c in cols if c.name in words and c is not g]
    return _rows("column_column_usage", out)


@view("information_schema", "element_types")
def _element_types(catalog, session):
    """The element types of array columns (collection_type_identifier is the column's dtd_identifier)."""
    db = catalog.database
    out = []
    from ..bind import current_user
    auth, user = _auth(catalog, session)[0], current_user(session)
    for t in O.tables(catalog):
        if not auth.table_privileges(user, t):       # as information_schema.columns: columns one may use
            continue
        for pos, c in O.attnums(t):
            arr = typedata.by_oid(c.type_oid)
            elem = typedata.by_oid(arr.typelem) if arr is not None and arr.typcategory == "A" else None
            if elem is None:
                continue
            out.append({"object_catalog": db, "object_schema": t.schema, "object_name": t.name,
                        "object_type": "TABLE", "collection_type_identifier": str(pos),
                        "data_type": _data_type(elem.oid, catalog), "udt_catalog": db, "udt_schema": elem.schema,
                        "udt_name": elem.typname, "dtd_identifier": f"a{pos}"})
    return _rows("element_types", out)


# ---------------------------------------------------------------- constants and what DSQL does not have

@view("information_schema", "information_schema_catalog_name")
def _information_schema_catalog_name(catalog, session):
    return [(catalog.database,)]


@view("information_schema", "character_sets")
def _character_sets(catalog, session):
    return [(None, None, "UTF8", "UCS", "UTF8", catalog.database, "pg_catalog", "C")]


_COLLATIONS = ("default", "C")        # pg_collation's rows


@view("information_schema", "collations")
def _collations(catalog, session):
    return [(catalog.database, "pg_catalog", name, "NO PAD") for name in _COLLATIONS]


@view("information_schema", "collation_character_set_applicability")
def _collation_character_set_applicability(catalog, session):
    return [(catalog.database, "pg_catalog", name, None, None, "UTF8") for name in _COLLATIONS]


# views, triggers, foreign data, user-defined (composite) types and transforms do not exist in DSQL;
# SQL functions' bodies are not analysed for the objects they use
empty("information_schema", "referential_constraints", "views", "parameters", "attributes",
      "check_constraint_routine_usage", "column_options", "foreign_data_wrapper_options", "foreign_data_wrappers",
      "foreign_server_options", "foreign_servers", "foreign_table_options", "foreign_tables",
      "routine_column_usage", "routine_routine_usage", "routine_sequence_usage", "routine_table_usage",
      "transforms", "triggered_update_columns", "triggers", "user_defined_types", "user_mapping_options",
      "user_mappings", "view_column_usage", "view_routine_usage", "view_table_usage")
