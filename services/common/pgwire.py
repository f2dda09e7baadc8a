"""A sans-I/O codec for the PostgreSQL v3 frontend/backend protocol.

Bytes go in, messages come out; no sockets. The relay uses `FrontendParser` to
frame whole messages (startup phase and typed phase) without interpreting SQL;
the compute decodes the typed messages into the dataclasses below and builds
its replies with the `*_msg` builder functions.

    p = FrontendParser()                 # starts in the startup phase
    p.feed(data)
    for msg in p.messages(): ...         # SSLRequest, StartupMessage, Query, Parse, ...

A length larger than `max_message_len` (or, during startup, than
`MAX_STARTUP_PACKET_LEN`) raises `ProtocolViolation` (08P01) at once, before
the body has arrived, so a peer cannot make us buffer an unbounded message.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Iterator, Sequence

from services.common.errors import PgError, ProtocolViolation

# Request codes of the untyped startup-phase packets.
PROTOCOL_3_0 = 196608                      # 3 << 16
SSL_REQUEST_CODE = 80877103                # 1234 << 16 | 5679
GSSENC_REQUEST_CODE = 80877104             # 1234 << 16 | 5680
CANCEL_REQUEST_CODE = 80877102             # 1234 << 16 | 5678

MAX_STARTUP_PACKET_LEN = 10000             # as PostgreSQL's MAX_STARTUP_PACKET_LENGTH
DEFAULT_MAX_MESSAGE_LEN = 64 * 1024 * 1024 # a whole typed message, length word included

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")
_HDR = struct.Struct("!ci")

# The first byte of a TLS record carrying a handshake (direct TLS negotiation).
TLS_HANDSHAKE_BYTE = 0x16


# --------------------------------------------------------------------------- messages

@dataclasses.dataclass
class SSLRequest:
    pass


@dataclasses.dataclass
class GSSENCRequest:
    pass


@dataclasses.dataclass
class CancelRequest:
    backend_pid: int
    secret: int


@dataclasses.dataclass
class StartupMessage:
    protocol: int
    params: dict[str, str]

    @property
    def major(self) -> int:
        return self.protocol >> 16

    @property
    def minor(self) -> int:
        return self.protocol & 0xFFFF


@dataclasses.dataclass
class Query:
    sql: str


@dataclasses.dataclass
class Parse:
    name: str
    sql: str
    param_oids: list[int]


@dataclasses.dataclass
class Bind:
    portal: str
    statement: str
    param_formats: list[int]
    params: list[bytes | None]
    result_formats: list[int]


@dataclasses.dataclass
class Describe:
    kind: str          # 'S' statement or 'P' portal
    name: str


@dataclasses.dataclass
class Execute:
    portal: str
    max_rows: int      # 0: no limit


@dataclasses.dataclass
class Close:
    kind: str          # 'S' or 'P'
    name: str


@dataclasses.dataclass
class Sync:
    pass


@dataclasses.dataclass
class Flush:
    pass


@dataclasses.dataclass
class Terminate:
    pass


@dataclasses.dataclass
class PasswordMessage:
    data: bytes        # also carries SASL responses; the cleartext password is a C string

    @property
    def password(self) -> str:
        raw = self.data[:-1] if self.data.endswith(b"\0") else self.data
        return raw.decode("utf-8", errors="replace")


@dataclasses.dataclass
class CopyData:
    data: bytes


@dataclasses.dataclass
class CopyDone:
    pass


@dataclasses.dataclass
class CopyFail:
    message: str


@dataclasses.dataclass
class FunctionCall:
    payload: bytes


@dataclasses.dataclass
class UnknownMessage:
    type: bytes
    payload: bytes


FrontendMessage = (SSLRequest | GSSENCRequest | CancelRequest | StartupMessage | Query | Parse | Bind
                   | Describe | Execute | Close | Sync | Flush | Terminate | PasswordMessage | CopyData
                   | CopyDone | CopyFail | FunctionCall | UnknownMessage)


# --------------------------------------------------------------------------- reading helpers

class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 0

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise ProtocolViolation("invalid message format")

    def int32(self) -> int:
        self._need(4)
        v = _I32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
        return v

    def uint32(self) -> int:
        return self.int32() & 0xFFFFFFFF

    def int16(self) -> int:
        self._need(2)
        v = _I16.unpack_from(self.buf, self.pos)[0]
        self.pos += 2
        return v

    def byte(self) -> str:
        self._need(1)
        v = chr(self.buf[self.pos])
        self.pos += 1
        return v

    def bytes_(self, n: int) -> bytes:
        self._need(n)
        v = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(v)

    def cstring(self) -> str:
        end = self.buf.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolViolation("invalid string in message")
        raw = self.buf[self.pos:end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PgError("invalid byte sequence for encoding \"UTF8\"", sqlstate="22021") from None

    def rest(self) -> bytes:
        v = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        return v

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise ProtocolViolation("invalid message format")


def parse_startup_packet(payload: bytes) -> FrontendMessage:
    """Decode an untyped startup-phase packet (its body, after the length word)."""
    r = _Reader(payload)
    code = r.int32()
    if code == SSL_REQUEST_CODE:
        return SSLRequest()
    if code == GSSENC_REQUEST_CODE:
        return GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        pid = r.int32()
        secret = r.int32()
        return CancelRequest(pid, secret)
    if code >> 16 != 3:
        raise ProtocolViolation(
            f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: "
            "server supports 3.0 to 3.0")
    params: dict[str, str] = {}
    while True:
        name = r.cstring()
        if name == "":
            break
        params[name] = r.cstring()
    return StartupMessage(code, params)


def parse_message(mtype: bytes, payload: bytes) -> FrontendMessage:
    """Decode one typed frontend message."""
    r = _Reader(payload)
    t = mtype
    if t == b"Q":
        m = Query(r.cstring())
    elif t == b"P":
        name = r.cstring()
        sql = r.cstring()
        n = r.int16()
        if n < 0:
            raise ProtocolViolation("invalid message format")
        m = Parse(name, sql, [r.uint32() for _ in range(n)])
    elif t == b"B":
        portal = r.cstring()
        stmt = r.cstring()
        nf = r.int16()
        if nf < 0:
            raise ProtocolViolation("invalid message format")
        formats = [r.int16() for _ in range(nf)]
        np_ = r.int16()
        if np_ < 0:
            raise ProtocolViolation("invalid message format")
        params: list[bytes | None] = []
        for _ in range(np_):
            ln = r.int32()
            if ln == -1:
                params.append(None)
            elif ln < 0:
                raise ProtocolViolation(f"invalid parameter length {ln}")
            else:
                params.append(r.bytes_(ln))
        nr = r.int16()
        if nr < 0:
            raise ProtocolViolation("invalid message format")
        m = Bind(portal, stmt, formats, params, [r.int16() for _ in range(nr)])
    elif t == b"D":
        kind = r.byte()
        if kind not in ("S", "P"):
            raise ProtocolViolation(f"invalid DESCRIBE message subtype {ord(kind)}")
        m = Describe(kind, r.cstring())
    elif t == b"E":
        portal = r.cstring()
        m = Execute(portal, r.int32())
    elif t == b"C":
        kind = r.byte()
        if kind not in ("S", "P"):
            raise ProtocolViolation(f"invalid CLOSE message subtype {ord(kind)}")
        m = Close(kind, r.cstring())
    elif t == b"S":
        m = Sync()
    elif t == b"H":
        m = Flush()
    elif t == b"X":
        m = Terminate()
    elif t == b"p":
        return PasswordMessage(r.rest())
    elif t == b"d":
        return CopyData(r.rest())
    elif t == b"c":
        m = CopyDone()
    elif t == b"f":
        m = CopyFail(r.cstring())
    elif t == b"F":
        return FunctionCall(r.rest())
    else:
        return UnknownMessage(t, bytes(payload))
    r.end()
    return m


# --------------------------------------------------------------------------- framing

class FrontendParser:
    """Incremental framer/decoder of frontend messages.

    In the startup phase (the default) every packet is untyped: a length word
    and a body. After a StartupMessage the parser moves to the typed phase by
    itself; SSLRequest/GSSENCRequest/CancelRequest keep it in the startup phase
    (the caller switches the transport to TLS and keeps feeding). Construct with
    startup=False to parse a stream that is already past the startup phase.
    """

    def __init__(self, *, startup: bool = True, max_message_len: int = DEFAULT_MAX_MESSAGE_LEN):
        self._buf = bytearray()
        self.startup = startup
        self.max_message_len = max_message_len

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def pending(self) -> bytes:
        """Bytes received but not yet consumed (for handing over a stream)."""
        return bytes(self._buf)

    def _frame_len(self, pos: int) -> int | None:
        """Total length of the frame starting at pos, None if incomplete header."""
        buf = self._buf
        if self.startup:
            if len(buf) - pos < 4:
                return None
            ln = _I32.unpack_from(buf, pos)[0]
            if ln < 8 or ln > MAX_STARTUP_PACKET_LEN:
                raise ProtocolViolation("invalid length of startup packet")
            return ln
        if len(buf) - pos < 5:
            return None
        ln = _I32.unpack_from(buf, pos + 1)[0]
        if ln < 4:
            raise ProtocolViolation(f"invalid message length {ln}")
        if ln + 1 > self.max_message_len:
            raise ProtocolViolation(
                f"message of type {chr(buf[pos])!r} is too long: {ln} bytes "
                f"(the maximum is {self.max_message_len - 1})")
        return ln + 1

    def next_raw(self) -> tuple[bytes | None, bytes] | None:
        """The next whole frame as (type byte or None in startup, payload); None if incomplete."""
        n = self._frame_len(0)
        if n is None or len(self._buf) < n:
            return None
        frame = bytes(self._buf[:n])
        del self._buf[:n]
        if self.startup:
            return None, frame[4:]
        return frame[:1], frame[5:]

    def next_message(self) -> FrontendMessage | None:
        raw = self.next_raw()
        if raw is None:
            return None
        mtype, payload = raw
        if mtype is None:
            msg = parse_startup_packet(payload)
            if isinstance(msg, StartupMessage):
                self.startup = False
            return msg
        return parse_message(mtype, payload)

    def messages(self) -> Iterator[FrontendMessage]:
        while True:
            m = self.next_message()
            if m is None:
                return
            yield m

    def take_frames(self) -> tuple[bytes, bool]:
        """Every complete typed frame buffered, as one bytes object, and whether a
        Terminate was among them (frames after a Terminate are left behind)."""
        assert not self.startup
        buf = self._buf
        pos = 0
        terminated = False
        while True:
            n = self._frame_len(pos)
            if n is None or len(buf) - pos < n:
                break
            t = buf[pos]
            pos += n
            if t == 0x58:   # 'X'
                terminated = True
                break
        out = bytes(buf[:pos])
        del buf[:pos]
        return out, terminated


def split_frames(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each whole typed message in data (which holds only whole messages)."""
    pos = 0
    n = len(data)
    while pos < n:
        if n - pos < 5:
            raise ProtocolViolation("incomplete message")
        t = data[pos:pos + 1]
        ln = _I32.unpack_from(data, pos + 1)[0]
        if ln < 4 or pos + 1 + ln > n:
            raise ProtocolViolation("invalid message length")
        yield t, data[pos + 5:pos + 1 + ln]
        pos += 1 + ln


