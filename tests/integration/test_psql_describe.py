"""psql's describe commands (\\d, \\d+, \\dt, \\di, \\dn, \\du, \\df, \\dT, \\l, \\dF*) against a real cluster,
compared with what PostgreSQL 15 prints for the same objects (index method and owner aside:
DSQL's indexes are `remote_btree_index`, its owner `admin`)."""

from __future__ import annotations

import os
import subprocess

import pytest

DDL = ["CREATE TABLE it.psqld (a int PRIMARY KEY, b text NOT NULL, c numeric(10,2), d varchar(20) UNIQUE, "
       "e timestamptz, f uuid)",
       "CREATE INDEX psqld_b ON it.psqld (b, c)"]


@pytest.fixture(scope="module")
def oracle_psql(pg_oracle):
    def _psql(*args):
        r = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", pg_oracle.dsn, *args], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
        assert r.returncode == 0, r.stderr
        return r.stdout
    _psql("-c", "CREATE SCHEMA IF NOT EXISTS it")
    for sql in DDL:
        _psql("-c", sql)
    return _psql


@pytest.fixture(scope="module")
def objects(dsql_cluster, schema):
    import psycopg

    from services.launcher.cli import dsn, make_token
    with psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS it.psqld")
        for sql in DDL:
            conn.execute(sql)
    yield
    with psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS it.psqld")


def _same(text: str) -> str:
    return text.replace("remote_btree_index", "btree").replace("admin", "postgres")


@pytest.mark.parametrize("command", ["\\d it.psqld", "\\d+ it.psqld", "-A \\dt it.psql*", "-A \\di it.psql*"])
def test_describe_matches_postgres(psql, oracle_psql, objects, command):
    """The whole output, column types, nullability, indexes and constraints included, is PostgreSQL's
    (listings unaligned: the owner's name changes the column widths)."""
    *flags, cmd = command.split(" ", 1) if command.startswith("-") else [command]
    assert _same(psql(*flags, "-c", cmd).stdout) == oracle_psql(*flags, "-c", cmd)


@pytest.mark.parametrize("command", ["\\dF", "\\dFp", "\\dFd", "\\dFt"])
def test_text_search_listings_match_postgres(psql, oracle_psql, command):
    """psql's text search listings (configurations, parsers, dictionaries, templates) print PostgreSQL's."""
    assert psql("-c", command).stdout == oracle_psql("-c", command)


def test_describe_shows_remote_btree_index_and_lists(psql, objects):
    d = psql("-c", "\\d it.psqld").stdout
    assert '"psqld_pkey" PRIMARY KEY, remote_btree_index (a)' in d
    assert '"psqld_d_key" UNIQUE CONSTRAINT, remote_btree_index (d)' in d
    dn = psql("-c", "\\dn").stdout
    assert " it " in dn and " public " in dn and "(pg_|information_schema)" not in dn
    du = psql("-c", "\\du").stdout
    assert " admin " in du
    for cmd, header in (("\\df", "List of functions"), ("\\dT", "List of data types"),
                        ("\\l", "List of databases")):
        assert header in psql("-c", cmd).stdout
    assert " postgres " in psql("-c", "\\l").stdout


def test_guide_index_query_and_analyze(psql, objects):
    """The guide's pg_index query prints `USING remote_btree_index`; ANALYZE fills reltuples."""
    out = psql("-tA", "-c", "select relname, indisvalid, pg_get_indexdef(indexrelid) from pg_index, pg_class "
                            "where pg_class.oid = indexrelid and indrelid = 'it.psqld'::regclass order by 1").stdout
    assert out.splitlines() == [
        "psqld_b|t|CREATE INDEX psqld_b ON it.psqld USING remote_btree_index (b, c)",
        "psqld_d_key|t|CREATE UNIQUE INDEX psqld_d_key ON it.psqld USING remote_btree_index (d)",
        "psqld_pkey|t|CREATE UNIQUE INDEX psqld_pkey ON it.psqld USING remote_btree_index (a)"]
    psql("-c", "INSERT INTO it.psqld (a, b) SELECT g, 'x' || g FROM generate_series(1, 20) g")
    assert psql("-tAc", "select reltuples from pg_class where relname = 'psqld'").stdout.strip() == "-1"
    assert "ERROR:  ANALYZE cannot run inside a transaction block" in psql(
        "-c", "BEGIN", "-c", "ANALYZE it.psqld", check=False).stderr
    psql("-c", "ANALYZE it.psqld")
    assert psql("-tAc", "select reltuples from pg_class where relname = 'psqld'").stdout.strip() == "20"
    assert psql("-tAc", "select n_distinct from pg_stats where tablename = 'psqld' and attname = 'b'"
                ).stdout.strip() == "-1"
