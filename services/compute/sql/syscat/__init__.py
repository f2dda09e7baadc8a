"""System catalogs: pg_catalog, information_schema and the `sys` views, computed from the catalog.

A view is a fixed list of (column, type oid) and a function `rows(catalog, session)` of the
catalog model (services/compute/catalog.py) and the session; the binder treats a view like
a derived table and the planner scans it with a VirtualScan node. Nothing is stored: every
scan reads the compute's cached catalog (and, for statistics, the ANALYZE results in etcd).

    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      binder: lookup("pg_catalog", "pg_class") -> View(columns, rows)
      planner: VirtualScan(rows) -> executor calls rows(catalog, session) once per scan

Other parts add a view with one call (columns as "name:type,..." or a list of (name, oid)):

    @syscat.view("sys", "jobs", "job_id:text,status:text,details:text")
    def _jobs(catalog, session): return [...]

Modules: `oids` (how catalog objects get OIDs), `pg_catalog` and `information_schema` (the
views), `functions` (pg_get_indexdef, format_type, has_*_privilege, ...), `settings` (SET,
SHOW, pg_settings), `stats` (ANALYZE and pg_stats).
"""

from __future__ import annotations

import threading
from typing import Callable

from .. import types as T

DEFAULT_SEARCH_SCHEMA = "pg_catalog"     # unqualified names find system views here first, as in PostgreSQL


# (schema, name) -> (columns [(name, type oid)], rows(catalog, session)); others may VIEWS.update(...)
VIEWS: dict[tuple[str, str], tuple[list[tuple[str, int]], Callable]] = {}

_TYPE_NAMES = {
    "bigint": T.INT8, "boolean": T.BOOL, "bytea": T.BYTEA, "char": T.CHAR, "int4": T.INT4, "integer": T.INT4,
    "interval": T.INTERVAL, "name": T.NAME, "oid": T.OID, "real": T.FLOAT4, "regproc": T.REGPROC,
    "regtype": T.REGTYPE, "regclass": T.REGCLASS, "smallint": T.INT2, "text": T.TEXT, "varchar": T.VARCHAR,
    "timestamp with time zone": T.TIMESTAMPTZ, "timestamptz": T.TIMESTAMPTZ, "xid": T.OID, "uuid": T.UUID,
    "int2vector": 22, "oidvector": 30, "float8": T.FLOAT8, "double precision": T.FLOAT8,
}


def type_oid(spec: str) -> int:
    if spec.endswith("[]"):
        return T.ARRAY_OF.get(type_oid(spec[:-2]), 1009)
    return _TYPE_NAMES[spec]


def parse_columns(spec) -> list[tuple[str, int]]:
    if not isinstance(spec, str):
        return list(spec)
    return [(c.split(":", 1)[0], type_oid(c.split(":", 1)[1])) for c in spec.split(",")]


def register(schema: str, name: str, columns, rows: Callable) -> None:
    VIEWS[(schema, name)] = (parse_columns(columns), rows)


def view(schema: str, name: str, columns=None):
    """Decorator: register `rows(catalog, session)` as schema.name (pg_catalog/information_schema
    views default to PostgreSQL 15's column list in pg_columns)."""
    def deco(fn):
        cols = columns
        if cols is None:
            from . import pg_columns
            cols = (pg_columns.PG_CATALOG if schema == "pg_catalog" else pg_columns.INFORMATION_SCHEMA)[name]
        register(schema, name, cols, fn)
        return fn
    return deco


def empty(schema: str, *names: str) -> None:
    """Catalogs that exist (clients join them) and are always empty here."""
    for n in names:
        view(schema, n)(lambda catalog, session: ())


def lookup(schema: str | None, name: str) -> tuple | None:
    """(columns, rows function) of a system view, or None. Unqualified names: pg_catalog."""
    return VIEWS.get((schema or DEFAULT_SEARCH_SCHEMA, name))


def catalog_oid(schema: str | None, name: str) -> int | None:
    """pg_class OID of a system catalog: the value of its `tableoid` system column (psql's \\dd joins
    pg_description on it)."""
    from .functions import SYSTEM_RELATION_OIDS
    return SYSTEM_RELATION_OIDS.get(name) if (schema or DEFAULT_SEARCH_SCHEMA) == "pg_catalog" else None


def system_schemas() -> set[str]:
    return {"pg_catalog", "information_schema"} | {s for s, _ in VIEWS}


def is_system_schema(name: str | None) -> bool:
    return name is None or name in system_schemas()


# ------------------------------------------------------------------ the running session

_current = threading.local()


def set_current_session(session) -> None:
    """The session whose statement this thread runs (reg* type input/output read its catalog)."""
    _current.session = session


def current_session():
    return getattr(_current, "session", None)


def resolved_names(reset: bool = False) -> bool:
    """Whether a name was resolved to an OID (e.g. 't'::regclass) since the last reset: such a
    plan holds the OID and must not be cached across DDL."""
    was = getattr(_current, "resolved", False)
    _current.resolved = False if reset else was
    return was


def note_resolved() -> None:
    _current.resolved = True


from . import pg_catalog, information_schema, functions, settings, stats  # noqa: E402,F401  (register)
from . import pg_more  # noqa: E402,F401  (pg_statistic, pg_shdepend, pg_ts_*, pg_stat_activity, ...)
from .. import sysroles  # noqa: E402  (sys.iam_pg_role_mappings, from the roles part)

VIEWS.update(sysroles.VIEWS)
VIEWS.update(__import__("services.compute.sql.sysjobs", fromlist=["VIEWS"]).VIEWS)   # sys.jobs
