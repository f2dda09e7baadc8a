"""PostgreSQL smallint (int2)."""

from .integer_common import IntegerType


class SmallIntType(IntegerType):
    oid = 21
    name = "int2"
    sql_name = "smallint"
    typlen = 2
    bits = 16
    fmt = ">h"
    array_oid = 1005


TYPE = SmallIntType()
