"""PostgreSQL regtype: a type OID shown as the type's name (what pg_typeof returns)."""

import struct

from .base import PgType


class RegtypeType(PgType):
    oid = 2206
    name = "regtype"
    sql_name = "regtype"
    typlen = 4
    category = "N"
    array_oid = 2211

    def text_in(self, text, typmod=-1):
        from . import by_name
        from services.common.errors import PgError
        t = by_name(text.strip().strip('"'))
        if t is None:
            raise PgError(f'type "{text.strip()}" does not exist', sqlstate="42704")
        return t.oid

    def text_out(self, value):
        from . import REGISTRY
        if int(value) == 1042:
            return "character"
        t = REGISTRY.get(int(value))
        return t.format_type(-1) if t is not None else str(int(value))

    def binary_in(self, data, typmod=-1):
        return struct.unpack(">I", data)[0]

    def binary_out(self, value):
        return struct.pack(">I", value)


TYPE = RegtypeType()
