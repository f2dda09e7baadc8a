"""Roles and privileges on the in-memory catalog: CREATE/ALTER/DROP ROLE, GRANT/REVOKE of
privileges and membership, AWS IAM GRANT/REVOKE, and enforcement with PostgreSQL 15's errors
(each message here was checked against PostgreSQL 15 with a CREATEROLE, non-superuser admin)."""

from __future__ import annotations

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.authcatalog import auth_of
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql.awsiam import parse_aws_iam
from services.compute.sql.session import SqlSession

from .memkv import MemKV

ARN = "arn:aws:iam::111122223333:role/example"


@pytest.fixture
def cat():
    c = Catalog(store=MemoryStore())
    c.bootstrap()
    return c


@pytest.fixture
def kv():
    return MemKV()


def session(cat, kv, user="admin"):
    return SqlSession(catalog=cat, kv=kv, user=user, database="postgres", limits=Limits())


@pytest.fixture
def admin(cat, kv):
    return session(cat, kv)


def run(s, sql):
    return s.execute_sql(sql)[-1]


def err(s, sql) -> PgError:
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql)
    return ei.value


def expect(s, sql, sqlstate, message):
    e = err(s, sql)
    assert (e.sqlstate, e.message) == (sqlstate, message)
    return e


@pytest.fixture
def app(cat, kv, admin):
    """The guide's setup: schema myschema with a table, role example with LOGIN."""
    for sql in ("create schema myschema", "create table myschema.t (id int primary key, v text)",
                "insert into myschema.t values (1, 'a')", "create role example with login"):
        run(admin, sql)
    return session(cat, kv, "example")


def test_guide_flow_grants_take_effect_at_the_next_statement(admin, app):
    expect(app, "select * from myschema.t", "42501", "permission denied for schema myschema")
    run(admin, "grant usage on schema myschema to example")
    expect(app, "select * from myschema.t", "42501", "permission denied for table t")
    run(admin, "grant select, insert, update on all tables in schema myschema to example")
    assert run(app, "select v from myschema.t").rows == [("a",)]
    assert run(app, "insert into myschema.t values (2, 'b')").tag == "INSERT 0 1"
    assert run(app, "update myschema.t set v = 'c' where id = 2").tag == "UPDATE 1"
    expect(app, "delete from myschema.t", "42501", "permission denied for table t")
    run(admin, "revoke select on myschema.t from example")
    expect(app, "select v from myschema.t", "42501", "permission denied for table t")
    # UPDATE reading the target's columns needs SELECT too; a constant SET without WHERE does not
    expect(app, "update myschema.t set v = 'd' where id = 2", "42501", "permission denied for table t")
    assert run(app, "update myschema.t set v = 'd'").tag == "UPDATE 2"


def test_prepared_statement_is_rechecked_after_revoke(admin, app):
    run(admin, "grant usage on schema myschema to example")
    run(admin, "grant select on myschema.t to example")
    st = app.parse("select v from myschema.t where id = 1")[0]
    p = app.prepare(st)
    assert app.execute(p).rows == [("a",)]
    run(admin, "revoke all on myschema.t from example")
    with pytest.raises(PgError) as ei:
        app.execute(app.prepare(st))
    assert ei.value.message == "permission denied for table t"


def test_public_and_schema_creation_are_admin_only(admin, app):
    expect(app, "create schema mine", "42501", "permission denied for database postgres")
    expect(app, "create table t2 (a int primary key)", "42501", "permission denied for schema public")
    expect(app, "create table myschema.t2 (a int primary key)", "42501", "permission denied for schema myschema")
    run(admin, "grant usage, create on schema myschema to example")
    run(app, "create table myschema.t2 (a int primary key)")
    # what a role creates it owns: admin has no access to it (DSQL's admin is not a superuser)
    run(app, "insert into myschema.t2 values (1)")
    expect(admin, "select * from myschema.t2", "42501", "permission denied for table t2")
    expect(admin, "drop table myschema.t2", "42501", "must be owner of table t2")
    run(admin, "grant example to admin")
    assert run(admin, "select * from myschema.t2").rows == [(1,)]
    # admin cannot hand out CREATE on public
    r = run(admin, "grant create on schema public to example")
    assert [n.message for n in r.notices] == ['no privileges were granted for "public"']
    expect(app, "create table public.t3 (a int primary key)", "42501", "permission denied for schema public")


