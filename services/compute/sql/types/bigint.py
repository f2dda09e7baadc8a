"""PostgreSQL bigint (int8)."""

from .integer_common import IntegerType


class BigIntType(IntegerType):
    oid = 20
    name = "int8"
    sql_name = "bigint"
    typlen = 8
    bits = 64
    fmt = ">q"
    array_oid = 1016


TYPE = BigIntType()
