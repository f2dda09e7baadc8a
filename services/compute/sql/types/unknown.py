"""PostgreSQL unknown: the type of a quoted literal before resolution."""

from .text_common import TextLike


class UnknownType(TextLike):
    oid = 705
    name = "unknown"
    sql_name = "unknown"
    typlen = -2
    category = "X"


TYPE = UnknownType()
