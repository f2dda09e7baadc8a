"""PostgreSQL types: one module per type, registered here by OID.

The protocol layer uses encode_text/decode_text/encode_binary/decode_binary to move
Python values across the wire; the SQL engine uses the PgType objects.
"""

from __future__ import annotations

from services.common.errors import PgError

from . import (bigint, boolean, bpchar, bytea, char, date, double, integer, interval, json, name, numeric, oid,
               real, regoid, regtype, smallint, text, time, timestamp, timestamptz, unknown, uuid, varchar)
from .base import PgType
from .interval import Interval

_MODULES = (smallint, integer, bigint, boolean, bpchar, varchar, text, bytea, real, double, numeric,
            date, time, timestamp, timestamptz, interval, uuid, unknown, name, oid, char, regtype, json)

REGISTRY: dict[int, PgType] = {m.TYPE.oid: m.TYPE for m in _MODULES}
BY_NAME: dict[str, PgType] = {m.TYPE.name: m.TYPE for m in _MODULES}
for _t in regoid.TYPES:           # regclass, regproc, regnamespace, regrole, regprocedure
    REGISTRY[_t.oid] = BY_NAME[_t.name] = _t

# one-dimensional arrays of the element types above (query-time values only)
from .array import ArrayType  # noqa: E402

ARRAY_OF: dict[int, int] = {}      # element OID -> array OID
ELEMENT_OF: dict[int, int] = {}    # array OID -> element OID
for _m in _MODULES:
    _t = _m.TYPE
    if _t.array_oid and _t.name not in ("unknown", "regtype"):
        REGISTRY[_t.array_oid] = ArrayType(_t)
        ARRAY_OF[_t.oid] = _t.array_oid
        ELEMENT_OF[_t.array_oid] = _t.oid

from .vector import make as _vectors  # noqa: E402

for _v in _vectors(smallint.TYPE, oid.TYPE):     # int2vector, oidvector: arrays that print "1 2"
    REGISTRY[_v.oid] = BY_NAME[_v.name] = _v
    ELEMENT_OF[_v.oid] = _v.elem.oid
VECTORS = (22, 30)

# OIDs by pg_type.typname
INT2, INT4, INT8, BOOL = 21, 23, 20, 16
BPCHAR, VARCHAR, TEXT, BYTEA, UNKNOWN = 1042, 1043, 25, 17, 705
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, UUID = 1082, 1083, 1114, 1184, 1186, 2950
NAME, OID, CHAR, REGTYPE, JSON = 19, 26, 18, 2206, 114
REGCLASS, REGPROC, REGNAMESPACE, REGROLE, REGPROCEDURE = 2205, 24, 4089, 4096, 2202
REG_TYPES = (REGCLASS, REGPROC, REGNAMESPACE, REGROLE, REGPROCEDURE, REGTYPE)

# SQL spellings (as pglast reports them, after pg_catalog.) -> typname
ALIASES = {
    "int2": "int2", "smallint": "int2", "int4": "int4", "int": "int4", "integer": "int4",
    "int8": "int8", "bigint": "int8", "bool": "bool", "boolean": "bool",
    "bpchar": "bpchar", "char": "bpchar", "character": "bpchar",
    "varchar": "varchar", "character varying": "varchar", "text": "text", "bytea": "bytea",
    "float4": "float4", "real": "float4", "float8": "float8", "double precision": "float8",
    "float": "float8", "numeric": "numeric", "decimal": "numeric", "date": "date",
    "time": "time", "timestamp": "timestamp", "timestamptz": "timestamptz", "interval": "interval",
    "uuid": "uuid", "unknown": "unknown", "name": "name", "oid": "oid", "regtype": "regtype",
    "regclass": "regclass", "regproc": "regproc", "regnamespace": "regnamespace", "regrole": "regrole",
    "regprocedure": "regprocedure", '"char"': "char", "json": "json", "int2vector": "int2vector",
    "oidvector": "oidvector",
}


def lookup(oid: int) -> PgType:
    try:
        return REGISTRY[oid]
    except KeyError:
        raise PgError(f"cache lookup failed for type {oid}", sqlstate="XX000") from None


def by_name(name: str) -> PgType | None:
    n = ALIASES.get(name.lower())
    return BY_NAME.get(n) if n else None


def type_info(oid: int) -> tuple[str, int]:
    t = lookup(oid)
    return t.name, t.typlen


def encode_text(oid: int, value) -> str:
    return lookup(oid).text_out(value)


def decode_text(oid: int, text: str, typmod: int = -1):
    return lookup(oid).text_in(text, typmod)


def encode_binary(oid: int, value) -> bytes:
    return lookup(oid).binary_out(value)


def decode_binary(oid: int, data: bytes):
    return lookup(oid).binary_in(data)


__all__ = ["PgType", "Interval", "REGISTRY", "lookup", "by_name", "type_info", "encode_text",
           "decode_text", "encode_binary", "decode_binary"]
