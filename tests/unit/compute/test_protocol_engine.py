"""The protocol state machine over the real SQL engine (in-memory KV and catalog): implicit
transactions of multi-statement queries and pipelines, COPY formats, binary values. The expected
messages were checked against PostgreSQL 15."""

from __future__ import annotations

import struct

import pytest

from services.common import pgwire
from services.common.config import Limits
from services.compute.catalog import Catalog, MemoryStore
from services.compute.protocol import Protocol
from services.compute.sql.session import SqlSession

from .memkv import MemKV

INT4, INT8, TEXT = 23, 20, 25


@pytest.fixture
def proto():
    catalog = Catalog(store=MemoryStore())
    catalog.bootstrap()
    p = Protocol(SqlSession(catalog=catalog, kv=MemKV(), limits=Limits()))
    run(p, pgwire.query_msg("CREATE TABLE t(a int PRIMARY KEY, b text)"))
    return p


def run(proto, *msgs) -> list[pgwire.BackendMessage]:
    return pgwire.parse_backend(b"".join(proto.process(b"".join(msgs))))


def types(msgs) -> str:
    return "".join(m.type for m in msgs)


def query(proto, sql: str) -> list[pgwire.BackendMessage]:
    return run(proto, pgwire.query_msg(sql))


def errors(msgs) -> list[tuple[str, str]]:
    return [(m.fields()["C"], m.fields()["M"]) for m in msgs if m.type == "E"]


def keys(proto) -> list[int]:
    return [int(m.data_row()[0]) for m in query(proto, "SELECT a FROM t ORDER BY a") if m.type == "D"]


def extended(sql: str, params=(), param_oids=(), formats=(), result_formats=(), max_rows=0) -> bytes:
    return (pgwire.parse_msg("", sql, param_oids) + pgwire.bind_msg("", "", params, formats, result_formats)
            + pgwire.execute_msg("", max_rows))


def test_multi_statement_query_is_all_or_nothing(proto):
    """Proves: the statements of one simple query form one transaction; an error undoes them all."""
    out = query(proto, "INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b'); SELECT 1/0")
    assert types(out) == "CCEZ" and errors(out) == [("22012", "division by zero")]
    assert out[-1].payload == b"I"
    assert keys(proto) == []
    out = query(proto, "INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')")
    assert types(out) == "CCZ" and keys(proto) == [1, 2]


def test_commit_and_rollback_inside_a_multi_statement_query(proto):
    """Proves: COMMIT/ROLLBACK end the implicit transaction with PostgreSQL's warning; what follows
    starts a new one (checked against PostgreSQL 15)."""
    out = query(proto, "INSERT INTO t VALUES (4, 'x'); COMMIT; INSERT INTO t VALUES (5, 'y'); ROLLBACK; "
                       "SELECT 1/0")
    assert types(out) == "CNCCNCEZ"
    assert [m.fields()["S"] for m in out if m.type == "N"] == ["WARNING", "WARNING"]
    assert [m.fields()["C"] for m in out if m.type == "N"] == ["25P01", "25P01"]
    assert keys(proto) == [4]


def test_begin_inside_a_multi_statement_query_makes_the_block_explicit(proto):
    """Proves: statements before BEGIN join the explicit transaction, which outlives the query."""
    out = query(proto, "INSERT INTO t VALUES (7, 'x'); BEGIN; INSERT INTO t VALUES (8, 'y')")
    assert types(out) == "CCCZ" and out[-1].payload == b"T"
    assert not [m for m in out if m.type == "N"]
    out = query(proto, "ROLLBACK")
    assert keys(proto) == []
    out = query(proto, "BEGIN; INSERT INTO t VALUES (9, 'x'); SELECT 1/0")
    assert types(out) == "CCEZ" and out[-1].payload == b"E"
    out = query(proto, "COMMIT")
    assert out[0].cstring() == "ROLLBACK" and keys(proto) == []


