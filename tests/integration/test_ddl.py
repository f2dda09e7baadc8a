"""DDL through the real relay and compute (psycopg over TLS), compared with PostgreSQL 15 where the
two should agree: constraints, generated and identity columns, sequences, domains, SQL functions,
LIKE and ALTER TABLE; DSQL's own rules (CACHE, serial, unsupported statements) on the cluster alone."""

from __future__ import annotations

import time

import psycopg

from services.launcher.cli import dsn, make_token

# Each step: one statement; its outcome (rows, or SQLSTATE + message) must be the same on both systems.
SCRIPT = [
    "CREATE TABLE ddl_c (a int CHECK (a > 0), b int, CONSTRAINT ddl_b_ge_a CHECK (b >= a))",
    "INSERT INTO ddl_c VALUES (1, 2) RETURNING *",
    "INSERT INTO ddl_c VALUES (-1, 2)",
    "INSERT INTO ddl_c VALUES (3, 2)",
    "UPDATE ddl_c SET a = 9",
    "INSERT INTO ddl_c VALUES (NULL, NULL) RETURNING a",
    "CREATE TABLE ddl_g (a int, b text, c int GENERATED ALWAYS AS (a * 10) STORED)",
    "INSERT INTO ddl_g (a, b) VALUES (2, 'x') RETURNING *",
    "INSERT INTO ddl_g VALUES (1, 'y', 3)",
    "UPDATE ddl_g SET c = 1",
    "UPDATE ddl_g SET a = 3 RETURNING c",
    "CREATE TABLE ddl_u (k int, v int, w int, PRIMARY KEY (k) INCLUDE (v), UNIQUE NULLS NOT DISTINCT (w))",
    "INSERT INTO ddl_u VALUES (1, 1, NULL)",
    "INSERT INTO ddl_u VALUES (2, 2, NULL)",
    "CREATE TABLE ddl_i (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY, v text)",
    "INSERT INTO ddl_i (v) VALUES ('a'), ('b') RETURNING id, v",
    "INSERT INTO ddl_i VALUES (10, 'x')",
    "INSERT INTO ddl_i OVERRIDING SYSTEM VALUE VALUES (10, 'x') RETURNING id",
    "SELECT currval('ddl_i_id_seq'), currval('it.ddl_i_id_seq'::regclass)",
    "CREATE SEQUENCE ddl_s CACHE 1 START 5 INCREMENT 5 MAXVALUE 12",
    "SELECT nextval('ddl_s'), nextval('ddl_s'::regclass)",
    "SELECT nextval('ddl_s')",
    "SELECT setval('ddl_s', 7, false), nextval('ddl_s')",
    "CREATE DOMAIN ddl_pos AS int NOT NULL CHECK (VALUE > 0)",
    "CREATE TABLE ddl_d (k int PRIMARY KEY, p ddl_pos)",
    "INSERT INTO ddl_d VALUES (1, 5) RETURNING *",
    "INSERT INTO ddl_d VALUES (2, -5)",
    "INSERT INTO ddl_d VALUES (3, NULL)",
    "SELECT 5::ddl_pos + 1, CAST('7' AS ddl_pos)",
    "SELECT (-1)::ddl_pos",
    "CREATE FUNCTION ddl_add(a int, b int) RETURNS int LANGUAGE SQL AS 'SELECT a + b'",
    "CREATE FUNCTION ddl_dbl(x int) RETURNS int LANGUAGE SQL IMMUTABLE RETURN x * 2",
    "SELECT ddl_add(1, 2), ddl_dbl(ddl_add(2, 3)), ddl_dbl(k) FROM ddl_d",
    "CREATE FUNCTION ddl_get(k int) RETURNS int LANGUAGE SQL AS 'SELECT p * 10 FROM ddl_d WHERE ddl_d.k = ddl_get.k'",
    "SELECT k, ddl_get(k), ddl_get(k + 1) FROM ddl_d",
    "SELECT ddl_get(1::bigint)",
    "CREATE TABLE ddl_l (LIKE ddl_c INCLUDING ALL)",
    "INSERT INTO ddl_l VALUES (-1, 0)",
    "CREATE TABLE ddl_l2 (LIKE ddl_c)",
    "INSERT INTO ddl_l2 VALUES (-1, -5) RETURNING *",
    "ALTER TABLE ddl_c RENAME COLUMN a TO aa",
    "INSERT INTO ddl_c (aa, b) VALUES (-7, 10)",
    "ALTER TABLE ddl_c RENAME CONSTRAINT ddl_b_ge_a TO ddl_b_ge_aa",
    "INSERT INTO ddl_c (aa, b) VALUES (70, 10)",
    "ALTER TABLE ddl_c ADD COLUMN IF NOT EXISTS z text",
    "ALTER TABLE ddl_c ADD COLUMN IF NOT EXISTS z text",
    "ALTER TABLE ddl_c RENAME TO ddl_c2",
    "SELECT aa, b, z FROM ddl_c2 ORDER BY aa",
    "CREATE SCHEMA ddl_sch",
    "CREATE TABLE IF NOT EXISTS ddl_sch.ddl_t (k int PRIMARY KEY, v text)",
    "CREATE TABLE IF NOT EXISTS ddl_sch.ddl_t (k int PRIMARY KEY, v text)",
    "CREATE UNIQUE INDEX ddl_t_v ON ddl_sch.ddl_t (v)",
    "INSERT INTO ddl_sch.ddl_t VALUES (1, 'a'), (2, 'a')",
    "DROP SCHEMA ddl_sch",
    "ALTER TABLE ddl_sch.ddl_t SET SCHEMA it",
    "SELECT count(*) FROM ddl_t",
    "DROP TABLE ddl_t",
    "DROP SCHEMA ddl_sch",
    "DROP SCHEMA IF EXISTS ddl_sch",
    "DROP DOMAIN ddl_pos",
    "DROP TABLE ddl_d",
    "DROP DOMAIN ddl_pos",
    "DROP FUNCTION ddl_add",
    "SELECT ddl_add(1, 2)",
    "DROP SEQUENCE ddl_s",
    "SELECT nextval('ddl_s')",
]

