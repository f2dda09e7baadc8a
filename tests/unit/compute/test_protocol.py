"""The protocol state machine against a tiny fake SQL engine (unit scaffolding only)."""

import dataclasses
import struct

import pytest

from services.common import pgwire
from services.common.errors import PgError, SyntaxError_
from services.compute.protocol import Protocol, startup_messages

INT4, TEXT = 23, 25


@dataclasses.dataclass
class Col:
    name: str
    type_oid: int
    typmod: int = -1
    typlen: int = -1


@dataclasses.dataclass
class Prepared:
    sql: str
    param_oids: list
    columns: list | None
    kind: str = "select"
    copy_columns: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Result:
    columns: list | None
    rows: list
    tag: str
    notices: list = dataclasses.field(default_factory=list)


class FakeCopyLoad:
    def __init__(self, session, p):
        self.session, self.p, self.chunks = session, p, []

    def feed(self, data):
        if b"bad" in data:
            raise PgError('invalid input syntax for type integer: "bad"', sqlstate="22P02")
        self.chunks.append(data)

    def finish(self):
        data = b"".join(self.chunks)
        self.session.executed.append((self.p.sql, [data]))
        n = data.count(b"\n")
        return Result(None, [], f"COPY {n}")

    def abort(self, error):
        raise error


class FakeSession:
    """Statements: 'rows N', 'echo $1', 'fail', 'crash', 'begin', 'commit', 'insert', 'fatal'."""

    def __init__(self):
        self.txn_status = "I"
        self.executed = []
        self.implicit_calls = []
        self.settings = {"application_name": "", "datestyle": "ISO, MDY"}

    def begin_implicit(self):
        self.implicit_calls.append("begin")

    def end_implicit(self, commit=True):
        self.implicit_calls.append("commit" if commit else "rollback")
        return []

    def copy_in_start(self, p):
        return FakeCopyLoad(self, p)

    def copy_out(self, p):
        return [b"1\tr1\n", b"2\tr2\n"], Result(None, [], "COPY 2")

    def parse(self, sql):
        if "bad" in sql:
            raise SyntaxError_('syntax error at or near "bad"', position=sql.index("bad") + 1)
        return [s.strip() for s in sql.split(";") if s.strip()]

    def prepare(self, stmt, param_oids):
        if stmt.startswith("rows"):
            return Prepared(stmt, [], [Col("n", INT4, typlen=4), Col("s", TEXT)])
        if stmt.startswith("echo"):
            oid = param_oids[0] if param_oids and param_oids[0] else TEXT
            return Prepared(stmt, [oid], [Col("v", oid)])
        if stmt.startswith("copy"):
            return Prepared(stmt, [], None, "copy_in" if "from" in stmt else "copy_out",
                            [Col("a", INT4), Col("b", TEXT)])
        return Prepared(stmt, [], None)

    def execute(self, p, params):
        self.executed.append((p.sql, list(params)))
        s = p.sql.lower()
        if self.txn_status == "E" and s not in ("commit", "rollback"):
            raise PgError("current transaction is aborted, commands ignored until end of transaction block",
                          sqlstate="25P02")
        if s.startswith("rows"):
            n = int(s.split()[1])
            return Result(p.columns, [(i, f"r{i}") for i in range(n)], f"SELECT {n}")
        if s.startswith("echo"):
            return Result(p.columns, [(params[0],)], "SELECT 1")
        if s == "fail":
            if self.txn_status == "T":
                self.txn_status = "E"
            raise PgError("boom", sqlstate="22012", detail="d")
        if s == "crash":
            raise RuntimeError("engine bug")
        if s == "fatal":
            raise PgError("going away", sqlstate="57P01", severity="FATAL")
        if s == "begin":
            notices = ["there is already a transaction in progress"] if self.txn_status == "T" else []
            self.txn_status = "T"
            return Result(None, [], "BEGIN", notices)
        if s.startswith("set "):
            self.settings["application_name"] = s.split()[1]
            return Result(None, [], "SET")
        if s in ("commit", "rollback"):
            tag = "ROLLBACK" if self.txn_status == "E" or s == "rollback" else "COMMIT"
            self.txn_status = "I"
            return Result(None, [], tag)
        if s == "insert":
            return Result(None, [], "INSERT 0 1")
        raise AssertionError(s)


