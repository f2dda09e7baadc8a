"""PostgreSQL date."""

import datetime as dt
import struct

from .base import PgType
from .datetime_common import PG_EPOCH_DATE, fmt_date, parse_date


class DateType(PgType):
    oid = 1082
    name = "date"
    sql_name = "date"
    typlen = 4
    category = "D"
    array_oid = 1182

    def text_in(self, text, typmod=-1):
        return parse_date(text)

    def text_out(self, value):
        return fmt_date(value)

    def binary_in(self, data, typmod=-1):
        return PG_EPOCH_DATE + dt.timedelta(days=struct.unpack(">i", data)[0])

    def binary_out(self, value):
        return struct.pack(">i", (value - PG_EPOCH_DATE).days)


TYPE = DateType()
