"""Shared code of smallint, integer and bigint."""

from __future__ import annotations

import re
import struct

from .base import PgType, invalid_syntax, out_of_range

_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")


class IntegerType(PgType):
    category = "N"
    bits = 32
    fmt = ">i"

    def __init__(self):
        self.min = -(1 << (self.bits - 1))
        self.max = (1 << (self.bits - 1)) - 1
        self._st = struct.Struct(self.fmt)

    def check(self, v: int) -> int:
        if v < self.min or v > self.max:
            raise out_of_range(self.sql_name)
        return v

    def text_in(self, text: str, typmod: int = -1) -> int:
        if not _INT_RE.match(text):
            raise invalid_syntax(self.sql_name, text)
        v = int(text)
        if v < self.min or v > self.max:
            raise PgError_range(text, self.sql_name)
        return v

    def text_out(self, value) -> str:
        return str(int(value))

    def binary_in(self, data: bytes, typmod: int = -1) -> int:
        return self._st.unpack(data)[0]

    def binary_out(self, value) -> bytes:
        return self._st.pack(value)


def PgError_range(text: str, sql_name: str):
    from services.common.errors import PgError
    return PgError(f'value "{text.strip()}" is out of range for type {sql_name}', sqlstate="22003")
