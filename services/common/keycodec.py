"""Order-preserving ("memcomparable") key encoding and the row value codec.

Keys: a key is the 4-byte big-endian id of a table or index followed by the encoded key
columns. Each column is a marker byte and a prefix-free body, so that comparing the
byte strings compares the columns in order, column by column:

    marker 0x00  NULL, sorting first (NULLS FIRST)
    marker 0x01  a value
    marker 0x02  NULL, sorting last (NULLS LAST, PostgreSQL's default for ASC)

A DESC column is the bitwise complement of its ASC encoding (marker included); because
every encoding is prefix-free the complement reverses the order exactly.

Bodies by kind (the `kind` of a column is its PostgreSQL typname):
    int2/int4/int8, date   big-endian two's complement with the sign bit flipped
    time/timestamp/tz      8-byte micros since 2000-01-01, sign flipped
    interval               16-byte total (30-day months, 24-hour days) in micros, sign flipped
    float4/float8          IEEE-754 double, sign flipped for >= 0, all bits flipped for < 0;
                           -0 == 0, NaN after +Infinity (as PostgreSQL)
    numeric                class byte (-inf, neg, zero, pos, +inf, NaN), then for non-zero
                           finite values a 2-byte biased exponent and base-100 digit pairs
                           (1..100) ended by 0x00; negative numbers are complemented
    bool                   0x00 / 0x01
    text/varchar/bpchar    UTF-8 (C collation) with 0x00 escaped as 0x00 0xFF, ended by
                           0x00 0x01; bpchar without trailing blanks
    bytea                  as text, raw bytes
    uuid                   16 raw bytes

Row values: b'\x01' (format version), varint column count, then per column: varint column
id, varint (length + 1) or 0 for NULL, and the body in the compact value format below.
Absent column ids read as "missing" (the column's default recorded at ADD COLUMN time).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from decimal import Decimal

NULLS_FIRST = b"\x00"
VALUE = b"\x01"
NULLS_LAST = b"\x02"

_PG_EPOCH = dt.datetime(2000, 1, 1)
_PG_EPOCH_TZ = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_PG_EPOCH_DATE = dt.date(2000, 1, 1)
_USECS_PER_DAY = 86_400_000_000

_I2, _I4, _I8 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")
_F8 = struct.Struct(">d")
_U8 = struct.Struct(">Q")


# ---------------------------------------------------------------- prefixes

def object_prefix(object_id: int) -> bytes:
    """The key prefix of a table (its rows) or an index (its entries)."""
    return _I4.pack(object_id)


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with prefix."""
    b = bytearray(prefix)
    while b:
        if b[-1] != 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\xff" * 16


# ---------------------------------------------------------------- key bodies

