"""Roles, memberships, grants and IAM mappings: kept in etcd (layout in
services/common/rolecatalog.py), cached by every compute and refreshed from a watch, so a
privilege change takes effect at the next transaction on every compute.

    auth = auth_of(catalog)                  # one per Catalog (and so per compute process)
    auth.get_role("app"); auth.roles(); auth.iam_mappings(); auth.memberships()
    auth.effective_roles("app")              # app + the roles it inherits privileges from
    auth.table_privileges("app", table)      # {"SELECT", ...}; the owner has them all
    auth.schema_privileges("app", schema)    # {"USAGE", "CREATE"}
    auth.object_privileges("app", "sequence", seq["id"], seq["owner"])   # sequences, functions, domains

An object's ACL is explicit once a GRANT or REVOKE has named it: PUBLIC's grant document then holds
an entry for it (maybe with no privileges). Until then PostgreSQL's default applies: the owner has
everything and PUBLIC has EXECUTE on functions and USAGE on domains (`PUBLIC_DEFAULTS`).

`admin` is built in (never stored): it logs in, may create roles and owns what it creates;
like DSQL's admin it is not a superuser, so objects other roles own are closed to it until it
is granted access (or membership in their owner).
"""

from __future__ import annotations

import dataclasses
import json
import threading

from services.common import errors
from services.common.rolecatalog import (ADMIN, AUTH_PREFIX, GRANTS_PREFIX, IAM_PREFIX, PUBLIC, ROLES_PREFIX,
                                         IamMapping, Membership, Role, admin_role, grants_key, iam_key,
                                         role_key)

from .catalog import _Retry

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SCHEMA_PRIVILEGES = ("USAGE", "CREATE")
PRIVILEGES = {"table": TABLE_PRIVILEGES, "schema": SCHEMA_PRIVILEGES, "sequence": ("USAGE", "SELECT", "UPDATE"),
              "function": ("EXECUTE",), "domain": ("USAGE",)}
PUBLIC_DEFAULTS = {"function": {"EXECUTE"}, "domain": {"USAGE"}}
PUBLIC_SCHEMA = "public"


@dataclasses.dataclass
class Grant:
    privs: set[str]
    grantable: set[str]
    grantor: str
    at: int = 0                  # when first granted (time_ns): the order of the entries in an ACL


def auth_of(catalog) -> AuthCatalog:
    """The AuthCatalog that shares `catalog`'s store (made on first use)."""
    auth = catalog.__dict__.get("_auth")
    if auth is None:
        with _make_lock:
            auth = catalog.__dict__.get("_auth")
            if auth is None:
                auth = catalog.__dict__["_auth"] = AuthCatalog(catalog)
    return auth


_make_lock = threading.Lock()


