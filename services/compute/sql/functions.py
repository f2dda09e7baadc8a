"""Operators, casts, scalar functions and aggregates, with PostgreSQL's type resolution rules
(a practical subset of pg_operator/pg_cast/pg_proc for the built-in types)."""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
import uuid as _uuid
from decimal import Decimal, ROUND_HALF_UP
from typing import Callable

from services.common import errors
from services.common.errors import PgError

from . import types as T
from .types import numeric as N
from .types.float_common import check_float
from .types.interval import Interval, USECS_PER_DAY

INT2, INT4, INT8, NUMERIC, FLOAT4, FLOAT8 = T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8
TEXT, VARCHAR, BPCHAR, UNKNOWN, BOOL, BYTEA = T.TEXT, T.VARCHAR, T.BPCHAR, T.UNKNOWN, T.BOOL, T.BYTEA
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, UUID = T.DATE, T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.INTERVAL, T.UUID

INTS = (INT2, INT4, INT8)
NUM_RANK = {INT2: 0, INT4: 1, INT8: 2, NUMERIC: 3, FLOAT4: 4, FLOAT8: 5}
OIDT = T.OID
STRINGS = (TEXT, VARCHAR, BPCHAR, UNKNOWN, T.NAME, T.CHAR)
INT_RANGE = {INT2: (-(1 << 15), (1 << 15) - 1, "smallint"), INT4: (-(1 << 31), (1 << 31) - 1, "integer"),
             INT8: (-(1 << 63), (1 << 63) - 1, "bigint")}


def type_name(oid: int, typmod: int = -1) -> str:
    """format_type(): the name PostgreSQL shows in messages."""
    return T.lookup(oid).format_type(typmod)


def category(oid: int) -> str:
    return T.lookup(oid).category


# ------------------------------------------------------------------ checks

def _int_checker(oid: int) -> Callable[[int], int]:
    lo, hi, name = INT_RANGE[oid]

    def chk(v: int) -> int:
        if v < lo or v > hi:
            raise PgError(f"{name} out of range", sqlstate="22003")
        return v
    return chk


def _div_zero():
    return PgError("division by zero", sqlstate="22012")


# ------------------------------------------------------------------ casts

def _float_to_int(oid):
    chk = _int_checker(oid)

    def f(v: float) -> int:
        if math.isnan(v) or math.isinf(v):
            raise PgError(f"{INT_RANGE[oid][2]} out of range", sqlstate="22003")
        return chk(int(round(v)))
    return f


def _numeric_to_int(oid):
    chk = _int_checker(oid)

    def f(v: Decimal) -> int:
        if not v.is_finite():
            raise PgError(f"cannot convert {'NaN' if v.is_nan() else 'infinity'} to {INT_RANGE[oid][2]}",
                          sqlstate="0A000")
        return chk(int(v.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=N.CTX)))
    return f


def _float_to_numeric(single: bool):
    def f(v: float) -> Decimal:
        if math.isnan(v):
            return Decimal("NaN")
        if math.isinf(v):
            return Decimal("Infinity") if v > 0 else Decimal("-Infinity")
        return N.fix_scale(Decimal(f"{v:.{6 if single else 15}g}"))
    return f


def _to_float4(v) -> float:
    return check_float(float(v), True)


def _numeric_to_float8(v: Decimal) -> float:
    f = float(v)
    if math.isinf(f) and v.is_finite():
        raise PgError(f'"{N.to_text(v)}" is out of range for type double precision', sqlstate="22003")
    return f


IMPLICIT, ASSIGNMENT, EXPLICIT = 0, 1, 2


def cast_func(src: int, dst: int, context: int = EXPLICIT) -> Callable | None:
    """The conversion function from src to dst allowed in `context`, None if not allowed.
    Typmod coercion (varchar(n), numeric(p,s)) is applied separately (coerce_typmod)."""
    if src == dst:
        return _identity
    if src == UNKNOWN:
        t = T.lookup(dst)
        return lambda v: t.text_in(v)
    if src in T.VECTORS and T.ARRAY_OF.get(T.ELEMENT_OF[src]) == dst:
        return _identity                          # int2vector -> int2[], oidvector -> oid[]
    if src in T.REG_TYPES and dst in INTS + (OIDT,) or src == OIDT and dst in T.REG_TYPES or \
            src in INTS and dst in T.REG_TYPES and context >= ASSIGNMENT:
        # the OID alias types (regclass ...) are OIDs that print as names
        return _identity if dst in (OIDT, INT8) else _int_checker(dst) if dst in INTS else _reg_maker(dst)
    if (src == OIDT and dst in INTS + (NUMERIC,)) or (dst == OIDT and src in INTS):
        if dst == NUMERIC:
            return Decimal
        return _identity if dst in (OIDT, INT8) else _int_checker(dst)
    if src in NUM_RANK and dst in NUM_RANK:
        up = NUM_RANK[dst] > NUM_RANK[src]
        ctx_needed = IMPLICIT if up else ASSIGNMENT
        if context < ctx_needed:
            return None
        if src in INTS and dst in INTS:
            return _int_checker(dst)
        if src in INTS and dst == NUMERIC:
            return Decimal
        if src in INTS and dst in (FLOAT4, FLOAT8):
            return float if dst == FLOAT8 else _to_float4
        if src == NUMERIC and dst in INTS:
            return _numeric_to_int(dst)
        if src == NUMERIC and dst == FLOAT8:
            return _numeric_to_float8
        if src == NUMERIC and dst == FLOAT4:
            return _to_float4
        if src in (FLOAT4, FLOAT8) and dst in INTS:
            return _float_to_int(dst)
        if src in (FLOAT4, FLOAT8) and dst == NUMERIC:
            return _float_to_numeric(src == FLOAT4)
        if src == FLOAT4 and dst == FLOAT8:
            return _identity
        if src == FLOAT8 and dst == FLOAT4:
            return _to_float4
    if src in STRINGS and dst in STRINGS:
        if src == BPCHAR:
            return _rstrip
        return _identity
    if dst in (TEXT, VARCHAR, BPCHAR):
        if context < ASSIGNMENT:
            return None
        if src == BOOL:
            return _bool_text
        out = T.lookup(src).text_out
        return out
    if src in (TEXT, VARCHAR, BPCHAR):
        if context < EXPLICIT:
            return None
        t = T.lookup(dst)
        return lambda v: t.text_in(v)
    pair = (src, dst)
    if pair == (DATE, TIMESTAMP):
        return lambda d: dt.datetime(d.year, d.month, d.day)
    if pair == (DATE, TIMESTAMPTZ):
        return lambda d: dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)
    if pair == (TIMESTAMP, TIMESTAMPTZ):
        return lambda v: v.replace(tzinfo=dt.timezone.utc)
    if context >= ASSIGNMENT:
        if pair == (TIMESTAMPTZ, TIMESTAMP):
            return lambda v: v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if pair in ((TIMESTAMP, DATE), (TIMESTAMPTZ, DATE)):
            return lambda v: v.date()
        if pair in ((TIMESTAMP, TIME), (TIMESTAMPTZ, TIME)):
            return lambda v: v.time().replace(tzinfo=None)
    if context >= EXPLICIT:
        if pair == (INT4, BOOL):
            return lambda v: v != 0
        if pair == (BOOL, INT4):
            return lambda v: 1 if v else 0
    return None


