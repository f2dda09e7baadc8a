"""COMMENT ON through a real cluster: psql's \\d+, \\dt+, \\di+, \\dn+, \\df+, \\ds+, \\dT+ and \\du+ show the
descriptions exactly as PostgreSQL 15 prints them for the same DDL (DSQL's index method, owner and the sizes of
empty relations aside), and so do the obj_description / col_description queries drivers send."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

SCHEMA = "cmt"
ROLE = "cmt_reader"
DDL = [f"CREATE SCHEMA {SCHEMA}",
       f"CREATE TABLE {SCHEMA}.t (a int PRIMARY KEY, b text UNIQUE, c int CHECK (c > 0))",
       f"CREATE INDEX ti ON {SCHEMA}.t (c)",
       f"CREATE FUNCTION {SCHEMA}.f(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x + 1'",
       f"CREATE SEQUENCE {SCHEMA}.q CACHE 1",
       f"CREATE DOMAIN {SCHEMA}.pos AS int CHECK (VALUE > 0)",
       f"CREATE ROLE {ROLE}",
       f"COMMENT ON SEQUENCE {SCHEMA}.q IS 'numbers'",
       f"COMMENT ON DOMAIN {SCHEMA}.pos IS 'above zero'",
       f"COMMENT ON ROLE {ROLE} IS 'reads comments'",
       "COMMENT ON DATABASE postgres IS 'the only database'",
       f"COMMENT ON SCHEMA {SCHEMA} IS 'comments live here'",
       f"COMMENT ON TABLE {SCHEMA}.t IS 'a table with ''quotes'''",
       f"COMMENT ON COLUMN {SCHEMA}.t.a IS 'the key'",
       f"COMMENT ON COLUMN {SCHEMA}.t.c IS 'positive'",
       f"COMMENT ON INDEX {SCHEMA}.ti IS 'by c'",
       f"COMMENT ON INDEX {SCHEMA}.t_pkey IS 'primary'",
       f"COMMENT ON CONSTRAINT t_c_check ON {SCHEMA}.t IS 'c > 0'",
       f"COMMENT ON FUNCTION {SCHEMA}.f(int) IS 'adds one'"]
QUERY = (f"SELECT obj_description('{SCHEMA}.t'::regclass, 'pg_class'), col_description('{SCHEMA}.t'::regclass, 1), "
         f"col_description('{SCHEMA}.t'::regclass, 2), obj_description('{SCHEMA}.ti'::regclass, 'pg_class'), "
         f"obj_description('{SCHEMA}'::regnamespace, 'pg_namespace'), "
         f"(SELECT obj_description(oid, 'pg_proc') FROM pg_proc WHERE proname = 'f' "
         f" AND pronamespace = '{SCHEMA}'::regnamespace), "
         f"(SELECT description FROM pg_description d JOIN pg_constraint c ON c.oid = d.objoid "
         f" AND d.classoid = 'pg_constraint'::regclass WHERE c.conname = 't_c_check')")


def _run(dsn_args, password, *args):
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10", **({"PGPASSWORD": password} if password else {})}
    r = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", *dsn_args, *args], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def both(dsql_cluster, pg_oracle):
    """psql on the cluster and on PostgreSQL 15, with the same objects and comments in each."""
    from services.launcher.cli import dsn, make_token
    ours = lambda *a: _run([dsn(dsql_cluster)], make_token(dsql_cluster), *a)   # noqa: E731
    oracle = lambda *a: _run([pg_oracle.dsn], None, *a)                         # noqa: E731
    for run in (ours, oracle):
        drop(run)
        for sql in DDL:
            run("-c", sql)
    yield ours, oracle
    for run in (ours, oracle):
        drop(run)
        run("-c", "COMMENT ON DATABASE postgres IS NULL")


def drop(run):
    for sql in (f"DROP TABLE IF EXISTS {SCHEMA}.t", f"DROP FUNCTION IF EXISTS {SCHEMA}.f(int)",
                f"DROP SEQUENCE IF EXISTS {SCHEMA}.q", f"DROP DOMAIN IF EXISTS {SCHEMA}.pos",
                f"DROP SCHEMA IF EXISTS {SCHEMA}", f"DROP ROLE IF EXISTS {ROLE}"):
        run("-c", sql)


def _same(text: str) -> str:
    """DSQL's index method and owner, and the size of an empty relation (PostgreSQL's empty btree has a
    metapage: 8192 bytes), are not what this compares."""
    text = text.replace("remote_btree_index", "btree").replace("admin", "postgres")
    return re.sub(r"\b(0|8192) bytes\b", "N bytes", text)


@pytest.mark.parametrize("command", [f"\\d+ {SCHEMA}.t", f"\\dt+ {SCHEMA}.*", f"\\di+ {SCHEMA}.*",
                                     f"\\dn+ {SCHEMA}", f"\\df+ {SCHEMA}.*", f"\\ds+ {SCHEMA}.*",
                                     f"\\dT+ {SCHEMA}.*", f"\\du+ {ROLE}"])
def test_psql_shows_descriptions_as_postgres(both, command):
    ours, oracle = both
    mine = ours("-A", "-c", command)
    assert _same(mine) == _same(oracle("-A", "-c", command))
    assert any(text in mine for text in ("comments live here", "adds one", "the key", "by c", "a table with 'quotes'",
                                         "numbers", "above zero", "reads comments"))


def test_description_functions_as_postgres(both):
    ours, oracle = both
    assert ours("-tA", "-c", QUERY) == oracle("-tA", "-c", QUERY)
    assert ours("-tA", "-c", QUERY).strip() == \
        "a table with 'quotes'|the key||by c|comments live here|adds one|c > 0"


def test_database_description_in_psql_list(both):
    ours, _ = both
    assert ours("-A", "-c", "\\l+ postgres").splitlines()[2].endswith("|the only database")