class AuthCatalog:
    def __init__(self, catalog):
        self.catalog = catalog
        self.store = catalog.store
        self._lock = threading.RLock()
        self._stale = True
        self.generation = 0                  # bumped by every refresh: caches key on it
        self._roles: dict[str, Role] = {}
        self._grants: dict[str, tuple[dict[tuple[str, int], Grant], int]] = {}   # grantee -> (grants, rev)
        self._iam: dict[tuple[str, str], IamMapping] = {}
        self._effective: dict[str, frozenset[str]] = {}
        self.store.watch_prefix(AUTH_PREFIX, self._on_change)

    # ---------------------------------------------------------------- cache
    def _on_change(self) -> None:
        self._stale = True

    def refresh(self) -> None:
        with self._lock:
            self._stale = False
            roles, grants, iam = {}, {}, {}
            for key, value, rev in self.store.get_prefix(AUTH_PREFIX):
                if key.startswith(ROLES_PREFIX):
                    r = Role.from_json(value, rev)
                    roles[r.name] = r
                elif key.startswith(GRANTS_PREFIX):
                    grants[key[len(GRANTS_PREFIX):]] = (_decode_grants(value), rev)
                elif key.startswith(IAM_PREFIX):
                    m = IamMapping.from_json(value)
                    iam[(m.role, m.arn)] = m
            self._roles, self._grants, self._iam = roles, grants, iam
            self._effective = {}
            self.generation += 1

    def _fresh(self) -> None:
        if self._stale:
            self.refresh()

    # ---------------------------------------------------------------- reading
    def get_role(self, name: str) -> Role | None:
        if name == ADMIN:
            return self._admin()
        self._fresh()
        return self._roles.get(name)

    def _admin(self) -> Role:
        a = admin_role()
        stored = self._roles.get(ADMIN)          # admin's memberships are stored like any role's
        if stored is not None:
            a.memberships, a.revision = stored.memberships, stored.revision
        return a

    def roles(self) -> list[Role]:
        self._fresh()
        return [self._admin()] + sorted((r for n, r in self._roles.items() if n != ADMIN), key=lambda r: r.oid)

    def memberships(self) -> list[tuple[Role, Role, str, bool]]:
        """(role granted, member, grantor, admin option) for pg_auth_members."""
        by_name = {r.name: r for r in self.roles()}
        out = []
        for member in by_name.values():
            for m in member.memberships:
                if m.role in by_name:
                    out.append((by_name[m.role], member, m.grantor, m.admin_option))
        return out

    def iam_mappings(self) -> list[IamMapping]:
        self._fresh()
        return sorted(self._iam.values(), key=lambda m: m.oid)

    def grants(self, grantee: str) -> dict[tuple[str, int], Grant]:
        self._fresh()
        return self._grants.get(grantee, ({}, 0))[0]

    def grantees(self) -> list[str]:
        """Every role (or PUBLIC) holding some grant."""
        self._fresh()
        return sorted(self._grants)

    def grants_revision(self, grantee: str) -> int:
        self._fresh()
        return self._grants.get(grantee, ({}, 0))[1]

    def effective_roles(self, user: str) -> frozenset[str]:
        """The user and every role whose privileges it has (memberships through INHERIT roles)."""
        self._fresh()
        eff = self._effective.get(user)
        if eff is None:
            eff = self._closure(user, inherit_only=True)
            self._effective[user] = eff
        return eff

    def member_roles(self, user: str) -> frozenset[str]:
        """Every role the user is a member of, directly or not (what SET ROLE may choose)."""
        return self._closure(user, inherit_only=False)

    def _closure(self, user: str, inherit_only: bool) -> frozenset[str]:
        seen, todo = {user}, [user]
        while todo:
            r = self.get_role(todo.pop())
            if r is None or (inherit_only and not r.inherit):
                continue
            for m in r.memberships:
                if m.role not in seen:
                    seen.add(m.role)
                    todo.append(m.role)
        return frozenset(seen)

    def has_privs_of_role(self, user: str, role: str) -> bool:
        return role in self.effective_roles(user)

    def public_grant(self, kind: str, oid: int) -> Grant:
        """PUBLIC's entry for an object: the stored one, or PostgreSQL's default."""
        g = self.grants(PUBLIC).get((kind, oid))
        return g if g is not None else Grant(set(PUBLIC_DEFAULTS.get(kind, ())), set(), "")

    def _granted(self, user: str, kind: str, oid: int) -> Grant:
        pub = self.public_grant(kind, oid)
        privs, grantable = set(pub.privs), set(pub.grantable)
        for r in self.effective_roles(user):
            g = self.grants(r).get((kind, oid))
            if g is not None:
                privs |= g.privs
                grantable |= g.grantable
        return Grant(privs, grantable, "")

    def acl(self, kind: str, oid: int, owner: str, default: bool = False) -> list[tuple[str, Grant]] | None:
        """An object's ACL as (grantee, grant) in PostgreSQL's order (a default entry for PUBLIC,
        the owner's, then the grants as they were made); while the default applies, None (or it)."""
        entries = [(g, doc[(kind, oid)]) for g in self.grantees() if (kind, oid) in (doc := self.grants(g))]
        if not entries and not default:
            return None
        if not any(g == PUBLIC for g, _ in entries):
            entries.append((PUBLIC, dataclasses.replace(self.public_grant(kind, oid), grantor=owner)))
        entries.append((owner, Grant(set(PRIVILEGES[kind]), set(), owner, at=1)))
        return [(g, e) for g, e in sorted(entries, key=lambda x: x[1].at)
                if e.privs and not (g == owner and e.grantor == owner and e.at != 1)]

    def object_privileges(self, user: str, kind: str, oid: int, owner: str, with_grant: bool = False) -> set[str]:
        """What `user` holds on a table, sequence, function or domain (the owner has everything)."""
        if self.has_privs_of_role(user, owner):
            return set(PRIVILEGES[kind])
        g = self._granted(user, kind, oid)
        return g.grantable if with_grant else g.privs

    def table_privileges(self, user: str, table, with_grant: bool = False) -> set[str]:
        return self.object_privileges(user, "table", table.id, table.owner, with_grant)

    def schema_privileges(self, user: str, schema, with_grant: bool = False) -> set[str]:
        if schema.name == PUBLIC_SCHEMA:
            # DSQL: only admin may create in public and nobody may be granted that; everyone may use it
            base = {"USAGE", "CREATE"} if self.has_privs_of_role(user, ADMIN) else {"USAGE"}
            return (base - {"CREATE"}) if with_grant else base
        if self.has_privs_of_role(user, schema.owner):
            return set(SCHEMA_PRIVILEGES)
        g = self._granted(user, "schema", schema.id)
        return g.grantable if with_grant else g.privs

    # ---------------------------------------------------------------- changing
    def _change(self, compares: dict[str, int], puts: dict, deletes=(), n_ids: int = 0) -> list[int]:
        """One atomic change (with the catalog's version bump); None if a compared key moved."""
        try:
            ids = self.catalog._commit(compares, puts, deletes, n_ids=n_ids)
        except _Retry:
            raise errors.schema_conflict() from None
        self._stale = True
        return ids

    def create_role(self, role: Role) -> Role:
        key = role_key(role.name)
        made: list[Role] = []

        def render(ids):
            made.append(dataclasses.replace(role, oid=ids[0]))
            return made[-1].to_json().encode()
        if self.store.get(key) is not None:
            raise errors.PgError(f'role "{role.name}" already exists', sqlstate="42710")
        self._change({key: 0}, {key: render}, n_ids=1)
        return made[-1]

    def replace_roles(self, roles: list[Role]) -> None:
        """Store changed roles (ALTER ROLE, GRANT role); compares each one's revision."""
        self._change({role_key(r.name): r.revision for r in roles},
                     {role_key(r.name): r.to_json().encode() for r in roles})

    def drop_roles(self, roles: list[Role], members: list[Role]) -> None:
        """Delete roles (and their grant documents) and store `members` without them."""
        keys = [role_key(r.name) for r in roles] + [grants_key(r.name) for r in roles]
        cmps = {role_key(r.name): r.revision for r in roles + members}
        cmps.update({grants_key(r.name): self.grants_revision(r.name) for r in roles})
        self._change(cmps, {role_key(m.name): m.to_json().encode() for m in members}, keys)

    def set_grants(self, changed: dict[str, dict[tuple[str, int], Grant]]) -> None:
        """Store whole grant documents of grantees (an empty document deletes the key)."""
        cmps = {grants_key(g): self.grants_revision(g) for g in changed}
        puts = {grants_key(g): _encode_grants(d) for g, d in changed.items() if d}
        deletes = [grants_key(g) for g, d in changed.items() if not d]
        self._change(cmps, puts, deletes)

    def rename_role(self, old: Role, new_name: str, max_ops: int) -> None:
        """ALTER ROLE RENAME in one etcd transaction: roles, grants and IAM trusts are stored by
        name, so every memberships, grant (as grantee and as grantor), IAM mapping and owner of a
        schema, table, sequence, domain or function naming the role is rewritten with it."""
        cat = self.catalog
        ren = lambda n: new_name if n == old.name else n                      # noqa: E731
        cmps, puts, deletes = {role_key(new_name): 0, grants_key(new_name): 0}, {}, []
        for r in [old] + [r for r in self._roles.values() if r.name != old.name]:
            ms = [Membership(ren(m.role), m.admin_option, ren(m.grantor)) for m in r.memberships]
            if r is old or ms != r.memberships:
                cmps[role_key(r.name)] = r.revision
                puts[role_key(ren(r.name))] = dataclasses.replace(r, name=ren(r.name), memberships=ms).to_json().encode()
        deletes.append(role_key(old.name))
        for grantee in self.grantees():
            doc = {k: dataclasses.replace(g, grantor=ren(g.grantor)) for k, g in self.grants(grantee).items()}
            if grantee == old.name or doc != self.grants(grantee):
                cmps[grants_key(grantee)] = self.grants_revision(grantee)
                puts[grants_key(ren(grantee))] = _encode_grants(doc)
        if old.name in self._grants:
            deletes.append(grants_key(old.name))
        for key, value, rev in self.store.get_prefix(IAM_PREFIX):
            m = IamMapping.from_json(value)
            if old.name in (m.role, m.grantor):
                cmps[key] = rev
                deletes.append(key)
                m = dataclasses.replace(m, role=ren(m.role), grantor=ren(m.grantor))
                puts[iam_key(m.role, m.arn)] = m.to_json().encode()
        for sch in cat.schemas():
            if sch.owner == old.name:
                key = cat._skey(sch.name)
                cmps[key] = self.store.get(key)[1]
                puts[key] = json.dumps({**dataclasses.asdict(sch), "owner": new_name}).encode()
        for t in cat.tables():
            if t.owner == old.name:
                cmps[cat._tkey(t.schema, t.name)] = t.revision
                puts[cat._tkey(t.schema, t.name)] = dataclasses.replace(t, owner=new_name).to_json().encode()
        for kind in ("sequence", "domain", "function"):
            for d in cat.objects(kind):
                if d.get("owner") == old.name:
                    key = cat._okey(kind, d["schema"], d["key"])
                    cmps[key] = d.get("revision", 0)
                    stored = {k: v for k, v in d.items() if k != "revision"}
                    puts[key] = json.dumps({**stored, "owner": new_name}, sort_keys=True).encode()
        deletes = [k for k in deletes if k not in puts]
        if len(puts) + len(deletes) > max_ops:
            raise errors.PgError(f'role "{old.name}" has too many dependent objects to be renamed in one transaction',
                                 sqlstate="54000", detail=f"{len(puts) + len(deletes)} catalog entries would change;"
                                 f" the limit is {max_ops}.")
        self._change(cmps, puts, deletes)

    def add_iam(self, role: str, arn: str, grantor: str) -> bool:
        key = iam_key(role, arn)
        if self.store.get(key) is not None:
            return False
        self._change({key: 0}, {key: lambda ids: IamMapping(ids[0], arn, role, grantor).to_json().encode()},
                     n_ids=1)
        return True

    def remove_iam(self, role: str, arn: str) -> bool:
        key = iam_key(role, arn)
        cur = self.store.get(key)
        if cur is None:
            return False
        self._change({key: cur[1]}, {}, [key])
        return True


