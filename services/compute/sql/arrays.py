"""Query-time arrays for the binder: ARRAY[...], subscripts, op ANY/ALL (array), array functions,
array_agg, ARRAY(subquery) and unnest (in FROM and at the top of a select list)."""

from __future__ import annotations

import re

from pglast import ast

from services.common import errors
from services.common.errors import PgError

from . import functions as F
from . import types as T
from .expr import Const, Func

ARRAY_FUNCS = {"array_length", "cardinality", "array_to_string", "string_to_array", "array_position",
               "array_remove", "array_append", "array_prepend", "array_cat", "regexp_match",
               "regexp_split_to_array", "array_lower", "array_upper", "array_ndims", "array_dims"}


def is_array(oid: int) -> bool:
    return oid in T.ELEMENT_OF


def elem(oid: int) -> int:
    return T.ELEMENT_OF[oid]


def array_of(oid: int, position=None) -> int:
    if oid == T.UNKNOWN:
        oid = T.TEXT
    if oid not in T.ARRAY_OF:
        raise PgError(f"could not find array type for data type {F.type_name(oid)}", sqlstate="42704",
                      position=position)
    return T.ARRAY_OF[oid]


def _sort_key(oid):
    k = F.sort_key_func(oid)

    def key(v):
        return tuple((1, 0) if x is None else (0, k(x) if k else x) for x in v) + ((-1, 0),)
    return key


def array_compare(op: str, oid: int):
    key = _sort_key(elem(oid))
    base = F._CMP[op]
    return lambda a, b: base(key(a), key(b))


