"""Each database limit of the guide ("Database limits in Aurora DSQL"), hit through psycopg on the
real cluster at its default value: the guide's SQLSTATE and message, and nothing of the failing
transaction written. (The 5-minute transaction age is tested with an injected clock in
tests/unit/compute/test_sql_session.py::test_cancel_and_transaction_age.)"""

from __future__ import annotations

import os
import time

import psycopg
import pytest

MIB = 1024 * 1024


@pytest.fixture
def conn(connect):
    return connect(autocommit=True)


def table(conn, schema, name, cols):
    t = f"{schema}.lim_{name}"
    conn.execute(f"DROP TABLE IF EXISTS {t}")
    conn.execute(f"CREATE TABLE {t} ({cols})")
    return t


def fails(conn, sql, sqlstate, message, params=None):
    with pytest.raises(psycopg.Error) as ei:
        conn.execute(sql, params)
    assert (ei.value.sqlstate, ei.value.diag.message_primary) == (sqlstate, message)
    return ei.value


def count(conn, t) -> int:
    return conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]


def test_transaction_row_limit_10000(conn, schema):
    t = table(conn, schema, "rows", "id int PRIMARY KEY")
    values = ", ".join(f"({i})" for i in range(10_001))
    fails(conn, f"INSERT INTO {t} VALUES {values}", "54000", "transaction row limit exceeded")
    assert count(conn, t) == 0
    conn.execute(f"INSERT INTO {t} VALUES " + ", ".join(f"({i})" for i in range(10_000)))   # exactly at the limit
    assert count(conn, t) == 10_000


def test_transaction_row_limit_counts_index_rows_and_spans_statements(connect, conn, schema):
    t = table(conn, schema, "rows_ix", "id int PRIMARY KEY, v int")
    conn.execute(f"CREATE INDEX lim_rows_ix_v ON {t} (v)")
    # 5,001 rows with one secondary index = 10,002 mutated rows
    values = ", ".join(f"({i}, {i})" for i in range(5_001))
    fails(conn, f"INSERT INTO {t} VALUES {values}", "54000", "transaction row limit exceeded")
    assert count(conn, t) == 0
    block = connect()
    block.execute(f"INSERT INTO {t} VALUES " + ", ".join(f"({i}, {i})" for i in range(4_000)))
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        block.execute(f"INSERT INTO {t} VALUES " + ", ".join(f"({i}, {i})" for i in range(4_000, 5_001)))
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        block.execute("SELECT 1")
    block.rollback()
    assert count(conn, t) == 0


def test_transaction_size_limit_10mib(connect, conn, schema):
    t = table(conn, schema, "size", "id int PRIMARY KEY, v text")
    rows = ", ".join(f"({i}, repeat('x', 1000000))" for i in range(11))
    e = fails(conn, f"INSERT INTO {t} VALUES {rows}", "54000", "transaction size limit 10mb exceeded")
    assert e.diag.message_detail.startswith("Current transaction size ") and \
        e.diag.message_detail.endswith(" 10mb")
    assert count(conn, t) == 0
    # across statements of one block
    block = connect()
    for i in range(10):
        block.execute(f"INSERT INTO {t} VALUES ({i}, repeat('x', 1000000))")
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        block.execute(f"INSERT INTO {t} VALUES (10, repeat('x', 1000000))")
    block.rollback()
    assert count(conn, t) == 0


def test_row_size_limit_2mib(conn, schema):
    t = table(conn, schema, "rowsize", "id int PRIMARY KEY, a text, b text, c text")
    fails(conn, f"INSERT INTO {t} VALUES (1, repeat('a', 900000), repeat('b', 900000), repeat('c', 400000))",
          "54000", "maximum row size exceeded")
    conn.execute(f"INSERT INTO {t} VALUES (2, repeat('a', 900000), repeat('b', 900000), 'c')")
    fails(conn, f"UPDATE {t} SET c = repeat('c', 400000) WHERE id = 2", "54000", "maximum row size exceeded")
    assert conn.execute(f"SELECT id, length(c) FROM {t}").fetchall() == [(2, 1)]


def test_column_size_limit_1mib(conn, schema):
    t = table(conn, schema, "colsize", "id int PRIMARY KEY, v text, b bytea")
    fails(conn, f"INSERT INTO {t} VALUES (1, repeat('x', {MIB + 1}), NULL)", "54000", "maximum column size exceeded")
    fails(conn, f"INSERT INTO {t} VALUES (1, NULL, %s)", "54000", "maximum column size exceeded",
          (b"\x00" * (MIB + 1),))
    assert count(conn, t) == 0
    conn.execute(f"INSERT INTO {t} VALUES (1, repeat('x', {MIB}), NULL)")
    assert count(conn, t) == 1


def test_key_column_size_limit_255_bytes(conn, schema):
    t = table(conn, schema, "keycol", "k text PRIMARY KEY, v text")
    fails(conn, f"INSERT INTO {t} VALUES (repeat('k', 256), 'v')", "54000", "maximum key column size exceeded")
    conn.execute(f"INSERT INTO {t} VALUES (repeat('k', 255), 'v')")
    t2 = table(conn, schema, "keycol_ix", "id int PRIMARY KEY, v text")
    conn.execute(f"CREATE INDEX lim_keycol_ix_v ON {t2} (v)")
    fails(conn, f"INSERT INTO {t2} VALUES (1, repeat('é', 128))",        # 256 bytes in UTF-8
          "54000", "maximum key column size exceeded")
    assert count(conn, t) == 1 and count(conn, t2) == 0