def _encode_grants(d: dict[tuple[str, int], Grant]) -> bytes:
    return json.dumps({f"{k}:{oid}": {"privs": sorted(g.privs), "grantable": sorted(g.grantable),
                                      "grantor": g.grantor, "at": g.at} for (k, oid), g in sorted(d.items())},
                      sort_keys=True).encode()


def _decode_grants(value: bytes) -> dict[tuple[str, int], Grant]:
    out = {}
    for k, g in json.loads(value).items():
        kind, _, oid = k.partition(":")
        out[(kind, int(oid))] = Grant(set(g["privs"]), set(g["grantable"]), g["grantor"], g.get("at", 0))
    return out


_ACL_LETTERS = (("INSERT", "a"), ("SELECT", "r"), ("UPDATE", "w"), ("DELETE", "d"), ("TRUNCATE", "D"),
                ("REFERENCES", "x"), ("TRIGGER", "t"), ("EXECUTE", "X"), ("USAGE", "U"), ("CREATE", "C"))


def aclitem_text(grantee: str, g: Grant) -> str:
    """An aclitem as PostgreSQL prints it: `grantee=rw*/grantor`, PUBLIC as an empty name."""
    def name(n):
        return "" if n == PUBLIC else n if n.replace("_", "").isalnum() else '"' + n.replace('"', '""') + '"'
    privs = "".join(c + ("*" if p in g.grantable else "") for p, c in _ACL_LETTERS if p in g.privs)
    return f"{name(grantee)}={privs}/{name(g.grantor)}"