def test_owner_checks_on_ddl(admin, app):
    run(admin, "grant usage on schema myschema to example")
    expect(app, "drop table myschema.t", "42501", "must be owner of table t")
    expect(app, "alter table myschema.t add column c int", "42501", "must be owner of table t")
    expect(app, "create index on myschema.t (v)", "42501", "must be owner of table t")
    expect(app, "drop schema myschema", "42501", "must be owner of schema myschema")


def test_role_statements_need_createrole(admin, app):
    expect(app, "create role x", "42501", "permission denied to create role")
    expect(app, "drop role example", "42501", "permission denied to drop role")
    expect(app, "alter role example nologin", "42501", "permission denied")
    expect(app, "grant example to admin", "42501", 'must have admin option on role "example"')
    expect(admin, "create role s superuser", "42501", "must be superuser to create superusers")
    expect(admin, "create role s replication", "42501", "must be superuser to create replication users")
    expect(admin, "alter role example superuser", "42501",
           "must be superuser to alter superuser roles or change superuser attribute")
    expect(admin, "create role example", "42710", 'role "example" already exists')
    expect(admin, "create role public", "42939", 'role name "public" is reserved')
    e = expect(admin, "create role pg_x", "42939", 'role name "pg_x" is reserved')
    assert e.detail == 'Role names starting with "pg_" are reserved.'
    expect(admin, "alter role nosuch login", "42704", 'role "nosuch" does not exist')
    expect(admin, "drop role nosuch", "42704", 'role "nosuch" does not exist')
    assert run(admin, "drop role if exists nosuch").notices == ['role "nosuch" does not exist, skipping']
    expect(admin, "drop role admin", "55006", "current user cannot be dropped")
    expect(admin, "alter role admin nologin", "42501", "permission denied")


def test_membership_and_inheritance(cat, kv, admin, app):
    run(admin, "create role readers")
    run(admin, "grant usage on schema myschema to readers")
    run(admin, "grant select on myschema.t to readers")
    run(admin, "grant readers to example")
    assert run(app, "select count(*) from myschema.t").rows == [(1,)]
    assert run(admin, "grant readers to example").notices == ['role "example" is already a member of role "readers"']
    expect(admin, "grant example to readers", "0LP01", 'role "example" is a member of role "readers"')
    expect(admin, "grant readers to readers", "0LP01", 'role "readers" is a member of role "readers"')
    run(admin, "alter role example noinherit")
    expect(app, "select count(*) from myschema.t", "42501", "permission denied for schema myschema")
    run(admin, "alter role example inherit")
    run(admin, "revoke readers from example")
    expect(app, "select count(*) from myschema.t", "42501", "permission denied for schema myschema")
    r = run(admin, "revoke readers from example")
    assert [(n.severity, n.message) for n in r.notices] == [("WARNING", 'role "example" is not a member of role "readers"')]
    # dropping a role with privileges is refused with PostgreSQL's DETAIL
    e = expect(admin, "drop role readers", "2BP01", 'role "readers" cannot be dropped because some objects depend on it')
    assert e.detail == "privileges for schema myschema\nprivileges for table myschema.t"
    run(admin, "revoke all on myschema.t from readers")
    run(admin, "revoke usage on schema myschema from readers")
    run(admin, "drop role readers")
    assert auth_of(cat).get_role("readers") is None


def test_grant_errors(admin, app):
    expect(admin, "grant usage on myschema.t to example", "0LP01", "invalid privilege type USAGE for table")
    expect(admin, "grant select on schema myschema to example", "0LP01", "invalid privilege type SELECT for schema")
    expect(admin, "grant select on myschema.nosuch to example", "42P01", 'relation "myschema.nosuch" does not exist')
    expect(admin, "grant select on all tables in schema nosuch to example", "3F000", 'schema "nosuch" does not exist')
    expect(admin, "grant select on myschema.t to public with grant option", "0LP01",
           "grant options can only be granted to roles")
    expect(admin, "grant select on myschema.t to nosuch", "42704", 'role "nosuch" does not exist')
    expect(admin, "grant all on database postgres to example", "0A000", "unsupported object type in GRANT")
    expect(app, "grant select on myschema.t to example", "42501", "permission denied for table t")


