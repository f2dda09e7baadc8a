"""The pg_catalog views, computed from the catalog model (tables, indexes, schemas, roles,
domains, sequences, functions) on every scan. Columns are PostgreSQL 15's (pg_columns); a
row is built as a dict and the columns it does not name are NULL."""

from __future__ import annotations

import math

from . import empty, oids as O, pg_columns, typedata, view
from .exprtext import check_text
from .stats import table_stats

_ORDER = {name: [c.split(":", 1)[0] for c in spec.split(",")] for name, spec in pg_columns.PG_CATALOG.items()}


def _rows(name: str, dicts) -> list[tuple]:
    cols = _ORDER[name]
    return [tuple(d.get(c) for c in cols) for d in dicts]


def _objects(catalog, kind: str) -> list[dict]:
    """Sequences, domains and SQL functions, where the catalog keeps them (the DDL part)."""
    fn = getattr(catalog, "objects", None)
    return list(fn(kind)) if fn is not None else []


@view("pg_catalog", "pg_namespace")
def _pg_namespace(catalog, session):
    return _rows("pg_namespace", ({"oid": oid, "nspname": n, "nspowner": O.role_oid(catalog, owner)}
                                  for oid, n, owner in O.namespaces(catalog)))


def _relpages(stats) -> int:
    return math.ceil(stats["bytes"] / 32768) if stats else 0


@view("pg_catalog", "pg_class")
def _pg_class(catalog, session):
    out = []
    for r in O.relations(catalog):
        t = r.table
        ns = O.namespace_oid(catalog, r.schema)
        owner = O.role_oid(catalog, getattr(t, "owner", "admin"))
        d = {"oid": r.oid, "relname": r.name, "relnamespace": ns, "reltype": 0, "reloftype": 0, "relowner": owner,
             "relfilenode": r.oid, "reltablespace": 0, "relallvisible": 0, "reltoastrelid": 0,
             "relisshared": False, "relpersistence": "p", "relkind": r.kind, "relhasrules": False,
             "relhastriggers": False, "relhassubclass": False, "relrowsecurity": False,
             "relforcerowsecurity": False, "relispopulated": True, "relispartition": False, "relrewrite": 0,
             "relfrozenxid": 0, "relminmxid": 0}
        if r.kind == "r":
            d["relacl"] = O.acl(catalog, "table", r.oid, t.owner)
            st = table_stats(catalog, t)
            d.update(relam=O.HEAP_AM, relpages=_relpages(st), reltuples=float(st["rows"]) if st else -1.0,
                     relhasindex=t.pk_name is not None or bool(t.indexes),
                     relnatts=len(t.visible_columns), relchecks=len(getattr(t, "checks", []) or []),
                     relreplident="d")
        else:
            d.update(relam=O.INDEX_AM, relpages=0, reltuples=-1.0, relhasindex=False,
                     relnatts=len(r.key_columns) + len(r.include_columns), relchecks=0, relreplident="n")
        out.append(d)
    for s in _objects(catalog, "sequence"):
        out.append({"oid": s.get("id"), "relname": s.get("name"), "relkind": "S",
                    "relnamespace": O.namespace_oid(catalog, s.get("schema")), "reltype": 0, "reloftype": 0,
                    "relowner": O.role_oid(catalog, s.get("owner", "admin")), "relam": 0, "relfilenode": s.get("id"),
                    "reltablespace": 0, "relpages": 1, "reltuples": 1.0, "relallvisible": 0, "reltoastrelid": 0,
                    "relhasindex": False, "relisshared": False, "relpersistence": "p", "relnatts": 3,
                    "relchecks": 0, "relhasrules": False, "relhastriggers": False, "relhassubclass": False,
                    "relrowsecurity": False, "relforcerowsecurity": False, "relispopulated": True,
                    "relreplident": "n", "relispartition": False, "relrewrite": 0, "relfrozenxid": 0, "relminmxid": 0,
                    "relacl": O.acl(catalog, "sequence", s.get("id"), s.get("owner", "admin"))})
    return _rows("pg_class", out)


def _column_type(col) -> int:
    """The column's type OID: its domain's when declared with one."""
    dom = getattr(col, "domain", None)
    if dom:
        d = typedata.domain_by_name(dom)
        if d is not None:
            return d.oid
    return col.type_oid


