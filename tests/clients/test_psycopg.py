"""psycopg 3 and psycopg2: the guide's samples (boto3 tokens, autocommit), explicit transactions,
binary results, COPY, and aurora-dsql-python-connector 0.2.7 for both."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

OWNER = """CREATE TABLE IF NOT EXISTS {t}(
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name varchar(30) NOT NULL,
    city varchar(80) NOT NULL,
    telephone varchar(20) DEFAULT NULL,
    PRIMARY KEY (id))"""


def guide_sample(conn, table: str) -> None:
    """The guide's psycopg/psycopg2 sample, on a table of the test's own."""
    cur = conn.cursor()
    cur.execute(OWNER.format(t=table).encode())
    cur.execute(f"INSERT INTO {table}(name, city, telephone) VALUES('John Doe', 'Anytown', '555-555-1999')")
    cur.execute(f"SELECT * FROM {table} WHERE name='John Doe'")
    row = cur.fetchone()
    assert row[0] is not None
    assert row[1] == "John Doe"
    assert row[2] == "Anytown"
    assert row[3] == "555-555-1999"
    cur.execute(f"DELETE FROM {table} where name = 'John Doe'")
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone()[0] == 0


def conninfo(ep, token: str) -> str:
    return (f"dbname=postgres user=admin host={ep.host} port={ep.port} sslmode=verify-full "
            f"sslrootcert={ep.ca} password={token}")


def test_psycopg2_guide_sample_and_transactions(endpoint):
    """Proves: psycopg2 runs the guide's sample in autocommit; a transaction commits or rolls back
    whole; a write-write conflict is 40001 (SerializationFailure)."""
    import psycopg2
    conn = psycopg2.connect(conninfo(endpoint, endpoint.token()))
    conn.set_session(autocommit=True)
    guide_sample(conn, "owner_psycopg2")
    conn.set_session(autocommit=False)
    cur = conn.cursor()
    cur.execute("INSERT INTO owner_psycopg2(name, city) VALUES (%s, %s)", ("Rolled", "Back"))
    conn.rollback()
    cur.execute("INSERT INTO owner_psycopg2(id, name, city) VALUES (%s, %s, %s)",
                ("11111111-1111-1111-1111-111111111111", "Kept", "Town"))
    conn.commit()
    cur.execute("SELECT name FROM owner_psycopg2 ORDER BY name")
    assert cur.fetchall() == [("Kept",)]
    conn.commit()
    other = psycopg2.connect(conninfo(endpoint, endpoint.token()))
    ocur = other.cursor()
    cur.execute("UPDATE owner_psycopg2 SET city = 'Mine' WHERE name = 'Kept'")
    ocur.execute("UPDATE owner_psycopg2 SET city = 'Theirs' WHERE name = 'Kept'")
    other.commit()
    with pytest.raises(psycopg2.errors.SerializationFailure):
        conn.commit()
    cur.execute("DELETE FROM owner_psycopg2")
    conn.commit()
    other.close()
    conn.close()


def test_psycopg3_guide_sample_autocommit_and_transactions(endpoint):
    """Proves: psycopg 3 runs the guide's sample in autocommit; `with conn.transaction()` commits and
    rolls back; binary cursors read the guide's types; executemany runs as a pipeline."""
    import psycopg
    conn = psycopg.connect(conninfo(endpoint, endpoint.token()))
    conn.set_autocommit(True)
    guide_sample(conn, "owner_psycopg")
    with pytest.raises(ZeroDivisionError):
        with conn.transaction():
            conn.execute("INSERT INTO owner_psycopg(name, city) VALUES ('Gone', 'X')")
            raise ZeroDivisionError
    with conn.transaction():
        conn.cursor().executemany("INSERT INTO owner_psycopg(name, city, telephone) VALUES (%s, %s, %s)",
                                  [(f"n{i}", "c", None) for i in range(20)])
    assert conn.execute("SELECT count(*), count(telephone) FROM owner_psycopg").fetchone() == (20, 0)
    values = (7, 2**40, Decimal("12.50"), 1.25, "héllo", True, dt.date(2024, 2, 29),
              dt.datetime(2024, 2, 29, 12, 30, 1, 5), dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
              uuid.UUID("12345678-1234-5678-1234-567812345678"), b"\x00\xff", dt.timedelta(days=1, seconds=3))
    sql = ("SELECT %s::int4, %s::int8, %s::numeric, %s::float8, %s::text, %s::bool, %s::date, %s::timestamp, "
           "%s::timestamptz, %s::uuid, %s::bytea, %s::interval")
    for binary in (False, True):
        got = conn.cursor(binary=binary).execute(sql, values).fetchone()
        assert got[:2] == values[:2] and got[2] == values[2] and got[3:] == values[3:]
    conn.execute("DELETE FROM owner_psycopg")
    conn.close()


def test_psycopg3_copy_both_ways(endpoint):
    """Proves: psycopg's COPY FROM STDIN (rows it formats itself) and COPY TO STDOUT round-trip."""
    import psycopg
    with psycopg.connect(conninfo(endpoint, endpoint.token()), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS copy_psycopg(a int PRIMARY KEY, b text, c timestamp)")
        rows = [(i, f"tab\there {i}" if i % 2 else None, dt.datetime(2020, 1, 1) + dt.timedelta(hours=i))
                for i in range(500)]
        with conn.cursor().copy("COPY copy_psycopg (a, b, c) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        with conn.cursor() as cur:
            with cur.copy("COPY (SELECT a, b, c FROM copy_psycopg ORDER BY a) TO STDOUT") as cp:
                cp.set_types(["int4", "text", "timestamp"])
                assert list(cp.rows()) == rows
        conn.execute("DROP TABLE copy_psycopg")


def test_connector_psycopg_and_psycopg2(aws_credentials):
    """Proves: aurora-dsql-python-connector makes its own boto3 token for psycopg and psycopg2, for the
    cluster's endpoint name (reached through hostaddr, as there is no DNS for it here)."""
    import aurora_dsql_psycopg
    import aurora_dsql_psycopg2
    ep = aws_credentials
    kwargs = dict(host=ep.cluster_host, hostaddr="127.0.0.1", port=ep.port, region=ep.region, user="admin", sslmode="verify-full",
                  sslrootcert=ep.ca)
    with aurora_dsql_psycopg.connect(autocommit=True, **kwargs) as conn:
        guide_sample(conn, "owner_connector")
        assert conn.execute("SHOW application_name").fetchone()[0].startswith("aurora-dsql-python-psycopg/")
    conn2 = aurora_dsql_psycopg2.connect(**kwargs)
    conn2.set_session(autocommit=True)
    guide_sample(conn2, "owner_connector")
    conn2.close()


def test_cancel_request_reaches_the_running_query(endpoint):
    """Proves: a CancelRequest (psycopg's conn.cancel(), a new connection to the relay carrying the
    BackendKeyData) is forwarded to the compute running the session's query, which ends with 57014;
    the session stays usable, and a cancel when nothing runs changes nothing."""
    import threading

    import psycopg
    from psycopg import errors as E
    conn = psycopg.connect(conninfo(endpoint, endpoint.token()), autocommit=True)
    conn.cancel()  # idle: ignored, as in PostgreSQL
    assert conn.execute("SELECT 1").fetchone() == (1,)
    timer = threading.Timer(1.0, conn.cancel)
    timer.start()
    with pytest.raises(E.QueryCanceled, match="canceling statement due to user request"):
        conn.execute("SELECT pg_sleep(60)")
    timer.join()
    assert conn.execute("SELECT 2").fetchone() == (2,)
    conn.close()
