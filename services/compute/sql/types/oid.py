"""PostgreSQL oid: unsigned 32-bit object identifier."""

import struct

from .base import PgType, invalid_syntax


class OidType(PgType):
    oid = 26
    name = "oid"
    sql_name = "oid"
    typlen = 4
    category = "N"
    array_oid = 1028

    def text_in(self, text, typmod=-1):
        t = text.strip()
        try:
            v = int(t)
        except ValueError:
            raise invalid_syntax("oid", text) from None
        if v < -(1 << 31) or v >= (1 << 32):
            from services.common.errors import PgError
            raise PgError(f'value "{t}" is out of range for type oid', sqlstate="22003")
        return v & 0xFFFFFFFF

    def text_out(self, value):
        return str(int(value))

    def binary_in(self, data, typmod=-1):
        return struct.unpack(">I", data)[0]

    def binary_out(self, value):
        return struct.pack(">I", value)


TYPE = OidType()