@view("pg_catalog", "pg_attribute")
def _pg_attribute(catalog, session):
    out = []
    for r in O.relations(catalog):
        t = r.table
        if r.kind == "r":
            cols = [(n, c, _column_type(c)) for n, c in O.attnums(t)]
        else:
            cols = [(i, t.column_by_id(cid), t.column_by_id(cid).type_oid)
                    for i, cid in enumerate(r.key_columns + r.include_columns, start=1)]
        for attnum, c, typ in cols:
            ty = typedata.by_oid(typ)
            out.append({"attrelid": r.oid, "attname": c.name, "atttypid": typ, "attstattarget": -1,
                        "attlen": ty.typlen if ty else -1, "attnum": attnum, "attndims": 0, "attcacheoff": -1,
                        "atttypmod": c.typmod, "attbyval": ty.typbyval if ty else False,
                        "attalign": ty.typalign if ty else "i", "attstorage": ty.typstorage if ty else "p",
                        "attcompression": "", "attnotnull": bool(c.not_null) if r.kind == "r" else False,
                        "atthasdef": r.kind == "r" and (c.default is not None or bool(getattr(c, "generated", None))),
                        "atthasmissing": False, "attidentity": getattr(c, "identity", None) or "",
                        "attgenerated": "s" if getattr(c, "generated", None) else "", "attisdropped": False,
                        "attislocal": True, "attinhcount": 0,
                        "attcollation": ty.typcollation if ty else 0})
    return _rows("pg_attribute", out)


@view("pg_catalog", "pg_attrdef")
def _pg_attrdef(catalog, session):
    out = []
    for t in O.tables(catalog):
        for n, c in O.attnums(t):
            expr = getattr(c, "generated", None) or c.default
            if expr is not None:
                out.append({"oid": O.attrdef_oid(t, n), "adrelid": t.id, "adnum": n, "adbin": expr})
    return _rows("pg_attrdef", out)


@view("pg_catalog", "pg_index")
def _pg_index(catalog, session):
    out = []
    for r in O.relations(catalog):
        if r.kind != "i":
            continue
        t = r.table
        keys = [O.attnum_of(t, c) for c in r.key_columns]
        inc = [O.attnum_of(t, c) for c in r.include_columns]
        colls = [typedata.by_oid(t.column_by_id(c).type_oid).typcollation if typedata.by_oid(
            t.column_by_id(c).type_oid) else 0 for c in r.key_columns]
        out.append({"indexrelid": r.oid, "indrelid": t.id, "indnatts": len(keys) + len(inc),
                    "indnkeyatts": len(keys), "indisunique": r.unique,
                    "indnullsnotdistinct": bool(getattr(r.index, "nulls_not_distinct", False)),
                    "indisprimary": r.is_pk, "indisexclusion": False, "indimmediate": True,
                    "indisclustered": False, "indisvalid": r.valid, "indcheckxmin": False, "indisready": True,
                    "indislive": True, "indisreplident": False, "indkey": keys + inc, "indcollation": colls,
                    "indclass": [0] * len(keys), "indoption": [0] * len(keys)})
    return _rows("pg_index", out)


