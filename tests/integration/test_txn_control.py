"""Transaction control as drivers use it, DDL/DML rules and OC001, and the compute's transaction
metrics, through the real cluster."""

from __future__ import annotations

import urllib.request

import psycopg
import pytest
from psycopg import IsolationLevel


def test_driver_isolation_levels_and_read_only(connect, schema):
    setup = connect(autocommit=True)
    setup.execute(f"DROP TABLE IF EXISTS {schema}.ctl_iso")
    setup.execute(f"CREATE TABLE {schema}.ctl_iso (id int PRIMARY KEY)")
    for level in IsolationLevel:
        conn = connect()
        conn.isolation_level = level          # psycopg sends BEGIN ISOLATION LEVEL ...
        assert conn.execute("SHOW transaction_isolation").fetchone() == ("repeatable read",)
        conn.execute(f"INSERT INTO {schema}.ctl_iso VALUES (%s)", (level.value,))
        conn.commit()
    ro = connect()
    ro.read_only = True                       # BEGIN READ ONLY
    assert ro.execute("SHOW transaction_read_only").fetchone() == ("on",)
    assert ro.execute(f"SELECT count(*) FROM {schema}.ctl_iso").fetchone() == (4,)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        ro.execute(f"DELETE FROM {schema}.ctl_iso")
    ro.rollback()
    with connect(autocommit=True) as conn:
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(f"INSERT INTO {schema}.ctl_iso VALUES (99)")
        conn.execute("BEGIN READ WRITE")
        conn.execute(f"INSERT INTO {schema}.ctl_iso VALUES (99)")
        conn.execute("END")
    assert setup.execute(f"SELECT count(*) FROM {schema}.ctl_iso").fetchone() == (5,)


def test_nested_transactions_need_savepoints_which_are_unsupported(connect):
    conn = connect()
    with pytest.raises(psycopg.errors.FeatureNotSupported) as ei:
        with conn.transaction():
            with conn.transaction():         # psycopg 3 uses SAVEPOINT here
                pass
    assert ei.value.diag.message_primary == "SAVEPOINT not supported"


def test_ddl_rules_and_oc001(connect, schema):
    setup = connect(autocommit=True)
    setup.execute(f"DROP TABLE IF EXISTS {schema}.ctl_ddl")
    setup.execute(f"DROP TABLE IF EXISTS {schema}.ctl_ddl2")
    setup.execute(f"CREATE TABLE {schema}.ctl_ddl (id int PRIMARY KEY)")
    conn = connect()
    conn.execute(f"INSERT INTO {schema}.ctl_ddl VALUES (1)")
    with pytest.raises(psycopg.errors.FeatureNotSupported) as ei:
        conn.execute(f"CREATE TABLE {schema}.ctl_ddl2 (id int PRIMARY KEY)")
    assert ei.value.diag.message_primary == "ddl and dml are not supported in the same transaction"
    conn.rollback()
    conn.execute(f"CREATE TABLE {schema}.ctl_ddl2 (id int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute(f"CREATE TABLE {schema}.ctl_ddl3 (id int PRIMARY KEY)")     # one DDL per transaction
    conn.rollback()
    # DML racing a DDL on the same schema: 40001 OC001 at COMMIT, nothing written
    writer = connect()
    writer.execute(f"INSERT INTO {schema}.ctl_ddl VALUES (2)")
    setup.execute(f"CREATE TABLE {schema}.ctl_ddl2 (id int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.SerializationFailure) as ei:
        writer.commit()
    assert ei.value.diag.message_primary == \
        "schema has been updated by another transaction, retry as needed (OC001)"
    assert setup.execute(f"SELECT count(*) FROM {schema}.ctl_ddl").fetchone() == (0,)
    writer.execute(f"INSERT INTO {schema}.ctl_ddl VALUES (2)")        # the retry succeeds
    writer.commit()


def _metrics(config) -> dict[str, float]:
    """Compute metrics summed over every AZ (sessions land on any relay, so on any compute)."""
    out: dict[str, float] = {}
    for az, services in config.azs.items():
        ep = services.get("compute")
        if ep is None:
            continue
        text = urllib.request.urlopen(f"http://{ep.host}:{ep.metrics_port}/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith("dsql_compute_transaction"):
                name, _, value = line.rpartition(" ")
                out[name] = out.get(name, 0.0) + float(value)
    return out


def test_transaction_metrics(dsql_cluster, connect, schema):
    setup = connect(autocommit=True)
    setup.execute(f"DROP TABLE IF EXISTS {schema}.ctl_metrics")
    setup.execute(f"CREATE TABLE {schema}.ctl_metrics (id int PRIMARY KEY, n int)")
    setup.execute(f"INSERT INTO {schema}.ctl_metrics VALUES (1, 0)")
    before = _metrics(dsql_cluster)
    a, b = connect(), connect()
    a.execute(f"UPDATE {schema}.ctl_metrics SET n = 1 WHERE id = 1")
    b.execute(f"UPDATE {schema}.ctl_metrics SET n = 2 WHERE id = 1")
    a.commit()
    with pytest.raises(psycopg.errors.SerializationFailure):
        b.commit()
    after = _metrics(dsql_cluster)

    def delta(name):
        return after.get(name, 0.0) - before.get(name, 0.0)
    assert delta('dsql_compute_transactions_committed_total{kind="read_write"}') >= 1
    assert delta('dsql_compute_transactions_aborted_total{reason="OC000"}') >= 1
    assert delta("dsql_compute_transaction_rows_count") >= 1
    assert delta("dsql_compute_transaction_bytes_count") >= 1
    assert delta("dsql_compute_transaction_age_seconds_count") >= 1
    assert "dsql_compute_transaction_conflict_ratio" in after
    assert after.get('dsql_compute_transaction_limit{limit="rows"}', 0) >= 10_000