def _reg_maker(dst: int) -> Callable:
    from .types.regoid import make
    kind = T.lookup(dst).name
    return lambda v: make(kind, v)


def _bool_text(v):
    return "true" if v else "false"


def _identity(v):
    return v


def _rstrip(v: str) -> str:
    return v.rstrip(" ")


def can_implicit(src: int, dst: int) -> bool:
    return src == dst or src == UNKNOWN or cast_func(src, dst, IMPLICIT) is not None


# ------------------------------------------------------------------ arithmetic

def common_numeric(a: int, b: int) -> int:
    if a == FLOAT4 and b == FLOAT4:
        return FLOAT4
    if a in (FLOAT4, FLOAT8) or b in (FLOAT4, FLOAT8):
        return FLOAT8
    if a == NUMERIC or b == NUMERIC:
        return NUMERIC
    return max(a, b, key=lambda t: NUM_RANK[t])


def _int_ops(t: int) -> dict[str, Callable]:
    chk = _int_checker(t)

    def div(a, b):
        if b == 0:
            raise _div_zero()
        q = abs(a) // abs(b)
        return chk(q if (a >= 0) == (b >= 0) else -q)

    def mod(a, b):
        if b == 0:
            raise _div_zero()
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    return {"+": lambda a, b: chk(a + b), "-": lambda a, b: chk(a - b), "*": lambda a, b: chk(a * b),
            "/": div, "%": mod}


def _float_ops(t: int) -> dict[str, Callable]:
    single = t == FLOAT4

    def div(a, b):
        if b == 0:
            raise _div_zero()
        return check_float(a / b, single)

    def chk(v, a, b):
        if math.isinf(v) and not (math.isinf(a) or math.isinf(b)):
            raise PgError("value out of range: overflow", sqlstate="22003")
        return struct.unpack(">f", struct.pack(">f", v))[0] if single and not math.isinf(v) else v
    return {"+": lambda a, b: chk(a + b, a, b), "-": lambda a, b: chk(a - b, a, b),
            "*": lambda a, b: chk(a * b, a, b), "/": div,
            "%": None}


def _num_div(a, b):
    if a.is_nan() or b.is_nan():
        return Decimal("NaN")
    return N.div(a, b)


def _num_mod(a, b):
    if b == 0:
        raise _div_zero()
    return N.CTX.remainder(a, b)


NUMERIC_OPS = {"+": lambda a, b: N.CTX.add(a, b), "-": lambda a, b: N.CTX.subtract(a, b),
               "*": lambda a, b: N.CTX.multiply(a, b), "/": _num_div, "%": _num_mod}


def _add_months(v, months: int):
    if not months:
        return v
    y, m = divmod(v.month - 1 + months, 12)
    year, month = v.year + y, m + 1
    import calendar
    day = min(v.day, calendar.monthrange(year, month)[1])
    return v.replace(year=year, month=month, day=day)


def ts_plus_interval(v, iv: Interval):
    v = _add_months(v, iv.months)
    return v + dt.timedelta(days=iv.days, microseconds=iv.microseconds)


def ts_minus_ts(a, b) -> Interval:
    d = a - b
    us = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    days = int(us / USECS_PER_DAY)
    return Interval(0, days, us - days * USECS_PER_DAY)


def _interval_mul(iv: Interval, f) -> Interval:
    f = float(f)
    months = iv.months * f
    m_int = int(months)
    days = iv.days * f + (months - m_int) * 30
    d_int = int(days)
    us = round(iv.microseconds * f + (days - d_int) * USECS_PER_DAY)
    return Interval(m_int, d_int, us)


def _date_pl_int(d, n):
    try:
        return d + dt.timedelta(days=n)
    except OverflowError:
        raise PgError("date out of range", sqlstate="22008") from None


# ------------------------------------------------------------------ comparison

def sort_key_func(oid: int) -> Callable | None:
    """A key function that makes Python order values as PostgreSQL does (None: identity)."""
    if oid in (FLOAT4, FLOAT8):
        return lambda v: (1, 0.0) if v != v else (0, v)
    if oid == BPCHAR:
        return _rstrip
    if oid == NUMERIC:
        return lambda v: (1, Decimal(0)) if v.is_nan() else (0, v)
    return None


_CMP = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def compare_func(op: str, oid: int) -> Callable:
    base = _CMP[op]
    key = sort_key_func(oid)
    if key is None:
        return base
    return lambda a, b: base(key(a), key(b))


COMPARISON_OPS = ("=", "<>", "<", "<=", ">", ">=")


# ------------------------------------------------------------------ LIKE

_like_cache: dict[tuple[str, bool], re.Pattern] = {}


def like_regex(pattern: str, icase: bool = False) -> re.Pattern:
    k = (pattern, icase)
    r = _like_cache.get(k)
    if r is None:
        out = []
        i = 0
        while i < len(pattern):
            c = pattern[i]
            if c == "\\":
                i += 1
                if i >= len(pattern):
                    raise PgError("LIKE pattern must not end with escape character", sqlstate="22025")
                out.append(re.escape(pattern[i]))
            elif c == "%":
                out.append(".*")
            elif c == "_":
                out.append(".")
            else:
                out.append(re.escape(c))
            i += 1
        r = re.compile("".join(out) + r"\Z", re.S | (re.I if icase else 0))
        if len(_like_cache) > 1000:
            _like_cache.clear()
        _like_cache[k] = r
    return r


def _like(a, p):
    return like_regex(p).match(a) is not None


def _ilike(a, p):
    return like_regex(p, True).match(a) is not None


# ------------------------------------------------------------------ operator resolution

