"""DDL on an in-memory catalog and KV: constraints, generated and identity columns, sequences,
domains, SQL functions, LIKE, ALTER TABLE and the refusals of what DSQL does not support."""

from __future__ import annotations

import threading

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql import objects
from services.compute.sql.session import SqlSession

from .memkv import MemKV


@pytest.fixture
def env():
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    return cat, MemKV()


@pytest.fixture
def s(env):
    cat, kv = env
    return SqlSession(catalog=cat, kv=kv, user="admin", database="postgres", limits=Limits())


def rows(s, sql):
    return s.execute_sql(sql)[-1].rows


def err(s, sql) -> PgError:
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql)
    return ei.value


def test_check_constraints_enforced_on_insert_and_update(s):
    """Column and table CHECKs reject rows with 23514 and PostgreSQL's names, message and detail."""
    s.execute_sql("create table c (a int check (a > 0), b int, constraint b_ge_a check (b >= a))")
    assert rows(s, "insert into c values (1, 2) returning *") == [(1, 2)]
    e = err(s, "insert into c values (-1, 2)")
    assert (e.sqlstate, e.message, e.detail) == (
        "23514", 'new row for relation "c" violates check constraint "c_a_check"', "Failing row contains (-1, 2).")
    assert err(s, "update c set a = 5").message.endswith('check constraint "b_ge_a"')
    assert rows(s, "insert into c values (null, null) returning a") == [(None,)]   # NULL passes a CHECK
    assert rows(s, "select count(*) from c") == [(2,)]


def test_check_names_and_validation(s):
    e = err(s, "create table cx (a int check (zz > 0))")
    assert e.sqlstate == "42703"
    assert err(s, "create table cx (a int check (a + 1))").sqlstate == "42804"
    s.execute_sql("create table cn (a int, b int, check (a > 0), check (a < b), check (true))")
    names = [ck["name"] for ck in s.catalog.get_table("public", "cn").checks]
    assert names == ["cn_a_check", "cn_a_check1", "cn_check"]


def test_generated_columns(s):
    s.execute_sql("create table g (a int, b text, c int generated always as (a * 10) stored, "
                  "d text generated always as (upper(b)) stored)")
    assert rows(s, "insert into g (a, b) values (2, 'x') returning *") == [(2, "x", 20, "X")]
    e = err(s, "insert into g values (1, 'y', 3, 'z')")
    assert (e.sqlstate, e.message, e.detail) == ("428C9", 'cannot insert a non-DEFAULT value into column "c"',
                                                 'Column "c" is a generated column.')
    assert rows(s, "insert into g values (1, 'y', default, default) returning c, d") == [(10, "Y")]
    assert rows(s, "update g set a = a + 1 where b = 'x' returning c") == [(30,)]
    assert err(s, "update g set c = 1").message == 'column "c" can only be updated to DEFAULT'
    assert err(s, "create table g2 (a int generated always as (b) stored, b int generated always as (1) stored)"
               ).sqlstate == "42P17"
    assert err(s, "create table g3 (a int default 1 generated always as (2) stored)").sqlstate == "42601"


def test_unique_nulls_not_distinct_and_include(s):
    s.execute_sql("create table u (k int, v int, w int, primary key (k) include (v), "
                  "unique nulls not distinct (w), unique (v) include (w))")
    t = s.catalog.get_table("public", "u")
    assert [(ix.name, ix.nulls_not_distinct) for ix in t.indexes] == [("u_w_key", True), ("u_v_key", False)]
    assert t.pk_include == [t.column("v").id]
    s.execute_sql("insert into u values (1, null, null), (2, null, 5)")   # NULLs in a plain UNIQUE are distinct
    e = err(s, "insert into u values (3, 7, null)")
    assert (e.sqlstate, e.message, e.detail) == (
        "23505", 'duplicate key value violates unique constraint "u_w_key"', "Key (w)=(null) already exists.")
    s.execute_sql("create table ue (a int)")
    s.execute_sql("create unique index ue_a on ue (a) nulls not distinct")
    s.execute_sql("insert into ue values (null)")
    assert err(s, "insert into ue values (null)").sqlstate == "23505"
    e = err(s, "create index ue_b on u (v)")
    assert (e.sqlstate, e.message) == ("0A000", "use CREATE INDEX ASYNC instead")


