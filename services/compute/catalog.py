"""The catalog: schemas, tables, columns and indexes, kept in etcd and cached by every compute.

Layout in etcd (all values JSON):
    /dsql/catalog/ids                              next object id (tables, indexes, schemas)
    /dsql/catalog/version                          bumped by every DDL (catalog version)
    /dsql/catalog/schemas/<db>/<schema>            {"id", "name", "owner"}
    /dsql/catalog/tables/<db>/<schema>/<table>     Table.to_json()
    /dsql/catalog/objects/<kind>/<db>/<schema>/<key>  sequences, domains, SQL functions (sql/objects.py)
    /dsql/catalog/databases/<db>                   {"comment"} (COMMENT ON DATABASE)

Every change is one etcd transaction that compares the revisions of the keys it read, so
two DDLs racing on the same object (or on the id counter) cannot both succeed; the loser
retries (ids) or reports the PostgreSQL error (duplicates).

The store is behind `CatalogStore` (`EtcdStore` for etcd, `MemoryStore` for unit tests);
`Catalog` caches the whole catalog and refreshes it from a watch on the prefix. A lookup
that misses re-reads etcd once before reporting 42P01.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Callable, Iterable, Protocol

from services.common import errors

PREFIX = "/dsql/catalog/"
DEFAULT_DATABASE = "postgres"
ROWID_COLUMN = "__dsql_rowid"
FIRST_OBJECT_ID = 16384          # like PostgreSQL's FirstNormalObjectId


# ------------------------------------------------------------------ model

@dataclasses.dataclass
class Column:
    id: int
    name: str
    type_oid: int
    typmod: int = -1
    not_null: bool = False
    default: str | None = None       # SQL expression text (deparsed), None: no default
    hidden: bool = False             # the row id of a table without a primary key
    generated: str | None = None     # GENERATED ALWAYS AS (expr) STORED: the expression text
    identity: str | None = None      # 'a' GENERATED ALWAYS / 'd' BY DEFAULT AS IDENTITY
    sequence: str | None = None      # "schema.name" of the identity column's sequence
    domain: str | None = None        # "schema.name" when declared with a domain (type_oid is its base)
    comment: str | None = None       # COMMENT ON COLUMN (sql/comments.py)


INDEX_VALID = "valid"                # maintained by writes, used by reads
INDEX_WRITE_ONLY = "write_only"      # being built by an async job: maintained by writes, not read
INDEX_INVALID = "invalid"            # its build failed or was cancelled: maintained, never read


@dataclasses.dataclass
class Index:
    id: int
    name: str
    columns: list[int]               # column ids
    unique: bool = False
    state: str = INDEX_VALID
    include: list[int] = dataclasses.field(default_factory=list)
    constraint: bool = False         # created by a UNIQUE constraint
    job_id: str | None = None        # the CREATE INDEX ASYNC job that builds it
    nulls_first: list[bool] | None = None   # per key column; None: NULLS LAST everywhere
    nulls_not_distinct: bool = False
    comment: str | None = None             # COMMENT ON INDEX
    constraint_comment: str | None = None  # COMMENT ON CONSTRAINT of a UNIQUE constraint

    @property
    def valid(self) -> bool:
        """pg_index.indisvalid: queries may read it."""
        return self.state == INDEX_VALID

    @classmethod
    def from_dict(cls, d: dict) -> Index:
        d = dict(d)
        if "valid" in d:             # documents written before index states existed
            d["state"] = INDEX_VALID if d.pop("valid") else INDEX_INVALID
        return cls(**d)


@dataclasses.dataclass
class Table:
    id: int
    schema: str
    name: str
    columns: list[Column]
    pk: list[int]                    # column ids of the primary key (the hidden row id if none)
    pk_name: str | None = None       # constraint name, None when the table has no primary key
    pk_include: list[int] = dataclasses.field(default_factory=list)   # PRIMARY KEY ... INCLUDE (rows hold them anyway)
    indexes: list[Index] = dataclasses.field(default_factory=list)
    next_column_id: int = 1
    owner: str = "admin"
    checks: list[dict] = dataclasses.field(default_factory=list)   # sql/constraints.py: name, expr, domain
    comment: str | None = None       # COMMENT ON TABLE; the comments of its parts live on them (sql/comments.py)
    pk_comment: str | None = None    # COMMENT ON CONSTRAINT <pk_name>
    pk_index_comment: str | None = None   # COMMENT ON INDEX <pk_name>
    revision: int = 0                # etcd mod revision the cache saw (not stored)

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name and not c.hidden:
                return c
        return None

    def column_by_id(self, cid: int) -> Column:
        for c in self.columns:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def column_index(self, cid: int) -> int:
        for i, c in enumerate(self.columns):
            if c.id == cid:
                return i
        raise KeyError(cid)

    @property
    def visible_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.hidden]

    @property
    def pk_positions(self) -> list[int]:
        return [self.column_index(c) for c in self.pk]

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d.pop("revision")
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, revision: int = 0) -> Table:
        d = json.loads(text)
        d["columns"] = [Column(**c) for c in d["columns"]]
        d["indexes"] = [Index.from_dict(i) for i in d.get("indexes", [])]
        return cls(**d, revision=revision)


@dataclasses.dataclass
class Schema:
    id: int
    name: str
    owner: str = "admin"
    comment: str | None = None


# ------------------------------------------------------------------ stores

class CatalogStore(Protocol):
    def get(self, key: str) -> tuple[bytes, int] | None: ...          # (value, mod_revision)
    def get_prefix(self, prefix: str) -> list[tuple[str, bytes, int]]: ...
    def txn(self, compares: dict[str, int], puts: dict[str, bytes], deletes: Iterable[str] = ()) -> bool: ...
    def watch_prefix(self, prefix: str, callback: Callable[[], None]) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    """An in-process stand-in for etcd with the same compare-and-swap semantics."""

    def __init__(self):
        self._data: dict[str, tuple[bytes, int]] = {}
        self._rev = 0
        self._lock = threading.Lock()
        self._watchers: list[tuple[str, Callable[[], None]]] = []

    def get(self, key):
        with self._lock:
            return self._data.get(key)

    def get_prefix(self, prefix):
        with self._lock:
            return sorted((k, v, r) for k, (v, r) in self._data.items() if k.startswith(prefix))

    def txn(self, compares, puts, deletes=()):
        with self._lock:
            for k, rev in compares.items():
                cur = self._data.get(k)
                if (cur[1] if cur else 0) != rev:
                    return False
            rev = self._next_revision()
            for k, v in puts.items():
                self._data[k] = (v, rev)
            for k in deletes:
                self._data.pop(k, None)
            keys = list(puts) + list(deletes)
            watchers = list(self._watchers)
        for prefix, cb in watchers:
            if any(k.startswith(prefix) for k in keys):
                cb()
        return True

    def _next_revision(self) -> int:
        self._rev += 1
        return self._rev

    def watch_prefix(self, prefix, callback):
        self._watchers.append((prefix, callback))

    def close(self):
        self._watchers.clear()


class SnapshotStore(MemoryStore):
    """A private copy of the catalog and job keys of `base`, for a transaction's pending DDL: the DDL
    is applied here so that the transaction's own reads see it, and nothing reaches `base` (COMMIT
    applies the DDL there). Local changes get negative revisions, which no etcd key ever has, so
    plans bound to a pending definition are never taken as fresh later. Other keys (sequence
    values, statistics) are read and written in `base`."""
    LOCAL = (PREFIX, "/dsql/jobs/")
    PENDING_IDS = 0x7000_0000  # ids fit in 4 bytes (and in int4 as oids); real ones stay far below

    def __init__(self, base: CatalogStore):
        super().__init__()
        self.base = base
        for prefix in self.LOCAL:
            for k, v, rev in base.get_prefix(prefix):
                self._data[k] = (v, rev)
        # Ids allocated here are temporary (COMMIT allocates real ones in etcd); take them from a range
        # etcd's counter never reaches, so a pending table can never read another table's rows.
        value, rev = self._data.get(PREFIX + "ids", (FIRST_OBJECT_ID, 0))
        self._data[PREFIX + "ids"] = (str(self.PENDING_IDS + int(value)).encode(), rev)

    def _local(self, key: str) -> bool:
        return key.startswith(self.LOCAL)

    def get(self, key):
        return super().get(key) if self._local(key) else self.base.get(key)

    def get_prefix(self, prefix):
        if self._local(prefix):
            return super().get_prefix(prefix)
        return self.base.get_prefix(prefix)

    def txn(self, compares, puts, deletes=()):
        keys = [*compares, *puts, *deletes]
        if not any(self._local(k) for k in keys):
            return self.base.txn(compares, puts, deletes)
        if not all(self._local(k) for k in keys):
            raise errors.PgError("internal error: a catalog change mixed with other keys", sqlstate="XX000")
        return super().txn(compares, puts, deletes)

    def _next_revision(self) -> int:
        self._rev = min(self._rev, 0) - 1
        return self._rev


class EtcdStore:
    """The catalog store on a real etcd (pyetcd, the python-etcd3 API). Calls fail over to the
    next endpoint when one stops answering; watches are re-established there."""

    def __init__(self, endpoints: tuple[str, ...], timeout: float = 10):
        self._endpoints = [ep.split("://", 1)[-1].rstrip("/") for ep in endpoints] or ["127.0.0.1:2379"]
        self._timeout = timeout
        self._lock = threading.Lock()
        self._watches: list[tuple[str, Callable[[], None]]] = []
        self._watch_ids: list = []
        self._c = None
        self._connect()

    def _connect(self, skip=None) -> None:
        import pyetcd
        last = None
        order = self._endpoints[:]
        if skip is not None and skip in order and len(order) > 1:
            order.remove(skip)
            order.append(skip)
        for ep in order:
            host, _, port = ep.rpartition(":")
            try:
                c = pyetcd.client(host=host or "127.0.0.1", port=int(port or 2379), timeout=self._timeout)
                c.status()
            except Exception as e:   # try the next endpoint
                last = e
                continue
            old, self._c, self._current = self._c, c, ep
            if old is not None:
                try:
                    old.close()
                except Exception:
                    pass
            self._watch_ids = []
            for prefix, cb in self._watches:
                self._add_watch(prefix, cb)
            return
        raise errors.PgError(f"could not connect to the catalog (etcd): {last}", sqlstate="08006")

    def _call(self, fn):
        try:
            return fn(self._c)
        except Exception:
            with self._lock:
                self._connect(skip=getattr(self, "_current", None))
            for _, cb in self._watches:
                cb()                  # changes may have been missed while disconnected
            return fn(self._c)

    def get(self, key):
        value, meta = self._call(lambda c: c.get(key))
        if value is None:
            return None
        return value, meta.mod_revision

    def get_prefix(self, prefix):
        return sorted((m.key.decode(), v, m.mod_revision) for v, m in self._call(lambda c: list(c.get_prefix(prefix))))

    def txn(self, compares, puts, deletes=()):
        def run(c):
            t = c.transactions
            cmp = []
            for k, rev in compares.items():
                cmp.append(t.version(k) == 0 if rev == 0 else t.mod(k) == rev)
            ops = [t.put(k, v) for k, v in puts.items()] + [t.delete(k) for k in deletes]
            ok, _ = c.transaction(compare=cmp, success=ops, failure=[])
            return bool(ok)
        return self._call(run)

    # ---- leases (async job claims, services/compute/jobs.py)
    def claim(self, key: str, value: bytes, ttl_s: int):
        """Put key with a new lease if it does not exist; the lease, or None if someone holds it."""
        def run(c):
            lease = c.lease(ttl_s)
            t = c.transactions
            ok, _ = c.transaction(compare=[t.version(key) == 0], success=[t.put(key, value, lease=lease)],
                                  failure=[])
            if not ok:
                lease.revoke()
                return None
            return lease
        return self._call(run)

    def keep_alive(self, lease) -> bool:
        """Refresh a lease; False once it has expired (the claim is lost)."""
        try:
            return any(r.TTL > 0 for r in self._c.refresh_lease(lease.id))
        except Exception:   # noqa: BLE001 - etcd unreachable: the claim cannot be trusted
            return False

    def release(self, lease) -> None:
        try:
            self._c.revoke_lease(lease.id)
        except Exception:   # noqa: BLE001 - it expires by itself
            pass

    def _add_watch(self, prefix, callback):
        def cb(_response):
            callback()
        self._watch_ids.append(self._c.add_watch_prefix_callback(prefix, cb))

    def watch_prefix(self, prefix, callback):
        self._watches.append((prefix, callback))
        self._call(lambda c: self._add_watch(prefix, callback))

    def close(self):
        for w in self._watch_ids:
            try:
                self._c.cancel_watch(w)
            except Exception:
                pass
        self._watch_ids.clear()
        self._watches.clear()
        try:
            self._c.close()
        except Exception:
            pass


# ------------------------------------------------------------------ catalog

class Catalog:
    """The cached catalog of one compute node."""

    def __init__(self, etcd_endpoints: tuple[str, ...] = (), *, store: CatalogStore | None = None,
                 database: str = DEFAULT_DATABASE):
        self.store: CatalogStore = store if store is not None else EtcdStore(tuple(etcd_endpoints))
        self.database = database
        self._lock = threading.RLock()
        self._schemas: dict[str, Schema] = {}
        self._tables: dict[tuple[str, str], Table] = {}
        self._objects: dict[str, dict[tuple[str, str], dict]] = {}   # kind -> (schema, key) -> document
        self._database: dict = {}        # /dsql/catalog/databases/<db>: {"comment"}
        self._stale = True
        self.version = 0
        self.store.watch_prefix(PREFIX, self._on_change)

    # ---- cache
    def _on_change(self) -> None:
        self._stale = True

    def refresh(self) -> None:
        with self._lock:
            self._stale = False
            schemas, tables, objects, database = {}, {}, {}, {}
            for key, value, rev in self.store.get_prefix(PREFIX):
                rest = key[len(PREFIX):]
                if rest.startswith("objects/"):
                    _, kind, db, schema, okey = rest.split("/", 4)
                    if db == self.database:
                        objects.setdefault(kind, {})[(schema, okey)] = {**json.loads(value), "revision": rev}
                elif rest.startswith(f"schemas/{self.database}/"):
                    d = json.loads(value)
                    schemas[d["name"]] = Schema(**d)
                elif rest.startswith(f"tables/{self.database}/"):
                    t = Table.from_json(value, rev)
                    tables[(t.schema, t.name)] = t
                elif rest == f"databases/{self.database}":
                    database = json.loads(value)
                elif rest == "version":
                    self.version = int(value)
            self._schemas, self._tables, self._objects = schemas, tables, objects
            self._database = database

    def _fresh(self) -> None:
        if self._stale:
            self.refresh()

    def close(self) -> None:
        self.store.close()

    # ---- keys
    def _skey(self, schema: str) -> str:
        return f"{PREFIX}schemas/{self.database}/{schema}"

    def _tkey(self, schema: str, table: str) -> str:
        return f"{PREFIX}tables/{self.database}/{schema}/{table}"

    def _commit(self, compares: dict[str, int], puts: dict[str, bytes], deletes=(), n_ids: int = 0) -> list[int]:
        """One atomic catalog change; allocates n_ids object ids. Retries on id races only."""
        for _ in range(100):
            cur = self.store.get(PREFIX + "ids")
            nxt, rev = (int(cur[0]), cur[1]) if cur else (FIRST_OBJECT_ID, 0)
            ver = self.store.get(PREFIX + "version")
            vnum, vrev = (int(ver[0]), ver[1]) if ver else (0, 0)
            ids = list(range(nxt, nxt + n_ids))
            all_puts = {k: (v(ids) if callable(v) else v) for k, v in puts.items()}
            all_puts[PREFIX + "version"] = str(vnum + 1).encode()
            cmps = dict(compares)
            cmps[PREFIX + "version"] = vrev
            if n_ids:
                all_puts[PREFIX + "ids"] = str(nxt + n_ids).encode()
                cmps[PREFIX + "ids"] = rev
            if self.store.txn(cmps, all_puts, deletes):
                self._stale = True
                return ids
            # something changed: if one of the caller's compares failed, let it re-validate
            for k, r in compares.items():
                cur = self.store.get(k)
                if (cur[1] if cur else 0) != r:
                    raise _Retry()
        raise errors.schema_conflict()

    # ---- bootstrap
    def bootstrap(self) -> None:
        """Idempotently create the `public` schema of the database."""
        try:
            self.create_schema("public", if_not_exists=True, comment="standard public schema")   # as initdb
        except errors.PgError:
            pass
        self.refresh()

    # ---- schemas
    def get_schema(self, name: str) -> Schema | None:
        self._fresh()
        s = self._schemas.get(name)
        if s is None:
            self.refresh()
            s = self._schemas.get(name)
        return s

    def schemas(self) -> list[Schema]:
        self._fresh()
        return list(self._schemas.values())

    def create_schema(self, name: str, if_not_exists: bool = False, owner: str = "admin",
                      comment: str | None = None) -> bool:
        """True if created; False if it existed and if_not_exists."""
        while True:
            cur = self.store.get(self._skey(name))
            if cur is not None:
                if if_not_exists:
                    return False
                raise errors.DuplicateSchema(f'schema "{name}" already exists')
            try:
                self._commit({self._skey(name): 0},
                             {self._skey(name): lambda ids: json.dumps(
                                 {"id": ids[0], "name": name, "owner": owner, "comment": comment}).encode()}, n_ids=1)
                return True
            except _Retry:
                continue

    def drop_schema(self, name: str, if_exists: bool = False) -> bool:
        self.refresh()
        cur = self.store.get(self._skey(name))
        if cur is None:
            if if_exists:
                return False
            raise errors.InvalidSchemaName(f'schema "{name}" does not exist', sqlstate="3F000")
        if any(s == name for s, _ in self._tables) or any(s == name for objs in self._objects.values() for s, _ in objs):
            raise errors.PgError(f'cannot drop schema {name} because other objects depend on it',
                                 sqlstate="2BP01")
        self._commit({self._skey(name): cur[1]}, {}, [self._skey(name)])
        return True

    def replace_schema(self, schema: Schema) -> None:
        """Store a changed schema document (COMMENT ON SCHEMA)."""
        key = self._skey(schema.name)
        cur = self.store.get(key)
        if cur is None:
            raise errors.InvalidSchemaName(f'schema "{schema.name}" does not exist')
        try:
            self._commit({key: cur[1]}, {key: json.dumps(dataclasses.asdict(schema)).encode()})
        except _Retry:
            raise errors.schema_conflict() from None

    # ---- the database itself (COMMENT ON DATABASE)
    def database_comment(self) -> str | None:
        self._fresh()
        return self._database.get("comment")

    def set_database_comment(self, comment: str | None) -> None:
        key = f"{PREFIX}databases/{self.database}"
        cur = self.store.get(key)
        try:
            self._commit({key: cur[1] if cur else 0}, {key: json.dumps({"comment": comment}).encode()})
        except _Retry:
            raise errors.schema_conflict() from None

    # ---- tables
    def get_table(self, schema: str, name: str) -> Table | None:
        """The table, re-reading etcd once if the cache does not have it."""
        self._fresh()
        t = self._tables.get((schema, name))
        if t is None:
            self.refresh()
            t = self._tables.get((schema, name))
        return t

    def tables(self, schema: str | None = None) -> list[Table]:
        self._fresh()
        return [t for (s, _), t in self._tables.items() if schema is None or s == schema]

    def relation_exists(self, schema: str, name: str) -> str | None:
        """'table' / 'index' if a relation of that name exists in the schema."""
        self.refresh()
        if (schema, name) in self._tables:
            return "table"
        if (schema, name) in self._objects.get("sequence", {}):
            return "sequence"
        for (s, _), t in self._tables.items():
            if s == schema and any(i.name == name for i in t.indexes):
                return "index"
        return None

    def create_table(self, table: Table, if_not_exists: bool = False) -> Table | None:
        """Store a new table. table.id and index ids are allocated here (any value passed is
        ignored). Returns the stored table, or None if it existed and if_not_exists."""
        while True:
            if self.store.get(self._skey(table.schema)) is None:
                raise errors.InvalidSchemaName(f'schema "{table.schema}" does not exist')
            kind = self.relation_exists(table.schema, table.name)
            if kind is not None:
                if if_not_exists:
                    return None
                raise errors.DuplicateTable(f'relation "{table.name}" already exists')
            for ix in table.indexes:
                if self.relation_exists(table.schema, ix.name):
                    raise errors.DuplicateTable(f'relation "{ix.name}" already exists')
            key = self._tkey(table.schema, table.name)
            n = 1 + len(table.indexes)
            result: list[Table] = []

            def render(ids, table=table):
                t = dataclasses.replace(table, id=ids[0], indexes=[
                    dataclasses.replace(ix, id=ids[1 + i]) for i, ix in enumerate(table.indexes)])
                result.append(t)
                return t.to_json().encode()
            try:
                self._commit({key: 0}, {key: render}, n_ids=n)
            except _Retry:
                continue
            return self.get_table(table.schema, table.name) or result[-1]

    def drop_table(self, schema: str, name: str) -> Table:
        self.refresh()
        t = self._tables.get((schema, name))
        if t is None:
            raise errors.UndefinedTable(f'table "{name}" does not exist')
        key = self._tkey(schema, name)
        self._commit({key: t.revision}, {}, [key])
        return t

    def create_index(self, schema: str, table: str, index: Index, if_not_exists: bool = False,
                     also: dict[str, Callable] | None = None) -> Index | None:
        """Add an index (its id is allocated here). `also`: more keys to put in the same etcd
        transaction, rendered from the new Index (the async job record)."""
        while True:
            self.refresh()
            t = self._tables.get((schema, table))
            if t is None:
                raise errors.UndefinedTable(f'relation "{table}" does not exist')
            if self.relation_exists(schema, index.name):
                if if_not_exists:
                    return None
                raise errors.DuplicateTable(f'relation "{index.name}" already exists')
            key = self._tkey(schema, table)
            made: list[Index] = []

            def render(ids, t=t):
                ix = dataclasses.replace(index, id=ids[0])
                made.append(ix)
                return dataclasses.replace(t, indexes=t.indexes + [ix]).to_json().encode()
            puts = {key: render}
            for k, fn in (also or {}).items():
                puts[k] = lambda ids, fn=fn: fn(dataclasses.replace(index, id=ids[0]))
            try:
                self._commit({key: t.revision}, puts, n_ids=1)
            except _Retry:
                continue
            return made[-1]

    def table_by_id(self, table_id: int) -> Table | None:
        self._fresh()
        for t in self._tables.values():
            if t.id == table_id:
                return t
        return None

    def set_index_state(self, table_id: int, index_id: int, state: str,
                        compares: dict[str, int] | None = None, puts: dict[str, bytes] | None = None) -> bool:
        """Change an index's state together with other keys (the job record), atomically.
        False if the index no longer exists or one of `compares` changed; retries table races."""
        for _ in range(100):
            self.refresh()
            t = next((x for x in self._tables.values() if x.id == table_id), None)
            if t is None or not any(ix.id == index_id for ix in t.indexes):
                return False
            changed = dataclasses.replace(t, indexes=[
                dataclasses.replace(ix, state=state) if ix.id == index_id else ix for ix in t.indexes])
            key = self._tkey(t.schema, t.name)
            try:
                self._commit({key: t.revision, **(compares or {})},
                             {key: changed.to_json().encode(), **(puts or {})})
                return True
            except _Retry:
                for k, r in (compares or {}).items():
                    cur = self.store.get(k)
                    if (cur[1] if cur else 0) != r:
                        return False
        raise errors.schema_conflict()

    def rename_table(self, schema: str, name: str, new_schema: str, new_name: str) -> Table:
        """Move a table to a new name and/or schema (same id, so its rows stay where they are)."""
        self.refresh()
        t = self._tables.get((schema, name))
        if t is None:
            raise errors.UndefinedTable(f'relation "{name}" does not exist')
        if self.store.get(self._skey(new_schema)) is None:
            raise errors.InvalidSchemaName(f'schema "{new_schema}" does not exist')
        if self.relation_exists(new_schema, new_name):
            raise errors.DuplicateTable(f'relation "{new_name}" already exists')
        moved = dataclasses.replace(t, schema=new_schema, name=new_name)
        old_key, new_key = self._tkey(schema, name), self._tkey(new_schema, new_name)
        try:
            self._commit({old_key: t.revision, new_key: 0}, {new_key: moved.to_json().encode()}, [old_key])
        except _Retry:
            raise errors.schema_conflict() from None
        return self.get_table(new_schema, new_name)

    def replace_table(self, table: Table) -> Table:
        """Store a changed definition of an existing table (ALTER TABLE); compares its revision."""
        key = self._tkey(table.schema, table.name)
        try:
            self._commit({key: table.revision}, {key: table.to_json().encode()})
        except _Retry:
            raise errors.schema_conflict() from None
        return self.get_table(table.schema, table.name)

    # ---- other objects: sequences, domains, SQL functions (documents with schema, key, name, owner)
    def _okey(self, kind: str, schema: str, key: str) -> str:
        return f"{PREFIX}objects/{kind}/{self.database}/{schema}/{key}"

    def get_object(self, kind: str, schema: str, key: str) -> dict | None:
        self._fresh()
        d = self._objects.get(kind, {}).get((schema, key))
        if d is None:
            self.refresh()
            d = self._objects.get(kind, {}).get((schema, key))
        return d

    def objects(self, kind: str, schema: str | None = None) -> list[dict]:
        self._fresh()
        return [d for (s, _), d in self._objects.get(kind, {}).items() if schema is None or s == schema]

    def create_object(self, kind: str, doc: dict) -> dict | None:
        """Store a new object (its id allocated here); None if one with that key exists."""
        key = self._okey(kind, doc["schema"], doc["key"])
        while True:
            if self.store.get(self._skey(doc["schema"])) is None:
                raise errors.InvalidSchemaName(f'schema "{doc["schema"]}" does not exist')
            if self.store.get(key) is not None:
                return None
            made: list[dict] = []

            def render(ids):
                made.append({**doc, "id": ids[0]})
                return json.dumps(made[-1], sort_keys=True).encode()
            try:
                self._commit({key: 0}, {key: render}, n_ids=1)
            except _Retry:
                continue
            return made[-1]

    def replace_object(self, kind: str, doc: dict) -> None:
        """Store a changed object, comparing the revision the caller read."""
        stored = {k: v for k, v in doc.items() if k != "revision"}
        key = self._okey(kind, doc["schema"], doc["key"])
        try:
            self._commit({key: doc.get("revision", 0)}, {key: json.dumps(stored, sort_keys=True).encode()})
        except _Retry:
            raise errors.schema_conflict() from None

    def move_object(self, kind: str, doc: dict, new_schema: str) -> dict:
        """The same object (same id) under another schema, in one etcd transaction."""
        old_key, new_key = self._okey(kind, doc["schema"], doc["key"]), self._okey(kind, new_schema, doc["key"])
        moved = {k: v for k, v in doc.items() if k != "revision"} | {"schema": new_schema}
        try:
            self._commit({old_key: doc.get("revision", 0), new_key: 0},
                         {new_key: json.dumps(moved, sort_keys=True).encode()}, [old_key])
        except _Retry:
            raise errors.schema_conflict() from None
        return moved

    def drop_object(self, kind: str, doc: dict) -> None:
        key = self._okey(kind, doc["schema"], doc["key"])
        try:
            self._commit({key: doc.get("revision", 0)}, {}, [key])
        except _Retry:
            raise errors.schema_conflict() from None


class _Retry(Exception):
    pass