class OpResolution:
    __slots__ = ("fn", "result", "ltype", "rtype")

    def __init__(self, fn, result, ltype, rtype):
        self.fn, self.result, self.ltype, self.rtype = fn, result, ltype, rtype


def no_operator(op: str, lt: int | None, rt: int, position=None) -> PgError:
    if lt is None:
        sig = f"{op} {type_name(rt)}"
    else:
        sig = f"{type_name(lt)} {op} {type_name(rt)}"
    return errors.UndefinedFunction(
        f"operator does not exist: {sig}", position=position,
        hint="No operator matches the given name and argument types. You might need to add explicit type casts.")


def resolve_binop(op: str, lt: int, rt: int, position=None) -> OpResolution:
    """PostgreSQL operator resolution (for our types). ltype/rtype: what each side must be
    converted to before fn is applied."""
    if op == "!=":
        op = "<>"
    # rule: an unknown side takes the type of the other side
    if lt == UNKNOWN and rt != UNKNOWN:
        lt2, rt2 = rt, rt
        if op == "||" or rt in (DATE, TIMESTAMP, TIMESTAMPTZ) and op in "+-":
            lt2 = TEXT if op == "||" else (INTERVAL if op in "+-" and rt != DATE else INT4)
            if op == "-" and rt in (TIMESTAMP, TIMESTAMPTZ, DATE):
                lt2 = rt
        return _resolve_known(op, lt2, rt2, position, (lt, rt))
    if rt == UNKNOWN and lt != UNKNOWN:
        rt2 = lt
        if op == "||":
            rt2 = TEXT
        elif op in ("+", "-") and lt in (TIMESTAMP, TIMESTAMPTZ):
            rt2 = INTERVAL
        elif op in ("+", "-") and lt == DATE:
            rt2 = INT4
        elif op in ("*", "/") and lt == INTERVAL:
            rt2 = FLOAT8
        return _resolve_known(op, lt, rt2, position, (lt, rt))
    if lt == UNKNOWN and rt == UNKNOWN:
        return _resolve_known(op, TEXT, TEXT, position, (lt, rt))
    return _resolve_known(op, lt, rt, position, (lt, rt))


