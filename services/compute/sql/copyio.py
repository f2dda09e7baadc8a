"""COPY ... FROM STDIN / TO STDOUT: PostgreSQL's text, CSV and binary formats.

The protocol layer moves the CopyData payloads. A reader (`reader_for`) turns them into records as
they arrive - `feed(data)` returns the records completed so far, `finish()` the rest - so a COPY
meets the transaction limits while it streams; `format_row`, `binary_header` and `binary_row` turn
rows into payloads. Text and CSV records are lists of str (None: NULL), binary ones lists of bytes.
Option checks and their messages are PostgreSQL 15's (ProcessCopyOptions).
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import struct

from services.common import errors
from services.common.errors import PgError

from . import types as T

_TEXT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_TEXT_OUT = str.maketrans({"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                           "\v": "\\v"})
BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\0"
_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")


def _bad_data(message: str) -> PgError:
    return PgError(message, sqlstate="22P04")


@dataclasses.dataclass
class CopyOptions:
    format: str = "text"            # text / csv / binary
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    header_match: bool = False      # COPY FROM: the header must name the columns
    quote: str = '"'
    escape: str = '"'
    force_quote: frozenset = frozenset()       # column positions
    force_not_null: frozenset = frozenset()
    force_null: frozenset = frozenset()


def _syntax(message: str) -> PgError:
    return PgError(message, sqlstate="42601")


def _bool_option(name: str, arg) -> bool:
    if arg is None:
        return True
    v = getattr(arg, "boolval", None)
    if v is not None:
        return bool(v)
    v = getattr(arg, "ival", None)
    if v in (0, 1):
        return bool(v)
    s = str(getattr(arg, "sval", "")).lower()
    if s in ("true", "on", "yes", "1", "t", "y"):
        return True
    if s in ("false", "off", "no", "0", "f", "n"):
        return False
    raise _syntax(f"{name} requires a Boolean value")


def _string_option(name: str, arg) -> str:
    v = getattr(arg, "sval", None)
    if v is None:
        raise _syntax(f"{name} requires a string value" if arg is None else f"{name} requires a string value")
    return v


def _column_list(name: str, arg, star_ok: bool) -> tuple | str:
    if star_ok and type(arg).__name__ == "A_Star":
        return "*"
    if isinstance(arg, (list, tuple)) and all(getattr(a, "sval", None) is not None for a in arg):
        return tuple(a.sval for a in arg)
    raise PgError(f'argument to option "{name}" must be a list of column names', sqlstate="22023")


def parse_options(options, *, is_from: bool, table=None, columns: list[str]) -> CopyOptions:
    """Check the options of COPY as PostgreSQL 15 does. `columns` are the copied columns' names;
    `table` (a catalog table, None for COPY (query) TO) resolves FORCE_* column names."""
    given: dict = {}
    for d in options or ():
        name = d.defname.lower()
        if name in given:
            raise _syntax("conflicting or redundant options")
        given[name] = d.arg
    o = CopyOptions()
    for name in given:
        if name not in ("format", "freeze", "delimiter", "null", "header", "quote", "escape", "force_quote",
                        "force_not_null", "force_null", "encoding"):
            raise _syntax(f'option "{name}" not recognized')
    if "format" in given:
        fmt = _string_option("format", given["format"]).lower()
        if fmt not in ("text", "csv", "binary"):
            raise PgError(f'COPY format "{fmt}" not recognized', sqlstate="22023")
        o.format = fmt
    csv, binary = o.format == "csv", o.format == "binary"
    if "freeze" in given:
        _bool_option("freeze", given["freeze"])
    if "encoding" in given:
        enc = _string_option("encoding", given["encoding"]).upper().replace("-", "").replace("_", "")
        if enc not in ("UTF8", "UNICODE", "SQLASCII"):
            raise PgError('argument to option "encoding" must be a valid encoding name', sqlstate="22023")
    if "header" in given:
        arg = given["header"]
        if getattr(arg, "sval", "").lower() == "match":
            if not is_from:
                raise errors.FeatureNotSupported('cannot use "match" with HEADER in COPY TO')
            o.header = o.header_match = True
        else:
            try:
                o.header = _bool_option("header", arg)
            except PgError:
                raise _syntax('header requires a Boolean value or "match"') from None
    if binary:
        for name in ("delimiter", "null"):
            if name in given:
                raise _syntax(f"cannot specify {name.upper()} in BINARY mode")
        if "header" in given:
            raise errors.FeatureNotSupported("cannot specify HEADER in BINARY mode")
    if csv:
        o.delimiter, o.null = ",", ""
    if "delimiter" in given:
        o.delimiter = _string_option("delimiter", given["delimiter"])
    if "null" in given:
        o.null = _string_option("null", given["null"])
    if "quote" in given:
        if not csv:
            raise errors.FeatureNotSupported("COPY quote available only in CSV mode")
        o.quote = _string_option("quote", given["quote"])
    o.escape = o.quote
    if "escape" in given:
        if not csv:
            raise errors.FeatureNotSupported("COPY escape available only in CSV mode")
        o.escape = _string_option("escape", given["escape"])
    if len(o.delimiter.encode()) != 1:
        raise errors.FeatureNotSupported("COPY delimiter must be a single one-byte character")
    if o.delimiter in "\r\n":
        raise PgError("COPY delimiter cannot be newline or carriage return", sqlstate="22023")
    if "\r" in o.null or "\n" in o.null:
        raise PgError("COPY null representation cannot use newline or carriage return", sqlstate="22023")
    if not csv and o.delimiter in "\\.abcdefghijklmnopqrstuvwxyz0123456789":
        raise PgError(f'COPY delimiter cannot be "{o.delimiter}"', sqlstate="22023")
    if csv:
        if len(o.quote.encode()) != 1:
            raise errors.FeatureNotSupported("COPY quote must be a single one-byte character")
        if o.delimiter == o.quote:
            raise PgError("COPY delimiter and quote must be different", sqlstate="22023")
        if len(o.escape.encode()) != 1:
            raise errors.FeatureNotSupported("COPY escape must be a single one-byte character")
    for name, direction in (("force_quote", "COPY TO"), ("force_not_null", "COPY FROM"),
                            ("force_null", "COPY FROM")):
        if name not in given:
            continue
        words = name.replace("_", " ")
        if not csv:
            raise errors.FeatureNotSupported(f"COPY {words} available only in CSV mode")
        if is_from != (direction == "COPY FROM"):
            raise errors.FeatureNotSupported(f"COPY {words} only available using {direction}")
        names = _column_list(name, given[name], star_ok=name == "force_quote")
        positions = range(len(columns)) if names == "*" else [
            _force_position(name, n, table, columns) for n in names]
        setattr(o, name, frozenset(positions))
    if not binary and o.delimiter in o.null:
        raise errors.FeatureNotSupported("COPY delimiter must not appear in the NULL specification")
    if csv and o.quote in o.null:
        raise errors.FeatureNotSupported("CSV quote character must not appear in the NULL specification")
    return o


def _force_position(option: str, name: str, table, columns: list[str]) -> int:
    if table is not None and table.column(name) is None:
        raise errors.UndefinedColumn(f'column "{name}" of relation "{table.name}" does not exist')
    if name not in columns:
        raise PgError(f'{option.upper()} column "{name}" not referenced by COPY', sqlstate="42P10")
    return columns.index(name)


# --------------------------------------------------------------------------- reading

class _Reader:
    """Records from a stream of CopyData payloads; `\\.` alone on a line ends the data."""

    def __init__(self, o: CopyOptions, columns: list[str]):
        self.o = o
        self.columns = columns
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._header_pending = o.header
        self.ended = False                 # saw the end-of-data marker
        self.eol: str | None = None        # the first line's ending; every line must use it

    def _decode(self, data: bytes, final: bool) -> str:
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError as e:
            bad = " ".join(f"0x{b:02x}" for b in e.object[e.start:e.end])
            raise PgError(f'invalid byte sequence for encoding "UTF8": {bad}', sqlstate="22021") from None

    def _check_eol(self, eol: str) -> None:
        if self.eol is None:
            self.eol = eol
        elif eol != self.eol:
            newline = self.eol == "\r" or eol == "\n"
            csv = self.o.format == "csv"
            what = "newline" if newline else "carriage return"
            raise PgError(f"{'unquoted' if csv else 'literal'} {what} found in data", sqlstate="22P04",
                          hint=f"Use quoted CSV field to represent {what}." if csv else
                          f'Use "{chr(92)}{"n" if newline else "r"}" to represent {what}.')

    def feed(self, data: bytes) -> list[list]:
        if self.ended:
            return []
        self._buf += self._decode(data, False)
        return self._records(final=False)

    def finish(self) -> list[list]:
        if self.ended:
            return []
        self._buf += self._decode(b"", True)
        return self._records(final=True)

    def _records(self, final: bool) -> list[list]:
        out = []
        for rec in self._split(final):
            if rec is None:               # the end-of-data marker
                self.ended = True
                break
            if self._header_pending:
                self._header_pending = False
                if self.o.header_match:
                    self._match_header(rec)
                continue
            out.append(rec)
        return out

    def _match_header(self, rec: list) -> None:
        if len(rec) != len(self.columns):
            raise _bad_data(f"wrong number of fields in header line: got {len(rec)}, expected {len(self.columns)}")
        for i, (got, want) in enumerate(zip(rec, self.columns), start=1):
            if got is None:
                raise _bad_data(f'column name mismatch in header line field {i}: got null value ("{self.o.null}"), '
                                f'expected "{want}"')
            if got != want:
                raise _bad_data(f'column name mismatch in header line field {i}: got "{got}", expected "{want}"')


class TextReader(_Reader):
    _EOL = re.compile(r"\r\n?|\n")

    def _split(self, final: bool):
        text, pos = self._buf, 0
        while True:
            m = self._EOL.search(text, pos)
            if m is None or (m.end() == len(text) and m.group() == "\r" and not final):
                break                          # a last \r may be the start of \r\n
            self._check_eol(m.group())
            line, pos = text[pos:m.start()], m.end()
            if line == "\\.":
                self._buf = ""
                yield None
                return
            yield self.split_line(line)
        self._buf = text[pos:]
        if final and self._buf:
            line, self._buf = self._buf, ""
            if line != "\\.":
                yield self.split_line(line)

    def split_line(self, line: str) -> list[str | None]:
        o = self.o
        if "\\" not in line:
            return [None if f == o.null else f for f in line.split(o.delimiter)]
        fields: list[str | None] = []
        raw_start, out, i, n = 0, [], 0, len(line)
        while True:
            if i >= n or line[i] == o.delimiter:
                raw = line[raw_start:i]           # NULL is matched before de-escaping, as PostgreSQL
                fields.append(None if raw == o.null else "".join(out))
                if i >= n:
                    return fields
                i += 1
                raw_start, out = i, []
                continue
            c = line[i]
            if c != "\\" or i + 1 >= n:
                out.append(c)
                i += 1
                continue
            nx = line[i + 1]
            if nx in _TEXT_ESCAPES:
                out.append(_TEXT_ESCAPES[nx])
                i += 2
            elif nx in "01234567":
                j = i + 1
                while j < n and j < i + 4 and line[j] in "01234567":
                    j += 1
                out.append(chr(int(line[i + 1:j], 8) & 0xFF))
                i = j
            elif nx == "x" and i + 2 < n and line[i + 2] in "0123456789abcdefABCDEF":
                j = i + 2
                while j < n and j < i + 4 and line[j] in "0123456789abcdefABCDEF":
                    j += 1
                out.append(chr(int(line[i + 2:j], 16)))
                i = j
            else:
                out.append(nx)
                i += 2


class CsvReader(_Reader):
    def __init__(self, o: CopyOptions, columns: list[str]):
        super().__init__(o, columns)
        d, q, e = (re.escape(c) for c in (o.delimiter, o.quote, o.escape))
        self._plain = re.compile(f"[{d}{q}\r\n]")            # ends an unquoted stretch
        self._quoted = re.compile(f"[{q}{e}]")               # ends a quoted stretch

    def _split(self, final: bool):
        """Complete records of the buffer (all of it when final); keeps an incomplete tail."""
        o, text = self.o, self._buf
        n, pos = len(text), 0
        while pos < n:
            rec, end = self._record(text, pos, final)
            if rec is None:
                break                      # incomplete record: wait for more data
            if end - pos >= 2 and text.startswith("\\.", pos) and rec == ["\\."] and self._unquoted_marker:
                self._buf = ""
                yield None
                return
            pos = end
            yield rec
        self._buf = text[pos:]
        if final and self._buf:
            raise _bad_data("unterminated CSV quoted field")

    def _record(self, text: str, pos: int, final: bool):
        """(fields, position after the record's line end), or (None, pos) when incomplete."""
        o, n = self.o, len(text)
        fields: list[str | None] = []
        part: list[str] = []
        quoted = False
        self._unquoted_marker = True
        while True:
            m = self._plain.search(text, pos)
            if m is None:
                if not final:
                    return None, pos
                part.append(text[pos:])
                fields.append(self._field(part, quoted, len(fields)))
                return fields, n
            part.append(text[pos:m.start()])
            c = m.group()
            pos = m.end()
            if c == o.quote:
                quoted = True
                self._unquoted_marker = False
                while True:
                    q = self._quoted.search(text, pos)
                    if q is None:
                        if final:
                            raise _bad_data("unterminated CSV quoted field")
                        return None, pos
                    part.append(text[pos:q.start()])
                    pos = q.end()
                    ch = q.group()
                    if ch == o.escape and pos < n and text[pos] in (o.quote, o.escape) and \
                            (o.escape != o.quote or text[pos] == o.quote):
                        part.append(text[pos])
                        pos += 1
                        continue
                    if ch == o.escape and o.escape != o.quote:
                        if pos >= n and not final:
                            return None, pos
                        part.append(ch)
                        continue
                    if ch == o.quote and o.escape == o.quote and pos >= n and not final:
                        return None, pos           # a doubled quote may be split across payloads
                    break                          # closing quote
                continue
            if c == o.delimiter:
                fields.append(self._field(part, quoted, len(fields)))
                part, quoted = [], False
                continue
            # end of line (\n, \r or \r\n)
            if c == "\r":
                if pos >= n and not final:
                    return None, pos - 1
                if pos < n and text[pos] == "\n":
                    pos += 1
                    c = "\r\n"
            self._check_eol(c)
            fields.append(self._field(part, quoted, len(fields)))
            return fields, pos

    def _field(self, part: list[str], quoted: bool, index: int) -> str | None:
        v = "".join(part)
        o = self.o
        if v == o.null and ((not quoted and index not in o.force_not_null) or (quoted and index in o.force_null)):
            return None
        return v


class BinaryReader(_Reader):
    def __init__(self, o: CopyOptions, columns: list[str]):
        super().__init__(o, columns)
        self._raw = bytearray()
        self._header_done = False

    def feed(self, data: bytes) -> list[list]:
        if self.ended:
            return []
        self._raw += data
        return self._tuples(final=False)

    def finish(self) -> list[list]:
        if self.ended:
            return []
        out = self._tuples(final=True)
        if not self.ended and self._raw:
            raise _bad_data("unexpected EOF in COPY data")
        return out

    def _tuples(self, final: bool) -> list[list]:
        raw, pos, out = self._raw, 0, []
        if not self._header_done:
            if len(raw) < 19:
                if final:
                    raise _bad_data("COPY file signature not recognized" if raw[:11] != BINARY_SIGNATURE[:len(raw)]
                                    else "invalid COPY file header (missing flags)")
                return []
            if bytes(raw[:11]) != BINARY_SIGNATURE:
                raise _bad_data("COPY file signature not recognized")
            flags = _I32.unpack_from(raw, 11)[0]
            if flags & (1 << 16):
                raise _bad_data("invalid COPY file header (WITH OIDS)")
            if flags & 0xFFFE0000:
                raise _bad_data("unrecognized critical flags in COPY file header")
            ext = _I32.unpack_from(raw, 15)[0]
            if ext < 0:
                raise _bad_data("invalid COPY file header (missing length)")
            if len(raw) < 19 + ext:
                if final:
                    raise _bad_data("invalid COPY file header (wrong length)")
                return []
            pos = 19 + ext
            self._header_done = True
        ncols = len(self.columns)
        while True:
            if len(raw) - pos < 2:
                break
            count = _I16.unpack_from(raw, pos)[0]
            if count == -1:
                self.ended = True
                pos = len(raw)
                break
            if count != ncols:
                raise _bad_data(f"row field count is {count}, expected {ncols}")
            p, fields = pos + 2, []
            for _ in range(count):
                if len(raw) - p < 4:
                    fields = None
                    break
                ln = _I32.unpack_from(raw, p)[0]
                p += 4
                if ln == -1:
                    fields.append(None)
                    continue
                if ln < 0:
                    raise _bad_data("invalid field size")
                if len(raw) - p < ln:
                    fields = None
                    break
                fields.append(bytes(raw[p:p + ln]))
                p += ln
            if fields is None:
                break
            out.append(fields)
            pos = p
        del raw[:pos]
        return out


def reader_for(o: CopyOptions, columns: list[str]) -> _Reader:
    return {"text": TextReader, "csv": CsvReader, "binary": BinaryReader}[o.format](o, columns)


# --------------------------------------------------------------------------- writing

def format_row(values, oids, o: CopyOptions) -> bytes:
    """One text or CSV line of a row (the header line is a row of column names as text)."""
    out = []
    single = len(values) == 1
    for i, (v, oid) in enumerate(zip(values, oids)):
        if v is None:
            out.append(o.null)
            continue
        s = T.encode_text(oid, v)
        if o.format == "csv":
            if i in o.force_quote or s == o.null or (single and s == "\\.") or \
                    any(ch in s for ch in (o.delimiter, o.quote, "\n", "\r")):
                s = o.quote + "".join(o.escape + ch if ch in (o.quote, o.escape) else ch for ch in s) + o.quote
        else:
            s = s.translate(_TEXT_OUT)
            if o.delimiter != "\t":
                s = s.replace(o.delimiter, "\\" + o.delimiter)
        out.append(s)
    return (o.delimiter.join(out) + "\n").encode("utf-8")


def binary_header() -> bytes:
    return BINARY_SIGNATURE + _I32.pack(0) + _I32.pack(0)


BINARY_TRAILER = _I16.pack(-1)


def binary_row(values, oids) -> bytes:
    parts = [_I16.pack(len(values))]
    for v, oid in zip(values, oids):
        if v is None:
            parts.append(_I32.pack(-1))
        else:
            b = T.encode_binary(oid, v)
            parts.append(_I32.pack(len(b)))
            parts.append(b)
    return b"".join(parts)
