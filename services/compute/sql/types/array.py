"""PostgreSQL one-dimensional arrays of the built-in types (query-time only: ARRAY[...], '{...}',
array_agg, string_to_array, unnest, = ANY). The Python value is a list; NULL elements are None."""

from __future__ import annotations

from services.common.errors import PgError

from .base import PgType


def _needs_quotes(s: str) -> bool:
    return s == "" or s.upper() == "NULL" or any(c in s for c in '{},"\\') or any(c.isspace() for c in s)


class ArrayType(PgType):
    category = "A"

    def __init__(self, elem: PgType):
        self.elem = elem
        self.oid = elem.array_oid
        self.name = "_" + elem.name
        self.sql_name = elem.sql_name + "[]"
        self.typlen = -1

    def format_type(self, typmod=-1):
        return self.elem.format_type(-1) + "[]"

    def text_out(self, value) -> str:
        parts = []
        for v in value:
            if v is None:
                parts.append("NULL")
                continue
            s = self.elem.text_out(v)
            if _needs_quotes(s):
                s = '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(s)
        return "{" + ",".join(parts) + "}"

    def text_in(self, text, typmod=-1):
        s = text.strip()
        if not s.startswith("{") or not s.endswith("}"):
            raise PgError(f'malformed array literal: "{text}"', sqlstate="22P02",
                          detail='Array value must start with "{" or dimension information.')
        body = s[1:-1]
        out: list = []
        i, n = 0, len(body)
        if body.strip() == "":
            return out
        while i <= n:
            while i < n and body[i].isspace():
                i += 1
            if i < n and body[i] == "{":
                raise PgError("multidimensional arrays are not supported", sqlstate="0A000")
            if i < n and body[i] == '"':
                i += 1
                buf = []
                while i < n and body[i] != '"':
                    if body[i] == "\\" and i + 1 < n:
                        i += 1
                    buf.append(body[i])
                    i += 1
                if i >= n:
                    raise PgError(f'malformed array literal: "{text}"', sqlstate="22P02")
                i += 1
                item, quoted = "".join(buf), True
            else:
                j = i
                buf = []
                while j < n and body[j] != ",":
                    if body[j] == "\\" and j + 1 < n:
                        j += 1
                    elif body[j] in '{}"':
                        raise PgError(f'malformed array literal: "{text}"', sqlstate="22P02")
                    buf.append(body[j])
                    j += 1
                item, quoted, i = "".join(buf).strip(), False, j
            while i < n and body[i].isspace():
                i += 1
            if not quoted and item.upper() == "NULL":
                out.append(None)
            elif not quoted and item == "":
                raise PgError(f'malformed array literal: "{text}"', sqlstate="22P02")
            else:
                out.append(self.elem.text_in(item, -1))
            if i < n and body[i] != ",":
                raise PgError(f'malformed array literal: "{text}"', sqlstate="22P02")
            i += 1
        return out

    def binary_in(self, data, typmod=-1):
        raise PgError("binary array input is not supported", sqlstate="0A000")

    def binary_out(self, value):
        raise PgError("binary array output is not supported", sqlstate="0A000")
