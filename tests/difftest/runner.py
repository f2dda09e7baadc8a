"""Differential harness: run the SQL corpus on PostgreSQL 15 and on our engine, compare the results.

Corpus files (`corpus/*.sql`) hold statements separated by `;` (comments allowed). Statements before
a line `-- @queries` are the file's setup (tables, data): they run on both sides and must succeed
on both. Every statement after it is compared:

* both succeed: command tag, column names, result type OIDs and the rows as text must be equal
  (in order when the top-level statement has ORDER BY, as a multiset otherwise);
* both fail: the SQLSTATEs must be equal (messages are reported, not compared);
* one fails and the other does not: a mismatch.

Every statement is sent with the simple query protocol on an autocommit connection. A statement's
id is `<file>:<line>` (the line it starts on); `known_differences.txt` lists the ids that are
expected to differ, each with its reason.

Run it by hand with `python -m tests.difftest.runner` (starts a throwaway cluster and PostgreSQL 15)
or `--inproc` (an in-process SqlSession on an in-memory KV: fast, for engine work).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import re
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
KNOWN = HERE / "known_differences.txt"
SCHEMA = "dt"
QUERIES_MARKER = re.compile(r"^\s*--\s*@queries\b", re.M)


# ---------------------------------------------------------------- corpus

def split_sql(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """Split a script into (line, statement) at top-level semicolons.

    Knows '...' (with '' and E'..\\'..' escapes), "...", $tag$...$tag$, -- and /* */ comments.
    The line is that of the statement's first non-blank, non-comment character."""
    out: list[tuple[int, str]] = []
    i, n = 0, len(text)
    buf: list[str] = []
    line = first_line
    start_line = None

    def flush():
        nonlocal start_line
        s = "".join(buf).strip()
        if s and start_line is not None:
            out.append((start_line, s))
        buf.clear()
        start_line = None

    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            buf.append(text[i:j])
            i = j
            continue
        if c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            seg = text[i:j]
            buf.append(seg)
            line += seg.count("\n")
            i = j
            continue
        if c == "\n":
            line += 1
            buf.append(c)
            i += 1
            continue
        if c.isspace():
            buf.append(c)
            i += 1
            continue
        if start_line is None:
            start_line = line
        if c == ";":
            flush()
            i += 1
            continue
        if c in "'\"":
            escapes = c == "'" and i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            j = i + 1
            while j < n:
                if escapes and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            seg = text[i:j + 1]
            buf.append(seg)
            line += seg.count("\n")
            i = j + 1
            continue
        if c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$", text[i:])
            if m and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                j = n if j < 0 else j + len(tag)
                seg = text[i:j]
                buf.append(seg)
                line += seg.count("\n")
                i = j
                continue
        buf.append(c)
        i += 1
    flush()
    return out


@dataclasses.dataclass
class CorpusFile:
    name: str
    setup: list[tuple[int, str]]
    queries: list[tuple[int, str]]


def load_corpus(directory: pathlib.Path = CORPUS) -> list[CorpusFile]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        m = QUERIES_MARKER.search(text)
        if m:
            head, tail = text[:m.start()], text[m.start():]
            tail_line = head.count("\n") + 1
        else:
            head, tail, tail_line = "", text, 1
        files.append(CorpusFile(path.name, split_sql(head), split_sql(tail, tail_line)))
    return files


def load_known(path: pathlib.Path = KNOWN) -> dict[str, str]:
    """{statement id: reason} from known_differences.txt (`id  reason`, # comments)."""
    known = {}
    if path.exists():
        for raw in path.read_text().splitlines():
            s = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
            if not s:
                continue
            sid, _, reason = s.partition(" ")
            known[sid] = reason.strip()
    return known


# ---------------------------------------------------------------- outcomes

@dataclasses.dataclass
class Outcome:
    error: tuple[str, str] | None = None        # (sqlstate, message)
    tag: str | None = None
    columns: list[tuple[str, int]] | None = None
    rows: list[tuple] = dataclasses.field(default_factory=list)

    def render(self, limit: int = 30) -> str:
        if self.error:
            return f"ERROR {self.error[0]}: {self.error[1]}"
        out = [f"tag {self.tag!r}"]
        if self.columns is not None:
            out.append("columns " + ", ".join(f"{n}:{o}" for n, o in self.columns))
            for r in self.rows[:limit]:
                out.append("  " + " | ".join("NULL" if v is None else v for v in r))
            if len(self.rows) > limit:
                out.append(f"  ... {len(self.rows) - limit} more rows")
        return "\n".join(out)


def pq_run(pgconn, sql: str) -> Outcome:
    """One statement through libpq's simple query protocol; values kept as text."""
    from psycopg import pq
    res = pgconn.exec_(sql.encode())
    st = res.status
    if st == pq.ExecStatus.FATAL_ERROR:
        def g(f):
            v = res.error_field(f)
            return v.decode(errors="replace") if v is not None else ""
        return Outcome(error=(g(pq.DiagnosticField.SQLSTATE), g(pq.DiagnosticField.MESSAGE_PRIMARY)))
    tag = (res.command_status or b"").decode()
    if st == pq.ExecStatus.TUPLES_OK:
        cols = [(res.fname(i).decode(), res.ftype(i)) for i in range(res.nfields)]
        rows = [tuple(None if (v := res.get_value(r, c)) is None else v.decode(errors="replace")
                      for c in range(res.nfields)) for r in range(res.ntuples)]
        return Outcome(tag=tag, columns=cols, rows=rows)
    return Outcome(tag=tag)


class PqBackend:
    def __init__(self, conn):
        self.conn = conn            # a psycopg Connection (autocommit); we use its libpq handle

    def run(self, sql: str) -> Outcome:
        return pq_run(self.conn.pgconn, sql)

    def close(self):
        self.conn.close()


class SessionBackend:
    """An in-process SqlSession (in-memory KV and catalog): no cluster needed."""

    def __init__(self):
        from services.common.config import Limits
        from services.compute.catalog import Catalog, MemoryStore
        from services.compute.sql.session import SqlSession
        from tests.unit.compute.memkv import MemKV
        self.session = SqlSession(catalog=Catalog(store=MemoryStore()), kv=MemKV(), limits=Limits())

    def run(self, sql: str) -> Outcome:
        from services.common.errors import PgError
        from services.compute.sql import types as T
        try:
            results = self.session.execute_sql(sql)
        except PgError as e:
            return Outcome(error=(e.sqlstate, e.message))
        except Exception as e:  # noqa: BLE001 - the session layer would report XX000
            return Outcome(error=("XX000", f"{type(e).__name__}: {e}"))
        if not results:
            return Outcome(tag="")
        r = results[-1]
        if r.columns is None:
            return Outcome(tag=r.tag)
        cols = [(c.name, c.type_oid) for c in r.columns]
        rows = [tuple(None if v is None else T.encode_text(c.type_oid, v) for c, v in zip(r.columns, row))
                for row in r.rows]
        return Outcome(tag=r.tag, columns=cols, rows=rows)

    def close(self):
        self.session.close()


# ---------------------------------------------------------------- comparison

def is_ordered(sql: str) -> bool:
    """True when the top-level statement is a SELECT with ORDER BY."""
    import pglast
    try:
        stmts = pglast.parse_sql(sql)
    except Exception:
        return False
    if len(stmts) != 1:
        return False
    s = stmts[0].stmt
    return type(s).__name__ == "SelectStmt" and bool(s.sortClause)


def _sortable(row):
    return tuple((v is None, v or "") for v in row)


def compare(sql: str, theirs: Outcome, ours: Outcome) -> str | None:
    """None when the outcomes agree, else what differs."""
    if theirs.error or ours.error:
        if not (theirs.error and ours.error):
            return "error on one side only"
        if theirs.error[0] != ours.error[0]:
            return f"SQLSTATE {theirs.error[0]} vs {ours.error[0]}"
        return None
    if theirs.tag != ours.tag:
        return f"command tag {theirs.tag!r} vs {ours.tag!r}"
    if theirs.columns != ours.columns:
        if theirs.columns and ours.columns and [c[0] for c in theirs.columns] == [c[0] for c in ours.columns]:
            return "column types differ"
        return "columns differ"
    if is_ordered(sql):
        if theirs.rows != ours.rows:
            if sorted(theirs.rows, key=_sortable) == sorted(ours.rows, key=_sortable):
                return "row order differs"
            return "rows differ"
    elif sorted(theirs.rows, key=_sortable) != sorted(ours.rows, key=_sortable):
        return "rows differ"
    return None


@dataclasses.dataclass
class Mismatch:
    sid: str
    sql: str
    what: str
    theirs: Outcome
    ours: Outcome


@dataclasses.dataclass
class Report:
    total: int = 0
    matched: int = 0
    mismatches: list[Mismatch] = dataclasses.field(default_factory=list)
    setup_failures: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else 1.0

    def text(self, known: dict[str, str] | None = None) -> str:
        known = known or {}
        lines = [f"difftest: {self.matched}/{self.total} statements match PostgreSQL 15 "
                 f"({100 * self.rate:.2f}%) in {self.seconds:.1f}s",
                 f"mismatches: {len(self.mismatches)} "
                 f"({sum(m.sid in known for m in self.mismatches)} listed in known_differences.txt)", ""]
        stale = sorted(set(known) - {m.sid for m in self.mismatches})
        if stale:
            lines.append("known_differences.txt entries that now match (remove them): " + ", ".join(stale))
            lines.append("")
        for f in self.setup_failures:
            lines.append(f"SETUP FAILURE {f}")
        for m in self.mismatches:
            reason = known.get(m.sid)
            lines.append(f"=== {m.sid}: {m.what}" + (f"  [known: {reason}]" if reason else "  [NEW]"))
            lines.append(m.sql)
            lines.append("--- postgres-15")
            lines.append(m.theirs.render())
            lines.append("--- dsql")
            lines.append(m.ours.render())
            lines.append("")
        return "\n".join(lines)


def prepare_backend(b, create_schema: bool = True) -> None:
    for sql in ([f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"] if create_schema else []) + \
               [f"SET search_path = {SCHEMA}", "SET timezone = 'UTC'"]:
        o = b.run(sql)
        if o.error:
            raise RuntimeError(f"{sql}: {o.error}")


def run_corpus(theirs, ours, files: list[CorpusFile], only: str | None = None) -> Report:
    rep = Report()
    t0 = time.monotonic()
    for cf in files:
        if only and only not in cf.name:
            continue
        for line, sql in cf.setup:
            a, b = theirs.run(sql), ours.run(sql)
            if a.error or b.error:
                rep.setup_failures.append(f"{cf.name}:{line}: {sql[:200]}\n  postgres: {a.render(3)}\n  dsql: {b.render(3)}")
        for line, sql in cf.queries:
            a, b = theirs.run(sql), ours.run(sql)
            rep.total += 1
            what = compare(sql, a, b)
            if what is None:
                rep.matched += 1
            else:
                rep.mismatches.append(Mismatch(f"{cf.name}:{line}", sql, what, a, b))
    rep.seconds = time.monotonic() - t0
    return rep


# ---------------------------------------------------------------- command line

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inproc", action="store_true", help="compare with an in-process SqlSession (no cluster)")
    ap.add_argument("--only", help="only corpus files whose name contains this")
    ap.add_argument("--report", default="build/difftest-report.txt")
    ap.add_argument("--new-only", action="store_true", help="print only mismatches not in known_differences.txt")
    args = ap.parse_args(argv)

    import psycopg

    from services.launcher import cluster as launcher_cluster
    from tests import pg_oracle
    oracle = pg_oracle.Oracle(launcher_cluster.free_port()).start()
    stop_cluster = None
    try:
        theirs = PqBackend(psycopg.connect(oracle.dsn, autocommit=True))
        if args.inproc:
            ours = SessionBackend()
        else:
            import shutil
            import subprocess
            import tempfile
            from services.common.config import ClusterConfig
            from services.launcher.cli import dsn, make_token
            state = pathlib.Path(tempfile.mkdtemp(prefix="dsql-dt-"))
            cli = [sys.executable, "-m", "services.launcher.cli", "--state-dir", str(state)]
            subprocess.run([*cli, "up", "--detach", "--port", str(launcher_cluster.free_port())],
                           check=True, capture_output=True, timeout=180)

            def stop_cluster():
                subprocess.run([*cli, "down"], capture_output=True, timeout=120)
                shutil.rmtree(state, ignore_errors=True)
            config = ClusterConfig.load(state / "cluster.json")
            ours = PqBackend(psycopg.connect(dsn(config), password=make_token(config), autocommit=True))
        prepare_backend(theirs)
        prepare_backend(ours)
        rep = run_corpus(theirs, ours, load_corpus(), args.only)
        known = load_known()
        text = rep.text(known)
        out = pathlib.Path(args.report)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        if args.new_only:
            print("\n".join(line for line in text.split("\n=== ")[0:1]))
            for m in rep.mismatches:
                if m.sid not in known:
                    print(f"{m.sid}: {m.what}\n{m.sql}\n  pg:   {m.theirs.render(5)}\n  ours: {m.ours.render(5)}")
        print(text.split("\n", 2)[0] + f"\nreport: {out}")
        theirs.close()
        ours.close()
    finally:
        if stop_cluster:
            stop_cluster()
        oracle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
