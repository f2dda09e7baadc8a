"""System catalogs and catalog functions (services/compute/sql/syscat) on the in-memory engine:
the queries psql, drivers and the guide send, with the answers PostgreSQL 15 gives."""

from __future__ import annotations

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql import types as T
from services.compute.sql.session import SqlSession
from services.compute.sql.syscat.functions import size_pretty

from .memkv import MemKV


@pytest.fixture
def s():
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    sess = SqlSession(catalog=cat, kv=MemKV(), user="admin", database="postgres", limits=Limits())
    for sql in ("create schema test",
                "create table test.departments (title text primary key, name varchar(30), manager int, "
                "size numeric(10,2) not null default 0)",
                "create index test_index1 on test.departments (name, manager, size)",
                "create table t (a int primary key, b text unique)"):
        sess.execute_sql(sql)
    return sess


def rows(s, sql, params=()):
    return s.execute_sql(sql, params)[-1].rows


def err(s, sql) -> PgError:
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql)
    return ei.value


def test_guide_index_query_shows_remote_btree_index(s):
    """The guide's query over pg_index and pg_class, with a regclass literal."""
    got = rows(s, "select relname as index_name, indisvalid as is_valid, pg_get_indexdef(indexrelid) as "
                  "index_definition from pg_index, pg_class where pg_class.oid = indexrelid and "
                  "indrelid = 'test.departments'::regclass order by 1")
    assert got == [
        ("departments_pkey", True,
         "CREATE UNIQUE INDEX departments_pkey ON test.departments USING remote_btree_index (title)"),
        ("test_index1", True,
         "CREATE INDEX test_index1 ON test.departments USING remote_btree_index (name, manager, size)")]


def test_regclass_round_trip_and_visibility(s):
    oid = rows(s, "select oid from pg_class where relname = 't'")[0][0]
    assert rows(s, "select 't'::regclass::oid = %s" % oid) == [(True,)]
    assert [str(T.encode_text(T.REGCLASS, v)) for (v,) in rows(s, f"select {oid}::regclass")] == ["t"]
    dep = rows(s, "select 'test.departments'::regclass::text")[0][0]
    assert dep == "test.departments"              # not on the search_path: qualified
    s.execute_sql("set search_path = test, public")
    assert rows(s, "select 'departments'::regclass::text") == [("departments",)]
    assert rows(s, "select pg_table_is_visible('test.departments'::regclass)") == [(True,)]
    e = err(s, "select 'nope'::regclass")
    assert (e.sqlstate, e.message) == ("42P01", 'relation "nope" does not exist')
    assert rows(s, "select to_regclass('nope'), 'integer'::regtype::oid, 'int4[]'::regtype::text") == [
        (None, 23, "integer[]")]


def test_pg_class_reltuples_before_analyze_and_pg_attribute(s):
    assert rows(s, "select relkind, reltuples, relpages, relnatts from pg_class where relname = 'departments'") == [
        ("r", -1.0, 0, 4)]
    got = rows(s, "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, "
                  "(select pg_get_expr(d.adbin, d.adrelid, true) from pg_attrdef d "
                  " where d.adrelid = a.attrelid and d.adnum = a.attnum and a.atthasdef) "
                  "from pg_attribute a where a.attrelid = 'test.departments'::regclass and a.attnum > 0 "
                  "order by a.attnum")
    assert got == [("title", "text", True, False, None), ("name", "character varying(30)", False, False, None),
                   ("manager", "integer", False, False, None), ("size", "numeric(10,2)", True, True, "0")]