def test_identity_columns_and_sequence_functions(s):
    s.execute_sql("create table i (id bigint generated always as identity (cache 1) primary key, v text)")
    assert rows(s, "insert into i (v) values ('a'), ('b') returning id") == [(1,), (2,)]
    e = err(s, "insert into i values (10, 'x')")
    assert (e.sqlstate, e.hint) == ("428C9", "Use OVERRIDING SYSTEM VALUE to override.")
    assert rows(s, "insert into i overriding system value values (10, 'x') returning id") == [(10,)]
    assert rows(s, "select currval('i_id_seq'), lastval(), currval('public.i_id_seq'::regclass)") == [(2, 2, 2)]
    assert err(s, "update i set id = 5").sqlstate == "428C9"
    s.execute_sql("create table j (id int generated by default as identity (cache 65536) primary key, v int)")
    assert rows(s, "insert into j (v) values (1) returning id") == [(1,)]
    assert rows(s, "insert into j values (100, 2) returning id") == [(100,)]
    assert rows(s, "insert into j overriding user value values (100, 3) returning id") == [(2,)]
    s.execute_sql("create schema moved")
    s.execute_sql("alter table j set schema moved")      # its sequence moves with it, values continue
    assert rows(s, "insert into moved.j (v) values (4) returning id") == [(3,)]
    assert rows(s, "select currval('moved.j_id_seq')") == [(3,)]
    assert err(s, "select nextval('public.j_id_seq')").sqlstate == "42P01"
    s.execute_sql("create table k (id bigint generated always as identity (sequence name k_ids cache 1), v int)")
    assert rows(s, "insert into k (v) values (1) returning id") == [(1,)]
    assert rows(s, "select currval('k_ids')") == [(1,)]
    assert err(s, "alter table k alter column v set default 1").message == \
        "ALTER TABLE ALTER COLUMN SET DEFAULT is not supported"
    s.execute_sql("drop table moved.j")
    s.execute_sql("drop schema moved")


def test_cache_rules(s):
    """DSQL requires CACHE, 1 or >= 65536; standalone sequences are bigint; serial is refused."""
    for sql in ("create sequence s0", "create sequence s0 cache 100",
                "create table t0 (id int generated by default as identity primary key)",
                "create sequence s0 as integer cache 1", "create table t0 (id serial primary key)",
                "create table t0 (id bigserial)"):
        assert err(s, sql).sqlstate == "0A000", sql
    assert err(s, "create sequence s0 cache 0").sqlstate == "22023"
    assert err(s, "create table t0 (id text generated always as identity (cache 1))").sqlstate == "22023"


def test_sequences(s):
    s.execute_sql("create sequence s1 cache 65536")
    assert rows(s, "select nextval('s1'), nextval('s1'::regclass), currval('s1')") == [(1, 2, 2)]
    assert rows(s, "select setval('s1', 100), nextval('s1')") == [(100, 101)]
    assert rows(s, "select setval('s1', 500, false), nextval('s1')") == [(500, 500)]
    s.execute_sql("create sequence s3 cache 1 start 5 increment 5 maxvalue 12")
    assert rows(s, "select nextval('s3'), nextval('s3')") == [(5, 10)]
    e = err(s, "select nextval('s3')")
    assert (e.sqlstate, e.message) == ("2200H", 'nextval: reached maximum value of sequence "s3" (12)')
    s.execute_sql("create sequence s4 cache 1 minvalue 1 maxvalue 2 cycle")
    assert rows(s, "select nextval('s4'), nextval('s4'), nextval('s4')") == [(1, 2, 1)]
    s.execute_sql("create sequence s5 cache 1")
    assert err(s, "select currval('s5')").sqlstate == "55000"
    assert err(s, "select nextval('nope')").sqlstate == "42P01"
    assert err(s, "create sequence s5 cache 1").sqlstate == "42P07"
    assert s.execute_sql("create sequence if not exists s5 cache 1")[-1].notices
    s.execute_sql("drop sequence s5")
    assert err(s, "select nextval('s5')").sqlstate == "42P01"


