"""The Hermitage anomaly tests (github.com/ept/hermitage), interleaved deterministically through
psycopg against the real cluster, asserting Aurora DSQL's outcomes: snapshot isolation with
optimistic concurrency control. Where PostgreSQL's repeatable read would block a writer on a row
lock, DSQL lets both run and the later committer gets 40001 (OC000) at COMMIT. Everything is
prevented except the write-skew family (G2-item, G2), which SI allows unless FOR UPDATE is used.

Each test has its own table `it.herm_<name>` with rows (1, 10) and (2, 20).
"""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
def herm(connect, schema, request):
    """(table name, factory of transactions) for one test."""
    name = f"{schema}.herm_{request.node.name.removeprefix('test_')}"
    setup = connect(autocommit=True)
    setup.execute(f"DROP TABLE IF EXISTS {name}")
    setup.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, value int)")
    setup.execute(f"INSERT INTO {name} VALUES (1, 10), (2, 20)")

    def txn():
        return connect()              # not autocommit: the first statement opens a transaction
    yield name, txn, setup


def q(conn, sql, *params):
    cur = conn.execute(sql, params or None)
    return cur.fetchall() if cur.description else cur.rowcount


def conflict(conn):
    """COMMIT must fail with 40001 OC000; the connection is usable again afterwards."""
    with pytest.raises(psycopg.errors.SerializationFailure) as ei:
        conn.commit()
    assert ei.value.sqlstate == "40001"
    assert "mutation conflicts with another transaction, retry as needed" in str(ei.value)
    assert "OC000" in str(ei.value)


def final(setup, t):
    return q(setup, f"SELECT id, value FROM {t} ORDER BY id")


