"""PostgreSQL uuid."""

import uuid as _uuid

from .base import PgType, invalid_syntax


class UuidType(PgType):
    oid = 2950
    name = "uuid"
    sql_name = "uuid"
    typlen = 16
    category = "U"
    array_oid = 2951

    def text_in(self, text: str, typmod: int = -1) -> _uuid.UUID:
        t = text.strip()
        if t.startswith("{") and t.endswith("}"):
            t = t[1:-1]
        h = t.replace("-", "")
        # PostgreSQL accepts a hyphen after any group of four hex digits
        groups = t.split("-")
        if len(h) != 32 or any(c not in "0123456789abcdefABCDEF" for c in h) or \
                any(len(g) == 0 or len(g) % 4 for g in groups[:-1]) or not groups[-1]:
            raise invalid_syntax("uuid", text)
        return _uuid.UUID(hex=h)

    def text_out(self, value) -> str:
        return str(value)

    def binary_in(self, data: bytes, typmod: int = -1):
        return _uuid.UUID(bytes=bytes(data))

    def binary_out(self, value) -> bytes:
        return value.bytes


TYPE = UuidType()
