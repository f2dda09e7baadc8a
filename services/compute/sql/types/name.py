"""PostgreSQL name: the 63-byte identifier type of the system catalogs."""

from .text_common import TextLike


class NameType(TextLike):
    oid = 19
    name = "name"
    sql_name = "name"
    typlen = 64
    array_oid = 1003

    def coerce_typmod(self, value, typmod, explicit=False):
        b = value.encode("utf-8")
        if len(b) > 63:
            value = b[:63].decode("utf-8", "ignore")
        return value


TYPE = NameType()
