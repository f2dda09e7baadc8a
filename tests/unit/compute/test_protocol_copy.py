"""COPY FROM STDIN / TO STDOUT through the protocol and the real SQL engine (in-memory KV), compared
byte for byte with PostgreSQL 15 (the `pg_oracle` fixture): text, CSV and binary formats, their
options, errors, payloads split anywhere, and the transaction row limit."""

from __future__ import annotations

import pathlib

import pytest

from services.common import pgwire
from services.common.config import Limits
from services.compute.catalog import Catalog, MemoryStore
from services.compute.protocol import Protocol
from services.compute.sql.session import SqlSession

from .memkv import MemKV

TABLE = "CREATE TABLE c(a int PRIMARY KEY, b text, n numeric, f float8, ts timestamp, ok bool, raw bytea)"
QUICKSTART = pathlib.Path(__file__).resolve().parents[4] / "shared" / "data" / "quickstart"


class Ours:
    def __init__(self, limits: Limits = Limits()):
        catalog = Catalog(store=MemoryStore())
        catalog.bootstrap()
        self.proto = Protocol(SqlSession(catalog=catalog, kv=MemKV(), limits=limits))

    def run(self, *msgs: bytes) -> list[pgwire.BackendMessage]:
        return pgwire.parse_backend(b"".join(self.proto.process(b"".join(msgs))))

    def execute(self, sql: str) -> None:
        out = self.run(pgwire.query_msg(sql))
        assert not [m for m in out if m.type == "E"], out

    def copy_in(self, sql: str, data: bytes, piece: int = 0) -> str:
        """The tag, or 'SQLSTATE: message' of the error."""
        out = self.run(pgwire.query_msg(sql))
        if out[0].type == "E":
            return _error(out[0])
        assert out[0].type == "G"
        pieces = [data[i:i + piece] for i in range(0, len(data), piece)] if piece else [data]
        out = self.run(*(pgwire.copy_data(p) for p in pieces), pgwire.copy_done())
        assert out[-1].type == "Z"
        return _error(out[0]) if out[0].type == "E" else out[0].cstring()

    def copy_out(self, sql: str) -> bytes | str:
        out = self.run(pgwire.query_msg(sql))
        if out[0].type == "E":
            return _error(out[0])
        assert out[0].type == "H" and out[-1].type == "Z"
        return b"".join(m.payload for m in out if m.type == "d")


def _error(m: pgwire.BackendMessage) -> str:
    f = m.fields()
    return f"{f['C']}: {f['M']}"


class Theirs:
    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def copy_in(self, sql: str, data: bytes, piece: int = 0) -> str:
        import psycopg
        try:
            with self.conn.cursor() as cur:
                with cur.copy(sql) as cp:
                    cp.write(data)
                return cur.statusmessage
        except psycopg.Error as e:
            return f"{e.sqlstate}: {e.diag.message_primary}"

    def copy_out(self, sql: str) -> bytes | str:
        import psycopg
        try:
            with self.conn.cursor() as cur:
                with cur.copy(sql) as cp:
                    return b"".join(bytes(b) for b in cp)
        except psycopg.Error as e:
            return f"{e.sqlstate}: {e.diag.message_primary}"


@pytest.fixture
def both(pg_oracle):
    import psycopg
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS c")
        theirs = Theirs(conn)
        ours = Ours()
        for side in (ours, theirs):
            side.execute(TABLE)
        yield ours, theirs


ROWS_TEXT = (b"1\tplain\t1.50\t2.5\t2019-02-11 21:40:27.892\tt\t\\\\x00ff\n"
             b"2\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
             b"3\ttab\\there, \"quote\" and \\\\ and \\n newline\t-0.000\t-1e+300\t1999-12-31 23:59:59\tf\t\\\\x\n"
             b"4\t\t0\t0\t2000-01-01\ttrue\t\\\\x41\n")

