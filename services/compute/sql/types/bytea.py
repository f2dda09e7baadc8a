"""PostgreSQL bytea (hex output)."""

from services.common.errors import PgError

from .base import PgType


class ByteaType(PgType):
    oid = 17
    name = "bytea"
    sql_name = "bytea"
    category = "U"
    array_oid = 1001

    def text_in(self, text: str, typmod: int = -1) -> bytes:
        if text.startswith("\\x"):
            h = "".join(text[2:].split())
            try:
                return bytes.fromhex(h)
            except ValueError:
                raise PgError("invalid hexadecimal data: odd number of digits" if len(h) % 2 else
                              "invalid hexadecimal digit", sqlstate="22023") from None
        out = bytearray()
        i = 0
        while i < len(text):
            c = text[i]
            if c != "\\":
                out += c.encode("utf-8")
                i += 1
            elif text[i + 1:i + 2] == "\\":
                out.append(0x5C)
                i += 2
            elif len(text) >= i + 4 and all(ch in "01234567" for ch in text[i + 1:i + 4]):
                out.append(int(text[i + 1:i + 4], 8))
                i += 4
            else:
                raise PgError('invalid input syntax for type bytea', sqlstate="22P02")
        return bytes(out)

    def text_out(self, value) -> str:
        return "\\x" + bytes(value).hex()

    def binary_in(self, data: bytes, typmod: int = -1) -> bytes:
        return bytes(data)

    def binary_out(self, value) -> bytes:
        return bytes(value)


TYPE = ByteaType()