def test_combined_key_size_limit_1kib(conn, schema):
    t = table(conn, schema, "keysize", "a text, b text, c text, d text, e text, PRIMARY KEY (a, b, c, d, e)")
    fails(conn, f"INSERT INTO {t} VALUES (repeat('a', 250), repeat('b', 250), repeat('c', 250), "
                "repeat('d', 250), repeat('e', 250))", "54000", "key size too large")
    assert count(conn, t) == 0
    t2 = table(conn, schema, "keysize_ix", "id int PRIMARY KEY, a text, b text, c text, d text, e text")
    conn.execute(f"CREATE INDEX lim_keysize_ix_abcde ON {t2} (a, b, c, d, e)")
    fails(conn, f"INSERT INTO {t2} VALUES (1, repeat('a', 250), repeat('b', 250), repeat('c', 250), "
                "repeat('d', 250), repeat('e', 250))", "54000", "key size too large")
    assert count(conn, t2) == 0


def test_eight_key_columns_per_index(conn, schema):
    cols = ", ".join(f"c{i} int" for i in range(9))
    conn.execute(f"DROP TABLE IF EXISTS {schema}.lim_keycols")
    fails(conn, f"CREATE TABLE {schema}.lim_keycols ({cols}, PRIMARY KEY (c0, c1, c2, c3, c4, c5, c6, c7, c8))",
          "54011", "more than 8 column keys in an index are not supported")
    t = table(conn, schema, "keycols", cols + ", PRIMARY KEY (c0, c1, c2, c3, c4, c5, c6, c7)")
    fails(conn, f"CREATE INDEX lim_keycols_ix ON {t} (c0, c1, c2, c3, c4, c5, c6, c7, c8)",
          "54011", "more than 8 column keys in an index are not supported")
    conn.execute(f"CREATE INDEX lim_keycols_ix8 ON {t} (c0, c1, c2, c3, c4, c5, c6, c7)")


def test_255_columns_per_table(conn, schema):
    conn.execute(f"DROP TABLE IF EXISTS {schema}.lim_cols")
    fails(conn, f"CREATE TABLE {schema}.lim_cols (id int PRIMARY KEY, "
                + ", ".join(f"c{i} int" for i in range(255)) + ")",
          "54011", "tables can have at most 255 columns")
    assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                        "AND table_name = 'lim_cols'", (schema,)).fetchone() == (0,)
    t = table(conn, schema, "cols", "id int PRIMARY KEY, " + ", ".join(f"c{i} int" for i in range(254)))
    fails(conn, f"ALTER TABLE {t} ADD COLUMN extra int", "54011", "tables can have at most 255 columns")


def test_24_indexes_per_table(conn, schema):
    t = table(conn, schema, "indexes", "id int PRIMARY KEY, " + ", ".join(f"c{i} int" for i in range(25)))
    for i in range(24):
        conn.execute(f"CREATE INDEX lim_indexes_{i} ON {t} (c{i})")
    fails(conn, f"CREATE INDEX lim_indexes_24 ON {t} (c24)", "54000",
          "more than 24 indexes per table are not allowed")


def test_10_schemas(conn, schema):
    made = []
    try:
        with pytest.raises(psycopg.Error) as ei:
            for i in range(11):
                conn.execute(f"CREATE SCHEMA lim_schema_{i}")
                made.append(f"lim_schema_{i}")
        assert (ei.value.sqlstate, ei.value.diag.message_primary) == ("54000", "more than 10 schemas not allowed")
        n = conn.execute("SELECT count(*) FROM information_schema.schemata "
                         "WHERE schema_name NOT IN ('pg_catalog', 'information_schema', 'sys')").fetchone()[0]
        assert n == 10, f"the limit hit at {n} schemas"
    finally:
        for s in made:
            conn.execute(f"DROP SCHEMA {s}")


@pytest.mark.timeout(900)
@pytest.mark.skipif(not os.environ.get("DSQL_SLOW_TESTS"),
                    reason="creates and drops 1,000 tables (about 215 s on 2 cores); set DSQL_SLOW_TESTS=1")
def test_1000_tables(conn, schema):
    made = []
    t0 = time.monotonic()
    try:
        with pytest.raises(psycopg.Error) as ei:
            for i in range(1001):
                conn.execute(f"CREATE TABLE {schema}.lim_tables_{i} (id int PRIMARY KEY)")
                made.append(f"{schema}.lim_tables_{i}")
        assert (ei.value.sqlstate, ei.value.diag.message_primary) == (
            "54000", "creating more than 1000 tables not allowed")
        n = conn.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'sys')").fetchone()[0]
        assert n == 1000, f"the limit hit at {n} tables"
    finally:
        for t in made:
            conn.execute(f"DROP TABLE {t}")
    print(f"created and dropped {len(made)} tables in {time.monotonic() - t0:.1f} s")
