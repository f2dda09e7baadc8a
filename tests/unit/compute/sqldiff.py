"""Differential testing helpers: run statements on a PostgreSQL oracle (libpq, text results)
and on SqlSession, and render both the same way for comparison."""

from __future__ import annotations

from services.common.errors import PgError
from services.compute.sql import types as T


def render_pg(pgconn, sql: str):
    from psycopg import pq
    res = pgconn.exec_(sql.encode())
    st = res.status
    if st == pq.ExecStatus.FATAL_ERROR:
        f = pq.DiagnosticField
        def g(x):
            v = res.error_field(x)
            return v.decode() if v is not None else None
        pos = g(f.STATEMENT_POSITION)
        return ("error", g(f.SQLSTATE), g(f.MESSAGE_PRIMARY), g(f.MESSAGE_DETAIL), int(pos) if pos else None)
    tag = res.command_status.decode()
    if st == pq.ExecStatus.TUPLES_OK:
        cols = [(res.fname(i).decode(), res.ftype(i)) for i in range(res.nfields)]
        rows = [tuple(None if res.get_value(r, c) is None else res.get_value(r, c).decode()
                      for c in range(res.nfields)) for r in range(res.ntuples)]
        return ("ok", tag, cols, rows)
    return ("ok", tag, None, [])


def render_ours(session, sql: str):
    try:
        results = session.execute_sql(sql)
    except PgError as e:
        return ("error", e.sqlstate, e.message, e.detail, e.position)
    r = results[-1]
    if r.columns is None:
        return ("ok", r.tag, None, [])
    cols = [(c.name, c.type_oid) for c in r.columns]
    rows = [tuple(None if v is None else T.encode_text(c.type_oid, v) for c, v in zip(r.columns, row))
            for row in r.rows]
    return ("ok", r.tag, cols, rows)
