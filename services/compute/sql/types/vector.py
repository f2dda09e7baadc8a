"""PostgreSQL int2vector and oidvector: the system catalogs' arrays (pg_index.indkey, pg_proc.proargtypes),
printed space-separated ("1 2"), which clients such as SQLAlchemy parse themselves."""

from __future__ import annotations

from .array import ArrayType
from .base import invalid_syntax


class VectorType(ArrayType):
    def __init__(self, elem, oid: int, name: str):
        super().__init__(elem)
        self.oid, self.name, self.sql_name = oid, name, name

    def format_type(self, typmod=-1):
        return self.name

    def text_out(self, value) -> str:
        return " ".join(self.elem.text_out(v) for v in value)

    def text_in(self, text, typmod=-1):
        try:
            return [self.elem.text_in(p) for p in text.split()]
        except Exception:
            raise invalid_syntax(self.name, text) from None


def make(int2, oid_type) -> tuple[VectorType, VectorType]:
    return VectorType(int2, 22, "int2vector"), VectorType(oid_type, 30, "oidvector")
