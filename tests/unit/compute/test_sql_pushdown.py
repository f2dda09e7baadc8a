"""Projection and filter pushdown to storage: the planner marks scans, storage filters and
projects stored rows, the compute re-checks the WHERE clause and overlays its buffered writes.

Results must be identical with and without pushdown (the in-memory KV applies the same
storage-side evaluation, services/common/pushdown.py); against a real storage process fewer
rows and bytes are shipped."""

from __future__ import annotations

import random
import urllib.request

import pytest

from services.common.config import Limits
from services.compute import kv as kv_mod
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql import plan as plan_mod
from services.compute.sql.session import SqlSession

from .memkv import MemKV

pytestmark = pytest.mark.timeout(180)


def _session(kv=None):
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    return SqlSession(catalog=cat, kv=kv if kv is not None else MemKV(), limits=Limits())


def q(s, sql, params=()):
    return s.execute_sql(sql, params)[-1].rows


def explain(s, sql):
    return "\n".join(r[0] for r in q(s, "explain " + sql))


@pytest.fixture
def no_pushdown(monkeypatch):
    """Plan without pushdown (the reference results)."""
    def off():
        monkeypatch.setattr(plan_mod, "pushdown_condition", lambda c, t: None)
        monkeypatch.setattr(plan_mod, "_table_columns_read", lambda bs: None)
    return off


SETUP = [
    "create table t (id int primary key, a int, s text, v varchar(10), f bool, d float8, big bigint, sm smallint, "
    "pad text)",
]


def _fill(s, n=300, seed=3):
    rnd = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        def maybe(x):
            return "null" if rnd.random() < 0.1 else x
        rows.append(f"({i}, {maybe(rnd.randint(-3, 3))}, {maybe(repr(rnd.choice(['a', 'B', 'b', 'é', '', 'ab'])))}, "
                    f"{maybe(repr(rnd.choice(['x', 'y', 'Y'])))}, {maybe(rnd.choice(['true', 'false']))}, "
                    f"{maybe(rnd.choice(['1.5', chr(39) + 'NaN' + chr(39), '-2']))}, "
                    f"{maybe(str(rnd.randint(-2**40, 2**40)))}, {maybe(str(rnd.randint(-5, 5)))}, '{'p' * 100}')")
    q(s, "insert into t values " + ", ".join(rows))


QUERIES = [
    "select id, a from t where a = 2",
    "select id from t where a <> 2 and s > 'a'",
    "select * from t where s = 'é' or a = 1",
    "select id, s from t where a >= 1 and a < 3 and s is not null",
    "select id from t where a is null",
    "select count(*) from t where f",
    "select count(*), sum(a) from t where f = true and v <> 'Y'",
    "select a, count(*) from t where a > -2 group by a order by a",
    "select id from t where v = 'Y' order by s desc, id limit 4",
    "select id from t where big > 0 and sm <= 2",
    "select id from t where sm = 100000",                 # int4 constant outside smallint: not pushed
    "select id from t where a = 2147483648",              # int8 constant vs int4 column
    "select id from t where 2 < a",
    "select id from t where a = null",
    "select id from t where d > 0",                       # float8: not pushed
    "select id from t where id > 100 and a = 1",
    "select sum(id) from t where s is null and pad is not null",
    "select id, row_number() over (order by id) from t where a = 0",
    "select distinct a from t where s <> '' order by 1",
    "select id from t where a = (select max(a) from t) and s = 'a'",
    "select id from t t1 where exists (select 1 from t t2 where t2.id = t1.id + 1 and t2.a = t1.a) and t1.s = 'b'",
    "select t1.id, t2.id from t t1 join t t2 on t1.id = t2.a where t1.s = 'a' and t2.f",
]


def test_pushdown_in_the_plan():
    s = _session()
    q(s, SETUP[0])
    p = explain(s, "select id from t where a = 2 and s > 'a' and d > 0")
    assert "storage filter: 2 conditions" in p and "storage columns: 4 of 9" in p, p
    assert "storage filter" not in explain(s, "select id from t where d > 0")
    assert "storage columns" not in explain(s, "select * from t where a = 1")
    assert "storage columns" not in explain(s, "select id from t where a = (select max(a) from t)")
    assert "storage columns: 1 of 9" in explain(s, "select a, count(*) from t group by a having count(*) > 1")
    # FOR UPDATE scans keep their whole rows and lock every scanned row as before
    assert "storage" not in explain(s, "select id from t where a = 1 for update")


@pytest.mark.parametrize("sql", QUERIES)
def test_same_results_with_and_without_pushdown(sql, no_pushdown):
    kv = MemKV()
    s = _session(kv)
    q(s, SETUP[0])
    _fill(s)
    got = q(s, sql)
    assert kv.pushdown_scans or "storage" not in explain(s, sql)
    no_pushdown()
    ref = _session(kv)
    ref.catalog = s.catalog
    expect = q(ref, sql)
    assert repr(got) == repr(expect)


