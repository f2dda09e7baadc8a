"""Role statements: CREATE/ALTER/DROP ROLE, GRANT/REVOKE of privileges and of membership, and
DSQL's AWS IAM GRANT/REVOKE. Each returns a DdlAction (the DDL rules of transactions apply)
that changes the auth catalog (services/compute/authcatalog.py) in one etcd transaction.

Who may do what follows PostgreSQL 15 for a role with CREATEROLE that is not a superuser, which
is what DSQL's `admin` is; the IAM statements are admin's alone.
"""

from __future__ import annotations

import dataclasses
import time

from services.common import errors
from services.common.errors import PgError
from services.common.rolecatalog import ADMIN, PUBLIC, Membership, Role, principal_arns, valid_arn

from ..authcatalog import PRIVILEGES, Grant, auth_of
from . import objects
from . import types as T
from .bind import qualified, type_from_typename
from .ddl import DdlAction
from .parse import Statement
from .privileges import current_user, denied, role_name

_SUPERUSER_ONLY = {
    "superuser": ("must be superuser to create superusers",
                  "must be superuser to alter superuser roles or change superuser attribute"),
    "isreplication": ("must be superuser to create replication users",
                      "must be superuser to alter replication roles or change replication attribute"),
    "bypassrls": ("must be superuser to create bypassrls users", "must be superuser to change bypassrls attribute"),
}
_ATTRIBUTES = {"canlogin": "login", "inherit": "inherit", "createrole": "createrole", "createdb": "createdb"}


def _missing_role(name: str) -> PgError:
    return PgError(f'role "{name}" does not exist', sqlstate="42704")


def _warning(message: str, sqlstate: str) -> PgError:
    return PgError(message, sqlstate=sqlstate, severity="WARNING")


def _require_createrole(auth, session, message: str) -> str:
    user = current_user(session)
    role = auth.get_role(user)
    if role is None or not role.createrole:
        raise PgError(message, sqlstate="42501")
    return user


def _apply_options(role: Role, options, creating: bool, auth, session) -> tuple[list[str], list[str], list[str]]:
    """Set role attributes from DefElems; returns the roles named by IN ROLE, ROLE and ADMIN."""
    in_roles, members, admins = [], [], []
    for opt in options or ():
        name = opt.defname
        if name in _SUPERUSER_ONLY:
            if opt.arg is not None and getattr(opt.arg, "boolval", False):
                raise PgError(_SUPERUSER_ONLY[name][0 if creating else 1], sqlstate="42501")
        elif name in _ATTRIBUTES:
            setattr(role, _ATTRIBUTES[name], bool(opt.arg.boolval))
        elif name == "connectionlimit":
            limit = opt.arg.ival
            if limit < -1:
                raise PgError(f"invalid connection limit: {limit}", sqlstate="22023")
            role.connlimit = limit
        elif name == "validUntil":
            role.valid_until = opt.arg.sval
        elif name in ("password", "encryptedPassword", "unencryptedPassword"):
            raise errors.FeatureNotSupported("passwords are not supported",
                                             hint="Roles authenticate with IAM auth tokens: use AWS IAM GRANT.")
        elif name in ("addroleto", "rolemembers", "adminmembers"):
            names = [role_name(s, session) for s in opt.arg]
            {"addroleto": in_roles, "rolemembers": members, "adminmembers": admins}[name].extend(names)
        elif name == "sysid":
            pass                          # ignored, as PostgreSQL does
        else:
            raise errors.FeatureNotSupported(f"role option {name} is not supported")
    for n in in_roles + members + admins:
        if auth.get_role(n) is None:
            raise _missing_role(n)
    return in_roles, members, admins


def _check_role_name(name: str) -> None:
    if name in ("public", "none"):
        raise PgError(f'role name "{name}" is reserved', sqlstate="42939")
    if name.startswith("pg_"):
        raise PgError(f'role name "{name}" is reserved', sqlstate="42939",
                      detail='Role names starting with "pg_" are reserved.')


# ------------------------------------------------------------------ CREATE / ALTER / DROP ROLE

