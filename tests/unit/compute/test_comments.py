"""COMMENT ON and pg_description (services/compute/sql/comments.py) on a real etcd catalog: every
object kind, read back through pg_description / obj_description / col_description / shobj_description
by another compute (the catalog watch), transactional like other DDL, removed by DROP and kept by
renames; errors and ownership checks as PostgreSQL 15 words them (each message below was taken from
PostgreSQL 15 with the same objects); and the same answers as PostgreSQL 15 for the same DDL."""

from __future__ import annotations

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog
from services.compute.sql.session import MULTI_DDL_MESSAGE, SqlSession

from .memkv import MemKV

SETUP = ["create schema s",
         "create table s.t (a int primary key, b text unique, c int check (c > 0))",
         "create index ti on s.t (c)",
         "create sequence s.q cache 1",
         "create domain s.d as int check (value > 0)",
         "create function s.f(int) returns int language sql as 'select $1'"]

COMMENTS = ["comment on table s.t is 'the table'",
            "comment on column s.t.b is 'bee'",
            "comment on index s.ti is 'an index'",
            "comment on index s.t_pkey is 'pk index'",
            "comment on constraint t_pkey on s.t is 'pk constraint'",
            "comment on constraint t_b_key on s.t is 'unique constraint'",
            "comment on constraint t_c_check on s.t is 'check constraint'",
            "comment on schema s is 'schema s'",
            "comment on sequence s.q is 'a sequence'",
            "comment on domain s.d is 'a domain'",
            "comment on constraint d_check on domain s.d is 'domain check'",
            "comment on function s.f(int) is 'a function'"]

# every description with the object named the same way on both systems (OIDs differ)
DESCRIBED = """
select 'rel ' || c.relname || coalesce('.' || a.attname, ''), d.description
  from pg_description d join pg_class c on d.classoid = 'pg_class'::regclass and c.oid = d.objoid
  left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0
 where c.relnamespace = 's'::regnamespace
union all
select 'con ' || co.conname, d.description
  from pg_description d join pg_constraint co on d.classoid = 'pg_constraint'::regclass and co.oid = d.objoid
 where co.connamespace = 's'::regnamespace
union all
select 'nsp ' || n.nspname, obj_description(n.oid, 'pg_namespace') from pg_namespace n where n.nspname = 's'
union all
select 'proc ' || p.proname, obj_description(p.oid, 'pg_proc') from pg_proc p
 where p.pronamespace = 's'::regnamespace
union all
select 'type ' || t.typname, obj_description(t.oid, 'pg_type') from pg_type t
 where t.typnamespace = 's'::regnamespace and t.typtype = 'd'
union all
select 'fn', obj_description('s.t'::regclass, 'pg_class') || '/' || col_description('s.t'::regclass, 2)
   || '/' || obj_description('s.ti'::regclass)
order by 1"""

# descriptions of this test's objects (not of built-in ones, nor initdb's of schema public)
USER_DESCRIPTIONS = "select count(*) from pg_description where objoid >= 16384 and objoid <> 'public'::regnamespace"


@pytest.fixture
def kv():
    return MemKV()


def session(catalog, kv, user="admin") -> SqlSession:
    return SqlSession(catalog=catalog, kv=kv, user=user, database=catalog.database, limits=Limits())


@pytest.fixture
def a(etcd_catalog, kv):
    s = session(etcd_catalog, kv)
    for sql in SETUP:
        s.execute_sql(sql)
    return s


@pytest.fixture
def other_compute(etcd_catalog, etcd_endpoint, kv):
    """A session on a second Catalog of the same etcd database: another compute node."""
    cat = Catalog((etcd_endpoint,), database=etcd_catalog.database)
    yield session(cat, kv)
    cat.close()


@pytest.fixture
def role(etcd_catalog):
    """A login role of this test's own (roles are shared by the databases of one etcd)."""
    return f"app_{etcd_catalog.database}"


def rows(s, sql):
    return [tuple(r) for r in s.execute_sql(sql)[-1].rows]


def expect(s, sql, sqlstate, message, detail=None):
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql)
    assert (ei.value.sqlstate, ei.value.message, ei.value.detail) == (sqlstate, message, detail)


def test_every_kind_reaches_pg_description_on_another_compute(a, other_compute):
    for sql in COMMENTS:
        assert a.execute_sql(sql)[-1].tag == "COMMENT"
    expected = [("con d_check", "domain check"), ("con t_b_key", "unique constraint"),
                ("con t_c_check", "check constraint"), ("con t_pkey", "pk constraint"),
                ("fn", "the table/bee/an index"), ("nsp s", "schema s"), ("proc f", "a function"),
                ("rel q", "a sequence"), ("rel t", "the table"), ("rel t.b", "bee"), ("rel t_pkey", "pk index"),
                ("rel ti", "an index"), ("type d", "a domain")]
    assert rows(a, DESCRIBED) == expected
    assert rows(other_compute, DESCRIBED) == expected        # replicated through the catalog watch
    assert rows(a, "select obj_description('public'::regnamespace, 'pg_namespace')") == [("standard public schema",)]
    # psql's \\dd joins pg_description on the catalogs' tableoid system column
    assert rows(a, "select c.tableoid::regclass::text, d.classoid = c.tableoid from pg_constraint c "
                   "join pg_description d on d.objoid = c.oid and d.classoid = c.tableoid "
                   "where c.conname = 't_c_check'") == [("pg_constraint", True)]


