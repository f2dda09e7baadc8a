"""Index nested-loop joins: a selective left side probes the right table by primary key in batches,
with the same rows as the hash join (INNER and LEFT, right-side filters, NULL and missing keys)."""

from __future__ import annotations

import pytest

from services.common.config import Limits
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql import plan as P
from services.compute.sql.session import SqlSession

from .memkv import MemKV

QUERIES = [
    "select o.id, o.cust, c.name from o join c on c.id = o.cust where o.id between 10 and 40 order by o.id",
    "select o.id, c.name from o left join c on c.id = o.cust where o.id < 30 order by o.id",
    "select o.id, c.name from o left join c on c.id = o.cust and c.name <> 'c7' where o.id < 30 order by o.id",
    "select o.id, c.name from o join c on o.cust = c.id and o.amount > c.id where o.id <= 60 order by 1",
    "select o.id, c.name from o join c on c.id = o.cust where o.id in (1, 2, 3, 999) and c.name like 'c1%' order by 1",
    "select count(*), count(c.id) from o left join c on c.id = o.cust where o.id >= 100",
    "select p.id, p.k1, p.k2, t.v from o p join two t on t.k1 = p.cust and t.k2 = 'x' || p.cust::text "
    "where p.id < 50 order by 1",
]


def _session():
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    return SqlSession(catalog=cat, kv=MemKV(), user="admin", database="postgres", limits=Limits())


@pytest.fixture(scope="module")
def s():
    s = _session()
    s.execute_sql("create table c (id int primary key, name text)")
    s.execute_sql("create table o (id int primary key, cust int, amount int, k1 int, k2 text)")
    s.execute_sql("create table two (k1 int, k2 text, v text, primary key (k1, k2))")
    s.execute_sql("insert into c values " + ",".join(f"({i}, 'c{i}')" for i in range(0, 50)))
    # cust runs past c's ids (no match) and is NULL every 7th row.
    s.execute_sql("insert into o values " + ",".join(
        f"({i}, {'null' if i % 7 == 0 else i % 60}, {i % 13}, {i % 5}, 'x{i % 5}')" for i in range(1, 121)))
    s.execute_sql("insert into two values " + ",".join(f"({i}, 'x{i}', 'v{i}')" for i in range(0, 40)))
    return s


def _rows(s, sql):
    s._cache.clear()              # plans are cached by statement text; these tests swap the planner
    return s.execute_sql(sql)[-1].rows


def _explain(s, sql):
    return "\n".join(r[0] for r in _rows(s, "explain " + sql))


@pytest.mark.parametrize("sql", QUERIES)
def test_lookup_join_is_chosen_and_matches_the_hash_join(s, sql, monkeypatch):
    assert "Index Nested Loop" in _explain(s, sql)
    looked_up = _rows(s, sql)
    monkeypatch.setattr(P, "_lookup_join", lambda *a, **k: None)
    assert "Index Nested Loop" not in _explain(s, sql)
    assert looked_up == _rows(s, sql)
    assert looked_up          # every query has rows, so the comparison says something


def test_full_left_side_or_partial_key_keeps_the_hash_join(s):
    assert "Hash Inner Join" in _explain(s, "select * from o join c on c.id = o.cust")
    assert "Hash Inner Join" in _explain(s, "select * from o join two on two.k1 = o.k1 where o.id = 3")
    # A key of another type (int8 against int4) is left to the hash join's equality rules.
    assert "Index Nested Loop" not in _explain(s, "select * from o join c on c.id = o.cust::int8 where o.id = 3")


def test_lookup_reads_only_the_keys_it_needs(s, monkeypatch):
    scans = []
    kv = s.kv
    original = type(kv).begin

    def counting_begin(self):
        txn = original(self)
        scan = txn.scan
        txn.scan = lambda start, end, *a, **k: (scans.append((start, end)), scan(start, end, *a, **k))[1]
        return txn
    monkeypatch.setattr(type(kv), "begin", counting_begin)
    rows = _rows(s, "select o.id, c.name from o join c on c.id = o.cust where o.id = 5")
    assert rows == [(5, "c5")]
    # o.id = 5 is a key get and c is probed by key: no range is read at all (a hash join would scan c).
    assert scans == []
    monkeypatch.setattr(P, "_lookup_join", lambda *a, **k: None)
    assert _rows(s, "select o.id, c.name from o join c on c.id = o.cust where o.id = 5") == rows
    assert len(scans) == 1
