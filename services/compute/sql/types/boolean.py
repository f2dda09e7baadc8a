"""PostgreSQL boolean."""

from .base import PgType, invalid_syntax

_TRUE = {"t", "tr", "tru", "true", "y", "ye", "yes", "on", "1"}
_FALSE = {"f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0"}


class BooleanType(PgType):
    oid = 16
    name = "bool"
    sql_name = "boolean"
    typlen = 1
    category = "B"
    preferred = True
    array_oid = 1000

    def text_in(self, text: str, typmod: int = -1) -> bool:
        t = text.strip().lower()
        if t in _TRUE and t != "o":
            return True
        if t in _FALSE:
            return False
        raise invalid_syntax("boolean", text)

    def text_out(self, value) -> str:
        return "t" if value else "f"

    def binary_in(self, data: bytes, typmod: int = -1) -> bool:
        return data != b"\x00"

    def binary_out(self, value) -> bytes:
        return b"\x01" if value else b"\x00"


TYPE = BooleanType()
