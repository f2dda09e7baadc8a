"""PostgreSQL timestamp without time zone."""

import struct

from .base import PgType
from .datetime_common import fmt_timestamp, micros_to_ts, parse_timestamp, ts_to_micros


class TimestampType(PgType):
    oid = 1114
    name = "timestamp"
    sql_name = "timestamp without time zone"
    typlen = 8
    category = "D"
    array_oid = 1115

    def text_in(self, text, typmod=-1):
        return parse_timestamp(text, "timestamp", False)

    def text_out(self, value):
        return fmt_timestamp(value)

    def binary_in(self, data, typmod=-1):
        return micros_to_ts(struct.unpack(">q", data)[0], False)

    def binary_out(self, value):
        return struct.pack(">q", ts_to_micros(value))


TYPE = TimestampType()