# --------------------------------------------------------------------------- frontend builders (clients, tests)

def _frame(t: bytes, body: bytes) -> bytes:
    return t + _I32.pack(len(body) + 4) + body


def _cstr(s: str) -> bytes:
    return s.encode("utf-8") + b"\0"


def startup_msg(params: dict[str, str], protocol: int = PROTOCOL_3_0) -> bytes:
    body = _I32.pack(protocol) + b"".join(_cstr(k) + _cstr(v) for k, v in params.items()) + b"\0"
    return _I32.pack(len(body) + 4) + body


def ssl_request_msg() -> bytes:
    return _I32.pack(8) + _I32.pack(SSL_REQUEST_CODE)


def gssenc_request_msg() -> bytes:
    return _I32.pack(8) + _I32.pack(GSSENC_REQUEST_CODE)


def cancel_request_msg(pid: int, secret: int) -> bytes:
    return _I32.pack(16) + _I32.pack(CANCEL_REQUEST_CODE) + _I32.pack(pid) + _I32.pack(secret)


def query_msg(sql: str) -> bytes:
    return _frame(b"Q", _cstr(sql))


def parse_msg(name: str, sql: str, param_oids: Sequence[int] = ()) -> bytes:
    return _frame(b"P", _cstr(name) + _cstr(sql) + _I16.pack(len(param_oids))
                  + b"".join(struct.pack("!I", o) for o in param_oids))