def test_grant_option_lets_a_role_grant_further(cat, kv, admin, app):
    run(admin, "create role other with login")
    run(admin, "grant usage on schema myschema to example, other")
    run(admin, "grant select on myschema.t to example with grant option")
    run(app, "grant select on myschema.t to other")
    assert run(session(cat, kv, "other"), "select id from myschema.t").rows == [(1,)]
    r = run(app, "grant insert on myschema.t to other")
    assert [n.message for n in r.notices] == ['no privileges were granted for "t"']


def test_aws_iam_grant_and_revoke(cat, kv, admin, app):
    run(admin, "create role nologin_role")
    expect(admin, f"AWS IAM GRANT nologin_role TO '{ARN}'", "0LP01", 'role "nologin_role" must have the LOGIN attribute')
    expect(admin, f"AWS IAM GRANT nosuch TO '{ARN}'", "42704", 'role "nosuch" does not exist')
    expect(app, f"AWS IAM GRANT example TO '{ARN}'", "42501", 'permission denied to grant IAM trust with role "example"')
    assert run(admin, f"AWS IAM GRANT example TO '{ARN}';").tag == "AWS IAM GRANT"
    rows = run(admin, "select arn, pg_role_name, grantor_pg_role_name from sys.iam_pg_role_mappings").rows
    assert rows == [(ARN, "example", "admin")]
    e = expect(admin, "drop role example", "2BP01", 'role "example" cannot be dropped because some objects depend on it')
    assert ARN in e.detail
    assert run(admin, f"aws iam revoke example from '{ARN}'").tag == "AWS IAM REVOKE"
    assert run(admin, "select count(*) from sys.iam_pg_role_mappings").rows == [(0,)]
    run(admin, "drop role example")


def test_role_statements_are_ddl_in_a_block(cat, kv, admin):
    run(admin, "begin")
    run(admin, "create role later with login")
    assert auth_of(cat).get_role("later") is None          # applied at COMMIT, like any DDL
    run(admin, "commit")
    assert auth_of(cat).get_role("later").login


def test_parse_aws_iam():
    assert parse_aws_iam("select 1") is None
    s = parse_aws_iam(f'  aws iam grant "Mixed" to \'{ARN}\' ; ')
    assert (s.is_grant, s.role, s.arn) == (True, "Mixed", ARN)
    with pytest.raises(PgError) as ei:
        parse_aws_iam(f"AWS IAM GRANT example FROM '{ARN}'")
    assert ei.value.sqlstate == "42601"


def test_relay_admission_reads_what_the_compute_wrote(cat, kv, admin):
    """The relay's admission check sees roles and IAM mappings the compute stored."""
    import asyncio

    from services.relay.admission import Admission

    def get(key):
        v = cat.store.get(key)
        return v[0] if v else None
    adm = Admission(get)

    def refused(user, arn):
        with pytest.raises(PgError) as ei:
            asyncio.run(adm.check(user, arn))
        assert (ei.value.sqlstate, ei.value.severity) == ("28000", "FATAL")
        return ei.value.message

    asyncio.run(adm.check("admin", "arn:aws:iam::000000000000:user/anyone"))
    assert refused("ghost", ARN) == 'role "ghost" does not exist'
    run(admin, "create role example with login")
    assert refused("example", ARN) == f'role "example" is not authorized for IAM principal {ARN}'
    run(admin, f"aws iam grant example to '{ARN}'")
    asyncio.run(adm.check("example", ARN))
    asyncio.run(adm.check("example", "arn:aws:sts::111122223333:assumed-role/example/session-1"))
    run(admin, "alter role example nologin")
    assert refused("example", ARN) == 'role "example" is not permitted to log in'