class Codec:
    def encode_text(self, oid, v):
        return str(v).encode()

    def decode_text(self, oid, b):
        t = b.decode()
        return int(t) if oid == INT4 else t

    def encode_binary(self, oid, v):
        return struct.pack("!i", v) if oid == INT4 else str(v).encode()

    def decode_binary(self, oid, b):
        return struct.unpack("!i", b)[0] if oid == INT4 else b.decode()


def mk():
    s = FakeSession()
    return Protocol(s, Codec()), s


def run(proto, *msgs):
    return pgwire.parse_backend(b"".join(proto.process(b"".join(msgs))))


def types(msgs):
    return "".join(m.type for m in msgs)


def test_startup_messages():
    msgs = pgwire.parse_backend(startup_messages(user="admin", database="postgres",
                                                 options={"application_name": "psql"},
                                                 backend_pid=42, cancel_secret=7))
    params = dict(m.payload.rstrip(b"\0").decode().split("\0") for m in msgs if m.type == "S")
    assert params["server_version"] == "16.9"
    assert params["client_encoding"] == "UTF8" and params["server_encoding"] == "UTF8"
    assert params["DateStyle"] == "ISO, MDY" and params["TimeZone"] == "UTC"
    assert params["integer_datetimes"] == "on" and params["standard_conforming_strings"] == "on"
    assert params["application_name"] == "psql" and params["IntervalStyle"] == "postgres"
    assert params["is_superuser"] == "on" and params["session_authorization"] == "admin"
    assert msgs[-2].type == "K" and msgs[-2].payload == struct.pack("!ii", 42, 7)
    assert msgs[-1].type == "Z" and msgs[-1].payload == b"I"


def test_simple_query_multiple_statements():
    p, _ = mk()
    out = run(p, pgwire.query_msg("rows 2; insert; rows 0"))
    assert types(out) == "TDDCCTCZ"
    cols = out[0].row_description()
    assert [(c.name, c.type_oid, c.typlen, c.format) for c in cols] == [("n", INT4, 4, 0), ("s", TEXT, -1, 0)]
    assert out[1].data_row() == [b"0", b"r0"] and out[2].data_row() == [b"1", b"r1"]
    assert [m.cstring() for m in out if m.type == "C"] == ["SELECT 2", "INSERT 0 1", "SELECT 0"]
    assert out[-1].payload == b"I"


def test_empty_query():
    p, _ = mk()
    assert types(run(p, pgwire.query_msg(""))) == "IZ"
    assert types(run(p, pgwire.query_msg(" ; "))) == "IZ"


def test_simple_query_error_skips_rest():
    p, s = mk()
    out = run(p, pgwire.query_msg("insert; fail; insert"))
    assert types(out) == "CEZ"
    f = out[1].fields()
    assert f["C"] == "22012" and f["M"] == "boom" and f["D"] == "d" and f["S"] == "ERROR"
    assert [e[0] for e in s.executed] == ["insert", "fail"]
    out = run(p, pgwire.query_msg("select bad"))
    assert types(out) == "EZ" and out[0].fields()["C"] == "42601" and out[0].fields()["P"] == "8"


def test_internal_error_becomes_xx000_and_session_survives():
    p, _ = mk()
    out = run(p, pgwire.query_msg("crash"))
    assert types(out) == "EZ" and out[0].fields()["C"] == "XX000"
    assert "engine bug" in out[0].fields()["M"]
    assert types(run(p, pgwire.query_msg("rows 1"))) == "TDCZ"
    assert not p.closed


def test_transaction_status_in_ready_for_query():
    p, _ = mk()
    assert run(p, pgwire.query_msg("begin"))[-1].payload == b"T"
    assert run(p, pgwire.query_msg("fail"))[-1].payload == b"E"
    out = run(p, pgwire.query_msg("rows 1"))
    assert out[0].fields()["C"] == "25P02" and out[-1].payload == b"E"
    out = run(p, pgwire.query_msg("commit"))
    assert out[0].cstring() == "ROLLBACK" and out[-1].payload == b"I"


