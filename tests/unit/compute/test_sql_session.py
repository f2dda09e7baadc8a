"""SqlSession against the in-memory KV: statements, tags, errors, transactions, plans."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql import types as T
from services.compute.sql.session import SqlSession

from .memkv import MemKV


@pytest.fixture
def env():
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    kv = MemKV()
    return cat, kv


@pytest.fixture
def s(env):
    cat, kv = env
    return SqlSession(catalog=cat, kv=kv, user="admin", database="postgres", limits=Limits())


def run(s, sql, params=()):
    return s.execute_sql(sql, params)[-1]


def rows(s, sql, params=()):
    return run(s, sql, params).rows


def err(s, sql, params=()) -> PgError:
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql, params)
    return ei.value


def test_select_without_from(s):
    r = run(s, "select 1, 'a', 1.5 + 2 as x, null")
    assert r.tag == "SELECT 1"
    assert [c.name for c in r.columns] == ["?column?", "?column?", "x", "?column?"]
    assert [c.type_oid for c in r.columns] == [T.INT4, T.TEXT, T.NUMERIC, T.TEXT]
    assert r.rows == [(1, "a", Decimal("3.5"), None)]


def test_empty_query(s):
    assert s.parse("") == [] and s.parse("  -- nothing\n") == []


def test_getting_started_example(s):
    run(s, "CREATE SCHEMA example")
    run(s, "CREATE TABLE example.invoice(id UUID PRIMARY KEY DEFAULT gen_random_uuid(), created timestamp, "
           "purchaser int, amount float)")
    assert run(s, "CREATE INDEX invoice_created_idx on example.invoice(created)").tag == "CREATE INDEX"
    run(s, "CREATE TABLE example.department(id INT PRIMARY KEY UNIQUE, name text, email text)")
    r = run(s, "INSERT INTO example.department VALUES (1, 'One', 'one@x'), (2, 'Two', 'two@x'), (3, 'Three', null)")
    assert r.tag == "INSERT 0 3"
    run(s, "INSERT INTO example.invoice (created, purchaser, amount) VALUES "
           "('2024-01-01', 1, 10.5), ('2024-01-02', 1, 20), ('2024-01-03', 2, 5.25), ('2024-01-04', 3, -1)")
    r = run(s, "SELECT name, sum(amount) AS sum_amount FROM example.department LEFT JOIN example.invoice ON "
               "department.id=invoice.purchaser GROUP BY name HAVING sum(amount) > 0 ORDER BY sum_amount DESC")
    assert r.rows == [("One", 30.5), ("Two", 5.25)]
    assert [(c.name, c.type_oid) for c in r.columns] == [("name", T.TEXT), ("sum_amount", T.FLOAT8)]


def test_ddl_tags_and_if_not_exists(s):
    assert run(s, "create schema s1").tag == "CREATE SCHEMA"
    assert run(s, "create schema if not exists s1").notices == ['schema "s1" already exists, skipping']
    assert err(s, "create schema s1").sqlstate == "42P06"
    assert run(s, "create table s1.t (a int primary key)").tag == "CREATE TABLE"
    assert err(s, "create table s1.t (a int)").sqlstate == "42P07"
    assert run(s, "create table if not exists s1.t (a int)").tag == "CREATE TABLE"
    assert run(s, "drop table s1.t").tag == "DROP TABLE"
    e = err(s, "drop table s1.t")
    assert (e.sqlstate, e.message) == ("42P01", 'table "t" does not exist')
    assert run(s, "drop table if exists s1.t").notices == ['table "t" does not exist, skipping']
    assert err(s, "create table nosuch.t (a int)").sqlstate == "3F000"


def test_insert_defaults_and_returning(s):
    run(s, "create table t (id uuid primary key default gen_random_uuid(), n int default 7, "
           "at timestamptz default now(), label text not null default 'x' || 'y')")
    r = run(s, "insert into t (n) values (1), (default) returning id, n, label, at")
    assert r.tag == "INSERT 0 2"
    assert [x[1] for x in r.rows] == [1, 7]
    assert all(isinstance(x[0], uuid.UUID) for x in r.rows)
    assert r.rows[0][2] == "xy"
    assert isinstance(r.rows[0][3], dt.datetime) and r.rows[0][3].tzinfo is not None
    assert [c.name for c in r.columns] == ["id", "n", "label", "at"]


def test_not_null_and_duplicate_key_messages(s):
    run(s, "create table t (id int primary key, name text not null, note text)")
    run(s, "insert into t values (1, 'a', 'b c')")
    e = err(s, "insert into t values (2, null, 'b c')")
    assert e.sqlstate == "23502"
    assert e.message == 'null value in column "name" of relation "t" violates not-null constraint'
    assert e.detail == 'Failing row contains (2, null, b c).'   # PostgreSQL 15 does not quote
    e = err(s, "insert into t values (1, 'x', null)")
    assert e.sqlstate == "23505"
    assert e.message == 'duplicate key value violates unique constraint "t_pkey"'
    assert e.detail == "Key (id)=(1) already exists."
    e = err(s, "insert into t values (5, 'x', null), (5, 'y', null)")
    assert e.sqlstate == "23505"
    assert rows(s, "select count(*) from t") == [(1,)]


def test_composite_primary_key_and_unique(s):
    run(s, "create table t (a int, b text, c int unique, primary key (a, b))")
    run(s, "insert into t values (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)")
    e = err(s, "insert into t values (1, 'x', 9)")
    assert e.detail == "Key (a, b)=(1, x) already exists."
    e = err(s, "insert into t values (9, 'x', 1)")
    assert e.message == 'duplicate key value violates unique constraint "t_c_key"'
    assert e.detail == "Key (c)=(1) already exists."
    assert rows(s, "select a, b from t where a = 1 order by b desc") == [(1, "y"), (1, "x")]
    run(s, "insert into t values (3, 'z', null), (4, 'z', null)")      # NULLs are distinct
    e = err(s, "update t set c = 1 where a = 1 and b = 'y'")
    assert e.sqlstate == "23505"
    run(s, "delete from t where c = 1")
    run(s, "update t set c = 1 where a = 1 and b = 'y'")


def test_update_and_delete_tags(s):
    run(s, "create table t (id int primary key, v int)")
    run(s, "insert into t select 1, 10")
    run(s, "insert into t values (2, 20), (3, 30)")
    r = run(s, "update t set v = v + 1 where id >= 2 returning id, v")
    assert r.tag == "UPDATE 2" and sorted(r.rows) == [(2, 21), (3, 31)]
    assert run(s, "update t set v = 0 where id = 99").tag == "UPDATE 0"
    assert run(s, "delete from t where id = 99").tag == "DELETE 0"
    r = run(s, "delete from t where v > 20 returning *")
    assert r.tag == "DELETE 2"
    assert rows(s, "select * from t") == [(1, 10)]
    # changing the primary key moves the row
    run(s, "update t set id = 5 where id = 1")
    assert rows(s, "select id, v from t") == [(5, 10)]
    run(s, "insert into t values (6, 60)")
    assert err(s, "update t set id = 6 where id = 5").sqlstate == "23505"
    run(s, "update t set id = id + 1")       # 5->6, 6->7 in one statement is fine
    assert rows(s, "select id from t order by id") == [(6,), (7,)]


def test_table_without_primary_key(s):
    run(s, "create table t (a int, b text)")
    run(s, "insert into t values (1, 'x'), (1, 'x')")
    r = run(s, "select * from t")
    assert r.rows == [(1, "x"), (1, "x")] and [c.name for c in r.columns] == ["a", "b"]
    assert run(s, "update t set b = 'y'").tag == "UPDATE 2"
    assert run(s, "delete from t").tag == "DELETE 2"


def test_errors_with_positions(s):
    e = err(s, "select * from nosuch")
    assert (e.sqlstate, e.message, e.position) == ("42P01", 'relation "nosuch" does not exist', 15)
    run(s, "create table t (a int primary key)")
    e = err(s, "select b from t")
    assert (e.sqlstate, e.message, e.position) == ("42703", 'column "b" does not exist', 8)
    e = err(s, "select 1 +")
    assert e.sqlstate == "42601"
    e = err(s, "select 'abc'::int")
    assert (e.sqlstate, e.message, e.position) == ("22P02", 'invalid input syntax for type integer: "abc"', 8)
    e = err(s, "select a from t where a = 'x'")
    assert (e.sqlstate, e.position) == ("22P02", 27)
    e = err(s, "select 1 = 'a'::text")
    assert (e.sqlstate, e.message) == ("42883", "operator does not exist: integer = text")
    assert err(s, "select 2147483647 + 1").message == "integer out of range"
    assert err(s, "select 1/0").sqlstate == "22012"


def test_unsupported_statements(s):
    for sql in ("create view v as select 1", "truncate t", "create sequence q", "savepoint a",
                "create temporary table x (a int)"):
        assert err(s, sql).sqlstate == "0A000", sql


def test_create_index_on_table_with_rows_is_refused(s):
    run(s, "create table t (a int primary key, b int)")
    run(s, "create index t_b on t (b)")
    run(s, "insert into t values (1, 2)")
    e = err(s, "create index t_b2 on t (b)")
    assert (e.sqlstate, e.message) == ("0A000", "use CREATE INDEX ASYNC instead")


def test_transaction_block_and_failed_state(s):
    run(s, "create table t (a int primary key)")
    assert s.txn_status == "I"
    assert run(s, "begin").tag == "BEGIN"
    assert s.txn_status == "T"
    run(s, "insert into t values (1)")
    with pytest.raises(PgError):
        s.execute_sql("insert into t values (1)")
    assert s.txn_status == "E"
    e = err(s, "select 1")
    assert (e.sqlstate, e.message) == (
        "25P02", "current transaction is aborted, commands ignored until end of transaction block")
    assert run(s, "commit").tag == "ROLLBACK"
    assert s.txn_status == "I"
    assert rows(s, "select count(*) from t") == [(0,)]
    run(s, "start transaction")
    run(s, "insert into t values (2)")
    assert rows(s, "select a from t") == [(2,)]           # read your writes
    assert run(s, "end").tag == "COMMIT"
    run(s, "begin")
    run(s, "insert into t values (3)")
    assert run(s, "abort").tag == "ROLLBACK"
    assert rows(s, "select a from t") == [(2,)]
    assert run(s, "commit").notices == ["there is no transaction in progress"]


def test_snapshot_isolation_and_conflicts(env):
    cat, kv = env
    a = SqlSession(catalog=cat, kv=kv, limits=Limits())
    b = SqlSession(catalog=cat, kv=kv, limits=Limits())
    run(a, "create table t (id int primary key, v int)")
    run(a, "insert into t values (1, 0)")
    run(a, "begin")
    assert rows(a, "select v from t where id = 1") == [(0,)]
    run(b, "update t set v = 5 where id = 1")
    assert rows(a, "select v from t where id = 1") == [(0,)]        # snapshot
    run(a, "update t set v = v + 1 where id = 1")
    e = err(a, "commit")
    assert e.sqlstate == "40001" and "OC000" in e.message
    assert a.txn_status == "I"
    assert rows(a, "select v from t") == [(5,)]


def test_ddl_and_dml_do_not_mix(s):
    run(s, "create table t (a int primary key)")
    run(s, "begin")
    run(s, "insert into t values (1)")
    assert err(s, "create table u (a int)").sqlstate == "0A000"
    run(s, "rollback")
    run(s, "begin")
    run(s, "create table u (a int primary key)")
    assert err(s, "insert into t values (1)").sqlstate == "0A000"
    run(s, "rollback")
    assert s.catalog.get_table("public", "u") is None
    run(s, "begin")
    run(s, "create table u (a int primary key)")
    run(s, "commit")
    assert s.catalog.get_table("public", "u") is not None


def test_schema_change_conflicts_with_open_writer(env):
    cat, kv = env
    a = SqlSession(catalog=cat, kv=kv, limits=Limits())
    b = SqlSession(catalog=cat, kv=kv, limits=Limits())
    run(a, "create table t (a int primary key, b int)")
    run(a, "begin")
    run(a, "insert into t values (1, 1)")
    run(b, "create index t_b on t (b)")
    e = err(a, "commit")
    assert e.sqlstate == "40001" and "OC001" in e.message


def test_parameters_are_inferred(s):
    run(s, "create table t (id bigint primary key, name varchar(10), price numeric(6,2), at date)")
    st = s.parse("insert into t values ($1, $2, $3, $4)")[0]
    p = s.prepare(st, [])
    assert p.param_oids == [T.INT8, T.VARCHAR, T.NUMERIC, T.DATE]
    s.execute(p, [1, "x", Decimal("1.5"), dt.date(2024, 1, 2)])
    p2 = s.prepare(s.parse("select name, price * $2 from t where id = $1")[0], [0, 0])
    assert p2.param_oids == [T.INT8, T.NUMERIC]
    r = s.execute(p2, [1, Decimal(2)])
    assert r.rows == [("x", Decimal("3.00"))]
    p3 = s.prepare(s.parse("select $1")[0], [])
    assert p3.param_oids == [T.TEXT]
    p4 = s.prepare(s.parse("select $1::int + 1")[0], [])
    assert p4.param_oids == [T.INT4]
    p5 = s.prepare(s.parse("select $1 = 1")[0], [T.INT8])
    assert p5.param_oids == [T.INT8]


def test_point_get_and_range_scans_use_one_storage_call(env):
    cat, kv = env
    s = SqlSession(catalog=cat, kv=kv, limits=Limits())
    run(s, "create table t (a int, b int, c text, primary key (a, b))")
    run(s, "insert into t select 1, 1, 'x'")
    run(s, "insert into t values (1, 2, 'y'), (2, 1, 'z'), (3, 3, 'w')")
    for sql, want, gets, scans in [
        ("select c from t where a = 1 and b = 2", [("y",)], 1, 0),
        ("select c from t where a in (1, 2) and b = 1 order by c", [("x",), ("z",)], 1, 0),
        ("select c from t where a = 1 order by b desc", [("y",), ("x",)], 0, 1),
        ("select c from t where a >= 2", [("z",), ("w",)], 0, 1),
        ("select c from t where c = 'w'", [("w",)], 0, 1),
        ("select c from t where a = 1 and b > 1", [("y",)], 0, 1),
    ]:
        g0, s0 = kv.get_calls, kv.scan_calls
        assert rows(s, sql) == want, sql
        assert (kv.get_calls - g0, kv.scan_calls - s0) == (gets, scans), sql
    plan = run(s, "explain select c from t where a = 1 and b = 2").rows
    assert plan[-1][0].strip().startswith("->  PkGet") or "PkGet" in plan[-1][0]


def test_order_by_nulls_aliases_ordinals_limit(s):
    run(s, "create table t (id int primary key, v int, w text)")
    run(s, "insert into t values (1, null, 'a'), (2, 5, 'b'), (3, 1, null), (4, 5, 'c')")
    assert rows(s, "select id from t order by v, id") == [(3,), (2,), (4,), (1,)]
    assert rows(s, "select id from t order by v desc, id") == [(1,), (2,), (4,), (3,)]
    assert rows(s, "select id from t order by v nulls first, id desc") == [(1,), (3,), (4,), (2,)]
    assert rows(s, "select id as k, w from t order by k desc limit 2") == [(4, "c"), (3, None)]
    assert rows(s, "select id, w from t order by 2 limit 2 offset 1") == [(2, "b"), (4, "c")]
    assert rows(s, "select id from t order by id desc limit 1") == [(4,)]
    assert rows(s, "select v, count(*) from t group by v order by v nulls first") == [(None, 1), (1, 1), (5, 2)]


def test_aggregates_types(s):
    run(s, "create table t (id int primary key, i2 smallint, i8 bigint, n numeric(10,2), f real, d float8)")
    run(s, "insert into t values (1, 1, 10, 1.5, 1.5, 2.5), (2, 2, 20, 2.25, 2.5, 3.5)")
    r = run(s, "select sum(id), sum(i2), sum(i8), sum(n), sum(f), sum(d), avg(id), avg(n), avg(d), count(n) from t")
    assert [c.type_oid for c in r.columns] == [T.INT8, T.INT8, T.NUMERIC, T.NUMERIC, T.FLOAT4, T.FLOAT8,
                                               T.NUMERIC, T.NUMERIC, T.FLOAT8, T.INT8]
    assert r.rows == [(3, 3, Decimal(30), Decimal("3.75"), 4.0, 6.0, Decimal("1.5000000000000000"),
                       Decimal("1.87500000000000000000"), 3.0, 2)]
    assert rows(s, "select sum(id), count(*), max(id) from t where id > 5") == [(None, 0, None)]
    assert rows(s, "select id, count(*) from t where id > 5 group by id") == []
    e = err(s, "select id, count(*) from t")
    assert e.sqlstate == "42803"


def test_types_round_trip_through_storage(s):
    run(s, "create table t (id int primary key, a smallint, b bigint, c boolean, d char(3), e varchar(5), "
           "f text, g bytea, h real, i double precision, j numeric(8,3), k date, l time, m timestamp, "
           "n timestamptz, o interval, p uuid)")
    run(s, "insert into t values (1, 1, 2, true, 'ab', 'abc', 'text', '\\x01ff', 1.5, 2.5, 3.14159, "
           "'2024-02-29', '12:34:56.5', '2024-01-02 03:04:05', '2024-01-02 03:04:05+02', '1 day 2 hours', "
           "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')")
    r = run(s, "select * from t")
    text = [T.encode_text(c.type_oid, v) for c, v in zip(r.columns, r.rows[0])]
    assert text == ["1", "1", "2", "t", "ab ", "abc", "text", "\\x01ff", "1.5", "2.5", "3.142", "2024-02-29",
                    "12:34:56.5", "2024-01-02 03:04:05", "2024-01-02 01:04:05+00", "1 day 02:00:00",
                    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]
    e = err(s, "insert into t (id, e) values (2, 'toolong')")
    assert (e.sqlstate, e.message) == ("22001", "value too long for type character varying(5)")
    e = err(s, "insert into t (id, j) values (2, 123456)")
    assert (e.sqlstate, e.message) == ("22003", "numeric field overflow")


def test_plan_cache_is_invalidated_by_ddl(s):
    run(s, "create table t (a int primary key)")
    st = s.parse("select * from t")[0]
    p1 = s.prepare(st, [])
    assert s.prepare(st, []) is p1
    run(s, "drop table t")
    run(s, "create table t (a int primary key, b int)")
    p2 = s.prepare(st, [])
    assert p2 is not p1 and len(p2.columns) == 2


def test_row_limit_is_enforced(env):
    cat, kv = env
    s = SqlSession(catalog=cat, kv=kv, limits=Limits(txn_rows_max=3))
    run(s, "create table t (a int primary key)")
    e = err(s, "insert into t values (1), (2), (3), (4)")
    assert (e.sqlstate, e.message) == ("54000", "transaction row limit exceeded")


def test_read_only_transaction(s):
    run(s, "create table t (a int primary key)")
    run(s, "begin read only")
    e = err(s, "insert into t values (1)")
    assert e.sqlstate == "25006"
    run(s, "rollback")


def test_set_and_show(s):
    assert run(s, "set application_name = 'x'").tag == "SET"
    assert rows(s, "show application_name") == [("x",)]
    assert rows(s, "show transaction_isolation") == [("repeatable read",)]


def test_errors_before_execution_also_fail_the_block(s):
    run(s, "begin")
    with pytest.raises(PgError):
        s.execute_sql("selec 1")
    assert s.txn_status == "E"
    assert run(s, "rollback").tag == "ROLLBACK"
    run(s, "begin")
    with pytest.raises(PgError):
        s.execute_sql("select * from nosuch")
    assert s.txn_status == "E"
    e = err(s, "select 1")
    assert e.sqlstate == "25P02"
    run(s, "rollback")
    assert s.txn_status == "I"
    # outside a block, a failed statement leaves the session idle
    with pytest.raises(PgError):
        s.execute_sql("select * from nosuch")
    assert s.txn_status == "I"


def _index_entries(kv, index_id):
    from services.common import keycodec
    p = keycodec.object_prefix(index_id)
    txn = kv.begin()
    return [(k, v) for k, v in txn.scan(p, keycodec.prefix_end(p))]


def test_secondary_index_entries_follow_writes(env):
    cat, kv = env
    s = SqlSession(catalog=cat, kv=kv, limits=Limits())
    run(s, "create table t (id int primary key, v text)")
    run(s, "create index t_v on t (v)")
    ix = cat.get_table("public", "t").indexes[0]
    run(s, "insert into t values (1, 'a'), (2, 'b'), (3, null)")
    assert len(_index_entries(kv, ix.id)) == 3
    run(s, "update t set v = 'z' where id = 1")
    run(s, "update t set id = 10 where id = 2")
    entries = _index_entries(kv, ix.id)
    assert len(entries) == 3
    from services.common import keycodec
    t = cat.get_table("public", "t")
    # every entry points at a live row key
    txn = kv.begin()
    assert all(v is not None for v in txn.get([v for _, v in entries]))
    run(s, "delete from t where id = 10")
    assert len(_index_entries(kv, ix.id)) == 2
    run(s, "delete from t")
    assert _index_entries(kv, ix.id) == []


def test_key_column_size_limit(s):
    run(s, "create table t (k text primary key)")
    e = err(s, f"insert into t values ('{'x' * 300}')")
    assert (e.sqlstate, e.message) == ("54000", "maximum key column size exceeded")


def test_secondary_index_is_used_for_reads(env):
    cat, kv = env
    s = SqlSession(catalog=cat, kv=kv, limits=Limits())
    run(s, "create table t (id int primary key, v int, w text)")
    run(s, "create index t_v on t (v)")
    run(s, "insert into t values (1, 10, 'a'), (2, 20, 'b'), (3, 20, 'c'), (4, null, 'd'), (5, 30, 'e')")
    for sql, want in [
        ("select id from t where v = 20 order by id", [(2,), (3,)]),
        ("select id from t where v > 15 order by id", [(2,), (3,), (5,)]),
        ("select id from t where v <= 20 and w <> 'a' order by id", [(2,), (3,)]),
        ("select id from t where v between 11 and 29 order by id", [(2,), (3,)]),
        ("select id from t where v = 99", []),
    ]:
        g0, s0 = kv.get_calls, kv.scan_calls
        assert rows(s, sql) == want, sql
        assert kv.scan_calls - s0 == 1 and kv.get_calls - g0 <= 1, sql
    assert any("IndexScan using t_v" in r[0] for r in run(s, "explain select id from t where v = 20").rows)
    run(s, "update t set w = 'x' where v = 20")
    assert rows(s, "select id from t where w = 'x' order by id") == [(2,), (3,)]
    run(s, "delete from t where v >= 20")
    assert rows(s, "select id from t order by id") == [(1,), (4,)]


def test_copy_from_stdin_and_to_stdout(s):
    run(s, "create table inv (id uuid primary key default gen_random_uuid(), created timestamp, "
           "purchaser int, amount float, note text)")
    p = s.prepare(s.parse("copy inv(created, purchaser, amount) from stdin with (format csv)")[0], [])
    assert p.kind == "copy_in" and [c.name for c in p.copy_columns] == ["created", "purchaser", "amount"]
    r = s.copy_in(p, [b"2024-01-01 10:00:00,1,10.5\n2024-01-02,2,", b"3.25\n\"2024-01-03\",3,\n"])
    assert r.tag == "COPY 3"
    assert rows(s, "select purchaser, amount from inv order by purchaser") == [(1, 10.5), (2, 3.25), (3, None)]
    p = s.prepare(s.parse("copy inv(purchaser, note) from stdin")[0], [])
    assert s.copy_in(p, [b"7\ta\\tb\n8\t\\N\n\\.\n"]).tag == "COPY 2"
    assert rows(s, "select note from inv where purchaser >= 7 order by purchaser") == [("a\tb",), (None,)]
    p = s.prepare(s.parse("copy (select purchaser, note from inv where purchaser > 6 order by 1) to stdout "
                          "with (format csv, header)")[0], [])
    data, r = s.copy_out(p)
    assert r.tag == "COPY 2" and data == [b"purchaser,note\n", b"7,a\tb\n", b"8,\n"]
    p = s.prepare(s.parse("copy inv(purchaser) from stdin")[0], [])
    e = pytest.raises(PgError, s.copy_in, p, [b"x\n"]).value
    assert e.sqlstate == "22P02"
    assert err(s, "copy inv from '/etc/passwd'").sqlstate == "0A000"


def test_system_views(s):
    run(s, "create schema s2")
    run(s, "create table s2.t (id int primary key, name varchar(10) not null, amt numeric(8,2))")
    run(s, "create index t_name on s2.t (name)")
    assert rows(s, "select schemaname, tablename, hasindexes from pg_tables where schemaname = 's2'") == \
        [("s2", "t", True)]
    assert rows(s, "select table_name from information_schema.tables where table_schema = 's2'") == [("t",)]
    assert rows(s, "select column_name, data_type, character_maximum_length, numeric_precision, numeric_scale "
                   "from information_schema.columns where table_name = 't' order by ordinal_position") == [
        ("id", "integer", None, 32, 0), ("name", "character varying", 10, None, None), ("amt", "numeric", None, 8, 2)]
    assert rows(s, "select indexname from pg_indexes where tablename = 't' order by 1") == [("t_name",), ("t_pkey",)]
    assert rows(s, "select nspname from pg_catalog.pg_namespace where nspname = 's2'") == [("s2",)]
    # Schema-qualified column references to system views, as SQLAlchemy writes them.
    assert rows(s, "select pg_catalog.pg_namespace.nspname from pg_catalog.pg_namespace "
                   "where pg_catalog.pg_namespace.nspname = 's2'") == [("s2",)]
    assert rows(s, "select information_schema.tables.table_name from information_schema.tables "
                   "where information_schema.tables.table_schema = 's2'") == [("t",)]
    assert err(s, "select information_schema.pg_namespace.nspname from pg_namespace").sqlstate == "42P01"
    assert err(s, "select * from information_schema.nope").sqlstate == "42P01"


def test_cancel_and_transaction_age(env):
    cat, kv = env
    s = SqlSession(catalog=cat, kv=kv, limits=Limits())
    now = [1000.0]
    s.clock = lambda: now[0]                      # an injected clock instead of sleeping 300 s
    run(s, "create table t (a int primary key)")
    run(s, "insert into t select 1")
    run(s, "begin")
    run(s, "select 1")
    now[0] += 300.5
    e = err(s, "select 2")
    assert (e.sqlstate, e.message) == ("54000", "transaction age limit of 300s exceeded")
    run(s, "rollback")
    # a write transaction that outlives the limit commits nothing
    run(s, "begin")
    run(s, "insert into t values (1000)")
    now[0] += 301
    e = err(s, "commit")
    assert (e.sqlstate, e.message) == ("54000", "transaction age limit of 300s exceeded")
    assert s.txn_status == "I"
    assert rows(s, "select count(*) from t where a = 1000") == [(0,)]
    s2 = SqlSession(catalog=cat, kv=kv, limits=Limits())
    run(s2, "insert into t values " + ", ".join(f"({i})" for i in range(2, 400)))
    p = s2.prepare(s2.parse("select count(*) from t a join t b on a.a = b.a")[0], [])
    s2.cancel()                                   # a cancel before the statement is forgotten
    assert s2.execute(p, []).rows == [(399,)]
    real_begin = kv.begin

    def begin():
        txn = real_begin()
        real_scan = txn.scan

        def scan(*a, **k):
            s2.cancel()                           # arrives while the statement runs
            return real_scan(*a, **k)
        txn.scan = scan
        return txn
    kv.begin = begin
    try:
        e = err(s2, "select count(*) from t a join t b on a.a = b.a")
        assert (e.sqlstate, e.message) == ("57014", "canceling statement due to user request")
    finally:
        kv.begin = real_begin
    assert rows(s2, "select count(*) from t") == [(399,)]


def test_search_path(s):
    run(s, "create schema sp")
    run(s, "set search_path = sp, public")
    run(s, "create table spt (a int primary key)")
    assert s.catalog.get_table("sp", "spt") is not None
    run(s, "insert into spt values (1)")
    assert rows(s, "select a from spt") == [(1,)]
    assert rows(s, "select current_schema()") == [("sp",)]
    run(s, "set search_path = public")
    assert err(s, "select a from spt").sqlstate == "42P01"
    run(s, "set search_path = nope")
    e = err(s, "create table x1 (a int)")
    assert (e.sqlstate, e.message) == ("3F000", "no schema has been selected to create in")


def test_unnest_of_several_arrays_in_from(s):
    """Django 5.2's bulk_create: INSERT ... SELECT * FROM UNNEST(a::uuid[], b::varchar[]), arrays zipped."""
    run(s, "create table bulk (id int primary key, name varchar(10))")
    run(s, "insert into bulk (id, name) select * from unnest(('{1,2,3}')::int[], ('{a,b,c}')::varchar[])")
    assert rows(s, "select id, name from bulk order by id") == [(1, "a"), (2, "b"), (3, "c")]
    assert rows(s, "select * from unnest(array[1,2], array['x']) as u(n, t)") == [(1, "x"), (2, None)]
    assert rows(s, "select u.t from unnest(array[1], array['y']) as u(n, t)") == [("y",)]


