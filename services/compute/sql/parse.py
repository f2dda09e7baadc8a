"""Parsing: SQL text -> Statements (pglast, the real PostgreSQL parser) and the DSQL subset check."""

from __future__ import annotations

import dataclasses
import re

import pglast
from pglast import ast
from pglast.parser import ParseError

from services.common import errors

from .awsiam import parse_aws_iam

# DSQL's own syntax, removed before pglast sees the text (same length, so positions hold).
_ASYNC_RE = re.compile(r"^(\s*create\s+(?:unique\s+)?index\s+)(async)(\s)", re.I)


@dataclasses.dataclass
class Statement:
    """One parsed statement. `kind` is the pglast node class name (SelectStmt, InsertStmt...)."""
    node: ast.Node
    text: str               # the statement's own text
    kind: str
    offset: int = 0         # where the statement starts in the query string (for positions)
    is_async: bool = False  # CREATE INDEX ASYNC
    query: str = ""         # the whole query string (node locations are byte offsets into it)

    def const_position(self, node) -> int | None:
        """Position of an A_Const node (pglast does not keep their locations: they are
        recovered from the scanner's tokens, matching literal values in tree order)."""
        locs = self.__dict__.get("_const_locs")
        if locs is None:
            locs = self.__dict__["_const_locs"] = _map_consts(self)
        return self.position(locs.get(id(node)))

    def position(self, location: int | None) -> int | None:
        """1-based character position in the query string of a node's byte location."""
        if location is None or location < 0:
            return None
        if self.query.isascii():
            return location + 1
        return len(self.query.encode("utf-8")[:location].decode("utf-8", "ignore")) + 1

    @property
    def is_transaction_control(self) -> bool:
        return self.kind == "TransactionStmt"

    @property
    def is_ddl(self) -> bool:
        return self.kind in DDL_KINDS


ROLE_KINDS = {"CreateRoleStmt", "AlterRoleStmt", "DropRoleStmt", "GrantStmt", "GrantRoleStmt", "AwsIamStmt"}
DDL_KINDS = {"CreateSchemaStmt", "CreateStmt", "IndexStmt", "DropStmt", "AlterTableStmt",
             "RenameStmt", "AlterObjectSchemaStmt", "CreateSeqStmt", "CreateDomainStmt", "CreateFunctionStmt",
             "CommentStmt"} | ROLE_KINDS