def _resolve_known(op, lt, rt, position, orig) -> OpResolution:
    oidish = INTS + (OIDT,) + T.REG_TYPES
    if (OIDT in (lt, rt) or lt in T.REG_TYPES or rt in T.REG_TYPES) and lt in oidish and rt in oidish \
            and op in COMPARISON_OPS:
        return OpResolution(_CMP[op], BOOL, OIDT, OIDT)
    # numbers
    if lt in NUM_RANK and rt in NUM_RANK:
        ct = common_numeric(lt, rt)
        if op in COMPARISON_OPS:
            return OpResolution(compare_func(op, ct), BOOL, ct, ct)
        if op in ("+", "-", "*", "/", "%"):
            if ct in INTS:
                fn = _int_ops(ct)[op]
            elif ct == NUMERIC:
                fn = NUMERIC_OPS[op]
            else:
                fn = _float_ops(ct)[op]
                if fn is None:
                    raise no_operator(op, *orig, position=position)
            return OpResolution(fn, ct, ct, ct)
        if op in ("&", "|", "#", "<<", ">>") and lt in INTS and rt in INTS:
            if op in ("<<", ">>"):
                chk = _int_checker(lt)
                bits = {INT2: 16, INT4: 32, INT8: 64}[lt]

                def shift(a, b, left=op == "<<", chk=chk, bits=bits):
                    b %= bits
                    v = (a << b) if left else (a >> b)
                    v &= (1 << bits) - 1
                    return v - (1 << bits) if v >= 1 << (bits - 1) else v
                return OpResolution(shift, lt, lt, INT4)
            f = {"&": lambda a, b: a & b, "|": lambda a, b: a | b, "#": lambda a, b: a ^ b}[op]
            return OpResolution(f, ct, ct, ct)
        if op == "^":
            if ct == NUMERIC:
                return OpResolution(lambda a, b: functions_ext.num_power(a, b), NUMERIC, NUMERIC, NUMERIC)
            return OpResolution(_fpow, FLOAT8, FLOAT8, FLOAT8)
    # strings
    if lt in STRINGS and rt in STRINGS:
        if lt == BPCHAR and rt == BPCHAR:
            if op in COMPARISON_OPS:
                return OpResolution(compare_func(op, BPCHAR), BOOL, BPCHAR, BPCHAR)
        if op in COMPARISON_OPS:
            return OpResolution(_CMP[op], BOOL, TEXT, TEXT)
        if op == "||":
            return OpResolution(lambda a, b: a + b, TEXT, TEXT, TEXT)
        if op in ("~", "~*", "!~", "!~*"):
            flags = re.I if "*" in op else 0
            neg = op.startswith("!")

            def regex(a, b, flags=flags, neg=neg):
                try:
                    m = re.search(b, a, flags) is not None
                except re.error as e:
                    raise PgError(f"invalid regular expression: {e}", sqlstate="2201B") from None
                return not m if neg else m
            return OpResolution(regex, BOOL, TEXT, TEXT)
        if op in ("~~", "!~~", "~~*", "!~~*"):
            f = _like if "*" not in op else _ilike
            if op.startswith("!"):
                return OpResolution(lambda a, b: not f(a, b), BOOL, TEXT, TEXT)
            return OpResolution(f, BOOL, TEXT, TEXT)
    if op == "||" and (lt in STRINGS or rt in STRINGS):
        # anynonarray || text, text || anynonarray
        return OpResolution(lambda a, b: a + b, TEXT, TEXT, TEXT)
    if lt == rt and op in COMPARISON_OPS and lt in (BOOL, BYTEA, UUID, DATE, TIME, TIMESTAMP, TIMESTAMPTZ,
                                                    INTERVAL):
        return OpResolution(_CMP[op], BOOL, lt, rt)
    if op == "||" and lt == BYTEA and rt == BYTEA:
        return OpResolution(lambda a, b: a + b, BYTEA, BYTEA, BYTEA)
    # datetimes
    dts = (DATE, TIMESTAMP, TIMESTAMPTZ)
    if lt in dts and rt in dts and op in COMPARISON_OPS:
        ct = TIMESTAMPTZ if TIMESTAMPTZ in (lt, rt) else TIMESTAMP
        return OpResolution(_CMP[op], BOOL, ct, ct)
    if lt == DATE and rt in INTS and op in "+-" and len(op) == 1:
        if op == "+":
            return OpResolution(_date_pl_int, DATE, DATE, INT4)
        return OpResolution(lambda d, n: _date_pl_int(d, -n), DATE, DATE, INT4)
    if lt in INTS and rt == DATE and op == "+":
        return OpResolution(lambda n, d: _date_pl_int(d, n), DATE, INT4, DATE)
    if lt == DATE and rt == DATE and op == "-":
        return OpResolution(lambda a, b: (a - b).days, INT4, DATE, DATE)
    if lt in dts and rt == INTERVAL and op in ("+", "-"):
        res = TIMESTAMP if lt == DATE else lt
        if op == "+":
            return OpResolution(ts_plus_interval, res, res, INTERVAL)
        return OpResolution(lambda v, iv: ts_plus_interval(v, -iv), res, res, INTERVAL)
    if lt == INTERVAL and rt in dts and op == "+":
        res = TIMESTAMP if rt == DATE else rt
        return OpResolution(lambda iv, v: ts_plus_interval(v, iv), res, INTERVAL, res)
    if lt in (TIMESTAMP, TIMESTAMPTZ) and rt in (TIMESTAMP, TIMESTAMPTZ) and op == "-":
        ct = TIMESTAMPTZ if TIMESTAMPTZ in (lt, rt) else TIMESTAMP
        return OpResolution(ts_minus_ts, INTERVAL, ct, ct)
    if lt == DATE and rt == TIME and op == "+":
        return OpResolution(lambda d, t: dt.datetime.combine(d, t), TIMESTAMP, DATE, TIME)
    if lt == TIME and rt == INTERVAL and op in ("+", "-"):
        def time_pl(t, iv, sign=1 if op == "+" else -1):
            us = (_micros_of(t) + sign * iv.microseconds) % USECS_PER_DAY
            s, u = divmod(us, 1_000_000)
            return dt.time(s // 3600, s // 60 % 60, s % 60, u)
        return OpResolution(time_pl, TIME, TIME, INTERVAL)
    if lt == TIME and rt == TIME and op == "-":
        return OpResolution(lambda a, b: Interval(0, 0, _micros_of(a) - _micros_of(b)), INTERVAL, TIME, TIME)
    if lt == INTERVAL and rt == INTERVAL and op in ("+", "-"):
        return OpResolution((lambda a, b: a + b) if op == "+" else (lambda a, b: a - b), INTERVAL,
                            INTERVAL, INTERVAL)
    if lt == INTERVAL and rt in NUM_RANK and op in ("*", "/"):
        if op == "*":
            return OpResolution(_interval_mul, INTERVAL, INTERVAL, FLOAT8)
        return OpResolution(lambda iv, f: _interval_mul(iv, 1.0 / f) if f else (_ for _ in ()).throw(_div_zero()),
                            INTERVAL, INTERVAL, FLOAT8)
    if lt in NUM_RANK and rt == INTERVAL and op == "*":
        return OpResolution(lambda f, iv: _interval_mul(iv, f), INTERVAL, FLOAT8, INTERVAL)
    raise no_operator(op, *orig, position=position)


def _fpow(a, b):
    if a == 0 and b < 0:
        raise PgError("zero raised to a negative power is undefined", sqlstate="2201F")
    if a < 0 and b != int(b) if math.isfinite(b) else False:
        raise PgError("a negative number raised to a non-integer power yields a complex result", sqlstate="2201F")
    try:
        return check_float(math.pow(a, b))
    except (OverflowError, ValueError):
        raise PgError("value out of range: overflow", sqlstate="22003") from None


def resolve_unary(op: str, t: int, position=None) -> OpResolution:
    if t == UNKNOWN:
        t = NUMERIC if op in "+-" else t
    if op == "-":
        if t in INTS:
            chk = _int_checker(t)
            return OpResolution(lambda a: chk(-a), t, t, t)
        if t in (NUMERIC, FLOAT4, FLOAT8):
            return OpResolution(lambda a: -a, t, t, t)
        if t == INTERVAL:
            return OpResolution(lambda a: -a, t, t, t)
    if op == "@" and t in NUM_RANK:
        if t in INTS:
            chk = _int_checker(t)
            return OpResolution(lambda a: chk(abs(a)), t, t, t)
        return OpResolution(abs, t, t, t)
    if op == "+" and (t in NUM_RANK or t == INTERVAL):
        return OpResolution(_identity, t, t, t)
    if op == "~" and t in INTS:
        return OpResolution(lambda a: ~a, t, t, t)
    if op in ("|/", "||/") and t in NUM_RANK:
        if op == "|/":
            return OpResolution(lambda a: functions_ext._fsqrt(a), FLOAT8, FLOAT8, FLOAT8)
        return OpResolution(lambda a: math.cbrt(a), FLOAT8, FLOAT8, FLOAT8)
    raise no_operator(op, None, t, position)


# ------------------------------------------------------------------ scalar functions

def _round_num(v: Decimal, s: int = 0) -> Decimal:
    if not v.is_finite():
        return v
    r = v.quantize(Decimal(1).scaleb(-s), rounding=ROUND_HALF_UP, context=N.CTX) if s >= 0 else \
        v.scaleb(s).quantize(Decimal(1), rounding=ROUND_HALF_UP, context=N.CTX).scaleb(-s)
    return N.fix_scale(r) if s <= 0 else r


def _now(env):
    return env.now


_now.wants_env = True


def _current_date(env):
    return env.now.date()


_current_date.wants_env = True


def _gen_random_uuid(env=None):
    return _uuid.uuid4()


_gen_random_uuid.wants_env = True


def _random(env=None):
    import random
    return random.random()


_random.wants_env = True


def _substr(s, start, length=None):
    if length is not None and length < 0:
        raise PgError("negative substring length not allowed", sqlstate="22011")
    begin = start - 1
    end = None if length is None else begin + length
    begin = max(begin, 0)
    if end is not None:
        end = max(end, 0)
    return s[begin:end]


def _float_round(v):
    return float(round(v)) if math.isfinite(v) else v


def _sign(v):
    return (v > 0) - (v < 0) if not isinstance(v, float) else float((v > 0) - (v < 0))


# name -> list of (arg types, result type, fn, strict, volatile); None in arg types = any
FUNCTIONS: dict[str, list[tuple]] = {
    "lower": [((TEXT,), TEXT, str.lower, True, False)],
    "upper": [((TEXT,), TEXT, str.upper, True, False)],
    "length": [((TEXT,), INT4, len, True, False), ((BYTEA,), INT4, len, True, False)],
    "char_length": [((TEXT,), INT4, len, True, False)],
    "character_length": [((TEXT,), INT4, len, True, False)],
    "octet_length": [((TEXT,), INT4, lambda s: len(s.encode()), True, False),
                     ((BYTEA,), INT4, len, True, False)],
    "abs": [((INT2,), INT2, abs, True, False), ((INT4,), INT4, lambda v: _int_checker(INT4)(abs(v)), True, False),
            ((INT8,), INT8, lambda v: _int_checker(INT8)(abs(v)), True, False),
            ((NUMERIC,), NUMERIC, abs, True, False), ((FLOAT8,), FLOAT8, abs, True, False)],
    "round": [((NUMERIC,), NUMERIC, _round_num, True, False), ((FLOAT8,), FLOAT8, _float_round, True, False),
              ((NUMERIC, INT4), NUMERIC, _round_num, True, False)],
    "trunc": [((NUMERIC,), NUMERIC, lambda v: N.fix_scale(v.to_integral_value(rounding="ROUND_DOWN")), True, False),
              ((FLOAT8,), FLOAT8, lambda v: float(math.trunc(v)), True, False)],
    "ceil": [((NUMERIC,), NUMERIC, lambda v: N.fix_scale(v.to_integral_value(rounding="ROUND_CEILING")), True, False),
             ((FLOAT8,), FLOAT8, lambda v: float(math.ceil(v)), True, False)],
    "floor": [((NUMERIC,), NUMERIC, lambda v: N.fix_scale(v.to_integral_value(rounding="ROUND_FLOOR")), True, False),
              ((FLOAT8,), FLOAT8, lambda v: float(math.floor(v)), True, False)],
    "sign": [((NUMERIC,), NUMERIC, lambda v: Decimal(_sign(v)), True, False), ((FLOAT8,), FLOAT8, _sign, True, False)],
    "sqrt": [((FLOAT8,), FLOAT8, math.sqrt, True, False)],
    "mod": [((INT2, INT2), INT2, _int_ops(INT2)["%"], True, False), ((INT4, INT4), INT4, _int_ops(INT4)["%"], True, False),
            ((INT8, INT8), INT8, _int_ops(INT8)["%"], True, False), ((NUMERIC, NUMERIC), NUMERIC, _num_mod, True, False)],
    "power": [((FLOAT8, FLOAT8), FLOAT8, _fpow, True, False),
              ((NUMERIC, NUMERIC), NUMERIC, lambda a, b: N.CTX.power(a, b), True, False)],
    "now": [((), TIMESTAMPTZ, _now, True, True)],
    "transaction_timestamp": [((), TIMESTAMPTZ, _now, True, True)],
    "statement_timestamp": [((), TIMESTAMPTZ, _now, True, True)],
    "clock_timestamp": [((), TIMESTAMPTZ, lambda env: dt.datetime.now(dt.timezone.utc), True, True)],
    "gen_random_uuid": [((), UUID, _gen_random_uuid, True, True)],
    "random": [((), FLOAT8, _random, True, True)],
    "substr": [((TEXT, INT4), TEXT, _substr, True, False), ((TEXT, INT4, INT4), TEXT, _substr, True, False)],
    "substring": [((TEXT, INT4), TEXT, _substr, True, False), ((TEXT, INT4, INT4), TEXT, _substr, True, False)],
    "btrim": [((TEXT,), TEXT, lambda s: s.strip(" "), True, False), ((TEXT, TEXT), TEXT, lambda s, c: s.strip(c), True, False)],
    "ltrim": [((TEXT,), TEXT, lambda s: s.lstrip(" "), True, False), ((TEXT, TEXT), TEXT, lambda s, c: s.lstrip(c), True, False)],
    "rtrim": [((TEXT,), TEXT, lambda s: s.rstrip(" "), True, False), ((TEXT, TEXT), TEXT, lambda s, c: s.rstrip(c), True, False)],
    "replace": [((TEXT, TEXT, TEXT), TEXT, lambda s, a, b: s.replace(a, b) if a else s, True, False)],
    "strpos": [((TEXT, TEXT), INT4, lambda s, sub: s.find(sub) + 1, True, False)],
    "position": [((TEXT, TEXT), INT4, lambda s, sub: s.find(sub) + 1, True, False)],   # POSITION(sub IN s)
    "left": [((TEXT, INT4), TEXT, lambda s, n: s[:n] if n >= 0 else s[:n], True, False)],
    "right": [((TEXT, INT4), TEXT, lambda s, n: s[-n:] if n > 0 else s[-n:] if n < 0 else "", True, False)],
    "repeat": [((TEXT, INT4), TEXT, lambda s, n: s * max(n, 0), True, False)],
    "reverse": [((TEXT,), TEXT, lambda s: s[::-1], True, False)],
    "lpad": [((TEXT, INT4), TEXT, lambda s, n: _pad(s, n, " ", True), True, False),
             ((TEXT, INT4, TEXT), TEXT, lambda s, n, f: _pad(s, n, f, True), True, False)],
    "rpad": [((TEXT, INT4), TEXT, lambda s, n: _pad(s, n, " ", False), True, False),
             ((TEXT, INT4, TEXT), TEXT, lambda s, n, f: _pad(s, n, f, False), True, False)],
    "split_part": [((TEXT, TEXT, INT4), TEXT, lambda s, d, n: _split_part(s, d, n), True, False)],
    "initcap": [((TEXT,), TEXT, lambda s: re.sub(r"[A-Za-z0-9]+", lambda m: m.group(0).capitalize(), s), True, False)],
    "chr": [((INT4,), TEXT, chr, True, False)],
    "ascii": [((TEXT,), INT4, lambda s: ord(s[0]) if s else 0, True, False)],
    "starts_with": [((TEXT, TEXT), BOOL, lambda s, p: s.startswith(p), True, False)],
    "translate": [((TEXT, TEXT, TEXT), TEXT, lambda s, a, b: _translate(s, a, b), True, False)],
    "exp": [((FLOAT8,), FLOAT8, lambda v: check_float(math.exp(v)), True, False)],
    "ln": [((FLOAT8,), FLOAT8, lambda v: _log(v, math.log), True, False)],
    "log": [((FLOAT8,), FLOAT8, lambda v: _log(v, math.log10), True, False)],
    "pi": [((), FLOAT8, lambda: math.pi, True, False)],
    "md5": [((TEXT,), TEXT, lambda s: __import__("hashlib").md5(s.encode()).hexdigest(), True, False)],
    "version": [((), TEXT, lambda env: "PostgreSQL 16.9 on aarch64-unknown-linux-gnu, compiled by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit", True, True)],
}
for _fn in ("version",):
    FUNCTIONS[_fn][0][2].wants_env = True
for _fn in ("clock_timestamp",):
    FUNCTIONS[_fn][0][2].wants_env = True


def _pad(s: str, n: int, fill: str, left: bool) -> str:
    if n <= len(s):
        return s[:max(n, 0)]
    if not fill:
        return s
    pad = (fill * ((n - len(s)) // len(fill) + 1))[:n - len(s)]
    return pad + s if left else s + pad


def _split_part(s: str, d: str, n: int) -> str:
    if n == 0:
        raise PgError("field position must not be zero", sqlstate="22023")
    parts = s.split(d) if d else [s]
    if n < 0:
        n = len(parts) + n + 1
        if n <= 0:
            return ""
    return parts[n - 1] if n <= len(parts) else ""


def _translate(s: str, a: str, b: str) -> str:
    out = []
    for ch in s:
        i = a.find(ch)
        if i < 0:
            out.append(ch)
        elif i < len(b):
            out.append(b[i])
    return "".join(out)


def _log(v: float, f) -> float:
    if v == 0:
        raise PgError("cannot take logarithm of zero", sqlstate="2201E")
    if v < 0:
        raise PgError("cannot take logarithm of a negative number", sqlstate="2201E")
    return f(v)


def _concat(*args):
    return "".join("" if a is None else (a if isinstance(a, str) else str(a)) for a in args)


_PREFERRED = {FLOAT8, TEXT, TIMESTAMPTZ, INTERVAL, BOOL}


def resolve_function(name: str, arg_types: list[int], position=None):
    """-> (fn, result type, target arg types, strict, volatile) or raises 42883."""
    cands = FUNCTIONS.get(name)
    if cands:
        best = None
        best_score = (-1, -1)
        for sig, res, fn, strict, vol in cands:
            if len(sig) != len(arg_types):
                continue
            ok = True
            score = 0
            preferred = 0
            for a, s in zip(arg_types, sig):
                if a == s:
                    score += 2
                elif a == UNKNOWN or can_implicit(a, s) or (s == TEXT and a in STRINGS):
                    score += 1 if a != UNKNOWN else 0
                    preferred += (s in _PREFERRED) + (2 if a == UNKNOWN and s in STRINGS else 0)
                else:
                    ok = False
                    break
            score = (score, preferred)
            if ok and score > best_score:
                best, best_score = (fn, res, list(sig), strict, vol), score
        if best is not None:
            return best
    sig = ", ".join(type_name(t) for t in arg_types)
    raise errors.UndefinedFunction(
        f"function {name}({sig}) does not exist", position=position,
        hint="No function matches the given name and argument types. You might need to add explicit type casts.")


# ------------------------------------------------------------------ aggregates

class _Count:
    __slots__ = ("n",)

    def __init__(self):
        self.n = 0

    def add(self, v):
        if v is not None:
            self.n += 1

    def result(self):
        return self.n


class _CountStar(_Count):
    def add(self, v):
        self.n += 1


class _Sum:
    __slots__ = ("s", "conv", "chk")

    def __init__(self, conv=None, chk=None):
        self.s = None
        self.conv = conv
        self.chk = chk

    def add(self, v):
        if v is None:
            return
        if self.conv:
            v = self.conv(v)
        self.s = v if self.s is None else self.s + v

    def result(self):
        if self.chk and self.s is not None:
            return self.chk(self.s)
        return self.s


class _Avg:
    __slots__ = ("s", "n", "kind")

    def __init__(self, kind):
        self.s = None
        self.n = 0
        self.kind = kind

    def add(self, v):
        if v is None:
            return
        self.n += 1
        if self.kind == "numeric":
            v = Decimal(v)
        self.s = v if self.s is None else self.s + v

    def result(self):
        if self.n == 0:
            return None
        if self.kind == "numeric":
            return N.div(self.s, Decimal(self.n))
        if self.kind == "interval":
            return _interval_mul(self.s, 1.0 / self.n)
        return self.s / self.n


class _FloatAccum:
    """PostgreSQL's float8_accum (Youngs-Cramer): avg, variance and stddev of floats."""
    __slots__ = ("n", "sx", "sxx", "kind")

    def __init__(self, kind):
        self.n, self.sx, self.sxx, self.kind = 0.0, 0.0, 0.0, kind

    def add(self, v):
        if v is None:
            return
        v = float(v)
        n1 = self.n + 1.0
        sx = self.sx + v
        if self.n > 0:
            tmp = v * n1 - sx
            sxx = self.sxx + tmp * tmp / (self.n * n1)
            if math.isinf(sx) or math.isinf(sxx):
                if not math.isinf(self.sx) and not math.isinf(v):
                    raise PgError("value out of range: overflow", sqlstate="22003")
                sxx = math.nan
        else:
            sxx = math.nan if (math.isnan(v) or math.isinf(v)) else 0.0
        self.n, self.sx, self.sxx = n1, sx, sxx

    def result(self):
        n, kind = self.n, self.kind
        if kind == "avg":
            return self.sx / n if n else None
        samp = kind.endswith("samp")
        if n == 0 or (samp and n <= 1):
            return None
        var = self.sxx / ((n - 1.0) if samp else n)
        return math.sqrt(var) if kind.startswith("stddev") else var


class _NumVar:
    """variance / stddev over integers and numerics, computed as PostgreSQL's numeric_stddev_internal."""
    __slots__ = ("n", "sx", "sxx", "dscale", "kind")

    def __init__(self, kind):
        self.n, self.sx, self.sxx, self.dscale, self.kind = 0, Decimal(0), Decimal(0), 0, kind

    def add(self, v):
        if v is None:
            return
        v = Decimal(v)
        if v.is_nan():
            self.dscale = -1
            return
        self.n += 1
        self.sx = N.CTX.add(self.sx, v)
        self.sxx = N.CTX.add(self.sxx, N.CTX.multiply(v, v))
        self.dscale = max(self.dscale, N.scale_of(v)) if self.dscale >= 0 else -1

    def result(self):
        n, samp = self.n, self.kind.endswith("samp")
        if n == 0 or (samp and n <= 1):
            return None
        if self.dscale < 0:
            return Decimal("NaN")
        rscale = self.dscale * 2
        sx2 = N.round_scale(N.CTX.multiply(self.sx, self.sx), rscale)
        num = N.CTX.subtract(N.round_scale(N.CTX.multiply(Decimal(n), self.sxx), rscale), sx2)
        if num <= 0:
            return Decimal(0)
        den = Decimal(n * (n - 1) if samp else n * n)
        var = N.div(num, den)
        if self.kind.startswith("stddev"):
            rs = N.scale_of(var)
            return N.round_scale(N.CTX.sqrt(var), rs)
        return var


class _MinMax:
    __slots__ = ("v", "key", "better")

    def __init__(self, key, is_max):
        self.v = None
        self.key = key or _identity
        self.better = (lambda a, b: a > b) if is_max else (lambda a, b: a < b)

    def add(self, v):
        if v is None:
            return
        if self.v is None or self.better(self.key(v), self.key(self.v)):
            self.v = v

    def result(self):
        return self.v


class _BoolAgg:
    __slots__ = ("v", "is_and")

    def __init__(self, is_and):
        self.v = None
        self.is_and = is_and

    def add(self, v):
        if v is None:
            return
        self.v = v if self.v is None else ((self.v and v) if self.is_and else (self.v or v))

    def result(self):
        return self.v


class _StringAgg:
    def __init__(self):
        self.parts = []
        self.sep = None

    def add(self, v, sep=None):
        if v is None:
            return
        self.parts.append((v, sep))

    def result(self):
        if not self.parts:
            return None
        out = [self.parts[0][0]]
        for v, sep in self.parts[1:]:
            out.append(sep or "")
            out.append(v)
        return "".join(out)


_VAR_AGGS = {"stddev": "stddev_samp", "stddev_samp": "stddev_samp", "stddev_pop": "stddev_pop",
             "variance": "var_samp", "var_samp": "var_samp", "var_pop": "var_pop"}
AGGREGATES = {"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg", "array_agg",
              *_VAR_AGGS}


def resolve_aggregate(name: str, arg_types: list[int], star: bool, position=None):
    """-> (result type, state factory, argument target types)."""
    if name == "count":
        if star or not arg_types:
            return INT8, _CountStar, []
        return INT8, _Count, [arg_types[0] if arg_types[0] != UNKNOWN else TEXT]
    if len(arg_types) != 1 and name != "string_agg":
        raise resolve_function(name, arg_types, position)
    t = arg_types[0] if arg_types else UNKNOWN
    if name == "array_agg":
        from .arrays import resolve_array_agg
        return resolve_array_agg(arg_types, position)
    if name == "sum":
        if t in (INT2, INT4):
            return INT8, lambda: _Sum(), [t]
        if t == INT8:
            return NUMERIC, lambda: _Sum(Decimal), [t]
        if t == NUMERIC:
            return NUMERIC, lambda: _Sum(), [t]
        if t == FLOAT4:
            return FLOAT4, lambda: _Sum(chk=lambda v: check_float(v, True)), [t]
        if t in (FLOAT8, UNKNOWN):
            return FLOAT8, lambda: _Sum(chk=check_float), [FLOAT8]
        if t == INTERVAL:
            return INTERVAL, lambda: _Sum(), [t]
    elif name == "avg":
        if t in (INT2, INT4, INT8, NUMERIC):
            return NUMERIC, lambda: _Avg("numeric"), [t]
        if t in (FLOAT4, FLOAT8, UNKNOWN):
            return FLOAT8, lambda: _FloatAccum("avg"), [FLOAT8]
        if t == INTERVAL:
            return INTERVAL, lambda: _Avg("interval"), [t]
    elif name in _VAR_AGGS:
        kind = _VAR_AGGS[name]
        if t in (INT2, INT4, INT8, NUMERIC):
            return NUMERIC, lambda: _NumVar(kind), [t]
        if t in (FLOAT4, FLOAT8, UNKNOWN):
            return FLOAT8, lambda: _FloatAccum(kind), [FLOAT8]
    elif name in ("min", "max"):
        if t == UNKNOWN:
            t = TEXT
        if t in (VARCHAR,):
            t = TEXT
        key = sort_key_func(t)
        return t, (lambda: _MinMax(key, name == "max")), [t]
    elif name in ("bool_and", "bool_or", "every"):
        if t in (BOOL, UNKNOWN):
            return BOOL, (lambda: _BoolAgg(name != "bool_or")), [BOOL]
    elif name == "string_agg" and len(arg_types) == 2:
        return TEXT, _StringAgg, [TEXT, TEXT]
    sig = ", ".join(type_name(x) for x in arg_types)
    raise errors.UndefinedFunction(
        f"function {name}({sig}) does not exist", position=position,
        hint="No function matches the given name and argument types. You might need to add explicit type casts.")


# ------------------------------------------------------------------ window functions

WINDOW_FUNCTIONS = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
                    "first_value", "last_value", "nth_value"}


def resolve_window(name: str, arg_types: list[int], position=None):
    """-> (result type, argument target types) of a window-only function."""
    n = len(arg_types)
    if name in ("row_number", "rank", "dense_rank") and n == 0:
        return INT8, []
    if name in ("percent_rank", "cume_dist") and n == 0:
        return FLOAT8, []
    if name == "ntile" and n == 1:
        return INT4, [INT4]
    if name in ("lag", "lead") and 1 <= n <= 3:
        t = arg_types[0] if arg_types[0] != UNKNOWN else TEXT
        return t, [t, INT4, t][:n]
    if name in ("first_value", "last_value") and n == 1:
        t = arg_types[0] if arg_types[0] != UNKNOWN else TEXT
        return t, [t]
    if name == "nth_value" and n == 2:
        t = arg_types[0] if arg_types[0] != UNKNOWN else TEXT
        return t, [t, INT4]
    sig = ", ".join(type_name(x) for x in arg_types)
    raise errors.UndefinedFunction(
        f"function {name}({sig}) does not exist", position=position,
        hint="No function matches the given name and argument types. You might need to add explicit type casts.")


# ------------------------------------------------------------------ extract / date_part / date_trunc

_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_TZ = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_FIELD_ALIASES = {"years": "year", "months": "month", "mon": "month", "mons": "month", "days": "day",
                  "hours": "hour", "minutes": "minute", "min": "minute", "mins": "minute", "seconds": "second",
                  "sec": "second", "secs": "second", "milliseconds": "millisecond", "ms": "millisecond",
                  "microseconds": "microsecond", "us": "microsecond", "y": "year", "h": "hour", "d": "day"}


def _micros_of(t) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


_KNOWN_UNITS = {"year", "month", "day", "hour", "minute", "second", "millisecond", "microsecond", "dow", "isodow",
                "doy", "week", "quarter", "epoch", "century", "decade", "millennium", "isoyear", "julian",
                "timezone", "timezone_hour", "timezone_minute"}


def extract_field(field: str, oid: int, position=None) -> Callable:
    """The function computing EXTRACT(field FROM value of type oid) as numeric."""
    f = _FIELD_ALIASES.get(field.lower(), field.lower())
    tname = type_name(oid)

    def unsupported():
        if f not in _KNOWN_UNITS:
            return PgError(f'unit "{field}" not recognized for type {tname}', sqlstate="22023")
        return PgError(f'unit "{field}" not supported for type {tname}', sqlstate="0A000")

    def sec6(us: int) -> Decimal:
        return (Decimal(us) / Decimal(1_000_000)).quantize(Decimal("0.000001"))
    if oid in (TIMESTAMP, TIMESTAMPTZ, DATE):
        is_date = oid == DATE

        def get(v):
            if is_date:
                v = dt.datetime(v.year, v.month, v.day)
            if v.tzinfo is not None:
                v = v.astimezone(dt.timezone.utc)
            return v
        simple = {"year": lambda v: v.year, "month": lambda v: v.month, "day": lambda v: v.day,
                  "quarter": lambda v: (v.month - 1) // 3 + 1, "dow": lambda v: (v.weekday() + 1) % 7,
                  "isodow": lambda v: v.isoweekday(), "doy": lambda v: v.timetuple().tm_yday,
                  "week": lambda v: v.isocalendar()[1], "isoyear": lambda v: v.isocalendar()[0],
                  "decade": lambda v: v.year // 10, "century": lambda v: (v.year + 99) // 100 if v.year > 0 else -((99 - (v.year - 1)) // 100),
                  "millennium": lambda v: (v.year + 999) // 1000}
        if f in simple:
            g = simple[f]
            return lambda v: Decimal(g(get(v)))
        if f == "epoch":
            if is_date:
                return lambda v: Decimal((v - dt.date(1970, 1, 1)).days * 86400)

            def epoch(v):
                d = v - (_EPOCH_TZ if v.tzinfo is not None else _EPOCH)
                return sec6((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds)
            return epoch
        if is_date:
            raise unsupported()
        if f == "hour":
            return lambda v: Decimal(get(v).hour)
        if f == "minute":
            return lambda v: Decimal(get(v).minute)
        if f == "second":
            return lambda v: sec6(get(v).second * 1_000_000 + get(v).microsecond)
        if f == "millisecond":
            return lambda v: (Decimal(get(v).second * 1_000_000 + get(v).microsecond) / 1000).quantize(Decimal("0.001"))
        if f == "microsecond":
            return lambda v: Decimal(get(v).second * 1_000_000 + get(v).microsecond)
        if f in ("timezone", "timezone_hour", "timezone_minute") and oid == TIMESTAMPTZ:
            return lambda v: Decimal(0)
        raise unsupported()
    if oid == TIME:
        table = {"hour": lambda t: Decimal(t.hour), "minute": lambda t: Decimal(t.minute),
                 "second": lambda t: sec6(t.second * 1_000_000 + t.microsecond),
                 "millisecond": lambda t: (Decimal(t.second * 1_000_000 + t.microsecond) / 1000).quantize(Decimal("0.001")),
                 "microsecond": lambda t: Decimal(t.second * 1_000_000 + t.microsecond),
                 "epoch": lambda t: sec6(_micros_of(t))}
        if f in table:
            return table[f]
        raise unsupported()
    if oid == INTERVAL:
        table = {
            "year": lambda iv: Decimal(int(iv.months / 12)), "month": lambda iv: Decimal(iv.months - int(iv.months / 12) * 12),
            "day": lambda iv: Decimal(iv.days),
            "hour": lambda iv: Decimal(int(iv.microseconds / 3_600_000_000)),
            "minute": lambda iv: Decimal(int((iv.microseconds - int(iv.microseconds / 3_600_000_000) * 3_600_000_000) / 60_000_000)),
            "second": lambda iv: sec6(iv.microseconds - int(iv.microseconds / 60_000_000) * 60_000_000),
            # years count 365.25 days, months 30 days (as PostgreSQL)
            "epoch": lambda iv: sec6(int(iv.months / 12) * 31_557_600_000_000
                                     + (iv.months - int(iv.months / 12) * 12) * 30 * USECS_PER_DAY
                                     + iv.days * USECS_PER_DAY + iv.microseconds),
        }
        if f in table:
            return table[f]
        raise unsupported()
    raise errors.UndefinedFunction(f"function extract(unknown, {tname}) does not exist", position=position)


_TRUNC = ("microseconds", "milliseconds", "second", "minute", "hour", "day", "week", "month", "quarter", "year",
          "decade", "century", "millennium")


def date_trunc_func(field: str, position=None) -> Callable:
    f = _FIELD_ALIASES.get(field.lower(), field.lower())
    if f == "microsecond":
        f = "microseconds"
    if f == "millisecond":
        f = "milliseconds"
    if f not in _TRUNC:
        raise PgError(f'unit "{field}" not recognized for type timestamp without time zone', sqlstate="22023",
                      position=position)

    def trunc(v):
        if f == "microseconds":
            return v
        if f == "milliseconds":
            return v.replace(microsecond=v.microsecond // 1000 * 1000)
        v = v.replace(microsecond=0)
        if f == "second":
            return v
        v = v.replace(second=0)
        if f == "minute":
            return v
        v = v.replace(minute=0)
        if f == "hour":
            return v
        v = v.replace(hour=0)
        if f == "day":
            return v
        if f == "week":
            return v - dt.timedelta(days=v.weekday())
        v = v.replace(day=1)
        if f == "month":
            return v
        if f == "quarter":
            return v.replace(month=(v.month - 1) // 3 * 3 + 1)
        v = v.replace(month=1)
        if f == "year":
            return v
        if f == "decade":
            return v.replace(year=v.year // 10 * 10)
        if f == "century":
            return v.replace(year=(v.year - 1) // 100 * 100 + 1)
        return v.replace(year=(v.year - 1) // 1000 * 1000 + 1)
    return trunc


from . import functions_ext  # noqa: E402,F401  (registers more built-in functions)
