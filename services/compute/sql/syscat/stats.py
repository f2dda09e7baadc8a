"""ANALYZE and the statistics it keeps: one JSON document per table in etcd, beside the catalog.

    /dsql/stats/<db>/<table id>   {"rows", "bytes", "analyzed_at", "revision", "columns": {name: {...}}}

The documents are read through the catalog's store (etcd, or the in-memory store of unit
tests) and cached per compute until a watch on the prefix reports a change. pg_class shows
`reltuples` (-1 before the first ANALYZE, as PostgreSQL 15) and `relpages` (bytes / 32 KiB,
the page size the guide's size query assumes); pg_stats shows the per-column figures.
"""

from __future__ import annotations

import json
import threading
import weakref

PREFIX = "/dsql/stats/"


class StatsCache:
    def __init__(self, catalog):
        self.catalog = catalog
        self._lock = threading.Lock()
        self._docs: dict[int, dict] | None = None
        catalog.store.watch_prefix(PREFIX, self._stale)

    def _stale(self) -> None:
        self._docs = None

    def docs(self) -> dict[int, dict]:
        docs = self._docs
        if docs is None:
            with self._lock:
                prefix = f"{PREFIX}{self.catalog.database}/"
                docs = {}
                for key, value, _rev in self.catalog.store.get_prefix(prefix):
                    try:
                        docs[int(key[len(prefix):])] = json.loads(value)
                    except ValueError:
                        continue
                self._docs = docs
        return docs

    def put(self, table_id: int, doc: dict) -> None:
        key = f"{PREFIX}{self.catalog.database}/{table_id}"
        cur = self.catalog.store.get(key)
        self.catalog.store.txn({key: cur[1] if cur else 0}, {key: json.dumps(doc, sort_keys=True).encode()})
        self._docs = None


_caches: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(catalog) -> StatsCache:
    with _caches_lock:
        c = _caches.get(catalog)
        if c is None:
            c = _caches[catalog] = StatsCache(catalog)
        return c


def table_stats(catalog, table) -> dict | None:
    """The last ANALYZE of this table (None if never analyzed)."""
    return cache_of(catalog).docs().get(table.id)


# ------------------------------------------------------------------ ANALYZE

SAMPLE_ROWS = 30_000              # PostgreSQL's 300 x default_statistics_target (100)
STATISTICS_TARGET = 100           # most common values and histogram buckets kept per column


def analyze_table(session, table) -> dict:
    """Scan the table at a fresh snapshot: every row counts toward rows and bytes; a reservoir
    sample of SAMPLE_ROWS rows feeds the per-column statistics. Read-only: no commit."""
    import random
    import time

    from ..execute import codec_for
    codec = codec_for(table)
    rng = random.Random(table.id)
    sample: list[list] = []
    n = nbytes = 0
    txn = session.kv.begin()
    try:
        for key, value in txn.scan(codec.prefix, codec.end):
            n += 1
            nbytes += len(key) + len(value)
            if len(sample) < SAMPLE_ROWS:
                sample.append(codec.row.decode(value))
            else:
                j = rng.randrange(n)
                if j < SAMPLE_ROWS:
                    sample[j] = codec.row.decode(value)
            if getattr(session, "cancel_requested", False):
                session.cancel_requested = False
                from services.common.errors import QueryCanceled
                raise QueryCanceled("canceling statement due to user request")
    finally:
        txn.rollback()
    columns = {}
    for i, c in enumerate(table.columns):
        if not c.hidden and sample:         # an empty table has no column statistics
            columns[c.name] = column_stats([r[i] for r in sample], n)
    return {"rows": n, "bytes": nbytes, "analyzed_at": time.time(), "revision": table.revision,
            "columns": columns}


def _width(v) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8")) + 1
    if isinstance(v, (bytes, bytearray)):
        return len(v) + 1
    if isinstance(v, bool):
        return 1
    if isinstance(v, int):
        return 4 if -2 ** 31 <= v < 2 ** 31 else 8
    if isinstance(v, float):
        return 8
    return len(str(v)) // 2 + 2 if v.__class__.__name__ == "Decimal" else 8 if not hasattr(v, "bytes") else 16


def _text(v) -> str:
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (bytes, bytearray)):
        return "\\x" + bytes(v).hex()
    return str(v)