COPY_IN_CASES = [
    ("COPY c FROM STDIN", ROWS_TEXT),
    ("COPY c (a, b) FROM STDIN (DELIMITER ',', NULL 'NULL')", b"1,a\\,b\n2,NULL\n3,\\N\n"),
    ("COPY c (a, b, n) FROM STDIN (FORMAT csv, HEADER)", b'a,b,n\n1,"x,""y""\nz",2\r\n2,,\n3,"",3\n'),
    ("COPY c (a, b, n) FROM STDIN (FORMAT csv, NULL 'NA', FORCE_NOT_NULL (b), FORCE_NULL (n))",
     b'1,NA,"NA"\n2,"NA",NA\n'),
    ("COPY c (a, b) FROM STDIN (FORMAT csv, QUOTE '''', ESCAPE '\\')", b"1,'it\\'s'\n2,'a\\\\b'\n3,'x''y'\n"),
    ("COPY c (a, b) FROM STDIN (FORMAT csv, HEADER MATCH)", b"a,b\n1,x\n"),
    ("COPY c (a, b) FROM STDIN WITH CSV", b"1,x\n\\.\n2,y\n"),
    ("COPY c (a, b) FROM STDIN", b"1\tx\n\\.\n2\ty\n"),
    ("COPY c (a, b) FROM STDIN (FORMAT csv)", b"1,\"unterminated\n"),
    ("COPY c (a, b) FROM STDIN (FORMAT csv, HEADER MATCH)", b"a,x\n1,x\n"),
    ("COPY c (a, b) FROM STDIN (FORMAT csv, HEADER MATCH)", b"a\n1,x\n"),
    ("COPY c (a, b) FROM STDIN", b"1\tx\textra\n"),
    ("COPY c (a, b) FROM STDIN", b"1\n"),
    ("COPY c (a, b) FROM STDIN", b"one\tx\n"),
    ("COPY c (a, b) FROM STDIN", b"1\tx\n1\ty\n"),
    ("COPY c (a, b) FROM STDIN", b"1\t\xff\n"),
    ("COPY c (a, b) FROM STDIN (FORMAT binary)", b"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
    ("COPY c (a, b) FROM STDIN (FORMAT binary)", b"NOTCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"),
]

OPTION_ERRORS = [
    "COPY c TO STDOUT (FORMAT text, FORCE_QUOTE (b))", "COPY c FROM STDIN (FORMAT csv, FORCE_QUOTE (b))",
    "COPY c FROM STDIN (FORMAT text, FORCE_NOT_NULL (b))", "COPY c TO STDOUT (FORMAT csv, FORCE_NULL (b))",
    "COPY c TO STDOUT (FORMAT csv, FORCE_QUOTE (zz))", "COPY c (a) TO STDOUT (FORMAT csv, FORCE_QUOTE (b))",
    "COPY c TO STDOUT (FORMAT text, QUOTE '\"')", "COPY c TO STDOUT (FORMAT csv, ESCAPE 'ab')",
    "COPY c TO STDOUT (FORMAT csv, QUOTE ',')", "COPY c TO STDOUT (FORMAT binary, DELIMITER ',')",
    "COPY c TO STDOUT (FORMAT binary, HEADER)", "COPY c TO STDOUT (DELIMITER 'ab')", "COPY c TO STDOUT (DELIMITER 'a')",
    "COPY c TO STDOUT (NULL E'\\n')", "COPY c TO STDOUT (DELIMITER ',', NULL 'a,b')", "COPY c TO STDOUT (FORMAT foo)",
    "COPY c TO STDOUT (bogus 1)", "COPY c TO STDOUT (FORMAT csv, FORMAT csv)", "COPY c TO STDOUT (HEADER match)",
    "COPY c TO STDOUT (HEADER 'maybe')", "COPY c (zz) TO STDOUT", "COPY c (a, a) TO STDOUT",
    "COPY c FROM STDIN (FORMAT csv, FORCE_NOT_NULL *)", "COPY c TO STDOUT (ENCODING 'nope')",
]

COPY_OUT_CASES = [
    "COPY c TO STDOUT", "COPY c TO STDOUT (FORMAT csv)", "COPY c TO STDOUT (FORMAT csv, HEADER, FORCE_QUOTE *)",
    "COPY c (a, b) TO STDOUT (FORMAT csv, QUOTE '''', ESCAPE '\\', FORCE_QUOTE (b), NULL 'n/a')",
    "COPY c TO STDOUT (DELIMITER '|', NULL 'NULL', HEADER)", "COPY (SELECT a, b FROM c WHERE a > 1 ORDER BY a) TO STDOUT",
    "COPY c (b) TO STDOUT (FORMAT csv)", "COPY c TO STDOUT (FORMAT binary)",
]


@pytest.mark.parametrize("sql,data", COPY_IN_CASES)
def test_copy_in_as_postgres(both, sql, data):
    """Proves: each COPY FROM gives PostgreSQL's tag or error and leaves the same rows, whole or
    fed in 3-byte payloads."""
    ours, theirs = both
    want = theirs.copy_in(sql, data)
    for piece in (0, 3):
        assert ours.copy_in(sql, data, piece) == want
        assert ours.copy_out("COPY c TO STDOUT") == theirs.copy_out("COPY c TO STDOUT")
        ours.execute("DELETE FROM c")


@pytest.mark.parametrize("sql", OPTION_ERRORS)
def test_copy_option_errors_as_postgres(both, sql):
    """Proves: invalid COPY options get PostgreSQL's SQLSTATE and message."""
    ours, theirs = both
    want = theirs.copy_out(sql) if "TO STDOUT" in sql else theirs.copy_in(sql, b"")
    got = ours.copy_out(sql) if "TO STDOUT" in sql else ours.copy_in(sql, b"")
    assert isinstance(want, str) and got == want


@pytest.mark.parametrize("sql", COPY_OUT_CASES)
def test_copy_out_as_postgres(both, sql):
    """Proves: COPY TO writes PostgreSQL's exact bytes (text escapes, CSV quoting, binary values)."""
    ours, theirs = both
    for side in both:
        assert side.copy_in("COPY c FROM STDIN", ROWS_TEXT) == "COPY 4"
    assert ours.copy_out(sql) == theirs.copy_out(sql)


def test_binary_round_trip_from_postgres(both):
    """Proves: PostgreSQL's binary COPY output loads into ours (fed in 5-byte payloads) unchanged."""
    ours, theirs = both
    theirs.copy_in("COPY c FROM STDIN", ROWS_TEXT)
    data = theirs.copy_out("COPY c TO STDOUT (FORMAT binary)")
    assert ours.copy_in("COPY c FROM STDIN (FORMAT binary)", data, 5) == "COPY 4"
    assert ours.copy_out("COPY c TO STDOUT") == theirs.copy_out("COPY c TO STDOUT")


def test_copy_respects_the_transaction_row_limit():
    """Proves: a COPY of more rows than the transaction limit fails with the guide's 54000 error while
    it streams, and writes nothing; one within the limit loads."""
    ours = Ours(Limits(txn_rows_max=100))
    ours.execute("CREATE TABLE r(a int PRIMARY KEY)")
    assert ours.copy_in("COPY r FROM STDIN", b"".join(b"%d\n" % i for i in range(101)), 50) == \
        "54000: transaction row limit exceeded"
    assert ours.copy_out("COPY r TO STDOUT") == b""
    assert ours.copy_in("COPY r FROM STDIN", b"".join(b"%d\n" % i for i in range(100))) == "COPY 100"


def test_copy_in_a_transaction_block_and_copy_fail():
    """Proves: COPY joins an open block; CopyFail aborts it (25P02 until ROLLBACK), as PostgreSQL."""
    ours = Ours()
    ours.execute("CREATE TABLE r(a int PRIMARY KEY)")
    ours.execute("BEGIN")
    assert ours.copy_in("COPY r FROM STDIN", b"1\n") == "COPY 1"
    ours.run(pgwire.query_msg("COPY r FROM STDIN"))
    out = ours.run(pgwire.copy_data(b"2\n"), pgwire.copy_fail("stop"))
    assert _error(out[0]) == "57014: COPY from stdin failed: stop" and out[-1].payload == b"E"
    out = ours.run(pgwire.query_msg("ROLLBACK"))
    assert ours.copy_out("COPY r TO STDOUT") == b""


@pytest.mark.skipif(not QUICKSTART.exists(), reason=f"quickstart data not found at {QUICKSTART}")
def test_quickstart_invoice_csv_in_small_payloads():
    """Proves: the guide's invoice.csv (single-quoted timestamps, CRLF) loads as psql's \\copy sends it."""
    ours = Ours()
    ours.execute("CREATE TABLE invoice(id UUID PRIMARY KEY DEFAULT gen_random_uuid(), created timestamp, "
                 "purchaser int, amount float)")
    ours.execute("CREATE INDEX invoice_created_idx ON invoice(created)")
    data = (QUICKSTART / "invoice.csv").read_bytes()
    assert ours.copy_in("COPY invoice(created, purchaser, amount) FROM STDIN csv", data, 8192) == "COPY 2999"
