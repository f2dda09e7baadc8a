"""PostgreSQL real (float4)."""

from .float_common import FloatType


class RealType(FloatType):
    oid = 700
    name = "float4"
    sql_name = "real"
    typlen = 4
    single = True
    array_oid = 1021


TYPE = RealType()