def column_stats(values: list, total_rows: int) -> dict:
    """PostgreSQL-style statistics of one column from a sample (analyze.c's compute_scalar_stats,
    simplified): null fraction, average width, n_distinct (negative: a fraction of the rows),
    most common values with their frequencies, histogram bounds of the rest, and the correlation
    between the physical (primary key) order and the value order."""
    import collections
    n = len(values)
    if n == 0:
        return {"null_frac": 0.0, "avg_width": 0, "n_distinct": 0.0}
    nonnull = [v for v in values if v is not None]
    null_frac = (n - len(nonnull)) / n
    avg_width = round(sum(_width(v) for v in nonnull) / len(nonnull)) if nonnull else 0
    counts = collections.Counter(nonnull)
    d = len(counts)
    # analyze.c: the Haas-Stokes estimate when the sample is smaller than the table
    f1 = sum(1 for c in counts.values() if c == 1)
    if not nonnull:
        n_distinct = 0.0
    elif f1 == len(nonnull):
        n_distinct = -1.0 * (1 - null_frac)        # every value unique: scales with the table
    else:
        if total_rows > n and f1 < len(nonnull):
            nn, N = len(nonnull), total_rows * (1 - null_frac)
            d = nn * d / (nn - f1 + f1 * nn / N)
            d = max(min(d, N), len(counts))
        n_distinct = float(round(d))
        if n_distinct > 0.1 * total_rows * (1 - null_frac) and total_rows > 0:
            n_distinct = -n_distinct / total_rows
    out = {"null_frac": null_frac, "avg_width": avg_width, "n_distinct": n_distinct}
    try:
        ordered = sorted(counts)
    except TypeError:
        return out
    if f1 == 0 and len(counts) <= STATISTICS_TARGET:
        mcv = counts.most_common()        # every value repeats and all fit: keep them all (analyze.c)
    else:
        avg = len(nonnull) / len(counts)
        mcv = [(v, c) for v, c in counts.most_common(STATISTICS_TARGET) if c > 1 and c >= avg * 1.25]
    if mcv:
        out["most_common_vals"] = [_text(v) for v, _ in mcv]
        out["most_common_freqs"] = [c / n for _, c in mcv]
    common = {m for m, _ in mcv}
    rest = sorted(v for v in nonnull if v not in common)
    if len(set(rest)) >= 2:
        buckets = min(STATISTICS_TARGET, len(rest) - 1)
        out["histogram_bounds"] = [_text(rest[round(i * (len(rest) - 1) / buckets)]) for i in range(buckets + 1)]
    if len(nonnull) >= 2:
        rank = {v: i for i, v in enumerate(ordered)}
        xs = [rank[v] for v in nonnull]
        ys = list(range(len(xs)))
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
        sxx = sum((x - mx) ** 2 for x in xs)
        syy = sum((y - my) ** 2 for y in ys)
        out["correlation"] = sxy / (sxx * syy) ** 0.5 if sxx and syy else 1.0
    return out


def run_analyze(session, stmt):
    """ANALYZE [table [, ...]]: refused in a transaction block (the guide); one etcd write per table."""
    from services.common import errors
    from services.common.errors import PgError

    from ..bind import qualified
    node = stmt.node
    if session._in_block and not getattr(session, "_implicit", False):
        raise PgError("ANALYZE cannot run inside a transaction block", sqlstate="25001")
    if node.options:
        raise errors.FeatureNotSupported("ANALYZE options are not supported: give the relation name only")
    targets = []
    for rel in node.rels or ():
        if rel.va_cols:
            raise errors.FeatureNotSupported("ANALYZE of a column list is not supported: give the relation name only")
        schema, name = qualified(rel.relation, session.catalog, session)
        t = session.catalog.get_table(schema, name)
        if t is None:
            raise errors.UndefinedTable(f'relation "{rel.relation.relname}" does not exist')
        targets.append(t)
    if not node.rels:
        targets = session.catalog.tables()
    cache = cache_of(session.catalog)
    for t in targets:
        cache.put(t.id, analyze_table(session, t))
    return "ANALYZE"


def _stats_rows(catalog, session):
    from . import oids as O
    out = []
    for t in O.tables(catalog):
        st = table_stats(catalog, t)
        if not st:
            continue
        for _, c in O.attnums(t):
            cs = st["columns"].get(c.name)
            if cs is None:
                continue
            out.append((t.schema, t.name, c.name, False, cs["null_frac"], cs["avg_width"], cs["n_distinct"],
                        cs.get("most_common_vals"), cs.get("most_common_freqs"), cs.get("histogram_bounds"),
                        cs.get("correlation"), None, None, None))
    return out


def _register_views():
    from . import view
    view("pg_catalog", "pg_stats")(_stats_rows)


_register_views()
