"""Catalog queries and session settings through real drivers: psycopg 3 (settings, ParameterStatus,
statement_timeout, reg* types, pg_backend_pid) and SQLAlchemy 2's PostgreSQL reflection over psycopg2."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture(scope="module")
def table(dsql_cluster, schema):
    from services.launcher.cli import dsn, make_token
    with psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS it.catcli")
        conn.execute("CREATE TABLE it.catcli (id int PRIMARY KEY, name varchar(40) NOT NULL UNIQUE, "
                     "price numeric(10,2))")
    yield "it.catcli"
    with psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS it.catcli")


def test_settings_through_psycopg(connect, table):
    conn = connect(autocommit=True)
    conn.execute("SET application_name = 'catalog-test'")
    assert conn.info.parameter_status("application_name") == "catalog-test"   # reported by ParameterStatus
    assert conn.execute("SHOW application_name").fetchone() == ("catalog-test",)
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("SET TimeZone = 'America/New_York'")
    conn.execute("SET statement_timeout = 100")
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
        conn.execute("SELECT pg_sleep(3)")
    conn.execute("RESET statement_timeout")
    assert conn.execute("SELECT pg_backend_pid()").fetchone() == (conn.info.backend_pid,)


def test_reg_types_and_information_schema(connect, table):
    conn = connect(autocommit=True)
    oid, name = conn.execute("SELECT %s::regclass::oid, %s::regclass::text", (table, table)).fetchone()
    assert name == table and conn.execute("SELECT relname FROM pg_class WHERE oid = %s", (oid,)).fetchone() == (
        "catcli",)
    assert conn.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                        "WHERE table_schema = 'it' AND table_name = 'catcli' ORDER BY ordinal_position").fetchall() == [
        ("id", "integer", "NO"), ("name", "character varying", "NO"), ("price", "numeric", "YES")]


def test_sqlalchemy_reflection(dsql_cluster, table):
    sa = pytest.importorskip("sqlalchemy")
    from services.launcher.cli import make_token
    c = dsql_cluster
    url = sa.engine.URL.create("postgresql+psycopg2", username="admin", password=make_token(c), host="localhost",
                               port=c.client_port, database="postgres",
                               query={"sslmode": "verify-full", "sslrootcert": str(c.tls_ca)})
    engine = sa.create_engine(url)
    try:
        insp = sa.inspect(engine)
        assert "it" in insp.get_schema_names()
        cols = insp.get_columns("catcli", schema="it")
        assert [(x["name"], str(x["type"]), x["nullable"]) for x in cols] == [
            ("id", "INTEGER", False), ("name", "VARCHAR(40)", False), ("price", "NUMERIC(10, 2)", True)]
        assert insp.get_pk_constraint("catcli", schema="it")["constrained_columns"] == ["id"]
        assert [u["column_names"] for u in insp.get_unique_constraints("catcli", schema="it")] == [["name"]]
    finally:
        engine.dispose()


def test_pg_stat_activity_and_prepared_statements_through_psycopg(connect):
    """Two sessions: each sees itself with its client address, and the other (when the relay put both
    on one compute: the pid's high byte names it) with its last statement; psycopg's server-side
    prepared statements and a SQL PREPARE show in pg_prepared_statements."""
    busy = connect(autocommit=False)
    busy.execute("SET application_name = 'busy-app'")
    busy.execute("SELECT 42").fetchall()                      # leaves its transaction open
    me = connect(autocommit=True)
    rows = me.execute("SELECT pid, usename, application_name, client_addr, client_port > 0, state, query "
                      "FROM pg_stat_activity").fetchall()
    by_pid = {r[0]: r[1:] for r in rows}
    mine = by_pid[me.info.backend_pid]
    assert mine[:2] == ("admin", "") and mine[2] in ("127.0.0.1", "::1") and mine[3] is True and mine[4] == "active"
    assert mine[5].startswith("SELECT pid, usename")
    if busy.info.backend_pid >> 24 == me.info.backend_pid >> 24:
        assert by_pid[busy.info.backend_pid][1:] == ("busy-app", mine[2], True, "idle in transaction", "SELECT 42")
    busy.rollback()
    me.execute("PREPARE by_sql (int) AS SELECT $1 * 2")
    assert me.execute("EXECUTE by_sql (21)").fetchone() == (42,)
    me.prepare_threshold = 0                                  # psycopg prepares every query on the server
    me.execute("SELECT %s::int + 1", (1,)).fetchone()
    got = me.execute("SELECT name, statement, from_sql FROM pg_prepared_statements ORDER BY from_sql, name",
                     prepare=False).fetchall()
    assert ("by_sql", "PREPARE by_sql (int) AS SELECT $1 * 2", True) in got
    assert any(not sql and name.startswith("_pg3_") and stmt == "SELECT $1::int + 1" for name, stmt, sql in got)
