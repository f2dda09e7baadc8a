"""The catalogs of syscat/pg_more.py on the in-memory engine, against a PostgreSQL 15 oracle where it
has the same data: pg_statistic, pg_shdepend, pg_ts_*, pg_timezone_abbrevs, the memory views,
pg_stat_activity and pg_prepared_statements."""

from __future__ import annotations

import pytest

from services.common import pgwire
from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog, MemoryStore
from services.compute.protocol import Protocol
from services.compute.sql.session import SqlSession

from .memkv import MemKV

VIEWS = ("pg_largeobject_metadata", "pg_parameter_acl", "pg_shdepend", "pg_statistic", "pg_ts_config",
         "pg_ts_config_map", "pg_ts_dict", "pg_ts_parser", "pg_ts_template", "pg_backend_memory_contexts",
         "pg_shmem_allocations", "pg_timezone_abbrevs", "pg_stat_activity", "pg_prepared_statements")
# types we do not have, served as in pg_columns: aclitem[], anyarray -> text[]; inet -> text; xid -> oid
SUBSTITUTED = {1034: 1009, 2277: 1009, 869: 25, 28: 26, 2211: 1009}


@pytest.fixture
def cat():
    c = Catalog(store=MemoryStore())
    c.bootstrap()
    return c


def session(cat, user="admin"):
    return SqlSession(catalog=cat, kv=MemKV(), user=user, database="postgres", limits=Limits())


@pytest.fixture
def s(cat):
    return session(cat)


@pytest.fixture(scope="module")
def pg(pg_oracle):
    import psycopg
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as conn:
        yield conn


def rows(s, sql):
    return s.execute_sql(sql)[-1].rows


@pytest.mark.parametrize("name", VIEWS)
def test_columns_are_postgres(s, pg, name):
    ours = [(c.name, c.type_oid) for c in s.execute_sql(f"select * from {name} limit 0")[-1].columns]
    theirs = [(d.name, SUBSTITUTED.get(d.type_code, d.type_code))
              for d in pg.execute(f"select * from {name} limit 0").description]
    assert ours == theirs


@pytest.mark.parametrize("sql", [
    "select oid, cfgname, cfgnamespace, cfgowner, cfgparser from pg_ts_config order by oid",
    "select * from pg_ts_config_map order by 1, 2, 3",
    "select oid, dictname, dictnamespace, dictowner, dicttemplate, dictinitoption from pg_ts_dict order by oid",
    "select oid, tmplname, tmplnamespace, tmplinit::text, tmpllexize::text from pg_ts_template order by oid",
    "select oid, prsname, prsstart::text, prstoken::text, prsend::text, prsheadline::text, prslextype::text "
    "from pg_ts_parser",
    "select abbrev, utc_offset::text, is_dst from pg_timezone_abbrevs order by abbrev",
    # psql 15's \dF, \dFp, \dFd, \dFt
    *(f"SELECT n.nspname, c.{name}, pg_catalog.obj_description(c.oid, '{cat}') FROM pg_catalog.{cat} c "
      f"LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.{ns} WHERE pg_catalog.{cat}_is_visible(c.oid) ORDER BY 1, 2"
      for cat, name, ns in (("pg_ts_config", "cfgname", "cfgnamespace"), ("pg_ts_parser", "prsname", "prsnamespace"),
                            ("pg_ts_dict", "dictname", "dictnamespace"),
                            ("pg_ts_template", "tmplname", "tmplnamespace"))),
    "select objoid, classoid, objsubid, description from pg_description where classoid in (3600, 3601, 3602, 3764) "
    "order by 1, 2",
])
def test_builtin_rows_are_postgres(s, pg, sql):
    assert rows(s, sql) == pg.execute(sql).fetchall()


def test_text_search_configurations_include_simple_and_english(s):
    assert {"simple", "english"} <= {n for (n,) in rows(s, "select cfgname from pg_ts_config")}


STATS_DDL = ["create table w (id int primary key, v text, n int)",
             "insert into w select g, 'v' || (g % 5), case when g % 4 = 0 then null else g % 7 end "
             "from generate_series(1, 50) g",
             "analyze w"]
