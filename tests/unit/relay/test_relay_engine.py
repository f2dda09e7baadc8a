"""psycopg -> relay -> compute server -> protocol -> the real SQL engine (in-memory catalog store and KV).

Unit-level: no etcd, storage or journal; it checks that the protocol layer and the engine agree.
"""

from __future__ import annotations

import datetime
import decimal
import uuid

import psycopg
import pytest

from tests.unit.relay.test_relay import Cluster

engine = pytest.importorskip("services.compute.sql")


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    from services.common.config import Limits
    from services.compute import server as compute_server
    from services.compute.catalog import Catalog, MemoryStore
    from services.compute.sql import SqlSession
    from tests.unit.compute.memkv import MemKV

    catalog = Catalog(store=MemoryStore())
    catalog.bootstrap()
    kv = MemKV()

    def factory(start):
        return SqlSession(catalog=catalog, kv=kv, user=start.user, database=start.database, limits=Limits())

    real_init = compute_server.ComputeService.__init__

    def init(self, az, session_factory, executor=None, codec=None):
        real_init(self, az, factory, executor)            # the real TypesCodec

    monkeypatch.setattr(compute_server.ComputeService, "__init__", init)
    c = Cluster(tmp_path)
    yield c
    c.close()


def test_engine_through_the_relay(cluster):
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), "
                     "ts timestamptz, u uuid, ok boolean)")
        ts = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        u = uuid.uuid4()
        conn.execute("INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s)",
                     [1, "apple", decimal.Decimal("1.50"), ts, u, True])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO items (id, name) VALUES (%s, %s)", [(2, "pear"), (3, "fig")])
        row = conn.execute("SELECT id, name, price, ts, u, ok FROM items WHERE id = %s", [1]).fetchone()
        assert row == (1, "apple", decimal.Decimal("1.50"), ts, u, True)
        for _ in range(6):                                       # crosses psycopg's prepare threshold
            assert conn.execute("SELECT name FROM items WHERE id = %s", [2]).fetchone() == ("pear",)
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (3,)
        # binary results
        with conn.cursor(binary=True) as cur:
            assert cur.execute("SELECT id, name FROM items WHERE id = 3").fetchone() == (3, "fig")
        # COPY both ways
        with conn.cursor() as cur:
            with cur.copy("COPY items (id, name) FROM STDIN") as cp:
                cp.write_row((4, "kiwi"))
                cp.write_row((5, "lime"))
            assert cur.rowcount == 2
            with cur.copy("COPY items (id, name) TO STDOUT") as cp:
                rows = list(cp.rows())
            assert ("5", "lime") in rows and len(rows) == 5


def test_startup_options_reach_the_session(cluster):
    with psycopg.connect(cluster.dsn(application_name="myapp"), autocommit=True) as conn:
        assert conn.info.parameter_status("application_name") == "myapp"
        assert conn.execute("SHOW application_name").fetchone() == ("myapp",)
        conn.execute("SET application_name = 'other'")
        assert conn.info.parameter_status("application_name") == "other"


def test_transactions_and_errors(cluster):
    with psycopg.connect(cluster.dsn()) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.commit()
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO t VALUES (1)")
        conn.rollback()                                           # psycopg then sends DEALLOCATE ALL
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM missing")
        conn.rollback()
        conn.execute("INSERT INTO t VALUES (2)")
        conn.commit()
        assert conn.execute("SELECT id FROM t").fetchall() == [(2,)]
