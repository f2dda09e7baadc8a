"""How catalog objects get OIDs, and the small model the views share.

Schemas, tables, secondary indexes (and sequences, domains, functions) carry ids from the
catalog's counter (>= 16384, never reused): those ids are their OIDs. Objects without an id
of their own get one derived from their owner's, tagged in the top bits so the kinds never
collide: a primary key's index (and its constraint), CHECK constraints, column defaults.
"""

from __future__ import annotations

import dataclasses

PG_CATALOG_NS, PUBLIC_NS_PG, INFORMATION_SCHEMA_NS = 11, 2200, 13000
SYSTEM_NAMESPACES = {"pg_catalog": PG_CATALOG_NS, "information_schema": INFORMATION_SCHEMA_NS}
BOOTSTRAP_ROLE = 10              # admin, as PostgreSQL's bootstrap superuser
DATABASE_OID = 5                 # postgres
HEAP_AM, INDEX_AM = 2, 403       # pg_am: heap; remote_btree_index (in btree's slot)
INDEX_AM_NAME = "remote_btree_index"
DEFAULT_COLLATION = 100

_PK_INDEX, _CHECK, _ATTRDEF, _SYS_NS = 0x40000000, 0x50000000, 0x60000000, 0x70000000
_SUB_BITS = 12                    # checks and defaults: owner id (low 16 bits) << 12 | position


def pk_index_oid(table) -> int:
    return _PK_INDEX | table.id


def check_oid(table, n: int) -> int:
    return _CHECK | ((table.id & 0xFFFF) << _SUB_BITS) | n


def attrdef_oid(table, attnum: int) -> int:
    return _ATTRDEF | ((table.id & 0xFFFF) << _SUB_BITS) | attnum


def extra_namespace_oid(name: str) -> int:
    """Namespaces of registered views (e.g. sys) that are not in the catalog."""
    return _SYS_NS | (sum(name.encode()) & 0xFFFF)


@dataclasses.dataclass
class Rel:
    """One pg_class row: a table or an index (primary key indexes included)."""
    oid: int
    name: str
    schema: str
    kind: str                     # 'r' table, 'i' index, 'S' sequence
    table: object                 # the catalog Table (for indexes: the indexed table)
    index: object = None          # the catalog Index; None for a primary key index or a table
    is_pk: bool = False

    @property
    def key_columns(self) -> list[int]:
        return self.table.pk if self.is_pk else self.index.columns

    @property
    def include_columns(self) -> list[int]:
        if self.is_pk:
            return list(getattr(self.table, "pk_include", []) or [])
        return list(self.index.include or [])

    @property
    def unique(self) -> bool:
        return self.is_pk or bool(self.index.unique)

    @property
    def valid(self) -> bool:
        return self.is_pk or bool(getattr(self.index, "valid", True))


def tables(catalog) -> list:
    return sorted(catalog.tables(), key=lambda t: (t.schema, t.name))


def relations(catalog) -> list[Rel]:
    """Every relation of the catalog: tables, then their indexes."""
    out = []
    for t in tables(catalog):
        out.append(Rel(t.id, t.name, t.schema, "r", t))
        if t.pk_name is not None:
            out.append(Rel(pk_index_oid(t), t.pk_name, t.schema, "i", t, None, True))
        for ix in t.indexes:
            out.append(Rel(ix.id, ix.name, t.schema, "i", t, ix))
    return out


def relation_by_oid(catalog, oid: int) -> Rel | None:
    oid = int(oid)
    for r in relations(catalog):
        if r.oid == oid:
            return r
    return None


def namespaces(catalog) -> list[tuple[int, str, str]]:
    """(oid, name, owner) of every schema: system ones first."""
    from . import system_schemas
    out = [(oid, name, "admin") for name, oid in SYSTEM_NAMESPACES.items()]
    user = sorted(catalog.schemas(), key=lambda s: s.name)
    known = {n for _, n, _ in out} | {s.name for s in user}
    out += [(extra_namespace_oid(n), n, "admin") for n in sorted(system_schemas() - known)]
    out += [(s.id, s.name, getattr(s, "owner", "admin")) for s in user]
    return out


def namespace_oid(catalog, name: str) -> int | None:
    for oid, n, _ in namespaces(catalog):
        if n == name:
            return oid
    return None


def namespace_name(catalog, oid: int) -> str | None:
    for o, n, _ in namespaces(catalog):
        if o == int(oid):
            return n
    return None


def attnums(table) -> list[tuple[int, object]]:
    """(attnum, Column) of the visible columns: attnum is the 1-based position."""
    return list(enumerate(table.visible_columns, start=1))


def attnum_of(table, column_id: int) -> int:
    for n, c in attnums(table):
        if c.id == column_id:
            return n
    return 0


# ------------------------------------------------------------------ roles

@dataclasses.dataclass
class Role:
    oid: int
    name: str
    superuser: bool = False
    login: bool = True
    createrole: bool = False
    createdb: bool = False
    member_of: tuple = ()         # role names
    comment: str | None = None    # COMMENT ON ROLE


def roles(catalog) -> list[Role]:
    """The roles: from the role catalog when there is one, else just admin."""
    try:
        from services.compute.authcatalog import auth_of     # the roles part, once it exists
    except ImportError:
        auth_of = None
    if auth_of is not None:
        try:
            out = []
            for r in auth_of(catalog).roles():
                out.append(Role(int(r.oid), r.name, bool(getattr(r, "superuser", False)),
                                bool(getattr(r, "login", True)), bool(getattr(r, "createrole", r.name == "admin")),
                                bool(getattr(r, "createdb", r.name == "admin")),
                                tuple(getattr(r, "member_of", ()) or ()), getattr(r, "comment", None)))
            if out:
                return out
        except Exception:  # noqa: BLE001 - a role catalog that is not ready shows just admin
            pass
    return [Role(BOOTSTRAP_ROLE, "admin", False, True, True, True)]   # no role is a superuser in DSQL


def role_oid(catalog, name: str) -> int:
    for r in roles(catalog):
        if r.name == name:
            return r.oid
    return BOOTSTRAP_ROLE if name == "admin" else 0


def role_name(catalog, oid: int) -> str | None:
    for r in roles(catalog):
        if r.oid == int(oid):
            return r.name
    return None


def acl(catalog, kind: str, oid: int, owner: str) -> list[str] | None:
    """relacl / proacl / typacl as aclitem texts (`r=rU/admin`); NULL while the default applies."""
    from services.compute.authcatalog import aclitem_text, auth_of
    if not hasattr(catalog, "store"):
        return None
    entries = auth_of(catalog).acl(kind, oid, owner)
    return None if entries is None else [aclitem_text(g, e) for g, e in entries]
