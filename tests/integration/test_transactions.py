"""Snapshot reads and first-committer-wins through the whole stack, with psycopg 3 and psycopg2."""

from __future__ import annotations

import psycopg
import pytest

from services.launcher.cli import dsn, make_token


def test_snapshot_reads_do_not_see_later_commits(connect, schema):
    setup = connect(autocommit=True)
    setup.execute(f"CREATE TABLE {schema}.acct (id int PRIMARY KEY, balance int)")
    setup.execute(f"INSERT INTO {schema}.acct VALUES (1, 100), (2, 200)")

    reader = connect()
    assert reader.execute(f"SELECT sum(balance) FROM {schema}.acct").fetchone() == (300,)
    setup.execute(f"UPDATE {schema}.acct SET balance = balance + 50 WHERE id = 1")
    setup.execute(f"INSERT INTO {schema}.acct VALUES (3, 1)")
    # Same transaction, same snapshot: neither the update nor the insert is visible.
    assert reader.execute(f"SELECT sum(balance), count(*) FROM {schema}.acct").fetchone() == (300, 2)
    reader.commit()
    # A new transaction starts after those commits returned, so it sees them.
    assert reader.execute(f"SELECT sum(balance), count(*) FROM {schema}.acct").fetchone() == (351, 3)
    reader.commit()


def test_read_your_own_writes_and_rollback(connect, schema):
    conn = connect()
    conn.execute(f"CREATE TABLE {schema}.kv (k text PRIMARY KEY, v text)")
    conn.commit()
    conn.execute(f"INSERT INTO {schema}.kv VALUES ('a', '1'), ('b', '2')")
    conn.execute(f"UPDATE {schema}.kv SET v = 'two' WHERE k = 'b'")
    conn.execute(f"DELETE FROM {schema}.kv WHERE k = 'a'")
    assert conn.execute(f"SELECT k, v FROM {schema}.kv ORDER BY k").fetchall() == [("b", "two")]
    conn.rollback()
    assert conn.execute(f"SELECT count(*) FROM {schema}.kv").fetchone() == (0,)
    conn.commit()


def test_conflicting_writers_second_commit_gets_40001(connect, schema):
    setup = connect(autocommit=True)
    setup.execute(f"CREATE TABLE {schema}.counter (id int PRIMARY KEY, n int)")
    setup.execute(f"INSERT INTO {schema}.counter VALUES (1, 0)")
    a, b = connect(), connect()
    a.execute(f"UPDATE {schema}.counter SET n = n + 1 WHERE id = 1")
    b.execute(f"UPDATE {schema}.counter SET n = n + 10 WHERE id = 1")
    a.commit()
    with pytest.raises(psycopg.errors.SerializationFailure) as err:
        b.commit()
    assert err.value.sqlstate == "40001"
    assert "OC000" in str(err.value)
    assert setup.execute(f"SELECT n FROM {schema}.counter").fetchone() == (1,)


def test_concurrent_inserts_of_one_key_one_wins(connect, schema):
    setup = connect(autocommit=True)
    setup.execute(f"CREATE TABLE {schema}.u (id int PRIMARY KEY, who text)")
    a, b = connect(), connect()
    a.execute(f"INSERT INTO {schema}.u VALUES (1, 'a')")
    b.execute(f"INSERT INTO {schema}.u VALUES (1, 'b')")
    a.commit()
    with pytest.raises(psycopg.errors.SerializationFailure):
        b.commit()
    assert setup.execute(f"SELECT who FROM {schema}.u").fetchall() == [("a",)]


def test_duplicate_key_in_one_session_is_23505(connect, schema):
    conn = connect(autocommit=True)
    conn.execute(f"CREATE TABLE {schema}.d (id int PRIMARY KEY)")
    conn.execute(f"INSERT INTO {schema}.d VALUES (1)")
    with pytest.raises(psycopg.errors.UniqueViolation) as err:
        conn.execute(f"INSERT INTO {schema}.d VALUES (1)")
    assert err.value.diag.message_detail == "Key (id)=(1) already exists."


def test_error_aborts_the_block_until_rollback(connect, schema):
    conn = connect()
    conn.execute(f"CREATE TABLE {schema}.e (id int PRIMARY KEY)")
    conn.commit()
    conn.execute(f"INSERT INTO {schema}.e VALUES (1)")
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute(f"SELECT * FROM {schema}.nope")
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        conn.execute("SELECT 1")
    conn.rollback()
    assert conn.execute(f"SELECT count(*) FROM {schema}.e").fetchone() == (0,)


def test_psycopg2_simple_and_parameterised_queries(dsql_cluster, schema):
    psycopg2 = pytest.importorskip("psycopg2")
    conn = psycopg2.connect(dsn(dsql_cluster), password=make_token(dsql_cluster))
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {schema}.p2 (id int PRIMARY KEY, name text, price numeric(8,2))")
        conn.commit()
        cur.executemany(f"INSERT INTO {schema}.p2 VALUES (%s, %s, %s)",
                        [(1, "apple", "1.25"), (2, "pear", "2.50"), (3, "o'range", None)])
        conn.commit()
        cur.execute(f"SELECT id, name, price FROM {schema}.p2 WHERE id >= %s ORDER BY id", (2,))
        rows = cur.fetchall()
        assert [(r[0], r[1], None if r[2] is None else str(r[2])) for r in rows] == \
            [(2, "pear", "2.50"), (3, "o'range", None)]
    finally:
        conn.close()


def test_psycopg3_extended_protocol_parameters_and_types(connect, schema):
    import datetime
    import decimal
    import uuid
    conn = connect(autocommit=True)
    conn.execute(f"CREATE TABLE {schema}.x (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
                 "n numeric(10,2), at timestamptz, d date, ok boolean, data bytea)")
    at = datetime.datetime(2024, 3, 4, 5, 6, 7, 890000, tzinfo=datetime.timezone.utc)
    row = conn.execute(f"INSERT INTO {schema}.x (n, at, d, ok, data) VALUES (%s, %s, %s, %s, %s) "
                       "RETURNING id, n, at, d, ok, data",
                       (decimal.Decimal("12.345"), at, datetime.date(2024, 2, 29), True, b"\x00\xff")).fetchone()
    assert isinstance(row[0], uuid.UUID)
    assert row[1:] == (decimal.Decimal("12.35"), at, datetime.date(2024, 2, 29), True, b"\x00\xff")
    same = conn.execute(f"SELECT n FROM {schema}.x WHERE id = %s", (row[0],)).fetchone()
    assert same == (decimal.Decimal("12.35"),)
    # Binary results, as some drivers ask for them.
    with conn.cursor(binary=True) as cur:
        assert cur.execute(f"SELECT id, n, ok FROM {schema}.x").fetchone() == (row[0], row[1], True)
