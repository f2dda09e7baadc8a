"""Privilege enforcement, with PostgreSQL's errors (42501).

DML: the binder records the privilege each table is used with (`Binder.privileges_used`);
`required()` completes it from the statement (the target's columns read by WHERE/RETURNING
need SELECT too; FOR UPDATE needs UPDATE) and `check_tables()` runs before every execution,
so a privilege change takes effect at the next statement of the next transaction.
DDL: `check_ddl()` before a DDL statement is prepared (CREATE on the schema, ownership of
the object, CREATE on the database for CREATE SCHEMA, which only admin has).
"""

from __future__ import annotations

from pglast import ast

from services.common.errors import PgError
from services.common.rolecatalog import ADMIN

from ..authcatalog import auth_of
from .bind import current_user, resolve_schema, search_path


def validate_setting(session, name: str, value: str) -> str:
    """SET ROLE / SET SESSION AUTHORIZATION with PostgreSQL's checks; the value to store."""
    if name == "role" and value == "none":
        return value
    if name == "session_authorization":
        if value != getattr(session, "user", ADMIN):      # only superusers may, and admin is not one
            raise PgError("permission denied to set session authorization", sqlstate="42501")
        return value
    auth = auth_of(session.catalog)
    if auth.get_role(value) is None:
        raise PgError(f'role "{value}" does not exist', sqlstate="42704")
    if value not in auth.member_roles(getattr(session, "user", ADMIN)):
        raise PgError(f'permission denied to set role "{value}"', sqlstate="42501")
    return value


def denied(kind: str, name: str) -> PgError:
    return PgError(f"permission denied for {kind} {name}", sqlstate="42501")


def not_owner(kind: str, name: str) -> PgError:
    return PgError(f"must be owner of {kind} {name}", sqlstate="42501")


# ------------------------------------------------------------------ DML

def _reads_columns(*nodes) -> bool:
    found = []

    def walk(node):
        if found:
            return
        if isinstance(node, ast.ColumnRef):
            found.append(node)
        elif isinstance(node, (list, tuple)):
            for x in node:
                walk(x)
        elif isinstance(node, ast.Node):
            for slot in node.__slots__:
                v = getattr(node, slot, None)
                if isinstance(v, (ast.Node, list, tuple)):
                    walk(v)
    for n in nodes:
        walk(n)
    return bool(found)


def required(stmt, binder, for_update: bool = False) -> tuple[tuple[str, str, str], ...]:
    """(schema, table, privilege) triples a bound statement needs, in a stable order."""
    used = {k: set(v) for k, v in getattr(binder, "privileges_used", {}).items()}
    node = stmt.node
    returning = getattr(node, "returningList", None) or getattr(node, "returningClause", None)
    target = None
    if isinstance(node, (ast.UpdateStmt, ast.DeleteStmt, ast.InsertStmt)) and node.relation is not None:
        target = next((k for k, v in used.items() if v & {"INSERT", "UPDATE", "DELETE"}), None)
    if target is not None:
        if isinstance(node, ast.UpdateStmt):
            vals = [rt.val for rt in node.targetList or ()]
            reads = _reads_columns(node.whereClause, returning, vals)
        elif isinstance(node, ast.DeleteStmt):
            reads = _reads_columns(node.whereClause, returning)
        else:
            occ = node.onConflictClause
            reads = returning is not None or (occ is not None and occ.action.name == "ONCONFLICT_UPDATE")
            if occ is not None and occ.action.name == "ONCONFLICT_UPDATE":
                used[target].add("UPDATE")
        if reads:
            used[target].add("SELECT")
    if for_update:
        for privs in used.values():
            privs.add("UPDATE")
    # calling a SQL function needs EXECUTE on it: ("schema", "f(23)", "EXECUTE"), checked after the tables
    calls = sorted((schema, key, "EXECUTE") for kind, schema, key in getattr(binder, "objects_used", {})
                   if kind == "function")
    return tuple(sorted((s, t, p) for (s, t), privs in used.items() for p in privs)) + tuple(calls)


def check_object(session, kind: str, doc: dict, any_of) -> None:
    """Raise 42501 unless the current user holds one of `any_of` on a sequence, function or domain."""
    held = auth_of(session.catalog).object_privileges(current_user(session), kind, doc["id"], doc.get("owner", ADMIN))
    if not held.intersection(any_of):
        raise denied({"domain": "type"}.get(kind, kind), doc["name"])