def bind_msg(portal: str, statement: str, params: Sequence[bytes | None] = (),
             param_formats: Sequence[int] = (), result_formats: Sequence[int] = ()) -> bytes:
    parts = [_cstr(portal), _cstr(statement), _I16.pack(len(param_formats))]
    parts += [_I16.pack(f) for f in param_formats]
    parts.append(_I16.pack(len(params)))
    for p in params:
        parts.append(_I32.pack(-1) if p is None else _I32.pack(len(p)) + p)
    parts.append(_I16.pack(len(result_formats)))
    parts += [_I16.pack(f) for f in result_formats]
    return _frame(b"B", b"".join(parts))


def describe_msg(kind: str, name: str) -> bytes:
    return _frame(b"D", kind.encode() + _cstr(name))


def execute_msg(portal: str = "", max_rows: int = 0) -> bytes:
    return _frame(b"E", _cstr(portal) + _I32.pack(max_rows))


def close_msg(kind: str, name: str) -> bytes:
    return _frame(b"C", kind.encode() + _cstr(name))


def sync_msg() -> bytes:
    return b"S\0\0\0\4"


def flush_msg() -> bytes:
    return b"H\0\0\0\4"


def terminate_msg() -> bytes:
    return b"X\0\0\0\4"


def password_msg(password: str) -> bytes:
    return _frame(b"p", _cstr(password))