def create_role(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    auth = auth_of(catalog)

    def apply(txn):
        user = _require_createrole(auth, session, "permission denied to create role")
        _check_role_name(n.role)
        role = Role(oid=0, name=n.role, login=n.stmt_type.name == "ROLESTMT_USER")
        in_roles, members, admins = _apply_options(role, n.options, True, auth, session)
        if auth.get_role(n.role) is not None:
            raise PgError(f'role "{n.role}" already exists', sqlstate="42710")
        role.memberships = [Membership(r, False, user) for r in in_roles]
        created = auth.create_role(role)
        changed = []
        for m, admin in [(x, False) for x in members] + [(x, True) for x in admins]:
            member = auth.get_role(m)
            member.memberships.append(Membership(created.name, admin, user))
            changed.append(member)
        if changed:
            auth.replace_roles(changed)
        return "CREATE ROLE", [], None
    return DdlAction("CREATE ROLE", apply)


def alter_role(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    auth = auth_of(catalog)

    def apply(txn):
        name = role_name(n.role, session)
        role = auth.get_role(name)
        if role is None:
            raise _missing_role(name)
        _require_createrole(auth, session, "permission denied")
        if name == ADMIN:
            raise PgError("permission denied", sqlstate="42501", detail="The admin role cannot be modified.")
        role = dataclasses.replace(role, memberships=list(role.memberships))
        _, members, _ = _apply_options(role, n.options, False, auth, session)
        changed = [role]
        for m in members:                 # ALTER GROUP role ADD/DROP USER m
            member = auth.get_role(m)
            keep = [x for x in member.memberships if x.role != name]
            if n.action == 1:
                keep.append(Membership(name, False, current_user(session)))
            changed.append(dataclasses.replace(member, memberships=keep))
        auth.replace_roles(changed)
        return "ALTER ROLE", [], None
    return DdlAction("ALTER ROLE", apply)


def rename_role(catalog, st: Statement, session) -> DdlAction:
    """ALTER ROLE r RENAME TO r2, with PostgreSQL 15's checks."""
    n = st.node
    auth = auth_of(catalog)

    def apply(txn):
        role = auth.get_role(n.subname)
        if role is None:
            raise _missing_role(n.subname)
        if n.subname == getattr(session, "user", None):
            raise errors.FeatureNotSupported("session user cannot be renamed")
        if n.subname == current_user(session):
            raise errors.FeatureNotSupported("current user cannot be renamed")
        if auth.get_role(n.newname) is not None:
            raise PgError(f'role "{n.newname}" already exists', sqlstate="42710")
        _check_role_name(n.newname)
        _require_createrole(auth, session, "permission denied to rename role")
        if n.subname == ADMIN:
            raise PgError("permission denied to rename role", sqlstate="42501",
                          detail="The admin role cannot be modified.")
        auth.rename_role(role, n.newname, session.limits.role_rename_max_entries)
        return "ALTER ROLE", [], None
    return DdlAction("ALTER ROLE", apply)


def _dependencies(catalog, auth, name: str) -> list[str]:
    """What stops a role from being dropped, in PostgreSQL's DETAIL wording."""
    out = []
    for s in sorted(catalog.schemas(), key=lambda s: s.name):
        if s.owner == name:
            out.append(f"owner of schema {s.name}")
    tables = {t.id: t for t in catalog.tables()}
    for t in sorted(tables.values(), key=lambda t: (t.schema, t.name)):
        if t.owner == name:
            out.append(f"owner of table {t.schema}.{t.name}")
    described = {}                         # (kind, id) -> "sequence s.q", as PostgreSQL names it
    for kind, label in (("sequence", "sequence"), ("domain", "type"), ("function", "function")):
        for d in sorted(catalog.objects(kind), key=lambda d: (d["schema"], d["key"])):
            args = f"({', '.join(T.lookup(t).sql_name for t, _ in d['arg_types'])})" if kind == "function" else ""
            described[(kind, d["id"])] = f"{label} {d['schema']}.{d['name']}{args}"
            if d.get("owner") == name:
                out.append(f"owner of {described[(kind, d['id'])]}")
    described.update({("schema", s.id): f"schema {s.name}" for s in catalog.schemas()})
    described.update({("table", t.id): f"table {t.schema}.{t.name}" for t in tables.values()})
    grants = auth.grants(name)
    for key in sorted(grants, key=lambda k: (grants[k].at, k)):      # in the order they were granted
        if key in described:
            out.append(f"privileges for {described[key]}")
    for m in auth.iam_mappings():
        if m.role == name:
            out.append(f"IAM trust with {m.arn}")
    return out


def drop_role(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    auth = auth_of(catalog)

    def apply(txn):
        user = _require_createrole(auth, session, "permission denied to drop role")
        notices, roles = [], []
        for spec in n.roles:
            name = role_name(spec, session)
            role = auth.get_role(name)
            if role is None:
                if n.missing_ok:
                    notices.append(f'role "{name}" does not exist, skipping')
                    continue
                raise _missing_role(name)
            if name == user or name == getattr(session, "user", None):
                raise PgError("current user cannot be dropped" if name == user else "session user cannot be dropped",
                              sqlstate="55006")
            if name == ADMIN:
                raise PgError("permission denied to drop role", sqlstate="42501")
            deps = _dependencies(catalog, auth, name)
            if deps:
                raise PgError(f'role "{name}" cannot be dropped because some objects depend on it',
                              sqlstate="2BP01", detail="\n".join(deps))
            roles.append(role)
        if roles:
            gone = {r.name for r in roles}
            members = [dataclasses.replace(r, memberships=[m for m in r.memberships if m.role not in gone])
                       for r in auth.roles() if r.name not in gone and any(m.role in gone for m in r.memberships)]
            auth.drop_roles(roles, members)
        return "DROP ROLE", notices, None
    return DdlAction("DROP ROLE", apply)


# ------------------------------------------------------------------ GRANT / REVOKE privileges

@dataclasses.dataclass
class _Target:
    """An object a GRANT names: kind as the grants store it, catalog id, owner, name for messages."""
    kind: str
    id: int
    owner: str
    name: str


_OBJTYPES = {"OBJECT_TABLE": "table", "OBJECT_SCHEMA": "schema", "OBJECT_SEQUENCE": "sequence",
             "OBJECT_FUNCTION": "function", "OBJECT_ROUTINE": "function", "OBJECT_DOMAIN": "domain",
             "OBJECT_TYPE": "type"}


def _doc_target(kind: str, doc: dict) -> _Target:
    return _Target(kind, doc["id"], doc.get("owner", ADMIN), doc["name"])


def _objects(catalog, n, session) -> list[_Target]:
    """The objects a GRANT names."""
    kind = _OBJTYPES[n.objtype.name]
    if n.targtype.name == "ACL_TARGET_ALL_IN_SCHEMA":
        out = []
        for s in n.objects:
            if catalog.get_schema(s.sval) is None:
                raise PgError(f'schema "{s.sval}" does not exist', sqlstate="3F000")
            if kind == "table":
                out += [_Target("table", t.id, t.owner, t.name)
                        for t in sorted(catalog.tables(s.sval), key=lambda t: t.name)]
            else:                          # ALL SEQUENCES / FUNCTIONS (ROUTINES) IN SCHEMA
                out += [_doc_target(kind, d) for d in sorted(catalog.objects(kind, s.sval), key=lambda d: d["key"])]
        return out
    if n.targtype.name != "ACL_TARGET_OBJECT":
        raise errors.FeatureNotSupported("ALTER DEFAULT PRIVILEGES is not supported")
    out = []
    for obj in n.objects:
        if kind == "schema":
            s = catalog.get_schema(obj.sval)
            if s is None:
                raise PgError(f'schema "{obj.sval}" does not exist', sqlstate="3F000")
            out.append(_Target("schema", s.id, s.owner, s.name))
        elif kind in ("table", "sequence"):
            schema, name = qualified(obj, catalog, session)
            t = catalog.get_table(schema, name)
            seq = catalog.get_object("sequence", schema, name)
            if t is not None and kind == "sequence":
                raise PgError(f'"{name}" is not a sequence', sqlstate="42809")
            if t is None and seq is None:
                shown = f"{obj.schemaname}.{name}" if obj.schemaname else name
                raise errors.UndefinedTable(f'relation "{shown}" does not exist')
            out.append(_Target("table", t.id, t.owner, t.name) if t is not None else _doc_target("sequence", seq))
        elif kind == "function":
            parts = [x.sval for x in obj.objname]
            argtypes = None if obj.args_unspecified else [type_from_typename(a, None)[0] for a in obj.objargs or ()]
            doc = objects.find_function(catalog, session, parts, argtypes)
            if doc is None:
                if argtypes is None:
                    raise errors.UndefinedFunction(f'could not find a function named "{".".join(parts)}"')
                shown = ", ".join(T.lookup(t).sql_name for t in argtypes)
                raise errors.UndefinedFunction(f"function {'.'.join(parts)}({shown}) does not exist")
            out.append(_doc_target("function", doc))
        else:                              # DOMAIN or TYPE: our types are domains
            parts = [x.sval for x in obj]
            doc = objects.find_object(catalog, session, "domain", parts)
            if doc is None:
                if len(parts) == 1 and T.by_name(parts[0]) is not None:
                    if kind == "domain":
                        raise PgError(f'"{parts[0]}" is not a domain', sqlstate="42809")
                    out.append(_Target("type", 0, "", parts[0]))     # a built-in type: nobody may grant on it
                    continue
                raise errors.UndefinedObject(f'type "{".".join(parts)}" does not exist')
            out.append(_doc_target("domain", doc))
    return out


def _privileges(n) -> list[str] | None:
    """The privileges a GRANT names, validated for its object type; None for ALL."""
    kind = _OBJTYPES.get(n.objtype.name)
    if kind is None:
        raise errors.FeatureNotSupported("unsupported object type in GRANT")
    valid = PRIVILEGES["domain" if kind == "type" else kind]
    if kind == "table":
        valid = valid + ("USAGE",)         # PostgreSQL: sequences named by ON TABLE may be granted USAGE
    if not n.privileges:
        return None
    out = []
    for p in n.privileges:
        if p.cols:
            raise errors.FeatureNotSupported("column privileges are not supported")
        name = p.priv_name.upper()
        if name == "ALL":
            return None
        if name not in valid:
            raise PgError(f"invalid privilege type {name} for {kind}", sqlstate="0LP01")
        if name not in out:
            out.append(name)
    return out


def _target_privileges(privs: list[str] | None, target: _Target, notices: list) -> list[str]:
    """The privileges named, as they apply to one object (ON TABLE may name a sequence)."""
    valid = PRIVILEGES[target.kind]
    if privs is None:
        return list(valid)
    if target.kind == "table" and "USAGE" in privs:
        raise PgError("invalid privilege type USAGE for table", sqlstate="0LP01")
    if target.kind == "sequence" and not set(privs) <= set(valid):
        notices.append(_warning(f'sequence "{target.name}" only supports USAGE, SELECT, and UPDATE privileges',
                                "0LP01"))
        return [p for p in privs if p in valid]
    return privs


def _held(auth, user, target: _Target, catalog, with_grant: bool = False) -> set[str]:
    if target.kind == "schema":
        return auth.schema_privileges(user, catalog.get_schema(target.name), with_grant)
    return auth.object_privileges(user, target.kind, target.id, target.owner, with_grant)


def grant(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    auth = auth_of(catalog)
    tag = "GRANT" if n.is_grant else "REVOKE"

    def apply(txn):
        user = current_user(session)
        named = _privileges(n)
        objects = _objects(catalog, n, session)
        grantees = []
        for spec in n.grantees:
            g = role_name(spec, session)
            if g != PUBLIC and auth.get_role(g) is None:
                raise _missing_role(g)
            if g == PUBLIC and n.is_grant and n.grant_option:
                raise PgError("grant options can only be granted to roles", sqlstate="0LP01")
            grantees.append(g)
        docs = {g: _grants_copy(auth, g) for g in grantees + [PUBLIC]}
        notices = []
        for obj in objects:
            if obj.kind == "type":
                notices.append(_warning(f'no privileges were granted for "{obj.name}"', "01007") if n.is_grant
                               else _warning(f'no privileges could be revoked for "{obj.name}"', "01006"))
                continue
            privs = _target_privileges(named, obj, notices)
            allowed = _held(auth, user, obj, catalog, with_grant=True)
            if not allowed and not _held(auth, user, obj, catalog):
                raise denied(obj.kind, obj.name)
            wanted = [p for p in privs if p in allowed]
            if len(wanted) < len(privs):
                some = "not all" if wanted else "no"
                notices.append(_warning(f'{some} privileges were granted for "{obj.name}"', "01007") if n.is_grant
                               else _warning(f'{some} privileges could be revoked for "{obj.name}"', "01006"))
            grantor = obj.owner if auth.has_privs_of_role(user, obj.owner) else user
            key = (obj.kind, obj.id)
            if obj.kind != "schema" and key not in docs[PUBLIC]:      # the ACL becomes explicit
                docs[PUBLIC][key] = dataclasses.replace(auth.public_grant(*key), grantor=obj.owner)
            for g in grantees:
                cur = docs[g].get(key) or Grant(set(), set(), grantor)
                if not cur.privs:
                    cur.at = time.time_ns()
                if n.is_grant:
                    cur.privs |= set(wanted)
                    if n.grant_option:
                        cur.grantable |= set(wanted)
                else:
                    lost = cur.grantable & set(wanted)
                    cur.grantable -= set(wanted)
                    if not n.grant_option:
                        cur.privs -= set(wanted)
                    if lost:
                        _revoke_dependents(auth, docs, key, g, lost, n.behavior.name == "DROP_CASCADE")
                if cur.privs or (g == PUBLIC and obj.kind != "schema"):
                    docs[g][key] = cur
                else:
                    docs[g].pop(key, None)
        _prune(catalog, docs)
        auth.set_grants({g: d for g, d in docs.items() if g in grantees or d != auth.grants(g)})
        return tag, notices, None
    return DdlAction(tag, apply)


def _grants_copy(auth, grantee: str) -> dict:
    """A grantee's grant document to change (the cached one stays as it is)."""
    return {k: dataclasses.replace(v, privs=set(v.privs), grantable=set(v.grantable))
            for k, v in auth.grants(grantee).items()}


def _revoke_dependents(auth, docs, key, grantor: str, lost: set[str], cascade: bool) -> None:
    """Privileges `grantor` handed on with a grant option it is losing: an error without CASCADE
    (PostgreSQL's 2BP01), else revoked too, and so on down the chain."""
    todo = [(grantor, lost)]
    while todo:
        giver, privs = todo.pop()
        for g in auth.grantees():
            doc = docs.get(g)
            if doc is None:
                doc = docs[g] = _grants_copy(auth, g)
            dep = doc.get(key)
            if dep is None or dep.grantor != giver or not dep.privs & privs:
                continue
            if not cascade:
                raise PgError("dependent privileges exist", sqlstate="2BP01", hint="Use CASCADE to revoke them too.")
            todo.append((g, dep.grantable & privs))
            dep.privs -= privs
            dep.grantable -= privs
            if not dep.privs:
                del doc[key]


def _prune(catalog, docs) -> None:
    """Forget grants on dropped objects (ids are never reused) while a document is rewritten."""
    live = {("table", t.id) for t in catalog.tables()} | {("schema", s.id) for s in catalog.schemas()} | \
        {(kind, d["id"]) for kind in ("sequence", "function", "domain") for d in catalog.objects(kind)}
    for d in docs.values():
        for key in [k for k in d if k not in live]:
            del d[key]


# ------------------------------------------------------------------ GRANT / REVOKE role membership

def grant_role(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    auth = auth_of(catalog)
    tag = "GRANT ROLE" if n.is_grant else "REVOKE ROLE"

    def apply(txn):
        user = current_user(session)
        admin_opt = any(o.defname == "admin" for o in n.opt or ())
        me = auth.get_role(user)
        notices = []
        changed: dict[str, Role] = {}
        for granted_spec in n.granted_roles:
            granted = granted_spec.priv_name
            if auth.get_role(granted) is None:
                raise _missing_role(granted)
            may = (me is not None and me.createrole and granted != ADMIN) or any(
                m.role == granted and m.admin_option for r in auth.member_roles(user)
                for m in (auth.get_role(r).memberships if auth.get_role(r) else ()))
            if not may:
                raise PgError(f'must have admin option on role "{granted}"', sqlstate="42501")
            for spec in n.grantee_roles:
                g = role_name(spec, session)
                member = changed.get(g) or auth.get_role(g)
                if member is None:
                    raise _missing_role(g)
                member = dataclasses.replace(member, memberships=list(member.memberships))
                have = next((m for m in member.memberships if m.role == granted), None)
                if n.is_grant:
                    if g in auth.member_roles(granted):
                        raise PgError(f'role "{granted}" is a member of role "{g}"', sqlstate="0LP01")
                    if have is not None:
                        if not admin_opt or have.admin_option:
                            notices.append(f'role "{g}" is already a member of role "{granted}"')
                            continue
                        have.admin_option = True
                    else:
                        member.memberships.append(Membership(granted, admin_opt, user))
                else:
                    if have is None:
                        notices.append(_warning(f'role "{g}" is not a member of role "{granted}"', "01000"))
                        continue
                    if admin_opt:
                        member.memberships = [dataclasses.replace(m, admin_option=False) if m is have else m
                                            for m in member.memberships]
                    else:
                        member.memberships = [m for m in member.memberships if m is not have]
                changed[g] = member
        if changed:
            _store_members(auth, list(changed.values()))
        return tag, notices, None
    return DdlAction(tag, apply)


def _store_members(auth, roles: list[Role]) -> None:
    """admin is built in: its memberships are stored under its name like any role's."""
    stored = []
    for r in roles:
        if r.name == ADMIN:
            r = Role(oid=r.oid, name=ADMIN, login=True, createrole=True, createdb=True,
                     memberships=r.memberships, revision=r.revision)
        stored.append(r)
    auth.replace_roles(stored)


# ------------------------------------------------------------------ AWS IAM GRANT / REVOKE

def aws_iam(catalog, st: Statement, session) -> DdlAction:
    n = st.node
    auth = auth_of(catalog)
    tag = "AWS IAM GRANT" if n.is_grant else "AWS IAM REVOKE"

    def apply(txn):
        user = current_user(session)
        if user != ADMIN or n.role == ADMIN:
            verb = "grant" if n.is_grant else "revoke"
            raise PgError(f'permission denied to {verb} IAM trust with role "{n.role}"', sqlstate="42501")
        role = auth.get_role(n.role)
        if role is None:
            raise _missing_role(n.role)
        if not valid_arn(n.arn) and principal_arns(n.arn) == [n.arn]:
            raise PgError(f'invalid IAM principal ARN "{n.arn}"', sqlstate="22023",
                          hint="Use the ARN of an IAM role or user, such as arn:aws:iam::111122223333:role/example.")
        if n.is_grant:
            if not role.login:
                raise PgError(f'role "{n.role}" must have the LOGIN attribute', sqlstate="0LP01")
            auth.add_iam(n.role, n.arn, user)
        elif not auth.remove_iam(n.role, n.arn):
            raise PgError(f'role "{n.role}" has no IAM trust with "{n.arn}"', sqlstate="42704")
        return tag, [], None
    return DdlAction(tag, apply)


HANDLERS = {
    "CreateRoleStmt": create_role, "AlterRoleStmt": alter_role, "DropRoleStmt": drop_role,
    "GrantStmt": grant, "GrantRoleStmt": grant_role, "AwsIamStmt": aws_iam,
}