def test_null_or_empty_removes_rename_keeps_drop_removes(a, other_compute):
    a.execute_sql("comment on table s.t is 'kept'")
    a.execute_sql("comment on column s.t.c is 'see'")
    a.execute_sql("comment on column s.t.b is 'bee'")
    a.execute_sql("comment on column s.t.b is ''")
    a.execute_sql("alter table s.t rename to t2")
    a.execute_sql("alter table s.t2 rename column c to c2")
    assert rows(other_compute, "select obj_description('s.t2'::regclass, 'pg_class'), "
                               "col_description('s.t2'::regclass, 2), col_description('s.t2'::regclass, 3)") == [
        ("kept", None, "see")]
    assert rows(a, "select obj_description('s.t2'::regclass, 'pg_class')") == [("kept",)]
    a.execute_sql("comment on table s.t2 is null")
    assert rows(a, "select obj_description('s.t2'::regclass, 'pg_class')") == [(None,)]    # no stale cache
    assert rows(a, "select count(*) from pg_description where objoid = 's.t2'::regclass") == [(1,)]
    a.execute_sql("drop table s.t2")
    a.execute_sql("comment on sequence s.q is 'q'")
    a.execute_sql("drop sequence s.q")
    assert rows(other_compute, USER_DESCRIPTIONS) == [(0,)]


def test_comment_is_transactional_ddl(a, other_compute):
    """Seen by its own transaction, by others from COMMIT, by nobody after ROLLBACK; one DDL per block."""
    check = "select obj_description('s.t'::regclass, 'pg_class')"
    a.execute_sql("begin")
    a.execute_sql("comment on table s.t is 'pending'")
    assert rows(a, check) == [("pending",)]
    assert rows(other_compute, check) == [(None,)]
    expect(a, "comment on column s.t.b is 'x'", "0A000", MULTI_DDL_MESSAGE)
    a.execute_sql("rollback")
    assert rows(a, check) == [(None,)]
    a.execute_sql("begin")
    a.execute_sql("comment on table s.t is 'committed'")
    a.execute_sql("commit")
    assert rows(other_compute, check) == [("committed",)]


def test_role_comments_are_shared_descriptions(a, other_compute, role):
    a.execute_sql(f"create role {role} login")
    a.execute_sql(f"comment on role {role} is 'the app'")
    assert rows(other_compute, f"select shobj_description(oid, 'pg_authid') from pg_roles where rolname = '{role}'") \
        == [("the app",)]
    assert rows(other_compute, "select d.description from pg_shdescription d join pg_roles r on r.oid = d.objoid "
                               f"where d.classoid = 'pg_authid'::regclass and r.rolname = '{role}'") == [("the app",)]
    a.execute_sql(f"comment on role {role} is null")
    assert rows(a, f"select count(*) from pg_shdescription where objoid = '{role}'::regrole") == [(0,)]


def test_database_comment_is_a_shared_description(a, other_compute, etcd_catalog):
    db = etcd_catalog.database
    a.execute_sql(f"comment on database {db} is 'the db'")
    assert rows(other_compute, "select shobj_description(oid, 'pg_database') from pg_database") == [("the db",)]
    notices = a.execute_sql("comment on database nope is 'x'")[-1].notices     # PostgreSQL only warns
    assert [(n.severity, n.sqlstate, n.message) for n in notices] == [
        ("WARNING", "3D000", 'database "nope" does not exist')]
    a.execute_sql(f"comment on database {db} is null")
    assert rows(a, "select count(*) from pg_shdescription where classoid = 'pg_database'::regclass") == [(0,)]


