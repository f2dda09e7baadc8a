"""System views computed from the catalog: information_schema and a few pg_catalog views.

Each view is a fixed list of (column, type oid) and a function of the catalog returning
its rows; the binder treats a view like a derived table and the planner scans it with a
VirtualScan node. More views (pg_class, pg_attribute, pg_index, sys.jobs...) plug in here.
"""

from __future__ import annotations

from . import sysroles
from . import types as T

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "sys")
_SYS_NAMESPACE_OIDS = {"pg_catalog": 11, "information_schema": 13000}


def _schemas(cat):
    return sorted(cat.schemas(), key=lambda s: s.name)


def _tables(cat):
    return sorted(cat.tables(), key=lambda t: (t.schema, t.name))


def _pg_namespace(cat, session):
    rows = [(oid, name, 10) for name, oid in _SYS_NAMESPACE_OIDS.items()]
    rows += [(s.id, s.name, 10) for s in _schemas(cat)]
    return rows


def _pg_tables(cat, session):
    return [(t.schema, t.name, t.owner, None, bool(t.indexes) or t.pk_name is not None, False, False, False)
            for t in _tables(cat)]


def _index_def(t, ix_name, cols, unique) -> str:
    return (f"CREATE {'UNIQUE ' if unique else ''}INDEX {ix_name} ON {t.schema}.{t.name} USING btree_index "
            f"({', '.join(cols)})")


def _pg_indexes(cat, session):
    rows = []
    for t in _tables(cat):
        if t.pk_name is not None:
            rows.append((t.schema, t.name, t.pk_name, None,
                         _index_def(t, t.pk_name, [t.column_by_id(c).name for c in t.pk], True)))
        for ix in t.indexes:
            rows.append((t.schema, t.name, ix.name, None,
                         _index_def(t, ix.name, [t.column_by_id(c).name for c in ix.columns], ix.unique)))
    return rows


def _is_schemata(cat, session):
    db = cat.database
    names = list(_SYS_NAMESPACE_OIDS) + [s.name for s in _schemas(cat)]
    return [(db, n, getattr(session, "user", "admin"), None, None, None, None) for n in names]


def _is_tables(cat, session):
    db = cat.database
    return [(db, t.schema, t.name, "BASE TABLE", None, None, None, None, None, "YES", "NO", None)
            for t in _tables(cat)]


def _data_type(oid: int) -> str:
    t = T.lookup(oid)
    return {"bpchar": "character"}.get(t.name, t.sql_name)


def _is_columns(cat, session):
    db = cat.database
    rows = []
    for t in _tables(cat):
        pos = 0
        for c in t.columns:
            if c.hidden:
                continue
            pos += 1
            maxlen = c.typmod - 4 if c.type_oid in (T.VARCHAR, T.BPCHAR) and c.typmod >= 4 else None
            prec = scale = None
            if c.type_oid == T.NUMERIC and c.typmod >= 4:
                prec, scale = ((c.typmod - 4) >> 16) & 0xFFFF, (c.typmod - 4) & 0xFFFF
            elif c.type_oid in (T.INT2, T.INT4, T.INT8):
                prec, scale = {T.INT2: 16, T.INT4: 32, T.INT8: 64}[c.type_oid], 0
            elif c.type_oid in (T.FLOAT4, T.FLOAT8):
                prec = 24 if c.type_oid == T.FLOAT4 else 53
            rows.append((db, t.schema, t.name, c.name, pos, c.default,
                         "NO" if c.not_null else "YES", _data_type(c.type_oid), maxlen, prec, scale,
                         T.lookup(c.type_oid).name))
    return rows


_S, _N, _B, _I, _V = T.TEXT, T.NAME, T.BOOL, T.INT4, T.VARCHAR

VIEWS = {
    ("pg_catalog", "pg_namespace"): ([("oid", T.OID), ("nspname", _N), ("nspowner", T.OID)], _pg_namespace),
    ("pg_catalog", "pg_tables"): ([("schemaname", _N), ("tablename", _N), ("tableowner", _N), ("tablespace", _N),
                                   ("hasindexes", _B), ("hasrules", _B), ("hastriggers", _B), ("rowsecurity", _B)],
                                  _pg_tables),
    ("pg_catalog", "pg_indexes"): ([("schemaname", _N), ("tablename", _N), ("indexname", _N), ("tablespace", _N),
                                    ("indexdef", _S)], _pg_indexes),
    ("information_schema", "schemata"): ([("catalog_name", _N), ("schema_name", _N), ("schema_owner", _N),
                                          ("default_character_set_catalog", _N),
                                          ("default_character_set_schema", _N),
                                          ("default_character_set_name", _N), ("sql_path", _V)], _is_schemata),
    ("information_schema", "tables"): ([("table_catalog", _N), ("table_schema", _N), ("table_name", _N),
                                        ("table_type", _V), ("self_referencing_column_name", _N),
                                        ("reference_generation", _V), ("user_defined_type_catalog", _N),
                                        ("user_defined_type_schema", _N), ("user_defined_type_name", _N),
                                        ("is_insertable_into", _V), ("is_typed", _V), ("commit_action", _V)],
                                       _is_tables),
    ("information_schema", "columns"): ([("table_catalog", _N), ("table_schema", _N), ("table_name", _N),
                                         ("column_name", _N), ("ordinal_position", _I), ("column_default", _V),
                                         ("is_nullable", _V), ("data_type", _V), ("character_maximum_length", _I),
                                         ("numeric_precision", _I), ("numeric_scale", _I), ("udt_name", _N)],
                                        _is_columns),
}


VIEWS.update(sysroles.VIEWS)


def lookup(schema: str | None, name: str):
    """(columns, rows function) of a system view, or None."""
    if schema is None:
        return VIEWS.get(("pg_catalog", name))
    return VIEWS.get((schema, name))
