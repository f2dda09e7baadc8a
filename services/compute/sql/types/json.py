"""PostgreSQL json: text that holds a JSON document (query-time values, e.g. json_build_object)."""

from .text_common import TextLike


class JsonType(TextLike):
    oid = 114
    name = "json"
    sql_name = "json"
    category = "U"
    array_oid = 199


TYPE = JsonType()