STATS_COLUMNS = ("staattnum, stainherit, stanullfrac, stawidth, stadistinct, stakind1, stakind2, stakind3, "
                 "stakind4, stakind5, staop1, staop2, staop3, staop4, staop5, stacoll1, stacoll2, stacoll3, "
                 "stacoll4, stacoll5")


def test_pg_statistic_is_what_analyze_wrote_and_agrees_with_pg_stats(s, pg):
    pg.execute("drop table if exists w")
    for sql in STATS_DDL:
        s.execute_sql(sql)
        pg.execute(sql)
    joined = ("select a.attname, st.stanullfrac, st.stawidth, st.stadistinct, ps.null_frac, ps.avg_width, "
              "ps.n_distinct from pg_statistic st join pg_attribute a on a.attrelid = st.starelid "
              "and a.attnum = st.staattnum join pg_stats ps on ps.tablename = 'w' and ps.attname = a.attname "
              "where st.starelid = 'w'::regclass order by 1")
    got = rows(s, joined)
    assert [r[0] for r in got] == ["id", "n", "v"]
    assert all(r[1:4] == r[4:] for r in got)
    # slot kinds (most common values, histogram, correlation), their operators and collations: PostgreSQL's
    q = f"select {STATS_COLUMNS} from pg_statistic where starelid = 'w'::regclass order by staattnum"
    ours, theirs = rows(s, q), pg.execute(q).fetchall()
    assert [r[:2] + tuple(round(v, 4) for v in r[2:5]) + r[5:] for r in ours] == \
        [r[:2] + tuple(round(v, 4) for v in r[2:5]) + r[5:] for r in theirs]
    mcv = "select stavalues1::text from pg_statistic where starelid = 'w'::regclass and staattnum = 2"
    assert sorted(rows(s, mcv)[0][0].strip("{}").split(",")) == ["v0", "v1", "v2", "v3", "v4"]


def test_pg_shdepend_records_owners_and_grantees_but_not_admin(s):
    """The rows PostgreSQL 15 records for the same statements run by its bootstrap superuser."""
    for sql in ("create role owner1", "create role reader", "grant owner1 to admin", "create schema sd",
                "grant create, usage on schema sd to owner1", "create table sd.t (a int primary key)",
                "alter table sd.t owner to owner1", "grant select on sd.t to reader",
                "create table sd.mine (a int primary key)", "grant select on sd.mine to public"):
        s.execute_sql(sql)
    got = rows(s, "select d.dbid, d.classid, coalesce(c.relname, n.nspname), d.objsubid, d.refclassid, r.rolname, "
                  "d.deptype from pg_shdepend d join pg_roles r on r.oid = d.refobjid "
                  "left join pg_class c on d.classid = 1259 and c.oid = d.objid "
                  "left join pg_namespace n on d.classid = 2615 and n.oid = d.objid order by 3, 6")
    assert got == [(5, 2615, "sd", 0, 1260, "owner1", "a"),
                   (5, 1259, "t", 0, 1260, "owner1", "o"), (5, 1259, "t", 0, 1260, "reader", "a")]


def test_memory_views_show_the_process_resident_memory(s):
    (top,) = [r for r in rows(s, "select * from pg_backend_memory_contexts") if r[3] == 0]
    assert top[0] == "TopMemoryContext" and top[4] > 1 << 20 and top[4] == top[8]
    ((name, off, size, allocated),) = rows(s, "select * from pg_shmem_allocations")
    assert name == "<anonymous>" and off is None and size == allocated > 1 << 20
    assert rows(s, "select count(*) from pg_largeobject_metadata, pg_parameter_acl") == [(0,)]


ACTIVITY = ("select pid, usename, application_name, state, query, xact_start is not null, backend_type "
            "from pg_stat_activity order by pid")


def test_pg_stat_activity_shows_the_sessions_of_this_compute(cat, s):
    other = session(cat)
    s.backend_pid, other.backend_pid = 1001, 1002
    other.settings["application_name"] = "reporting"
    other.execute_sql("begin")
    other.execute_sql("select 42")
    session(Catalog(store=MemoryStore())).execute_sql("select 1")        # another compute's session
    assert rows(s, ACTIVITY) == [(1001, "admin", "", "active", ACTIVITY, True, "client backend"),
                                 (1002, "admin", "reporting", "idle in transaction", "select 42", True,
                                  "client backend")]
    # a statement outside a block is its own transaction; an idle session has none
    assert rows(s, "select xact_start = query_start, state_change >= backend_start from pg_stat_activity "
                   "where pid = pg_backend_pid()") == [(True, True)]
    other.execute_sql("commit")
    assert rows(s, "select state, query, xact_start from pg_stat_activity where pid = 1002") == [
        ("idle", "commit", None)]
    other.close()
    assert [p for (p,) in rows(s, "select pid from pg_stat_activity")] == [1001]