def constraints(catalog) -> list[dict]:
    """pg_constraint rows: primary keys, UNIQUE constraints, CHECK constraints (tables and domains)."""
    out = []
    for t in O.tables(catalog):
        ns = O.namespace_oid(catalog, t.schema)
        base = {"connamespace": ns, "condeferrable": False, "condeferred": False, "convalidated": True,
                "conrelid": t.id, "contypid": 0, "conparentid": 0, "confrelid": 0, "confupdtype": " ",
                "confdeltype": " ", "confmatchtype": " ", "conislocal": True, "coninhcount": 0,
                "connoinherit": False, "table": t}
        if t.pk_name is not None:
            out.append({**base, "oid": O.pk_index_oid(t), "conname": t.pk_name, "contype": "p",
                        "conindid": O.pk_index_oid(t), "conkey": [O.attnum_of(t, c) for c in t.pk]})
        for ix in t.indexes:
            if ix.constraint:
                out.append({**base, "oid": ix.id, "conname": ix.name, "contype": "u", "conindid": ix.id,
                            "conkey": [O.attnum_of(t, c) for c in ix.columns], "index": ix})
        for n, chk in enumerate(getattr(t, "checks", []) or [], start=1):
            if chk.get("domain"):
                continue          # a domain's check, enforced on the column: shown on the domain
            out.append({**base, "oid": O.check_oid(t, n), "conname": chk["name"], "contype": "c",
                        "conindid": 0, "conbin": check_text(t, chk["expr"]), "source": chk["expr"],
                        "conkey": _check_columns(t, chk)})
    for d in typedata.domains(catalog):
        for n, chk in enumerate(d.checks, start=1):
            out.append({"oid": O.check_oid(d, n), "conname": chk["name"], "connamespace": d.namespace,
                        "contype": "c", "condeferrable": False, "condeferred": False, "convalidated": True,
                        "conrelid": 0, "contypid": d.oid, "conindid": 0, "conparentid": 0, "confrelid": 0,
                        "confupdtype": " ", "confdeltype": " ", "confmatchtype": " ", "conislocal": True,
                        "coninhcount": 0, "connoinherit": False, "conbin": chk["expr"]})
    return out


def _check_columns(t, chk) -> list[int]:
    import re
    words = set(re.findall(r'[A-Za-z_][A-Za-z0-9_$]*|"[^"]+"', chk.get("expr", "")))
    words = {w.strip('"') for w in words}
    return [n for n, c in O.attnums(t) if c.name in words]


@view("pg_catalog", "pg_constraint")
def _pg_constraint(catalog, session):
    return _rows("pg_constraint", constraints(catalog))


@view("pg_catalog", "pg_am")
def _pg_am(catalog, session):
    from ..types.regoid import RegOid
    return _rows("pg_am", [
        {"oid": O.HEAP_AM, "amname": "heap", "amhandler": RegOid(3, "heap_tableam_handler"), "amtype": "t"},
        {"oid": O.INDEX_AM, "amname": O.INDEX_AM_NAME, "amhandler": RegOid(330, "bthandler"), "amtype": "i"}])


@view("pg_catalog", "pg_type")
def _pg_type(catalog, session):
    return [t.row() for t in typedata.all_types(catalog)]


@view("pg_catalog", "pg_roles")
def _pg_roles(catalog, session):
    return _rows("pg_roles", ({"rolname": r.name, "rolsuper": r.superuser, "rolinherit": True,
                               "rolcreaterole": r.createrole, "rolcreatedb": r.createdb, "rolcanlogin": r.login,
                               "rolreplication": False, "rolconnlimit": -1, "rolpassword": "********",
                               "rolbypassrls": r.superuser, "oid": r.oid} for r in O.roles(catalog)))


@view("pg_catalog", "pg_user")
def _pg_user(catalog, session):
    return _rows("pg_user", ({"usename": r.name, "usesysid": r.oid, "usecreatedb": r.createdb,
                              "usesuper": r.superuser, "userepl": False, "usebypassrls": r.superuser,
                              "passwd": "********"} for r in O.roles(catalog) if r.login))


@view("pg_catalog", "pg_auth_members")
def _pg_auth_members(catalog, session):
    rs = O.roles(catalog)
    by_name = {r.name: r.oid for r in rs}
    return _rows("pg_auth_members", ({"roleid": by_name[m], "member": r.oid, "grantor": O.BOOTSTRAP_ROLE,
                                      "admin_option": False}
                                     for r in rs for m in r.member_of if m in by_name))


@view("pg_catalog", "pg_database")
def _pg_database(catalog, session):
    return _rows("pg_database", [{"oid": O.DATABASE_OID, "datname": catalog.database, "datdba": O.BOOTSTRAP_ROLE,
                                  "encoding": 6, "datlocprovider": "c", "datistemplate": False,
                                  "datallowconn": True, "datconnlimit": -1, "datfrozenxid": 0, "datminmxid": 0,
                                  "dattablespace": 1663, "datcollate": "C", "datctype": "C"}])