def test_copy_needs_insert_or_select(admin, app):
    run(admin, "grant usage on schema myschema to example")
    p = app.prepare(app.parse("copy myschema.t from stdin")[0])
    with pytest.raises(PgError) as ei:
        app.copy_in(p, [b"5\tx\n"])
    assert ei.value.message == "permission denied for table t"
    with pytest.raises(PgError) as ei:
        app.copy_out(app.prepare(app.parse("copy myschema.t to stdout")[0]))
    assert ei.value.message == "permission denied for table t"
    run(admin, "grant insert, select on myschema.t to example")
    assert app.copy_in(app.prepare(app.parse("copy myschema.t from stdin")[0]), [b"5\tx\n"]).tag == "COPY 1"
    assert app.copy_out(app.prepare(app.parse("copy myschema.t to stdout")[0]))[1].tag == "COPY 2"


def test_set_role(cat, kv, admin, app):
    expect(app, "set role admin", "42501", 'permission denied to set role "admin"')
    expect(app, "set role nosuch", "42704", 'role "nosuch" does not exist')
    expect(app, "set session authorization admin", "42501", "permission denied to set session authorization")
    run(admin, "create role owner_role")
    run(admin, "grant usage, create on schema myschema to owner_role")
    run(admin, "grant owner_role to example")
    run(app, "set role owner_role")
    assert run(app, "select current_user, session_user").rows == [("owner_role", "example")]
    run(app, "create table myschema.owned (a int primary key)")
    assert cat.get_table("myschema", "owned").owner == "owner_role"
    run(app, "reset role")
    assert run(app, "select current_user").rows == [("example",)]
    assert run(app, "show role").rows == [("none",)]


def test_alter_owner_needs_membership_in_the_new_owner(cat, kv, admin, app):
    run(admin, "create table myschema.mine (a int primary key)")
    expect(admin, "alter table myschema.mine owner to example", "42501", 'must be member of role "example"')
    run(admin, "grant example to admin")
    expect(admin, "alter table myschema.mine owner to example", "42501", "permission denied for schema myschema")
    run(admin, "grant create on schema myschema to example")
    run(admin, "alter table myschema.mine owner to example")
    assert cat.get_table("myschema", "mine").owner == "example"


def test_explain_needs_the_privileges(admin, app):
    run(admin, "grant usage on schema myschema to example")
    expect(app, "explain select * from myschema.t", "42501", "permission denied for table t")
    run(admin, "grant select on myschema.t to example")
    assert run(app, "explain select * from myschema.t").tag == "EXPLAIN"


def test_has_privilege(cat, kv, admin, app):
    run(admin, "grant usage on schema myschema to example")
    run(admin, "grant select on myschema.t to example")
    t = cat.get_table("myschema", "t")
    assert app.has_privilege("has_table_privilege", "myschema.t", "SELECT")
    assert not app.has_privilege("has_table_privilege", "myschema.t", "INSERT, DELETE")
    assert app.has_privilege("has_table_privilege", "example", t.id, "insert, select")
    assert not app.has_privilege("has_table_privilege", "myschema.t", "SELECT WITH GRANT OPTION")
    assert admin.has_privilege("has_table_privilege", "example", "myschema.t", "select")
    assert app.has_privilege("has_schema_privilege", "myschema", "USAGE")
    assert not app.has_privilege("has_schema_privilege", "myschema", "CREATE")
    assert not app.has_privilege("has_schema_privilege", "public", "CREATE")
    assert admin.has_privilege("has_schema_privilege", "public", "CREATE")
    assert not app.has_privilege("has_database_privilege", "postgres", "CREATE")
    assert not admin.has_privilege("pg_has_role", "example", "MEMBER")
    run(admin, "grant example to admin")
    assert admin.has_privilege("pg_has_role", "example", "USAGE")
    with pytest.raises(PgError) as ei:
        app.has_privilege("has_table_privilege", "myschema.nosuch", "SELECT")
    assert ei.value.sqlstate == "42P01"


def test_grant_to_public_and_unsupported_objects(cat, kv, admin, app):
    run(admin, "grant usage on schema myschema to public")
    run(admin, "grant select on myschema.t to public")
    assert run(app, "select id from myschema.t").rows == [(1,)]
    run(admin, "revoke select on myschema.t from public")
    expect(app, "select id from myschema.t", "42501", "permission denied for table t")
    for sql in ("grant all on database postgres to example", "grant usage on language sql to example"):
        expect(admin, sql, "0A000", "unsupported object type in GRANT")