# --------------------------------------------------------------------------- backend builders

def authentication_ok() -> bytes:
    return b"R\0\0\0\x08\0\0\0\0"


def authentication_cleartext_password() -> bytes:
    return b"R\0\0\0\x08\0\0\0\x03"


def parameter_status(name: str, value: str) -> bytes:
    return _frame(b"S", _cstr(name) + _cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return _frame(b"K", _I32.pack(pid) + _I32.pack(secret))


def negotiate_protocol_version(newest_minor: int, unrecognized: Sequence[str]) -> bytes:
    return _frame(b"v", _I32.pack(PROTOCOL_3_0 | newest_minor) + _I32.pack(len(unrecognized))
                  + b"".join(_cstr(o) for o in unrecognized))


def ready_for_query(status: str) -> bytes:
    return b"Z\0\0\0\x05" + status.encode("ascii")


@dataclasses.dataclass
class FieldDescription:
    name: str
    type_oid: int
    typlen: int = -1
    typmod: int = -1
    format: int = 0
    table_oid: int = 0
    column_attnum: int = 0


_FIELD = struct.Struct("!IhIhih")


def row_description(fields: Sequence[FieldDescription]) -> bytes:
    parts = [_I16.pack(len(fields))]
    for f in fields:
        parts.append(_cstr(f.name))
        parts.append(_FIELD.pack(f.table_oid, f.column_attnum, f.type_oid, f.typlen, f.typmod, f.format))
    return _frame(b"T", b"".join(parts))


def data_row(values: Sequence[bytes | None]) -> bytes:
    parts = [_I16.pack(len(values))]
    for v in values:
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(_I32.pack(len(v)))
            parts.append(v)
    return _frame(b"D", b"".join(parts))


def command_complete(tag: str) -> bytes:
    return _frame(b"C", _cstr(tag))


def empty_query_response() -> bytes:
    return b"I\0\0\0\x04"


def parse_complete() -> bytes:
    return b"1\0\0\0\x04"


def bind_complete() -> bytes:
    return b"2\0\0\0\x04"


def close_complete() -> bytes:
    return b"3\0\0\0\x04"


def no_data() -> bytes:
    return b"n\0\0\0\x04"


def portal_suspended() -> bytes:
    return b"s\0\0\0\x04"


def parameter_description(oids: Sequence[int]) -> bytes:
    return _frame(b"t", _I16.pack(len(oids)) + b"".join(struct.pack("!I", o) for o in oids))


def copy_in_response(overall_format: int, column_formats: Sequence[int]) -> bytes:
    return _frame(b"G", bytes([overall_format]) + _I16.pack(len(column_formats))
                  + b"".join(_I16.pack(f) for f in column_formats))


def copy_out_response(overall_format: int, column_formats: Sequence[int]) -> bytes:
    return _frame(b"H", bytes([overall_format]) + _I16.pack(len(column_formats))
                  + b"".join(_I16.pack(f) for f in column_formats))


def copy_data(data: bytes) -> bytes:
    return _frame(b"d", data)


def copy_done() -> bytes:
    return b"c\0\0\0\x04"


def copy_fail(message: str) -> bytes:
    return _frame(b"f", _cstr(message))


def ssl_response(accept: bool) -> bytes:
    return b"S" if accept else b"N"


def _notice_fields(err: PgError, severity: str) -> bytes:
    fields = [(b"S", severity), (b"V", severity), (b"C", err.sqlstate), (b"M", err.message)]
    if err.detail:
        fields.append((b"D", err.detail))
    if err.hint:
        fields.append((b"H", err.hint))
    if err.position:
        fields.append((b"P", str(err.position)))
    return b"".join(k + _cstr(str(v)) for k, v in fields) + b"\0"


def error_response(err: PgError, severity: str | None = None) -> bytes:
    """ErrorResponse from a PgError; severity defaults to the error's own (ERROR/FATAL/PANIC)."""
    return _frame(b"E", _notice_fields(err, severity or err.severity or "ERROR"))


def notice_response(err: PgError, severity: str = "NOTICE") -> bytes:
    return _frame(b"N", _notice_fields(err, severity))


# --------------------------------------------------------------------------- backend parsing (clients, tests)

@dataclasses.dataclass
class BackendMessage:
    type: str
    payload: bytes

    def fields(self) -> dict[str, str]:
        """Fields of an ErrorResponse/NoticeResponse by code letter."""
        out = {}
        for part in self.payload.split(b"\0"):
            if part:
                out[chr(part[0])] = part[1:].decode("utf-8")
        return out

    def data_row(self) -> list[bytes | None]:
        r = _Reader(self.payload)
        out: list[bytes | None] = []
        for _ in range(r.int16()):
            ln = r.int32()
            out.append(None if ln == -1 else r.bytes_(ln))
        return out

    def row_description(self) -> list[FieldDescription]:
        r = _Reader(self.payload)
        out = []
        for _ in range(r.int16()):
            name = r.cstring()
            toid, attnum, typ, typlen, typmod, fmt = _FIELD.unpack(r.bytes_(_FIELD.size))
            out.append(FieldDescription(name, typ, typlen, typmod, fmt, toid, attnum))
        return out

    def cstring(self) -> str:
        return self.payload.rstrip(b"\0").decode("utf-8")


def parse_backend(data: bytes) -> list[BackendMessage]:
    return [BackendMessage(t.decode("ascii"), bytes(p)) for t, p in split_frames(data)]
