"""Bound, typed expressions. The binder builds them; compile() turns one into a closure
`f(row) -> value` that the executor calls per row (rows are lists of values)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from services.common import errors


class Env:
    """Run-time state the compiled closures read: parameter values and statement time."""

    def __init__(self):
        self.params: list = []
        self.now = None            # transaction timestamp (timestamptz)
        self.session = None
        self.ctx = None            # the ExecContext of the running execution (subqueries)
        self.generation = 0        # bumped per execution: caches of uncorrelated subqueries
        self.outer_stack: list = []  # rows of enclosing queries (correlated subqueries)


class Expr:
    type: int = 0
    typmod: int = -1
    location: int | None = None

    def compile(self, env: Env) -> Callable[[list], Any]:
        raise NotImplementedError

    def children(self) -> list[Expr]:
        return []

    def walk(self):
        yield self
        for c in self.children():
            yield from c.walk()


@dataclasses.dataclass(eq=False)
class Const(Expr):
    value: Any
    type: int
    typmod: int = -1
    location: int | None = None

    def compile(self, env):
        v = self.value
        return lambda row: v


@dataclasses.dataclass(eq=False)
class Param(Expr):
    index: int                 # 0-based
    type: int
    typmod: int = -1
    location: int | None = None

    def compile(self, env):
        i = self.index
        return lambda row: env.params[i]


@dataclasses.dataclass(eq=False)
class ColRef(Expr):
    index: int                 # position in the input row
    type: int
    typmod: int = -1
    name: str = "?column?"
    location: int | None = None

    def compile(self, env):
        i = self.index
        return lambda row: row[i]


@dataclasses.dataclass(eq=False)
class Func(Expr):
    """A strict function or operator: NULL if any argument is NULL (unless strict=False)."""
    name: str
    fn: Callable
    args: list[Expr]
    type: int
    typmod: int = -1
    strict: bool = True
    volatile: bool = False
    location: int | None = None

    def children(self):
        return list(self.args)

    def compile(self, env):
        fn = self.fn
        cs = [a.compile(env) for a in self.args]
        if self.volatile and getattr(fn, "wants_env", False):
            return lambda row: fn(env, *[c(row) for c in cs])
        if not self.strict:
            return lambda row: fn(*[c(row) for c in cs])
        if len(cs) == 1:
            c0 = cs[0]

            def f1(row):
                a = c0(row)
                return None if a is None else fn(a)
            return f1
        if len(cs) == 2:
            c0, c1 = cs

            def f2(row):
                a = c0(row)
                if a is None:
                    return None
                b = c1(row)
                return None if b is None else fn(a, b)
            return f2

        def fn_n(row):
            vals = [c(row) for c in cs]
            if any(v is None for v in vals):
                return None
            return fn(*vals)
        return fn_n


@dataclasses.dataclass(eq=False)
class BoolOp(Expr):
    op: str                    # AND / OR / NOT
    args: list[Expr]
    type: int = 16
    typmod: int = -1

    def children(self):
        return list(self.args)

    def compile(self, env):
        cs = [a.compile(env) for a in self.args]
        if self.op == "NOT":
            c = cs[0]

            def f_not(row):
                v = c(row)
                return None if v is None else not v
            return f_not
        if self.op == "AND":
            def f_and(row):
                null = False
                for c in cs:
                    v = c(row)
                    if v is None:
                        null = True
                    elif not v:
                        return False
                return None if null else True
            return f_and

        def f_or(row):
            null = False
            for c in cs:
                v = c(row)
                if v is None:
                    null = True
                elif v:
                    return True
            return None if null else False
        return f_or


@dataclasses.dataclass(eq=False)
class NullTest(Expr):
    arg: Expr
    negate: bool               # IS NOT NULL
    type: int = 16
    typmod: int = -1

    def children(self):
        return [self.arg]

    def compile(self, env):
        c = self.arg.compile(env)
        if self.negate:
            return lambda row: c(row) is not None
        return lambda row: c(row) is None


@dataclasses.dataclass(eq=False)
class BoolTest(Expr):
    arg: Expr
    test: str                  # IS_TRUE, IS_NOT_TRUE, IS_FALSE, IS_NOT_FALSE, IS_UNKNOWN, IS_NOT_UNKNOWN
    type: int = 16
    typmod: int = -1

    def children(self):
        return [self.arg]

    def compile(self, env):
        c = self.arg.compile(env)
        t = self.test
        table = {
            "IS_TRUE": lambda v: v is True, "IS_NOT_TRUE": lambda v: v is not True,
            "IS_FALSE": lambda v: v is False, "IS_NOT_FALSE": lambda v: v is not False,
            "IS_UNKNOWN": lambda v: v is None, "IS_NOT_UNKNOWN": lambda v: v is not None,
        }[t]
        return lambda row: table(c(row))


@dataclasses.dataclass(eq=False)
class Case(Expr):
    whens: list[tuple[Expr, Expr]]   # (condition, result); condition already boolean
    default: Expr | None
    type: int
    typmod: int = -1

    def children(self):
        out = []
        for w, r in self.whens:
            out += [w, r]
        if self.default is not None:
            out.append(self.default)
        return out

    def compile(self, env):
        ws = [(w.compile(env), r.compile(env)) for w, r in self.whens]
        d = self.default.compile(env) if self.default is not None else (lambda row: None)

        def f(row):
            for w, r in ws:
                if w(row):
                    return r(row)
            return d(row)
        return f


@dataclasses.dataclass(eq=False)
class Coalesce(Expr):
    args: list[Expr]
    type: int
    typmod: int = -1
    name: str = "coalesce"     # coalesce / greatest / least / nullif

    def children(self):
        return list(self.args)

    def compile(self, env):
        cs = [a.compile(env) for a in self.args]

        def f(row):
            for c in cs:
                v = c(row)
                if v is not None:
                    return v
            return None
        return f


@dataclasses.dataclass(eq=False)
class InList(Expr):
    """x IN (a, b, ...): eq is the resolved equality function per item."""
    arg: Expr
    items: list[Expr]
    eqs: list[Callable]
    negate: bool = False
    type: int = 16
    typmod: int = -1

    def children(self):
        return [self.arg] + list(self.items)

    def compile(self, env):
        c = self.arg.compile(env)
        cs = [i.compile(env) for i in self.items]
        eqs = self.eqs
        neg = self.negate

        def f(row):
            v = c(row)
            if v is None:
                return None
            null = False
            for ci, eq in zip(cs, eqs):
                w = ci(row)
                if w is None:
                    null = True
                elif eq(v, w):
                    return False if neg else True
            if null:
                return None
            return True if neg else False
        return f


@dataclasses.dataclass(eq=False)
class AggCall(Expr):
    """An aggregate call as it appears in a select list; the planner replaces it with a
    ColRef into the Aggregate node's output."""
    name: str
    args: list[Expr]
    type: int
    typmod: int = -1
    star: bool = False
    distinct: bool = False
    make_state: Callable = None      # () -> accumulator object with .add(v) and .result()
    location: int | None = None
    filter: Expr | None = None       # FILTER (WHERE ...)
    order: list = dataclasses.field(default_factory=list)   # ORDER BY inside the call: (expr, desc, nulls_first)

    def children(self):
        return list(self.args) + ([self.filter] if self.filter is not None else []) + [o[0] for o in self.order]

    def compile(self, env):
        raise errors.PgError("aggregate function calls cannot be evaluated here", sqlstate="42803")


