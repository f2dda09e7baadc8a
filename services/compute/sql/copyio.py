"""COPY ... FROM STDIN / TO STDOUT: the text and CSV formats of PostgreSQL.

The protocol layer moves the CopyData payloads; this module turns them into rows (and
rows into payloads). Rows go through the same insert path as INSERT (constraints,
indexes, limits)."""

from __future__ import annotations

import dataclasses

from services.common import errors
from services.common.errors import PgError

from . import types as T

_TEXT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


@dataclasses.dataclass
class CopyOptions:
    format: str = "text"            # text / csv
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'


def parse_options(options) -> CopyOptions:
    o = CopyOptions()
    given = {}
    for d in options or ():
        name = d.defname.lower()
        arg = d.arg
        val = None
        if arg is not None:
            val = getattr(arg, "sval", None)
            if val is None:
                val = str(getattr(arg, "ival", getattr(arg, "boolval", "")))
        given[name] = val
    fmt = (given.get("format") or "text").lower()
    if fmt == "binary":
        raise errors.FeatureNotSupported("COPY BINARY is not supported yet")
    if fmt not in ("text", "csv"):
        raise PgError(f'COPY format "{fmt}" not recognized', sqlstate="22023")
    o.format = fmt
    if fmt == "csv":
        o.delimiter, o.null = ",", ""
    if "delimiter" in given:
        o.delimiter = given["delimiter"]
        if len(o.delimiter) != 1:
            raise errors.FeatureNotSupported("COPY delimiter must be a single one-byte character")
    if "null" in given:
        o.null = given["null"]
    if "header" in given:
        o.header = (given["header"] or "true").lower() in ("true", "on", "1", "match")
    if "quote" in given:
        o.quote = given["quote"]
    if "escape" in given:
        o.escape = given["escape"]
    elif fmt == "csv":
        o.escape = o.quote
    for name in given:
        if name not in ("format", "delimiter", "null", "header", "quote", "escape", "encoding"):
            raise errors.FeatureNotSupported(f'COPY option "{name}" is not supported')
    return o


def split_text_line(line: str, o: CopyOptions) -> list[str | None]:
    fields: list[str | None] = []
    raw_parts = line.split(o.delimiter)
    for raw in raw_parts:
        if raw == o.null:
            fields.append(None)
            continue
        if "\\" not in raw:
            fields.append(raw)
            continue
        out = []
        i = 0
        while i < len(raw):
            c = raw[i]
            if c != "\\" or i + 1 >= len(raw):
                out.append(c)
                i += 1
                continue
            n = raw[i + 1]
            if n in _TEXT_ESCAPES:
                out.append(_TEXT_ESCAPES[n])
                i += 2
            elif n in "01234567":
                j = i + 1
                while j < len(raw) and j < i + 4 and raw[j] in "01234567":
                    j += 1
                out.append(chr(int(raw[i + 1:j], 8)))
                i = j
            elif n == "x" and i + 2 < len(raw) and raw[i + 2] in "0123456789abcdefABCDEF":
                j = i + 2
                while j < len(raw) and j < i + 4 and raw[j] in "0123456789abcdefABCDEF":
                    j += 1
                out.append(chr(int(raw[i + 2:j], 16)))
                i = j
            else:
                out.append(n)
                i += 2
        fields.append("".join(out))
    return fields


def parse_csv(text: str, o: CopyOptions):
    """Records of a CSV document: lists of str (None: unquoted NULL string)."""
    rec: list = []
    field: list[str] = []
    quoted = False
    in_quotes = False
    i = 0
    n = len(text)
    started = False
    while i < n:
        c = text[i]
        if in_quotes:
            if c == o.escape and i + 1 < n and text[i + 1] in (o.quote, o.escape) and \
                    (o.escape != o.quote or text[i + 1] == o.quote):
                field.append(text[i + 1])
                i += 2
                continue
            if c == o.quote:
                in_quotes = False
                i += 1
                continue
            field.append(c)
            i += 1
            continue
        if c == o.quote:
            in_quotes = quoted = started = True
            i += 1
            continue
        if c == o.delimiter:
            v = "".join(field)
            rec.append(None if (not quoted and v == o.null) else v)
            field, quoted = [], False
            started = True
            i += 1
            continue
        if c in "\r\n":
            if started or field or rec:
                v = "".join(field)
                rec.append(None if (not quoted and v == o.null) else v)
                yield rec
            rec, field, quoted, started = [], [], False, False
            if c == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            i += 1
            continue
        field.append(c)
        started = True
        i += 1
    if in_quotes:
        raise PgError("unterminated CSV quoted field", sqlstate="22P04")
    if started or field or rec:
        v = "".join(field)
        rec.append(None if (not quoted and v == o.null) else v)
        yield rec


def records(data: bytes, o: CopyOptions):
    text = data.decode("utf-8")
    if o.format == "csv":
        recs = parse_csv(text, o)
        first = True
        for r in recs:
            if len(r) == 1 and r[0] == "\\.":
                return
            if first and o.header:
                first = False
                continue
            first = False
            yield r
        return
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for k, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        if line == "\\.":
            return
        if k == 0 and o.header:
            continue
        yield split_text_line(line, o)


def format_row(values, oids, o: CopyOptions) -> bytes:
    out = []
    for v, oid in zip(values, oids):
        if v is None:
            out.append(o.null)
            continue
        s = T.encode_text(oid, v)
        if o.format == "csv":
            if s == "" or any(ch in s for ch in (o.delimiter, o.quote, "\n", "\r")) or s == o.null:
                s = o.quote + s.replace(o.quote, o.escape + o.quote) + o.quote
        else:
            s = (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
                 .replace("\b", "\\b").replace("\f", "\\f").replace("\v", "\\v"))
            if o.delimiter != "\t":
                s = s.replace(o.delimiter, "\\" + o.delimiter)
        out.append(s)
    return (o.delimiter.join(out) + "\n").encode("utf-8")
