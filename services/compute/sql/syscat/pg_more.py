"""More of the catalogs the guide marks applicable: pg_statistic (what ANALYZE keeps), pg_shdepend
(owner and ACL dependencies on roles), the text search catalogs and pg_timezone_abbrevs (PostgreSQL
15's built-in rows, pg_more_data), the memory views (what this process can honestly measure), the
catalogs that are always empty here, and two views tools query although the guide does not list
them: pg_stat_activity (the sessions of this compute node) and pg_prepared_statements.

Columns are PostgreSQL 15's, with the types we do not have replaced as in pg_columns: aclitem[],
anyarray and regtype[] by text[], inet by text.
"""

from __future__ import annotations

import os
import sys

from ..types.interval import Interval
from ..types.regoid import RegOid
from . import empty, oids as O, pg_more_data as D, register, view

# classid / refclassid values: the OIDs of the system catalogs an object lives in
PG_CLASS, PG_TYPE, PG_PROC, PG_NAMESPACE, PG_AUTHID = 1259, 1247, 1255, 2615, 1260


def _table(text: str) -> list[list[str]]:
    return [line.split("|") for line in text.splitlines() if line]


# ------------------------------------------------------------------ always empty

register("pg_catalog", "pg_largeobject_metadata", "oid:oid,lomowner:oid,lomacl:text[]", lambda c, s: ())
register("pg_catalog", "pg_parameter_acl", "oid:oid,parname:text,paracl:text[]", lambda c, s: ())


# ------------------------------------------------------------------ pg_statistic

_SLOTS = 5
_COLLATION = {25: 100, 1043: 100, 1042: 100, 19: 950}      # text types: default; name: C
_SORT_OPS = {int(t): (int(eq), int(lt)) for t, eq, lt in _table(D.SORT_OPERATORS)}
STATISTIC_COLUMNS = (
    "starelid:oid,staattnum:smallint,stainherit:boolean,stanullfrac:real,stawidth:integer,stadistinct:real,"
    + ",".join(f"stakind{i}:smallint" for i in range(1, 6)) + ","
    + ",".join(f"staop{i}:oid" for i in range(1, 6)) + ","
    + ",".join(f"stacoll{i}:oid" for i in range(1, 6)) + ","
    + ",".join(f"stanumbers{i}:real[]" for i in range(1, 6)) + ","
    + ",".join(f"stavalues{i}:text[]" for i in range(1, 6)))


def _statistic_row(table_id: int, attnum: int, type_oid: int, cs: dict) -> tuple:
    """One pg_statistic row, its slots filled in analyze.c's order: most common values (kind 1,
    equality operator), histogram (2, ordering operator), correlation (3, ordering operator)."""
    eq, lt = _SORT_OPS.get(type_oid, (0, 0))
    coll = _COLLATION.get(type_oid, 0)
    slots = []
    if cs.get("most_common_vals"):
        slots.append((1, eq, coll, cs.get("most_common_freqs"), cs["most_common_vals"]))
    if cs.get("histogram_bounds"):
        slots.append((2, lt, coll, None, cs["histogram_bounds"]))
    if cs.get("correlation") is not None:
        slots.append((3, lt, coll, [cs["correlation"]], None))
    slots += [(0, 0, 0, None, None)] * (_SLOTS - len(slots))
    kinds, ops, colls, numbers, values = zip(*slots)
    return (table_id, attnum, False, cs["null_frac"], cs["avg_width"], cs["n_distinct"],
            *kinds, *ops, *colls, *numbers, *values)


@view("pg_catalog", "pg_statistic", STATISTIC_COLUMNS)
def _pg_statistic(catalog, session):
    from .stats import table_stats
    out = []
    for t in O.tables(catalog):
        st = table_stats(catalog, t)
        for attnum, c in O.attnums(t) if st else ():
            cs = st["columns"].get(c.name)
            if cs is not None:
                out.append(_statistic_row(t.id, attnum, c.type_oid, cs))
    return out


# ------------------------------------------------------------------ pg_shdepend

def _owned_objects(catalog):
    """(classid, objid, owner name) of every object that has an owner."""
    for s in catalog.schemas():
        yield PG_NAMESPACE, s.id, getattr(s, "owner", "admin")
    for t in catalog.tables():
        yield PG_CLASS, t.id, getattr(t, "owner", "admin")
    for kind, classid in (("sequence", PG_CLASS), ("domain", PG_TYPE), ("function", PG_PROC)):
        for d in catalog.objects(kind) if hasattr(catalog, "objects") else ():
            yield classid, d.get("id"), d.get("owner", "admin")


