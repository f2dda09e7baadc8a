"""The catalog on a real etcd: ids, schemas, tables, indexes, watches, races."""

from __future__ import annotations

import threading
import time

import pytest

from services.common import errors
from services.compute.catalog import Catalog, Column, Index, MemoryStore, Table


def _table(schema="public", name="t", pk=True):
    cols = [Column(1, "id", 23, not_null=True), Column(2, "v", 25)]
    return Table(id=0, schema=schema, name=name, columns=cols, pk=[1] if pk else [], pk_name=f"{name}_pkey")


def test_bootstrap_is_idempotent(etcd_catalog):
    etcd_catalog.bootstrap()
    etcd_catalog.bootstrap()
    assert [s.name for s in etcd_catalog.schemas()] == ["public"]


def test_create_and_read_table(etcd_catalog):
    t = etcd_catalog.create_table(_table())
    assert t.id >= 16384
    got = etcd_catalog.get_table("public", "t")
    assert got.id == t.id and [c.name for c in got.columns] == ["id", "v"] and got.pk == [1]
    with pytest.raises(errors.DuplicateTable):
        etcd_catalog.create_table(_table())
    assert etcd_catalog.create_table(_table(), if_not_exists=True) is None


def test_schema_errors(etcd_catalog):
    assert etcd_catalog.create_schema("s1")
    with pytest.raises(errors.DuplicateSchema):
        etcd_catalog.create_schema("s1")
    assert etcd_catalog.create_schema("s1", if_not_exists=True) is False
    with pytest.raises(errors.InvalidSchemaName):
        etcd_catalog.create_table(_table(schema="nope"))


def test_ids_are_unique_under_concurrency(etcd_endpoint, etcd_catalog):
    db = etcd_catalog.database
    made = []
    errs = []

    def worker(i):
        try:
            c = Catalog((etcd_endpoint,), database=db)
            made.append(c.create_table(_table(name=f"t{i}")).id)
            c.close()
        except Exception as e:   # pragma: no cover - reported below
            errs.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errs
    assert len(set(made)) == 6


def test_racing_creates_of_one_table_one_wins(etcd_endpoint, etcd_catalog):
    db = etcd_catalog.database
    results = []

    def worker():
        c = Catalog((etcd_endpoint,), database=db)
        try:
            c.create_table(_table(name="race"))
            results.append("ok")
        except errors.DuplicateTable:
            results.append("dup")
        finally:
            c.close()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["dup", "dup", "dup", "ok"]


def test_other_node_sees_changes_through_watch(etcd_endpoint, etcd_catalog):
    other = Catalog((etcd_endpoint,), database=etcd_catalog.database)
    try:
        assert other.get_table("public", "w") is None
        etcd_catalog.create_table(_table(name="w"))
        deadline = time.monotonic() + 5
        while other._stale is False and time.monotonic() < deadline:
            time.sleep(0.01)
        assert other._stale, "the watch did not mark the cache stale"
        assert other.get_table("public", "w") is not None
    finally:
        other.close()


def test_missing_table_rereads_once(etcd_endpoint, etcd_catalog):
    other = Catalog((etcd_endpoint,), database=etcd_catalog.database)
    try:
        other.refresh()
        etcd_catalog.create_table(_table(name="late"))
        other._stale = False           # pretend the watch event has not arrived yet
        assert other.get_table("public", "late") is not None
    finally:
        other.close()


def test_index_and_drop(etcd_catalog):
    t = etcd_catalog.create_table(_table(name="ix"))
    ix = etcd_catalog.create_index("public", "ix", Index(0, "ix_v_idx", [2]))
    assert ix.id > t.id
    assert etcd_catalog.relation_exists("public", "ix_v_idx") == "index"
    with pytest.raises(errors.DuplicateTable):
        etcd_catalog.create_index("public", "ix", Index(0, "ix", [2]))
    etcd_catalog.drop_table("public", "ix")
    assert etcd_catalog.get_table("public", "ix") is None
    with pytest.raises(errors.UndefinedTable):
        etcd_catalog.drop_table("public", "ix")


def test_memory_store_behaves_the_same():
    c = Catalog(store=MemoryStore())
    c.bootstrap()
    t = c.create_table(_table())
    assert c.get_table("public", "t").id == t.id
    with pytest.raises(errors.DuplicateTable):
        c.create_table(_table())