def test_sequence_blocks_unique_across_computes(env):
    """Two computes (catalogs on one store) and several threads each: no value is handed out twice."""
    cat, kv = env
    other = Catalog(store=cat.store)
    s = SqlSession(catalog=cat, kv=kv, limits=Limits())
    s.execute_sql("create sequence shared cache 65536")
    s.execute_sql("create sequence strict cache 1")
    got: list[int] = []
    lock = threading.Lock()

    def work(catalog):
        sess = SqlSession(catalog=catalog, kv=kv, limits=Limits())
        mine = [sess.execute_sql("select nextval('shared'), nextval('strict')")[-1].rows[0] for _ in range(50)]
        with lock:
            got.extend(mine)
    threads = [threading.Thread(target=work, args=(c,)) for c in (cat, other, cat, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared = [a for a, _ in got]
    strict = sorted(b for _, b in got)
    assert len(set(shared)) == 200
    assert strict == list(range(1, 201))
    assert max(shared) > 65536        # the second compute took the second block


def test_domains(s):
    s.execute_sql("create domain posint as int not null check (value > 0)")
    s.execute_sql("create domain code as varchar(3) default 'ABC' constraint code_upper check (value = upper(value))")
    s.execute_sql("create table d (k int primary key, p posint, c code)")
    assert rows(s, "insert into d (k, p) values (1, 5) returning c") == [("ABC",)]
    e = err(s, "insert into d values (2, -5, 'X')")
    assert (e.sqlstate, e.message) == ("23514", 'value for domain posint violates check constraint "posint_check"')
    e = err(s, "insert into d (k) values (3)")
    assert (e.sqlstate, e.message) == ("23502", "domain posint does not allow null values")
    assert err(s, "update d set c = 'low'").message.endswith('"code_upper"')
    assert err(s, "select cast('x' as code)").sqlstate == "23514"
    assert rows(s, "select 5::posint + 1, 'AB'::code") == [(6, "AB")]
    e = err(s, "select (-1)::posint")
    assert (e.sqlstate, e.message) == ("23514", 'value for domain posint violates check constraint "posint_check"')
    assert err(s, "select null::posint").sqlstate == "23502"
    assert err(s, "drop domain posint").sqlstate == "2BP01"
    s.execute_sql("drop table d")
    s.execute_sql("drop domain posint")
    assert err(s, "create table d2 (p posint)").sqlstate == "42704"


def test_sql_functions_inline(s):
    s.execute_sql("create function add2(a int, b int) returns int language sql as 'select a + b'")
    s.execute_sql("create function dbl(x int) returns int language sql immutable return x * 2")
    s.execute_sql("create function twice(int) returns bigint language sql begin atomic; select $1 * 2; end")
    assert rows(s, "select add2(1, 2), dbl(add2(2, 3)), twice(4)") == [(3, 10, 8)]
    s.execute_sql("create table f (a int)")
    s.execute_sql("insert into f values (1), (2), (3)")
    s.execute_sql("create function total() returns bigint language sql as $$select sum(a) from f$$")
    assert rows(s, "select total(), dbl(a) from f where a = 2") == [(6, 4)]
    s.execute_sql("create function val_of(a int) returns int language sql as 'select a * 100 from f where a = $1'")
    assert rows(s, "select a, val_of(a) from f order by a") == [(1, 100), (2, 200), (3, 300)]   # a: f's column
    s.execute_sql("create function pick(k int) returns int language sql as 'select a from f where a = pick.k'")
    assert rows(s, "select pick(a) from f order by a") == [(1,), (2,), (3,)]
    assert err(s, "select pick(1::bigint)").sqlstate == "42883"
    assert err(s, "create function add2(a int, b int) returns int language sql as 'select 1'").sqlstate == "42723"
    s.execute_sql("create or replace function add2(a int, b int) returns int language sql as 'select a - b'")
    assert rows(s, "select add2(5, 2)") == [(3,)]
    assert err(s, "create function bad(a int) returns int language sql as 'select nope'").sqlstate == "42703"
    e = err(s, "create function p() returns int language plpgsql as $$begin return 1; end$$")
    assert e.sqlstate == "0A000"
    s.execute_sql("drop function add2")
    assert err(s, "select add2(5, 2)").sqlstate == "42883"     # the cached plan is not used


def test_binder_records_objects(s):
    """Statements that use sequences and functions name them for privilege checks."""
    from services.compute.sql.bind import Binder, Scope
    s.execute_sql("create sequence rs cache 1")
    s.execute_sql("create function one() returns int language sql return 1")
    st = s.parse("select nextval('rs'), one()")[0]
    b = Binder(s.catalog, st, session=s)
    b.bind_select(st.node)
    assert set(b.objects_used) == {("sequence", "public", "rs"), ("function", "public", "one()")}
    assert Scope is not None


def test_like(s):
    s.execute_sql("create table src (id int primary key, a int default 7 check (a > 0), "
                  "b int generated always as (a + 1) stored, n bigint generated by default as identity (cache 1), "
                  "unique (a))")
    s.execute_sql("create table l_all (like src including all)")
    assert rows(s, "insert into l_all (id) values (1) returning *") == [(1, 7, 8, 1)]
    assert err(s, "insert into l_all (id, a) values (2, 7)").sqlstate == "23505"
    assert err(s, "insert into l_all (id, a) values (3, -1)").sqlstate == "23514"
    s.execute_sql("create table l_none (like src)")
    t = s.catalog.get_table("public", "l_none")
    assert t.pk_name is None and not t.indexes and not t.checks
    assert err(s, "insert into l_none (id, a) values (1, -1)").sqlstate == "23502"   # NOT NULL is copied
    assert rows(s, "insert into l_none (id, a, n) values (1, -1, 5) returning *") == [(1, -1, None, 5)]


def test_alter_table(s):
    s.execute_sql("create table a (k int primary key, v int check (v > 0), w int generated always as (v * 2) stored)")
    assert err(s, "alter table a add column x int default 5").message == \
        "ALTER TABLE ADD COLUMN with DEFAULT is not supported"
    s.execute_sql("alter table a add column if not exists x text")
    assert s.execute_sql("alter table a add column if not exists x text")[-1].notices
    s.execute_sql("alter table a rename column v to vv")
    assert err(s, "insert into a (k, vv) values (1, -1)").message.endswith('"a_v_check"')
    assert rows(s, "insert into a (k, vv) values (1, 4) returning w") == [(8,)]
    s.execute_sql("alter table a rename constraint a_v_check to v_positive")
    assert err(s, "insert into a (k, vv) values (2, -1)").message.endswith('"v_positive"')
    s.execute_sql("alter table a rename constraint a_pkey to a_key_pk")
    s.execute_sql("create schema other")
    s.execute_sql("alter table a set schema other")
    s.execute_sql("alter table other.a rename to b")
    s.execute_sql("create role someone with login")
    s.execute_sql("grant someone to admin")
    s.execute_sql("grant create on schema other to someone")
    s.execute_sql("alter table other.b owner to someone")
    assert s.catalog.get_table("other", "b").owner == "someone"
    s.execute_sql("alter table other.b owner to current_user")
    assert s.catalog.get_table("other", "b").owner == "admin"
    assert rows(s, "select k, vv, w from other.b") == [(1, 4, 8)]


@pytest.mark.parametrize("sql, message", [
    ("create view v as select 1", "CREATE VIEW not supported"),
    ("create materialized view v as select 1", "CREATE MATERIALIZED VIEW not supported"),
    ("create temp table t (a int)", "temporary tables not supported"),
    ("create trigger tr after insert on x for each row execute function f()", "CREATE TRIGGER not supported"),
    ("create type ty as (a int)", "CREATE TYPE not supported"),
    ("create type ty as enum ('a')", "CREATE TYPE not supported"),
    ("create tablespace ts location '/tmp'", "CREATE TABLESPACE not supported"),
    ("create extension vector", "CREATE EXTENSION not supported"),
    ("create table t (a int references x (a))", "foreign key constraints not supported"),
    ("create table t (a int, exclude using gist (a with =))", "exclusion constraints not supported"),
    ("alter system set work_mem = 1", "ALTER SYSTEM not supported"),
    ("truncate x", "TRUNCATE not supported"),
    ("vacuum x", "VACUUM not supported"),
    ("savepoint a", "SAVEPOINT not supported"),
    ("create database d", "unsupported statement"),
    ("create table t (a text collate \"C\")", "COLLATE not supported"),
    ("create table t as select 1", "CREATE TABLE AS not supported"),
    ("create table t (a int) inherits (x)", "INHERITS not supported"),
    ("create table t (a int) partition by range (a)", "PARTITION not supported"),
    ("create index i on x (a desc)", "ASC/DESC in index keys not supported"),
    ("alter sequence s restart", "ALTER SEQUENCE not supported"),
    ("alter domain d add check (value > 0)", "ALTER DOMAIN not supported"),
    ("create function f() returns int language plpgsql as 'begin return 1; end'", 'unsupported language "plpgsql"'),
])
def test_unsupported_refused(s, sql, message):
    e = err(s, sql)
    assert (e.sqlstate, e.message) == ("0A000", message)


def test_parse_qualified():
    assert objects.parse_qualified('"My"."Seq"') == ["My", "Seq"]
    assert objects.parse_qualified("Public.S") == ["public", "s"]
    with pytest.raises(PgError):
        objects.parse_qualified("a..b")


def test_copy_and_on_conflict_with_generated_columns(s):
    """COPY leaves generated columns out (and refuses them by name); ON CONFLICT cannot set them."""
    s.execute_sql("create table gc (a int primary key, b int generated always as (a * 2) stored)")
    p = s.prepare(s.parse("copy gc from stdin")[0])
    assert s.copy_in(p, [b"1\n2\n"]).tag == "COPY 2"
    assert rows(s, "select * from gc order by a") == [(1, 2), (2, 4)]
    out, r = s.copy_out(s.prepare(s.parse("copy gc to stdout")[0]))
    assert (b"".join(out), r.tag) == (b"1\n2\n", "COPY 2")
    e = err(s, "copy gc (a, b) from stdin")
    assert (e.sqlstate, e.message, e.detail) == ("42P10", 'column "b" is a generated column',
                                                 "Generated columns cannot be used in COPY.")
    assert err(s, "insert into gc values (1) on conflict (a) do update set b = 5").sqlstate == "428C9"
    assert rows(s, "insert into gc values (1) on conflict (a) do update set a = 7 returning *") == [(7, 14)]