@view("pg_catalog", "pg_shdepend",
      "dbid:oid,classid:oid,objid:oid,objsubid:integer,refclassid:oid,refobjid:oid,deptype:char")
def _pg_shdepend(catalog, session):
    """Owner ('o') and ACL ('a') dependencies of objects on roles. admin has OID 10 and plays the
    bootstrap superuser's part, whose dependencies PostgreSQL does not record (it is pinned), so
    none are recorded on admin either; PUBLIC is no role. IAM mappings (sys.iam_pg_role_mappings)
    are no PostgreSQL objects and have no pg_shdepend rows."""
    from services.compute.authcatalog import auth_of
    from services.common.rolecatalog import ADMIN, PUBLIC
    owners = {}
    out = []
    for classid, objid, owner in _owned_objects(catalog):
        owners[objid] = owner
        if owner != ADMIN:
            out.append((O.DATABASE_OID, classid, objid, 0, PG_AUTHID, O.role_oid(catalog, owner), "o"))
    classes = {"table": PG_CLASS, "schema": PG_NAMESPACE, "sequence": PG_CLASS, "function": PG_PROC,
               "domain": PG_TYPE}
    seen = set()
    auth = auth_of(catalog)
    for grantee in auth.grantees():
        for (kind, objid), g in auth.grants(grantee).items():
            if objid not in owners or kind not in classes:
                continue            # a grant left on a dropped object
            for role in (grantee, g.grantor):
                if role in (ADMIN, PUBLIC, owners[objid], "", None) or (objid, role) in seen:
                    continue
                seen.add((objid, role))
                out.append((O.DATABASE_OID, classes[kind], objid, 0, PG_AUTHID, O.role_oid(catalog, role), "a"))
    return out


# ------------------------------------------------------------------ text search

def _regproc(oid: str, name: str) -> RegOid:
    return RegOid(int(oid), name)


@view("pg_catalog", "pg_ts_parser",
      "oid:oid,prsname:name,prsnamespace:oid,prsstart:regproc,prstoken:regproc,prsend:regproc,"
      "prsheadline:regproc,prslextype:regproc")
def _pg_ts_parser(catalog, session):
    return [(int(r[0]), r[1], O.PG_CATALOG_NS, *(_regproc(r[i], r[i + 1]) for i in range(2, 12, 2)))
            for r in _table(D.TS_PARSER)]


@view("pg_catalog", "pg_ts_template",
      "oid:oid,tmplname:name,tmplnamespace:oid,tmplinit:regproc,tmpllexize:regproc")
def _pg_ts_template(catalog, session):
    return [(int(r[0]), r[1], O.PG_CATALOG_NS, _regproc(r[2], r[3]), _regproc(r[4], r[5]))
            for r in _table(D.TS_TEMPLATE)]


@view("pg_catalog", "pg_ts_dict",
      "oid:oid,dictname:name,dictnamespace:oid,dictowner:oid,dicttemplate:oid,dictinitoption:text")
def _pg_ts_dict(catalog, session):
    return [(int(r[0]), r[1], O.PG_CATALOG_NS, O.BOOTSTRAP_ROLE, int(r[2]), r[3] or None)
            for r in _table(D.TS_DICT)]


@view("pg_catalog", "pg_ts_config", "oid:oid,cfgname:name,cfgnamespace:oid,cfgowner:oid,cfgparser:oid")
def _pg_ts_config(catalog, session):
    return [(int(r[0]), r[1], O.PG_CATALOG_NS, O.BOOTSTRAP_ROLE, int(r[2])) for r in _table(D.TS_CONFIG)]


@view("pg_catalog", "pg_ts_config_map", "mapcfg:oid,maptokentype:integer,mapseqno:integer,mapdict:oid")
def _pg_ts_config_map(catalog, session):
    return [tuple(int(v) for v in r) for r in _table(D.TS_CONFIG_MAP)]


# pg_description rows of the built-in text search objects, as a fresh PostgreSQL 15 has them
_TS_CATALOGS = {"pg_ts_dict": 3600, "pg_ts_parser": 3601, "pg_ts_config": 3602, "pg_ts_template": 3764}
BUILTIN_DESCRIPTIONS = [(int(r[0]), _TS_CATALOGS[name], 0, r[-1])
                        for name, data in (("pg_ts_dict", D.TS_DICT), ("pg_ts_parser", D.TS_PARSER),
                                           ("pg_ts_config", D.TS_CONFIG), ("pg_ts_template", D.TS_TEMPLATE))
                        for r in _table(data) if r[-1] != "None"]


