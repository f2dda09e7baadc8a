"""How PostgreSQL prints a stored CHECK expression (pg_get_constraintdef, conbin).

PostgreSQL stores the analysed expression, so its text shows the implicit casts the parser added:
`fee >= 0` on a numeric column reads back as `fee >= (0)::numeric`. Clients compare that text (SQLAlchemy's
reflection, migration tools diffing models), so the common shape - a column compared with a constant - is
printed as PostgreSQL does; any other expression is shown as written.
"""

from __future__ import annotations

import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind
from pglast.stream import RawStream

from .. import types as T

_INTS = (T.INT2, T.INT4, T.INT8)
_FLOATS = {T.FLOAT8: "double precision", T.FLOAT4: "real"}
_COMPARISONS = {"=", "<>", "!=", "<", "<=", ">", ">="}


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _cast(text: str, target: str, pretty: bool) -> str:
    return f"{text}::{target}" if pretty else f"({text})::{target}"


def _constant(value, type_oid: int, pretty: bool) -> str | None:
    """The constant as PostgreSQL prints it once coerced to the column's type; None: not handled."""
    if isinstance(value, ast.Integer):
        k = value.ival
        text = str(k) if k >= 0 else f"{_quote(str(k))}::integer"
        if type_oid in _INTS:
            return text
        target = "numeric" if type_oid == T.NUMERIC else _FLOATS.get(type_oid)
        return _cast(text, target, pretty) if target else None
    if isinstance(value, ast.Float):
        if type_oid == T.NUMERIC:
            return value.fval if not value.fval.startswith("-") else f"{_quote(value.fval)}::numeric"
        return _cast(value.fval, _FLOATS[type_oid], pretty) if type_oid in _FLOATS else None
    if isinstance(value, ast.String):
        if type_oid in (T.TEXT, T.VARCHAR):
            return f"{_quote(value.sval)}::text"
        return f"{_quote(value.sval)}::{T.lookup(type_oid).sql_name}"
    return None


def _column(table, node, pretty: bool) -> tuple[str, int] | None:
    if not isinstance(node, ast.ColumnRef) or len(node.fields) != 1 or not isinstance(node.fields[0], ast.String):
        return None
    col = table.column(node.fields[0].sval)
    if col is None:
        return None
    name = RawStream()(node)
    return (_cast(name, "text", pretty) if col.type_oid == T.VARCHAR else name), col.type_oid


def check_text(table, expr: str, pretty: bool = False) -> str:
    """`expr` (a CHECK of `table`, as written) as pg_get_constraintdef prints it, `pretty` as its 2nd argument."""
    try:
        node = pglast.parse_sql(f"SELECT {expr}")[0].stmt.targetList[0].val
    except Exception:  # stored text always parses; be safe for a catalog read
        return expr
    if not (isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and len(node.name) == 1
            and node.name[0].sval in _COMPARISONS):
        return expr
    op = node.name[0].sval
    for col_node, const_node, flipped in ((node.lexpr, node.rexpr, False), (node.rexpr, node.lexpr, True)):
        col = _column(table, col_node, pretty)
        if col is None or not isinstance(const_node, ast.A_Const) or const_node.isnull:
            continue
        const = _constant(const_node.val, col[1], pretty)
        if const is None:
            return expr
        return f"{const} {op} {col[0]}" if flipped else f"{col[0]} {op} {const}"
    return expr
