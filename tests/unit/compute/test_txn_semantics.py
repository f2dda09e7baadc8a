"""Transaction control, read-only modes, DDL/DML rules, OC001 through schema keys and the
transaction metrics, on SqlSession over the in-memory KV."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog, MemoryStore
from services.compute.kv import schema_key
from services.compute.sql.session import SqlSession

from .memkv import MemKV


@pytest.fixture
def env():
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    return cat, MemKV()


def session(env, **limits):
    cat, kv = env
    return SqlSession(catalog=cat, kv=kv, limits=Limits(**limits))


def run(s, sql):
    return s.execute_sql(sql)[-1]


def rows(s, sql):
    return run(s, sql).rows


def err(s, sql) -> PgError:
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql)
    return ei.value


def metric(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_begin_forms_and_tags(env):
    s = session(env)
    for begin, tag in [("begin", "BEGIN"), ("begin work", "BEGIN"), ("begin transaction", "BEGIN"),
                       ("start transaction", "START TRANSACTION"), ("begin read write", "BEGIN"),
                       ("begin isolation level serializable", "BEGIN"),
                       ("begin isolation level read committed", "BEGIN"),
                       ("start transaction isolation level repeatable read, read write", "START TRANSACTION")]:
        assert run(s, begin).tag == tag
        assert s.txn_status == "T"
        assert rows(s, "show transaction_isolation") == [("repeatable read",)]
        assert run(s, "commit").tag == "COMMIT"
    for end, tag in [("end", "COMMIT"), ("commit work", "COMMIT"), ("rollback work", "ROLLBACK"),
                     ("abort", "ROLLBACK"), ("end transaction", "COMMIT")]:
        run(s, "begin")
        assert run(s, end).tag == tag
        assert s.txn_status == "I"


def test_isolation_level_cannot_be_changed(env):
    s = session(env)
    for sql in ["set transaction isolation level serializable",
                "set session characteristics as transaction isolation level read committed",
                "set default_transaction_isolation = 'serializable'",
                "set transaction_isolation = 'read committed'"]:
        assert run(s, sql).tag == "SET"
        assert rows(s, "show transaction_isolation") == [("repeatable read",)]
        assert rows(s, "show default_transaction_isolation") == [("repeatable read",)]


def test_read_only_modes(env):
    s = session(env)
    run(s, "create table t (a int primary key)")
    run(s, "begin read only")
    assert rows(s, "show transaction_read_only") == [("on",)]
    assert err(s, "insert into t values (1)").sqlstate == "25006"
    run(s, "rollback")
    run(s, "begin")
    run(s, "set transaction read only")
    e = err(s, "update t set a = 2")
    assert (e.sqlstate, e.message) == ("25006", "cannot execute UPDATE in a read-only transaction")
    run(s, "rollback")
    run(s, "set session characteristics as transaction read only")
    assert rows(s, "show default_transaction_read_only") == [("on",)]
    assert err(s, "insert into t values (1)").sqlstate == "25006"        # autocommit too
    assert err(s, "create table u (a int primary key)").sqlstate == "25006"
    run(s, "begin read write")
    run(s, "insert into t values (1)")
    run(s, "commit")
    run(s, "set default_transaction_read_only = off")
    run(s, "insert into t values (2)")
    assert rows(s, "select a from t order by a") == [(1,), (2,)]
    assert run(s, "set transaction read only").notices == ["SET TRANSACTION can only be used in transaction blocks"]


def test_for_update_in_read_only_transaction(env):
    s = session(env)
    run(s, "create table t (a int primary key)")
    run(s, "insert into t values (1)")
    run(s, "begin read only")
    e = err(s, "select * from t for update")
    assert (e.sqlstate, e.message) == ("25006", "SELECT FOR UPDATE in a read-only transaction is a no-op")
    assert s.txn_status == "E"
    run(s, "rollback")
    run(s, "begin")
    assert rows(s, "select * from t for update") == [(1,)]
    run(s, "commit")


def test_savepoints_are_refused(env):
    s = session(env)
    run(s, "begin")
    for sql in ["savepoint a", "release savepoint a", "rollback to savepoint a"]:
        e = err(s, sql)
        assert (e.sqlstate, e.message) == ("0A000", "SAVEPOINT not supported")
        assert s.txn_status == "E"
    assert run(s, "rollback").tag == "ROLLBACK"


def test_one_ddl_per_transaction_and_no_dml_with_it(env):
    s = session(env)
    run(s, "create table t (a int primary key)")
    run(s, "begin")
    run(s, "create table u (a int primary key)")
    assert err(s, "create table v (a int primary key)").sqlstate == "0A000"
    run(s, "rollback")
    run(s, "begin")
    run(s, "insert into t values (1)")
    e = err(s, "create table v (a int primary key)")
    assert (e.sqlstate, e.message) == ("0A000", "ddl and dml are not supported in the same transaction")
    run(s, "rollback")
    assert s.catalog.get_table("public", "u") is None and s.catalog.get_table("public", "v") is None
    assert rows(s, "select count(*) from t") == [(0,)]


def test_ddl_on_the_schema_gives_racing_dml_oc001(env):
    cat, kv = env
    a, b = session(env), session(env)
    run(a, "create table t (a int primary key)")
    before = metric("dsql_compute_transactions_aborted_total", reason="OC001")
    run(a, "begin")
    run(a, "insert into t values (1)")
    run(b, "create table other (a int primary key)")        # another table, same schema
    e = err(a, "commit")
    assert (e.sqlstate, e.message) == (
        "40001", "schema has been updated by another transaction, retry as needed (OC001)")
    assert metric("dsql_compute_transactions_aborted_total", reason="OC001") == before + 1
    assert rows(a, "select count(*) from t") == [(0,)]
    # the DDL wrote the schema's version key through the KV
    assert kv.begin().get([schema_key("public")])[0] is not None
    # DML that starts after the DDL commits
    run(a, "insert into t values (1)")
    # DDL in another schema does not disturb DML here
    run(b, "create schema s2")
    run(a, "begin")
    run(a, "insert into t values (2)")
    run(b, "create table s2.x (a int primary key)")
    run(a, "commit")
    assert rows(a, "select a from t order by a") == [(1,), (2,)]


def test_metrics_count_commits_aborts_rows_and_conflicts(env):
    a, b = session(env), session(env)
    run(a, "create table t (id int primary key, v int)")
    run(a, "create index t_v on t (v)")
    c0 = metric("dsql_compute_transactions_committed_total", kind="read_write")
    r0 = metric("dsql_compute_transaction_rows_sum")
    n0 = metric("dsql_compute_transaction_rows_count")
    run(a, "insert into t values (1, 1), (2, 2)")            # 2 rows + 2 index rows
    assert metric("dsql_compute_transactions_committed_total", kind="read_write") == c0 + 1
    assert metric("dsql_compute_transaction_rows_sum") == r0 + 4
    assert metric("dsql_compute_transaction_rows_count") == n0 + 1
    ro = metric("dsql_compute_transactions_committed_total", kind="read_only")
    rows(a, "select * from t")
    assert metric("dsql_compute_transactions_committed_total", kind="read_only") == ro + 1
    oc0 = metric("dsql_compute_transactions_aborted_total", reason="OC000")
    run(a, "begin")
    run(a, "update t set v = 10 where id = 1")
    run(b, "update t set v = 20 where id = 1")
    assert err(a, "commit").sqlstate == "40001"
    assert metric("dsql_compute_transactions_aborted_total", reason="OC000") == oc0 + 1
    assert 0 < metric("dsql_compute_transaction_conflict_ratio") <= 1
    lim0 = metric("dsql_compute_transactions_aborted_total", reason="limit")
    s = session(env, txn_rows_max=3)
    assert err(s, "insert into t values (3, 3), (4, 4)").sqlstate == "54000"
    assert metric("dsql_compute_transactions_aborted_total", reason="limit") == lim0 + 1
    rb0 = metric("dsql_compute_transactions_aborted_total", reason="rollback")
    run(a, "begin")
    run(a, "delete from t")
    run(a, "rollback")
    assert metric("dsql_compute_transactions_aborted_total", reason="rollback") == rb0 + 1
    assert metric("dsql_compute_transaction_limit", limit="rows") == 10_000
