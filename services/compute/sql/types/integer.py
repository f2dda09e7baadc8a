"""PostgreSQL integer (int4)."""

from .integer_common import IntegerType


class IntegerType(IntegerType):
    oid = 23
    name = "int4"
    sql_name = "integer"
    typlen = 4
    bits = 32
    fmt = ">i"
    array_oid = 1007


TYPE = IntegerType()