def test_pg_stat_activity_hides_what_other_roles_run(cat, s):
    s.backend_pid = 1001
    s.execute_sql("create role watcher login")
    w = session(cat, "watcher")
    w.backend_pid = 1003
    got = rows(w, "select pid, usename, state, query, backend_start is null, backend_type from pg_stat_activity "
                  "order by pid")
    assert got == [(1001, "admin", None, "<insufficient privilege>", True, None),
                   (1003, "watcher", "active", got[1][3], False, "client backend")]


def _values(msgs) -> list[tuple]:
    return [tuple(None if v is None else v.decode() for v in m.data_row()) for m in msgs if m.type == "D"]


PREPARED = ("select name, statement, parameter_types, from_sql, generic_plans, custom_plans "
            "from pg_prepared_statements order by name")


def test_pg_prepared_statements_lists_sql_and_protocol_statements(cat, s):
    proto = Protocol(s)

    def query(sql):
        return pgwire.parse_backend(b"".join(proto.process(pgwire.query_msg(sql))))
    assert [m.type for m in query("PREPARE s1 (int) AS SELECT $1 + 1")] == ["C", "Z"]
    out = pgwire.parse_backend(b"".join(proto.process(
        pgwire.parse_msg("p2", "SELECT $1::text", [25]) + pgwire.bind_msg("", "p2", [b"x"], [], [])
        + pgwire.execute_msg("", 0) + pgwire.parse_msg("", "SELECT 1", []) + pgwire.sync_msg())))
    assert _values(out) == [("x",)]
    assert _values(query("EXECUTE s1(41)")) == [("42",)]
    assert _values(query(PREPARED)) == [("p2", "SELECT $1::text", "{text}", "f", "1", "0"),
                                        ("s1", "PREPARE s1 (int) AS SELECT $1 + 1", "{integer}", "t", "1", "0")]
    # one namespace: Bind finds the SQL statement, Parse may not reuse its name, DEALLOCATE drops either
    out = pgwire.parse_backend(b"".join(proto.process(
        pgwire.bind_msg("", "s1", [b"1"], [], []) + pgwire.execute_msg("", 0) + pgwire.sync_msg())))
    assert _values(out) == [("2",)]
    out = pgwire.parse_backend(b"".join(proto.process(pgwire.parse_msg("s1", "SELECT 2", []) + pgwire.sync_msg())))
    assert [(m.fields()["C"], m.fields()["M"]) for m in out if m.type == "E"] == [
        ("42P05", 'prepared statement "s1" already exists')]
    query("DEALLOCATE s1")
    assert [r[0] for r in _values(query(PREPARED))] == ["p2"]
    query("DISCARD ALL")
    assert _values(query(PREPARED)) == []


@pytest.mark.parametrize("sql, sqlstate, message", [
    ("EXECUTE nope", "26000", 'prepared statement "nope" does not exist'),
    ("EXECUTE q", "42601", 'wrong number of parameters for prepared statement "q"'),
    ("EXECUTE q('abc')", "22P02", 'invalid input syntax for type integer: "abc"'),
    ("PREPARE q AS SELECT 1", "42P05", 'prepared statement "q" already exists'),
    ("PREPARE z (nosuchtype) AS SELECT 1", "42704", 'type "nosuchtype" does not exist'),
    ("DEALLOCATE nope", "26000", 'prepared statement "nope" does not exist'),
])
def test_prepare_and_execute_errors_are_postgres(s, sql, sqlstate, message):
    s.execute_sql("PREPARE q AS SELECT $1::int")
    with pytest.raises(PgError) as ei:
        s.execute_sql(sql)
    assert (ei.value.sqlstate, ei.value.message) == (sqlstate, message)