def test_extended_unnamed_roundtrip_text_and_binary():
    p, s = mk()
    out = run(p, pgwire.parse_msg("", "echo $1", [INT4]), pgwire.bind_msg("", "", [b"41"]),
              pgwire.describe_msg("P", ""), pgwire.execute_msg("", 0), pgwire.sync_msg())
    assert types(out) == "12TDCZ"
    assert out[3].data_row() == [b"41"] and s.executed[-1] == ("echo $1", [41])
    out = run(p, pgwire.bind_msg("", "", [struct.pack("!i", 7)], [1], [1]), pgwire.describe_msg("P", ""),
              pgwire.execute_msg(), pgwire.sync_msg())
    assert types(out) == "2TDCZ"
    assert out[1].row_description()[0].format == 1
    assert out[2].data_row() == [struct.pack("!i", 7)]


def test_output_held_until_sync_or_flush():
    p, _ = mk()
    assert p.process(pgwire.parse_msg("", "rows 1")) == []
    assert p.process(pgwire.bind_msg("", "")) == []
    assert types(pgwire.parse_backend(b"".join(p.process(pgwire.flush_msg())))) == "12"
    out = run(p, pgwire.execute_msg(), pgwire.sync_msg())
    assert types(out) == "DCZ"


def test_describe_statement_and_named_objects():
    p, _ = mk()
    out = run(p, pgwire.parse_msg("s1", "echo $1"), pgwire.describe_msg("S", "s1"),
              pgwire.parse_msg("s2", "insert"), pgwire.describe_msg("S", "s2"), pgwire.sync_msg())
    assert types(out) == "1tT1tnZ"
    assert out[1].payload == struct.pack("!hI", 1, TEXT)
    assert out[4].payload == struct.pack("!h", 0)
    # named statements survive Sync and can be bound many times; a duplicate name is an error
    out = run(p, pgwire.bind_msg("pa", "s1", [b"a"]), pgwire.bind_msg("pb", "s1", [b"b"]),
              pgwire.execute_msg("pb"), pgwire.execute_msg("pa"), pgwire.sync_msg())
    assert [m.data_row() for m in out if m.type == "D"] == [[b"b"], [b"a"]]
    out = run(p, pgwire.parse_msg("s1", "rows 1"), pgwire.sync_msg())
    assert types(out) == "EZ" and out[0].fields()["C"] == "42P05"
    out = run(p, pgwire.close_msg("S", "s1"), pgwire.close_msg("S", "nope"), pgwire.bind_msg("", "s1"),
              pgwire.sync_msg())
    assert types(out) == "33EZ" and out[2].fields()["C"] == "26000"


def test_portals_are_dropped_at_end_of_implicit_transaction():
    p, _ = mk()
    run(p, pgwire.parse_msg("s", "rows 3"), pgwire.bind_msg("cur", "s"), pgwire.sync_msg())
    out = run(p, pgwire.execute_msg("cur"), pgwire.sync_msg())
    assert types(out) == "EZ" and out[0].fields()["C"] == "34000"


def test_execute_row_limit_and_portal_suspended():
    p, _ = mk()
    run(p, pgwire.query_msg("begin"))
    out = run(p, pgwire.parse_msg("s", "rows 5"), pgwire.bind_msg("c", "s"), pgwire.execute_msg("c", 2),
              pgwire.sync_msg())
    assert types(out) == "12DDsZ" and out[-1].payload == b"T"
    out = run(p, pgwire.execute_msg("c", 2), pgwire.execute_msg("c", 2), pgwire.execute_msg("c", 2),
              pgwire.sync_msg())
    assert types(out) == "DDsDCCZ"
    assert [m.cstring() for m in out if m.type == "C"] == ["SELECT 1", "SELECT 0"]
    # exactly at the limit: no suspension when nothing is left
    out = run(p, pgwire.bind_msg("d", "s"), pgwire.execute_msg("d", 5), pgwire.sync_msg())
    assert types(out) == "2DDDDDCZ" and out[-2].cstring() == "SELECT 5"


