"""PostgreSQL timestamp with time zone (session TimeZone is UTC)."""

import struct

from .base import PgType
from .datetime_common import fmt_timestamptz, micros_to_ts, parse_timestamp, ts_to_micros


class TimestamptzType(PgType):
    oid = 1184
    name = "timestamptz"
    sql_name = "timestamp with time zone"
    typlen = 8
    category = "D"
    preferred = True
    array_oid = 1185

    def text_in(self, text, typmod=-1):
        return parse_timestamp(text, "timestamp with time zone", True)

    def text_out(self, value):
        return fmt_timestamptz(value)

    def binary_in(self, data, typmod=-1):
        return micros_to_ts(struct.unpack(">q", data)[0], True)

    def binary_out(self, value):
        return struct.pack(">q", ts_to_micros(value))


TYPE = TimestamptzType()