@dataclasses.dataclass(eq=False)
class WindowCall(Expr):
    """A window function call; the planner evaluates it in a WindowAgg node and the select
    list reads its value from a column that node appends to the row."""
    name: str
    args: list[Expr]
    partition: list[Expr]
    order: list[tuple[Expr, bool, bool]]     # (expr, desc, nulls_first)
    type: int
    frame: str = "default"                   # default / rows_to_current / whole
    typmod: int = -1
    make_state: Callable = None              # window aggregates
    star: bool = False
    location: int | None = None
    filter: Expr | None = None               # FILTER (WHERE ...) of a window aggregate

    def children(self):
        return list(self.args) + list(self.partition) + [o[0] for o in self.order] + \
            ([self.filter] if self.filter is not None else [])

    def compile(self, env):
        raise errors.PgError("window function calls cannot be evaluated here", sqlstate="42P20")


def contains_agg(e: Expr) -> bool:
    return any(isinstance(x, AggCall) for x in e.walk())


def replace(e: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild an expression tree, replacing nodes where fn returns a node."""
    r = fn(e)
    if r is not None:
        return r
    if isinstance(e, Func):
        return dataclasses.replace(e, args=[replace(a, fn) for a in e.args])
    if isinstance(e, BoolOp):
        return dataclasses.replace(e, args=[replace(a, fn) for a in e.args])
    if isinstance(e, NullTest):
        return dataclasses.replace(e, arg=replace(e.arg, fn))
    if isinstance(e, BoolTest):
        return dataclasses.replace(e, arg=replace(e.arg, fn))
    if isinstance(e, Case):
        return dataclasses.replace(e, whens=[(replace(w, fn), replace(x, fn)) for w, x in e.whens],
                                   default=replace(e.default, fn) if e.default is not None else None)
    if isinstance(e, Coalesce):
        return dataclasses.replace(e, args=[replace(a, fn) for a in e.args])
    if isinstance(e, InList):
        return dataclasses.replace(e, arg=replace(e.arg, fn), items=[replace(a, fn) for a in e.items])
    if isinstance(e, AggCall):
        return dataclasses.replace(e, args=[replace(a, fn) for a in e.args],
                                   filter=replace(e.filter, fn) if e.filter is not None else None,
                                   order=[(replace(x, fn), d, nf) for x, d, nf in e.order])
    if isinstance(e, WindowCall):
        return dataclasses.replace(e, args=[replace(a, fn) for a in e.args],
                                   filter=replace(e.filter, fn) if e.filter is not None else None,
                                   partition=[replace(a, fn) for a in e.partition],
                                   order=[(replace(x, fn), d, nf) for x, d, nf in e.order])
    return e