CLEANUP = ["DROP TABLE IF EXISTS ddl_c2, ddl_g, ddl_u, ddl_i, ddl_l, ddl_l2, ddl_d, ddl_sch.ddl_t, it.ddl_t",
           "DROP SCHEMA IF EXISTS ddl_sch",
           "DROP FUNCTION IF EXISTS ddl_dbl", "DROP FUNCTION IF EXISTS ddl_get", "DROP FUNCTION IF EXISTS ddl_add",
           "DROP SEQUENCE IF EXISTS ddl_s", "DROP DOMAIN IF EXISTS ddl_pos"]


def run_steps(conn, steps):
    out = []
    for sql in steps:
        try:
            cur = conn.execute(sql)
            out.append(("ok", cur.fetchall() if cur.description else cur.statusmessage))
        except psycopg.Error as e:
            out.append(("error", e.sqlstate, e.diag.message_primary))
    return out


def test_ddl_matches_postgres(connect, schema, pg_oracle):
    """Every step gives the same rows, or the same SQLSTATE and message, on the cluster and on PostgreSQL."""
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as pg:
        pg.execute("CREATE SCHEMA IF NOT EXISTS it")
        pg.execute("SET search_path = it")
        run_steps(pg, CLEANUP)
        theirs = run_steps(pg, SCRIPT)
    ours_conn = connect(autocommit=True)
    ours_conn.execute(f"SET search_path = {schema}")
    run_steps(ours_conn, CLEANUP)
    try:
        ours = run_steps(ours_conn, SCRIPT)
    finally:
        run_steps(ours_conn, CLEANUP)
    diffs = [(sql, o, t) for sql, o, t in zip(SCRIPT, ours, theirs) if o != t]
    assert not diffs, "\n".join(f"{sql}\n  ours:   {o}\n  theirs: {t}" for sql, o, t in diffs)
    assert sum(1 for o in ours if o[0] == "error") >= 15     # the script exercises the errors too


