"""PostgreSQL text."""

from .text_common import TextLike


class TextType(TextLike):
    oid = 25
    name = "text"
    sql_name = "text"
    preferred = True
    array_oid = 1009


TYPE = TextType()
