"""DSQL's sys functions and procedures: sys.wait_for_job(job_id) and sys.cancel_job(job_id), in a
query (SELECT sys.wait_for_job('...')) or as CALL statements.

    CALL sys.wait_for_job('id')   -> one row, column wait_for_job: true once completed, false if
                                     the job failed or was cancelled (blocks until it finishes)
    CALL sys.cancel_job('id')     -> no rows; the job is cancelled and its index left invalid
"""

from __future__ import annotations

from pglast import ast

from services.common import errors

from .. import jobs
from . import types as T
from .expr import Func
from .parse import Statement


def _wait_for_job(env, job_id):
    session = env.session
    return jobs.wait_for_job(session.catalog, job_id, lambda: getattr(session, "cancel_requested", False))


def _cancel_job(env, job_id):
    jobs.cancel_job(env.session.catalog, job_id)
    return True


_wait_for_job.wants_env = True
_cancel_job.wants_env = True
# name -> (implementation, result type, a procedure whose CALL returns no row)
FUNCTIONS = {"wait_for_job": (_wait_for_job, T.BOOL, False), "cancel_job": (_cancel_job, T.BOOL, True)}


def _signature(name: str, args) -> str:
    from . import functions as F
    return f"sys.{name}({', '.join(F.type_name(a.type) for a in args)})"


def bind_call(binder, name: str, args, location, what: str = "function"):
    """A Func node for sys.<name>(args)."""
    entry = FUNCTIONS.get(name)
    if entry is None or len(args) != 1 or args[0].type not in (T.TEXT, T.VARCHAR, T.UNKNOWN, T.NAME, T.BPCHAR):
        raise errors.UndefinedFunction(f"{what} {_signature(name, args)} does not exist", position=location,
                                       hint=f"No {what} matches the given name and argument types. You might "
                                            "need to add explicit type casts.")
    fn, rtype, _ = entry
    return Func(name, fn, [binder.coerce(args[0], T.TEXT)], rtype, strict=False, volatile=True,
                location=location)


def call_as_select(stmt: Statement) -> tuple[Statement, bool]:
    """CALL sys.<procedure>(...) as the SELECT that runs it; (statement, whether it returns no row)."""
    fc = stmt.node.funccall
    names = [s.sval for s in fc.funcname]
    if len(names) != 2 or names[0] != "sys" or names[1] not in FUNCTIONS:
        raise errors.UndefinedFunction(f"procedure {'.'.join(names)}() does not exist",
                                       position=stmt.position(fc.location))
    select = ast.SelectStmt(targetList=(ast.ResTarget(val=fc),))
    return Statement(select, stmt.text, "SelectStmt", stmt.offset, query=stmt.query), FUNCTIONS[names[1]][2]
