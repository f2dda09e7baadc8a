"""Shared parsing/formatting of date, time, timestamp and timestamptz (DateStyle ISO, TimeZone UTC)."""

from __future__ import annotations

import datetime as dt
import re

from services.common.errors import PgError

PG_EPOCH = dt.datetime(2000, 1, 1)
PG_EPOCH_TZ = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
PG_EPOCH_DATE = dt.date(2000, 1, 1)
UTC = dt.timezone.utc

_DATE = r"(?P<y>\d{1,})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:\.(?P<f>\d+))?)?(?:\s*(?P<ampm>[aApP]\.?[mM]\.?))?"
_TZ = r"(?P<tz>[zZ]|(?:UTC|GMT)|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?)"
_TS_RE = re.compile(rf"^\s*{_DATE}(?:(?:\s+|[tT]){_TIME})?\s*(?:{_TZ})?\s*(?P<bc>BC)?\s*$", re.I)
_TIME_RE = re.compile(rf"^\s*{_TIME}\s*(?:{_TZ})?\s*$")


_MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                             "nov", "dec"])}
_NAMED1 = re.compile(r"^\s*([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{1,5})(.*)$")
_NAMED2 = re.compile(r"^\s*(\d{1,2})[\s-]([A-Za-z]{3,9})\.?[\s-](\d{1,5})(.*)$")
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(\s.*|[tT].*)?$")


# Punctuation PostgreSQL's ParseDateTime skips around fields: the guide's invoice.csv quotes its
# timestamps in single quotes ('2019-02-11T21:40:27.892Z') and loads with `\copy ... csv`.
_IGNORED_PUNCTUATION = "'\"!#$%&()*,;<=>?@[]^_`{|}~"


def normalize_date_text(text: str) -> str:
    """Other date spellings PostgreSQL accepts -> ISO 'y-m-d ...'."""
    text = text.strip().strip(_IGNORED_PUNCTUATION)
    m = _COMPACT.match(text)
    if m:
        return f"{m[1]}-{m[2]}-{m[3]}{m[4] or ''}"
    for rx, order in ((_NAMED1, "mdy"), (_NAMED2, "dmy")):
        m = rx.match(text)
        if m:
            mon_s, day, year = (m[1], m[2], m[3]) if order == "mdy" else (m[2], m[1], m[3])
            mon = _MONTHS.get(mon_s[:3].lower())
            if mon is None or (len(mon_s) > 3 and not ("january february march april may june july august september "
                                                       "october november december sept").count(mon_s.lower())):
                return text
            return f"{year}-{mon}-{day}{m[4]}"
    return text


def _hour(m, text) -> int:
    h = int(m["H"])
    ap = m["ampm"]
    if ap:
        if h < 1 or h > 12:
            raise field_range(text)
        pm = ap[0] in "pP"
        h = (h % 12) + (12 if pm else 0)
    return h


def syntax(tname: str, text: str) -> PgError:
    return PgError(f'invalid input syntax for type {tname}: "{text}"', sqlstate="22007")


def field_range(text: str) -> PgError:
    return PgError(f'date/time field value out of range: "{text}"', sqlstate="22008")


def _micros(f: str | None) -> int:
    if not f:
        return 0
    # round to microseconds like PostgreSQL
    v = int((f + "000000")[:6])
    if len(f) > 6 and f[6] >= "5":
        v += 1
    return v


def _tz_offset(tz: str | None) -> dt.timedelta | None:
    if tz is None:
        return None
    if tz.upper() in ("Z", "UTC", "GMT"):
        return dt.timedelta(0)
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    if len(digits) <= 2:
        h, m, s = int(digits), 0, 0
    else:
        h, m, s = int(digits[:-2] if len(digits) <= 4 else digits[:-4]), \
            int(digits[-2:] if len(digits) <= 4 else digits[-4:-2]), int(digits[-2:]) if len(digits) > 4 else 0
    return sign * dt.timedelta(hours=h, minutes=m, seconds=s)