def test_buffered_writes_overlay_pushed_down_scans(no_pushdown):
    """Rows the transaction wrote are evaluated in the compute: an update that makes a stored
    row match or stop matching, an insert, a delete, a key move."""
    def scenario(s):
        out = []
        q(s, "begin")
        q(s, "update t set a = 2 where id in (1, 2, 3)")              # now match a = 2
        q(s, "update t set a = 7 where a = 2 and id > 250")            # stop matching
        q(s, "delete from t where id = 10")
        q(s, "insert into t (id, a, s) values (1000, 2, 'new'), (1001, 3, 'no')")
        q(s, "update t set id = id + 2000 where id = 20")              # key moves
        for sql in ["select id, a, s from t where a = 2", "select id from t where a <> 2 and s = 'new'",
                    "select count(*) from t where a is null", "select id, a from t where id >= 2000",
                    "select id, a from t where a = 2 order by s desc limit 5"]:
            out.append(q(s, sql))
        q(s, "rollback")
        out.append(q(s, "select id, a, s from t where a = 2"))
        return out
    kv = MemKV()
    s = _session(kv)
    q(s, SETUP[0])
    _fill(s)
    got = scenario(s)
    assert kv.pushdown_scans
    no_pushdown()
    ref = _session(kv)
    ref.catalog = s.catalog
    assert repr(got) == repr(scenario(ref))


def test_added_column_default_is_not_filtered_by_storage():
    kv = MemKV()
    s = _session(kv)
    q(s, "create table g (id int primary key, a int)")
    q(s, "insert into g values (1, 1), (2, 2)")
    q(s, "alter table g add column b int")
    q(s, "insert into g values (3, 3, 5)")
    assert q(s, "select id from g where b is null order by id") == [(1,), (2,)]
    assert q(s, "select id, b from g where b = 5") == [(3, 5)]


# ------------------------------------------------------------------ against a real storage process

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from tests.unit.compute.cluster_fixture import Cluster
    c = Cluster(tmp_path_factory.mktemp("pushdown"), azs=("az1",), journal_replication="static")
    try:
        c.start("az1", "journal")
        c.start("az1", "storage")
        yield c
    finally:
        c.stop_all()


def _storage_metric(cluster, name, label):
    port = cluster.config.endpoint("az1", "storage").metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(f'{name}{{pushdown="{label}"}} '):
            return float(line.split()[-1])
    return 0.0


def test_real_storage_ships_fewer_rows_and_bytes(cluster, monkeypatch, no_pushdown):
    kv = kv_mod.KV(cluster.config, "az1")
    shipped = {"rows": 0, "bytes": 0}
    orig = kv._read

    def read(method, request):
        resp = orig(method, request)
        if method == "Scan":
            shipped["rows"] += len(resp.rows)
            shipped["bytes"] += sum(len(r.key) + len(r.value) for r in resp.rows)
        return resp
    monkeypatch.setattr(kv, "_read", read)
    try:
        s = _session(kv)
        q(s, SETUP[0])
        _fill(s, n=2500)
        queries = ["select id, a from t where a = 2 and s = 'b'", "select count(*) from t where f and v = 'Y'",
                   "select id from t where a is null order by id desc", "select a, count(*) from t group by a"]
        for k in shipped:
            shipped[k] = 0
        rows_before = _storage_metric(cluster, "dsql_storage_rows_returned_total", "yes")
        got = [q(s, x) for x in queries]
        with_pd = dict(shipped)
        assert _storage_metric(cluster, "dsql_storage_rows_returned_total", "yes") - rows_before == with_pd["rows"]
        assert _storage_metric(cluster, "dsql_storage_rows_examined_total", "yes") >= 4 * 2500
        no_pushdown()
        ref = _session(kv)
        ref.catalog = s.catalog
        for k in shipped:
            shipped[k] = 0
        expect = [q(ref, x) for x in queries]
        without = dict(shipped)
        assert repr(got) == repr(expect)
        assert without["rows"] == 4 * 2500
        assert with_pd["rows"] < without["rows"] * 0.5, (with_pd, without)
        assert with_pd["bytes"] < without["bytes"] * 0.3, (with_pd, without)
        print(f"\npushdown: {with_pd}, without: {without}")
        # a transaction's buffered writes overlay the filtered pages
        q(s, "begin")
        q(s, "update t set a = 2, s = 'b' where id in (1, 2, 3)")
        q(s, "update t set s = 'zz' where a = 2 and s = 'b' and id > 2000")
        in_txn = q(s, "select id from t where a = 2 and s = 'b' order by id")
        q(s, "rollback")
        q(ref, "begin")
        q(ref, "update t set a = 2, s = 'b' where id in (1, 2, 3)")
        q(ref, "update t set s = 'zz' where a = 2 and s = 'b' and id > 2000")
        assert in_txn == q(ref, "select id from t where a = 2 and s = 'b' order by id")
        q(ref, "rollback")
        assert in_txn[:3] == [(1,), (2,), (3,)] and all(i <= 2000 for (i,) in in_txn)
    finally:
        kv.close()