DML_KINDS = {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt"}
SUPPORTED = DDL_KINDS | DML_KINDS | {"TransactionStmt", "VariableSetStmt", "VariableShowStmt",
                                      "ExplainStmt", "DeallocateStmt", "DiscardStmt", "CopyStmt", "VacuumStmt",
                                      "CallStmt", "PrepareStmt", "ExecuteStmt"}

_UNSUPPORTED_NAMES = {
    "ViewStmt": "CREATE VIEW", "CreateTrigStmt": "CREATE TRIGGER", "RuleStmt": "CREATE RULE",
    "CreateRangeStmt": "CREATE TYPE", "CreateForeignTableStmt": "CREATE FOREIGN TABLE",
    "CreatePLangStmt": "CREATE LANGUAGE", "CreateEventTrigStmt": "CREATE EVENT TRIGGER",
    "AlterSeqStmt": "ALTER SEQUENCE", "AlterDomainStmt": "ALTER DOMAIN", "AlterFunctionStmt": "ALTER FUNCTION",
    "CreatedbStmt": "CREATE DATABASE", "TruncateStmt": "TRUNCATE", "VacuumStmt": "VACUUM",
    "CreateExtensionStmt": "CREATE EXTENSION", "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "AlterSystemStmt": "ALTER SYSTEM", "CreateTableAsStmt": "CREATE TABLE AS",
    "CompositeTypeStmt": "CREATE TYPE", "CreateEnumStmt": "CREATE TYPE",
}

# COMMENT ON these (sql/comments.py); the other kinds name objects DSQL does not have
_COMMENT_KINDS = {"OBJECT_TABLE", "OBJECT_INDEX", "OBJECT_SEQUENCE", "OBJECT_COLUMN", "OBJECT_SCHEMA",
                  "OBJECT_FUNCTION", "OBJECT_TABCONSTRAINT", "OBJECT_DOMAIN", "OBJECT_DOMCONSTRAINT",
                  "OBJECT_ROLE", "OBJECT_TYPE", "OBJECT_DATABASE"}


def syntax_error(message: str, position: int | None) -> errors.PgError:
    if re.fullmatch(r'role name ".*" is reserved', message):     # the grammar's reserved_name (42939)
        return errors.PgError(message, sqlstate="42939", position=position)
    return errors.SyntaxError_(message, position=position)


def parse(sql: str) -> list[Statement]:
    """Split and parse a query string; [] for an empty (or comment-only) string."""
    iam = parse_aws_iam(sql)
    if iam is not None:
        return [Statement(node=iam, text=sql, kind="AwsIamStmt", query=sql)]
    text = sql
    is_async = False
    m = _ASYNC_RE.match(text)
    if m:
        is_async = True
        text = text[:m.start(2)] + " " * len(m.group(2)) + text[m.end(2):]
    try:
        raws = pglast.parse_sql(text)
    except ParseError as e:
        msg = e.args[0]
        pos = e.args[1] if len(e.args) > 1 else None
        if msg.startswith("syntax error at end of input"):
            pos = len(sql.encode("utf-8")) + 1 if pos is None else pos
        # pglast reports byte offsets (0-based cursor); PostgreSQL reports 1-based characters
        if pos is not None:
            pos = len(text.encode("utf-8")[:pos].decode("utf-8", "ignore")) + 1
        raise syntax_error(msg, pos) from None
    out = []
    for raw in raws:
        loc = raw.stmt_location or 0
        length = raw.stmt_len or (len(text.encode()) - loc)
        b = text.encode("utf-8")
        stmt_text = b[loc:loc + length].decode("utf-8", "ignore")
        node = raw.stmt
        kind = type(node).__name__
        out.append(Statement(node=node, text=stmt_text, kind=kind,
                             offset=len(b[:loc].decode("utf-8", "ignore")), is_async=is_async,
                             query=text))
    for st in out:
        validate(st)
    return out


def validate(st: Statement) -> None:
    """Reject what DSQL does not support (0A000), before anything runs."""
    node = st.node
    kind = st.kind
    if kind == "VacuumStmt" and not node.is_vacuumcmd:
        return                          # ANALYZE (syscat/stats.py)
    if kind == "DefineStmt":      # CREATE TYPE / AGGREGATE / OPERATOR ...
        raise errors.FeatureNotSupported(f"CREATE {node.kind.name[7:].replace('_', ' ')} not supported")
    if kind == "CreateTableAsStmt" and node.objtype.name == "OBJECT_MATVIEW":
        raise errors.FeatureNotSupported("CREATE MATERIALIZED VIEW not supported")
    if kind == "CreateFunctionStmt":
        lang = next((o.arg.sval for o in node.options or () if o.defname == "language"), None)
        if lang is not None and lang.lower() != "sql":
            raise errors.FeatureNotSupported(f'unsupported language "{lang}"',
                                             hint="Aurora DSQL supports functions in LANGUAGE SQL only.")
    if kind == "CommentStmt" and node.objtype.name not in _COMMENT_KINDS:
        raise errors.FeatureNotSupported(f"COMMENT ON {node.objtype.name[7:].replace('_', ' ')} not supported")
    if kind in _UNSUPPORTED_NAMES:
        raise errors.FeatureNotSupported(f"{_UNSUPPORTED_NAMES[kind]} not supported" if kind != "CreatedbStmt"
                                         else "unsupported statement")
    if kind == "TransactionStmt":
        k = node.kind.name if hasattr(node.kind, "name") else str(node.kind)
        savepoint = "SAVEPOINT" in k or k in ("TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO")
        if savepoint or k in ("TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED",
                              "TRANS_STMT_ROLLBACK_PREPARED"):
            raise errors.FeatureNotSupported("SAVEPOINT not supported" if savepoint
                                             else "unsupported statement")
        return
    if kind == "CreateStmt":
        rel = node.relation
        if rel.relpersistence == "t":
            raise errors.FeatureNotSupported("temporary tables not supported")
        if node.inhRelations:
            raise errors.FeatureNotSupported("INHERITS not supported")
        if node.partspec is not None or node.partbound is not None:
            raise errors.FeatureNotSupported("PARTITION not supported")
        if node.tablespacename:
            raise errors.FeatureNotSupported("tablespaces not supported")
        for el in node.tableElts or ():
            cons = []
            if isinstance(el, ast.ColumnDef):
                if el.collClause is not None:
                    raise errors.FeatureNotSupported("COLLATE not supported")
                cons = el.constraints or ()
            elif isinstance(el, ast.Constraint):
                cons = [el]
            for c in cons:
                ct = c.contype.name
                if ct == "CONSTR_FOREIGN":
                    raise errors.FeatureNotSupported("foreign key constraints not supported")
                if ct == "CONSTR_EXCLUSION":
                    raise errors.FeatureNotSupported("exclusion constraints not supported")
        return
    if kind == "IndexStmt":
        for p in node.indexParams or ():
            if p.ordering.name != "SORTBY_DEFAULT":
                raise errors.FeatureNotSupported("ASC/DESC in index keys not supported")
        return
    if kind not in SUPPORTED:
        raise errors.FeatureNotSupported(f"{_describe(kind)} not supported")


def _describe(kind: str) -> str:
    name = kind[:-4] if kind.endswith("Stmt") else kind
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).upper()