def test_error_discards_until_sync():
    p, s = mk()
    out = run(p, pgwire.parse_msg("", "fail"), pgwire.bind_msg("", ""), pgwire.execute_msg(),
              pgwire.parse_msg("", "insert"), pgwire.bind_msg("", ""), pgwire.execute_msg(),
              pgwire.query_msg("insert"), pgwire.sync_msg(),
              pgwire.parse_msg("", "insert"), pgwire.bind_msg("", ""), pgwire.execute_msg(), pgwire.sync_msg())
    assert types(out) == "12EZ" + "12CZ"
    assert [e[0] for e in s.executed] == ["fail", "insert"]


def test_bind_errors():
    p, _ = mk()
    out = run(p, pgwire.parse_msg("s", "echo $1"), pgwire.bind_msg("", "s", []), pgwire.sync_msg())
    assert types(out) == "1EZ"
    assert out[1].fields()["C"] == "08P01" and "requires 1" in out[1].fields()["M"]
    out = run(p, pgwire.bind_msg("", "s", [b"x"], [0], [0, 0, 0]), pgwire.sync_msg())
    assert types(out) == "EZ" and out[0].fields()["C"] == "08P01"
    out = run(p, pgwire.bind_msg("", "s", [b"x"], [7]), pgwire.sync_msg())
    assert types(out) == "EZ" and "format" in out[0].fields()["M"]
    out = run(p, pgwire.bind_msg("x", "s", [b"1"]), pgwire.bind_msg("x", "s", [b"1"]), pgwire.sync_msg())
    assert types(out) == "2EZ" and out[1].fields()["C"] == "42P03"


def test_parse_errors():
    p, _ = mk()
    out = run(p, pgwire.parse_msg("", "insert; insert"), pgwire.sync_msg())
    assert types(out) == "EZ" and out[0].fields()["C"] == "42601"
    out = run(p, pgwire.parse_msg("", "select bad"), pgwire.sync_msg())
    assert types(out) == "EZ" and out[0].fields()["C"] == "42601"


def test_empty_prepared_statement():
    p, _ = mk()
    out = run(p, pgwire.parse_msg("", ""), pgwire.bind_msg("", ""), pgwire.describe_msg("P", ""),
              pgwire.execute_msg(), pgwire.sync_msg())
    assert types(out) == "12nIZ"


def test_close_portal_and_describe_missing():
    p, _ = mk()
    out = run(p, pgwire.parse_msg("", "rows 1"), pgwire.bind_msg("c", ""), pgwire.close_msg("P", "c"),
              pgwire.describe_msg("P", "c"), pgwire.sync_msg())
    assert types(out) == "123EZ" and out[3].fields()["C"] == "34000"


def test_terminate_and_fatal():
    p, _ = mk()
    assert p.process(pgwire.terminate_msg()) == [] and p.closed
    p, _ = mk()
    out = run(p, pgwire.query_msg("fatal"), pgwire.query_msg("rows 1"))
    assert types(out) == "E" and out[0].fields()["S"] == "FATAL" and p.closed
    p, _ = mk()
    out = run(p, b"?\0\0\0\x04")
    assert types(out) == "E" and out[0].fields()["C"] == "08P01" and p.closed


def test_copy_messages_outside_copy_are_ignored():
    p, _ = mk()
    out = run(p, b"d\0\0\0\x05x", b"c\0\0\0\x04", pgwire.query_msg("insert"))
    assert types(out) == "CZ"


def test_split_input_and_large_output_chunks():
    p, _ = mk()
    data = pgwire.query_msg("rows 30000")
    chunks = []
    for i in range(0, len(data), 3):
        chunks += p.process(data[i:i + 3])
    assert len(chunks) > 1 and all(len(c) <= 1024 * 1024 for c in chunks)
    out = pgwire.parse_backend(b"".join(chunks))
    assert types(out) == "T" + "D" * 30000 + "CZ"


