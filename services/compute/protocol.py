"""The PostgreSQL protocol state machine of one session (sans-I/O).

The compute server feeds it whole frontend messages (as the relay frames them)
and sends back what it returns; everything here is synchronous and runs in a
worker thread, because the SQL engine underneath is synchronous.

    proto = Protocol(sql_session)
    first = startup_messages(...)             # ParameterStatus..., BackendKeyData, ReadyForQuery
    chunks = proto.process(data)              # list of bytes to send now (whole backend messages)
    proto.closed                              # the session is over (Terminate or FATAL)

It implements simple query (several statements per string), the extended
query protocol (named and unnamed statements and portals, Describe, Execute
row limits with PortalSuspended, text and binary formats) and error recovery
(discard until Sync). Output is held back until Sync, Flush, the end of a
simple query or a size threshold, as PostgreSQL's send buffer does.

The engine API (docs/ARCHITECTURE.md): `session.parse(sql) -> list[Statement]`,
`session.prepare(stmt, param_oids) -> Prepared(.param_oids, .columns)`,
`session.execute(prepared, params) -> Result(.columns, .rows, .tag)`,
`session.txn_status`. Values are converted by `services.compute.sql.types`
(`encode_text/decode_text/encode_binary/decode_binary`), or by the codec given.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from typing import Any, Iterator, Sequence

from services.common import pgwire
from services.common.errors import PgError, ProtocolViolation
from services.compute.sql.activity import NamedStatement as _Statement   # protocol-level: from_sql=False

log = logging.getLogger(__name__)

FLUSH_THRESHOLD = 256 * 1024      # flush output early once this much is buffered
CHUNK_BYTES = 1024 * 1024         # at most this much per returned chunk (except one larger message)

SERVER_VERSION = "16.9"


class TypesCodec:
    """Value conversion through services.compute.sql.types (imported on first use)."""

    def __init__(self, module: Any = None):
        self._m = module

    @property
    def m(self):
        if self._m is None:
            from services.compute.sql import types
            self._m = types
        return self._m

    def encode_text(self, oid: int, value: Any) -> bytes:
        v = self.m.encode_text(oid, value)
        return v.encode("utf-8") if isinstance(v, str) else bytes(v)

    def encode_binary(self, oid: int, value: Any) -> bytes:
        return bytes(self.m.encode_binary(oid, value))

    def decode_text(self, oid: int, data: bytes) -> Any:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PgError('invalid byte sequence for encoding "UTF8"', sqlstate="22021") from None
        return self.m.decode_text(oid, text)

    def decode_binary(self, oid: int, data: bytes) -> Any:
        return self.m.decode_binary(oid, data)


def startup_messages(*, user: str, database: str, options: dict[str, str], backend_pid: int,
                     cancel_secret: int, txn_status: str = "I", is_superuser: bool | None = None) -> bytes:
    """What a new session sends after AuthenticationOk (which the relay sends)."""
    if is_superuser is None:
        is_superuser = user == "admin"
    params = [
        ("server_version", SERVER_VERSION),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("TimeZone", "UTC"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("application_name", options.get("application_name", "")),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "on" if is_superuser else "off"),
        ("session_authorization", user),
        ("in_hot_standby", "off"),
        ("default_transaction_read_only", "off"),
    ]
    out = [pgwire.parameter_status(k, v) for k, v in params]
    out.append(pgwire.backend_key_data(backend_pid, cancel_secret))
    out.append(pgwire.ready_for_query(txn_status))
    return b"".join(out)


@dataclasses.dataclass
class _CopyIn:
    prepared: Any
    load: Any                          # the session's COPY loader: feed(data), finish(), abort(error)
    simple: bool                       # started by a simple Query (then `rest` follows it)
    rest: list = dataclasses.field(default_factory=list)
    implicit: bool = False             # the simple Query runs as one implicit transaction
    portal: Any = None


# Settings whose changes are reported with ParameterStatus: engine name -> reported name.
REPORTED = {"application_name": "application_name", "datestyle": "DateStyle", "intervalstyle": "IntervalStyle",
            "timezone": "TimeZone", "client_encoding": "client_encoding", "is_superuser": "is_superuser",
            "session_authorization": "session_authorization",
            "standard_conforming_strings": "standard_conforming_strings"}

_NOTICE_CODES = {"there is already a transaction in progress": ("WARNING", "25001"),
                 "there is no transaction in progress": ("WARNING", "25P01")}


@dataclasses.dataclass
class _Portal:
    name: str
    statement: _Statement
    params: list[Any]
    result_formats: list[int]          # resolved, one per column (may be [] when no columns)
    rows: Iterator | None = None       # set on first Execute
    columns: Any = None
    tag: str = ""
    started: bool = False
    done: bool = False
    suspended: bool = False


_COUNT_TAG = re.compile(r"^(SELECT|FETCH|MOVE|COPY) \d+$")

# DEALLOCATE acts on the protocol-level prepared statements, which live here, so the protocol
# layer runs it itself (drivers such as psycopg send it after ROLLBACK and when their cache rotates).
_DEALLOCATE = re.compile(
    r'^\s*DEALLOCATE\s+(?:PREPARE\s+)?(?:(?P<all>ALL)|"(?P<quoted>(?:[^"]|"")+)"|(?P<name>[A-Za-z_][\w$]*))'
    r'\s*;?\s*$', re.IGNORECASE | re.DOTALL)


@dataclasses.dataclass
class _Deallocate:
    """A prepared DEALLOCATE: executed by the protocol layer, not the engine."""
    target: str | None          # None: ALL
    param_oids: tuple = ()
    columns: Any = None


def _match_deallocate(sql: str) -> _Deallocate | None:
    m = _DEALLOCATE.match(sql)
    if m is None:
        return None
    if m.group("all"):
        return _Deallocate(None)
    if m.group("quoted") is not None:
        return _Deallocate(m.group("quoted").replace('""', '"'))
    return _Deallocate(m.group("name").lower())


def _field_descriptions(columns, formats: Sequence[int]) -> list[pgwire.FieldDescription]:
    out = []
    for i, c in enumerate(columns):
        typlen = getattr(c, "typlen", -1)
        typmod = getattr(c, "typmod", -1)
        out.append(pgwire.FieldDescription(
            name=c.name, type_oid=int(c.type_oid),
            typlen=-1 if typlen is None else int(typlen),
            typmod=-1 if typmod is None else int(typmod),
            format=formats[i] if i < len(formats) else 0,
            table_oid=int(getattr(c, "table_oid", 0) or 0),
            column_attnum=int(getattr(c, "column_attnum", 0) or getattr(c, "attnum", 0) or 0)))
    return out


def _resolve_formats(formats: Sequence[int], n: int, what: str) -> list[int]:
    for f in formats:
        if f not in (0, 1):
            raise ProtocolViolation(f"unsupported format code: {f}")
    if len(formats) == 0:
        return [0] * n
    if len(formats) == 1:
        return [formats[0]] * n
    if len(formats) == n:
        return list(formats)
    if what == "param":
        raise ProtocolViolation(f"bind message has {len(formats)} parameter formats but {n} parameters")
    raise ProtocolViolation(f"bind message has {len(formats)} result formats but query has {n} columns")


def _internal(exc: BaseException) -> PgError:
    return PgError(f"internal error: {type(exc).__name__}: {exc}", sqlstate="XX000")


class Protocol:
    def __init__(self, session: Any, codec: Any = None):
        self.session = session
        self.codec = codec or TypesCodec()
        # named statements: the session's dict when it keeps one (SQL PREPARE shares the namespace)
        shared = getattr(session, "prepared_statements", None)
        self.statements: dict[str, _Statement] = shared if isinstance(shared, dict) else {}
        self.portals: dict[str, _Portal] = {}
        self.skip_until_sync = False
        self.closed = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._ready: list[bytes] = []
        self._parser = pgwire.FrontendParser(startup=False)
        self._copy: _CopyIn | None = None           # COPY FROM STDIN in progress
        self._reported: dict[str, str] = {}         # ParameterStatus values the client has
        settings = getattr(session, "settings", None)
        if isinstance(settings, dict):
            self._reported = {name: str(settings[k]) for k, name in REPORTED.items() if k in settings}

    # ------------------------------------------------------------------ output

    def _send(self, msg: bytes) -> None:
        self._out.append(msg)
        self._out_size += len(msg)
        if self._out_size >= FLUSH_THRESHOLD:
            self._flush()

    def _flush(self) -> None:
        if not self._out:
            return
        chunk: list[bytes] = []
        size = 0
        for m in self._out:
            if chunk and size + len(m) > CHUNK_BYTES:
                self._ready.append(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(m)
            size += len(m)
        if chunk:
            self._ready.append(b"".join(chunk))
        self._out = []
        self._out_size = 0

    def _take_ready(self) -> list[bytes]:
        r, self._ready = self._ready, []
        return r

    def _txn_status(self) -> str:
        try:
            s = self.session.txn_status
        except Exception:  # noqa: BLE001 - a broken engine must not break the wire
            return "I"
        return s if s in ("I", "T", "E") else "I"

    # ------------------------------------------------------------------ input

    def process(self, data: bytes) -> list[bytes]:
        """Handle frontend bytes (whole messages, or pieces); return chunks to send now."""
        if self.closed:
            return []
        try:
            self._parser.feed(data)
            while not self.closed:
                msg = self._parser.next_message()
                if msg is None:
                    break
                self.handle(msg)
        except PgError as e:          # a framing error: the stream cannot be trusted any more
            self._fatal(e)
        except Exception as e:  # noqa: BLE001 - a bug here must end the session cleanly
            log.exception("protocol failure")
            self._fatal(_internal(e))
        return self._take_ready()

    def _fatal(self, e: PgError) -> None:
        self._send(pgwire.error_response(e, "FATAL"))
        self._flush()
        self.closed = True

    def _error(self, e: BaseException) -> None:
        if not isinstance(e, PgError):
            log.exception("internal error in session", exc_info=e)
            e = _internal(e)
        if e.severity == "FATAL":
            self._fatal(e)
            return
        self._send(pgwire.error_response(e))

    def handle(self, msg: pgwire.FrontendMessage) -> None:
        if isinstance(msg, pgwire.Terminate):
            self._flush()
            self.closed = True
            return
        if self._copy is not None:
            self._copy_message(msg)
            return
        if isinstance(msg, pgwire.Sync):
            self.skip_until_sync = False
            self._sync()
            return
        if self.skip_until_sync:
            return
        if isinstance(msg, pgwire.Query):
            self._simple_query(msg.sql)
            return
        if isinstance(msg, pgwire.Flush):
            self._flush()
            return
        if isinstance(msg, (pgwire.CopyData, pgwire.CopyDone, pgwire.CopyFail)):
            return                    # not in COPY: ignored, as PostgreSQL does
        handler = {
            pgwire.Parse: self._parse, pgwire.Bind: self._bind, pgwire.Describe: self._describe,
            pgwire.Execute: self._execute, pgwire.Close: self._close,
        }.get(type(msg))
        if handler is None:
            if isinstance(msg, pgwire.FunctionCall):
                self._error(PgError("the fastpath function call protocol is not supported",
                                    sqlstate="0A000"))
                self.skip_until_sync = True
                return
            t = msg.type if isinstance(msg, pgwire.UnknownMessage) else b"?"
            self._fatal(ProtocolViolation(f"invalid frontend message type {t[0] if t else 0}"))
            return
        try:
            handler(msg)
        except Exception as e:  # noqa: BLE001
            self._abort_implicit()
            self._error(e)
            self.skip_until_sync = True
            if self.closed:
                return

    # ------------------------------------------------------------------ simple query

    def _simple_query(self, sql: str) -> None:
        # The unnamed statement and portal do not survive a simple query.
        self.statements.pop("", None)
        self.portals.pop("", None)
        dealloc = _match_deallocate(sql)
        if dealloc is not None:
            try:
                self._send(pgwire.command_complete(self._run_deallocate(dealloc)))
            except PgError as e:
                self._error(e)
            self._send(pgwire.ready_for_query(self._txn_status()))
            self._flush()
            return
        try:
            stmts = self.session.parse(sql)
        except Exception as e:  # noqa: BLE001
            self._error(e)
            if not self.closed:
                self._send(pgwire.ready_for_query(self._txn_status()))
                self._flush()
            return
        if not stmts:
            self._send(pgwire.empty_query_response())
        self._run_simple(list(stmts), implicit=len(stmts) > 1)

    def _run_simple(self, stmts: list, implicit: bool) -> None:
        """Run the statements of a simple Query; stops early to wait for COPY data. Several
        statements run in one implicit transaction (all or nothing unless they say BEGIN/COMMIT)."""
        try:
            while stmts:
                stmt = stmts.pop(0)
                if implicit:
                    self.session.begin_implicit()
                prepared = self.session.prepare(stmt, [])
                if prepared.param_oids:
                    raise PgError("there is no parameter $1", sqlstate="42P02")
                kind = getattr(prepared, "kind", None)
                if kind == "copy_in":
                    self._start_copy_in(_CopyIn(prepared, self.session.copy_in_start(prepared), True, stmts,
                                                implicit))
                    return
                if kind == "copy_out":
                    self._copy_out(prepared)
                    continue
                result = self.session.execute(prepared, [])
                self._notices(result)
                columns = getattr(result, "columns", None)
                if columns is None and getattr(result, "rows", None) is not None:
                    columns = prepared.columns
                if columns is not None:
                    formats = [0] * len(columns)
                    self._send(pgwire.row_description(_field_descriptions(columns, formats)))
                    oids = [int(c.type_oid) for c in columns]
                    for row in result.rows or ():
                        self._send(self._data_row(row, oids, formats))
                self._send(pgwire.command_complete(result.tag))
                self._after_tag(result.tag)
            self._send_notices(self.session.end_implicit())
        except Exception as e:  # noqa: BLE001
            self._abort_implicit()
            self._error(e)
            if self.closed:
                return
        self._send(pgwire.ready_for_query(self._txn_status()))
        self._flush()

    def _abort_implicit(self) -> None:
        """An error ends the implicit transaction: nothing of it is kept (as PostgreSQL)."""
        try:
            self.session.end_implicit(commit=False)
        except Exception:  # noqa: BLE001 - the error being reported matters more
            log.exception("rolling back the implicit transaction failed")

    # ------------------------------------------------------------------ COPY

    def _start_copy_in(self, c: _CopyIn) -> None:
        cols = getattr(c.prepared, "copy_columns", None) or []
        fmt = 1 if getattr(getattr(c.prepared, "copy_options", None), "format", "text") == "binary" else 0
        self._copy = c
        self._send(pgwire.copy_in_response(fmt, [fmt] * len(cols)))
        self._flush()

    def _copy_message(self, msg: pgwire.FrontendMessage) -> None:
        c = self._copy
        assert c is not None
        if isinstance(msg, (pgwire.Flush, pgwire.Sync)):
            return                    # ignored during COPY IN, as PostgreSQL does
        try:
            if isinstance(msg, pgwire.CopyData):
                c.load.feed(msg.data)         # rows are inserted as they arrive
                return
            self._copy = None
            if isinstance(msg, pgwire.CopyDone):
                result = c.load.finish()
                self._notices(result)
                self._send(pgwire.command_complete(result.tag))
                if c.portal is not None:
                    c.portal.done = True
                    c.portal.tag = result.tag
            elif isinstance(msg, pgwire.CopyFail):
                c.load.abort(PgError(f"COPY from stdin failed: {msg.message}", sqlstate="57014"))
            elif isinstance(msg, pgwire.Terminate):
                self._flush()
                self.closed = True
                return
            else:
                t = msg.type if isinstance(msg, pgwire.UnknownMessage) else _TYPE_BYTE.get(type(msg), b"?")
                c.load.abort(ProtocolViolation(f"unexpected message type 0x{t[0]:02X} during COPY from stdin"))
        except Exception as e:  # noqa: BLE001 - the COPY is over; later CopyData is ignored
            self._copy = None
            self._abort_implicit()
            self._error(e)
            if self.closed:
                return
            if c.simple:
                self._send(pgwire.ready_for_query(self._txn_status()))
                self._flush()
            else:
                self.skip_until_sync = True
            return
        if c.simple:
            self._run_simple(c.rest, c.implicit)

    def _copy_out(self, prepared) -> None:
        payloads, result = self.session.copy_out(prepared)
        cols = getattr(prepared, "copy_columns", None) or []
        fmt = 1 if getattr(getattr(prepared, "copy_options", None), "format", "text") == "binary" else 0
        self._send(pgwire.copy_out_response(fmt, [fmt] * len(cols)))
        for chunk in payloads:
            self._send(pgwire.copy_data(chunk))
        self._send(pgwire.copy_done())
        self._notices(result)
        self._send(pgwire.command_complete(result.tag))

    def _notices(self, result) -> None:
        self._send_notices(getattr(result, "notices", None) or ())

    def _send_notices(self, notices) -> None:
        for n in notices:
            if isinstance(n, PgError):
                self._send(pgwire.notice_response(n, n.severity if n.severity != "ERROR" else "NOTICE"))
                continue
            sev, code = _NOTICE_CODES.get(str(n), ("NOTICE", "00000"))
            self._send(pgwire.notice_response(PgError(str(n), sqlstate=code), sev))

    def _run_deallocate(self, d: _Deallocate) -> str:
        if d.target is None:
            self.statements.clear()
            return "DEALLOCATE ALL"
        if d.target not in self.statements:
            raise PgError(f'prepared statement "{d.target}" does not exist', sqlstate="26000")
        del self.statements[d.target]
        return "DEALLOCATE"

    def report_settings(self) -> None:
        """ParameterStatus for reported settings the client does not know yet."""
        settings = getattr(self.session, "settings", None)
        if not isinstance(settings, dict):
            return
        for key, name in REPORTED.items():
            if key in settings:
                v = str(settings[key])
                if self._reported.get(name) != v:
                    self._reported[name] = v
                    self._send(pgwire.parameter_status(name, v))

    def _after_tag(self, tag: str) -> None:
        """Statements the engine ran that also reset protocol-level state."""
        if tag in ("SET", "RESET", "DISCARD ALL"):
            self.report_settings()
        if tag == "DISCARD ALL":
            self.statements.clear()
            self.portals = {k: v for k, v in self.portals.items() if k == ""}
        elif tag == "DEALLOCATE ALL":
            self.statements.clear()

    def _data_row(self, row: Sequence[Any], oids: Sequence[int], formats: Sequence[int]) -> bytes:
        enc_t = self.codec.encode_text
        enc_b = self.codec.encode_binary
        vals: list[bytes | None] = []
        for i, v in enumerate(row):
            if v is None:
                vals.append(None)
            elif formats[i] == 0:
                vals.append(enc_t(oids[i], v))
            else:
                vals.append(enc_b(oids[i], v))
        return pgwire.data_row(vals)

    # ------------------------------------------------------------------ extended query

    def _sync(self) -> None:
        try:
            self._send_notices(self.session.end_implicit())     # the pipeline's implicit transaction
        except Exception as e:  # noqa: BLE001
            self._error(e)
            if self.closed:
                return
        status = self._txn_status()
        if status == "I":
            # Portals live only as long as their transaction.
            self.portals.clear()
        self._send(pgwire.ready_for_query(status))
        self._flush()

    def _parse(self, msg: pgwire.Parse) -> None:
        if msg.name and msg.name in self.statements:
            raise PgError(f'prepared statement "{msg.name}" already exists', sqlstate="42P05")
        dealloc = _match_deallocate(msg.sql)
        if dealloc is not None:
            self.statements[msg.name] = _Statement(msg.name, msg.sql, None, dealloc, from_sql=False)
            self._send(pgwire.parse_complete())
            return
        stmts = self.session.parse(msg.sql)
        if len(stmts) > 1:
            raise PgError("cannot insert multiple commands into a prepared statement", sqlstate="42601")
        if not stmts:
            entry = _Statement(msg.name, msg.sql, None, None, from_sql=False)
        else:
            prepared = self.session.prepare(stmts[0], list(msg.param_oids))
            entry = _Statement(msg.name, msg.sql, stmts[0], prepared, from_sql=False)
        self.statements[msg.name] = entry
        self._send(pgwire.parse_complete())

    def _bind(self, msg: pgwire.Bind) -> None:
        entry = self.statements.get(msg.statement)
        if entry is None:
            if msg.statement:
                raise PgError(f'prepared statement "{msg.statement}" does not exist', sqlstate="26000")
            raise PgError("unnamed prepared statement does not exist", sqlstate="26000")
        if msg.portal and msg.portal in self.portals:
            raise PgError(f'portal "{msg.portal}" already exists', sqlstate="42P03")
        oids = entry.param_oids
        if len(msg.params) != len(oids):
            raise ProtocolViolation(
                f'bind message supplies {len(msg.params)} parameters, but prepared statement '
                f'"{msg.statement}" requires {len(oids)}')
        pformats = _resolve_formats(msg.param_formats, len(msg.params), "param")
        params: list[Any] = []
        for i, raw in enumerate(msg.params):
            if raw is None:
                params.append(None)
            elif pformats[i] == 0:
                params.append(self.codec.decode_text(oids[i], raw))
            else:
                params.append(self.codec.decode_binary(oids[i], raw))
        columns = entry.columns
        rformats = _resolve_formats(msg.result_formats, len(columns) if columns is not None else 0, "result") \
            if columns is not None else []
        if columns is None:
            for f in msg.result_formats:
                if f not in (0, 1):
                    raise ProtocolViolation(f"unsupported format code: {f}")
        self.portals[msg.portal] = _Portal(msg.portal, entry, params, rformats)
        self._send(pgwire.bind_complete())

    def _describe(self, msg: pgwire.Describe) -> None:
        if msg.kind == "S":
            entry = self.statements.get(msg.name)
            if entry is None:
                raise PgError(f'prepared statement "{msg.name}" does not exist', sqlstate="26000")
            self._send(pgwire.parameter_description(entry.param_oids))
            cols = entry.columns
            if cols is None:
                self._send(pgwire.no_data())
            else:
                self._send(pgwire.row_description(_field_descriptions(cols, [0] * len(cols))))
        else:
            portal = self.portals.get(msg.name)
            if portal is None:
                raise PgError(f'portal "{msg.name}" does not exist', sqlstate="34000")
            cols = portal.columns if portal.started and portal.columns is not None else portal.statement.columns
            if cols is None:
                self._send(pgwire.no_data())
            else:
                self._send(pgwire.row_description(_field_descriptions(cols, portal.result_formats)))

    def _execute(self, msg: pgwire.Execute) -> None:
        portal = self.portals.get(msg.portal)
        if portal is None:
            raise PgError(f'portal "{msg.portal}" does not exist', sqlstate="34000")
        entry = portal.statement
        if entry.prepared is None:
            self._send(pgwire.empty_query_response())
            return
        self.session.begin_implicit()       # everything up to Sync is one transaction
        if isinstance(entry.prepared, _Deallocate):
            if not portal.started:
                portal.started = portal.done = True
                portal.tag = self._run_deallocate(entry.prepared)
            self._send(pgwire.command_complete(portal.tag))
            return
        kind = getattr(entry.prepared, "kind", None)
        if kind in ("copy_in", "copy_out") and not portal.started:
            portal.started = True
            if kind == "copy_in":
                self._start_copy_in(_CopyIn(entry.prepared, self.session.copy_in_start(entry.prepared), False,
                                            portal=portal))
            else:
                portal.done = True
                self._copy_out(entry.prepared)
            return
        if not portal.started:
            portal.started = True
            entry.generic_plans += 1
            result = self.session.execute(entry.prepared, portal.params)
            self._notices(result)
            portal.tag = result.tag
            portal.columns = getattr(result, "columns", None)
            if portal.columns is None and entry.columns is not None and getattr(result, "rows", None) is not None:
                portal.columns = entry.columns
            if portal.columns is None:
                portal.done = True
                self._send(pgwire.command_complete(portal.tag))
                self._after_tag(portal.tag)
                return
            if len(portal.result_formats) != len(portal.columns):
                portal.result_formats = _resolve_formats(portal.result_formats[:1], len(portal.columns), "result")
            portal.rows = iter(result.rows or ())
        elif portal.done:
            # Executing a finished portal again yields nothing more.
            if portal.columns is None:
                self._send(pgwire.command_complete(portal.tag))
            else:
                self._send(pgwire.command_complete(self._count_tag(portal.tag, 0)))
            return
        oids = [int(c.type_oid) for c in portal.columns]
        formats = portal.result_formats
        limit = msg.max_rows if msg.max_rows > 0 else None
        rows = portal.rows
        sent = 0
        for row in (itertools.islice(rows, limit) if limit is not None else rows):
            self._send(self._data_row(row, oids, formats))
            sent += 1
        if limit is not None and sent == limit:
            # Look ahead: suspend only if there is more.
            nxt = next(rows, _END)
            if nxt is not _END:
                portal.rows = itertools.chain([nxt], rows)
                portal.suspended = True
                self._send(pgwire.portal_suspended())
                return
        portal.done = True
        tag = self._count_tag(portal.tag, sent) if portal.suspended else portal.tag
        self._send(pgwire.command_complete(tag))

    @staticmethod
    def _count_tag(tag: str, n: int) -> str:
        if _COUNT_TAG.match(tag or ""):
            return f"{tag.split(' ', 1)[0]} {n}"
        return tag

    def _close(self, msg: pgwire.Close) -> None:
        if msg.kind == "S":
            self.statements.pop(msg.name, None)
        else:
            self.portals.pop(msg.name, None)
        self._send(pgwire.close_complete())

    def close(self) -> None:
        self.closed = True
        self.statements.clear()
        self.portals.clear()


_END = object()

_TYPE_BYTE = {pgwire.Query: b"Q", pgwire.Parse: b"P", pgwire.Bind: b"B", pgwire.Describe: b"D",
              pgwire.Execute: b"E", pgwire.Close: b"C", pgwire.FunctionCall: b"F", pgwire.PasswordMessage: b"p"}
