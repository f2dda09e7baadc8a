"""PostgreSQL character varying(n)."""

from services.common.errors import PgError

from .text_common import TextLike


class VarcharType(TextLike):
    oid = 1043
    name = "varchar"
    sql_name = "character varying"
    array_oid = 1015

    def coerce_typmod(self, value, typmod, explicit=False):
        if typmod < 4:
            return value
        n = typmod - 4
        if len(value) <= n:
            return value
        if explicit or not value[n:].strip(" "):
            return value[:n]
        raise PgError(f"value too long for type character varying({n})", sqlstate="22001")

    def format_type(self, typmod=-1):
        return "character varying" if typmod < 4 else f"character varying({typmod - 4})"


TYPE = VarcharType()
