"""PostgreSQL time without time zone."""

import struct

from .base import PgType
from .datetime_common import fmt_time, micros_to_time, parse_time, time_to_micros


class TimeType(PgType):
    oid = 1083
    name = "time"
    sql_name = "time without time zone"
    typlen = 8
    category = "D"
    array_oid = 1183

    def text_in(self, text, typmod=-1):
        return parse_time(text)

    def text_out(self, value):
        return fmt_time(value)

    def binary_in(self, data, typmod=-1):
        return micros_to_time(struct.unpack(">q", data)[0])

    def binary_out(self, value):
        return struct.pack(">q", time_to_micros(value))


TYPE = TimeType()
