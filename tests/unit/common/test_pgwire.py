import struct

import pytest
from hypothesis import given, strategies as st

from services.common import pgwire
from services.common.errors import PgError, ProtocolViolation


def test_startup_phase_packets():
    p = pgwire.FrontendParser()
    p.feed(pgwire.ssl_request_msg() + pgwire.gssenc_request_msg())
    assert isinstance(p.next_message(), pgwire.SSLRequest)
    assert isinstance(p.next_message(), pgwire.GSSENCRequest)
    assert p.next_message() is None
    assert p.startup
    p.feed(pgwire.cancel_request_msg(1234, -5))
    assert p.next_message() == pgwire.CancelRequest(1234, -5)
    p.feed(pgwire.startup_msg({"user": "admin", "database": "postgres"}))
    m = p.next_message()
    assert m == pgwire.StartupMessage(pgwire.PROTOCOL_3_0, {"user": "admin", "database": "postgres"})
    assert not p.startup


def test_incremental_bytes():
    data = (pgwire.startup_msg({"user": "u"}) + pgwire.password_msg("tok") + pgwire.query_msg("select 1")
            + pgwire.parse_msg("s1", "select $1", [23]) + pgwire.bind_msg("p", "s1", [b"7", None], [0], [1])
            + pgwire.describe_msg("P", "p") + pgwire.execute_msg("p", 5) + pgwire.close_msg("S", "s1")
            + pgwire.flush_msg() + pgwire.sync_msg() + pgwire.terminate_msg())
    p = pgwire.FrontendParser()
    out = []
    for b in data:
        p.feed(bytes([b]))
        out.extend(p.messages())
    assert out == [
        pgwire.StartupMessage(pgwire.PROTOCOL_3_0, {"user": "u"}),
        pgwire.PasswordMessage(b"tok\0"),
        pgwire.Query("select 1"),
        pgwire.Parse("s1", "select $1", [23]),
        pgwire.Bind("p", "s1", [0], [b"7", None], [1]),
        pgwire.Describe("P", "p"),
        pgwire.Execute("p", 5),
        pgwire.Close("S", "s1"),
        pgwire.Flush(), pgwire.Sync(), pgwire.Terminate(),
    ]
    assert out[1].password == "tok"


def test_oversized_message_rejected_before_body():
    p = pgwire.FrontendParser(startup=False, max_message_len=1000)
    p.feed(b"Q" + struct.pack("!i", 5000))
    with pytest.raises(ProtocolViolation) as ei:
        p.next_message()
    assert ei.value.sqlstate == "08P01"


def test_oversized_startup_rejected():
    p = pgwire.FrontendParser()
    p.feed(struct.pack("!i", 1_000_000) + struct.pack("!i", pgwire.PROTOCOL_3_0))
    with pytest.raises(ProtocolViolation):
        p.next_message()


def test_bad_lengths_and_formats():
    p = pgwire.FrontendParser(startup=False)
    p.feed(b"Q\0\0\0\x02")
    with pytest.raises(ProtocolViolation):
        p.next_message()
    with pytest.raises(ProtocolViolation):
        pgwire.parse_message(b"Q", b"no terminator")
    with pytest.raises(ProtocolViolation):
        pgwire.parse_message(b"D", b"Xname\0")
    with pytest.raises(ProtocolViolation):
        pgwire.parse_message(b"S", b"extra")
    with pytest.raises(ProtocolViolation):
        pgwire.parse_startup_packet(struct.pack("!i", 2 << 16))
    assert isinstance(pgwire.parse_message(b"?", b"x"), pgwire.UnknownMessage)


def test_take_frames_stops_at_terminate_and_partial():
    p = pgwire.FrontendParser(startup=False)
    a = pgwire.query_msg("select 1")
    b = pgwire.sync_msg()
    p.feed(a + b + pgwire.query_msg("x")[:3])
    frames, term = p.take_frames()
    assert frames == a + b and not term
    p.feed(pgwire.query_msg("x")[3:] + pgwire.terminate_msg() + b"junk")
    frames, term = p.take_frames()
    assert frames == pgwire.query_msg("x") + pgwire.terminate_msg() and term


def test_backend_builders_roundtrip():
    fields = [pgwire.FieldDescription("a", 23, 4, -1, 0), pgwire.FieldDescription("b", 25, -1, -1, 1, 99, 2)]
    data = (pgwire.authentication_ok() + pgwire.authentication_cleartext_password()
            + pgwire.parameter_status("server_version", "16.9") + pgwire.backend_key_data(7, 8)
            + pgwire.row_description(fields) + pgwire.data_row([b"1", None, b""])
            + pgwire.command_complete("SELECT 1") + pgwire.empty_query_response()
            + pgwire.parse_complete() + pgwire.bind_complete() + pgwire.close_complete() + pgwire.no_data()
            + pgwire.parameter_description([23, 25]) + pgwire.portal_suspended()
            + pgwire.ready_for_query("T"))
    msgs = pgwire.parse_backend(data)
    assert [m.type for m in msgs] == list("RRSKTDCI123ntsZ")
    assert msgs[0].payload == b"\0\0\0\0" and msgs[1].payload == b"\0\0\0\x03"
    assert msgs[3].payload == struct.pack("!ii", 7, 8)
    assert msgs[4].row_description() == fields
    assert msgs[5].data_row() == [b"1", None, b""]
    assert msgs[6].cstring() == "SELECT 1"
    assert msgs[12].payload == struct.pack("!hII", 2, 23, 25)
    assert msgs[-1].payload == b"T"


def test_error_and_notice_response():
    e = PgError("boom", sqlstate="42P01", detail="d", hint="h", position=7)
    m, = pgwire.parse_backend(pgwire.error_response(e))
    assert m.type == "E"
    assert m.fields() == {"S": "ERROR", "V": "ERROR", "C": "42P01", "M": "boom", "D": "d", "H": "h", "P": "7"}
    m, = pgwire.parse_backend(pgwire.error_response(PgError("x", sqlstate="28000"), "FATAL"))
    assert m.fields()["S"] == "FATAL" and m.fields()["C"] == "28000"
    m, = pgwire.parse_backend(pgwire.notice_response(PgError("n", sqlstate="01000"), "WARNING"))
    assert m.type == "N" and m.fields()["S"] == "WARNING"


def test_negotiate_protocol_version():
    m, = pgwire.parse_backend(pgwire.negotiate_protocol_version(0, ["_pq_.x"]))
    assert m.type == "v"
    assert m.payload == struct.pack("!ii", pgwire.PROTOCOL_3_0, 1) + b"_pq_.x\0"


@given(st.lists(st.one_of(
    st.text().filter(lambda s: "\0" not in s).map(pgwire.query_msg),
    st.builds(pgwire.execute_msg, st.text(alphabet="abc"), st.integers(0, 2**31 - 1)),
    st.builds(lambda ps: pgwire.bind_msg("", "s", ps), st.lists(st.one_of(st.none(), st.binary(max_size=20)))),
    st.just(pgwire.sync_msg())), max_size=8), st.integers(1, 7))
def test_chunked_framing_property(msgs, step):
    data = b"".join(msgs)
    p = pgwire.FrontendParser(startup=False)
    frames = b""
    for i in range(0, len(data), step):
        p.feed(data[i:i + step])
        f, term = p.take_frames()
        frames += f
        assert not term
    assert frames == data and p.buffered == 0
    assert len(list(pgwire.split_frames(frames))) == len(msgs)