DSQL_ONLY = [
    ("CREATE SEQUENCE ddl_x", "0A000"),
    ("CREATE SEQUENCE ddl_x CACHE 100", "0A000"),
    ("CREATE SEQUENCE ddl_x AS integer CACHE 1", "0A000"),
    ("CREATE TABLE ddl_x (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)", "0A000"),
    ("CREATE TABLE ddl_x (id serial PRIMARY KEY)", "0A000"),
    ("CREATE TABLE ddl_x (id bigserial PRIMARY KEY)", "0A000"),
    ("ALTER TABLE ddl_x0 ADD COLUMN d int DEFAULT 1", "0A000"),
    ("CREATE VIEW ddl_v AS SELECT 1", "0A000"),
    ("CREATE MATERIALIZED VIEW ddl_v AS SELECT 1", "0A000"),
    ("CREATE TEMPORARY TABLE ddl_t (a int)", "0A000"),
    ("CREATE TRIGGER tr AFTER INSERT ON ddl_x0 FOR EACH ROW EXECUTE FUNCTION f()", "0A000"),
    ("CREATE TYPE ddl_ty AS (a int)", "0A000"),
    ("CREATE TABLESPACE ddl_ts LOCATION '/tmp'", "0A000"),
    ("CREATE FUNCTION ddl_f() RETURNS int LANGUAGE plpgsql AS 'begin return 1; end'", "0A000"),
    ("CREATE EXTENSION vector", "0A000"),
    ("CREATE TABLE ddl_t (a int REFERENCES ddl_x0 (k))", "0A000"),
    ("ALTER SYSTEM SET work_mem = '1MB'", "0A000"),
    ("TRUNCATE ddl_x0", "0A000"),
    ("VACUUM ddl_x0", "0A000"),
    ("CREATE DATABASE ddl_db", "0A000"),
    ("CREATE TABLE ddl_t (a text COLLATE \"C\")", "0A000"),
    ("CREATE TABLE ddl_t AS SELECT 1", "0A000"),
    ("CREATE TABLE ddl_t (a int) INHERITS (ddl_x0)", "0A000"),
    ("CREATE TABLE ddl_t (a int) PARTITION BY RANGE (a)", "0A000"),
    ("CREATE INDEX ddl_ix ON ddl_x0 (k DESC)", "0A000"),
    ("INSERT INTO ddl_x0 VALUES (1)", ("ok", "INSERT 0 1")),
    ("CREATE INDEX ddl_ix ON ddl_x0 (k)", "0A000"),       # use CREATE INDEX ASYNC instead
]


def test_dsql_rules_and_unsupported(connect, schema):
    """DSQL's CACHE rules, no serial, no ADD COLUMN default, and every unsupported statement: 0A000."""
    conn = connect(autocommit=True)
    conn.execute(f"SET search_path = {schema}")
    conn.execute("CREATE TABLE IF NOT EXISTS ddl_x0 (k int PRIMARY KEY)")
    try:
        got = [(sql, o[1] if o[0] == "error" else o) for sql, o in zip([s for s, _ in DSQL_ONLY],
                                                                       run_steps(conn, [s for s, _ in DSQL_ONLY]))]
        assert got == [(sql, code) for sql, code in DSQL_ONLY]
    finally:
        conn.execute("DROP TABLE IF EXISTS ddl_x0")


def test_identity_values_unique_across_sessions(dsql_cluster, schema):
    """Identity values with CACHE 65536 stay unique across sessions (which may land on any compute)."""
    conns = [psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), autocommit=True)
             for _ in range(3)]
    try:
        conns[0].execute(f"CREATE TABLE {schema}.ddl_ids (id bigint GENERATED BY DEFAULT AS IDENTITY "
                         "(CACHE 65536) PRIMARY KEY, who int)")
        for i, c in enumerate(conns):
            for _ in range(5):
                for attempt in range(20):    # another compute may not have seen the table yet
                    try:
                        c.execute(f"INSERT INTO {schema}.ddl_ids (who) VALUES ({i})")
                        break
                    except psycopg.errors.UndefinedTable:
                        if attempt == 19:
                            raise
                        time.sleep(0.05)
        ids = [r[0] for r in conns[0].execute(f"SELECT id FROM {schema}.ddl_ids").fetchall()]
        assert len(ids) == 15 == len(set(ids))
    finally:
        conns[0].execute(f"DROP TABLE IF EXISTS {schema}.ddl_ids")
        for c in conns:
            c.close()


def test_psql_shows_check_error(psql, schema):
    """psql prints PostgreSQL's CHECK violation with its DETAIL line."""
    out = psql("-c", f"SET search_path = {schema}",
               "-c", "CREATE TABLE IF NOT EXISTS ddl_p (a int CHECK (a > 0))",
               "-c", "INSERT INTO ddl_p VALUES (-1)", check=False)
    psql("-c", f"DROP TABLE IF EXISTS {schema}.ddl_p")
    assert 'violates check constraint "ddl_p_a_check"' in out.stderr
    assert "DETAIL:  Failing row contains (-1)." in out.stderr
