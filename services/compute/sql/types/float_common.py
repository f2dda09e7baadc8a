"""Shared code of real and double precision (PostgreSQL 15 output: shortest round-trip)."""

from __future__ import annotations

import math
import re
import struct
from decimal import Decimal

from .base import PgType, invalid_syntax, out_of_range
from services.common.errors import PgError

_FLOAT_RE = re.compile(r"^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\s*$")
_SPECIAL = {"nan": math.nan, "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
            "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}


def _shortest_digits(v: float, single: bool) -> tuple[str, int]:
    """Shortest round-trip digits and decimal exponent: v = 0.DIGITS * 10**exp."""
    if single:
        packed = struct.pack(">f", v)
        for prec in range(1, 10):
            s = f"{v:.{prec - 1}e}"
            if struct.pack(">f", float(s)) == packed:
                break
    else:
        s = f"{v:e}" if False else repr(v)
    d = Decimal(s).normalize()
    sign, digits, exp = d.as_tuple()
    ds = "".join(map(str, digits))
    return ds, exp + len(ds)


def format_float(v: float, single: bool = False) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sign = "-" if v < 0 else ""
    ds, pexp = _shortest_digits(abs(v), single)
    x = pexp - 1                       # scientific exponent: d.ddd * 10**x
    if x < -4 or x >= (6 if single else 15):
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{sign}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if pexp <= 0:
        return f"{sign}0.{'0' * -pexp}{ds}"
    if pexp >= len(ds):
        return sign + ds + "0" * (pexp - len(ds))
    return f"{sign}{ds[:pexp]}.{ds[pexp:]}"


class FloatType(PgType):
    category = "N"
    single = False

    def text_in(self, text: str, typmod: int = -1) -> float:
        t = text.strip().lower()
        if t in _SPECIAL:
            return _SPECIAL[t]
        if not _FLOAT_RE.match(text):
            raise invalid_syntax(self.sql_name, text)
        v = float(t)
        if math.isinf(v) or (self.single and abs(v) > 3.4028234663852886e38):
            raise PgError(f'"{text.strip()}" is out of range for type {self.sql_name}', sqlstate="22003")
        if self.single:
            f = struct.unpack(">f", struct.pack(">f", v))[0]
            if f == 0.0 and v != 0.0 and abs(v) < 1.401298464324817e-45:
                raise PgError(f'"{text.strip()}" is out of range for type {self.sql_name}', sqlstate="22003")
            v = f
        elif v == 0.0 and re.search(r"[1-9]", t.split("e")[0]):
            raise PgError(f'"{text.strip()}" is out of range for type {self.sql_name}', sqlstate="22003")
        return v

    def text_out(self, value) -> str:
        return format_float(float(value), self.single)

    def binary_in(self, data: bytes, typmod: int = -1) -> float:
        return struct.unpack(">f" if self.single else ">d", data)[0]

    def binary_out(self, value) -> bytes:
        return struct.pack(">f" if self.single else ">d", value)


def check_float(v: float, single: bool = False) -> float:
    """Overflow check after arithmetic (PG: 'value out of range: overflow')."""
    if math.isinf(v):
        raise PgError("value out of range: overflow", sqlstate="22003")
    if single:
        try:
            v = struct.unpack(">f", struct.pack(">f", v))[0]
        except OverflowError:
            raise PgError("value out of range: overflow", sqlstate="22003") from None
    return v
