"""PostgreSQL numeric(p,s): decimal.Decimal values, PostgreSQL rounding and scale rules."""

from __future__ import annotations

import decimal
import re
import struct
from decimal import Decimal, ROUND_HALF_UP

from services.common.errors import PgError

from .base import PgType, invalid_syntax

CTX = decimal.Context(prec=4000, rounding=ROUND_HALF_UP, Emax=999999, Emin=-999999,
                      traps=[decimal.InvalidOperation, decimal.DivisionByZero])
_NUM_RE = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
NUMERIC_MIN_SIG_DIGITS = 16


def typmod_ps(typmod: int) -> tuple[int, int]:
    t = typmod - 4
    p, s = (t >> 16) & 0xFFFF, t & 0xFFFF
    if s >= 0x8000:
        s -= 0x10000
    return p, s


def make_typmod(p: int, s: int = 0) -> int:
    return ((p << 16) | (s & 0xFFFF)) + 4


def scale_of(d: Decimal) -> int:
    e = d.as_tuple().exponent
    return -e if isinstance(e, int) and e < 0 else 0


def fix_scale(d: Decimal) -> Decimal:
    """Decimal with a positive exponent (1E+2) -> the equivalent scale-0 value (100)."""
    if d.is_finite() and d.as_tuple().exponent > 0:
        return d.quantize(Decimal(1), context=CTX)
    return d


def round_scale(d: Decimal, scale: int) -> Decimal:
    if not d.is_finite():
        return d
    return d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP, context=CTX)


def _weight_first(d: Decimal) -> tuple[int, int]:
    a = abs(d)
    if a == 0:
        return 0, 0
    w = a.adjusted() // 4
    first = int(a.scaleb(-4 * w, context=CTX))
    return w, first


def div(a: Decimal, b: Decimal) -> Decimal:
    """numeric division with PostgreSQL's select_div_scale."""
    if b == 0:
        raise PgError("division by zero", sqlstate="22012")
    w1, f1 = _weight_first(a)
    w2, f2 = _weight_first(b)
    qweight = w1 - w2
    if f1 <= f2:
        qweight -= 1
    rscale = NUMERIC_MIN_SIG_DIGITS - qweight * 4
    rscale = max(rscale, scale_of(a), scale_of(b), 0)
    rscale = min(rscale, 1000)
    return round_scale(CTX.divide(a, b), rscale)


def check_typmod(d: Decimal, typmod: int) -> Decimal:
    if typmod < 4 or not d.is_finite():
        if typmod >= 4 and d.is_infinite():
            p, s = typmod_ps(typmod)
            raise PgError("numeric field overflow", sqlstate="22003",
                          detail=f"A field with precision {p}, scale {s} cannot hold an infinite value.")
        return d
    p, s = typmod_ps(typmod)
    r = round_scale(d, s)
    if r != 0 and r.adjusted() + 1 > p - s:
        raise PgError("numeric field overflow", sqlstate="22003",
                      detail=f"A field with precision {p}, scale {s} must round to an absolute value "
                             f"less than {'10^' + str(p - s) if p - s != 0 else '1'}.")
    return r


def to_text(d: Decimal) -> str:
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    s = format(fix_scale(d), "f")
    if s.startswith("-") and d == 0:
        s = s[1:]
    return s


class NumericType(PgType):
    oid = 1700
    name = "numeric"
    sql_name = "numeric"
    typlen = -1
    category = "N"
    array_oid = 1231

    def text_in(self, text: str, typmod: int = -1) -> Decimal:
        t = text.strip()
        low = t.lower()
        if low == "nan":
            return Decimal("NaN")
        if low in ("infinity", "+infinity", "inf", "+inf"):
            return check_typmod(Decimal("Infinity"), typmod)
        if low in ("-infinity", "-inf"):
            return check_typmod(Decimal("-Infinity"), typmod)
        if not _NUM_RE.match(text):
            raise invalid_syntax("numeric", text)
        d = fix_scale(Decimal(t))
        if d == 0 and d.is_signed():
            d = d.copy_abs()
        return check_typmod(d, typmod)

    def text_out(self, value) -> str:
        return to_text(value)

    def coerce_typmod(self, value, typmod, explicit=False):
        return check_typmod(value, typmod)

    def format_type(self, typmod=-1):
        if typmod < 4:
            return "numeric"
        p, s = typmod_ps(typmod)
        return f"numeric({p},{s})"

    def binary_out(self, value: Decimal) -> bytes:
        if value.is_nan():
            return struct.pack(">hhHH", 0, 0, 0xC000, 0)
        if value.is_infinite():
            return struct.pack(">hhHH", 0, 0, 0xD000 if value > 0 else 0xF000, 0)
        value = fix_scale(value)
        sign, digits, exp = value.as_tuple()
        dscale = max(-exp, 0)
        ds = "".join(map(str, digits))
        intpart_len = len(ds) + exp          # digits before the decimal point
        # pad integer part on the left to a multiple of 4, fraction on the right
        lpad = (-intpart_len) % 4
        ds = "0" * lpad + ds
        intpart_len += lpad
        rpad = (-len(ds)) % 4
        ds = ds + "0" * rpad
        groups = [int(ds[i:i + 4]) for i in range(0, len(ds), 4)]
        weight = intpart_len // 4 - 1
        while groups and groups[0] == 0:
            groups.pop(0)
            weight -= 1
        while groups and groups[-1] == 0:
            groups.pop()
        if not groups:
            weight = 0
        return struct.pack(f">hhHH{len(groups)}H", len(groups), weight,
                           0x4000 if sign else 0, dscale, *groups)

    def binary_in(self, data: bytes, typmod: int = -1) -> Decimal:
        ndigits, weight, sign, dscale = struct.unpack_from(">hhHH", data)
        if sign == 0xC000:
            return Decimal("NaN")
        if sign == 0xD000:
            return Decimal("Infinity")
        if sign == 0xF000:
            return Decimal("-Infinity")
        groups = struct.unpack_from(f">{ndigits}H", data, 8)
        v = Decimal(0)
        for i, g in enumerate(groups):
            v += Decimal(g).scaleb(4 * (weight - i), context=CTX)
        if sign == 0x4000:
            v = -v
        return check_typmod(round_scale(v, dscale), typmod)


TYPE = NumericType()
