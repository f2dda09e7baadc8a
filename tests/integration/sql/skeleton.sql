-- Issue 2's SQL, run by psql against our cluster and against PostgreSQL 15; outputs must match.
CREATE SCHEMA :"schema";
CREATE TABLE :"schema".kinds (
  id integer PRIMARY KEY,
  s smallint, b bigint, flag boolean, c char(4), vc varchar(10), t text, raw bytea,
  r real, d double precision, n numeric(10,3), day date, tod time, ts timestamp,
  tstz timestamptz, span interval, u uuid
);
INSERT INTO :"schema".kinds VALUES
  (1, 7, 9000000000, true, 'ab', 'hello', 'text one', '\xdeadbeef', 1.5, 3.141592653589793, 12.3456,
   '2024-02-29', '13:14:15.5', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05+02', '1 day 2 hours',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, -3, -1, false, 'wxyz', '', '', '', -0.25, 1e100, -0.0005, '1999-12-31', '00:00:00', '2000-01-01',
   '2000-01-01 00:00:00+00', '-3 days 04:05:06', '00000000-0000-0000-0000-000000000000'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM :"schema".kinds ORDER BY id;
SELECT id, s + 1, b * 2, NOT flag, c || '|', length(vc), upper(t), r * 2, d / 3, n * 2, day + 1, ts + span
  FROM :"schema".kinds ORDER BY id;
SELECT count(*), count(s), sum(s), sum(b), min(vc), max(t), avg(s), avg(d), sum(n), avg(n) FROM :"schema".kinds;

CREATE TABLE :"schema".orders (
  region text NOT NULL, id bigint NOT NULL, amount numeric(12,2) DEFAULT 0, note varchar(20),
  created timestamp DEFAULT '2024-05-01 00:00:00',
  PRIMARY KEY (region, id)
);
INSERT INTO :"schema".orders (region, id, amount, note) VALUES
  ('eu', 1, 10.50, 'first'), ('eu', 2, 20, NULL), ('us', 1, 5.25, 'x'), ('us', 2, 99.99, 'big'),
  ('ap', 7, 0.01, 'tiny') RETURNING region, id, amount, created;
INSERT INTO :"schema".orders (region, id) VALUES ('us', 3) RETURNING *;
SELECT region, id, amount FROM :"schema".orders WHERE region = 'us' ORDER BY id DESC;
SELECT * FROM :"schema".orders WHERE region = 'eu' AND id = 2;
SELECT region, count(*), sum(amount), min(amount), max(amount), avg(amount)
  FROM :"schema".orders GROUP BY region ORDER BY region;
SELECT region, sum(amount) AS total FROM :"schema".orders GROUP BY region HAVING sum(amount) > 10 ORDER BY total DESC;
SELECT id, amount FROM :"schema".orders ORDER BY amount DESC NULLS LAST, id LIMIT 3 OFFSET 1;
SELECT note, amount FROM :"schema".orders ORDER BY note NULLS FIRST, 2;
SELECT region || '-' || id AS k, amount * 2 AS double_amount FROM :"schema".orders WHERE amount BETWEEN 1 AND 50 ORDER BY k;
SELECT id FROM :"schema".orders WHERE note IS NULL OR note LIKE 'f%' ORDER BY region, id;
SELECT id, CASE WHEN amount > 50 THEN 'high' WHEN amount > 5 THEN 'mid' ELSE 'low' END FROM :"schema".orders ORDER BY region, id;
SELECT COALESCE(note, '(none)'), amount::int, CAST(amount AS text) FROM :"schema".orders WHERE region IN ('eu', 'ap') ORDER BY 1;
UPDATE :"schema".orders SET amount = amount + 1, note = 'upd' WHERE region = 'eu' RETURNING region, id, amount, note;
UPDATE :"schema".orders SET amount = 0 WHERE id > 100;
DELETE FROM :"schema".orders WHERE region = 'us' AND id = 1 RETURNING *;
DELETE FROM :"schema".orders WHERE amount < 1;
SELECT * FROM :"schema".orders ORDER BY region, id;
SELECT 1 AS one, 'two' AS two, 3.0 AS three, NULL AS four, 2 + 3 * 4, 7 / 2, 7 % 3, 7.0 / 2, -5 + 2;
SELECT gen_random_uuid() IS NOT NULL AS has_uuid;

-- Errors (SQLSTATE and message) must match too.
\set ON_ERROR_STOP 0
INSERT INTO :"schema".orders (region, id) VALUES ('eu', 1);
INSERT INTO :"schema".orders (region, id, note) VALUES ('eu', 9, 'this note is far too long');
INSERT INTO :"schema".orders (id) VALUES (5);
SELECT * FROM :"schema".missing;
SELECT no_such_column FROM :"schema".orders;
SELECT 1 / 0;
SELECT 'abc'::integer;
SELECT 2147483647::integer + 1;
INSERT INTO :"schema".kinds (id, s) VALUES (10, 40000);
SELECT * FROM :"schema".orders ORDER BY region, id;
