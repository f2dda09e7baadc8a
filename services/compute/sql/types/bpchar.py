"""PostgreSQL character(n) / bpchar: blank-padded, trailing blanks insignificant."""

from services.common.errors import PgError

from .text_common import TextLike


class BpcharType(TextLike):
    oid = 1042
    name = "bpchar"
    sql_name = "character"
    array_oid = 1014

    def coerce_typmod(self, value, typmod, explicit=False):
        if typmod < 4:
            return value
        n = typmod - 4
        if len(value) <= n:
            return value + " " * (n - len(value))
        if explicit or not value[n:].strip(" "):
            return value[:n]
        raise PgError(f"value too long for type character({n})", sqlstate="22001")

    def format_type(self, typmod=-1):
        return "bpchar" if typmod < 4 else f"character({typmod - 4})"


TYPE = BpcharType()
