"""Row rules of a table: CHECK constraints (table, column and domain) and stored generated columns.

The catalog keeps them as SQL text: `Table.checks` entries {"name", "expr", "domain", "column",
"not_null"} and `Column.generated`. The first write of a table revision binds them against the
table's columns (a row is the list of the table's column values, so a bound ColRef's index is the
column position) and caches the bound expressions; every written row then gets its generated values
computed and its checks evaluated, as PostgreSQL does: generated columns, NOT NULL, then CHECK.

    INSERT INTO t (a) VALUES (-1)      with  CHECK (a > 0)
    -> 23514 new row for relation "t" violates check constraint "t_a_check"
       DETAIL: Failing row contains (-1).
"""

from __future__ import annotations

import dataclasses

import pglast
from pglast import ast
from pglast.stream import RawStream

from services.common import errors
from services.common.errors import PgError

from .expr import Expr

_CACHE_MAX = 1024


def deparse(node) -> str:
    return RawStream()(node)


def parse_expr(text: str):
    return pglast.parse_sql(f"SELECT {text}")[0].stmt.targetList[0].val


def _column_ref_nodes(node):
    """Every ColumnRef node of a parsed expression, in order of appearance."""
    if isinstance(node, ast.ColumnRef):
        yield node
    elif isinstance(node, (list, tuple)):
        for x in node:
            yield from _column_ref_nodes(x)
    elif isinstance(node, ast.Node):
        for slot in node.__slots__:
            yield from _column_ref_nodes(getattr(node, slot, None))


def column_refs(node) -> list[str]:
    """Names of the column references in an expression (last field), in order of appearance."""
    out: list[str] = []
    for n in _column_ref_nodes(node):
        f = n.fields[-1]
        if isinstance(f, ast.String) and f.sval not in out:
            out.append(f.sval)
    return out


def rename_refs(node, old: str, new: str):
    """Rename column references (in place) in a parsed expression; returns the node."""
    for n in _column_ref_nodes(node):
        f = n.fields[-1]
        if isinstance(f, ast.String) and f.sval == old:
            n.fields = tuple(n.fields[:-1]) + (ast.String(sval=new),)
    return node


def rename_column_in_table(table, old: str, new: str) -> tuple[list, list]:
    """(columns, checks) with CHECK and generation expressions that name `old` rewritten."""
    checks = []
    for ck in table.checks:
        if ck.get("expr") and not ck.get("domain") and old in column_refs(parse_expr(ck["expr"])):
            ck = {**ck, "expr": deparse(rename_refs(parse_expr(ck["expr"]), old, new))}
        checks.append(ck)
    cols = []
    for c in table.columns:
        if c.generated and old in column_refs(parse_expr(c.generated)):
            c = dataclasses.replace(c, generated=deparse(rename_refs(parse_expr(c.generated), old, new)))
        cols.append(dataclasses.replace(c, name=new) if c.name == old and not c.hidden else c)
    return cols, checks


def choose_name(table_name: str, cols: list[str], label: str, taken: set[str]) -> str:
    """PostgreSQL's ChooseConstraintName: table_col_label, then table_col_label1, 2, ..."""
    base = "_".join([table_name] + cols[:1] + [label])
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}{i}"
    taken.add(name)
    return name


@dataclasses.dataclass
class RowRules:
    generated: list[tuple[int, Expr]]
    checks: list[tuple[dict, int | None, Expr | None]]    # (entry, column position, bound boolean expr)
    _compiled: tuple | None = None

    def compiled(self, env):
        c = self._compiled
        if c is None or c[0] is not env:
            c = self._compiled = (env, [(p, e.compile(env)) for p, e in self.generated],
                                  [(ck, p, e.compile(env) if e is not None else None) for ck, p, e in self.checks])
        return c[1], c[2]


_rules: dict[tuple, RowRules | None] = {}


def rules_for(table, session) -> RowRules | None:
    if not table.checks and not any(c.generated for c in table.columns):
        return None
    k = (table.id, table.revision, id(table))
    rules = _rules.get(k)
    if rules is None:
        if len(_rules) > _CACHE_MAX:
            _rules.clear()
        rules = _rules[k] = bind_rules(table, session)
    return rules


def bind_rules(table, session) -> RowRules:
    """Bind a table's generation and CHECK expressions (also how CREATE TABLE validates them)."""
    from .bind import Binder, Scope
    from .parse import Statement
    catalog = getattr(session, "catalog", None)

    def binder(node, text):
        return Binder(catalog, Statement(node=node, text=text, kind="Expr", query=""), session=session)
    generated = []
    for i, c in enumerate(table.columns):
        if c.generated:
            node = parse_expr(c.generated)
            b = binder(node, c.generated)
            generated.append((i, b.assign(b.expr(node, Scope([b.table_entry(table, table.name)]), False), c)))
    checks = []
    for ck in table.checks:
        pos = table.column_index(ck["column"]) if ck.get("column") is not None else None
        if ck.get("not_null"):
            checks.append((ck, pos, None))
            continue
        node = parse_expr(ck["expr"])
        if ck.get("domain"):
            rename_refs(node, "value", table.columns[pos].name)
        b = binder(node, ck["expr"])
        checks.append((ck, pos, b.to_bool(b.expr(node, Scope([b.table_entry(table, table.name)]), False), "CHECK")))
    return RowRules(generated, checks)


def generate(rules: RowRules, row: list, env) -> None:
    gens, _ = rules.compiled(env)
    for p, f in gens:
        row[p] = f(row)


def check(rules: RowRules, table, row: list, env, record_out) -> None:
    _, checks = rules.compiled(env)
    for ck, p, f in checks:
        if f is None:
            if row[p] is None:
                raise errors.NotNullViolation(f"domain {ck['domain']} does not allow null values")
            continue
        if f(row) is False:
            if ck.get("domain"):
                raise PgError(f'value for domain {ck["domain"]} violates check constraint "{ck["name"]}"',
                              sqlstate="23514")
            raise PgError(f'new row for relation "{table.name}" violates check constraint "{ck["name"]}"',
                          sqlstate="23514", detail=f"Failing row contains {record_out(row)}.")


def insert_target_error(col, overriding_system: bool = False) -> PgError | None:
    """The error for an explicit value given to a generated or GENERATED ALWAYS identity column."""
    if col.generated:
        return PgError(f'cannot insert a non-DEFAULT value into column "{col.name}"', sqlstate="428C9",
                       detail=f'Column "{col.name}" is a generated column.')
    if col.identity == "a" and not overriding_system:
        return PgError(f'cannot insert a non-DEFAULT value into column "{col.name}"', sqlstate="428C9",
                       detail=f'Column "{col.name}" is an identity column defined as GENERATED ALWAYS.',
                       hint="Use OVERRIDING SYSTEM VALUE to override.")
    return None


def update_target_error(col) -> PgError | None:
    if col.generated:
        return PgError(f'column "{col.name}" can only be updated to DEFAULT', sqlstate="428C9",
                       detail=f'Column "{col.name}" is a generated column.')
    if col.identity == "a":
        return PgError(f'column "{col.name}" can only be updated to DEFAULT', sqlstate="428C9",
                       detail=f'Column "{col.name}" is an identity column defined as GENERATED ALWAYS.')
    return None
