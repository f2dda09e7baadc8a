"""SqlSession: one client session's SQL state - transaction block, prepared statements and
plan cache - on top of the catalog and the transaction client (see docs/ARCHITECTURE.md).

    s = SqlSession(catalog=catalog, kv=kv, user=user, database=db, limits=config.limits)
    for stmt in s.parse(sql):
        p = s.prepare(stmt, param_oids)      # Prepared: .param_oids, .columns (None: no rows)
        r = s.execute(p, params)             # Result: .columns, .rows, .tag, .notices
    s.txn_status                             # 'I' / 'T' / 'E'
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import sys
import time
from typing import Any, Callable

from services.common import errors
from services.common.errors import PgError

from . import activity, objects, syscat, types as T
from .functions_ext import quote_ident
from .syscat import settings as sysettings
from .bind import Binder
from .ddl import DdlAction, prepare_ddl
from .execute import ExecContext, TxnState, check_cancel, insert_rows, run, run_delete, run_insert, run_update
from .expr import Env
from .. import txnmetrics as txn_metrics
from ..catalog import Catalog, SnapshotStore
from ..kv import schema_key
from .parse import DDL_KINDS, Statement, parse
from .plan import Planner, explain
from .privileges import check_tables, has_privilege, required, validate_setting

IN_FAILED = "current transaction is aborted, commands ignored until end of transaction block"
FOR_UPDATE_READ_ONLY_MESSAGE = "SELECT FOR UPDATE in a read-only transaction is a no-op"
_TRUE_WORDS = ("on", "true", "yes", "1", "t", "y")
DDL_DML_MESSAGE = "ddl and dml are not supported in the same transaction"
MULTI_DDL_MESSAGE = "unsupported mix of ddl statements in the same transaction"

DEFAULT_SETTINGS = {
    "role": "none",
    "server_version": "16.9", "server_version_num": "160009", "server_encoding": "UTF8",
    "client_encoding": "UTF8", "datestyle": "ISO, MDY", "timezone": "UTC", "intervalstyle": "postgres",
    "integer_datetimes": "on", "standard_conforming_strings": "on", "transaction_isolation": "repeatable read",
    "default_transaction_isolation": "repeatable read", "transaction_read_only": "off",
    "search_path": '"$user", public', "application_name": "", "extra_float_digits": "1",
    "max_identifier_length": "63", "is_superuser": "on", "lc_collate": "C", "lc_ctype": "C",
    "statement_timeout": "0", "default_transaction_read_only": "off",
}


@dataclasses.dataclass
class ColumnDesc:
    name: str
    type_oid: int
    typmod: int = -1
    typlen: int = -1


@dataclasses.dataclass
class Result:
    columns: list[ColumnDesc] | None
    rows: list[tuple]
    tag: str
    notices: list[str] = dataclasses.field(default_factory=list)


def ast_SelectStmt():
    from pglast import ast
    return ast.SelectStmt


def _cols(pairs) -> list[ColumnDesc]:
    out = []
    for name, e in pairs:
        oid = e.type if hasattr(e, "type") else e
        typmod = getattr(e, "typmod", -1) if hasattr(e, "type") else -1
        out.append(ColumnDesc(name, oid, typmod, T.lookup(oid).typlen))
    return out


class Prepared:
    """A bound and planned statement; re-planned if a table it uses changed."""

    def __init__(self, stmt: Statement, param_oids: list[int], columns, kind: str, runner: Callable,
                 tables: dict | None = None, env: Env | None = None, is_write: bool = False):
        self.stmt = stmt
        self.param_oids = param_oids
        self.columns = columns
        self.kind = kind             # 'select' / 'dml' / 'ddl' / 'txn' / 'util'
        self.runner = runner
        self.tables = tables or {}
        self.env = env or Env()
        self.is_write = is_write
        self.requested_oids: tuple = ()
        self.param_locations: dict = {}
        self.plan_text: list[str] = []
        self.objects: dict = {}          # (kind, schema, key) -> revision: sequences, functions used
        self.privileges: tuple = ()          # (schema, table, privilege) checked at every execution


def _abort_reason(e) -> str:
    if isinstance(e, PgError) and e.sqlstate == "54000":
        return "age_limit" if "age limit" in e.message else "limit"
    return "error"


class SqlSession:
    PLAN_CACHE_SIZE = 256

    def __init__(self, *, catalog, kv, user: str = "admin", database: str = "postgres", limits=None):
        self.shared_catalog = catalog
        self._ddl_catalog = None         # a private copy of it while a block's DDL is pending
        self.kv = kv
        self.user = user
        self.database = database
        self.limits = limits
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings["session_authorization"] = user
        self._status = "I"
        self._in_block = False
        self._implicit = False                  # the block is implicit (begin_implicit), not BEGIN
        self._txn = None
        self._state: TxnState | None = None
        self._block_kind: str | None = None     # None / 'ddl' / 'dml'
        self._pending_ddl: DdlAction | None = None
        self._read_only = False
        self._cache: dict[tuple, Prepared] = {}
        self._parse_cache: dict[str, list[Statement]] = {}
        self.planner = Planner(limits)
        self.closed = False
        self.cancel_requested = False
        self.statement_deadline: float | None = None     # statement_timeout, checked where cancel is
        self._txn_started = 0.0
        self.clock = time.monotonic           # transaction age; tests may inject another clock
        self.prepared_statements: dict = {}   # name -> statement (SQL PREPARE and protocol Parse)
        activity.register(self)               # pg_stat_activity
        txn_metrics.set_limits(limits)

    # ------------------------------------------------------------ API
    @property
    def catalog(self):
        """The node's catalog, or while the block's DDL is pending, the private copy that shows it."""
        return self.shared_catalog if self._ddl_catalog is None else self._ddl_catalog

    @catalog.setter
    def catalog(self, value) -> None:
        self.shared_catalog = value

    @property
    def txn_status(self) -> str:
        return self._status

    def parse(self, sql: str) -> list[Statement]:
        stmts = self._parse_cache.get(sql)
        if stmts is not None:
            return list(stmts)
        try:
            stmts = parse(sql)
        except PgError:
            self._fail()
            raise
        if len(self._parse_cache) >= self.PLAN_CACHE_SIZE:
            self._parse_cache.pop(next(iter(self._parse_cache)))
        self._parse_cache[sql] = stmts
        return list(stmts)

    def prepare(self, stmt: Statement, param_oids=()) -> Prepared:
        syscat.set_current_session(self)
        if self._status == "E" and stmt.kind != "TransactionStmt":
            raise errors.InFailedTransaction(IN_FAILED)
        try:
            return self._prepare_cached(stmt, param_oids)
        except PgError:
            self._fail()
            raise
        except Exception as e:
            self._fail()
            raise PgError(f"internal error: {type(e).__name__}: {e}", sqlstate="XX000") from e

    def _prepare_cached(self, stmt: Statement, param_oids=()) -> Prepared:
        oids = tuple(param_oids or ())
        key = (stmt.text, stmt.query if stmt.kind != "TransactionStmt" else "", oids, stmt.is_async,
               self.settings.get("search_path"), self.settings.get("role"))
        p = self._cache.get(key)
        if p is not None and self._fresh(p):
            return p
        syscat.resolved_names(reset=True)
        p = self._prepare(stmt, list(oids))
        p.requested_oids = oids
        if p.kind in ("select", "dml") and not syscat.resolved_names():   # 't'::regclass is resolved once
            if len(self._cache) >= self.PLAN_CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = p
        return p

    def execute(self, prepared: Prepared, params=()) -> Result:
        activity.statement_started(self, prepared.stmt)
        try:
            return self._execute(prepared, params)
        finally:
            activity.statement_ended(self)

    def _execute(self, prepared: Prepared, params=()) -> Result:
        if self.closed:
            raise errors.PgError("session is closed", sqlstate="08003")
        syscat.set_current_session(self)
        if prepared.kind == "txn":
            return prepared.runner(params)
        if prepared.kind in ("copy_in", "copy_out"):
            raise errors.ProtocolViolation(f"{prepared.kind} statements run through SqlSession.{prepared.kind}()")
        if self._status == "E":
            raise errors.InFailedTransaction(IN_FAILED)
        try:
            if prepared.kind in ("select", "dml") and not self._fresh(prepared):
                prepared = self._replan(prepared)
            if prepared.kind == "ddl":
                return self._run_ddl(prepared)
            if prepared.kind == "util":
                return prepared.runner(params)
            return self._run_dml(prepared, params)
        except PgError:
            self._fail()
            raise
        except Exception as e:   # an internal failure: report XX000 and keep the session usable
            self._fail()
            raise PgError(f"internal error: {type(e).__name__}: {e}", sqlstate="XX000") from e

    def execute_sql(self, sql: str, params=()) -> list[Result]:
        """Parse, prepare and execute every statement of a query string (simple query)."""
        out = []
        for st in self.parse(sql):
            p = self.prepare(st)
            if p.param_oids and not params:
                self._fail()
                raise PgError("there is no parameter $1", sqlstate="42P02",
                              position=p.param_locations.get(0))
            out.append(self.execute(p, params))
        return out

    def begin_implicit(self) -> None:
        """Run the following statements in one transaction until end_implicit(), as PostgreSQL does
        for a simple query of several statements and for an extended-protocol pipeline up to Sync.
        A BEGIN inside turns the block into an explicit one; COMMIT/ROLLBACK end it with a warning."""
        if not self._in_block:
            activity.transaction_started(self)
            self._in_block = self._implicit = True
            self._read_only = self.settings.get("default_transaction_read_only", "off") == "on"

    def end_implicit(self, commit: bool = True) -> list[str]:
        """End the implicit block, if one is open: commit it (returning notices) or roll it back."""
        if not self._implicit:
            return []
        if not commit:
            self._end_txn(False, "error")
            self._reset_block()
            return []
        return self._commit_block()

    def has_privilege(self, fn: str, *args) -> bool:
        """has_*_privilege(...) and pg_has_role(...) for the system catalog functions."""
        return has_privilege(self, fn, *args)

    def cancel(self) -> None:
        """Cancel the running statement (from another thread): it fails with 57014."""
        self.cancel_requested = True

    def close(self) -> None:
        if self._txn is not None:
            try:
                self._txn.rollback()
            except Exception:
                pass
        self._txn = None
        self._state = None
        self._in_block = False
        self._status = "I"
        self._ddl_catalog = None
        self.closed = True

    # ------------------------------------------------------------ transactions
    def _begin_txn(self):
        if self._txn is None:
            self._txn = self.kv.begin()
            self._state = TxnState(self._txn)
            self._txn_started = self.clock()
        else:
            self._check_age()
        return self._txn

    def _check_age(self) -> None:
        if self.limits is not None and self.clock() - self._txn_started > self.limits.transaction_max_s:
            raise errors.ProgramLimitExceeded(
                f"transaction age limit of {self.limits.transaction_max_s}s exceeded")

    def _effective_read_only(self) -> bool:
        if self._in_block:
            return self._read_only
        return self.settings.get("default_transaction_read_only", "off") == "on"

    def _now(self):
        ts = getattr(self._txn, "start_ts", None)
        if isinstance(ts, int) and ts > 0:
            return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=ts)
        return dt.datetime.now(dt.timezone.utc)

    def _end_txn(self, commit: bool, reason: str = "rollback") -> None:
        txn, state = self._txn, self._state
        self._txn = None
        self._state = None
        if txn is None:
            return
        if not commit:
            try:
                txn.rollback()
            except Exception:
                pass
            if state is not None and state.wrote:
                txn_metrics.aborted(reason)
            return
        wrote = state is not None and state.wrote
        try:
            if wrote:
                self._check_age()
                self._check_schema(state, txn)
                for schema in {sch for sch, _ in state.tables_written}:
                    txn.add_check_key(schema_key(schema))
            txn.commit()
        except PgError as e:
            if e.sqlstate == "40001":
                txn_metrics.aborted("OC001" if "OC001" in e.message else "OC000")
            elif wrote:
                txn_metrics.aborted(_abort_reason(e))
            raise
        txn_metrics.committed(state, self.clock() - self._txn_started)

    def _check_schema(self, state: TxnState, txn) -> None:
        for (schema, name), rev in state.tables_written.items():
            t = self.catalog.get_table(schema, name)
            if t is None or t.revision != rev:
                try:
                    txn.rollback()
                except Exception:
                    pass
                raise errors.schema_conflict()

    def _catalog_shape(self) -> dict:
        """schema -> its tables' (name, revision) pairs: what a DDL may change."""
        shape = {sc.name: set() for sc in self.catalog.schemas()}
        for t in self.catalog.tables():
            shape.setdefault(t.schema, set()).add((t.name, t.revision))
        return shape

    def _publish_ddl(self, before: dict) -> None:
        """After a DDL changed the catalog, commit a write of each changed schema's version key
        through the journal, so that DML on those schemas that started earlier gets OC001."""
        after = self._catalog_shape()
        changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
        if not changed:
            return
        try:
            txn = self.kv.begin()
            stamp = str(getattr(txn, "start_ts", 0)).encode()
            for name in changed:
                txn.put(schema_key(name), stamp)
            txn.commit()
        except Exception:   # noqa: BLE001 - the DDL itself is done; racing DML still meets _check_schema
            logging.getLogger("compute.sql").warning("could not publish the schema version of %s", changed,
                                                     exc_info=True)

    def _fail(self) -> None:
        reason = _abort_reason(sys.exc_info()[1])
        if self._in_block and not self._implicit:
            self._status = "E"
            if self._txn is not None:
                if self._state is not None and self._state.wrote:
                    txn_metrics.aborted(reason)
                try:
                    self._txn.rollback()
                except Exception:
                    pass
                self._txn = None
                self._state = None
            self._pending_ddl = None
            self._ddl_catalog = None
        else:
            self._end_txn(False, reason)
            self._reset_block()

    def _reset_block(self, committed: bool = False) -> None:
        sysettings.end_block(self, committed)
        self._in_block = self._implicit = False
        self._status = "I"
        self._block_kind = None
        self._pending_ddl = None
        self._ddl_catalog = None
        self._read_only = False

    def _txn_control(self, stmt: Statement) -> Callable:
        kind = stmt.node.kind.name

        def begin(params):
            if self._status == "E":
                raise errors.InFailedTransaction(IN_FAILED)
            notices = []
            if self._in_block and not self._implicit:
                notices.append("there is already a transaction in progress")
            else:
                self._in_block, self._implicit = True, False
                self._status = "T"
                self._read_only = self.settings.get("default_transaction_read_only", "off") == "on"
            for opt in stmt.node.options or ():
                if opt.defname == "transaction_read_only":
                    self._read_only = bool(getattr(opt.arg.val, "ival", 0))
                elif opt.defname == "transaction_isolation":
                    pass
            return Result(None, [], "BEGIN" if kind != "TRANS_STMT_START" else "START TRANSACTION", notices)

        def commit(params):
            if not self._in_block or self._implicit:
                notices = ["there is no transaction in progress"]
                return Result(None, [], "COMMIT", notices + self.end_implicit())
            if self._status == "E":
                self._end_txn(False)
                self._reset_block()
                return Result(None, [], "ROLLBACK")
            return Result(None, [], "COMMIT", self._commit_block())

        def rollback(params):
            if not self._in_block or self._implicit:
                self.end_implicit(commit=False)
                return Result(None, [], "ROLLBACK", ["there is no transaction in progress"])
            self._end_txn(False)
            self._reset_block()
            return Result(None, [], "ROLLBACK")

        if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            return begin
        if kind == "TRANS_STMT_COMMIT":
            return commit
        if kind == "TRANS_STMT_ROLLBACK":
            return rollback
        raise errors.FeatureNotSupported(f"{kind} is not supported")

    def _commit_block(self) -> list[str]:
        """Commit the open block (its pending DDL, or its writes); returns the DDL's notices."""
        try:
            notices = []
            self._ddl_catalog = None
            if self._pending_ddl is not None:
                action = self._pending_ddl
                self._pending_ddl = None
                before = self._catalog_shape()
                try:
                    _, notices, _ = action.apply(self._begin_txn())
                finally:
                    action.job_id = None
                self._end_txn(True)
                self._publish_ddl(before)
            else:
                self._end_txn(True)
        except PgError:
            self._end_txn(False)
            self._reset_block()
            raise
        self._reset_block(committed=True)
        return notices

    # ------------------------------------------------------------ preparing
    def _fresh(self, p: Prepared) -> bool:
        for (schema, name), rev in p.tables.items():
            t = self.catalog.get_table(schema, name)
            if t is None or t.revision != rev:
                return False
        for (kind, schema, key), rev in p.objects.items():
            d = self.catalog.get_object(kind, schema, key)
            if d is None or d["revision"] != rev:
                return False
        return True

    def _replan(self, p: Prepared) -> Prepared:
        q = self._prepare(p.stmt, list(p.requested_oids))
        if q.columns is not None and p.columns is not None and \
                [(c.type_oid) for c in q.columns] != [(c.type_oid) for c in p.columns]:
            raise PgError("cached plan must not change result type", sqlstate="0A000")
        q.requested_oids = p.requested_oids
        return q

    def _prepare(self, stmt: Statement, param_oids: list[int]) -> Prepared:
        kind = stmt.kind
        if kind == "TransactionStmt":
            return Prepared(stmt, [], None, "txn", self._txn_control(stmt))
        if kind in DDL_KINDS:
            action = prepare_ddl(self.catalog, stmt, self)
            cols = None
            if action.columns:
                cols = [ColumnDesc(n, o, -1, T.lookup(o).typlen) for n, o in action.columns]
            return Prepared(stmt, [], cols, "ddl", action)
        if kind == "VariableSetStmt":
            return Prepared(stmt, [], None, "util", self._set_runner(stmt))
        if kind == "VariableShowStmt":
            name = stmt.node.name.lower()
            cols = [ColumnDesc(sysettings.canonical(name), T.TEXT, -1, -1)] if name != "all" else \
                [ColumnDesc(c, T.TEXT, -1, -1) for c in ("name", "setting", "description")]
            return Prepared(stmt, [], cols, "util", self._show_runner(name))
        if kind == "CopyStmt":
            return self._prepare_copy(stmt, param_oids)
        if kind == "VacuumStmt":          # ANALYZE (parse refuses VACUUM)
            return Prepared(stmt, [], None, "util",
                            lambda params: Result(None, [], syscat.stats.run_analyze(self, stmt)))
        if kind == "DeallocateStmt":
            return Prepared(stmt, [], None, "util",
                            lambda params: Result(None, [], activity.deallocate(self, stmt.node.name)))
        if kind == "PrepareStmt":
            return activity.prepare_named(self, stmt)
        if kind == "ExecuteStmt":
            return activity.execute_named(self, stmt)
        if kind == "DiscardStmt":
            target = stmt.node.target.name

            def discard(params):
                if target == "DISCARD_ALL" and self._in_block and not self._implicit:
                    raise PgError("DISCARD ALL cannot run inside a transaction block", sqlstate="25001")
                if target in ("DISCARD_ALL", "DISCARD_PLANS"):
                    self._cache.clear()
                if target == "DISCARD_ALL":
                    self.prepared_statements.clear()
                    self.settings = dict(DEFAULT_SETTINGS)
                    self.settings["session_authorization"] = self.user
                tag = {"DISCARD_ALL": "DISCARD ALL", "DISCARD_PLANS": "DISCARD PLANS",
                       "DISCARD_SEQUENCES": "DISCARD SEQUENCES", "DISCARD_TEMP": "DISCARD TEMP"}[target]
                return Result(None, [], tag)
            return Prepared(stmt, [], None, "util", discard)
        if kind == "CallStmt":          # sys procedures (sysfuncs.py): run as the SELECT of the call
            from .sysfuncs import call_as_select
            inner, no_row = call_as_select(stmt)
            p = self._prepare(inner, param_oids)
            select = p.runner

            def call(ctx):
                r = select(ctx)
                return Result(None, [], "CALL") if no_row else Result(r.columns, r.rows, "CALL")
            p.stmt, p.runner = stmt, call
            if no_row:
                p.columns = None
            return p
        if kind == "ExplainStmt":
            inner = Statement(stmt.node.query, stmt.text, type(stmt.node.query).__name__, stmt.offset,
                              query=stmt.query)
            p = self._prepare(inner, param_oids)

            def explain_runner(params):
                check_tables(self, p.privileges)        # as PostgreSQL: EXPLAIN needs the privileges too
                return Result([ColumnDesc("QUERY PLAN", T.TEXT, -1, -1)], [(line,) for line in p.plan_text],
                              "EXPLAIN")
            return Prepared(stmt, p.param_oids, [ColumnDesc("QUERY PLAN", T.TEXT, -1, -1)], "util", explain_runner)
        b = Binder(self.catalog, stmt, param_oids, session=self)
        env = Env()
        env.session = self
        if kind == "SelectStmt":
            bound = b.bind_select(stmt.node)
            plan = self.planner.plan_query(bound)
            columns = _cols(bound.targets)

            def runner(ctx, plan=plan):
                rows = [tuple(r) for r in run(plan, ctx)]
                return Result(columns, rows, f"SELECT {len(rows)}")
            b.resolve_unknown_params()
            p = Prepared(stmt, b.param_types, columns, "select", runner, b.tables_used, env,
                         is_write=bound.for_update)
            p.objects = b.objects_used
            p.privileges = required(stmt, b, bound.for_update)
            p.plan_text = explain(plan)
            p.param_locations = b.param_locations
            return p
        if kind == "InsertStmt":
            bound = b.bind_insert(stmt.node)
            plan = self.planner.plan_insert(bound)
            columns = _cols(bound.returning) if bound.returning else None

            def runner(ctx, plan=plan):
                n, rows = run_insert(plan, ctx)
                return Result(columns, [tuple(r) for r in rows], f"INSERT 0 {n}")
        elif kind == "UpdateStmt":
            bound = b.bind_update(stmt.node)
            plan = self.planner.plan_update(bound)
            columns = _cols(bound.returning) if bound.returning else None

            def runner(ctx, plan=plan):
                n, rows = run_update(plan, ctx)
                return Result(columns, [tuple(r) for r in rows], f"UPDATE {n}")
        elif kind == "DeleteStmt":
            bound = b.bind_delete(stmt.node)
            plan = self.planner.plan_delete(bound)
            columns = _cols(bound.returning) if bound.returning else None

            def runner(ctx, plan=plan):
                n, rows = run_delete(plan, ctx)
                return Result(columns, [tuple(r) for r in rows], f"DELETE {n}")
        else:
            raise errors.FeatureNotSupported(f"{kind} is not supported")
        b.resolve_unknown_params()
        p = Prepared(stmt, b.param_types, columns, "dml", runner, b.tables_used, env, is_write=True)
        p.objects = b.objects_used
        p.privileges = required(stmt, b)
        p.plan_text = explain(plan)
        p.param_locations = b.param_locations
        return p

    # ------------------------------------------------------------ COPY
    def _prepare_copy(self, stmt: Statement, param_oids) -> Prepared:
        from . import copyio as C
        from .plan import Insert
        n = stmt.node
        if n.filename is not None or n.is_program:
            raise errors.FeatureNotSupported("COPY to or from a file is not supported",
                                             hint="Use COPY ... FROM STDIN / TO STDOUT (psql's \\copy).")
        b = Binder(self.catalog, stmt, list(param_oids), session=self)
        t = b.lookup_table(n.relation, "INSERT" if n.is_from else "SELECT") if n.relation is not None else None
        names = [a.sval for a in n.attlist or ()]
        if t is not None:
            for i, name in enumerate(names):
                if t.column(name) is None:
                    raise errors.UndefinedColumn(f'column "{name}" of relation "{t.name}" does not exist')
                if name in names[:i]:
                    raise PgError(f'column "{name}" specified more than once', sqlstate="42701")
                if t.column(name).generated:
                    raise PgError(f'column "{name}" is a generated column', sqlstate="42P10",
                                  detail="Generated columns cannot be used in COPY.")
        if n.is_from:
            if n.query is not None or t is None:
                raise errors.FeatureNotSupported("COPY FROM a query is not supported")
            if n.whereClause is not None:
                raise errors.FeatureNotSupported("COPY FROM ... WHERE is not supported")
            positions = [t.column_index(t.column(name).id) for name in names] or \
                [i for i, c in enumerate(t.columns) if not c.hidden and not c.generated]
            defaults = [b.default_expr(t, i) for i in range(len(t.columns))]
            cols = [ColumnDesc(t.columns[p].name, t.columns[p].type_oid, t.columns[p].typmod,
                               T.lookup(t.columns[p].type_oid).typlen) for p in positions]
            opts = C.parse_options(n.options, is_from=True, table=t, columns=[c.name for c in cols])
            node = Insert(t, None, None, positions, defaults, [], None)
            env = Env()
            env.session = self
            p = Prepared(stmt, [], None, "copy_in", None, b.tables_used, env, is_write=True)
            p.copy_options, p.copy_columns, p.copy_insert = opts, cols, node
            p.privileges = required(stmt, b)
            return p
        if n.query is not None:
            q = b.bind_select(n.query) if isinstance(n.query, ast_SelectStmt()) else None
            if q is None:
                raise errors.FeatureNotSupported("COPY (data-modifying statement) TO is not supported")
        else:
            import pglast
            names = names or [c.name for c in t.visible_columns if not c.generated]
            q = b.bind_select(pglast.parse_sql(
                "SELECT " + ", ".join('"' + x.replace('"', '""') + '"' for x in names) +
                f' FROM "{t.schema}"."{t.name}"')[0].stmt)
        plan = self.planner.plan_query(q)
        cols = _cols(q.targets)
        opts = C.parse_options(n.options, is_from=False, table=t, columns=[c.name for c in cols])
        env = Env()
        env.session = self
        p = Prepared(stmt, [], None, "copy_out", plan, b.tables_used, env)
        p.copy_options, p.copy_columns = opts, cols
        p.privileges = required(stmt, b)
        return p

    def copy_in(self, prepared: Prepared, chunks) -> Result:
        """COPY ... FROM STDIN with all its CopyData payloads at once."""
        load = self.copy_in_start(prepared)
        for c in chunks:
            load.feed(c)
        return load.finish()

    def copy_in_start(self, prepared: Prepared) -> "CopyLoad":
        """Begin a COPY ... FROM STDIN: feed() it the CopyData payloads as they come, then finish()
        (tag 'COPY n'). Rows are inserted in batches as they arrive, so the transaction limits stop
        an oversized COPY early; an error aborts the COPY (and the block) like any statement."""
        if self._status == "E":
            raise errors.InFailedTransaction(IN_FAILED)
        with self._failing():
            check_tables(self, prepared.privileges)
            if self._effective_read_only():
                raise PgError("cannot execute COPY FROM in a read-only transaction", sqlstate="25006")
            if self._in_block:
                if self._block_kind == "ddl":
                    raise errors.FeatureNotSupported(DDL_DML_MESSAGE)
                self._block_kind = "dml"
            return CopyLoad(self, prepared)

    @contextlib.contextmanager
    def _failing(self):
        """Statement failure handling for COPY: abort the transaction, report XX000 for bugs."""
        try:
            yield
        except PgError:
            self._fail()
            raise
        except Exception as e:
            self._fail()
            raise PgError(f"internal error: {type(e).__name__}: {e}", sqlstate="XX000") from e

    def copy_out(self, prepared: Prepared) -> tuple[list[bytes], Result]:
        """COPY ... TO STDOUT: (CopyData payloads, Result with tag 'COPY n')."""
        from . import copyio as C
        if self._status == "E":
            raise errors.InFailedTransaction(IN_FAILED)
        with self._failing():
            check_tables(self, prepared.privileges)
            self._begin_txn()
            env = prepared.env
            env.now = self._now()
            env.params = []
            ctx = ExecContext(self._state, env, self.limits)
            env.ctx = ctx
            env.generation += 1
            o = prepared.copy_options
            oids = [c.type_oid for c in prepared.copy_columns]
            binary = o.format == "binary"
            out = [C.binary_header()] if binary else []
            if o.header:
                names = [c.name for c in prepared.copy_columns]
                out.append(C.format_row(names, [T.TEXT] * len(oids), dataclasses.replace(o, force_quote=frozenset())))
            n = 0
            for row in run(prepared.runner, ctx):
                check_cancel(ctx)
                out.append(C.binary_row(row, oids) if binary else C.format_row(row, oids, o))
                n += 1
            if binary:
                out.append(C.BINARY_TRAILER)
            if not self._in_block:
                self._end_txn(True)
            return out, Result(None, [], f"COPY {n}")

    def _set_runner(self, stmt):
        n = stmt.node

        def run_set(params):
            name = (n.name or "").lower()
            k = n.kind.name
            if name in ("transaction", "session characteristics"):
                # The isolation level is always repeatable read (snapshot isolation); drivers that
                # ask for another level still work. READ ONLY / READ WRITE are honoured.
                notices = []
                for opt in n.args or ():
                    if getattr(opt, "defname", None) != "transaction_read_only":
                        continue
                    ro = bool(getattr(opt.arg.val, "ival", 0))
                    if name == "transaction":
                        if not self._in_block:
                            notices.append("SET TRANSACTION can only be used in transaction blocks")
                        elif not ro and self._read_only and self._state is not None:
                            raise PgError("transaction read-write mode must be set before any query",
                                          sqlstate="25001")
                        else:
                            self._read_only = ro
                    else:
                        self.settings["default_transaction_read_only"] = "on" if ro else "off"
                return Result(None, [], "SET", notices)
            if name in ("transaction_isolation", "default_transaction_isolation"):
                return Result(None, [], "SET" if k != "VAR_RESET" else "RESET")
            tag = "SET" if k not in ("VAR_RESET", "VAR_RESET_ALL") else "RESET"
            if k == "VAR_RESET_ALL":
                sysettings.reset_all(self)
                return Result(None, [], tag)
            if k == "VAR_SET_VALUE":
                vals = []
                for a in n.args or ():
                    v = a.val if hasattr(a, "val") else a
                    if isinstance(v, (list, tuple)):
                        v = v[0]
                    text = getattr(v, "sval", None)
                    if text is None:
                        text = getattr(v, "ival", None)
                    if text is None:
                        text = getattr(v, "fval", None)
                    if text is None:
                        text = getattr(v, "boolval", "")
                    if name == "search_path" and isinstance(text, str):
                        text = quote_ident(text)     # a list of names: each quoted as needed, as PostgreSQL
                    vals.append(str(text))
                value = ", ".join(vals)
                if name in ("default_transaction_read_only", "transaction_read_only"):
                    value = "on" if value.lower() in _TRUE_WORDS else "off"
                    if name == "transaction_read_only":
                        if self._in_block:
                            self._read_only = value == "on"
                        return Result(None, [], "SET")
                if name in ("role", "session_authorization"):     # the roles part checks membership
                    sysettings.set_value(self, name, validate_setting(self, name, value), trusted=True)
                    return Result(None, [], "SET")
                notices = [] if self._in_block or not n.is_local else [
                    "SET LOCAL can only be used in transaction blocks"]
                sysettings.set_value(self, name, value, bool(n.is_local))
                return Result(None, [], "SET", notices)
            if k in ("VAR_SET_DEFAULT", "VAR_RESET"):
                if name in sysettings.SETTINGS and sysettings.SETTINGS[name].context == "internal":
                    raise PgError(f'parameter "{sysettings.canonical(name)}" cannot be changed', sqlstate="55P02")
                sysettings.set_value(self, name, None, bool(n.is_local))
            return Result(None, [], tag)
        return run_set

    def _show_runner(self, name):
        def run_show(params):
            if name == "all":
                cols = [ColumnDesc("name", T.TEXT, -1, -1), ColumnDesc("setting", T.TEXT, -1, -1),
                        ColumnDesc("description", T.TEXT, -1, -1)]
                return Result(cols, sysettings.show_all(self), "SHOW")
            return Result([ColumnDesc(sysettings.canonical(name), T.TEXT, -1, -1)],
                          [(sysettings.show(self, name),)], "SHOW")
        return run_show

    # ------------------------------------------------------------ running
    def _run_ddl(self, p: Prepared) -> Result:
        action: DdlAction = p.runner
        if self._effective_read_only():
            raise PgError(f"cannot execute {action.tag} in a read-only transaction", sqlstate="25006")
        if self._in_block:
            if self._block_kind == "dml":
                raise errors.FeatureNotSupported(DDL_DML_MESSAGE)
            if self._block_kind == "ddl":
                raise errors.FeatureNotSupported(MULTI_DDL_MESSAGE)
            rows = self._show_pending_ddl(p.stmt)
            self._block_kind = "ddl"
            self._pending_ddl = action
            action.job_id = rows[0][0] if rows and p.stmt.is_async else None   # COMMIT submits this job
            return Result(p.columns, [tuple(r) for r in rows or ()], action.tag)
        action.job_id = None                 # a rolled-back block's id is not reused
        txn = self._begin_txn()
        before = self._catalog_shape()
        try:
            tag, notices, rows = action.apply(txn)
        finally:
            self._end_txn(False)
        self._publish_ddl(before)
        return Result(p.columns, [tuple(r) for r in rows] if rows else [], tag, notices)

    def _show_pending_ddl(self, stmt: Statement) -> list | None:
        """Apply a block's DDL to a private copy of the catalog that this session reads until the
        block ends: its own reads see the change, as in PostgreSQL (pg_indexes right after CREATE
        TABLE), other sessions see it from COMMIT, which applies it to the shared catalog. Errors
        (an existing table, ...) are raised here, at the statement, as PostgreSQL raises them.
        Returns the DDL's rows (CREATE INDEX ASYNC's job id, which COMMIT then uses)."""
        copy = Catalog(store=SnapshotStore(self.shared_catalog.store), database=self.shared_catalog.database)
        copy._sequence_allocator = objects.allocator(self.shared_catalog)   # nextval stays shared
        txn = self.kv.begin()
        try:
            _, _, rows = prepare_ddl(copy, stmt, self).apply(txn)
        finally:
            txn.rollback()
        self._ddl_catalog = copy
        return rows

    def _run_dml(self, p: Prepared, params) -> Result:
        check_tables(self, p.privileges)
        if p.is_write:
            if self._effective_read_only():
                if p.kind == "dml":
                    verb = p.stmt.kind.replace("Stmt", "").upper()
                    raise PgError(f"cannot execute {verb} in a read-only transaction", sqlstate="25006")
                raise PgError(FOR_UPDATE_READ_ONLY_MESSAGE, sqlstate="25006")
            if self._in_block:
                if self._block_kind == "ddl":
                    raise errors.FeatureNotSupported(DDL_DML_MESSAGE)
                self._block_kind = "dml"
        txn = self._begin_txn()
        self.cancel_requested = False
        timeout = sysettings.statement_timeout_s(self)
        self.statement_deadline = time.monotonic() + timeout if timeout > 0 else None
        env = p.env
        env.params = list(params or ())
        if len(env.params) != len(p.param_oids):
            raise errors.ProtocolViolation(
                f"bind message supplies {len(env.params)} parameters, but prepared statement \"\" requires "
                f"{len(p.param_oids)}")
        env.now = self._now()
        ctx = ExecContext(self._state, env, self.limits)
        env.ctx = ctx
        env.generation += 1
        result = p.runner(ctx)
        if not self._in_block:
            self._end_txn(True)
        return result


