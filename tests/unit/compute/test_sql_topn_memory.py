"""Top-N sort (ORDER BY ... LIMIT keeps only LIMIT + OFFSET rows) and the per-query memory limit
(53200) against the in-memory KV."""

from __future__ import annotations

import dataclasses
import random

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql import execute as X
from services.compute.sql.session import SqlSession

from .memkv import MemKV


def _session(limits=None):
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    return SqlSession(catalog=cat, kv=MemKV(), user="admin", database="postgres",
                      limits=limits if limits is not None else Limits())


def q(s, sql, params=()):
    return s.execute_sql(sql, params)[-1].rows


def r(rows):
    """Rows compared by repr (NaN != NaN)."""
    return [repr(x) for x in rows]


def plan(s, sql):
    return [r[0] for r in q(s, "explain " + sql)]


@pytest.fixture(scope="module")
def s():
    s = _session()
    q(s, "create table t (id int primary key, a int, b text, f float8, n numeric, flag bool)")
    rnd = random.Random(7)
    vals = []
    for i in range(1, 401):
        a = "null" if rnd.random() < 0.15 else str(rnd.randint(-5, 5))
        b = "null" if rnd.random() < 0.1 else "'" + rnd.choice(["a", "B", "b", "aa", "", "é", "z"]) + "'"
        f = rnd.choice(["null", "'NaN'", "1.5", "-0.5", "'Infinity'", "2"])
        n = rnd.choice(["null", "1.50", "1.5", "-3", "'NaN'", "0"])
        flag = rnd.choice(["null", "true", "false"])
        vals.append(f"({i}, {a}, {b}, {f}, {n}, {flag})")
    q(s, "insert into t values " + ", ".join(vals))
    yield s
    s.close()


ORDERS = [
    "a", "a desc", "a nulls first", "a desc nulls last", "a, b", "a desc, b nulls first, id desc",
    "b", "b desc", "f", "f desc", "n", "n desc nulls last", "flag, a", "a + 1 desc", "coalesce(b, 'zz'), a",
    "flag desc, f, n, b desc",
]


@pytest.mark.parametrize("order", ORDERS)
def test_top_n_matches_full_sort(s, order):
    full = q(s, f"select id, a, b, f, n, flag from t order by {order}")
    assert len(full) == 400
    for limit, offset in [(1, 0), (5, 0), (17, 3), (50, 100), (399, 0), (400, 0), (500, 0), (10, 395), (3, 1000),
                          (0, 0), (0, 5)]:
        got = q(s, f"select id, a, b, f, n, flag from t order by {order} limit {limit} offset {offset}")
        assert r(got) == r(full[offset:offset + limit]), (order, limit, offset)


def test_top_n_is_in_the_plan(s):
    p = plan(s, "select id from t order by a desc, b limit 5 offset 2")
    assert any("Top-N Sort" in line and "Sort Key: #2 DESC, #3" in line for line in p), p
    # without LIMIT, or with a DISTINCT ON between sort and limit, it is a full sort
    assert not any("Top-N" in line for line in plan(s, "select id from t order by a"))
    assert not any("Top-N" in line for line in plan(s, "select id from t order by a offset 5"))
    assert not any("Top-N" in line for line in plan(s, "select distinct on (a) a, id from t order by a, id limit 3"))
    # the primary key order needs no sort at all
    assert not any("Sort" in line for line in plan(s, "select id from t order by id limit 3"))
    # set operations and VALUES with ORDER BY ... LIMIT
    assert any("Top-N Sort" in line for line in plan(s, "select a from t union select 7 order by 1 limit 2"))


def test_top_n_keeps_only_n_rows(s, monkeypatch):
    """The heap never holds more than LIMIT + OFFSET rows (measured by the memory accounting)."""
    peaks = {}
    orig = X.ExecContext.release

    def release(self, n):
        peaks["peak"] = max(peaks.get("peak", 0), self.mem_peak)
        orig(self, n)
    monkeypatch.setattr(X.ExecContext, "release", release)
    q(s, "select id, a from t order by a limit 3 offset 2")
    small = peaks.pop("peak")
    q(s, "select id, a from t order by a")
    full = peaks.pop("peak")
    assert small * 40 < full, (small, full)