def test_revoke_with_dependent_privileges(cat, kv, admin, app):
    run(admin, "create role d2")
    run(admin, "grant usage on schema myschema to example")
    run(admin, "grant select on myschema.t to example with grant option")
    run(app, "grant select on myschema.t to d2")
    e = expect(admin, "revoke select on myschema.t from example", "2BP01", "dependent privileges exist")
    assert e.hint == "Use CASCADE to revoke them too."
    expect(admin, "revoke grant option for select on myschema.t from example", "2BP01", "dependent privileges exist")
    run(admin, "revoke select on myschema.t from example cascade")
    auth = auth_of(cat)
    assert set(auth.grants("example")) == {("schema", cat.get_schema("myschema").id)}
    assert auth.grants("d2") == {}


def test_for_update_and_on_conflict_need_update(admin, app):
    run(admin, "grant usage on schema myschema to example")
    run(admin, "grant select, insert on myschema.t to example")
    assert run(app, "select v from myschema.t where id = 1").rows == [("a",)]
    expect(app, "select v from myschema.t where id = 1 for update", "42501", "permission denied for table t")
    assert run(app, "insert into myschema.t values (1, 'x') on conflict (id) do nothing").tag == "INSERT 0 0"
    expect(app, "insert into myschema.t values (1, 'x') on conflict (id) do update set v = excluded.v",
           "42501", "permission denied for table t")
    run(admin, "grant update on myschema.t to example")
    assert run(app, "insert into myschema.t values (1, 'x') on conflict (id) do update set v = excluded.v "
                    "returning v").rows == [("x",)]


def test_role_setting_made_around_set_role_is_still_checked(admin, app):
    app.settings["role"] = "admin"          # e.g. a startup option or set_config()
    expect(app, "select * from myschema.t", "42501", 'permission denied to set role "admin"')
    expect(app, "create schema x", "42501", 'permission denied to set role "admin"')


def test_sequences_domains_functions_have_owners(cat, kv, admin, app):
    run(admin, "grant usage, create on schema myschema to example")
    run(app, "create sequence myschema.seq cache 1")
    run(app, "create domain myschema.pos as int check (value > 0)")
    run(app, "create function myschema.twice(x int) returns int language sql as 'select x * 2'")
    expect(admin, "drop sequence myschema.seq", "42501", "must be owner of sequence seq")
    expect(admin, "drop domain myschema.pos", "42501", "must be owner of type myschema.pos")
    expect(admin, "drop function myschema.twice", "42501", "must be owner of function myschema.twice")
    e = expect(admin, "drop role example", "2BP01", 'role "example" cannot be dropped because some objects depend on it')
    assert {"owner of sequence myschema.seq", "owner of type myschema.pos",
            "owner of function myschema.twice(integer)"} <= set(e.detail.split("\n"))
    run(app, "drop sequence myschema.seq")


def test_sql_function_body_runs_with_the_callers_privileges(admin, app):
    run(admin, "create function myschema.first_v() returns text language sql as 'select v from myschema.t where id = 1'")
    run(admin, "grant usage on schema myschema to example")
    expect(app, "select myschema.first_v()", "42501", "permission denied for table t")
    run(admin, "grant select on myschema.t to example")
    assert run(app, "select myschema.first_v()").rows == [("a",)]


@pytest.fixture
def objs(admin):
    """A sequence, an identity column, a serial-style default, a SQL function and a domain (admin's)."""
    for sql in ("grant usage on schema myschema to example", "create sequence myschema.q cache 1",
                "create table myschema.ident (id int generated by default as identity (cache 1), v int)",
                "create table myschema.serial (id bigint default nextval('myschema.q'), v int)",
                "grant select, insert on myschema.ident, myschema.serial to example",
                "create function myschema.inc(a int) returns int language sql as 'select a + 1'",
                "create domain myschema.pos as int check (value > 0)"):
        run(admin, sql)


