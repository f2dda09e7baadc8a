"""`dsql up` in the foreground prints how to connect and stops every process on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from services.launcher import cluster

from .conftest import DSQL


def test_foreground_up_prints_connect_info_and_ctrl_c_stops_everything(tmp_path):
    state = tmp_path / "fg"
    proc = subprocess.Popen([*DSQL, "--state-dir", str(state), "up", "--port", str(cluster.free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "Press Ctrl-C" in output, output
        assert "psql \"host=localhost" in output and "sslmode=verify-full" in output
        assert "PGPASSWORD='localhost/?Action=DbConnectAdmin&" in output
        assert "import psycopg" in output
        pids = [p["pid"] for p in json.loads((state / "processes.json").read_text())]
        assert len(pids) == 13
        assert all(cluster.pid_alive(pid) for pid in pids)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 5
        while any(cluster.pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in pids if cluster.pid_alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run([*DSQL, "--state-dir", str(state), "down"], capture_output=True, timeout=60)