def check_tables(session, needs) -> None:
    """Raise 42501 unless the current user holds every needed privilege (USAGE on each schema first)."""
    if not needs:
        return
    catalog = session.catalog
    auth = auth_of(catalog)
    user = current_user(session)
    # a statement that passed is not re-checked until the catalog or the grants change
    catalog._fresh()
    auth._fresh()
    stamp = (catalog.version, auth.generation, user)
    passed = session.__dict__.setdefault("_privileges_passed", {})
    if passed.get(needs) == stamp:
        return
    seen_schemas = set()
    for schema, name, priv in needs:
        if schema not in seen_schemas:
            seen_schemas.add(schema)
            sch = catalog.get_schema(schema)
            if sch is not None and "USAGE" not in auth.schema_privileges(user, sch):
                raise denied("schema", schema)
        if priv == "EXECUTE":
            fn = catalog.get_object("function", schema, name)
            if fn is not None:
                check_object(session, "function", fn, ("EXECUTE",))
            continue
        t = catalog.get_table(schema, name)
        if t is not None and priv not in auth.table_privileges(user, t):
            raise denied("table", name)
    if len(passed) > 256:
        passed.clear()
    passed[needs] = stamp


# ------------------------------------------------------------------ DDL

def _require_owner(auth, user, owner: str, kind: str, name: str) -> None:
    if not auth.has_privs_of_role(user, owner):
        raise not_owner(kind, name)


def _require_create(auth, user, catalog, schema: str) -> None:
    sch = catalog.get_schema(schema)
    if sch is not None and "CREATE" not in auth.schema_privileges(user, sch):
        raise denied("schema", schema)


def _rel(catalog, session, rv) -> tuple[str, str]:
    return resolve_schema(catalog, session, rv.schemaname, rv.relname), rv.relname


def _owned_table(auth, user, catalog, schema, name) -> None:
    t = catalog.get_table(schema, name)
    if t is not None:
        _require_owner(auth, user, t.owner, "table", name)


def _owned_index(auth, user, catalog, schema, name) -> None:
    for t in catalog.tables(schema):
        if any(ix.name == name for ix in t.indexes) or t.pk_name == name:
            _require_owner(auth, user, t.owner, "index", name)


_OBJECT_KINDS = {"OBJECT_SEQUENCE": ("sequence", "sequence"), "OBJECT_DOMAIN": ("domain", "type"),
                 "OBJECT_FUNCTION": ("function", "function")}


def _objects_named(catalog, session, kind: str, parts: list[str]) -> list[dict]:
    """The sequences, domains or functions (any overload) a DROP names; [] if none."""
    schemas = [parts[-2]] if len(parts) > 1 else search_path(session)
    return [d for d in catalog.objects(kind) if d["name"] == parts[-1] and d["schema"] in schemas]


def _type_names(kind: str, n) -> list:
    """The TypeNames a CREATE TABLE / ADD COLUMN / CREATE FUNCTION / CREATE DOMAIN uses."""
    if kind == "CreateStmt":
        return [e.typeName for e in n.tableElts or () if isinstance(e, ast.ColumnDef) and e.typeName]
    if kind == "AlterTableStmt":
        return [c.def_.typeName for c in n.cmds or () if isinstance(getattr(c, "def_", None), ast.ColumnDef)]
    if kind == "CreateFunctionStmt":
        return [p.argType for p in n.parameters or ()] + ([n.returnType] if n.returnType else [])
    return [n.typeName] if kind == "CreateDomainStmt" else []


def _check_domains_used(auth, user, catalog, session, kind: str, n) -> None:
    """USAGE on each domain a column, parameter or domain is declared with (PostgreSQL's
    `permission denied for type s.d`, the name qualified unless its schema is on the search path)."""
    from .objects import find_object
    for tn in _type_names(kind, n):
        doc = find_object(catalog, session, "domain", [x.sval for x in tn.names])
        if doc is not None and "USAGE" not in auth.object_privileges(user, "domain", doc["id"],
                                                                     doc.get("owner", ADMIN)):
            shown = doc["name"] if doc["schema"] in search_path(session) else f"{doc['schema']}.{doc['name']}"
            raise denied("type", shown)


