"""After `dsql down` and `dsql up` every committed row is still there (the journal log is durable)."""

from __future__ import annotations

import subprocess

from .conftest import DSQL


def test_committed_data_survives_a_full_restart(dsql_cluster, connect, schema):
    conn = connect(autocommit=True)
    conn.execute(f"CREATE TABLE {schema}.keep (id int PRIMARY KEY, v text)")
    for i in range(20):
        conn.execute(f"INSERT INTO {schema}.keep VALUES (%s, %s)", (i, f"v{i}"))
    conn.execute(f"UPDATE {schema}.keep SET v = 'changed' WHERE id = 3")
    conn.execute(f"DELETE FROM {schema}.keep WHERE id = 4")
    conn.close()

    state = dsql_cluster.state_dir
    subprocess.run([*DSQL, "--state-dir", state, "down"], check=True, capture_output=True, timeout=120)
    up = subprocess.run([*DSQL, "--state-dir", state, "up", "--detach"], capture_output=True, text=True,
                        timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr

    conn = connect(autocommit=True)
    rows = conn.execute(f"SELECT id, v FROM {schema}.keep ORDER BY id").fetchall()
    assert len(rows) == 19
    assert (3, "changed") in rows and all(r[0] != 4 for r in rows)
