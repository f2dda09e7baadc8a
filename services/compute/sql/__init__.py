"""The SQL engine of the compute service.

Layers, each its own module: parse (pglast -> Statement, DSQL subset), bind (names and
types), plan (plan nodes), execute (runs plans against a transaction), ddl (catalog
changes), session (SqlSession: the API the protocol layer uses). `types` holds one module
per PostgreSQL type.
"""

from __future__ import annotations

__all__ = ["SqlSession", "Result", "Prepared", "ColumnDesc"]


def __getattr__(name):
    if name in __all__:
        from . import session
        return getattr(session, name)
    raise AttributeError(name)