def test_sequence_functions_need_sequence_privileges(cat, kv, admin, app, objs):
    for sql in ("select nextval('myschema.q')", "select currval('myschema.q')", "select setval('myschema.q', 5)"):
        expect(app, sql, "42501", "permission denied for sequence q")
    expect(app, "select lastval()", "55000", "lastval is not yet defined in this session")
    # an identity column's sequence needs no privilege (PostgreSQL); a nextval() default does
    assert run(app, "insert into myschema.ident (v) values (1)").tag == "INSERT 0 1"
    expect(app, "insert into myschema.serial (v) values (1)", "42501", "permission denied for sequence q")
    assert run(app, "select nextval('myschema.q') from myschema.ident where false").rows == []   # checked per call
    run(admin, "grant usage, select on all sequences in schema myschema to example")
    assert run(app, "select nextval('myschema.q'), currval('myschema.q'), lastval()").rows == [(1, 1, 1)]
    assert run(app, "insert into myschema.serial (v) values (1) returning id").rows == [(2,)]
    expect(app, "select setval('myschema.q', 5)", "42501", "permission denied for sequence q")   # UPDATE only
    run(admin, "revoke usage on sequence myschema.q from example")
    expect(app, "select nextval('myschema.q')", "42501", "permission denied for sequence q")
    assert run(app, "select currval('myschema.q')").rows == [(2,)]                              # SELECT suffices
    run(admin, "revoke select on myschema.q from example")
    run(admin, "grant update on sequence myschema.q to example")
    assert run(app, "select nextval('myschema.q'), setval('myschema.q', 10)").rows == [(3, 10)]
    expect(app, "select lastval()", "42501", "permission denied for sequence q")


def test_function_execute_defaults_to_public(cat, kv, admin, app, objs):
    assert run(app, "select myschema.inc(1)").rows == [(2,)]
    run(admin, "revoke execute on function myschema.inc(int) from public")
    expect(app, "select myschema.inc(1)", "42501", "permission denied for function inc")
    expect(app, "select myschema.inc(id) from myschema.ident where false", "42501", "permission denied for function inc")
    # a default that calls it needs EXECUTE when the statement uses the default (PostgreSQL)
    run(admin, "create table myschema.dflt (a int default myschema.inc(1), b int)")
    run(admin, "grant insert on myschema.dflt to example")
    for sql in ("insert into myschema.dflt (b) values (1)", "insert into myschema.dflt (b) select 1"):
        expect(app, sql, "42501", "permission denied for function inc")
    for sql in ("insert into myschema.dflt (a, b) values (1, 1)", "insert into myschema.dflt (a, b) select 1, 1"):
        assert run(app, sql).tag == "INSERT 0 1"
    run(admin, "grant execute on all functions in schema myschema to example with grant option")
    assert run(app, "select myschema.inc(1)").rows == [(2,)]
    assert run(app, "insert into myschema.dflt (b) values (1)").tag == "INSERT 0 1"
    run(admin, "create role other")
    run(app, "grant execute on function myschema.inc to other")
    assert admin.has_privilege("has_function_privilege", "other", "myschema.inc(integer)", "EXECUTE")
    run(admin, "revoke execute on function myschema.inc(int) from example cascade")
    assert not admin.has_privilege("has_function_privilege", "other", "myschema.inc(int)", "execute")
    assert not app.has_privilege("has_function_privilege", "myschema.inc(int)", "execute")
    run(admin, "grant execute on function myschema.inc(int) to public")
    assert app.has_privilege("has_function_privilege", "myschema.inc(int)", "execute")
    assert app.has_privilege("has_function_privilege", "lower(text)", "execute")      # built-in


def test_has_sequence_function_type_privilege(cat, kv, admin, app, objs):
    assert not app.has_privilege("has_sequence_privilege", "myschema.q", "usage")
    assert app.has_privilege("has_type_privilege", "myschema.pos", "usage")
    run(admin, "grant select on sequence myschema.q to example with grant option")
    assert app.has_privilege("has_sequence_privilege", "myschema.q", "usage, select with grant option")
    assert not admin.has_privilege("has_sequence_privilege", "example", "myschema.q", "update")
    q = cat.get_object("sequence", "myschema", "q")
    assert app.has_privilege("has_sequence_privilege", q["id"], "SELECT")
    run(admin, "revoke usage on domain myschema.pos from public")
    assert not app.has_privilege("has_type_privilege", "myschema.pos", "usage")
    assert app.has_privilege("has_type_privilege", "int4", "usage")
    for args, state, message in (
            (("has_sequence_privilege", "myschema.t", "usage"), "42809", '"myschema.t" is not a sequence'),
            (("has_sequence_privilege", "myschema.nosuch", "usage"), "42P01",
             'relation "myschema.nosuch" does not exist'),
            (("has_sequence_privilege", "myschema.q", "insert"), "22023", 'unrecognized privilege type: "insert"'),
            (("has_function_privilege", "myschema.nope(int)", "execute"), "42883",
             'function "myschema.nope(int)" does not exist'),
            (("has_function_privilege", "myschema.inc(int)", "usage"), "22023",
             'unrecognized privilege type: "usage"')):
        with pytest.raises(PgError) as ei:
            app.has_privilege(*args)
        assert (ei.value.sqlstate, ei.value.message) == (state, message)


