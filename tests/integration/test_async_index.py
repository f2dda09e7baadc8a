"""CREATE INDEX ASYNC on the real cluster, through the relay with psycopg and psql: the job id at
once, sys.jobs, sys.wait_for_job (CALL and SELECT), the index valid and used by queries afterwards;
cancel; a unique build over duplicates failing with details; and a build that survives killing
the compute that runs it (another compute takes the job over from its saved progress)."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import sys
import time

import psycopg
import pytest

from services.launcher import cluster


@pytest.fixture
def conn(connect):
    return connect(autocommit=True)


def make_table(conn, schema, name, rows, unique_a=False):
    t = f"{schema}.{name}"
    conn.execute(f"DROP TABLE IF EXISTS {t}")
    conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, a int, b text)")
    values = ", ".join(f"({i}, {i if unique_a else i % 10}, 'v{i}')" for i in range(1, rows + 1))
    conn.execute(f"INSERT INTO {t} VALUES {values}")
    return t


def plan(conn, query) -> str:
    return "\n".join(r[0] for r in conn.execute(f"EXPLAIN {query}").fetchall())


def job_record(config, job_id) -> dict:
    import pyetcd
    host, port = config.etcd_endpoints[0].split("://")[-1].rsplit(":", 1)
    c = pyetcd.client(host=host, port=int(port))
    try:
        value, _ = c.get(f"/dsql/jobs/postgres/{job_id}")
        return json.loads(value)
    finally:
        c.close()


def test_lifecycle(conn, schema, psql):
    t = make_table(conn, schema, "aidx_life", 300)
    cur = conn.execute(f"CREATE INDEX ASYNC ON {t} (a) INCLUDE (b)")
    assert [d.name for d in cur.description] == ["job_id"] and cur.statusmessage == "CREATE INDEX"
    (job_id,) = cur.fetchone()
    assert len(job_id) == 26
    status = conn.execute("SELECT status FROM sys.jobs WHERE job_id = %s", (job_id,)).fetchone()[0]
    assert status in ("submitted", "processing", "completed")
    # while the index is being built, writes maintain it
    conn.execute(f"INSERT INTO {t} VALUES (1000, 3, 'late')")
    conn.execute(f"DELETE FROM {t} WHERE id = 13")
    assert conn.execute("SELECT sys.wait_for_job(%s)", (job_id,)).fetchone() == (True,)
    assert conn.execute("SELECT job_id, status, details FROM sys.jobs WHERE job_id = %s",
                        (job_id,)).fetchall() == [(job_id, "completed", None)]
    assert "aidx_life_a_idx" in plan(conn, f"SELECT id FROM {t} WHERE a = 3")
    got = sorted(r[0] for r in conn.execute(f"SELECT id FROM {t} WHERE a = 3"))
    assert got == sorted([i for i in range(1, 301) if i % 10 == 3 and i != 13] + [1000])
    # psql prints the job id as the guide shows, and CALL waits too
    out = psql("-c", f"CREATE INDEX ASYNC aidx_life_b ON {t} (b NULLS FIRST)").stdout
    job2 = out.splitlines()[2].strip()
    assert out.splitlines()[0].strip() == "job_id" and len(job2) == 26
    assert psql("-At", "-c", f"CALL sys.wait_for_job('{job2}')").stdout.strip() == "t"
    assert conn.execute(f"SELECT a FROM {t} WHERE b = 'v42'").fetchall() == [(2,)]
    conn.execute(f"DROP TABLE {t}")


def test_non_async_index_on_a_table_with_rows_is_refused(conn, schema):
    t = make_table(conn, schema, "aidx_sync", 2)
    with pytest.raises(psycopg.errors.FeatureNotSupported) as e:
        conn.execute(f"CREATE INDEX aidx_sync_a ON {t} (a)")
    assert e.value.diag.message_primary == "use CREATE INDEX ASYNC instead"
    conn.execute(f"DROP TABLE {t}")


def test_cancel(conn, schema):
    t = make_table(conn, schema, "aidx_cancel", 200)
    conn.execute("SET dsql.index_build_batch_rows = 1")      # a slow build, so it is still running
    (job_id,) = conn.execute(f"CREATE INDEX ASYNC aidx_cancel_a ON {t} (a)").fetchone()
    conn.execute("CALL sys.cancel_job(%s)", (job_id,))
    assert conn.execute("SELECT status FROM sys.jobs WHERE job_id = %s", (job_id,)).fetchone() == ("cancelled",)
    assert conn.execute("SELECT sys.wait_for_job(%s)", (job_id,)).fetchone() == (False,)
    assert "aidx_cancel_a" not in plan(conn, f"SELECT id FROM {t} WHERE a = 3")
    with pytest.raises(psycopg.Error) as e:
        conn.execute("CALL sys.cancel_job(%s)", (job_id,))
    assert e.value.sqlstate == "55000"
    conn.execute("DROP INDEX " + f"{schema}.aidx_cancel_a")
    conn.execute(f"DROP TABLE {t}")


def test_unique_index_over_duplicates_fails_with_details(conn, schema):
    t = make_table(conn, schema, "aidx_dup", 50)
    (job_id,) = conn.execute(f"CREATE UNIQUE INDEX ASYNC aidx_dup_a ON {t} (a)").fetchone()
    assert conn.execute("SELECT sys.wait_for_job(%s)", (job_id,)).fetchone() == (False,)
    status, details = conn.execute("SELECT status, details FROM sys.jobs WHERE job_id = %s", (job_id,)).fetchone()
    assert status == "failed"
    assert details.startswith('could not create unique index "aidx_dup_a": Key (a)=(') and "is duplicated" in details
    # the guide: a failed index stays (invalid) until dropped; queries do not use it
    assert "aidx_dup_a" not in plan(conn, f"SELECT id FROM {t} WHERE a = 3")
    conn.execute(f"DROP INDEX {schema}.aidx_dup_a")
    (job_id,) = conn.execute(f"CREATE UNIQUE INDEX ASYNC aidx_dup_b ON {t} (b)").fetchone()
    assert conn.execute("SELECT sys.wait_for_job(%s)", (job_id,)).fetchone() == (True,)
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(f"INSERT INTO {t} VALUES (100, 1, 'v7')")
    conn.execute(f"DROP TABLE {t}")


def _restart_compute(config, pid: int) -> int:
    """kill -9 one compute and start it again as the launcher does; the new pid."""
    state = pathlib.Path(config.state_dir)
    procs = cluster.read_procs(state)
    proc = next(p for p in procs if p.pid == pid and p.service == "compute")
    os.kill(pid, signal.SIGKILL)
    while cluster.pid_alive(pid):
        cluster._reap(pid)
        time.sleep(0.05)
    new_pid = cluster._spawn(config, proc.name, [sys.executable, "-m", "services.compute",
                                                 "--config", str(state / "cluster.json"), "--az", proc.az])
    cluster._write_procs(state, [dataclasses.replace(p, pid=new_pid) if p is proc else p for p in procs])
    ep = config.endpoint(proc.az, "compute")
    deadline = time.monotonic() + 60
    while not cluster.port_open(ep.host, ep.grpc_port):
        assert time.monotonic() < deadline, "the restarted compute did not listen"
        time.sleep(0.1)
    return new_pid


def test_build_survives_a_compute_restart(dsql_cluster, connect, schema):
    conn = connect(autocommit=True)
    t = make_table(conn, schema, "aidx_restart", 600)
    conn.execute("SET dsql.index_build_batch_rows = 3")      # ~200 batches: long enough to kill mid-way
    (job_id,) = conn.execute(f"CREATE INDEX ASYNC aidx_restart_a ON {t} (a)").fetchone()
    conn.close()
    deadline = time.monotonic() + 60
    while True:
        rec = job_record(dsql_cluster, job_id)
        if rec["status"] == "processing" and rec["rows_done"] >= 30:
            break
        assert rec["status"] in ("submitted", "processing"), rec
        assert time.monotonic() < deadline, rec
        time.sleep(0.05)
    first_owner = rec["owner"]
    _restart_compute(dsql_cluster, int(first_owner.split("/")[1]))
    conn = connect(autocommit=True)
    assert conn.execute("SELECT sys.wait_for_job(%s)", (job_id,)).fetchone() == (True,)
    rec = job_record(dsql_cluster, job_id)
    assert rec["owner"] != first_owner and rec["rows_done"] >= 600
    assert "aidx_restart_a" in plan(conn, f"SELECT id FROM {t} WHERE a = 7")
    for a in (0, 7):
        got = sorted(r[0] for r in conn.execute(f"SELECT id FROM {t} WHERE a = %s", (a,)))
        assert got == [i for i in range(1, 601) if i % 10 == a]
    conn.execute(f"DROP TABLE {t}")