def check_ddl(catalog, st, session) -> None:
    """Raise 42501 if the current user may not run this DDL statement. Objects that do not
    exist are left to the statement itself to report."""
    auth = auth_of(catalog)
    user = current_user(session)
    n = st.node
    kind = st.kind
    if kind == "CreateSchemaStmt":
        if not auth.has_privs_of_role(user, ADMIN):
            raise denied("database", catalog.database)
    elif kind in ("CreateStmt", "CreateSeqStmt"):
        rel = n.relation if kind == "CreateStmt" else n.sequence
        schema = resolve_schema(catalog, session, rel.schemaname, rel.relname, create=True)
        _require_create(auth, user, catalog, schema)
    elif kind in ("CreateDomainStmt", "CreateFunctionStmt"):
        names = n.domainname if kind == "CreateDomainStmt" else n.funcname
        parts = [x.sval for x in names]
        schema = parts[-2] if len(parts) > 1 else resolve_schema(catalog, session, None, parts[-1], create=True)
        _require_create(auth, user, catalog, schema)
    elif kind == "IndexStmt":
        _owned_table(auth, user, catalog, *_rel(catalog, session, n.relation))
    elif kind == "DropStmt" and n.removeType.name in _OBJECT_KINDS:
        kind_name, label = _OBJECT_KINDS[n.removeType.name]
        for obj in n.objects or ():
            parts = [x.sval for x in (getattr(obj, "objname", None) or getattr(obj, "names", None) or obj)]
            for doc in _objects_named(catalog, session, kind_name, parts):
                shown = doc["name"] if kind_name == "sequence" else ".".join(parts)   # as PostgreSQL words it
                _require_owner(auth, user, doc.get("owner", ADMIN), label, shown)
    elif kind == "DropStmt":
        what = n.removeType.name
        for obj in n.objects or ():
            parts = [x.sval for x in obj] if isinstance(obj, (list, tuple)) else [getattr(obj, "sval", None)]
            if None in parts:
                continue
            if what == "OBJECT_SCHEMA":
                sch = catalog.get_schema(parts[-1])
                if sch is not None:
                    _require_owner(auth, user, sch.owner, "schema", sch.name)
                continue
            schema = parts[-2] if len(parts) > 1 else resolve_schema(catalog, session, None, parts[-1])
            if what == "OBJECT_TABLE":
                _owned_table(auth, user, catalog, schema, parts[-1])
            elif what == "OBJECT_INDEX":
                _owned_index(auth, user, catalog, schema, parts[-1])
    elif kind == "AlterTableStmt":
        schema, name = _rel(catalog, session, n.relation)
        _owned_table(auth, user, catalog, schema, name)
        for cmd in n.cmds or ():
            if cmd.subtype.name == "AT_ChangeOwner" and catalog.get_table(schema, name) is not None:
                _check_new_owner(auth, user, catalog, schema, cmd.newowner, session)
    elif kind == "RenameStmt":
        if n.renameType.name == "OBJECT_SCHEMA":
            sch = catalog.get_schema(n.subname)
            if sch is not None:
                _require_owner(auth, user, sch.owner, "schema", sch.name)
        elif n.relation is not None:
            schema, name = _rel(catalog, session, n.relation)
            if n.renameType.name == "OBJECT_INDEX":
                _owned_index(auth, user, catalog, schema, name)
            else:
                _owned_table(auth, user, catalog, schema, name)
    elif kind == "AlterObjectSchemaStmt" and n.relation is not None:
        schema, name = _rel(catalog, session, n.relation)
        if catalog.get_table(schema, name) is not None:
            _owned_table(auth, user, catalog, schema, name)
            _require_create(auth, user, catalog, n.newschema)
    if kind in ("CreateStmt", "AlterTableStmt", "CreateFunctionStmt", "CreateDomainStmt"):
        _check_domains_used(auth, user, catalog, session, kind, n)


def role_name(spec, session) -> str:
    """The role a RoleSpec names (CURRENT_USER and friends resolved)."""
    kind = spec.roletype.name
    if kind in ("ROLESPEC_CURRENT_USER", "ROLESPEC_CURRENT_ROLE"):
        return current_user(session)
    if kind == "ROLESPEC_SESSION_USER":
        return getattr(session, "user", ADMIN)
    if kind == "ROLESPEC_PUBLIC":
        return "PUBLIC"
    return spec.rolename


def _check_new_owner(auth, user, catalog, schema, spec, session) -> None:
    new_owner = role_name(spec, session)
    if auth.get_role(new_owner) is None:
        raise PgError(f'role "{new_owner}" does not exist', sqlstate="42704")
    if not auth.has_privs_of_role(user, new_owner) and new_owner not in auth.member_roles(user):
        raise PgError(f'must be member of role "{new_owner}"', sqlstate="42501")
    sch = catalog.get_schema(schema)
    if sch is not None and "CREATE" not in auth.schema_privileges(new_owner, sch):
        raise denied("schema", schema)


# ------------------------------------------------------------------ has_*_privilege

_ARITY_WITH_USER = {"has_column_privilege": 4, "pg_has_role": 3}


