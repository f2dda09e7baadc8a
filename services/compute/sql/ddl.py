"""DDL: CREATE SCHEMA / TABLE / INDEX, DROP TABLE / SCHEMA / INDEX against the catalog.

Each function validates the statement (binding default expressions like PostgreSQL does)
and returns a `DdlAction`: `check()` re-validates, `apply(txn)` changes the catalog and
returns (tag, notices, rows). Autocommit DDL applies at once; inside a transaction block
it applies at COMMIT (DSQL allows one DDL per transaction and no DML with it).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Callable

from pglast import ast
from pglast.stream import RawStream

from services.common import errors
from services.common.errors import PgError

from ..catalog import ROWID_COLUMN, Column, Index, Table
from . import types as T
from .bind import Binder, Scope, current_user, qualified, resolve_schema, search_path, type_from_typename
from .execute import table_has_rows
from .parse import Statement

ASYNC_MESSAGE = "use CREATE INDEX ASYNC instead"


@dataclasses.dataclass
class DdlAction:
    tag: str
    apply: Callable                  # (txn) -> (tag, notices, rows)
    columns: list | None = None      # result columns (CREATE INDEX ASYNC returns a job id)


def _limits(session):
    return getattr(session, "limits", None)


def create_schema(catalog, st: Statement, session) -> DdlAction:
    n: ast.CreateSchemaStmt = st.node
    name = n.schemaname
    if n.schemaElts:
        raise errors.FeatureNotSupported("CREATE SCHEMA with elements is not supported")
    if name is None:
        raise errors.FeatureNotSupported("CREATE SCHEMA AUTHORIZATION is not supported")
    if name.startswith("pg_"):
        raise PgError(f'unacceptable schema name "{name}"', sqlstate="42939",
                      detail="The prefix \"pg_\" is reserved for system schemas.")

    def apply(txn):
        lim = _limits(session)
        existing = catalog.get_schema(name)
        if existing is not None:
            if n.if_not_exists:
                return "CREATE SCHEMA", [f'schema "{name}" already exists, skipping'], None
            raise errors.DuplicateSchema(f'schema "{name}" already exists')
        if lim is not None and len(catalog.schemas()) >= lim.schemas_max:
            raise errors.ProgramLimitExceeded(f"more than {lim.schemas_max} schemas not allowed")
        created = catalog.create_schema(name, if_not_exists=n.if_not_exists, owner=current_user(session))
        if not created:
            return "CREATE SCHEMA", [f'schema "{name}" already exists, skipping'], None
        return "CREATE SCHEMA", [], None
    return DdlAction("CREATE SCHEMA", apply)


def _deparse(node) -> str:
    return RawStream()(node)


def create_table(catalog, st: Statement, session) -> DdlAction:
    n: ast.CreateStmt = st.node
    schema, name = qualified(n.relation, catalog, session, create=True)
    b = Binder(catalog, st, session=session)
    columns: list[Column] = []
    pk_names: list[str] | None = None
    pk_name = None
    uniques: list[tuple[str | None, list[str]]] = []
    lim = _limits(session)

    def set_pk(keys, node):
        nonlocal pk_names, pk_name
        if pk_names is not None:
            raise PgError(f'multiple primary keys for table "{name}" are not allowed', sqlstate="42P16",
                          position=b.pos(node))
        pk_names = keys
        pk_name = node.conname

    for el in n.tableElts or ():
        if isinstance(el, ast.ColumnDef):
            if any(c.name == el.colname for c in columns):
                raise PgError(f'column "{el.colname}" specified more than once', sqlstate="42701",
                              position=b.pos(el))
            oid, typmod = type_from_typename(el.typeName, st)
            col = Column(id=len(columns) + 1, name=el.colname, type_oid=oid, typmod=typmod,
                         not_null=bool(el.is_not_null))
            for c in el.constraints or ():
                ct = c.contype.name
                if ct == "CONSTR_PRIMARY":
                    set_pk([el.colname], c)
                    col.not_null = True
                elif ct == "CONSTR_NOTNULL":
                    col.not_null = True
                elif ct == "CONSTR_NULL":
                    pass
                elif ct == "CONSTR_DEFAULT":
                    text = _deparse(c.raw_expr)
                    e = b.expr(c.raw_expr, Scope(), False)
                    b.assign(e, col)          # type-check now, as PostgreSQL does
                    col.default = text
                elif ct == "CONSTR_UNIQUE":
                    uniques.append((c.conname, [el.colname]))
                elif ct == "CONSTR_CHECK":
                    raise errors.FeatureNotSupported("CHECK constraints are not supported yet", position=b.pos(c))
                elif ct in ("CONSTR_IDENTITY", "CONSTR_GENERATED"):
                    raise errors.FeatureNotSupported("identity and generated columns are not supported",
                                                     position=b.pos(c))
                else:
                    raise errors.FeatureNotSupported(f"constraint {ct} is not supported", position=b.pos(c))
            columns.append(col)
        elif isinstance(el, ast.Constraint):
            ct = el.contype.name
            keys = [k.sval for k in el.keys or ()]
            if ct == "CONSTR_PRIMARY":
                set_pk(keys, el)
            elif ct == "CONSTR_UNIQUE":
                uniques.append((el.conname, keys))
            elif ct == "CONSTR_CHECK":
                raise errors.FeatureNotSupported("CHECK constraints are not supported yet", position=b.pos(el))
            else:
                raise errors.FeatureNotSupported(f"constraint {ct} is not supported", position=b.pos(el))
        else:
            raise errors.FeatureNotSupported(f"{type(el).__name__} in CREATE TABLE is not supported")
    if lim is not None and len(columns) > lim.table_columns_max:
        raise PgError(f"tables can have at most {lim.table_columns_max} columns", sqlstate="54011")

    def col_named(nm, node=None):
        for c in columns:
            if c.name == nm:
                return c
        raise errors.UndefinedColumn(f'column "{nm}" named in key does not exist', position=b.pos(node))

    if pk_names is not None:
        if lim is not None and len(pk_names) > lim.index_key_columns_max:
            raise PgError(f"more than {lim.index_key_columns_max} column keys in an index are not supported",
                          sqlstate="54011")
        pk = []
        for nm in pk_names:
            c = col_named(nm)
            c.not_null = True
            if c.id in pk:
                raise PgError(f'column "{nm}" appears twice in primary key constraint', sqlstate="42701")
            pk.append(c.id)
    else:
        rid = Column(id=len(columns) + 1, name=ROWID_COLUMN, type_oid=T.UUID, not_null=True, hidden=True)
        columns.append(rid)
        pk = [rid.id]
    indexes = []
    for conname, keys in uniques:
        ids = [col_named(k).id for k in keys]
        if pk_names is not None and ids == pk:
            continue   # UNIQUE on the primary key columns: the primary key already enforces it
        iname = conname or f"{name}_{'_'.join(keys)}_key"
        if any(ix.name == iname for ix in indexes):
            continue
        indexes.append(Index(id=0, name=iname, columns=ids, unique=True, constraint=True))
    table = Table(id=0, schema=schema, name=name, columns=columns, pk=pk,
                  pk_name=(pk_name or f"{name}_pkey") if pk_names is not None else None,
                  indexes=indexes, next_column_id=len(columns) + 1, owner=current_user(session))

    def apply(txn):
        if catalog.get_schema(schema) is None:
            raise errors.InvalidSchemaName(f'schema "{schema}" does not exist', position=b.pos(n.relation))
        existing = catalog.get_table(schema, name)
        if existing is not None:
            if n.if_not_exists:
                return "CREATE TABLE", [f'relation "{name}" already exists, skipping'], None
            raise errors.DuplicateTable(f'relation "{name}" already exists')
        if lim is not None and len(catalog.tables()) >= lim.tables_max:
            raise errors.ProgramLimitExceeded(f"creating more than {lim.tables_max} tables not allowed")
        made = catalog.create_table(table, if_not_exists=n.if_not_exists)
        if made is None:
            return "CREATE TABLE", [f'relation "{name}" already exists, skipping'], None
        return "CREATE TABLE", [], None
    return DdlAction("CREATE TABLE", apply)


def create_index(catalog, st: Statement, session) -> DdlAction:
    n: ast.IndexStmt = st.node
    schema, tname = qualified(n.relation, catalog, session)
    b = Binder(catalog, st, session=session)
    t = b.lookup_table(n.relation)
    lim = _limits(session)
    cols = []
    for p in n.indexParams:
        if p.name is None:
            raise errors.FeatureNotSupported("indexes on expressions are not supported", position=b.pos(p))
        c = t.column(p.name)
        if c is None:
            raise errors.UndefinedColumn(f'column "{p.name}" does not exist', position=b.pos(p))
        cols.append(c)
    include = []
    for p in n.indexIncludingParams or ():
        c = t.column(p.name)
        if c is None:
            raise errors.UndefinedColumn(f'column "{p.name}" does not exist', position=b.pos(p))
        include.append(c.id)
    if lim is not None and len(cols) + len(include) > lim.index_key_columns_max:
        raise PgError(f"more than {lim.index_key_columns_max} column keys in an index are not supported",
                      sqlstate="54011")
    if n.whereClause is not None:
        raise errors.FeatureNotSupported("partial indexes are not supported")
    iname = n.idxname or f"{t.name}_{'_'.join(c.name for c in cols)}_idx"
    idx = Index(id=0, name=iname, columns=[c.id for c in cols], unique=bool(n.unique), include=include)
    tag = "CREATE INDEX"

    def apply(txn):
        cur = catalog.get_table(schema, tname)
        if cur is None:
            raise errors.UndefinedTable(f'relation "{tname}" does not exist')
        if lim is not None and len(cur.indexes) >= lim.table_indexes_max:
            raise errors.ProgramLimitExceeded(f"more than {lim.table_indexes_max} indexes per table are not allowed")
        if catalog.relation_exists(schema, iname):
            if n.if_not_exists:
                return tag, [f'relation "{iname}" already exists, skipping'], None
            raise errors.DuplicateTable(f'relation "{iname}" already exists')
        if table_has_rows(txn, cur):
            if st.is_async:
                raise errors.FeatureNotSupported("CREATE INDEX ASYNC on a table with rows is not supported yet")
            raise errors.FeatureNotSupported(ASYNC_MESSAGE)
        made = catalog.create_index(schema, tname, idx, if_not_exists=n.if_not_exists)
        if made is None:
            return tag, [f'relation "{iname}" already exists, skipping'], None
        if st.is_async:
            return tag, [], [[str(uuid.uuid4())]]
        return tag, [], None
    return DdlAction(tag, apply, [("job_id", T.TEXT)] if st.is_async else None)


def drop(catalog, st: Statement, session) -> DdlAction:
    n: ast.DropStmt = st.node
    kind = n.removeType.name
    if n.behavior.name == "DROP_CASCADE":
        raise errors.FeatureNotSupported("DROP ... CASCADE is not supported")
    names = []
    for obj in n.objects:
        parts = [x.sval for x in obj] if isinstance(obj, (list, tuple)) else [obj.sval]
        names.append(parts)
    if kind == "OBJECT_TABLE":
        tag = "DROP TABLE"

        def apply(txn):
            notices = []
            targets = []
            for parts in names:
                schema = resolve_schema(catalog, session, parts[-2] if len(parts) > 1 else None, parts[-1])
                t = catalog.get_table(schema, parts[-1])
                if t is None:
                    if n.missing_ok:
                        notices.append(f'table "{parts[-1]}" does not exist, skipping')
                        continue
                    raise errors.UndefinedTable(f'table "{parts[-1]}" does not exist')
                targets.append(t)
            for t in targets:
                catalog.drop_table(t.schema, t.name)
            return tag, notices, None
        return DdlAction(tag, apply)
    if kind == "OBJECT_SCHEMA":
        tag = "DROP SCHEMA"

        def apply(txn):
            notices = []
            for parts in names:
                if not catalog.drop_schema(parts[-1], if_exists=n.missing_ok):
                    notices.append(f'schema "{parts[-1]}" does not exist, skipping')
            return tag, notices, None
        return DdlAction(tag, apply)
    if kind == "OBJECT_INDEX":
        tag = "DROP INDEX"

        def apply(txn):
            notices = []
            for parts in names:
                schema = parts[-2] if len(parts) > 1 else None
                found = None
                for t in catalog.tables(schema):
                    if schema is None and t.schema not in search_path(session):
                        continue
                    for ix in t.indexes:
                        if ix.name == parts[-1]:
                            found = (t, ix)
                if found is None:
                    if n.missing_ok:
                        notices.append(f'index "{parts[-1]}" does not exist, skipping')
                        continue
                    raise errors.UndefinedObject(f'index "{parts[-1]}" does not exist')
                t, ix = found
                if ix.constraint:
                    raise PgError(f"cannot drop index {ix.name} because constraint {ix.name} on table "
                                  f"{t.name} requires it", sqlstate="2BP01",
                                  hint=f"You can drop constraint {ix.name} on table {t.name} instead.")
                catalog.replace_table(dataclasses.replace(t, indexes=[i for i in t.indexes if i is not ix]))
            return tag, notices, None
        return DdlAction(tag, apply)
    raise errors.FeatureNotSupported(f"DROP {kind[7:]} is not supported")


def _missing_table(rel, missing_ok):
    if missing_ok:
        return "ALTER TABLE", [f'relation "{rel.relname}" does not exist, skipping'], None
    raise errors.UndefinedTable(f'relation "{rel.relname}" does not exist')


def alter_table(catalog, st: Statement, session) -> DdlAction:
    """DSQL's ALTER TABLE: ADD COLUMN [IF NOT EXISTS] name type, OWNER TO."""
    n: ast.AlterTableStmt = st.node
    if n.objtype.name != "OBJECT_TABLE":
        raise errors.FeatureNotSupported(f"ALTER {n.objtype.name[7:]} is not supported")
    schema, name = qualified(n.relation, catalog, session)
    b = Binder(catalog, st, session=session)
    adds = []
    owner = None
    for cmd in n.cmds:
        k = cmd.subtype.name
        if k == "AT_AddColumn":
            cd = cmd.def_
            if cd.constraints:
                raise errors.FeatureNotSupported("ALTER TABLE ADD COLUMN with constraints is not supported",
                                                 position=b.pos(cd))
            if cd.collClause is not None:
                raise errors.FeatureNotSupported("COLLATE not supported", position=b.pos(cd))
            oid, typmod = type_from_typename(cd.typeName, st)
            adds.append((cd.colname, oid, typmod, bool(cmd.missing_ok), bool(cd.is_not_null)))
        elif k == "AT_ChangeOwner":
            owner = cmd.newowner.rolename
        else:
            raise errors.FeatureNotSupported(f"ALTER TABLE {k[3:]} is not supported")
    lim = _limits(session)

    def apply(txn):
        t = catalog.get_table(schema, name)
        if t is None:
            return _missing_table(n.relation, n.missing_ok)
        notices = []
        cols = list(t.columns)
        next_id = t.next_column_id
        for cname, oid, typmod, if_not_exists, not_null in adds:
            if any(c.name == cname and not c.hidden for c in cols):
                if if_not_exists:
                    notices.append(f'column "{cname}" of relation "{name}" already exists, skipping')
                    continue
                raise PgError(f'column "{cname}" of relation "{name}" already exists', sqlstate="42701")
            if not_null and table_has_rows(txn, t):
                raise errors.NotNullViolation(f'column "{cname}" of relation "{name}" contains null values')
            cols.append(Column(id=next_id, name=cname, type_oid=oid, typmod=typmod, not_null=not_null))
            next_id += 1
        if lim is not None and len([c for c in cols if not c.hidden]) > lim.table_columns_max:
            raise PgError(f"tables can have at most {lim.table_columns_max} columns", sqlstate="54011")
        catalog.replace_table(dataclasses.replace(t, columns=cols, next_column_id=next_id,
                                                  owner=owner or t.owner))
        return "ALTER TABLE", notices, None
    return DdlAction("ALTER TABLE", apply)


