"""asyncpg (extended protocol, binary formats, portals with row limits, binary COPY) and pg8000, with
boto3 tokens, and aurora-dsql-python-connector 0.2.7 for asyncpg."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from decimal import Decimal


def ssl_context(ep) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ep.ca)
    return ctx


VALUES = (7, 2**40, Decimal("12.50"), 1.25, "héllo", True, dt.date(2024, 2, 29),
          dt.datetime(2024, 2, 29, 12, 30, 1, 5), dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
          uuid.UUID("12345678-1234-5678-1234-567812345678"), b"\x00\xff", dt.timedelta(days=1, seconds=3))


async def _asyncpg_sample(conn) -> None:
    await conn.execute("""CREATE TABLE IF NOT EXISTS owner_asyncpg(
        id uuid NOT NULL DEFAULT gen_random_uuid(), name varchar(30) NOT NULL, city varchar(80) NOT NULL,
        telephone varchar(20) DEFAULT NULL, PRIMARY KEY (id))""")
    await conn.execute("INSERT INTO owner_asyncpg(name, city, telephone) VALUES($1, $2, $3)",
                       "John Doe", "Anytown", "555-555-1999")
    row = await conn.fetchrow("SELECT * FROM owner_asyncpg WHERE name = $1", "John Doe")
    assert row["id"] is not None and row["city"] == "Anytown" and row["telephone"] == "555-555-1999"
    await conn.execute("DELETE FROM owner_asyncpg WHERE name = 'John Doe'")


def test_asyncpg(endpoint):
    """Proves: asyncpg's binary parameters and results for the guide's types, executemany, a
    transaction that rolls back, a cursor paging through a portal (Execute row limit and
    PortalSuspended), and binary COPY both ways."""
    import asyncpg

    async def main():
        conn = await asyncpg.connect(host=endpoint.host, port=endpoint.port, user="admin", database="postgres",
                                     password=endpoint.token(), ssl=ssl_context(endpoint))
        try:
            await _asyncpg_sample(conn)
            got = await conn.fetchrow(
                "SELECT $1::int4, $2::int8, $3::numeric, $4::float8, $5::text, $6::bool, $7::date, $8::timestamp, "
                "$9::timestamptz, $10::uuid, $11::bytea, $12::interval", *VALUES)
            assert tuple(got) == VALUES
            await conn.execute("CREATE TABLE IF NOT EXISTS page_asyncpg(a int PRIMARY KEY, b text)")
            await conn.executemany("INSERT INTO page_asyncpg VALUES ($1, $2)", [(i, f"r{i}") for i in range(250)])
            try:
                async with conn.transaction():
                    await conn.execute("INSERT INTO page_asyncpg VALUES (1000, 'gone')")
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            async with conn.transaction():
                seen = [r["a"] async for r in conn.cursor("SELECT a FROM page_asyncpg ORDER BY a", prefetch=40)]
            assert seen == list(range(250))
            await conn.execute("CREATE TABLE IF NOT EXISTS copy_asyncpg(a int PRIMARY KEY, b text, c numeric)")
            rows = [(i, None if i % 3 == 0 else f"v{i}", Decimal(i) / 4) for i in range(300)]
            assert await conn.copy_records_to_table("copy_asyncpg", records=rows) == "COPY 300"
            back = await conn.fetch("SELECT a, b, c FROM copy_asyncpg ORDER BY a")
            assert [tuple(r) for r in back] == rows
            for t in ("page_asyncpg", "copy_asyncpg"):
                await conn.execute(f"DROP TABLE {t}")
        finally:
            await conn.close()
    asyncio.run(main())


def test_connector_asyncpg(aws_credentials, resolve_cluster_host):
    """Proves: the connector's asyncpg flavour signs its own token for the cluster's endpoint name and
    runs the sample."""
    import aurora_dsql_asyncpg
    ep = aws_credentials

    async def main():
        conn = await aurora_dsql_asyncpg.connect(host=ep.cluster_host, port=ep.port, region=ep.region, user="admin",
                                                 ssl=ssl_context(ep))
        try:
            await _asyncpg_sample(conn)
        finally:
            await conn.close()
    asyncio.run(main())


def test_pg8000(endpoint):
    """Proves: pg8000 (extended protocol for every statement) runs the sample and a transaction."""
    import pg8000.dbapi
    import pg8000.native
    con = pg8000.native.Connection("admin", host=endpoint.host, port=endpoint.port, database="postgres",
                                   password=endpoint.token(), ssl_context=ssl_context(endpoint))
    con.run("""CREATE TABLE IF NOT EXISTS owner_pg8000(id uuid NOT NULL DEFAULT gen_random_uuid(),
        name varchar(30) NOT NULL, city varchar(80) NOT NULL, telephone varchar(20), PRIMARY KEY (id))""")
    con.run("INSERT INTO owner_pg8000(name, city, telephone) VALUES (:n, :c, :t)", n="John Doe", c="Anytown",
            t="555-555-1999")
    rows = con.run("SELECT name, city, telephone, id FROM owner_pg8000 WHERE name = :n", n="John Doe")
    assert rows[0][:3] == ["John Doe", "Anytown", "555-555-1999"] and isinstance(rows[0][3], uuid.UUID)
    assert con.run("SELECT :a::numeric + 1, :b::date", a=Decimal("1.5"), b=dt.date(2024, 1, 2)) == \
        [[Decimal("2.5"), dt.date(2024, 1, 2)]]
    con.run("DELETE FROM owner_pg8000")
    con.close()
    db = pg8000.dbapi.connect("admin", host=endpoint.host, port=endpoint.port, database="postgres",
                              password=endpoint.token(), ssl_context=ssl_context(endpoint))
    cur = db.cursor()
    cur.execute("INSERT INTO owner_pg8000(name, city) VALUES (%s, %s)", ("Tx", "Town"))
    db.rollback()
    cur.execute("SELECT count(*) FROM owner_pg8000")
    assert cur.fetchone()[0] == 0
    db.close()