def test_grant_errors_on_sequences_functions_domains(cat, kv, admin, app, objs):
    for sql, state, message in (
            ("grant insert on sequence myschema.q to example", "0LP01", "invalid privilege type INSERT for sequence"),
            ("grant select on function myschema.inc(int) to example", "0LP01",
             "invalid privilege type SELECT for function"),
            ("grant execute on function myschema.nof(int) to example", "42883",
             "function myschema.nof(integer) does not exist"),
            ("grant execute on function myschema.inc(text) to example", "42883",
             "function myschema.inc(text) does not exist"),
            ("grant usage on sequence myschema.t to example", "42809", '"t" is not a sequence'),
            ("grant usage on sequence myschema.nos to example", "42P01", 'relation "myschema.nos" does not exist'),
            ("grant usage on domain myschema.nod to example", "42704", 'type "myschema.nod" does not exist'),
            ("grant usage on domain int4 to example", "42809", '"int4" is not a domain'),
            ("grant usage on myschema.t to example", "0LP01", "invalid privilege type USAGE for table")):
        expect(admin, sql, state, message)
    expect(app, "grant select on sequence myschema.q to other_role", "42704", 'role "other_role" does not exist')
    run(admin, "create role other")
    expect(app, "grant usage on sequence myschema.q to other", "42501", "permission denied for sequence q")
    # ON TABLE may name a sequence: its table-only privileges are dropped with a warning
    r = run(admin, "grant insert, select on myschema.q to example")
    assert [str(n) for n in r.notices] == ['sequence "q" only supports USAGE, SELECT, and UPDATE privileges']
    r = run(app, "grant usage on sequence myschema.q to other")
    assert [str(n) for n in r.notices] == ['no privileges were granted for "q"']
    r = run(app, "grant execute on function myschema.inc(int) to other")       # PUBLIC's EXECUTE is no grant option
    assert [str(n) for n in r.notices] == ['no privileges were granted for "inc"']
    run(admin, "grant usage on type myschema.pos to example")
    e = expect(admin, "drop role example", "2BP01", 'role "example" cannot be dropped because some objects depend on it')
    assert {"privileges for sequence myschema.q", "privileges for type myschema.pos"} <= set(e.detail.split("\n"))
    r = run(admin, "grant usage on type int4 to example")
    assert [str(n) for n in r.notices] == ['no privileges were granted for "int4"']
    run(admin, "create function myschema.inc(a text) returns int language sql as 'select 1'")
    expect(admin, "grant execute on function myschema.inc to example", "42725", 'function name "myschema.inc" is not unique')
    expect(admin, "grant execute on function myschema.nofunc to example", "42883",
           'could not find a function named "myschema.nofunc"')