def parse_timestamp(text: str, tname: str, with_tz: bool):
    t = text.strip().lower()
    if t in ("epoch",):
        return PG_EPOCH_TZ.replace(year=1970) if with_tz else dt.datetime(1970, 1, 1)
    if t in ("now", "today", "infinity", "-infinity", "tomorrow", "yesterday"):
        now = dt.datetime.now(UTC)
        if t == "now":
            return now if with_tz else now.replace(tzinfo=None)
        if t in ("today", "tomorrow", "yesterday"):
            d = now.replace(hour=0, minute=0, second=0, microsecond=0) + \
                dt.timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}[t])
            return d if with_tz else d.replace(tzinfo=None)
        raise PgError(f"{tname} infinity is not supported", sqlstate="0A000")
    m = _TS_RE.match(normalize_date_text(text))
    if not m:
        raise syntax(tname, text)
    try:
        y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
        if m["H"] is not None:
            H, M, S = _hour(m, text), int(m["M"]), int(m["S"] or 0)
        else:
            H = M = S = 0
        us = _micros(m["f"])
        if H == 24 and M == 0 and S == 0 and us == 0:
            v = dt.datetime(y, mo, d) + dt.timedelta(days=1)
        else:
            v = dt.datetime(y, mo, d, H, M, S) + dt.timedelta(microseconds=us)
    except ValueError:
        raise field_range(text) from None
    off = _tz_offset(m["tz"])
    if with_tz:
        v = (v - (off or dt.timedelta(0))).replace(tzinfo=UTC)
    return v


def parse_date(text: str) -> dt.date:
    t = text.strip().lower()
    if t in ("epoch", "now", "today", "tomorrow", "yesterday", "infinity", "-infinity"):
        return parse_timestamp(text, "date", False).date()
    m = _TS_RE.match(normalize_date_text(text))
    if not m:
        raise syntax("date", text)
    try:
        return dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        raise field_range(text) from None


def parse_time(text: str) -> dt.time:
    m = _TIME_RE.match(text)
    if not m:
        m2 = _TS_RE.match(text)
        if m2 and m2["H"] is not None:
            m = m2
        else:
            raise syntax("time without time zone", text)
    try:
        H, M, S = _hour(m, text), int(m["M"]), int(m["S"] or 0)
        us = _micros(m["f"])
        if H == 24 and M == 0 and S == 0 and us == 0:
            return dt.time(0)  # PG keeps 24:00:00; rare, approximated
        return (dt.datetime(2000, 1, 1, H, M, S) + dt.timedelta(microseconds=us)).time()
    except ValueError:
        raise field_range(text) from None


def fmt_time(t: dt.time) -> str:
    s = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if t.microsecond:
        s += (".%06d" % t.microsecond).rstrip("0")
    return s


def fmt_date(d: dt.date) -> str:
    if d.year <= 0:
        return f"{1 - d.year:04d}-{d.month:02d}-{d.day:02d} BC"
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def fmt_timestamp(v: dt.datetime) -> str:
    return f"{fmt_date(v.date())} {fmt_time(v.time())}"


def fmt_timestamptz(v: dt.datetime) -> str:
    v = v.astimezone(UTC)
    return f"{fmt_date(v.date())} {fmt_time(v.time())}+00"


def ts_to_micros(v: dt.datetime) -> int:
    if v.tzinfo is not None:
        d = v - PG_EPOCH_TZ
    else:
        d = v - PG_EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def micros_to_ts(us: int, with_tz: bool) -> dt.datetime:
    base = PG_EPOCH_TZ if with_tz else PG_EPOCH
    return base + dt.timedelta(microseconds=us)


def time_to_micros(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def micros_to_time(us: int) -> dt.time:
    return (PG_EPOCH + dt.timedelta(microseconds=us)).time()