def test_pipeline_before_sync_is_one_transaction(proto):
    """Proves: extended-protocol messages up to Sync run in one implicit transaction; an error
    discards the rest up to Sync and undoes what ran before it."""
    out = run(proto, extended("INSERT INTO t VALUES ($1, 'p')", [b"10"]),
              extended("INSERT INTO t VALUES ($1, 'p')", [b"10"]),
              extended("INSERT INTO t VALUES ($1, 'p')", [b"11"]), pgwire.sync_msg())
    assert types(out) == "12C12EZ" and errors(out)[0][0] == "23505"
    assert keys(proto) == []
    out = run(proto, extended("INSERT INTO t VALUES ($1, 'p')", [b"10"]),
              extended("INSERT INTO t VALUES ($1, 'p')", [b"11"]), pgwire.sync_msg())
    assert types(out) == "12C12CZ" and keys(proto) == [10, 11]


def test_pipeline_sees_its_own_writes_and_commits_at_sync(proto):
    """Proves: a later statement of the pipeline reads an earlier one's write; a second session
    sees nothing before Sync and everything after it."""
    session2 = SqlSession(catalog=proto.session.catalog, kv=proto.session.kv, limits=Limits())
    other = Protocol(session2)
    out = run(proto, extended("INSERT INTO t VALUES (20, 'p')"), extended("SELECT count(*) FROM t"),
              pgwire.flush_msg())
    assert types(out) == "12C12DC" and out[-2].data_row() == [b"1"]
    assert [m.data_row() for m in query(other, "SELECT count(*) FROM t") if m.type == "D"] == [[b"0"]]
    out = run(proto, pgwire.sync_msg())
    assert types(out) == "Z" and out[0].payload == b"I"
    assert [m.data_row() for m in query(other, "SELECT count(*) FROM t") if m.type == "D"] == [[b"1"]]


def test_commit_failure_is_reported_at_sync(proto):
    """Proves: a conflict found at the pipeline's commit comes as an ErrorResponse before
    ReadyForQuery, and the writes are gone."""
    session2 = SqlSession(catalog=proto.session.catalog, kv=proto.session.kv, limits=Limits())
    other = Protocol(session2)
    run(proto, extended("INSERT INTO t VALUES (30, 'mine')"), pgwire.flush_msg())
    query(other, "INSERT INTO t VALUES (30, 'theirs')")
    out = run(proto, pgwire.sync_msg())
    assert types(out) == "EZ" and errors(out)[0][0] == "40001" and out[-1].payload == b"I"
    assert [m.data_row() for m in query(proto, "SELECT b FROM t") if m.type == "D"] == [[b"theirs"]]


def test_execute_row_limit_in_an_implicit_transaction(proto):
    """Proves: PortalSuspended pages through a portal within one pipeline; the tag counts the
    last page, as PostgreSQL does."""
    query(proto, "INSERT INTO t VALUES (1, 'r'), (2, 'r'), (3, 'r'), (4, 'r'), (5, 'r')")
    out = run(proto, pgwire.parse_msg("s", "SELECT a FROM t ORDER BY a"), pgwire.bind_msg("c", "s"),
              pgwire.execute_msg("c", 2), pgwire.execute_msg("c", 2), pgwire.execute_msg("c", 2),
              pgwire.sync_msg())
    assert types(out) == "12DDsDDsDCZ" and out[-2].cstring() == "SELECT 1"


def test_binary_parameters_and_results(proto):
    """Proves: binary int4/int8/text parameters and results, as asyncpg and pgJDBC send them."""
    out = run(proto, extended("SELECT $1::int8 + 1, $2::text", [struct.pack("!q", 2**40), b"h\xc3\xa9"],
                              [INT8, TEXT], [1, 1], [1]), pgwire.sync_msg())
    assert types(out) == "12DCZ"
    assert out[2].data_row() == [struct.pack("!q", 2**40 + 1), "hé".encode()]


def test_parameter_types_are_inferred(proto):
    """Proves: Describe reports the types PostgreSQL infers for unspecified ($n) parameters."""
    out = run(proto, pgwire.parse_msg("q", "SELECT b FROM t WHERE a = $1 AND b = $2"),
              pgwire.describe_msg("S", "q"), pgwire.sync_msg())
    assert types(out) == "1tTZ"
    assert out[1].payload == struct.pack("!hII", 2, INT4, TEXT)
