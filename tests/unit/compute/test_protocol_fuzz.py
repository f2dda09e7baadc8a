"""Fuzzing the message parser and the session state machine (real SQL engine, in-memory KV): random
bytes, mutated and truncated valid pipelines, oversized lengths, fed in random pieces. Whatever comes
in, process() never raises, everything it sends is well-framed backend messages, a framing error ends
the session with FATAL 08P01, nothing buffers beyond the message limit, and a session that survives
still answers a query. Seeded: a failure prints the seed that replays it."""

from __future__ import annotations

import random
import struct

import pytest

from services.common import pgwire
from services.common.config import Limits
from services.compute.catalog import Catalog, MemoryStore
from services.compute.protocol import Protocol
from services.compute.sql.session import SqlSession

from .memkv import MemKV

SEEDS = range(300)

VALID = [
    pgwire.query_msg("CREATE TABLE IF NOT EXISTS f(a int PRIMARY KEY, b text)"),
    pgwire.query_msg("INSERT INTO f VALUES (1, 'x'); SELECT * FROM f; SELECT 1/0"),
    pgwire.parse_msg("s", "SELECT a, b FROM f WHERE a = $1", [23]),
    pgwire.bind_msg("p", "s", [b"1"], [0], [1]),
    pgwire.describe_msg("P", "p"),
    pgwire.execute_msg("p", 1),
    pgwire.flush_msg(),
    pgwire.sync_msg(),
    pgwire.parse_msg("", "INSERT INTO f VALUES ($1, $2)"),
    pgwire.bind_msg("", "", [struct.pack("!i", 5), b"y"], [1, 0]),
    pgwire.execute_msg(),
    pgwire.close_msg("S", "s"),
    pgwire.query_msg("COPY f FROM STDIN (FORMAT csv)"),
    pgwire.copy_data(b"7,seven\n8,\"ei\nght\"\n"),
    pgwire.copy_done(),
    pgwire.copy_fail("gave up"),
    pgwire.query_msg("BEGIN"),
    pgwire.query_msg("COMMIT"),
    pgwire.query_msg("COPY f TO STDOUT (FORMAT binary)"),
    pgwire.sync_msg(),
]


def new_protocol() -> Protocol:
    catalog = Catalog(store=MemoryStore())
    catalog.bootstrap()
    p = Protocol(SqlSession(catalog=catalog, kv=MemKV(), limits=Limits()))
    p._parser.max_message_len = 64 * 1024          # a small limit, so oversized lengths are cheap to hit
    return p


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        if op == 0 and b:                                   # flip a byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:                                 # truncate
            del b[rng.randrange(len(b)):]
        elif op == 2:                                       # insert random bytes
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and len(b) > 5:                        # duplicate a slice
            i = rng.randrange(len(b))
            b[i:i] = b[i:i + rng.randint(1, 40)]
        else:                                               # an oversized or negative length
            b += rng.choice(b"QPBEDSd") .to_bytes(1, "big") + struct.pack("!i", rng.choice(
                [-5, 0, 3, 2**31 - 1, 10**8, 70 * 1024]))
    return bytes(b)


def stream(rng: random.Random) -> bytes:
    kind = rng.randrange(3)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 300))
    msgs = b"".join(rng.choice(VALID) for _ in range(rng.randint(1, 12)))
    return msgs if kind == 1 else mutate(rng, msgs)


def feed(p: Protocol, rng: random.Random, data: bytes) -> bytes:
    out = []
    pos = 0
    while pos < len(data):
        n = rng.randint(1, 64)
        out += p.process(data[pos:pos + n])           # must never raise
        pos += n
        assert p._parser.buffered <= p._parser.max_message_len
    return b"".join(out)


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_streams(seed):
    """Proves: no crash, no malformed output, FATAL only as 08P01/framing, survivors still answer."""
    rng = random.Random(seed)
    p = new_protocol()
    sent = feed(p, rng, stream(rng))
    msgs = pgwire.parse_backend(sent)                      # well-framed, or this raises
    fatals = [m.fields() for m in msgs if m.type == "E" and m.fields().get("S") == "FATAL"]
    if p.closed:
        assert fatals and all(f["C"] in ("08P01", "22021") for f in fatals), (seed, fatals)
        assert msgs[-1].type == "E"
        assert p.process(pgwire.query_msg("SELECT 1")) == []
    else:
        assert not fatals, (seed, fatals)
        # Whatever state it is in (mid-frame, in COPY, failed block), a client can get it back.
        recover = b""
        if p._parser.buffered:
            return                                         # waits for the rest of a frame: by design
        if p._copy is not None:
            recover += pgwire.copy_fail("fuzz")
        recover += pgwire.sync_msg() + pgwire.query_msg("ROLLBACK") + pgwire.query_msg("SELECT 41 + 1")
        msgs = pgwire.parse_backend(b"".join(p.process(recover)))
        assert [m.data_row() for m in msgs if m.type == "D"][-1] == [b"42"], seed
        assert msgs[-1].type == "Z" and msgs[-1].payload == b"I"
    p.session.close()
    assert p.session._txn is None                          # nothing left open


def test_oversized_length_is_refused_before_the_body_arrives():
    """Proves: a length over the limit ends the session at once, without waiting for (or buffering) it."""
    p = new_protocol()
    out = pgwire.parse_backend(b"".join(p.process(b"Q" + struct.pack("!i", 2**31 - 1))))
    assert out[0].fields()["C"] == "08P01" and out[0].fields()["S"] == "FATAL" and p.closed
    p = new_protocol()
    out = pgwire.parse_backend(b"".join(p.process(b"Q" + struct.pack("!i", 2))))
    assert out[0].fields()["C"] == "08P01" and p.closed