def _ts_visible(data: str):
    """pg_ts_*_is_visible(oid): the built-in objects live in pg_catalog, always on the path."""
    oids = {int(r[0]) for r in _table(data)}
    return lambda oid: int(oid) in oids if oid is not None else None


def _register_functions() -> None:
    from .. import types as T
    from .functions import SYSTEM_RELATION_OIDS, _pure
    SYSTEM_RELATION_OIDS.update(_TS_CATALOGS)       # obj_description(oid, 'pg_ts_config')
    for name, data in (("parser", D.TS_PARSER), ("template", D.TS_TEMPLATE), ("dict", D.TS_DICT),
                       ("config", D.TS_CONFIG)):
        _pure(f"pg_ts_{name}_is_visible", (T.OID,), T.BOOL, _ts_visible(data))


_register_functions()


# ------------------------------------------------------------------ time zones

@view("pg_catalog", "pg_timezone_abbrevs", "abbrev:text,utc_offset:interval,is_dst:boolean")
def _pg_timezone_abbrevs(catalog, session):
    return [(a, Interval(0, 0, int(secs) * 1_000_000), dst == "t") for a, secs, dst in _table(D.TIMEZONE_ABBREVS)]


# ------------------------------------------------------------------ memory

def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@view("pg_catalog", "pg_backend_memory_contexts",
      "name:text,ident:text,parent:text,level:integer,total_bytes:bigint,total_nblocks:bigint,"
      "free_bytes:bigint,free_chunks:bigint,used_bytes:bigint")
def _pg_backend_memory_contexts(catalog, session):
    """A session is a thread of the compute process: the top context is the process's resident
    memory, and below it the number of blocks Python's allocator holds. What is not measured is NULL."""
    rss = _rss_bytes()
    return [("TopMemoryContext", None, None, 0, rss, None, None, None, rss),
            ("PythonObjectAllocator", None, "TopMemoryContext", 1, None, sys.getallocatedblocks(),
             None, None, None)]


@view("pg_catalog", "pg_shmem_allocations", "name:text,off:bigint,size:bigint,allocated_size:bigint")
def _pg_shmem_allocations(catalog, session):
    """The sessions of a compute are threads of one process: all its memory is shared among them
    and none of it is a named segment, so it shows as one anonymous allocation."""
    rss = _rss_bytes()
    return [("<anonymous>", None, rss, rss)]


# ------------------------------------------------------------------ sessions

@view("pg_catalog", "pg_stat_activity")
def _pg_stat_activity(catalog, session):
    """The sessions of this compute node (those sharing its catalog). As in PostgreSQL, a session of
    a role whose privileges the current user does not have shows who, not what."""
    from services.compute.authcatalog import auth_of

    from .. import activity
    from ..bind import current_user
    from .pg_catalog import _rows
    auth, me = auth_of(catalog), current_user(session)
    node = getattr(session, "shared_catalog", catalog)
    out = []
    for s in activity.sessions():
        if getattr(s, "shared_catalog", None) is not node:
            continue
        row = {"datid": O.DATABASE_OID, "datname": s.database, "pid": int(getattr(s, "backend_pid", 0) or os.getpid()),
               "usesysid": O.role_oid(catalog, s.user), "usename": s.user,
               "application_name": s.settings.get("application_name", ""), "query": "<insufficient privilege>"}
        if auth.has_privs_of_role(me, s.user):
            a = s.activity
            state, xact_start = activity.state(s)
            row.update(client_addr=getattr(s, "client_addr", None), client_port=getattr(s, "client_port", None),
                       backend_start=a.backend_start, xact_start=xact_start, query_start=a.query_start,
                       state_change=a.state_change, state=state, query=a.query, backend_type="client backend")
        out.append(row)
    return _rows("pg_stat_activity", out)


@view("pg_catalog", "pg_prepared_statements",
      "name:text,statement:text,prepare_time:timestamptz,parameter_types:text[],from_sql:boolean,"
      "generic_plans:bigint,custom_plans:bigint")
def _pg_prepared_statements(catalog, session):
    """The current session's named statements, SQL PREPARE and protocol-level alike (the unnamed
    statement is not listed, as in PostgreSQL)."""
    from ..types import REGTYPE, encode_text
    return [(name, e.sql, e.prepare_time, [encode_text(REGTYPE, RegOid(o)) for o in e.param_oids], e.from_sql,
             e.generic_plans, 0)
            for name, e in list(getattr(session, "prepared_statements", {}).items()) if name]