def test_constraints_and_information_schema(s):
    assert rows(s, "select conname, contype, pg_get_constraintdef(oid, true) from pg_constraint "
                   "where conrelid = 't'::regclass order by 1") == [
        ("t_b_key", "u", "UNIQUE (b)"), ("t_pkey", "p", "PRIMARY KEY (a)")]
    assert rows(s, "select constraint_name, constraint_type from information_schema.table_constraints "
                   "where table_name = 't' and constraint_type <> 'CHECK' order by 1") == [
        ("t_b_key", "UNIQUE"), ("t_pkey", "PRIMARY KEY")]
    assert rows(s, "select column_name, ordinal_position from information_schema.key_column_usage "
                   "where table_name = 'departments'") == [("title", 1)]
    assert rows(s, "select data_type, character_maximum_length, numeric_precision, numeric_scale "
                   "from information_schema.columns where table_name = 'departments' order by ordinal_position") == [
        ("text", None, None, None), ("character varying", 30, None, None), ("integer", None, 32, 0),
        ("numeric", None, 10, 2)]


def test_pg_type_has_builtin_types_with_real_oids(s):
    assert rows(s, "select oid, typname, typlen, typcategory from pg_type where typname in "
                   "('int4', 'text', 'uuid', '_int4') order by oid") == [
        (23, "int4", 4, "N"), (25, "text", -1, "S"), (1007, "_int4", -1, "A"), (2950, "uuid", 16, "U")]
    assert rows(s, "select format_type(1043, 24), format_type(1700, -1), format_type(1184, 3), "
                   "format_type(1015, 14), format_type(0, null)") == [
        ("character varying(20)", "numeric", "timestamp(3) with time zone", "character varying(10)[]", "-")]


def test_roles_namespaces_and_session_functions(s):
    assert rows(s, "select rolname, rolsuper, rolcanlogin from pg_roles") == [("admin", False, True)]
    assert rows(s, "select nspname from pg_namespace where nspname !~ '^pg_' "
                   "and nspname <> 'information_schema' order by 1") == [("public",), ("sys",), ("test",)]
    assert rows(s, "select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'test'") == [("admin",)]
    assert rows(s, "select current_schemas(true), current_schemas(false)") == [
        (["pg_catalog", "public"], ["public"])]
    assert rows(s, "select has_table_privilege('t', 'select'), has_schema_privilege('public', 'usage')") == [
        (True, True)]
    assert rows(s, "select count(*) from pg_database where datname = current_database()") == [(1,)]


@pytest.mark.parametrize("n,text", [(0, "0 bytes"), (10239, "10239 bytes"), (10240, "10 kB"),
                                    (1024 * 1024, "1024 kB"), (20 * 1024 * 1024, "20 MB"),
                                    (123456789012, "115 GB"), (-10240, "-10 kB"),
                                    (999999999999999999, "888 PB")])
def test_size_pretty_matches_postgres(n, text):
    """Values checked against PostgreSQL 15's pg_size_pretty."""
    assert size_pretty(n) == text


def test_psql_describe_queries_bind_and_run(s):
    """psql 15's \\d t queries (verbatim, oid substituted) run against the views."""
    oid = rows(s, "select oid from pg_class where relname = 't'")[0][0]
    assert rows(s, "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN "
                   "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) "
                   "'^(t)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3") == [
        (oid, "public", "t")]
    got = rows(s, f"""SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid,
  pg_catalog.pg_get_indexdef(i.indexrelid, 0, true), pg_catalog.pg_get_constraintdef(con.oid, true), contype,
  condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{oid}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname""")
    assert [(r[0], r[1], r[6], r[7]) for r in got] == [("t_pkey", True, "PRIMARY KEY (a)", "p"),
                                                       ("t_b_key", False, "UNIQUE (b)", "u")]
    assert rows(s, f"""SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='{oid}' and pg_catalog.pg_relation_is_publishable('{oid}')
UNION
SELECT pubname, pg_get_expr(pr.prqual, c.oid), (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '{oid}'
ORDER BY 1""") == []