class ArrayBinder:
    """Mixed into Binder."""

    def x_A_ArrayExpr(self, n, scope, allow_agg):
        loc = self.pos(n)
        items = [self.expr(x, scope, allow_agg) for x in n.elements or ()]
        if not items:
            raise PgError("cannot determine type of empty array", sqlstate="42P18", position=loc,
                          hint="Explicitly cast to the desired type, for example ARRAY[]::integer[].")
        from .bind import select_common_type
        t = select_common_type([x.type for x in items], "ARRAY", loc, [x.location for x in items])
        if t == T.UNKNOWN:
            t = T.TEXT
        if is_array(t):
            raise errors.FeatureNotSupported("multidimensional arrays are not supported", position=loc)
        items = [self.coerce(x, t) for x in items]
        return self.fold(Func("array", lambda *vs: list(vs), items, array_of(t, loc), strict=False, location=loc))

    def x_A_Indirection(self, n, scope, allow_agg):
        e = self.expr(n.arg, scope, allow_agg)
        for ind in n.indirection:
            if not isinstance(ind, ast.A_Indices) or ind.is_slice:
                raise errors.FeatureNotSupported("array slices and field selection are not supported",
                                                 position=self.pos(n))
            if e.type == T.UNKNOWN:
                e = self.coerce(e, T.TEXT)
            if not is_array(e.type):
                raise PgError(f"cannot subscript type {F.type_name(e.type)} because it does not support "
                              f"subscripting", sqlstate="42804", position=self.pos(n))
            i = self.coerce(self.expr(ind.uidx, scope, allow_agg), T.INT4)

            def sub(a, k):
                return a[k - 1] if 1 <= k <= len(a) else None
            e = self.fold(Func("subscript", sub, [e, i], elem(e.type), location=self.pos(n)))
        return e

    def array_any_all(self, n, scope, allow_agg, kind, op, loc):
        left = self.expr(n.lexpr, scope, allow_agg)
        right = self.expr(n.rexpr, scope, allow_agg)
        if right.type == T.UNKNOWN:
            lt = left.type if left.type != T.UNKNOWN else T.TEXT
            right = self.coerce(right, array_of(lt, loc))
        if not is_array(right.type):
            raise PgError(f"op ANY/ALL (array) requires array on right side", sqlstate="42809", position=loc)
        et = elem(right.type)
        r = F.resolve_binop(op, left.type, et, loc)
        if r.result != T.BOOL:
            raise PgError("op ANY/ALL (array) requires operator to yield boolean", sqlstate="42809", position=loc)
        left = self.coerce(left, r.ltype)
        conv = F.cast_func(et, r.rtype, F.IMPLICIT) or F._identity
        cmp = r.fn
        want = kind == "AEXPR_OP_ANY"

        def anyall(x, arr):
            if arr is None:
                return None
            saw_null = False
            for v in arr:
                res = None if (x is None or v is None) else cmp(x, conv(v))
                if res is None:
                    saw_null = True
                elif res == want:
                    return want
            return None if saw_null else not want
        return self.fold(Func("anyall", anyall, [left, right], T.BOOL, strict=False, location=loc))

    def array_binop(self, op, left, right, loc):
        """Operators with an array operand: || and comparisons; None when neither side is an array."""
        la, ra = is_array(left.type), is_array(right.type)
        if not (la or ra):
            return None
        if op == "||":
            if la and ra:
                if left.type != right.type:
                    raise F.no_operator(op, left.type, right.type, loc)
                return self.fold(Func(op, lambda a, b: None if a is None and b is None else (a or []) + (b or []),
                                      [left, right], left.type, strict=False, location=loc))
            if la:
                right = self.coerce(right, elem(left.type))
                return self.fold(Func(op, lambda a, b: (a or []) + [b], [left, right], left.type, strict=False,
                                      location=loc))
            left = self.coerce(left, elem(right.type))
            return self.fold(Func(op, lambda a, b: [a] + (b or []), [left, right], right.type, strict=False,
                                  location=loc))
        op2 = "<>" if op == "!=" else op
        if op2 in F._CMP:
            if left.type == T.UNKNOWN:
                left = self.coerce(left, right.type)
            if right.type == T.UNKNOWN:
                right = self.coerce(right, left.type)
            if left.type == right.type:
                return self.fold(Func(op2, array_compare(op2, left.type), [left, right], T.BOOL, location=loc))
        raise F.no_operator(op, left.type, right.type, loc)

    def array_function(self, name, args, loc):
        def need_array(i):
            a = args[i]
            if a.type == T.UNKNOWN:
                raise errors.UndefinedFunction(f"function {name}(unknown) is not unique", position=loc)
            if not is_array(a.type):
                raise errors.UndefinedFunction(
                    f"function {name}({', '.join(F.type_name(x.type) for x in args)}) does not exist", position=loc,
                    hint="No function matches the given name and argument types. You might need to add explicit "
                         "type casts.")
            return a.type
        n = len(args)

        def mk(fn, rt, a, strict=True):
            return self.fold(Func(name, fn, a, rt, strict=strict, location=loc))
        if name == "array_length" and n == 2:
            need_array(0)
            return mk(lambda a, d: (len(a) or None) if d == 1 else None, T.INT4, [args[0], self.coerce(args[1], T.INT4)])
        if name in ("array_lower", "array_upper") and n == 2:
            need_array(0)
            up = name == "array_upper"
            return mk(lambda a, d: (len(a) if up else 1) if d == 1 and a else None, T.INT4,
                      [args[0], self.coerce(args[1], T.INT4)])
        if name == "array_ndims" and n == 1:
            need_array(0)
            return mk(lambda a: 1 if a else None, T.INT4, args)
        if name == "cardinality" and n == 1:
            need_array(0)
            return mk(len, T.INT4, args)
        if name == "array_to_string" and n in (2, 3):
            t = need_array(0)
            out = T.lookup(elem(t)).text_out
            rest = [self.coerce(a, T.TEXT) for a in args[1:]]

            def a2s(a, sep, null=None):
                return sep.join(out(v) if v is not None else null for v in a if v is not None or null is not None)
            return mk(a2s, T.TEXT, [args[0]] + rest)
        if name == "string_to_array" and n in (2, 3):
            a = [self.coerce(x, T.TEXT) for x in args]

            def s2a(s, sep, null=None):
                if s is None:
                    return None
                if s == "":
                    return []
                parts = list(s) if sep is None else ([s] if sep == "" else s.split(sep))
                return [None if (null is not None and p == null) else p for p in parts]
            return mk(s2a, T.ARRAY_OF[T.TEXT], a, strict=False)
        if name in ("array_position", "array_remove") and n == 2:
            t = need_array(0)
            x = self.coerce(args[1], elem(t))
            if name == "array_position":
                return mk(lambda a, v: next((i + 1 for i, y in enumerate(a) if y == v), None), T.INT4,
                          [args[0], x], strict=False)
            return mk(lambda a, v: None if a is None else [y for y in a if not (y == v or (y is None and v is None))],
                      t, [args[0], x], strict=False)
        if name in ("array_append", "array_prepend", "array_cat") and n == 2:
            if name == "array_prepend":
                return self.array_binop("||", args[0], args[1], loc)
            return self.array_binop("||", args[0], args[1], loc)
        if name in ("regexp_match", "regexp_split_to_array") and n in (2, 3):
            from .functions_ext import _regex
            a = [self.coerce(x, T.TEXT) for x in args]
            if name == "regexp_match":
                def rm(s, p, fl=""):
                    m = _regex(p, fl).search(s)
                    if m is None:
                        return None
                    return list(m.groups()) if m.re.groups else [m.group(0)]
                return mk(rm, T.ARRAY_OF[T.TEXT], a)
            return mk(lambda s, p, fl="": _regex(p, fl).split(s), T.ARRAY_OF[T.TEXT], a)
        raise errors.UndefinedFunction(
            f"function {name}({', '.join(F.type_name(x.type) for x in args)}) does not exist", position=loc,
            hint="No function matches the given name and argument types. You might need to add explicit type casts.")


class _ArrayAgg:
    __slots__ = ("v",)

    def __init__(self):
        self.v = None

    def add(self, x):
        if self.v is None:
            self.v = []
        self.v.append(x)

    def result(self):
        return self.v


def resolve_array_agg(arg_types, position=None):
    t = arg_types[0] if arg_types else T.UNKNOWN
    if t == T.UNKNOWN:
        t = T.TEXT
    return array_of(t, position), _ArrayAgg, [t]
