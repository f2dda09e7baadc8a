"""Differential tests: the same statements on PostgreSQL 15 (the oracle) and on SqlSession
must give the same tags, column names and types, text values, and errors (SQLSTATE,
message, detail, position)."""

from __future__ import annotations

import socket

import pytest

from services.common.config import Limits
from services.compute.catalog import Catalog, MemoryStore
from services.compute.sql.session import SqlSession

from .memkv import MemKV
from .sqldiff import render_ours, render_pg

pg_oracle = pytest.importorskip("tests.pg_oracle")

SCRIPTS = {
    "expressions": """
select 1, 'a', 1.5 + 2, 7/2, -7/2, -7%3, 2^3, 'x' || 1, 1 || 'x';
select 7.0/3, 1/3::numeric, 10::numeric/4, 2.5::float8*2, 0.1 + 0.2, 1.10 * 2.0, 10.00 / 3;
select 2147483647 + 1;
select 'abc'::int;
select 1 + 'abc';
select 1.5::int, 2.5::int, (-2.5)::int, 2.5::float8::int, 3.5::float4::int, 1.5::int8, 2.5::int2;
select 'a' < 'b', 'abc' like 'a%', 'ABC' ilike 'a_c', 'x' not like 'y', null like 'a', 'a_c' like 'a\\_c';
select coalesce(null, 2, 3), nullif(1,1), nullif(1,2), greatest(1, 2.5), least('b','a');
select case when 1 > 2 then 'a' when 2 > 1 then 'b' end, case 3 when 1 then 'x' else 'y' end;
select 1 between 0 and 2, 5 not between 1 and 3, 3 in (1,2,3), 4 not in (1, null), null in (1);
select 1 is distinct from null, null is not distinct from null, true is true, null is unknown;
select true and null, false and null, true or null, not null::bool;
select cast('2024-01-02' as date), '2024-01-02 03:04:05.123456'::timestamp, '2024-01-02 03:04:05.12+02'::timestamptz;
select interval '1 day 2 hours', interval '-1 day', interval '1 year 2 months 3 days 04:05:06.5', interval '90 minutes';
select date '2024-01-31' + 1, date '2024-03-01' - date '2024-01-01', timestamp '2024-01-31 10:00' + interval '1 month';
select timestamp '2024-01-03' - timestamp '2024-01-01 12:00';
select '\\x0102ff'::bytea, 'abc'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid;
select 1.0::float8, 0.1::float4, 1e20::float8, 123.456::real, 'NaN'::float8, '-Infinity'::float8, 1e-10::float8;
select 'abc'::varchar(2), 'abc'::char(5), 'ab  '::char(2) = 'ab', length('abc '::char(5));
select 12.345::numeric(5,2), round(2.5), round(-2.5), round(1.2345, 2), abs(-3), upper('x'), lower('Y');
select 999.999::numeric(5,2);
select 'abc' = 1;
select 1 = 'a'::text;
select 10 / 0;
select 10.0 / 0;
select -2147483648::int4, (-2147483648)::int4, 32767::int2;
select 32767::int2 + 1::int2;
select 9223372036854775807 + 1;
select substr('hello', 2, 3), substring('hello', 2), replace('aXbX', 'X', '-'), concat('a', 1, null, true), 'a' || null;
select true::text, 1::bool, 't'::bool, 'yes'::boolean;
select 'x'::boolean;
select '1 2'::int;
select '99999999999'::int;
select ''::int;
select 1 as a, 2 as a order by 1;
select extract(year from timestamp '2024-03-05 10:11:12.5'), extract(second from timestamp '2024-03-05 10:11:12.5'), extract(epoch from timestamp '2024-03-05 10:11:12.5'), extract(dow from date '2024-03-05'), extract(epoch from date '2024-03-05'), extract(milliseconds from timestamp '2024-03-05 10:11:12.5');
select extract(hour from interval '1 day 3 hours'), extract(epoch from interval '1 day 3 hours'), date_part('month', timestamp '2024-03-05'), extract(week from date '2024-01-01'), extract(quarter from date '2024-05-01'), extract(doy from date '2024-03-01'), extract(second from time '10:00:01.25');
select extract(second from date '2024-01-01');
select date_trunc('month', timestamp '2024-03-05 10:11:12'), date_trunc('hour', timestamptz '2024-03-05 10:11:12+00'), date_trunc('week', timestamp '2024-03-07'), date_trunc('year', date '2024-03-07');
select extract(epoch from interval '1 year 2 months'), extract(month from interval '14 months'), extract(minute from interval '-1 hour -5 minutes');
select 'abc' ~ 'b', 'abc' ~* 'B', 'abc' !~ '^b', 'abc' !~* 'C$';
select trim('  x  '), trim(both 'x' from 'xxaxx'), ltrim('xxa', 'x'), position('b' in 'abc'), lpad('5', 3, '0'), rpad('ab', 5), split_part('a,b,c', ',', 2), initcap('hello wORLD'), left('abc', 2), right('abc', 2), length('abc');
select string_agg(x, ',') from (values ('a'), ('b')) v(x);
select round(123.456, -1), round(2.5::float8), trunc(2.7), ceil(2.1), floor(-2.1), sqrt(16), power(2, 10), mod(7, 3), sign(-3.5);
select upper(null), coalesce(null, null), nullif(null, 1), nullif('a', 'b'), nullif(2, 2.0);
select 'abc' || 1.5 || true;
select substring('hello' from 2 for 3), substring('hello' from 3);
select cast(3.7 as integer), cast('12' as bigint), '3'::numeric(3,1), 1::float4 / 3;
""",
    "tables": """
create table t1 (a int primary key, b text not null, c numeric(5,2), d varchar(3) default 'zz', e float8);
insert into t1 values ('x', 'b');
insert into t1 (a, b, c) values (1, 'one', 123.456), (2, 'two', 1), (3, 'three', null);
insert into t1 values (4, 'four', 12345.6);
insert into t1 values (5, 'five', 1, 'abcd');
insert into t1 values (5, 'five', 1, 'ab  ');
insert into t1 (a, b) values (6, null);
insert into t1 (a, b, zz) values (6, null);
insert into t1 values (7, 'x', 1, 'a', 2, 3);
insert into t1 (a,b) values (8, 8);
insert into t1 (a,b) values ('9'::text, 8);
insert into t1 values (1, 'dup');
select * from t1 order by a;
select a, b from t1 where a = 1 or b = 'two' order by b desc;
select a, c from t1 where c is null order by a;
select a + c, a * e, -a from t1 order by 1 nulls first, 3;
select b, count(*) from t1 group by b order by 2 desc, 1;
select a from t1 group by b;
select count(*) from t1 where a > 100;
select sum(a) from t1 where a > 100;
select d, count(*), sum(c), avg(c), min(b), max(a) from t1 group by d order by d;
select * from t1 order by d nulls first, a desc limit 2 offset 1;
update t1 set c = c * 2 where a = 1 returning a, c;
update t1 set a = 2 where a = 1;
update t1 set a = 10 where a = 1;
update t1 set b = null where a = 10;
select a from t1 order by a;
delete from t1 where a in (10, 2) returning *;
select a, b from t1 where b like 't%' order by a;
select a as x from t1 order by x desc;
select a, b from t1 order by c, a;
select distinct d from t1 order by d;
select * from t1 t where t.a = 3;
select t1.a from t1 x;
select zz from t1;
select * from public.t1 where a between 2 and 5 order by 1;
select * from nosuch;
select count(*), count(c), sum(e) from t1;
update t1 set e = 1.5 where a = 3;
select e, e * 2, e / 3, e + 1, c + e from t1 where a = 3;
create table t2 (id int primary key, t1a int, v text);
insert into t2 values (1, 3, 'p'), (2, 3, 'q'), (3, 8, 'r'), (4, 99, 's');
select t1.a, t2.v from t1 join t2 on t1.a = t2.t1a order by t2.v;
select t1.a, t2.v from t1 left join t2 on t1.a = t2.t1a order by 1, 2;
select t1.a, count(t2.id) from t1 left join t2 on t1.a = t2.t1a group by t1.a order by 1;
select a, v from t1, t2 where a = t1a and v > 'p' order by v;
select a, v from t1 right join t2 on a = t1a order by v;
select id from t2 where id = 1 and id = 2;
select * from t2 where id in (4, 1, 3) order by id desc;
create table a1 (id int primary key, x text);
create table b1 (id int primary key, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select * from a1 join b1 using (id);
select id, x, y from a1 left join b1 using (id) order by id;
select * from a1 natural join b1;
select a1.id, b1.id from a1 join b1 using (id);
select * from a1 join b1 using (nope);
select id from a1 right join b1 using (id) order by 1;
""",
    "queries": """
select avg(x) from (values (1)) v(x);
values (1, 'a'), (2, 'b') order by 1 desc;
select 1 union select 2 union select 1 order by 1;
select 1 union all select 1;
select 1 as x union select 'a';
select 1, 2 union select 3;
select 1.5 union select 2 order by 1 desc limit 1;
create table tt (id int primary key, v int);
insert into tt values (1, 1), (2, 2), (3, 2);
select v from tt intersect select 2;
select v from tt except select 2;
select v from tt intersect all select v from tt order by v;
with x as (select id, v from tt where v = 2) select count(*) from x;
with x(a) as (select id from tt) select a from x where a > 1 order by a;
select * from (select id, v * 10 as w from tt) s where w > 10 order by id;
select * from (select id from tt) as s join tt on s.id = tt.id order by 1;
select * from tt where v = (select max(v) from tt) order by id;
select * from tt where id in (select v from tt) order by id;
select * from tt where id not in (select v from tt) order by id;
select exists (select 1 from tt where v > 5), exists (select 1 from tt);
select (select id from tt);
select (select id from tt where id = 9);
insert into tt select id + 10, v from tt;
insert into tt (id) values (20), (21) union select 30;
select id from tt order by id;
select * from tt where id in (select 1 union select 2) order by 1;
select id, v from tt group by id having v > 1 order by v, id;
select -v, +v, @v from tt order by id limit 2;
select * from tt a where exists (select 1 from tt b where b.v = a.id) order by id;
select id, (select count(*) from tt b where b.v = a.id) as c from tt a order by id;
select id from tt a where v in (select b.id from tt b where b.id < a.id) order by id;
select id from tt a where not exists (select 1 from tt b where b.id = a.v + 1) order by id;
select id, (select v from tt b where b.id = a.id + 1) from tt a order by id;
select * from (select id from tt where tt.id = a.id) s;
select (select (select a.id + b.id from tt c where c.id = 1) from tt b where b.id = 2) from tt a order by 1;
""",
    "windows": """
create table w (id int primary key, g text, v int);
insert into w values (1, 'a', 10), (2, 'a', 20), (3, 'a', 20), (4, 'b', 5), (5, 'b', null), (6, 'c', 7);
select id, row_number() over (order by id) from w order by id;
select id, g, rank() over (partition by g order by v), dense_rank() over (partition by g order by v desc) from w order by id;
select id, sum(v) over (partition by g order by v), count(*) over (partition by g), avg(v) over () from w order by id;
select id, lag(v) over (order by id), lead(v, 2, -1) over (order by id) from w order by id;
select id, first_value(v) over (partition by g order by id), last_value(v) over (partition by g order by id) from w order by id;
select id, sum(v) over (order by id rows between unbounded preceding and current row) from w order by id;
select id, last_value(v) over (partition by g order by id rows between unbounded preceding and unbounded following) from w order by id;
select id, ntile(4) over (order by id), percent_rank() over (order by v), cume_dist() over (order by v) from w order by id;
select g, sum(v), rank() over (order by sum(v) desc) from w group by g order by g;
select id, row_number() over w from w window w as (partition by g order by id desc) order by id;
select id from w where row_number() over () > 1;
select row_number() from w;
select id, nth_value(v, 2) over (order by id) from w order by id;
select id, row_number() over (order by v desc nulls last) as rn from w order by rn;
""",
    "upsert_and_alter": """
create table up (id int primary key, n int, u text unique);
insert into up values (1, 1, 'a'), (2, 2, 'b');
insert into up values (1, 10, 'z') on conflict (id) do update set n = up.n + excluded.n returning *;
insert into up values (1, 10, 'z') on conflict do nothing;
insert into up values (3, 10, 'a') on conflict do nothing returning id;
insert into up values (3, 10, 'a') on conflict (u) do update set n = excluded.n returning *;
insert into up values (5, 1, 'q'), (5, 2, 'r') on conflict (id) do update set n = excluded.n;
insert into up values (2, 5, 'x') on conflict (id) do update set n = excluded.n where up.n > 100;
insert into up values (7, 5, 'x') on conflict (n) do update set n = 1;
insert into up values (7, 5, 'x') on conflict do update set n = 1;
insert into up values (7, 5, 'x') on conflict on constraint up_pkey do update set n = 1 returning n;
insert into up values (7, 5, 'x') on conflict on constraint up_pkey do update set n = 2 returning n;
insert into up values (8, 5, 'b') on conflict (id) do update set n = 1;
select * from up order by id;
create table al (id int primary key, a text);
insert into al values (1, 'x');
alter table al add column b int;
alter table al add column if not exists b int;
alter table al add column b int;
select * from al;
insert into al values (2, 'y', 5);
select * from al order by id;
alter table al rename column a to aa;
select aa, b from al order by id;
alter table al rename to al2;
select * from al2 order by id;
select * from al;
create schema s9;
alter table al2 set schema s9;
select count(*) from s9.al2;
alter table nosuch add column x int;
alter table if exists nosuch add column x int;
""",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def oracle():
    why = pg_oracle.available()
    if why:
        pytest.skip(why)
    psycopg = pytest.importorskip("psycopg")
    o = pg_oracle.Oracle(_free_port()).start()
    try:
        yield psycopg, o
    finally:
        o.stop()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_results_as_postgresql(oracle, name):
    psycopg, o = oracle
    conn = psycopg.connect(o.dsn, autocommit=True)
    conn.execute("drop schema public cascade; create schema public")
    cat = Catalog(store=MemoryStore())
    cat.bootstrap()
    s = SqlSession(catalog=cat, kv=MemKV(), limits=Limits())
    diffs = []
    for stmt in SCRIPTS[name].split(";\n"):
        stmt = stmt.strip()
        if not stmt:
            continue
        want = render_pg(conn.pgconn, stmt)
        got = render_ours(s, stmt)
        if want != got:
            diffs.append(f"{stmt}\n  postgres: {want}\n  ours:     {got}")
    conn.close()
    assert not diffs, "\n".join(diffs)


BINARY_CASES = [
    "1::int2", "-5::int4", "123456789012::int8", "true", "'ab'::char(4)", "'héllo'::varchar", "'x'::text",
    "'\\x00ff'::bytea", "1.5::float4", "-2.25::float8", "'Infinity'::float8", "123.4500::numeric",
    "-0.001::numeric", "0::numeric", "1e20::numeric", "'NaN'::numeric", "12345678.9::numeric(12,3)",
    "'2024-02-29'::date", "'1999-12-31'::date", "'12:34:56.789'::time", "'2024-01-02 03:04:05.678'::timestamp",
    "'2024-01-02 03:04:05+02'::timestamptz", "'1 year 2 mons 3 days 04:05:06.7'::interval",
    "'-1 days +02:00:00'::interval", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
]


def test_binary_and_text_formats_match_postgresql(oracle):
    """encode_binary/decode_binary/decode_text/encode_text agree with PostgreSQL byte for byte."""
    from services.compute.sql import types as T
    psycopg, o = oracle
    conn = psycopg.connect(o.dsn, autocommit=True)
    bad = []
    for c in BINARY_CASES:
        res = conn.pgconn.exec_params(f"select {c}".encode(), [], result_format=1)
        oid, pgbin = res.ftype(0), res.get_value(0, 0)
        text = conn.pgconn.exec_(f"select {c}".encode()).get_value(0, 0).decode()
        v = T.decode_text(oid, text)
        if T.encode_binary(oid, v) != pgbin or T.encode_text(oid, T.decode_binary(oid, pgbin)) != text:
            bad.append((c, pgbin, T.encode_binary(oid, v), text))
    conn.close()
    assert not bad, bad