@view("pg_catalog", "pg_tablespace")
def _pg_tablespace(catalog, session):
    return _rows("pg_tablespace", [{"oid": 1663, "spcname": "pg_default", "spcowner": O.BOOTSTRAP_ROLE}])


@view("pg_catalog", "pg_collation")
def _pg_collation(catalog, session):
    base = {"collnamespace": O.PG_CATALOG_NS, "collowner": O.BOOTSTRAP_ROLE, "collisdeterministic": True}
    return _rows("pg_collation", [
        {**base, "oid": 100, "collname": "default", "collprovider": "d", "collencoding": -1},
        {**base, "oid": 950, "collname": "C", "collprovider": "c", "collencoding": -1, "collcollate": "C",
         "collctype": "C"}])


@view("pg_catalog", "pg_tables")
def _pg_tables(catalog, session):
    return [(t.schema, t.name, getattr(t, "owner", "admin"), None, t.pk_name is not None or bool(t.indexes),
             False, False, False) for t in O.tables(catalog)]


@view("pg_catalog", "pg_indexes")
def _pg_indexes(catalog, session):
    from .functions import index_def
    return [(r.schema, r.table.name, r.name, None, index_def(catalog, r))
            for r in O.relations(catalog) if r.kind == "i"]


@view("pg_catalog", "pg_proc")
def _pg_proc(catalog, session):
    return [f.row() for f in typedata.functions(catalog)]


PG_CLASS, PG_NAMESPACE, PG_PROC, PG_TYPE, PG_CONSTRAINT, PG_AUTHID, PG_DATABASE = \
    1259, 2615, 1255, 1247, 2606, 1260, 1262


def descriptions(catalog) -> list[tuple[int, int, int, str]]:
    """(objoid, classoid, objsubid, description) of every COMMENT ON (sql/comments.py)."""
    out = []
    for t in O.tables(catalog):
        out.append((t.id, PG_CLASS, 0, t.comment))
        out += [(t.id, PG_CLASS, n, c.comment) for n, c in O.attnums(t)]
        if t.pk_name is not None:
            pk = O.pk_index_oid(t)
            out += [(pk, PG_CLASS, 0, t.pk_index_comment), (pk, PG_CONSTRAINT, 0, t.pk_comment)]
        for ix in t.indexes:
            out += [(ix.id, PG_CLASS, 0, ix.comment), (ix.id, PG_CONSTRAINT, 0, ix.constraint_comment)]
        out += [(O.check_oid(t, n), PG_CONSTRAINT, 0, ck.get("comment"))
                for n, ck in enumerate(t.checks, start=1) if not ck.get("domain")]
    out += [(s.id, PG_NAMESPACE, 0, s.comment) for s in catalog.schemas()]
    for kind, classoid in (("sequence", PG_CLASS), ("function", PG_PROC), ("domain", PG_TYPE)):
        out += [(d["id"], classoid, 0, d.get("comment")) for d in _objects(catalog, kind)]
    for d in typedata.domains(catalog):
        out += [(O.check_oid(d, n), PG_CONSTRAINT, 0, ck.get("comment")) for n, ck in enumerate(d.checks, start=1)]
    from .pg_more import BUILTIN_DESCRIPTIONS      # the built-in text search objects' (psql's \dF)
    return [row for row in out if row[3] is not None] + BUILTIN_DESCRIPTIONS


def description_index(catalog) -> dict[tuple[int, int, int], str]:
    """{(objoid, classoid, objsubid): description}, kept per catalog version: obj_description and
    col_description are called once per row of psql's listings."""
    fresh = getattr(catalog, "_fresh", None)
    if fresh is None:
        return {row[:3]: row[3] for row in descriptions(catalog)}
    fresh()
    cached = catalog.__dict__.get("_description_index")
    if cached is None or cached[0] != catalog.version:
        cached = catalog.__dict__["_description_index"] = (
            catalog.version, {row[:3]: row[3] for row in descriptions(catalog)})
    return cached[1]


def shared_descriptions(catalog) -> list[tuple[int, int, str]]:
    """(objoid, classoid, description) of COMMENT ON ROLE and DATABASE."""
    out = [(r.oid, PG_AUTHID, r.comment) for r in O.roles(catalog) if r.comment is not None]
    comment = catalog.database_comment() if hasattr(catalog, "database_comment") else None
    return out + ([(O.DATABASE_OID, PG_DATABASE, comment)] if comment is not None else [])


