"""PostgreSQL interval: months, days and microseconds kept apart as PostgreSQL does."""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

from services.common.errors import PgError

from .base import PgType

USECS_PER_DAY = 86_400_000_000


class Interval(NamedTuple):
    months: int = 0
    days: int = 0
    microseconds: int = 0

    def sort_key(self) -> int:
        """PostgreSQL compares intervals as if a month were 30 days and a day 24 hours."""
        return (self.months * 30 + self.days) * USECS_PER_DAY + self.microseconds

    def __eq__(self, other):
        return isinstance(other, Interval) and self.sort_key() == other.sort_key()

    def __lt__(self, other):
        return self.sort_key() < other.sort_key()

    def __le__(self, other):
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other):
        return self.sort_key() > other.sort_key()

    def __ge__(self, other):
        return self.sort_key() >= other.sort_key()

    def __hash__(self):
        return hash(self.sort_key())

    def __neg__(self):
        return Interval(-self.months, -self.days, -self.microseconds)

    def __add__(self, o):
        if isinstance(o, Interval):
            return Interval(self.months + o.months, self.days + o.days, self.microseconds + o.microseconds)
        return NotImplemented

    def __sub__(self, o):
        if isinstance(o, Interval):
            return Interval(self.months - o.months, self.days - o.days, self.microseconds - o.microseconds)
        return NotImplemented


_UNITS = {
    "microsecond": ("us", 1), "microseconds": ("us", 1), "us": ("us", 1), "usec": ("us", 1), "usecs": ("us", 1),
    "millisecond": ("us", 1000), "milliseconds": ("us", 1000), "ms": ("us", 1000), "msec": ("us", 1000),
    "msecs": ("us", 1000),
    "second": ("us", 1_000_000), "seconds": ("us", 1_000_000), "sec": ("us", 1_000_000),
    "secs": ("us", 1_000_000), "s": ("us", 1_000_000),
    "minute": ("us", 60_000_000), "minutes": ("us", 60_000_000), "min": ("us", 60_000_000),
    "mins": ("us", 60_000_000), "m": ("us", 60_000_000),
    "hour": ("us", 3_600_000_000), "hours": ("us", 3_600_000_000), "h": ("us", 3_600_000_000),
    "hr": ("us", 3_600_000_000), "hrs": ("us", 3_600_000_000),
    "day": ("d", 1), "days": ("d", 1), "d": ("d", 1),
    "week": ("d", 7), "weeks": ("d", 7), "w": ("d", 7),
    "month": ("mon", 1), "months": ("mon", 1), "mon": ("mon", 1), "mons": ("mon", 1),
    "year": ("mon", 12), "years": ("mon", 12), "y": ("mon", 12), "yr": ("mon", 12), "yrs": ("mon", 12),
    "decade": ("mon", 120), "decades": ("mon", 120), "century": ("mon", 1200), "centuries": ("mon", 1200),
}
_TOKEN = re.compile(r"\s*(?:(?P<time>[+-]?\d+:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?)|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))\s*(?P<unit>[a-zA-Z]+)?|(?P<ago>ago))",
                    re.I)


def parse_interval(text: str) -> Interval:
    t = text.strip()
    if t.startswith("@"):
        t = t[1:]
    months = days = us = 0
    pos = 0
    seen = False
    ago = False
    while pos < len(t):
        m = _TOKEN.match(t, pos)
        if not m or m.end() == pos:
            if t[pos:].strip() == "":
                break
            raise PgError(f'invalid input syntax for type interval: "{text}"', sqlstate="22007")
        pos = m.end()
        seen = True
        if m["ago"]:
            ago = True
        elif m["time"]:
            tm = m["time"]
            neg = tm.startswith("-")
            parts = tm.lstrip("+-").split(":")
            h, mi = int(parts[0]), int(parts[1])
            sec = float(parts[2]) if len(parts) > 2 else 0.0
            v = (h * 3600 + mi * 60) * 1_000_000 + round(sec * 1_000_000)
            us += -v if neg else v
        else:
            num = float(m["num"]) if "." in m["num"] else int(m["num"])
            unit = (m["unit"] or "s").lower()
            if unit not in _UNITS:
                raise PgError(f'invalid input syntax for type interval: "{text}"', sqlstate="22007")
            kind, mult = _UNITS[unit]
            if kind == "us":
                us += round(num * mult)
            elif kind == "d":
                whole = int(num * mult)
                days += whole
                us += round((num * mult - whole) * USECS_PER_DAY)
            else:
                whole = int(num * mult)
                months += whole
                frac_days = (num * mult - whole) * 30
                days += int(frac_days)
                us += round((frac_days - int(frac_days)) * USECS_PER_DAY)
    if not seen:
        raise PgError(f'invalid input syntax for type interval: "{text}"', sqlstate="22007")
    iv = Interval(months, days, us)
    return -iv if ago else iv


def format_interval(v: Interval) -> str:
    parts = []
    neg_seen = False
    years, mons = int(v.months / 12), v.months - int(v.months / 12) * 12
    for n, unit in ((years, "year"), (mons, "mon"), (v.days, "day")):
        if n:
            parts.append(f"{'+' if neg_seen and n > 0 else ''}{n} {unit}{'' if n == 1 else 's'}")
            neg_seen = neg_seen or n < 0
    us = v.microseconds
    if us or not parts:
        sign = "-" if us < 0 else ("+" if neg_seen else "")
        a = abs(us)
        h, rem = divmod(a, 3_600_000_000)
        mi, rem = divmod(rem, 60_000_000)
        s, frac = divmod(rem, 1_000_000)
        t = f"{sign}{h:02d}:{mi:02d}:{s:02d}"
        if frac:
            t += (".%06d" % frac).rstrip("0")
        parts.append(t)
    return " ".join(parts)


class IntervalType(PgType):
    oid = 1186
    name = "interval"
    sql_name = "interval"
    typlen = 16
    category = "T"
    preferred = True
    array_oid = 1187

    def text_in(self, text, typmod=-1):
        return parse_interval(text)

    def text_out(self, value):
        return format_interval(value)

    def binary_in(self, data, typmod=-1):
        us, days, months = struct.unpack(">qii", data)
        return Interval(months, days, us)

    def binary_out(self, value):
        return struct.pack(">qii", value.microseconds, value.days, value.months)


TYPE = IntervalType()