@pytest.mark.parametrize("sql, sqlstate, message, detail", [
    ("comment on table s.nope is 'x'", "42P01", 'relation "s.nope" does not exist', None),
    ("comment on table nope is 'x'", "42P01", 'relation "nope" does not exist', None),
    ("comment on table s.ti is 'x'", "42809", '"ti" is not a table', None),
    ("comment on table s.q is 'x'", "42809", '"q" is not a table', None),
    ("comment on index s.t is 'x'", "42809", '"t" is not an index', None),
    ("comment on sequence s.t is 'x'", "42809", '"t" is not a sequence', None),
    ("comment on column s.t.zz is 'x'", "42703", 'column "zz" of relation "s.t" does not exist', None),
    ("comment on column nope.zz is 'x'", "42P01", 'relation "nope" does not exist', None),
    ("comment on column zz is 'x'", "42601", "column name must be qualified", None),
    ("comment on column s.ti.c is 'x'", "42809", 'cannot set comment on relation "ti"',
     "This operation is not supported for indexes."),
    ("comment on column s.q.last_value is 'x'", "42809", 'cannot set comment on relation "q"',
     "This operation is not supported for sequences."),
    ("comment on schema nope is 'x'", "3F000", 'schema "nope" does not exist', None),
    ("comment on function s.f(text) is 'x'", "42883", "function s.f(text) does not exist", None),
    ("comment on function s.g is 'x'", "42883", 'could not find a function named "s.g"', None),
    ("comment on constraint nope on s.t is 'x'", "42704", 'constraint "nope" for table "t" does not exist', None),
    ("comment on constraint nope on s.nope is 'x'", "42P01", 'relation "s.nope" does not exist', None),
    ("comment on domain s.nope is 'x'", "42704", 'type "s.nope" does not exist', None),
    ("comment on domain int4 is 'x'", "42809", '"int4" is not a domain', None),
    ("comment on constraint nope on domain s.d is 'x'", "42704", 'constraint "nope" for domain s.d does not exist',
     None),
    ("comment on role nope is 'x'", "42704", 'role "nope" does not exist', None),
    # object kinds DSQL does not have
    ("comment on view s.t is 'x'", "0A000", "COMMENT ON VIEW not supported", None),
    ("comment on trigger tr on s.t is 'x'", "0A000", "COMMENT ON TRIGGER not supported", None),
    ("comment on extension e is 'x'", "0A000", "COMMENT ON EXTENSION not supported", None),
    ("comment on type int4 is 'x'", "0A000", "COMMENT ON TYPE not supported", None),
])
def test_errors_are_postgres_errors(a, sql, sqlstate, message, detail):
    expect(a, sql, sqlstate, message, detail)
    assert rows(a, USER_DESCRIPTIONS) == [(0,)]


@pytest.mark.parametrize("sql, message", [
    ("comment on table s.t is 'x'", "must be owner of table t"),
    ("comment on column s.t.b is 'x'", "must be owner of relation t"),
    ("comment on index s.ti is 'x'", "must be owner of index ti"),
    ("comment on index s.t_pkey is 'x'", "must be owner of index t_pkey"),
    ("comment on constraint t_pkey on s.t is 'x'", "must be owner of relation t"),
    ("comment on sequence s.q is 'x'", "must be owner of sequence q"),
    ("comment on domain s.d is 'x'", "must be owner of type s.d"),
    ("comment on constraint d_check on domain s.d is 'x'", "must be owner of type s.d"),
    ("comment on function s.f(int) is 'x'", "must be owner of function s.f"),
    ("comment on schema s is 'x'", "must be owner of schema s"),
    ("comment on role {role} is 'x'", "must have CREATEROLE privilege"),
    ("comment on database {db} is 'x'", "must be owner of database {db}"),
])
def test_only_the_owner_may_comment(a, etcd_catalog, kv, role, sql, message):
    a.execute_sql(f"create role {role} login")
    a.execute_sql(f"grant usage on schema s to {role}")
    db = etcd_catalog.database
    expect(session(etcd_catalog, kv, role), sql.format(role=role, db=db), "42501", message.format(db=db))


def test_owner_may_comment_and_table_owner_owns_its_parts(a, etcd_catalog, kv, role):
    a.execute_sql(f"create role {role} login")
    a.execute_sql(f"grant {role} to admin")
    a.execute_sql(f"grant create on schema s to {role}")
    a.execute_sql(f"alter table s.t owner to {role}")
    app = session(etcd_catalog, kv, role)
    app.execute_sql("comment on column s.t.b is 'mine'")
    app.execute_sql("comment on constraint t_b_key on s.t is 'mine too'")
    assert rows(a, USER_DESCRIPTIONS) == [(2,)]


def test_same_descriptions_as_postgres(a, pg_oracle):
    """The differential check: the same DDL and COMMENTs on PostgreSQL 15 give the same rows (CREATE TABLE
    LIKE ... INCLUDING COMMENTS copies those of columns, CHECKs and indexes)."""
    import psycopg
    more = ["comment on column s.t.c is 'see'", "comment on column s.t.c is ''", "comment on index s.ti is null",
            "comment on index s.t_b_key is 'unique index'", "create table s.lk (like s.t including all)",
            "create table s.lk2 (like s.t including constraints)"]
    for sql in COMMENTS + more:
        a.execute_sql(sql)
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as pg:
        pg.execute("drop schema if exists s cascade")
        for sql in SETUP + COMMENTS + more:
            pg.execute(sql.replace(" cache 1", ""))
        expected = [tuple(r) for r in pg.execute(DESCRIBED).fetchall()]
        pg.execute("drop schema s cascade")
    assert rows(a, DESCRIBED) == expected