def test_acls_as_postgres_prints_them(cat, kv, admin, app, objs):
    """relacl/proacl/typacl and information_schema, as PostgreSQL 15 showed them for the same statements."""
    def acl(sql):
        return run(admin, sql).rows
    assert acl("select relacl from pg_class where relname = 'q'") == [(None,)]
    run(admin, "grant usage, select on all sequences in schema myschema to example")
    run(admin, "revoke execute on function myschema.inc(int) from public")
    run(admin, "grant execute on function myschema.inc to example with grant option")
    run(admin, "revoke usage on domain myschema.pos from public")
    run(admin, "grant usage on type myschema.pos to example")
    run(admin, "grant select on myschema.t to public")
    assert acl("select relname, relacl from pg_class where relnamespace = 'myschema'::regnamespace "
               "and relname in ('q', 't', 'ident_id_seq') order by 1") == [
        ("ident_id_seq", ["admin=rwU/admin", "example=rU/admin"]), ("q", ["admin=rwU/admin", "example=rU/admin"]),
        ("t", ["admin=arwdDxt/admin", "=r/admin"])]
    assert acl("select proacl from pg_proc where proname = 'inc'") == [(["admin=X/admin", "example=X*/admin"],)]
    assert acl("select typacl from pg_type where typname = 'pos'") == [(["admin=U/admin", "example=U/admin"],)]
    run(admin, "revoke all on sequence myschema.q from example")
    assert acl("select relacl from pg_class where relname = 'q'") == [(["admin=rwU/admin"],)]
    assert run(app, "select grantor, grantee, object_name, object_type, is_grantable "
                    "from information_schema.role_usage_grants order by 3").rows == [
        ("admin", "example", "ident_id_seq", "SEQUENCE", "NO"), ("admin", "example", "pos", "DOMAIN", "NO")]
    assert run(app, "select grantee, routine_name, is_grantable from information_schema.routine_privileges "
                    "order by 1").rows == [("example", "inc", "YES")]


def test_alter_role_rename_carries_grants_memberships_owners_and_iam(cat, kv, admin, app, objs):
    from services.relay.admission import Admission
    run(admin, "grant usage, create on schema myschema to example")
    run(admin, "grant select on myschema.t to example with grant option")
    run(admin, "create role other")
    run(app, "grant select on myschema.t to other")
    run(app, "create sequence myschema.mine cache 1")
    run(admin, "create role grp")
    run(admin, "grant grp to example")
    run(admin, f"AWS IAM GRANT example TO '{ARN}'")
    expect(app, "alter role other rename to x", "42501", "permission denied to rename role")
    expect(app, "alter role example rename to x", "0A000", "session user cannot be renamed")
    expect(admin, "alter role admin rename to x", "0A000", "session user cannot be renamed")
    expect(admin, "alter role nosuch rename to x", "42704", 'role "nosuch" does not exist')
    expect(admin, "alter role example rename to other", "42710", 'role "other" already exists')
    expect(admin, "alter role example rename to pg_x", "42939", 'role name "pg_x" is reserved')
    assert run(admin, "alter role example rename to app2").tag == "ALTER ROLE"
    renamed = session(cat, kv, "app2")
    assert run(renamed, "select v from myschema.t where id = 1").rows == [("a",)]
    assert run(admin, "select relacl from pg_class where relname = 't'").rows == [
        (["admin=arwdDxt/admin", "app2=r*/admin", "other=r/app2"],)]
    assert run(admin, "select sequenceowner from pg_sequences where sequencename = 'mine'").rows == [("app2",)]
    assert run(admin, "select pg_has_role('app2', 'grp', 'member')").rows == [(True,)]
    assert run(admin, "select pg_role_name from sys.iam_pg_role_mappings").rows == [("app2",)]
    auth = auth_of(cat)
    assert auth.get_role("example") is None and auth.grants("example") == {}
    # the relay admits the principal as the new name only (tokens are not bound to a role name)
    import asyncio
    store = cat.store
    admission = Admission(lambda key: (store.get(key) or (None,))[0])
    asyncio.run(admission.check("app2", ARN))
    with pytest.raises(PgError, match='role "example" does not exist'):
        asyncio.run(admission.check("example", ARN))
    run(admin, "alter role app2 rename to example")
    assert run(app, "select v from myschema.t where id = 1").rows == [("a",)]


def test_declaring_with_a_domain_needs_usage_on_it(admin, app, objs):
    run(admin, "grant create on schema myschema to example")
    assert run(app, "create table myschema.mine (a myschema.pos)").tag == "CREATE TABLE"     # PUBLIC's USAGE
    run(admin, "revoke usage on domain myschema.pos from public")
    for sql in ("create table myschema.mine2 (a myschema.pos)", "alter table myschema.mine add column b myschema.pos",
                "create function myschema.k(a myschema.pos) returns int language sql as 'select 1'",
                "create domain myschema.pos2 as myschema.pos"):
        expect(app, sql, "42501", "permission denied for type myschema.pos")
    run(admin, "grant usage on domain myschema.pos to example")
    assert run(app, "alter table myschema.mine add column b myschema.pos").tag == "ALTER TABLE"