class CopyLoad:
    """A COPY ... FROM STDIN in progress (SqlSession.copy_in_start)."""
    BATCH_ROWS = 1000

    def __init__(self, session: SqlSession, p: Prepared):
        from . import copyio as C
        self.session = session
        self.node = node = p.copy_insert
        table = node.table
        self.types = [(T.lookup(table.columns[i].type_oid), table.columns[i].typmod) for i in node.columns]
        self.reader = C.reader_for(p.copy_options, [c.name for c in p.copy_columns])
        self.binary = p.copy_options.format == "binary"
        session._begin_txn()
        env = p.env
        env.now = session._now()
        env.params = []
        self.ctx = ExecContext(session._state, env, session.limits)
        env.ctx = self.ctx
        self.defaults = [e.compile(env) for e in node.defaults]
        self.pending: list[list] = []
        self.count = 0

    def feed(self, data: bytes) -> None:
        with self.session._failing():
            self._add(self.reader.feed(data))

    def finish(self) -> Result:
        s = self.session
        with s._failing():
            self._add(self.reader.finish())
            self._flush()
            if not s._in_block:
                s._end_txn(True)
        return Result(None, [], f"COPY {self.count}")

    def abort(self, error: PgError) -> None:
        """The client gave up (CopyFail) or broke the protocol: fail like a statement."""
        with self.session._failing():
            raise error

    def _add(self, records: list[list]) -> None:
        node, table = self.node, self.node.table
        for rec in records:
            if len(rec) < len(node.columns):
                raise PgError(f'missing data for column "{table.columns[node.columns[len(rec)]].name}"',
                              sqlstate="22P04")
            if len(rec) > len(node.columns):
                raise PgError("extra data after last expected column", sqlstate="22P04")
            row = [f(None) for f in self.defaults]
            for pos, (t, typmod), v in zip(node.columns, self.types, rec):
                if v is None:
                    row[pos] = None
                    continue
                v = t.binary_in(v) if self.binary else t.text_in(v)
                row[pos] = t.coerce_typmod(v, typmod) if typmod >= 0 else v
            self.pending.append(row)
            if len(self.pending) >= self.BATCH_ROWS:
                self._flush()

    def _flush(self) -> None:
        if self.pending:
            check_cancel(self.ctx)
            n, _ = insert_rows(self.node, self.pending, self.ctx)
            self.count += n
            self.pending = []
