"""Async index builds (services/compute/jobs.py) on a real etcd with the in-memory KV: the job
record and the write-only index appear together, runners claim jobs through leases, a build
resumes where a dead runner stopped, cancel and duplicate failures leave the index invalid,
writes during the build are indexed, and queries use the index only once it is valid."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from services.common.config import Limits
from services.common.errors import PgError
from services.compute import jobs
from services.compute.catalog import INDEX_INVALID, INDEX_VALID, INDEX_WRITE_ONLY
from services.compute.sql.session import SqlSession

from .memkv import MemKV

LIMITS = Limits(index_build_grace_ms=0, job_lease_ttl_s=2, index_build_batch_rows=7)


@pytest.fixture
def kv():
    return MemKV()


@pytest.fixture
def session(etcd_catalog, kv):
    return SqlSession(catalog=etcd_catalog, kv=kv, user="admin", database=etcd_catalog.database, limits=LIMITS)


def sql(s, text, params=()):
    return s.execute_sql(text, params)[-1]


def fill(s, n=50):
    sql(s, "CREATE TABLE t (id int PRIMARY KEY, a int, b text)")
    sql(s, "INSERT INTO t VALUES " + ", ".join(f"({g}, {g % 10}, 'v{g}')" for g in range(1, n + 1)))


def index_of(catalog, name):
    catalog.refresh()
    t = catalog.get_table("public", "t")
    return next(ix for ix in t.indexes if ix.name == name)


def entries(kv, catalog, name):
    """The stored entries of an index (its key range), read at the latest snapshot."""
    from services.common import keycodec
    ix = index_of(catalog, name)
    prefix = keycodec.object_prefix(ix.id)
    return list(kv.begin().scan(prefix, keycodec.prefix_end(prefix)))


def test_create_index_async_returns_a_job_and_a_write_only_index(session, etcd_catalog):
    fill(session)
    r = sql(session, "CREATE INDEX ASYNC ON t (a)")
    assert [c.name for c in r.columns] == ["job_id"] and r.tag == "CREATE INDEX"
    (job_id,), = r.rows
    assert len(job_id) == 26 and job_id.isalnum() and job_id == job_id.lower()
    ix = index_of(etcd_catalog, "t_a_idx")                 # the guide's automatic name
    assert ix.state == INDEX_WRITE_ONLY and ix.job_id == job_id and not ix.valid
    assert sql(session, "SELECT job_id, status, details FROM sys.jobs").rows == [(job_id, "submitted", None)]
    # a second unnamed index on the same column gets a number, as in PostgreSQL
    (second,), = sql(session, "CREATE INDEX ASYNC ON t (a)").rows
    assert index_of(etcd_catalog, "t_a_idx1").job_id == second
    # a query does not use the write-only index
    assert "t_a_idx" not in "\n".join(r[0] for r in sql(session, "EXPLAIN SELECT * FROM t WHERE a = 3").rows)


def test_non_async_create_index_needs_an_empty_table(session):
    fill(session, 3)
    with pytest.raises(PgError) as e:
        sql(session, "CREATE INDEX ix ON t (a)")
    assert (e.value.sqlstate, e.value.message) == ("0A000", "use CREATE INDEX ASYNC instead")


def test_full_lifecycle_with_writes_during_the_build(session, etcd_catalog, kv):
    fill(session)
    (job_id,), = sql(session, "CREATE INDEX ASYNC ix_a ON t (a) INCLUDE (b)").rows
    # writes before the build starts must be indexed by the write path (write-only index)
    sql(session, "INSERT INTO t VALUES (1000, 3, 'new')")
    sql(session, "UPDATE t SET a = 3 WHERE id = 1")
    sql(session, "DELETE FROM t WHERE id = 13")
    runner = jobs.JobRunner(etcd_catalog, kv, LIMITS, owner="test/1")
    assert runner.run_pending() == 1
    assert sql(session, "SELECT status, details FROM sys.jobs WHERE job_id = $1", (job_id,)).rows == \
        [("completed", None)]
    assert sql(session, "SELECT sys.wait_for_job($1)", (job_id,)).rows == [(True,)]
    r = sql(session, f"CALL sys.wait_for_job('{job_id}')")
    assert (r.tag, r.rows, r.columns[0].name) == ("CALL", [(True,)], "wait_for_job")
    assert index_of(etcd_catalog, "ix_a").state == INDEX_VALID
    assert len(entries(kv, etcd_catalog, "ix_a")) == 50            # 50 rows + 1 inserted - 1 deleted
    plan = "\n".join(r[0] for r in sql(session, "EXPLAIN SELECT id FROM t WHERE a = 3").rows)
    assert "ix_a" in plan
    got = sorted(r[0] for r in sql(session, "SELECT id FROM t WHERE a = 3").rows)
    assert got == sorted([i for i in range(1, 51) if i % 10 == 3 and i != 13] + [1, 1000])
    job = jobs.read_job(etcd_catalog, job_id)
    assert job.rows_done == 50 and job.owner == "test/1" and job.finished_at is not None


def test_a_build_resumes_where_a_dead_runner_stopped(session, etcd_catalog, kv):
    fill(session)
    (job_id,), = sql(session, "CREATE INDEX ASYNC ix_b ON t (b)").rows
    first = jobs.JobRunner(etcd_catalog, kv, LIMITS, owner="dies/1")
    batches = []
    real_batch = first._batch

    def batch_then_die(*args):
        if len(batches) == 2:
            first._stop.set()                  # the process "dies" after two batches
        batches.append(args)
        return real_batch(*args)
    first._batch = batch_then_die
    lease = etcd_catalog.store.claim(jobs.claim_key(etcd_catalog.database, job_id), b"dies/1", LIMITS.job_lease_ttl_s)
    first._run(job_id, lease)                  # leaves the claim to expire, as a killed process does
    job = jobs.read_job(etcd_catalog, job_id)
    assert (job.status, job.rows_done, job.owner) == ("processing", 21, "dies/1")
    second = jobs.JobRunner(etcd_catalog, kv, LIMITS, owner="takes-over/2")
    assert second.run_pending() == 0           # the dead runner's lease still holds the claim
    deadline = time.monotonic() + 10
    while second.run_pending() == 0:
        assert time.monotonic() < deadline, "the claim never expired"
        time.sleep(0.2)
    job = jobs.read_job(etcd_catalog, job_id)
    assert (job.status, job.rows_done, job.owner) == ("completed", 50, "takes-over/2")
    assert len(entries(kv, etcd_catalog, "ix_b")) == 50


def test_cancel_leaves_the_index_invalid(session, etcd_catalog, kv):
    fill(session)
    (job_id,), = sql(session, "CREATE INDEX ASYNC ix_c ON t (a)").rows
    r = sql(session, f"CALL sys.cancel_job('{job_id}')")
    assert (r.tag, r.rows, r.columns) == ("CALL", [], None)
    assert sql(session, "SELECT status FROM sys.jobs").rows == [("cancelled",)]
    assert index_of(etcd_catalog, "ix_c").state == INDEX_INVALID
    assert jobs.JobRunner(etcd_catalog, kv, LIMITS).run_pending() == 0
    assert sql(session, "SELECT sys.wait_for_job($1)", (job_id,)).rows == [(False,)]
    with pytest.raises(PgError) as e:
        sql(session, f"SELECT sys.cancel_job('{job_id}')")
    assert e.value.sqlstate == "55000"
    with pytest.raises(PgError) as e:
        sql(session, "CALL sys.wait_for_job('nosuchjob')")
    assert (e.value.sqlstate, e.value.message) == ("42704", 'job "nosuchjob" does not exist')
    sql(session, "DROP INDEX ix_c")


def test_unique_build_over_duplicates_fails_with_details(session, etcd_catalog, kv):
    fill(session)                               # a = id % 10: duplicated
    (job_id,), = sql(session, "CREATE UNIQUE INDEX ASYNC ux ON t (a)").rows
    jobs.JobRunner(etcd_catalog, kv, LIMITS).run_pending()
    (status, details), = sql(session, "SELECT status, details FROM sys.jobs WHERE job_id = $1", (job_id,)).rows
    assert status == "failed"
    assert details.startswith('could not create unique index "ux": Key (a)=(') and details.endswith("is duplicated.")
    assert index_of(etcd_catalog, "ux").state == INDEX_INVALID
    assert sql(session, "SELECT sys.wait_for_job($1)", (job_id,)).rows == [(False,)]


def test_unique_build_over_distinct_values_enforces_uniqueness(session, etcd_catalog, kv):
    fill(session)
    sql(session, "UPDATE t SET b = NULL WHERE id < 3")                # NULLs are distinct by default
    (job_id,), = sql(session, "CREATE UNIQUE INDEX ASYNC ub ON t (b NULLS FIRST)").rows
    jobs.JobRunner(etcd_catalog, kv, LIMITS).run_pending()
    assert jobs.read_job(etcd_catalog, job_id).status == "completed"
    with pytest.raises(PgError) as e:
        sql(session, "INSERT INTO t VALUES (500, 1, 'v7')")
    assert e.value.sqlstate == "23505" and 'constraint "ub"' in e.value.message
    assert sql(session, "SELECT id FROM t WHERE b = 'v7'").rows == [(7,)]


def test_nulls_not_distinct_counts_nulls_as_duplicates(session, etcd_catalog, kv):
    fill(session, 5)
    sql(session, "UPDATE t SET b = NULL WHERE id < 3")
    (job_id,), = sql(session, "CREATE UNIQUE INDEX ASYNC un ON t (b) NULLS NOT DISTINCT").rows
    jobs.JobRunner(etcd_catalog, kv, LIMITS).run_pending()
    job = jobs.read_job(etcd_catalog, job_id)
    assert job.status == "failed" and "Key (b)=(null) is duplicated." in job.details


def test_wait_for_job_blocks_until_a_runner_finishes(session, etcd_catalog, kv):
    fill(session)
    (job_id,), = sql(session, "CREATE INDEX ASYNC ix_w ON t (a)").rows
    runner = jobs.JobRunner(etcd_catalog, kv, LIMITS, poll_s=0.05)
    timer = threading.Timer(0.3, runner.start)
    timer.start()
    try:
        assert sql(session, f"CALL sys.wait_for_job('{job_id}')").rows == [(True,)]
    finally:
        timer.join()
        runner.stop()
    assert "ix_w" in "\n".join(r[0] for r in sql(session, "EXPLAIN SELECT * FROM t WHERE a = 1").rows)


def test_dropping_the_index_cancels_its_job(session, etcd_catalog, kv):
    fill(session)
    (job_id,), = sql(session, "CREATE INDEX ASYNC ix_d ON t (a)").rows
    sql(session, "DROP INDEX ix_d")
    jobs.JobRunner(etcd_catalog, kv, LIMITS).run_pending()
    job = jobs.read_job(etcd_catalog, job_id)
    assert (job.status, job.details) == ("cancelled", 'index "ix_d" was dropped')


def test_finished_jobs_are_purged_after_the_retention(session, etcd_catalog, kv):
    fill(session, 3)
    (old,), = sql(session, "CREATE INDEX ASYNC ix_p ON t (a)").rows
    jobs.cancel_job(etcd_catalog, old)
    assert jobs.purge_finished(etcd_catalog, LIMITS.job_retention_s) == 0
    assert jobs.purge_finished(etcd_catalog, LIMITS.job_retention_s, now=time.time() + 31 * 60) == 1
    assert sql(session, "SELECT count(*) FROM sys.jobs").rows == [(0,)]


def test_unknown_sys_procedures_are_refused(session):
    with pytest.raises(PgError) as e:
        sql(session, "CALL sys.nope('x')")
    assert e.value.sqlstate == "42883"
    with pytest.raises(PgError) as e:
        sql(session, "SELECT sys.wait_for_job(1)")
    assert e.value.sqlstate == "42883"