def test_g0_write_cycles(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 12 WHERE id = 1")      # PostgreSQL blocks here; DSQL does not
    q(t1, f"UPDATE {t} SET value = 21 WHERE id = 2")
    t1.commit()
    assert q(t1, f"SELECT id, value FROM {t} ORDER BY id") == [(1, 11), (2, 21)]
    t1.commit()
    q(t2, f"UPDATE {t} SET value = 22 WHERE id = 2")
    conflict(t2)
    assert final(setup, t) == [(1, 11), (2, 21)]


def test_g1a_aborted_reads(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    q(t1, f"UPDATE {t} SET value = 101 WHERE id = 1")
    assert q(t2, f"SELECT id, value FROM {t} ORDER BY id") == [(1, 10), (2, 20)]
    t1.rollback()
    assert q(t2, f"SELECT id, value FROM {t} ORDER BY id") == [(1, 10), (2, 20)]
    t2.commit()
    assert final(setup, t) == [(1, 10), (2, 20)]


def test_g1b_intermediate_reads(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    q(t1, f"UPDATE {t} SET value = 101 WHERE id = 1")
    assert q(t2, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    t1.commit()
    assert q(t2, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]      # neither 101 nor 11
    t2.commit()
    assert final(setup, t) == [(1, 11), (2, 20)]


def test_g1c_circular_information_flow(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 22 WHERE id = 2")
    assert q(t1, f"SELECT value FROM {t} WHERE id = 2") == [(20,)]
    assert q(t2, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    t1.commit()
    t2.commit()
    assert final(setup, t) == [(1, 11), (2, 22)]


def test_otv_observed_transaction_vanishes(herm):
    t, txn, setup = herm
    t1, t2, t3 = txn(), txn(), txn()
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    q(t1, f"UPDATE {t} SET value = 19 WHERE id = 2")
    q(t2, f"UPDATE {t} SET value = 12 WHERE id = 1")
    t1.commit()
    assert q(t3, f"SELECT value FROM {t} WHERE id = 1") == [(11,)]
    q(t2, f"UPDATE {t} SET value = 18 WHERE id = 2")
    assert q(t3, f"SELECT value FROM {t} WHERE id = 2") == [(19,)]
    conflict(t2)
    assert q(t3, f"SELECT value FROM {t} WHERE id = 2") == [(19,)]
    assert q(t3, f"SELECT value FROM {t} WHERE id = 1") == [(11,)]
    t3.commit()
    assert final(setup, t) == [(1, 11), (2, 19)]


def test_pmp_predicate_many_preceders(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT id FROM {t} WHERE value = 30") == []
    q(t2, f"INSERT INTO {t} VALUES (3, 30)")
    t2.commit()
    assert q(t1, f"SELECT id FROM {t} WHERE value % 3 = 0") == []
    t1.commit()
    assert final(setup, t) == [(1, 10), (2, 20), (3, 30)]


def test_pmp_write_predicates(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    q(t1, f"UPDATE {t} SET value = value + 10")
    assert q(t2, f"SELECT value FROM {t} WHERE value = 20") == [(20,)]
    assert q(t2, f"DELETE FROM {t} WHERE value = 20") == 1   # PostgreSQL blocks, then fails
    t1.commit()
    conflict(t2)
    assert final(setup, t) == [(1, 20), (2, 30)]


def test_p4_lost_update(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    assert q(t2, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 11 WHERE id = 1")
    t1.commit()
    conflict(t2)
    assert final(setup, t) == [(1, 11), (2, 20)]


def test_p4_lost_update_read_modify_write(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    q(t1, f"UPDATE {t} SET value = value + 1 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = value + 1 WHERE id = 1")
    t2.commit()
    conflict(t1)
    assert final(setup, t) == [(1, 11), (2, 20)]


def test_g_single_read_skew(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    assert q(t2, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    assert q(t2, f"SELECT value FROM {t} WHERE id = 2") == [(20,)]
    q(t2, f"UPDATE {t} SET value = 12 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 18 WHERE id = 2")
    t2.commit()
    assert q(t1, f"SELECT value FROM {t} WHERE id = 2") == [(20,)]      # not 18: no read skew
    t1.commit()


def test_g_single_predicate_dependencies(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT id FROM {t} WHERE value % 5 = 0 ORDER BY id") == [(1,), (2,)]
    q(t2, f"UPDATE {t} SET value = 12 WHERE value = 10")
    t2.commit()
    assert q(t1, f"SELECT id FROM {t} WHERE value % 3 = 0") == []
    t1.commit()


def test_g_single_write_predicate(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT value FROM {t} WHERE id = 1") == [(10,)]
    q(t2, f"UPDATE {t} SET value = 12 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 18 WHERE id = 2")
    t2.commit()
    assert q(t1, f"DELETE FROM {t} WHERE value = 20") == 1     # the snapshot still has (2, 20)
    conflict(t1)
    assert final(setup, t) == [(1, 12), (2, 18)]


def test_g2_item_write_skew_is_allowed(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT id, value FROM {t} WHERE id IN (1, 2) ORDER BY id") == [(1, 10), (2, 20)]
    assert q(t2, f"SELECT id, value FROM {t} WHERE id IN (1, 2) ORDER BY id") == [(1, 10), (2, 20)]
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 21 WHERE id = 2")
    t1.commit()
    t2.commit()                                              # allowed under snapshot isolation
    assert final(setup, t) == [(1, 11), (2, 21)]


def test_g2_item_write_skew_prevented_by_for_update(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT id, value FROM {t} WHERE id IN (1, 2) ORDER BY id FOR UPDATE") == [(1, 10), (2, 20)]
    assert q(t2, f"SELECT id, value FROM {t} WHERE id IN (1, 2) ORDER BY id FOR UPDATE") == [(1, 10), (2, 20)]
    q(t1, f"UPDATE {t} SET value = 11 WHERE id = 1")
    q(t2, f"UPDATE {t} SET value = 21 WHERE id = 2")
    t1.commit()
    conflict(t2)                                             # row 1 was read FOR UPDATE by t2
    assert final(setup, t) == [(1, 11), (2, 20)]


def test_for_update_conflicts_with_a_later_writer_of_the_row(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT value FROM {t} WHERE id = 1 FOR UPDATE") == [(10,)]
    q(t2, f"UPDATE {t} SET value = 12 WHERE id = 1")
    t2.commit()
    q(t1, f"UPDATE {t} SET value = 0 WHERE id = 2")
    conflict(t1)
    assert final(setup, t) == [(1, 12), (2, 20)]


def test_g2_anti_dependency_cycles_are_allowed(herm):
    t, txn, setup = herm
    t1, t2 = txn(), txn()
    assert q(t1, f"SELECT id FROM {t} WHERE value % 3 = 0") == []
    assert q(t2, f"SELECT id FROM {t} WHERE value % 3 = 0") == []
    q(t1, f"INSERT INTO {t} VALUES (3, 30)")
    q(t2, f"INSERT INTO {t} VALUES (4, 42)")
    t1.commit()
    t2.commit()                                              # predicate write skew: allowed
    assert final(setup, t) == [(1, 10), (2, 20), (3, 30), (4, 42)]


def test_g2_two_edges(herm):
    t, txn, setup = herm
    t1, t2, t3 = txn(), txn(), txn()
    assert q(t1, f"SELECT id, value FROM {t} ORDER BY id") == [(1, 10), (2, 20)]
    q(t2, f"UPDATE {t} SET value = value + 5 WHERE id = 2")
    t2.commit()
    assert q(t3, f"SELECT id, value FROM {t} ORDER BY id") == [(1, 10), (2, 25)]
    t3.commit()
    q(t1, f"UPDATE {t} SET value = 0 WHERE id = 1")
    t1.commit()                                              # allowed under snapshot isolation
    assert final(setup, t) == [(1, 0), (2, 25)]


def test_unique_index_race_between_inserts(connect, schema):
    setup = connect(autocommit=True)
    t = f"{schema}.herm_unique_race"
    setup.execute(f"DROP TABLE IF EXISTS {t}")
    setup.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, email text UNIQUE)")
    t1, t2 = connect(), connect()
    q(t1, f"INSERT INTO {t} VALUES (1, 'a@x')")
    q(t2, f"INSERT INTO {t} VALUES (2, 'a@x')")          # neither sees the other: no 23505 yet
    t1.commit()
    conflict(t2)
    assert q(setup, f"SELECT id, email FROM {t}") == [(1, "a@x")]
    # the loser's retry now sees the winner and gets the unique violation
    with pytest.raises(psycopg.errors.UniqueViolation):
        t2.execute(f"INSERT INTO {t} VALUES (2, 'a@x')")
    t2.rollback()


def test_for_update_in_read_only_transaction(connect, schema, herm):
    t, txn, setup = herm
    conn = connect()
    conn.read_only = True
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as ei:
        conn.execute(f"SELECT * FROM {t} WHERE id = 1 FOR UPDATE")
    assert ei.value.diag.message_primary == "SELECT FOR UPDATE in a read-only transaction is a no-op"
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        conn.execute("SELECT 1")
    conn.rollback()
    assert conn.execute(f"SELECT value FROM {t} WHERE id = 1").fetchall() == [(10,)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute(f"UPDATE {t} SET value = 0")
    conn.rollback()
