"""What pg_stat_activity and pg_prepared_statements show of a session, and SQL PREPARE / EXECUTE.

Every SqlSession of this process registers in LIVE (weakly: a session that is gone drops out) and
keeps an Activity: the statement it runs now or ran last. Named prepared statements, from SQL
PREPARE (here) and from the protocol's Parse (protocol.py), share one dict,
`session.prepared_statements`, as in PostgreSQL: DEALLOCATE, Bind and EXECUTE see both kinds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import weakref
from typing import Any

from services.common import errors
from services.common.errors import PgError

LIVE: "weakref.WeakSet" = weakref.WeakSet()
_live_lock = threading.Lock()

STATES = {"I": "idle", "T": "idle in transaction", "E": "idle in transaction (aborted)"}


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclasses.dataclass
class Activity:
    backend_start: dt.datetime
    xact_start: dt.datetime | None = None
    query_start: dt.datetime | None = None
    state_change: dt.datetime | None = None
    query: str = ""
    depth: int = 0                  # statements running (EXECUTE runs one inside itself)


def register(session) -> None:
    session.activity = Activity(now())
    with _live_lock:
        LIVE.add(session)


def sessions() -> list:
    """The open sessions of this process."""
    with _live_lock:
        return [s for s in list(LIVE) if not s.closed]


def transaction_started(session) -> None:
    session.activity.xact_start = now()


def statement_started(session, stmt) -> None:
    a = session.activity
    if a.depth == 0:
        t = now()
        if not session._in_block:
            a.xact_start = t
        a.query, a.query_start, a.state_change = stmt.query or stmt.text, t, t
    a.depth += 1


def statement_ended(session) -> None:
    a = session.activity
    a.depth -= 1
    if a.depth == 0:
        a.state_change = now()


def state(session) -> tuple[str, dt.datetime | None]:
    """(state, xact_start) as pg_stat_activity shows them."""
    a = session.activity
    if a.depth:
        return "active", a.xact_start
    status = session.txn_status
    return STATES.get(status, "idle"), a.xact_start if status != "I" else None


# ------------------------------------------------------------------ PREPARE / EXECUTE / DEALLOCATE

@dataclasses.dataclass
class NamedStatement:
    """A prepared statement of the session: SQL PREPARE, or a protocol-level one (from_sql=False)."""
    name: str
    sql: str
    stmt: Any
    prepared: Any
    prepare_time: dt.datetime = dataclasses.field(default_factory=now)
    from_sql: bool = True
    generic_plans: int = 0          # executions: a plan here never depends on the parameter values

    @property
    def param_oids(self) -> list[int]:
        return list(self.prepared.param_oids) if self.prepared is not None else []

    @property
    def columns(self):
        return self.prepared.columns if self.prepared is not None else None


def prepare_named(session, stmt) -> Any:
    """PREPARE name [(types)] AS statement: plans it now (errors show at PREPARE, as PostgreSQL)."""
    from .bind import type_from_typename
    from .parse import Statement
    from .session import Prepared, Result
    node = stmt.node
    oids = [type_from_typename(tn, stmt)[0] for tn in node.argtypes or ()]
    inner = session._prepare(Statement(node.query, stmt.text, type(node.query).__name__, stmt.offset,
                                       query=stmt.query), oids)

    def run(params):
        if node.name in session.prepared_statements:
            raise PgError(f'prepared statement "{node.name}" already exists', sqlstate="42P05")
        session.prepared_statements[node.name] = NamedStatement(node.name, stmt.query or stmt.text, stmt, inner)
        return Result(None, [], "PREPARE")
    return Prepared(stmt, [], None, "util", run)


def execute_named(session, stmt) -> Any:
    """EXECUTE name [(args)]: the arguments are evaluated as a SELECT of them cast to the parameter
    types, then the prepared statement runs with them; its rows and tag are EXECUTE's."""
    from pglast.stream import RawStream

    from .parse import parse
    from .session import Prepared
    from .syscat.typedata import format_type
    node = stmt.node
    entry = session.prepared_statements.get(node.name)
    if entry is None or entry.prepared is None or not hasattr(entry.prepared, "runner"):
        raise PgError(f'prepared statement "{node.name}" does not exist', sqlstate="26000")
    args, types = list(node.params or ()), entry.param_oids
    if len(args) != len(types):
        raise errors.SyntaxError_(f'wrong number of parameters for prepared statement "{node.name}"',
                                  detail=f"Expected {len(types)} parameters but got {len(args)}.")
    values = None
    if args:
        sql = "SELECT " + ", ".join(f"({RawStream()(a)})::{format_type(t)}" for a, t in zip(args, types))
        values = session._prepare(parse(sql)[0], [])

    def run(params):
        vals = list(session._run_dml(values, []).rows[0]) if values is not None else []
        entry.generic_plans += 1
        return session._execute(entry.prepared, vals)
    return Prepared(stmt, [], entry.columns, "util", run)


def deallocate(session, name: str | None) -> str:
    if name is None:
        session.prepared_statements.clear()
        return "DEALLOCATE ALL"
    if session.prepared_statements.pop(name, None) is None:
        raise PgError(f'prepared statement "{name}" does not exist', sqlstate="26000")
    return "DEALLOCATE"