def test_analyze_fills_pg_stats_and_reltuples(s):
    s.execute_sql("create table w (id int primary key, v text, n numeric)")
    s.execute_sql("insert into w select g, case when g % 3 = 0 then null else 'v' || (g % 5) end, g "
                  "from generate_series(1, 500) g")
    assert rows(s, "select reltuples from pg_class where relname = 'w'") == [(-1.0,)]
    assert s.execute_sql("analyze w")[-1].tag == "ANALYZE"
    assert rows(s, "select reltuples, relpages from pg_class where relname = 'w'") == [(500.0, 1)]
    # the figures PostgreSQL 15 computes for the same data
    assert rows(s, "select attname, null_frac, n_distinct, most_common_freqs is not null, "
                   "array_length(histogram_bounds, 1) from pg_stats where tablename = 'w' order by attname") == [
        ("id", 0.0, -1.0, False, 101), ("n", 0.0, -1.0, False, 101), ("v", 0.332, 5.0, True, None)]
    assert sorted(rows(s, "select most_common_vals from pg_stats where attname = 'v'")[0][0]) == [
        "v0", "v1", "v2", "v3", "v4"]


def test_analyze_is_refused_in_a_transaction_block_and_takes_relation_names_only(s):
    s.execute_sql("begin")
    e = err(s, "analyze t")
    assert (e.sqlstate, e.message) == ("25001", "ANALYZE cannot run inside a transaction block")
    s.execute_sql("rollback")
    assert err(s, "analyze t (a)").sqlstate == "0A000"
    assert err(s, "analyze verbose t").sqlstate == "0A000"
    assert err(s, "analyze nope").sqlstate == "42P01"
    assert err(s, "vacuum t").sqlstate == "0A000"


def test_set_show_reset_and_set_local(s):
    s.execute_sql('set search_path = "Mixed", public')
    assert rows(s, "show search_path") == [('"Mixed", public',)]
    assert s.execute_sql("show datestyle")[-1].columns[0].name == "DateStyle"
    s.execute_sql("reset search_path")
    assert rows(s, "show search_path") == [('"$user", public',)]
    s.execute_sql("begin")
    s.execute_sql("set local statement_timeout = '2s'")
    s.execute_sql("set application_name = 'inside'")
    assert rows(s, "select current_setting('statement_timeout')") == [("2000",)]
    s.execute_sql("commit")
    assert rows(s, "show statement_timeout") == [("0",)]            # LOCAL ends with the block
    assert rows(s, "show application_name") == [("inside",)]        # a committed SET stays
    s.execute_sql("begin")
    s.execute_sql("set application_name = 'rolled back'")
    s.execute_sql("rollback")
    assert rows(s, "show application_name") == [("inside",)]
    assert rows(s, "select set_config('extra_float_digits', '3', false)") == [("3",)]
    assert rows(s, "select setting from pg_settings where name = 'extra_float_digits'") == [("3",)]


@pytest.mark.parametrize("sql,sqlstate", [
    ("set timezone = 'Europe/Paris'", "0A000"), ("set client_encoding = 'LATIN1'", "0A000"),
    ("set datestyle = 'German'", "0A000"), ("set extra_float_digits = 9", "22023"),
    ("set statement_timeout = 'soon'", "22023"), ("set no_such_setting = 1", "42704"),
    ("show no_such_setting", "42704"), ("set server_version = '1'", "55P02")])
def test_settings_refusals(s, sql, sqlstate):
    assert err(s, sql).sqlstate == sqlstate


def test_statement_timeout_is_enforced(s):
    s.execute_sql("set statement_timeout = 50")
    e = err(s, "select pg_sleep(5)")
    assert (e.sqlstate, e.message) == ("57014", "canceling statement due to statement timeout")
    s.execute_sql("set timezone = 'UTC'")          # the session is usable again
    s.execute_sql("reset statement_timeout")
    assert rows(s, "select 1") == [(1,)]


CHECKS = ["b >= 0", "b > -1", "b < 1.5", "a > 0", "a > -5", "c <> ''", "d <> 'x'", "e > 0", "e > 0.5",
          "f > 0", "g > 0", "h > '2020-01-01'", "0 < b", "length(c) < 5"]


