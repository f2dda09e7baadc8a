"""More built-in scalar functions (text, math, date/time formatting), registered into
functions.FUNCTIONS. Semantics follow PostgreSQL 15 with the C collation and UTC."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import math
import re
from decimal import Decimal

from services.common.errors import PgError

from . import functions as F
from .types import numeric as N
from .types.float_common import check_float
from .types.interval import Interval, USECS_PER_DAY

INT2, INT4, INT8, NUMERIC, FLOAT8 = F.INT2, F.INT4, F.INT8, F.NUMERIC, F.FLOAT8
TEXT, BOOL, BYTEA = F.TEXT, F.BOOL, F.BYTEA
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL = F.DATE, F.TIME, F.TIMESTAMP, F.TIMESTAMPTZ, F.INTERVAL


def _reg(name, sig, res, fn, strict=True, volatile=False):
    F.FUNCTIONS.setdefault(name, []).append((tuple(sig), res, fn, strict, volatile))


# ------------------------------------------------------------------ text (C locale: ASCII case mapping)

_UP = {i: i - 32 for i in range(ord("a"), ord("z") + 1)}
_LO = {i: i + 32 for i in range(ord("A"), ord("Z") + 1)}


def ascii_upper(s: str) -> str:
    return s.translate(_UP)


def ascii_lower(s: str) -> str:
    return s.translate(_LO)


def _initcap(s: str) -> str:
    out, word = [], False
    for ch in s:
        alnum = ch.isascii() and ch.isalnum()
        out.append((ascii_lower(ch) if word else ascii_upper(ch)) if alnum else ch)
        word = alnum
    return "".join(out)


F.FUNCTIONS["upper"] = [((TEXT,), TEXT, ascii_upper, True, False)]
F.FUNCTIONS["lower"] = [((TEXT,), TEXT, ascii_lower, True, False)]
F.FUNCTIONS["initcap"] = [((TEXT,), TEXT, _initcap, True, False)]


def _chr(n):
    if n == 0:
        raise PgError("null character not permitted", sqlstate="54000")
    if n < 0 or n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        raise PgError(f"requested character too large for encoding: {n}" if n > 0 else
                      "character number must be positive", sqlstate="54000" if n > 0 else "22023")
    return chr(n)


F.FUNCTIONS["chr"] = [((INT4,), TEXT, _chr, True, False)]
_reg("to_hex", (INT4,), TEXT, lambda v: format(v & 0xFFFFFFFF, "x"))
_reg("to_hex", (INT8,), TEXT, lambda v: format(v & 0xFFFFFFFFFFFFFFFF, "x"))
_reg("bit_length", (TEXT,), INT4, lambda s: 8 * len(s.encode()))
_reg("bit_length", (BYTEA,), INT4, lambda b: 8 * len(b))
_reg("md5", (BYTEA,), TEXT, lambda b: hashlib.md5(b).hexdigest())


def quote_literal(s: str) -> str:
    q = s.replace("'", "''")
    if "\\" in q:
        return "E'" + q.replace("\\", "\\\\") + "'"
    return "'" + q + "'"


_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_KEYWORDS = {"all", "and", "any", "as", "asc", "between", "both", "case", "cast", "check", "column", "create",
             "default", "desc", "distinct", "do", "else", "end", "false", "for", "from", "group", "having", "in",
             "into", "is", "join", "leading", "limit", "not", "null", "offset", "on", "or", "order", "select",
             "table", "then", "to", "trailing", "true", "union", "unique", "user", "using", "when", "where", "with"}


def quote_ident(s: str) -> str:
    if _IDENT.match(s) and s not in _KEYWORDS:
        return s
    return '"' + s.replace('"', '""') + '"'


_reg("quote_literal", (TEXT,), TEXT, quote_literal)
_reg("quote_ident", (TEXT,), TEXT, quote_ident)
_reg("quote_nullable", (TEXT,), TEXT, lambda s: "NULL" if s is None else quote_literal(s), strict=False)


# POSIX regular expressions (the subset Python's re shares with PostgreSQL's ARE)

def _regex(p: str, flags: str = "") -> re.Pattern:
    f = 0
    for c in flags:
        if c == "i":
            f |= re.I
        elif c in "gcn":
            pass
        else:
            raise PgError(f"invalid regular expression option: \"{c}\"", sqlstate="22023")
    try:
        return re.compile(p, f)
    except re.error as e:
        raise PgError(f"invalid regular expression: {e}", sqlstate="2201B") from None


def _repl(r: str):
    def fn(m):
        out, i = [], 0
        while i < len(r):
            c = r[i]
            if c == "\\" and i + 1 < len(r):
                d = r[i + 1]
                if d.isdigit():
                    g = int(d)
                    out.append((m.group(g) or "") if g <= (m.re.groups or 0) or g == 0 else "")
                elif d == "&":
                    out.append(m.group(0))
                else:
                    out.append(d)
                i += 2
                continue
            out.append(c)
            i += 1
        return "".join(out)
    return fn


def regexp_replace(s, p, r, flags=""):
    rx = _regex(p, flags)
    return rx.sub(_repl(r), s, count=0 if "g" in flags else 1)


def regexp_replace_start(s, p, r, start, n=None, flags=""):
    if start <= 0:
        raise PgError(f'invalid value for parameter "start": {start}', sqlstate="22023")
    rx = _regex(p, flags)
    head, tail = s[:start - 1], s[start - 1:]
    if n is None:
        return head + rx.sub(_repl(r), tail, count=0 if "g" in flags else 1)
    k = [0]

    def one(m):
        k[0] += 1
        return _repl(r)(m) if (k[0] == n or n == 0) else m.group(0)
    return head + rx.sub(one, tail)


_reg("regexp_replace", (TEXT, TEXT, TEXT), TEXT, regexp_replace)
_reg("regexp_replace", (TEXT, TEXT, TEXT, TEXT), TEXT, regexp_replace)
_reg("regexp_replace", (TEXT, TEXT, TEXT, INT4), TEXT, regexp_replace_start)
_reg("regexp_replace", (TEXT, TEXT, TEXT, INT4, INT4), TEXT, regexp_replace_start)
_reg("regexp_replace", (TEXT, TEXT, TEXT, INT4, INT4, TEXT), TEXT, regexp_replace_start)
_reg("regexp_count", (TEXT, TEXT), INT4, lambda s, p: len(_regex(p).findall(s)))
_reg("regexp_count", (TEXT, TEXT, INT4), INT4, lambda s, p, st: len(_regex(p).findall(s[st - 1:])))
_reg("regexp_count", (TEXT, TEXT, INT4, TEXT), INT4, lambda s, p, st, fl: len(_regex(p, fl).findall(s[st - 1:])))
_reg("regexp_like", (TEXT, TEXT), BOOL, lambda s, p: _regex(p).search(s) is not None)
_reg("regexp_like", (TEXT, TEXT, TEXT), BOOL, lambda s, p, fl: _regex(p, fl).search(s) is not None)
_reg("regexp_instr", (TEXT, TEXT), INT4, lambda s, p: (m.start() + 1) if (m := _regex(p).search(s)) else 0)
_reg("regexp_substr", (TEXT, TEXT), TEXT, lambda s, p: m.group(0) if (m := _regex(p).search(s)) else None)


def similar_to_escape(pat: str, esc: str | None = "\\") -> str:
    """SQL SIMILAR TO pattern -> an anchored regular expression (PostgreSQL's similar_escape)."""
    if esc is not None and len(esc) > 1:
        raise PgError("invalid escape string", sqlstate="22025", hint="Escape string must be empty or one character.")
    out, i, in_br = [], 0, False
    while i < len(pat):
        c = pat[i]
        if esc and c == esc:
            if i + 1 < len(pat):
                out.append(re.escape(pat[i + 1]))
                i += 2
                continue
            raise PgError("invalid escape string", sqlstate="22025")
        if in_br:
            out.append(c)
            if c == "]":
                in_br = False
        elif c == "[":
            in_br = True
            out.append(c)
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c in ".^$\\":
            out.append("\\" + c)
        else:
            out.append(c)
        i += 1
    return "^(?:" + "".join(out) + ")$"


_reg("similar_to_escape", (TEXT,), TEXT, similar_to_escape)
_reg("similar_to_escape", (TEXT, TEXT), TEXT, similar_to_escape)


def format_func(fmt, args, outs):
    """format(formatstr, VARIADIC args): %s %I %L %%, with n$ positions and widths."""
    if fmt is None:
        return None
    out, i, argi = [], 0, 0
    spec = re.compile(r"%(?:(\d+)\$)?(-)?(\d+|\*)?([sIL%])")
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        m = spec.match(fmt, i)
        if not m:
            if i + 1 >= len(fmt):
                raise PgError("unterminated format() type specifier", sqlstate="22023",
                              hint='For a single "%" use "%%".')
            raise PgError(f'unrecognized format() type specifier "{fmt[i + 1]}"', sqlstate="22023",
                          hint='For a single "%" use "%%".')
        i = m.end()
        pos, minus, width, kind = m.groups()
        if kind == "%":
            out.append("%")
            continue
        if pos is not None:
            argi = int(pos) - 1
        if argi >= len(args):
            raise PgError("too few arguments for format()", sqlstate="22023")
        v, o = args[argi], outs[argi]
        argi += 1
        if kind == "s":
            t = "" if v is None else o(v)
        elif kind == "I":
            if v is None:
                raise PgError("null values cannot be formatted as an SQL identifier", sqlstate="22004")
            t = quote_ident(o(v))
        else:
            t = "NULL" if v is None else quote_literal(o(v))
        if width and width != "*":
            t = t.ljust(int(width)) if minus else t.rjust(int(width))
        out.append(t)
    return "".join(out)


# ------------------------------------------------------------------ math

def _copysign_round(f):
    def g(v):
        if not math.isfinite(v):
            return v
        return math.copysign(float(f(v)), v)
    return g


F.FUNCTIONS["round"][1] = ((FLOAT8,), FLOAT8, _copysign_round(round), True, False)
F.FUNCTIONS["trunc"][1] = ((FLOAT8,), FLOAT8, _copysign_round(math.trunc), True, False)
F.FUNCTIONS["ceil"][1] = ((FLOAT8,), FLOAT8, _copysign_round(math.ceil), True, False)
F.FUNCTIONS["floor"][1] = ((FLOAT8,), FLOAT8, _copysign_round(math.floor), True, False)
F.FUNCTIONS["ceiling"] = F.FUNCTIONS["ceil"]


def _nan_safe(f):
    def g(v, *a):
        return v if not v.is_finite() else f(v, *a)
    return g


for _nm in ("round", "trunc", "ceil", "floor"):
    F.FUNCTIONS[_nm] = [(sig, res, _nan_safe(fn) if sig[0] == NUMERIC else fn, st, vol)
                        for sig, res, fn, st, vol in F.FUNCTIONS[_nm]]
F.FUNCTIONS["ceiling"] = F.FUNCTIONS["ceil"]


def _fsqrt(v):
    if v < 0:
        raise PgError("cannot take square root of a negative number", sqlstate="2201F")
    return math.sqrt(v)


def _fexp(v):
    try:
        return check_float(math.exp(v))
    except OverflowError:
        raise PgError("value out of range: overflow", sqlstate="22003") from None


F.FUNCTIONS["sqrt"] = [((FLOAT8,), FLOAT8, _fsqrt, True, False)]
F.FUNCTIONS["exp"] = [((FLOAT8,), FLOAT8, _fexp, True, False)]


def _ctx(rs: int, int_digits: int = 0):
    import decimal
    return decimal.Context(prec=max(rs, 0) + max(int_digits, 0) + 30, rounding=decimal.ROUND_HALF_UP,
                           Emax=999999, Emin=-999999)


def _num_weight(d: Decimal) -> int:
    return N._weight_first(d)[0]


def _clamp_scale(rs: int) -> int:
    return max(0, min(rs, 1000))


def num_sqrt(v: Decimal) -> Decimal:
    if v.is_nan():
        return v
    if v < 0:
        raise PgError("cannot take square root of a negative number", sqlstate="2201F")
    if v == 0:
        return N.round_scale(Decimal(0), _clamp_scale(max(16, N.scale_of(v))))
    sweight = (_num_weight(v) + 1) * 4 // 2 - 1
    rs = _clamp_scale(max(16 - sweight, N.scale_of(v)))
    return N.round_scale(_ctx(rs, v.adjusted() // 2 + 2).sqrt(v), rs)


def num_exp(v: Decimal) -> Decimal:
    if v.is_nan():
        return v
    if abs(float(v)) >= 6000:
        if v > 0:
            raise PgError("value overflows numeric format", sqlstate="22003")
        return N.round_scale(Decimal(0), 1000)
    val = float(v) * 0.434294481903252
    if val > 131072:
        raise PgError("value overflows numeric format", sqlstate="22003")
    val = max(-1000, min(val, 1000))
    rs = _clamp_scale(max(16 - int(val), N.scale_of(v)))
    return N.round_scale(_ctx(rs, int(val) + 2).exp(v), rs)


def _ln_dweight(v: Decimal) -> int:
    if v <= 0:
        return 0
    if Decimal("0.9") <= v <= Decimal("1.1"):
        x = v - 1
        return x.adjusted() if x != 0 else 0
    lv = math.log(float(v)) if 1e-300 < float(v) < 1e300 else float(N.CTX.ln(v))
    return int(math.log10(abs(lv)))


def _check_log_arg(v: Decimal):
    if v == 0:
        raise PgError("cannot take logarithm of zero", sqlstate="2201E")
    if v < 0:
        raise PgError("cannot take logarithm of a negative number", sqlstate="2201E")


def num_ln(v: Decimal) -> Decimal:
    if v.is_nan():
        return v
    _check_log_arg(v)
    rs = _clamp_scale(max(16 - _ln_dweight(v), N.scale_of(v)))
    return N.round_scale(_ctx(rs, 5).ln(v), rs)


def num_log(base: Decimal, v: Decimal) -> Decimal:
    if v.is_nan() or base.is_nan():
        return Decimal("NaN")
    _check_log_arg(base)
    _check_log_arg(v)
    if base == 1:
        raise PgError("division by zero", sqlstate="22012")
    rw = _ln_dweight(v) - _ln_dweight(base)
    rs = _clamp_scale(max(16 - rw, N.scale_of(base), N.scale_of(v)))
    c = _ctx(rs, 10)
    return N.round_scale(c.divide(c.ln(v), c.ln(base)), rs)


def num_power(a: Decimal, b: Decimal) -> Decimal:
    if a.is_nan() or b.is_nan():
        return Decimal(1) if (b == 0 or a == 1) else Decimal("NaN")
    if a == 0 and b < 0:
        raise PgError("zero raised to a negative power is undefined", sqlstate="2201F")
    integral = b == b.to_integral_value()
    if a < 0 and not integral:
        raise PgError("a negative number raised to a non-integer power yields a complex result", sqlstate="2201F")
    if integral and abs(b) < (1 << 31):
        rs = _clamp_scale(max(16, N.scale_of(a)))
        if a == 0:
            return N.round_scale(Decimal(1) if b == 0 else Decimal(0), rs)
        est = float(b) * math.log10(abs(float(a))) if 1e-300 < abs(float(a)) < 1e300 else 0
        if est > 131072 * 4:
            raise PgError("value overflows numeric format", sqlstate="22003")
        return N.round_scale(N.CTX.power(a, int(b)), rs)
    if a == 0:
        return N.round_scale(Decimal(0), _clamp_scale(max(16, N.scale_of(a), N.scale_of(b))))
    val = float(_ctx(0).multiply(_ctx(0).ln(a), b)) * 0.434294481903252
    if val > 131072 * 4:
        raise PgError("value overflows numeric format", sqlstate="22003")
    rs = _clamp_scale(max(16 - int(val), N.scale_of(a), N.scale_of(b)))
    return N.round_scale(_ctx(rs, int(val) + 2).power(a, b), rs)


def _flog10(v):
    return F._log(v, math.log10)


F.FUNCTIONS["sqrt"].append(((NUMERIC,), NUMERIC, num_sqrt, True, False))
F.FUNCTIONS["exp"].append(((NUMERIC,), NUMERIC, num_exp, True, False))
F.FUNCTIONS["ln"].append(((NUMERIC,), NUMERIC, num_ln, True, False))
F.FUNCTIONS["log"].append(((NUMERIC,), NUMERIC, lambda v: num_log(Decimal(10), v), True, False))
F.FUNCTIONS["log"].append(((NUMERIC, NUMERIC), NUMERIC, num_log, True, False))
F.FUNCTIONS["log10"] = [((FLOAT8,), FLOAT8, _flog10, True, False),
                        ((NUMERIC,), NUMERIC, lambda v: num_log(Decimal(10), v), True, False)]
F.FUNCTIONS["power"][1] = ((NUMERIC, NUMERIC), NUMERIC, num_power, True, False)
F.FUNCTIONS["pow"] = F.FUNCTIONS["power"]


def _cbrt(v):
    return math.cbrt(v)


def _factorial(n):
    if n < 0:
        raise PgError("factorial of a negative number is undefined", sqlstate="22003")
    if n > 32177:
        raise PgError("value overflows numeric format", sqlstate="22003")
    return Decimal(math.factorial(n))


def _trunc_scale(v: Decimal, s: int) -> Decimal:
    if not v.is_finite():
        return v
    q = Decimal(1).scaleb(-s)
    r = v.quantize(q, rounding="ROUND_DOWN", context=N.CTX) if s >= 0 else \
        (v.scaleb(s).to_integral_value(rounding="ROUND_DOWN").scaleb(-s))
    return N.fix_scale(r) if s < 0 else r


def _num_div_trunc(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise PgError("division by zero", sqlstate="22012")
    return N.fix_scale(N.CTX.divide_int(a, b))


def _gcd_int(oid):
    chk = F._int_checker(oid)
    return lambda a, b: chk(math.gcd(a, b))


def _lcm_int(oid):
    chk = F._int_checker(oid)
    return lambda a, b: chk(abs(a * b) // math.gcd(a, b) if a and b else 0)


def _trig(f, name):
    def g(v):
        try:
            return check_float(f(v))
        except ValueError:
            raise PgError("input is out of range", sqlstate="22003") from None
    return g


for _n, _f in (("sin", math.sin), ("cos", math.cos), ("tan", math.tan), ("asin", math.asin), ("acos", math.acos),
               ("atan", math.atan), ("degrees", math.degrees), ("radians", math.radians),
               ("cot", lambda v: 1.0 / math.tan(v)), ("sinh", math.sinh), ("cosh", math.cosh), ("tanh", math.tanh)):
    _reg(_n, (FLOAT8,), FLOAT8, _trig(_f, _n))
_reg("atan2", (FLOAT8, FLOAT8), FLOAT8, math.atan2)
_reg("cbrt", (FLOAT8,), FLOAT8, _cbrt)
_reg("factorial", (INT8,), NUMERIC, _factorial)
_reg("trunc", (NUMERIC, INT4), NUMERIC, _trunc_scale)
_reg("div", (NUMERIC, NUMERIC), NUMERIC, _num_div_trunc)
for _t in (INT4, INT8):
    _reg("gcd", (_t, _t), _t, _gcd_int(_t))
    _reg("lcm", (_t, _t), _t, _lcm_int(_t))
_reg("gcd", (NUMERIC, NUMERIC), NUMERIC, lambda a, b: Decimal(math.gcd(int(a), int(b))))
_reg("lcm", (NUMERIC, NUMERIC), NUMERIC, lambda a, b: Decimal(abs(int(a) * int(b)) // math.gcd(int(a), int(b)) if a and b else 0))
_reg("scale", (NUMERIC,), INT4, N.scale_of)
_reg("min_scale", (NUMERIC,), INT4, lambda v: N.scale_of(v.normalize()) if v != 0 else 0)


def _width_bucket(v, lo, hi, n):
    if n <= 0:
        raise PgError("count must be greater than zero", sqlstate="2201G")
    if lo == hi:
        raise PgError("lower bound cannot equal upper bound", sqlstate="2201G")
    if lo < hi:
        if v < lo:
            return 0
        if v >= hi:
            return n + 1
        return int((v - lo) * n / (hi - lo)) + 1
    if v > lo:
        return 0
    if v <= hi:
        return n + 1
    return int((lo - v) * n / (lo - hi)) + 1


_reg("width_bucket", (FLOAT8, FLOAT8, FLOAT8, INT4), INT4, _width_bucket)
_reg("width_bucket", (NUMERIC, NUMERIC, NUMERIC, INT4), INT4, _width_bucket)


# ------------------------------------------------------------------ date/time

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def _as_dt(v):
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return v


_TOKENS = sorted(["HH24", "HH12", "HH", "MI", "SS", "MS", "US", "SSSS", "SSSSS", "AM", "PM", "am", "pm", "A.M.", "P.M.",
                  "a.m.", "p.m.", "YYYY", "Y,YYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "I", "MONTH", "Month",
                  "month", "MON", "Mon", "mon", "MM", "DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "DD", "D", "ID",
                  "IDDD", "WW", "W", "IW", "CC", "J", "Q", "RM", "rm", "TZ", "tz", "OF", "BC", "AD", "bc", "ad",
                  "B.C.", "A.D."], key=len, reverse=True)


def to_char_datetime(v, fmt: str, is_interval=False):
    if v is None or fmt is None:
        return None
    if isinstance(v, Interval):
        return _to_char_interval(v, fmt)
    d = _as_dt(v)
    tz = d.tzinfo is not None
    out, i = [], 0
    while i < len(fmt):
        fm = False
        if fmt.startswith("FM", i):
            fm = True
            i += 2
        if i < len(fmt) and fmt[i] == '"':
            j = fmt.find('"', i + 1)
            j = len(fmt) if j < 0 else j
            out.append(fmt[i + 1:j])
            i = j + 1
            continue
        if i < len(fmt) and fmt[i] == "\\" and i + 1 < len(fmt):
            out.append(fmt[i + 1])
            i += 2
            continue
        tok = next((t for t in _TOKENS if fmt.startswith(t, i)), None)
        if tok is None:
            if i < len(fmt):
                out.append(fmt[i])
            i += 1
            continue
        i += len(tok)
        if i < len(fmt) and fmt.startswith("TH", i) or fmt.startswith("th", i):
            pass
        out.append(_dt_field(d, tok, fm, tz))
    return "".join(out)


def _num(n, width, fm):
    s = str(abs(n))
    if not fm:
        s = s.zfill(width)
    return ("-" if n < 0 else "") + s


def _dt_field(d, tok, fm, tz):
    h12 = d.hour % 12 or 12
    iso = d.isocalendar()
    if tok == "HH24":
        return _num(d.hour, 2, fm)
    if tok in ("HH12", "HH"):
        return _num(h12, 2, fm)
    if tok == "MI":
        return _num(d.minute, 2, fm)
    if tok == "SS":
        return _num(d.second, 2, fm)
    if tok == "MS":
        return _num(d.microsecond // 1000, 3, fm)
    if tok == "US":
        return _num(d.microsecond, 6, fm)
    if tok in ("SSSS", "SSSSS"):
        return str(d.hour * 3600 + d.minute * 60 + d.second)
    if tok in ("AM", "PM"):
        return "AM" if d.hour < 12 else "PM"
    if tok in ("am", "pm"):
        return "am" if d.hour < 12 else "pm"
    if tok in ("A.M.", "P.M."):
        return "A.M." if d.hour < 12 else "P.M."
    if tok in ("a.m.", "p.m."):
        return "a.m." if d.hour < 12 else "p.m."
    if tok == "YYYY":
        return _num(d.year, 4, fm)
    if tok == "Y,YYY":
        return f"{d.year // 1000},{d.year % 1000:03d}"
    if tok == "YYY":
        return _num(d.year % 1000, 3, fm)
    if tok == "YY":
        return _num(d.year % 100, 2, fm)
    if tok == "Y":
        return str(d.year % 10)
    if tok == "IYYY":
        return _num(iso[0], 4, fm)
    if tok == "IYY":
        return _num(iso[0] % 1000, 3, fm)
    if tok == "IY":
        return _num(iso[0] % 100, 2, fm)
    if tok == "I":
        return str(iso[0] % 10)
    if tok in ("MONTH", "Month", "month"):
        m = _MONTHS[d.month - 1]
        m = m.upper() if tok == "MONTH" else m.lower() if tok == "month" else m
        return m if fm else m.ljust(9)
    if tok in ("MON", "Mon", "mon"):
        m = _MONTHS[d.month - 1][:3]
        return m.upper() if tok == "MON" else m.lower() if tok == "mon" else m
    if tok == "MM":
        return _num(d.month, 2, fm)
    if tok in ("DAY", "Day", "day"):
        n = _DAYS[(d.weekday() + 1) % 7]
        n = n.upper() if tok == "DAY" else n.lower() if tok == "day" else n
        return n if fm else n.ljust(9)
    if tok in ("DY", "Dy", "dy"):
        n = _DAYS[(d.weekday() + 1) % 7][:3]
        return n.upper() if tok == "DY" else n.lower() if tok == "dy" else n
    if tok == "DDD":
        return _num(d.timetuple().tm_yday, 3, fm)
    if tok == "IDDD":
        return _num((iso[1] - 1) * 7 + iso[2], 3, fm)
    if tok == "DD":
        return _num(d.day, 2, fm)
    if tok == "D":
        return str((d.weekday() + 1) % 7 + 1)
    if tok == "ID":
        return str(iso[2])
    if tok == "WW":
        return _num((d.timetuple().tm_yday - 1) // 7 + 1, 2, fm)
    if tok == "W":
        return str((d.day - 1) // 7 + 1)
    if tok == "IW":
        return _num(iso[1], 2, fm)
    if tok == "CC":
        return _num((d.year + 99) // 100, 2, fm)
    if tok == "J":
        return str(d.toordinal() + 1721425)
    if tok == "Q":
        return str((d.month - 1) // 3 + 1)
    if tok in ("RM", "rm"):
        r = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"][d.month - 1]
        r = r if tok == "RM" else r.lower()
        return r if fm else r.ljust(4)
    if tok in ("TZ", "tz"):
        return ("UTC" if tok == "TZ" else "utc") if tz else ""
    if tok == "OF":
        return "+00" if tz else ""
    if tok in ("BC", "AD"):
        return "AD"
    if tok in ("bc", "ad"):
        return "ad"
    if tok in ("B.C.", "A.D."):
        return "A.D."
    return tok


def _to_char_interval(iv: Interval, fmt: str) -> str:
    us = iv.microseconds
    secs, frac = divmod(abs(us), 1_000_000)
    h, rem = divmod(secs, 3600)
    mi, s = divmod(rem, 60)
    sign = -1 if us < 0 else 1
    years, months = divmod(iv.months, 12)

    class _D:
        pass
    out, i = [], 0
    while i < len(fmt):
        fm = fmt.startswith("FM", i)
        if fm:
            i += 2
        tok = next((t for t in _TOKENS if fmt.startswith(t, i)), None)
        if tok is None:
            out.append(fmt[i])
            i += 1
            continue
        i += len(tok)
        if tok == "HH24":
            out.append(_num(sign * h, 2, fm))
        elif tok in ("HH", "HH12"):
            out.append(_num((sign * h) % 12 or 12, 2, fm))
        elif tok == "MI":
            out.append(_num(mi, 2, fm))
        elif tok == "SS":
            out.append(_num(s, 2, fm))
        elif tok == "MS":
            out.append(_num(frac // 1000, 3, fm))
        elif tok == "US":
            out.append(_num(frac, 6, fm))
        elif tok == "DD":
            out.append(_num(iv.days, 2, fm))
        elif tok == "MM":
            out.append(_num(months, 2, fm))
        elif tok == "YYYY":
            out.append(_num(years, 4, fm))
        else:
            out.append(tok)
    return "".join(out)


def to_char_number(v, fmt: str):
    """to_char for numbers: 9 0 . , D G S MI PL SG FM (the common subset)."""
    if v is None or fmt is None:
        return None
    fm = "FM" in fmt
    f = fmt.replace("FM", "")
    ip, _, fp = f.partition(".") if "." in f else f.partition("D")
    has_point = "." in f or "D" in f
    nint = sum(1 for c in ip if c in "90")
    nfrac = sum(1 for c in fp if c in "90")
    d = Decimal(str(v)) if isinstance(v, float) else Decimal(v)
    neg = d < 0
    d = N.round_scale(abs(d), nfrac)
    s = format(d, "f")
    istr, _, fstr = s.partition(".")
    fstr = (fstr + "0" * nfrac)[:nfrac]
    if istr == "0" and not ("0" in ip and ip.index("0") >= 0):
        istr = ""
    if len(istr) > nint:
        body = "#" * nint + ("." + "#" * nfrac if has_point else "")
        return (" " if not fm else "") + body
    # lay the integer digits right-aligned into the pattern
    digits = list(istr.rjust(nint))
    out = []
    di = 0
    started = False
    first_zero = ip.find("0") if "0" in ip else len(ip)
    pos = 0
    for c in ip:
        if c in "90":
            ch = digits[di]
            di += 1
            if ch == " " and pos >= first_zero:
                ch = "0"
            if ch != " ":
                started = True
            out.append(ch)
            pos += 1
        elif c in ",G":
            out.append("," if started else " ")
        elif c in "SM" or c in "IPL":
            pass
        else:
            out.append(c)
    ints = "".join(out)
    res = ints
    if has_point:
        fd = list(fstr)
        fo = []
        k = 0
        for c in fp:
            if c in "90":
                fo.append(fd[k])
                k += 1
            else:
                fo.append(c)
        frac = "".join(fo)
        if fm:
            frac = frac.rstrip("0") if "0" not in fp else frac
        res = ints + "." + frac
    sign = "-" if neg else " "
    if fm:
        res = res.strip()
        if neg:
            res = "-" + res
        return res
    stripped = res.lstrip(" ")
    lead = len(res) - len(stripped)
    return " " * lead + sign + stripped if True else res


for _t in (TIMESTAMP, TIMESTAMPTZ, DATE, INTERVAL):
    _reg("to_char", (_t, TEXT), TEXT, to_char_datetime)
for _t in (INT8, NUMERIC, FLOAT8):
    _reg("to_char", (_t, TEXT), TEXT, to_char_number)


_DAY_TAB = [[31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]]


def age(a, b):
    a, b = _as_dt(a), _as_dt(b)
    neg = a < b
    fields1 = [a.year, a.month, a.day, a.hour, a.minute, a.second, a.microsecond]
    fields2 = [b.year, b.month, b.day, b.hour, b.minute, b.second, b.microsecond]
    y, mo, d, h, mi, s, us = (x - z for x, z in zip(fields1, fields2))
    if neg:
        y, mo, d, h, mi, s, us = -y, -mo, -d, -h, -mi, -s, -us
    while us < 0:
        us += 1_000_000
        s -= 1
    while s < 0:
        s += 60
        mi -= 1
    while mi < 0:
        mi += 60
        h -= 1
    while h < 0:
        h += 24
        d -= 1
    while d < 0:
        ref = a if neg else b
        d += _DAY_TAB[calendar.isleap(ref.year)][ref.month - 1]
        mo -= 1
    while mo < 0:
        mo += 12
        y -= 1
    if neg:
        y, mo, d, h, mi, s, us = -y, -mo, -d, -h, -mi, -s, -us
    return Interval(y * 12 + mo, d, ((h * 60 + mi) * 60 + s) * 1_000_000 + us)


_reg("age", (TIMESTAMP, TIMESTAMP), INTERVAL, age)
_reg("age", (TIMESTAMPTZ, TIMESTAMPTZ), INTERVAL, age)


def _bad_field(text):
    return PgError(f"date field value out of range: {text}", sqlstate="22008")


def make_date(y, m, d):
    try:
        if y == 0:
            raise ValueError
        return dt.date(y, m, d) if y > 0 else None
    except ValueError:
        raise _bad_field(f"{y}-{m:02d}-{d:02d}") from None


def _secs(sec):
    us = round(float(sec) * 1_000_000)
    return divmod(us, 1_000_000)


def make_time(h, m, sec):
    s, us = _secs(sec)
    if not (0 <= h <= 23 and 0 <= m <= 59 and 0 <= s <= 59):
        raise PgError(f"time field value out of range: {h}:{m:02d}:{float(sec):02g}", sqlstate="22008")
    return dt.time(h, m, s, us)


def make_timestamp(y, mo, d, h, mi, sec):
    day = make_date(y, mo, d)
    t = make_time(h, mi, sec)
    return dt.datetime.combine(day, t)


def make_timestamptz(y, mo, d, h, mi, sec):
    return make_timestamp(y, mo, d, h, mi, sec).replace(tzinfo=dt.timezone.utc)


def make_interval(years=0, months=0, weeks=0, days=0, hours=0, mins=0, secs=0.0):
    us = round(float(secs) * 1_000_000)
    return Interval(years * 12 + months, weeks * 7 + days, (hours * 60 + mins) * 60_000_000 + us)


MAKE_INTERVAL_ARGS = ["years", "months", "weeks", "days", "hours", "mins", "secs"]
_reg("make_date", (INT4, INT4, INT4), DATE, make_date)
_reg("make_time", (INT4, INT4, FLOAT8), TIME, make_time)
_reg("make_timestamp", (INT4, INT4, INT4, INT4, INT4, FLOAT8), TIMESTAMP, make_timestamp)
_reg("make_timestamptz", (INT4, INT4, INT4, INT4, INT4, FLOAT8), TIMESTAMPTZ, make_timestamptz)
for _k in range(8):
    _reg("make_interval", (INT4,) * min(_k, 6) + ((FLOAT8,) if _k == 7 else ()), INTERVAL,
         lambda *a: make_interval(*[0 if x is None else x for x in a]), strict=False)


def to_timestamp_epoch(v):
    if math.isinf(v):
        raise PgError("timestamp out of range", sqlstate="22008")
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=round(v * 1_000_000))


_PARSE = [("YYYY", r"(\d{4})", "year"), ("HH24", r"(\d{1,2})", "hour"), ("HH12", r"(\d{1,2})", "hour12"),
          ("MI", r"(\d{1,2})", "minute"), ("SS", r"(\d{1,2})", "second"), ("MS", r"(\d{1,3})", "ms"),
          ("US", r"(\d{1,6})", "us"), ("MM", r"(\d{1,2})", "month"), ("DD", r"(\d{1,2})", "day"),
          ("Mon", r"([A-Za-z]{3})", "mon"), ("MON", r"([A-Za-z]{3})", "mon"), ("mon", r"([A-Za-z]{3})", "mon"),
          ("Month", r"([A-Za-z]+)", "mon"), ("MONTH", r"([A-Za-z]+)", "mon"), ("YY", r"(\d{2})", "yy"),
          ("AM", r"([AaPp][Mm])", "ampm"), ("PM", r"([AaPp][Mm])", "ampm"), ("HH", r"(\d{1,2})", "hour12")]


def _parse_fmt(text: str, fmt: str):
    rx, names, i = [], [], 0
    while i < len(fmt):
        if fmt.startswith("FM", i):
            i += 2
            continue
        for tok, pat, nm in _PARSE:
            if fmt.startswith(tok, i):
                rx.append(pat)
                names.append(nm)
                i += len(tok)
                break
        else:
            c = fmt[i]
            rx.append(r"\s*" if c == " " else (r"[^\w]?" if not c.isalnum() else re.escape(c)))
            i += 1
    m = re.match(r"\s*" + "".join(rx), text)
    if not m:
        raise PgError(f'invalid value "{text}" for "{fmt}"', sqlstate="22007")
    f = {"year": 1, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "us": 0}
    pm = None
    for nm, val in zip(names, m.groups()):
        if nm == "mon":
            k = [x[:3].lower() for x in _MONTHS].index(val[:3].lower()) if val[:3].lower() in [x[:3].lower() for x in _MONTHS] else None
            if k is None:
                raise PgError(f'invalid value "{val}" for "Mon"', sqlstate="22007")
            f["month"] = k + 1
        elif nm == "yy":
            f["year"] = 2000 + int(val) if int(val) < 70 else 1900 + int(val)
        elif nm == "hour12":
            f["hour"] = int(val) % 12
        elif nm == "ampm":
            pm = val.lower() == "pm"
        elif nm == "ms":
            f["us"] = int(val.ljust(3, "0")) * 1000
        elif nm == "us":
            f["us"] = int(val.ljust(6, "0"))
        else:
            f[nm] = int(val)
    if pm:
        f["hour"] += 12
    try:
        return dt.datetime(f["year"], f["month"], f["day"], f["hour"], f["minute"], f["second"], f["us"])
    except ValueError:
        raise PgError(f'date/time field value out of range: "{text}"', sqlstate="22008") from None


_reg("to_timestamp", (FLOAT8,), TIMESTAMPTZ, to_timestamp_epoch)
_reg("to_timestamp", (TEXT, TEXT), TIMESTAMPTZ, lambda s, f: _parse_fmt(s, f).replace(tzinfo=dt.timezone.utc))
_reg("to_date", (TEXT, TEXT), DATE, lambda s, f: _parse_fmt(s, f).date())


def justify_days(iv: Interval) -> Interval:
    m, d = divmod(abs(iv.days), 30)
    s = -1 if iv.days < 0 else 1
    return Interval(iv.months + s * m, s * d, iv.microseconds)


def justify_hours(iv: Interval) -> Interval:
    d, us = divmod(abs(iv.microseconds), USECS_PER_DAY)
    s = -1 if iv.microseconds < 0 else 1
    return Interval(iv.months, iv.days + s * d, s * us)


def justify_interval(iv: Interval) -> Interval:
    iv = justify_days(justify_hours(iv))
    months, days, us = iv
    if months > 0 and (days < 0 or (days == 0 and us < 0)):
        days += 30
        months -= 1
    elif months < 0 and (days > 0 or (days == 0 and us > 0)):
        days -= 30
        months += 1
    if days > 0 and us < 0:
        us += USECS_PER_DAY
        days -= 1
    elif days < 0 and us > 0:
        us -= USECS_PER_DAY
        days += 1
    return Interval(months, days, us)


_reg("justify_days", (INTERVAL,), INTERVAL, justify_days)
_reg("justify_hours", (INTERVAL,), INTERVAL, justify_hours)
_reg("justify_interval", (INTERVAL,), INTERVAL, justify_interval)
for _t in (DATE, TIMESTAMP, TIMESTAMPTZ):
    _reg("isfinite", (_t,), BOOL, lambda v: not isinstance(v, (float, str)))
_reg("isfinite", (INTERVAL,), BOOL, lambda v: True)


def like_escape(pat: str, esc: str) -> str:
    """LIKE ... ESCAPE e: rewrite the pattern to use backslash escapes."""
    if esc == "\\":
        return pat
    if len(esc) > 1:
        raise PgError("invalid escape string", sqlstate="22025", hint="Escape string must be empty or one character.")
    out, i = [], 0
    while i < len(pat):
        c = pat[i]
        if esc and c == esc:
            if i + 1 < len(pat):
                out.append("\\" + pat[i + 1])
                i += 2
                continue
            raise PgError("LIKE pattern must not end with escape character", sqlstate="22025")
        out.append("\\\\" if c == "\\" and esc else c)
        i += 1
    return "".join(out)


_reg("like_escape", (TEXT, TEXT), TEXT, like_escape)


def substring_regex(s: str, p: str):
    m = _regex(p).search(s)
    if m is None:
        return None
    return m.group(1) if m.re.groups else m.group(0)


_reg("substring", (TEXT, TEXT), TEXT, substring_regex)
_reg("substring", (TEXT, TEXT, TEXT), TEXT, lambda s, p, e: substring_regex(s, similar_to_escape(p, e)))


def _encode(b: bytes, fmt: str) -> str:
    import base64
    f = fmt.lower()
    if f == "hex":
        return b.hex()
    if f == "base64":
        s = base64.b64encode(b).decode()
        return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))
    if f == "escape":
        out = []
        for x in b:
            if x == 0x5C:
                out.append("\\\\")
            elif x == 0 or x >= 0x80:
                out.append("\\%03o" % x)
            else:
                out.append(chr(x))
        return "".join(out)
    raise PgError(f'unrecognized encoding: "{fmt}"', sqlstate="22023")


def _decode(s: str, fmt: str) -> bytes:
    import base64
    import binascii
    f = fmt.lower()
    try:
        if f == "hex":
            return bytes.fromhex(s)
        if f == "base64":
            return base64.b64decode("".join(s.split()), validate=True)
    except (ValueError, binascii.Error):
        raise PgError(f"invalid {f} data", sqlstate="22023") from None
    if f == "escape":
        from .types import bytea
        return bytea.TYPE.text_in(s)
    raise PgError(f'unrecognized encoding: "{fmt}"', sqlstate="22023")


_reg("encode", (BYTEA, TEXT), TEXT, _encode)
_reg("decode", (TEXT, TEXT), BYTEA, _decode)
_reg("sha256", (BYTEA,), BYTEA, lambda b: hashlib.sha256(b).digest())


def _tdiv(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def interval_trunc_func(field):
    """date_trunc(field, interval): zero the fields below `field` (truncating toward zero)."""
    f = F._FIELD_ALIASES.get(str(field).lower(), str(field).lower())
    hour, minute, second = 3_600_000_000, 60_000_000, 1_000_000
    rules = {
        "millennium": lambda m, d, u: (_tdiv(m, 12000) * 12000, 0, 0),
        "century": lambda m, d, u: (_tdiv(m, 1200) * 1200, 0, 0),
        "decade": lambda m, d, u: (_tdiv(m, 120) * 120, 0, 0),
        "year": lambda m, d, u: (_tdiv(m, 12) * 12, 0, 0),
        "quarter": lambda m, d, u: (_tdiv(m, 3) * 3, 0, 0),
        "month": lambda m, d, u: (m, 0, 0),
        "day": lambda m, d, u: (m, d, 0),
        "hour": lambda m, d, u: (m, d, _tdiv(u, hour) * hour),
        "minute": lambda m, d, u: (m, d, _tdiv(u, minute) * minute),
        "second": lambda m, d, u: (m, d, _tdiv(u, second) * second),
        "millisecond": lambda m, d, u: (m, d, _tdiv(u, 1000) * 1000),
        "microsecond": lambda m, d, u: (m, d, u),
    }
    if f not in rules:
        if f == "week":
            raise PgError('unit "week" not supported for type interval', sqlstate="0A000",
                          detail="Months usually have fractional weeks.")
        raise PgError(f'unit "{field}" not recognized for type interval', sqlstate="22023")
    rule = rules[f]
    return lambda iv: Interval(*rule(iv.months, iv.days, iv.microseconds))


# ------------------------------------------------------------------ generate_series

def series(t: int):
    """generate_series(start, stop [, step]) as a function returning the list of values."""
    def gen(start, stop, step=None):
        if start is None or stop is None:
            return []
        if step is None:
            step = 1
        if step == 0 or (isinstance(step, Interval) and step.sort_key() == 0):
            raise PgError("step size cannot equal zero", sqlstate="22023")
        out = []
        if isinstance(step, Interval):
            from .functions import ts_plus_interval as add_interval
            forward = step.sort_key() > 0
            v = start
            while (v <= stop) if forward else (v >= stop):
                out.append(v)
                v = add_interval(v, step)
            return out
        v = start
        while (v <= stop) if step > 0 else (v >= stop):
            out.append(v)
            v += step
        return out
    return gen


# ------------------------------------------------------------------ json_build_object / json_build_array

def _json_value(v, oid: int) -> str:
    import json
    from decimal import Decimal as _D
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, _D)) and oid not in (F.T.OID,):
        return str(v)
    if oid == F.T.JSON:
        return v
    if isinstance(v, list):
        from . import types as _T
        el = _T.ELEMENT_OF.get(oid, F.TEXT)
        return "[" + ",".join(_json_value(x, el) for x in v) + "]"
    from . import types as _T
    return json.dumps(_T.lookup(oid).text_out(v))


def json_build(name: str, oids: list[int], position=None):
    """json_build_object(k, v, ...) / json_build_array(v, ...) rendered as PostgreSQL prints them."""
    import json
    if name == "json_build_object" and len(oids) % 2:
        raise PgError("argument list must have even number of elements", sqlstate="22023", position=position,
                      hint="The arguments of json_build_object() must consist of alternating keys and values.")

    def build(*vals):
        if name == "json_build_array":
            return "[" + ", ".join(_json_value(v, o) for v, o in zip(vals, oids)) + "]"
        parts = []
        for i in range(0, len(vals), 2):
            if vals[i] is None:
                raise PgError("null value not allowed for object key", sqlstate="22004")
            key = vals[i] if isinstance(vals[i], str) else F.T.lookup(oids[i]).text_out(vals[i])
            parts.append(f"{json.dumps(key)} : {_json_value(vals[i + 1], oids[i + 1])}")
        return "{" + ", ".join(parts) + "}"
    return build