@view("pg_catalog", "pg_description")
def _pg_description(catalog, session):
    return descriptions(catalog)


@view("pg_catalog", "pg_shdescription")
def _pg_shdescription(catalog, session):
    return shared_descriptions(catalog)


@view("pg_catalog", "pg_depend")
def _pg_depend(catalog, session):
    """Indexes depend on their tables ('a' auto, 'i' internal for constraint indexes)."""
    out = []
    for r in O.relations(catalog):
        if r.kind == "i":
            internal = r.is_pk or bool(getattr(r.index, "constraint", False))
            out.append({"classid": 1259, "objid": r.oid, "objsubid": 0, "refclassid": 2606 if internal else 1259,
                        "refobjid": r.oid if internal else r.table.id, "refobjsubid": 0,
                        "deptype": "i" if internal else "a"})
    return _rows("pg_depend", out)


@view("pg_catalog", "pg_sequence")
def _pg_sequence(catalog, session):
    out = []
    for s in _objects(catalog, "sequence"):
        out.append({"seqrelid": s.get("id"), "seqtypid": s.get("type", 20), "seqstart": s.get("start", 1),
                    "seqincrement": s.get("increment", 1), "seqmax": s.get("max", 2 ** 63 - 1),
                    "seqmin": s.get("min", 1), "seqcache": s.get("cache", 1), "seqcycle": bool(s.get("cycle"))})
    return _rows("pg_sequence", out)


@view("pg_catalog", "pg_sequences")
def _pg_sequences(catalog, session):
    from ..types.regoid import make
    out = []
    for s in _objects(catalog, "sequence"):
        out.append({"schemaname": s.get("schema"), "sequencename": s.get("name"),
                    "sequenceowner": s.get("owner", "admin"), "data_type": make("regtype", s.get("type", 20)),
                    "start_value": s.get("start", 1), "min_value": s.get("min", 1),
                    "max_value": s.get("max", 2 ** 63 - 1), "increment_by": s.get("increment", 1),
                    "cycle": bool(s.get("cycle")), "cache_size": s.get("cache", 1)})
    return _rows("pg_sequences", out)


@view("pg_catalog", "pg_views")
def _pg_views(catalog, session):
    return ()      # CREATE VIEW is not supported


@view("pg_catalog", "pg_language")
def _pg_language(catalog, session):
    base = {"lanowner": O.BOOTSTRAP_ROLE, "lanplcallfoid": 0, "laninline": 0, "lanvalidator": 0}
    return _rows("pg_language", [{**base, "oid": 12, "lanname": "internal", "lanispl": False, "lanpltrusted": False},
                                 {**base, "oid": 14, "lanname": "sql", "lanispl": False, "lanpltrusted": True}])


@view("pg_catalog", "pg_group")
def _pg_group(catalog, session):
    rs = O.roles(catalog)
    return [(r.name, r.oid, [m.oid for m in rs if r.name in m.member_of]) for r in rs if not r.login]


@view("pg_catalog", "pg_shadow")
def _pg_shadow(catalog, session):
    return [row for row in _pg_user(catalog, session)]


empty("pg_catalog", "pg_inherits", "pg_policy", "pg_trigger", "pg_statistic_ext", "pg_publication",
      "pg_publication_namespace", "pg_publication_rel", "pg_rewrite", "pg_enum", "pg_range", "pg_extension",
      "pg_matviews", "pg_partitioned_table", "pg_foreign_table", "pg_event_trigger", "pg_init_privs",
      "pg_seclabel", "pg_user_mappings", "pg_db_role_setting", "pg_default_acl",
      "pg_opclass", "pg_cast", "pg_operator")


view("pg_catalog", "pg_opfamily", "oid:oid,opfmethod:oid,opfname:name,opfnamespace:oid,opfowner:oid")(
    lambda catalog, session: ())


@view("pg_catalog", "pg_timezone_names")
def _pg_timezone_names(catalog, session):
    from ..types.interval import Interval
    return [("UTC", "UTC", Interval(0, 0, 0), False)]
