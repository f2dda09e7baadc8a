"""Fixtures of the compute tests: a real etcd server (for the catalog) started per test session."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ETCD_BIN = pathlib.Path(__file__).resolve().parents[3] / ".venv" / "bin" / "etcd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def etcd_endpoint():
    """host:port of a throwaway etcd (killed by its pid at teardown)."""
    if not ETCD_BIN.exists():
        pytest.skip(f"etcd binary not found at {ETCD_BIN}")
    data = tempfile.mkdtemp(prefix="etcd-test-")
    cport, pport = _free_port(), _free_port()
    proc = subprocess.Popen(
        [str(ETCD_BIN), "--data-dir", data, "--name", "test",
         "--listen-client-urls", f"http://127.0.0.1:{cport}", "--advertise-client-urls", f"http://127.0.0.1:{cport}",
         "--listen-peer-urls", f"http://127.0.0.1:{pport}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-cluster", f"test=http://127.0.0.1:{pport}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{cport}"
    try:
        import pyetcd
        deadline = time.monotonic() + 30
        while True:
            try:
                c = pyetcd.client(host="127.0.0.1", port=cport, timeout=2)
                c.status()
                c.close()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("etcd did not start")
                time.sleep(0.1)
        yield endpoint
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        subprocess.run(["rm", "-rf", data], check=False)


_counter = [0]


@pytest.fixture
def etcd_catalog(etcd_endpoint):
    """A Catalog on the test etcd, in a database of its own (so tests do not see each other)."""
    from services.compute.catalog import Catalog
    _counter[0] += 1
    cat = Catalog((etcd_endpoint,), database=f"db{os.getpid()}_{_counter[0]}")
    cat.bootstrap()
    yield cat
    cat.close()