def test_check_constraint_text_shows_implicit_casts_as_postgres(s, pg_oracle):
    """Proves: pg_get_constraintdef prints a column-vs-constant CHECK with the casts PostgreSQL's parser
    adds (`fee >= (0)::numeric`), which SQLAlchemy's reflection and schema-diff tools read back."""
    import psycopg
    ddl = ("create table ck (a int primary key, b numeric(8,2), c text, d varchar(10), e float8, f bigint, "
           "g smallint, h date, " + ", ".join(f"constraint ck{n:02} check ({c})" for n, c in enumerate(CHECKS)) + ")")
    query = ("select conname, pg_get_constraintdef(oid), pg_get_constraintdef(oid, true) from pg_constraint "
             "where conrelid = 'ck'::regclass and contype = 'c' order by conname")
    s.execute_sql(ddl)
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as pg:
        pg.execute("drop table if exists ck")
        pg.execute(ddl)
        expected = pg.execute(query).fetchall()
    assert [tuple(r) for r in rows(s, query)] == expected


INFO_SCHEMA_SCRIPT = (
    "create role isx_app with login", "create role isx_grp", "grant isx_grp to isx_app with admin option",
    "create schema isx", "create domain isx.posint as int check (value > 0)",
    "create table isx.t (id int primary key, v text unique, p isx.posint, arr int[], "
    "g int generated always as (id + 1) stored)",
    "grant select, update on isx.t to isx_app with grant option", "grant insert on isx.t to public",
    "grant delete on isx.t to isx_grp")
INFO_SCHEMA_QUERIES = (
    "select * from information_schema.table_privileges where table_schema = 'isx' order by 1, 2, 6",
    "select * from information_schema.role_table_grants where table_schema = 'isx' order by 1, 2, 6",
    "select * from information_schema.column_privileges where table_schema = 'isx' order by 1, 2, 6, 7",
    "select * from information_schema.role_column_grants where table_schema = 'isx' order by 1, 2, 6, 7",
    "select * from information_schema.applicable_roles order by 1, 2",
    "select * from information_schema.administrable_role_authorizations order by 1, 2",
    "select * from information_schema.enabled_roles order by 1",
    "select * from information_schema.constraint_table_usage where table_schema = 'isx' order by 6",
    "select * from information_schema.column_domain_usage where table_schema = 'isx' order by 7",
    "select * from information_schema.domain_constraints where domain_schema = 'isx'",
    "select * from information_schema.column_column_usage where table_schema = 'isx'",
    "select * from information_schema.element_types where object_schema = 'isx'",
    "select * from information_schema.information_schema_catalog_name",
    "select * from information_schema.triggers")


@pytest.mark.parametrize("as_role", ["admin", "isx_app"])
def test_information_schema_privileges_and_usage_match_postgres(s, pg_oracle, as_role):
    """Proves: information_schema's privilege, role and usage views (which schema tools and ORMs read)
    show what PostgreSQL 15 shows to the objects' owner and to a grantee, for the same grants."""
    import psycopg
    for sql in INFO_SCHEMA_SCRIPT:
        s.execute_sql(sql)
    viewer = SqlSession(catalog=s.catalog, kv=MemKV(), user=as_role, database="postgres", limits=Limits())
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as pg:
        pg.execute("drop schema if exists isx cascade")
        for r in ("isx_app", "isx_grp"):
            pg.execute(f"drop role if exists {r}")
        pg.execute("do $$ begin if not exists (select from pg_roles where rolname = 'admin') then "
                   "create role admin createrole createdb; end if; end $$")
        pg.execute("grant create on database postgres to admin")
        pg.execute("set role admin")       # a non-superuser owner, like DSQL's admin
        for sql in INFO_SCHEMA_SCRIPT:
            pg.execute(sql)
        pg.execute(f"set role {as_role}")
        for q in INFO_SCHEMA_QUERIES:
            expected = pg.execute(q).fetchall()
            assert [tuple(r) for r in rows(viewer, q)] == expected, q
        pg.execute("reset role")
        pg.execute("drop schema isx cascade")
        for r in ("isx_app", "isx_grp"):
            pg.execute(f"drop role {r}")