def test_deallocate_is_handled_by_the_protocol_layer():
    p, s = mk()
    run(p, pgwire.parse_msg("a", "rows 1"), pgwire.parse_msg("B", "rows 1"), pgwire.parse_msg("c", "rows 1"),
        pgwire.sync_msg())
    out = run(p, pgwire.query_msg("DEALLOCATE a"))
    assert types(out) == "CZ" and out[0].cstring() == "DEALLOCATE" and "a" not in p.statements
    out = run(p, pgwire.query_msg('deallocate prepare "B";'))
    assert out[0].cstring() == "DEALLOCATE" and set(p.statements) == {"c"}
    out = run(p, pgwire.query_msg("DEALLOCATE nope"))
    assert types(out) == "EZ" and out[0].fields()["C"] == "26000"
    out = run(p, pgwire.parse_msg("", "DEALLOCATE ALL"), pgwire.bind_msg("", ""), pgwire.describe_msg("P", ""),
              pgwire.execute_msg(), pgwire.sync_msg())
    assert types(out) == "12nCZ" and out[3].cstring() == "DEALLOCATE ALL" and p.statements == {}
    assert s.executed == []


def test_copy_in_simple_query_then_rest():
    p, s = mk()
    out = run(p, pgwire.query_msg("copy t from stdin; rows 1"))
    assert types(out) == "G"
    assert out[0].payload == b"\0" + struct.pack("!hhh", 2, 0, 0)
    assert p.process(b"d\0\0\0\x081\tx\n" + b"d\0\0\0\x082\ty\n") == []
    out = run(p, pgwire.flush_msg(), b"c\0\0\0\x04")
    assert types(out) == "CTDCZ" and out[0].cstring() == "COPY 2"
    assert s.executed[0] == ("copy t from stdin", [b"1\tx\n2\ty\n"])


def test_copy_in_fail_and_error():
    p, _ = mk()
    run(p, pgwire.query_msg("copy t from stdin"))
    out = run(p, pgwire.copy_fail("client gave up"))
    assert types(out) == "EZ" and out[0].fields()["C"] == "57014" and "client gave up" in out[0].fields()["M"]
    run(p, pgwire.query_msg("copy t from stdin"))
    out = run(p, pgwire.copy_data(b"bad\n"), pgwire.copy_done())
    assert types(out) == "EZ" and out[0].fields()["C"] == "22P02"
    run(p, pgwire.query_msg("copy t from stdin"))
    out = run(p, pgwire.query_msg("rows 1"))
    assert types(out) == "EZ" and out[0].fields()["C"] == "08P01"
    assert types(run(p, pgwire.query_msg("rows 1"))) == "TDCZ"


def test_copy_in_extended():
    p, _ = mk()
    out = run(p, pgwire.parse_msg("", "copy t from stdin"), pgwire.bind_msg("", ""), pgwire.execute_msg())
    assert types(out) == "12G"
    out = run(p, b"d\0\0\0\x081\tx\n", b"c\0\0\0\x04", pgwire.sync_msg())
    assert types(out) == "CZ" and out[0].cstring() == "COPY 1"


def test_copy_out():
    p, _ = mk()
    out = run(p, pgwire.query_msg("copy t to stdout"))
    assert types(out) == "HddcCZ"
    assert [m.payload for m in out if m.type == "d"] == [b"1\tr1\n", b"2\tr2\n"]
    out = run(p, pgwire.parse_msg("", "copy t to stdout"), pgwire.bind_msg("", ""), pgwire.execute_msg(),
              pgwire.sync_msg())
    assert types(out) == "12HddcCZ"


def test_notices_and_parameter_status():
    p, _ = mk()
    run(p, pgwire.query_msg("begin"))
    out = run(p, pgwire.query_msg("begin"))
    assert types(out) == "NCZ"
    assert out[0].fields()["S"] == "WARNING" and out[0].fields()["C"] == "25001"
    out = run(p, pgwire.query_msg("set myapp"))
    assert types(out) == "CSSZ" or types(out) == "CSZ"
    params = dict(m.payload.rstrip(b"\0").decode().split("\0") for m in out if m.type == "S")
    assert params["application_name"] == "myapp"
    out = run(p, pgwire.query_msg("set myapp"))
    assert types(out) == "CZ"                       # nothing changed, nothing reported