def has_privilege(session, fn: str, *args) -> bool:
    """has_table_privilege, has_schema_privilege, has_database_privilege, has_[any_]column_privilege,
    has_sequence_privilege, has_function_privilege, has_type_privilege and pg_has_role as PostgreSQL
    answers them (any one of a comma-separated list of privileges); other has_*_privilege functions
    are true (nothing else is guarded)."""
    catalog = session.catalog
    auth = auth_of(catalog)
    if len(args) == _ARITY_WITH_USER.get(fn, 3):
        user, args = args[0], args[1:]
        if isinstance(user, int):
            user = next((r.name for r in auth.roles() if r.oid == user), None)
            if user is None:
                return False
        elif auth.get_role(user) is None and user.lower() != "public":
            raise PgError(f'role "{user}" does not exist', sqlstate="42704")
    else:
        user = current_user(session)
    obj, wanted = args[0], args[-1]
    grant_option = "WITH GRANT OPTION" in wanted.upper()
    privs = [p.strip().upper().replace(" WITH GRANT OPTION", "") for p in wanted.split(",")]
    if fn in ("has_table_privilege", "has_column_privilege", "has_any_column_privilege"):
        held = auth.table_privileges(user, _table_arg(catalog, session, obj), grant_option)
    elif fn == "has_schema_privilege":
        s = next((x for x in catalog.schemas() if x.id == obj), None) if isinstance(obj, int) \
            else catalog.get_schema(obj)
        if s is None:
            raise PgError(f'schema "{obj}" does not exist', sqlstate="3F000")
        held = auth.schema_privileges(user, s, grant_option)
    elif fn == "has_database_privilege":
        held = {"CONNECT", "TEMPORARY", "TEMP"} | ({"CREATE"} if auth.has_privs_of_role(user, ADMIN) else set())
    elif fn == "pg_has_role":
        role = obj if isinstance(obj, str) else next((r.name for r in auth.roles() if r.oid == obj), "")
        if auth.get_role(role) is None:
            raise PgError(f'role "{role}" does not exist', sqlstate="42704")
        held = ({"MEMBER", "SET"} if role in auth.member_roles(user) else set()) | \
            ({"USAGE"} if role in auth.effective_roles(user) else set())
    elif fn in _OBJECT_FUNCTIONS:
        kind, valid = _OBJECT_FUNCTIONS[fn]
        for raw, p in zip(wanted.split(","), privs):
            if p not in valid:
                raise PgError(f'unrecognized privilege type: "{raw.strip()}"', sqlstate="22023")
        doc = _object_arg(catalog, session, kind, obj)
        if doc is None:                    # a built-in function or type: PUBLIC may use it (no such sequence oid: NULL)
            return kind != "sequence" and not grant_option
        held = auth.object_privileges(user, kind, doc["id"], doc.get("owner", ADMIN), grant_option)
    else:
        return True
    return any(p in held for p in privs)


_OBJECT_FUNCTIONS = {"has_sequence_privilege": ("sequence", ("USAGE", "SELECT", "UPDATE")),
                     "has_function_privilege": ("function", ("EXECUTE",)),
                     "has_type_privilege": ("domain", ("USAGE",))}


def _object_arg(catalog, session, kind: str, obj) -> dict | None:
    """The sequence, SQL function or domain a has_*_privilege argument names (by oid or as
    regclass / regprocedure / regtype text); None for a built-in function or type."""
    if isinstance(obj, int):
        return next((d for d in catalog.objects(kind) if d["id"] == obj), None)
    from . import objects
    from .syscat.functions import resolve_type
    if kind == "sequence":
        parts = objects.parse_qualified(obj)
        doc = objects.find_object(catalog, session, "sequence", parts)
        if doc is None:
            if _table_arg(catalog, session, obj) is not None:
                raise PgError(f'"{obj}" is not a sequence', sqlstate="42809")
        return doc
    if kind == "domain":
        oid = resolve_type(session, obj)
        return next((d for d in catalog.objects("domain") if d["id"] == oid), None)
    name, _, args = obj.partition("(")
    if not args.rstrip().endswith(")"):
        raise PgError(f'invalid input syntax for type regprocedure: "{obj}"', sqlstate="22P02")
    args = args.rstrip()[:-1]
    argtypes = [resolve_type(session, a) for a in args.split(",")] if args.strip() else []
    parts = objects.parse_qualified(name.strip())
    doc = objects.find_function(catalog, session, parts, argtypes)
    if doc is None and (len(parts) > 1 and parts[0] != "pg_catalog" or not _builtin_function(parts[-1])):
        raise PgError(f'function "{obj}" does not exist', sqlstate="42883")
    return doc


def _builtin_function(name: str) -> bool:
    from . import functions as F
    return name in F.FUNCTIONS or name in F.AGGREGATES or name in F.WINDOW_FUNCTIONS


def _table_arg(catalog, session, obj):
    if isinstance(obj, int):
        t = next((t for t in catalog.tables() if t.id == obj), None)
        if t is None:
            raise PgError(f"relation with OID {obj} does not exist", sqlstate="42P01")
        return t
    parts = [p.strip().strip('"') for p in obj.split(".")]
    schema = parts[-2] if len(parts) > 1 else resolve_schema(catalog, session, None, parts[-1])
    t = catalog.get_table(schema, parts[-1])
    if t is None:
        raise PgError(f'relation "{obj}" does not exist', sqlstate="42P01")
    return t