def _micros(v) -> int:
    d = v - (_PG_EPOCH_TZ if v.tzinfo is not None else _PG_EPOCH)
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def _time_micros(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _escape(b: bytes) -> bytes:
    return b.replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def _enc_float(v: float) -> bytes:
    if math.isnan(v):
        return b"\xff" * 8
    if v == 0:
        v = 0.0
    (u,) = _U8.unpack(_F8.pack(v))
    if u & (1 << 63):
        u = ~u & 0xFFFFFFFFFFFFFFFF
    else:
        u |= 1 << 63
    return _U8.pack(u)


def _enc_numeric(v: Decimal) -> bytes:
    if v.is_nan():
        return b"\x05"
    if v.is_infinite():
        return b"\x04" if v > 0 else b"\x00"
    if v == 0:
        return b"\x02"
    sign, digits, exp = v.as_tuple()
    ds = "".join(map(str, digits)).lstrip("0").rstrip("0")
    # value = 0.ds * 10**e10
    e10 = len("".join(map(str, digits)).lstrip("0")) + exp
    if len(ds) % 2:
        ds += "0"
    # use base-100 exponent so digit pairs align: 0.ds * 10**e10 with e10 even
    if e10 % 2:
        ds = "0" + ds
        e10 += 1
        if len(ds) % 2:
            ds += "0"
    body = _I2.pack((e10 // 2 + 0x8000) & 0xFFFF) + bytes(1 + int(ds[i:i + 2]) for i in range(0, len(ds), 2)) + b"\x00"
    if sign:
        return b"\x01" + bytes(255 - c for c in body)
    return b"\x03" + body


def _enc_body(kind: str, v) -> bytes:
    if kind == "int4" or kind == "date":
        if kind == "date":
            v = (v - _PG_EPOCH_DATE).days
        return _I4.pack((v + 0x80000000) & 0xFFFFFFFF)
    if kind == "int8":
        return _I8.pack((v + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF)
    if kind == "int2":
        return _I2.pack((v + 0x8000) & 0xFFFF)
    if kind in ("text", "varchar", "unknown"):
        return _escape(v.encode("utf-8"))
    if kind == "bpchar":
        return _escape(v.rstrip(" ").encode("utf-8"))
    if kind == "uuid":
        return v.bytes
    if kind == "bool":
        return b"\x01" if v else b"\x00"
    if kind in ("timestamp", "timestamptz"):
        return _I8.pack((_micros(v) + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF)
    if kind == "time":
        return _I8.pack(_time_micros(v))
    if kind in ("float4", "float8"):
        return _enc_float(v)
    if kind == "numeric":
        return _enc_numeric(v)
    if kind == "bytea":
        return _escape(bytes(v))
    if kind == "interval":
        total = (v.months * 30 + v.days) * _USECS_PER_DAY + v.microseconds
        return ((total + (1 << 127)) & ((1 << 128) - 1)).to_bytes(16, "big")
    raise TypeError(f"no key encoding for type {kind}")


def encode_value(kind: str, v, desc: bool = False, nulls_first: bool | None = None) -> bytes:
    """One key column. nulls_first defaults to PostgreSQL's: NULLS LAST for ASC, FIRST for DESC."""
    if nulls_first is None:
        nulls_first = desc
    if v is None:
        # DESC is stored complemented, so pick the marker whose complement sorts as requested
        if desc:
            return b"\xfd" if nulls_first else b"\xff"
        return NULLS_FIRST if nulls_first else NULLS_LAST
    b = VALUE + _enc_body(kind, v)
    if desc:
        return bytes(255 - c for c in b)
    return b


def encode_key(prefix: bytes, kinds, values, descs=None, nulls_first=None) -> bytes:
    """prefix + the encoded columns (kinds: typnames; descs/nulls_first: per column or None)."""
    parts = [prefix]
    for i, (k, v) in enumerate(zip(kinds, values)):
        d = descs[i] if descs else False
        nf = nulls_first[i] if nulls_first else None
        parts.append(encode_value(k, v, d, nf))
    return b"".join(parts)


def key_encoder(prefix: bytes, kinds):
    """A fast encoder of ASC NULLS LAST keys for a fixed list of column kinds."""
    kinds = tuple(kinds)

    def enc(values) -> bytes:
        parts = [prefix]
        for k, v in zip(kinds, values):
            parts.append(NULLS_LAST if v is None else VALUE + _enc_body(k, v))
        return b"".join(parts)
    return enc


# ---------------------------------------------------------------- varints

def _put_varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _get_varint(b, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        c = b[pos]
        pos += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return n, pos
        shift += 7


# ---------------------------------------------------------------- row values

_VI2, _VI4, _VI8 = struct.Struct("<h"), struct.Struct("<i"), struct.Struct("<q")
_VF4, _VF8 = struct.Struct("<f"), struct.Struct("<d")
_VIV = struct.Struct("<qii")


def _val_enc(kind: str):
    if kind == "int4":
        return _VI4.pack
    if kind == "int8":
        return _VI8.pack
    if kind == "int2":
        return _VI2.pack
    if kind in ("text", "varchar", "bpchar", "unknown"):
        return lambda v: v.encode("utf-8")
    if kind == "bool":
        return lambda v: b"\x01" if v else b"\x00"
    if kind == "float8":
        return _VF8.pack
    if kind == "float4":
        return _VF4.pack
    if kind == "numeric":
        return lambda v: str(v).encode("ascii")
    if kind == "bytea":
        return bytes
    if kind == "uuid":
        return lambda v: v.bytes
    if kind == "date":
        return lambda v: _VI4.pack((v - _PG_EPOCH_DATE).days)
    if kind in ("timestamp", "timestamptz"):
        return lambda v: _VI8.pack(_micros(v))
    if kind == "time":
        return lambda v: _VI8.pack(_time_micros(v))
    if kind == "interval":
        return lambda v: _VIV.pack(v.microseconds, v.days, v.months)
    raise TypeError(f"no value encoding for type {kind}")


def _val_dec(kind: str):
    if kind == "int4":
        return lambda b: _VI4.unpack(b)[0]
    if kind == "int8":
        return lambda b: _VI8.unpack(b)[0]
    if kind == "int2":
        return lambda b: _VI2.unpack(b)[0]
    if kind in ("text", "varchar", "bpchar", "unknown"):
        return lambda b: bytes(b).decode("utf-8")
    if kind == "bool":
        return lambda b: b[0] != 0
    if kind == "float8":
        return lambda b: _VF8.unpack(b)[0]
    if kind == "float4":
        return lambda b: _VF4.unpack(b)[0]
    if kind == "numeric":
        return lambda b: Decimal(bytes(b).decode("ascii"))
    if kind == "bytea":
        return bytes
    if kind == "uuid":
        import uuid
        return lambda b: uuid.UUID(bytes=bytes(b))
    if kind == "date":
        return lambda b: _PG_EPOCH_DATE + dt.timedelta(days=_VI4.unpack(b)[0])
    if kind == "timestamp":
        return lambda b: _PG_EPOCH + dt.timedelta(microseconds=_VI8.unpack(b)[0])
    if kind == "timestamptz":
        return lambda b: _PG_EPOCH_TZ + dt.timedelta(microseconds=_VI8.unpack(b)[0])
    if kind == "time":
        return lambda b: (_PG_EPOCH + dt.timedelta(microseconds=_VI8.unpack(b)[0])).time()
    if kind == "interval":
        from services.compute.sql.types.interval import Interval

        def dec(b):
            us, d, m = _VIV.unpack(b)
            return Interval(m, d, us)
        return dec
    raise TypeError(f"no value decoding for type {kind}")


MISSING = object()


class RowCodec:
    """Encodes/decodes the values of a fixed list of (column id, kind) pairs.

    decode() returns a list in the codec's column order; a column absent from the stored
    row gets `missing[i]` (the value recorded when the column was added; None by default).
    """

    def __init__(self, columns, missing=None):
        self.ids = [cid for cid, _ in columns]
        self.kinds = [k for _, k in columns]
        self._enc = [_val_enc(k) for k in self.kinds]
        self._dec = {cid: (i, _val_dec(k)) for i, (cid, k) in enumerate(columns)}
        _fixed = {"int2": _VI2, "int4": _VI4, "int8": _VI8, "float4": _VF4, "float8": _VF8}
        self._fixed = [_fixed.get(k) for k in self.kinds]
        self.missing = list(missing) if missing is not None else [None] * len(columns)

    def encode(self, values) -> bytes:
        out = bytearray(b"\x01")
        _put_varint(out, len(self.ids))
        for cid, enc, v in zip(self.ids, self._enc, values):
            _put_varint(out, cid)
            if v is None:
                out.append(0)
            else:
                body = enc(v)
                _put_varint(out, len(body) + 1)
                out += body
        return bytes(out)

    def decode(self, data: bytes) -> list:
        row = list(self.missing)
        if data[0] != 1:
            raise ValueError("unknown row format")
        n = data[1]
        pos = 2
        if n >= 0x80:
            n, pos = _get_varint(data, 1)
        dec = self._dec
        fixed = self._fixed
        for _ in range(n):
            cid = data[pos]
            if cid >= 0x80:
                cid, pos = _get_varint(data, pos)
            else:
                pos += 1
            ln = data[pos]
            if ln >= 0x80:
                ln, pos = _get_varint(data, pos)
            else:
                pos += 1
            d = dec.get(cid)
            if ln == 0:
                if d is not None:
                    row[d[0]] = None
                continue
            end = pos + ln - 1
            if d is not None:
                i, f = d
                st = fixed[i]
                row[i] = st.unpack_from(data, pos)[0] if st is not None else f(data[pos:end])
            pos = end
        return row