_CONST_TOKENS = {"SCONST", "ICONST", "FCONST", "XCONST", "BCONST", "USCONST", "TRUE_P", "FALSE_P", "NULL_P"}


def _walk(node, out):
    if isinstance(node, ast.A_Const):
        out.append(node)
        return
    if isinstance(node, (list, tuple)):
        for x in node:
            _walk(x, out)
        return
    if isinstance(node, ast.Node):
        for slot in node.__slots__:
            v = getattr(node, slot, None)
            if isinstance(v, (ast.Node, list, tuple)):
                _walk(v, out)


def _token_value(raw: str, name: str) -> str:
    if name == "SCONST":
        if raw[:1] in "eEnN" and raw[1:2] == "'":
            raw = raw[1:]
        if raw.startswith("'"):
            return raw[1:-1].replace("''", "'")
        if raw.startswith("$"):
            tag_end = raw.index("$", 1) + 1
            return raw[tag_end:len(raw) - tag_end]
        return raw
    if name == "TRUE_P":
        return "\x00true"
    if name == "FALSE_P":
        return "\x00false"
    if name == "NULL_P":
        return "\x00null"
    return raw


def _const_value(c) -> str:
    if c.isnull:
        return "\x00null"
    v = c.val
    if isinstance(v, ast.Integer):
        return str(v.ival)
    if isinstance(v, ast.Float):
        return v.fval
    if isinstance(v, ast.Boolean):
        return "\x00true" if v.boolval else "\x00false"
    if isinstance(v, ast.String):
        return v.sval
    return getattr(v, "bsval", "")


def _map_consts(st: "Statement") -> dict[int, int]:
    consts: list = []
    _walk(st.node, consts)
    if not consts or not st.query:
        return {}
    b = st.query.encode("utf-8")
    try:
        toks = pglast.parser.scan(st.query)
    except Exception:
        return {}
    vals = []
    prev = None
    for t in toks:
        if t.name in _CONST_TOKENS:
            raw = b[t.start:t.end + 1].decode("utf-8", "ignore")
            vals.append([_token_value(raw, t.name), t.start, prev, False])
        prev = t
    out = {}
    for c in consts:
        want = _const_value(c)
        neg = want.startswith("-")
        for v in vals:
            if v[3]:
                continue
            if v[0] == want or (neg and v[0] == want[1:] and v[2] is not None and v[2].name == "ASCII_45"):
                v[3] = True
                out[id(c)] = v[2].start if neg and v[0] != want else v[1]
                break
    return out
