"""The shape every PostgreSQL type module fills in, and the shared error helpers."""

from __future__ import annotations

from services.common.errors import PgError


class PgType:
    """One PostgreSQL type: OID, name, typlen, category, and its text/binary codecs.

    Python value representations: ints -> int, boolean -> bool, float4/8 -> float,
    numeric -> decimal.Decimal, char/varchar/text -> str, bytea -> bytes, date ->
    datetime.date, time -> datetime.time, timestamp -> naive datetime, timestamptz ->
    aware datetime (UTC), interval -> types.interval.Interval, uuid -> uuid.UUID.
    """
    oid: int = 0
    name: str = ""            # pg_type.typname (e.g. int4)
    sql_name: str = ""        # format_type name (e.g. integer)
    typlen: int = -1
    category: str = "U"       # pg_type.typcategory
    preferred: bool = False
    array_oid: int = 0

    def text_in(self, text: str, typmod: int = -1):
        raise NotImplementedError

    def text_out(self, value) -> str:
        return str(value)

    def binary_in(self, data: bytes, typmod: int = -1):
        raise NotImplementedError

    def binary_out(self, value) -> bytes:
        raise NotImplementedError

    def coerce_typmod(self, value, typmod: int, explicit: bool = False):
        """Apply a length/precision modifier (varchar(n), numeric(p,s), ...)."""
        return value

    def format_type(self, typmod: int = -1) -> str:
        return self.sql_name or self.name


def invalid_syntax(type_sql_name: str, text: str) -> PgError:
    return PgError(f'invalid input syntax for type {type_sql_name}: "{text}"', sqlstate="22P02")


def out_of_range(what: str) -> PgError:
    return PgError(f"{what} out of range", sqlstate="22003")
