"""Shared code of text, varchar, bpchar and unknown."""

from __future__ import annotations

from services.common.errors import PgError

from .base import PgType


class TextLike(PgType):
    category = "S"

    def text_in(self, text: str, typmod: int = -1) -> str:
        if "\x00" in text:
            raise PgError("invalid byte sequence for encoding \"UTF8\": 0x00", sqlstate="22021")
        return self.coerce_typmod(text, typmod)

    def text_out(self, value) -> str:
        return value

    def binary_in(self, data: bytes, typmod: int = -1) -> str:
        return self.coerce_typmod(data.decode("utf-8"), typmod)

    def binary_out(self, value) -> bytes:
        return value.encode("utf-8")
