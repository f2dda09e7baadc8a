"""PostgreSQL "char": the one-byte internal character type of the system catalogs."""

from .text_common import TextLike


class CharType(TextLike):
    oid = 18
    name = "char"
    sql_name = '"char"'
    typlen = 1
    array_oid = 1002

    def coerce_typmod(self, value, typmod, explicit=False):
        return value[:1]

    def binary_out(self, value):
        return value.encode("utf-8")[:1]


TYPE = CharType()