def test_top_n_other_forms(s):
    full = q(s, "select a, count(*) from t group by a order by 2 desc, 1 nulls first")
    assert q(s, "select a, count(*) from t group by a order by 2 desc, 1 nulls first limit 4") == full[:4]
    # parameters, LIMIT NULL / ALL
    base = q(s, "select id from t order by b desc, id")
    assert q(s, "select id from t order by b desc, id limit $1 offset $2", [7, 3]) == base[3:10]
    assert q(s, "select id from t order by b desc, id limit null") == base
    assert q(s, "select id from t order by b desc, id limit all offset 390") == base[390:]
    # set operation and VALUES
    u = q(s, "select a from t union select 7 order by 1 desc nulls last")
    assert q(s, "select a from t union select 7 order by 1 desc nulls last limit 3 offset 1") == u[1:4]
    assert q(s, "values (3, 'c'), (1, 'a'), (null, 'n'), (2, 'b') order by 1 desc limit 2") == [(None, "n"), (3, "c")]
    # window functions under the sort; resjunk sort columns
    w = q(s, "select id, row_number() over (order by a, id) from t order by b, id")
    assert q(s, "select id, row_number() over (order by a, id) from t order by b, id limit 6") == w[:6]
    # errors still come from LIMIT / OFFSET
    for sql, state in [("select id from t order by a limit -1", "2201W"),
                       ("select id from t order by a limit 1 offset -1", "2201X")]:
        with pytest.raises(PgError) as ei:
            q(s, sql)
        assert ei.value.sqlstate == state


# ------------------------------------------------------------------ the per-query memory limit

def test_default_query_memory_limit_is_128_mib():
    assert Limits().query_memory_bytes_max == 128 * 1024 * 1024
    s = _session()
    q(s, "create table m (id int primary key, v text)")
    ctx = X.ExecContext(X.TxnState(s.kv.begin()), None, s.limits)
    assert ctx.mem_max == 128 * 1024 * 1024


@pytest.fixture(scope="module")
def small():
    """A session with a 200 KB query memory limit over a table of ~2,000 rows of ~200 bytes."""
    s = _session(dataclasses.replace(Limits(), query_memory_bytes_max=200_000))
    q(s, "create table big (id int primary key, g int, v text)")
    for base in range(0, 2000, 500):
        q(s, "insert into big values " + ", ".join(f"({i}, {i % 1000}, '{'x' * 150}{i}')"
                                                   for i in range(base, base + 500)))
    q(s, "create table tiny (id int primary key, g int)")
    q(s, "insert into tiny values (1, 1), (2, 2)")
    yield s
    s.close()


MESSAGE = "query requires too much temp space, out of memory."


@pytest.mark.parametrize("sql", [
    "select v from big order by v",                                            # sort
    "select g, string_agg(v, ',') from big group by g",                        # hash aggregate (+ its states)
    "select id, v, count(*) from big group by id, v",                          # many groups
    "select count(*) from tiny join big on big.g = tiny.g",                    # hash join build side
    "select count(*) from (select distinct v from big) d",                     # DISTINCT
    "select id, row_number() over (partition by g order by id) from big",      # window partitions
    "select v from big union select v from big",                               # set operations
    "select v from big except select 'x'",
    "select count(*) from (select v from big intersect select v from big) i",
    "with recursive r(n, v) as (select 1, repeat('y', 200) union "
    "select n + 1, v from r where n < 5000) select count(*) from r",          # recursive CTE
    "select count(distinct v) from big",
])
def test_query_memory_limit(small, sql):
    with pytest.raises(PgError) as ei:
        q(small, sql)
    assert ei.value.sqlstate == "53200"
    assert ei.value.message == MESSAGE
    # the session stays usable and small queries still pass
    assert q(small, "select count(*) from big") == [(2000,)]


def test_query_memory_limit_allows_what_fits(small):
    assert len(q(small, "select v from big order by v limit 10")) == 10        # top-N holds 10 rows
    assert len(q(small, "select g, count(*) from big where id < 300 group by g")) == 300
    assert q(small, "select count(*) from big b1 join tiny on b1.id = tiny.id") == [(2,)]
    assert len(q(small, "select v from big where id < 100 order by v")) == 100
    assert q(small, "select count(*) from big") == [(2000,)]           # streaming aggregate: no rows held
    assert len(q(small, "select id from big order by id")) == 2000     # primary key order: no sort


def test_query_memory_limit_in_a_transaction_block(small):
    q(small, "begin")
    with pytest.raises(PgError) as ei:
        q(small, "select v from big order by v desc")
    assert ei.value.sqlstate == "53200"
    assert small.txn_status == "E"
    q(small, "rollback")
    assert small.txn_status == "I"