def rename(catalog, st: Statement, session) -> DdlAction:
    n: ast.RenameStmt = st.node
    kind = n.renameType.name
    if n.relation is None:
        raise errors.FeatureNotSupported(f"ALTER {kind[7:]} RENAME is not supported")
    schema, name = qualified(n.relation, catalog, session)
    tag = "ALTER TABLE" if kind != "OBJECT_INDEX" else "ALTER INDEX"

    def apply(txn):
        t = catalog.get_table(schema, name)
        if t is None:
            return _missing_table(n.relation, n.missing_ok)
        if kind == "OBJECT_TABLE":
            catalog.rename_table(schema, name, schema, n.newname)
        elif kind == "OBJECT_COLUMN":
            c = t.column(n.subname)
            if c is None:
                raise errors.UndefinedColumn(f'column "{n.subname}" does not exist')
            if t.column(n.newname) is not None:
                raise PgError(f'column "{n.newname}" of relation "{name}" already exists', sqlstate="42701")
            cols = [dataclasses.replace(x, name=n.newname) if x.id == c.id else x for x in t.columns]
            catalog.replace_table(dataclasses.replace(t, columns=cols))
        elif kind == "OBJECT_TABCONSTRAINT":
            if t.pk_name == n.subname:
                catalog.replace_table(dataclasses.replace(t, pk_name=n.newname))
            else:
                ixs = [ix for ix in t.indexes if ix.constraint and ix.name == n.subname]
                if not ixs:
                    raise errors.UndefinedObject(f'constraint "{n.subname}" for table "{name}" does not exist')
                catalog.replace_table(dataclasses.replace(t, indexes=[
                    dataclasses.replace(ix, name=n.newname) if ix is ixs[0] else ix for ix in t.indexes]))
        else:
            raise errors.FeatureNotSupported(f"ALTER {kind[7:]} RENAME is not supported")
        return tag, [], None
    return DdlAction(tag, apply)


def set_schema(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    if n.objectType.name != "OBJECT_TABLE":
        raise errors.FeatureNotSupported(f"ALTER {n.objectType.name[7:]} SET SCHEMA is not supported")
    schema, name = qualified(n.relation, catalog, session)

    def apply(txn):
        t = catalog.get_table(schema, name)
        if t is None:
            return _missing_table(n.relation, n.missing_ok)
        catalog.rename_table(schema, name, n.newschema, name)
        return "ALTER TABLE", [], None
    return DdlAction("ALTER TABLE", apply)


HANDLERS = {
    "CreateSchemaStmt": create_schema, "CreateStmt": create_table, "IndexStmt": create_index,
    "DropStmt": drop, "AlterTableStmt": alter_table, "RenameStmt": rename, "AlterObjectSchemaStmt": set_schema,
}


def prepare_ddl(catalog, st: Statement, session) -> DdlAction:
    check_ddl(catalog, st, session)
    return HANDLERS[st.kind](catalog, st, session)


from .privileges import check_ddl  # noqa: E402  (both import each other's module)
from .rolestmts import HANDLERS as _ROLE_HANDLERS  # noqa: E402

HANDLERS.update(_ROLE_HANDLERS)
