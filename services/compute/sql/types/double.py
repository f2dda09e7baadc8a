"""PostgreSQL double precision (float8)."""

from .float_common import FloatType


class DoubleType(FloatType):
    oid = 701
    name = "float8"
    sql_name = "double precision"
    typlen = 8
    preferred = True
    array_oid = 1022


TYPE = DoubleType()