def test_functions_in_from_with_ordinality_and_lateral(s):
    """What Django's introspection sends (PostgreSQL 15's results): WITH ORDINALITY, a function joined with a
    table, and functions over an earlier FROM item's columns."""
    assert rows(s, "select * from unnest(array[5,6]) with ordinality") == [(5, 1), (6, 2)]
    r = run(s, "select * from unnest(array[5,6], array['x']) with ordinality u(n, t, i)")
    assert [c.name for c in r.columns] == ["n", "t", "i"] and r.rows == [(5, "x", 1), (6, None, 2)]
    assert [c.name for c in run(s, "select * from generate_series(3,4) with ordinality as g").columns] == \
        ["g", "ordinality"]
    assert err(s, "select * from unnest(array[1]) u(a, b)").sqlstate == "42P10"
    run(s, "create table intro (a int primary key, b text unique, c int)")
    run(s, "create index intro_c on intro (c, b)")
    assert rows(s, "select c.conname, array(select attname from unnest(c.conkey) with ordinality cols(colid, arridx) "
                   "join pg_attribute as ca on cols.colid = ca.attnum where ca.attrelid = c.conrelid "
                   "order by cols.arridx) from pg_constraint c join pg_class cl on c.conrelid = cl.oid "
                   "where cl.relname = 'intro' order by 1") == [("intro_b_key", ["b"]), ("intro_pkey", ["a"])]
    assert rows(s, "select c2.relname, array_agg(attname order by arridx) from "
                   "(select * from pg_index i, unnest(i.indkey, i.indoption) with ordinality koi(key, option, arridx)) "
                   "idx join pg_class c on idx.indrelid = c.oid join pg_class c2 on idx.indexrelid = c2.oid "
                   "join pg_attribute a on a.attrelid = c.oid and a.attnum = idx.key where c.relname = 'intro' "
                   "group by c2.relname order by 1") == \
        [("intro_b_key", ["b"]), ("intro_c", ["c", "b"]), ("intro_pkey", ["a"])]
    assert rows(s, "select k from pg_class t, generate_series(1, t.relnatts) k where t.relname = 'intro'") == \
        [(1,), (2,), (3,)]
    assert rows(s, "select t.relname, k from pg_class t cross join generate_subscripts(array[7, 8], 1) k "
                   "where t.relname = 'intro'") == [("intro", 1), ("intro", 2)]
    assert err(s, "select * from unnest(nosuch.col)").sqlstate == "42P01"
