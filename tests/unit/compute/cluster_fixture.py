"""Start real journal and storage processes on free ports for tests of the data path."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import grpc

from services.common.config import ClusterConfig, Endpoint
from services.pb.dsql.journal.v1 import journal_pb2 as jpb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as jgrpc
from services.pb.dsql.storage.v1 import storage_pb2 as spb
from services.pb.dsql.storage.v1 import storage_pb2_grpc as sgrpc

REPO = pathlib.Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_config(state_dir: pathlib.Path, azs=("az1",), **kw) -> ClusterConfig:
    return ClusterConfig(
        cluster_id="test", region="us-east-1", state_dir=str(state_dir), client_host="127.0.0.1",
        client_port=free_port(), etcd_endpoints=("127.0.0.1:1",), tls_cert="x", tls_key="x",
        tls_ca="x", credentials_file="x",
        azs={az: {svc: Endpoint("127.0.0.1", free_port(), free_port())
                  for svc in ("relay", "compute", "journal", "storage")} for az in azs},
        **kw)


class Cluster:
    """Processes by (az, service); kill by pid."""

    def __init__(self, state_dir: pathlib.Path, azs=("az1",), **kw):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.config = make_config(state_dir, azs, **kw)
        self.path = state_dir / "cluster.json"
        self.path.write_text(self.config.to_json())
        self.procs: dict[tuple[str, str], subprocess.Popen] = {}
        self.logs = state_dir / "logs"
        self.logs.mkdir(exist_ok=True)

    def start(self, az: str, service: str, wait: bool = True) -> subprocess.Popen:
        log = open(self.logs / f"{az}-{service}.log", "ab")
        p = subprocess.Popen([sys.executable, "-m", f"services.{service}", "--config", str(self.path),
                              "--az", az], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
        self.procs[(az, service)] = p
        if wait:
            self.wait_ready(az, service)
        return p

    def wait_ready(self, az: str, service: str, timeout: float = 20.0) -> None:
        target = self.config.endpoint(az, service).grpc_target
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(target) as ch:
            if service == "journal":
                call = lambda: jgrpc.JournalStub(ch).Status(jpb.StatusRequest(), timeout=1)
            else:
                call = lambda: sgrpc.StorageStub(ch).Status(spb.StatusRequest(), timeout=1)
            while True:
                p = self.procs.get((az, service))
                if p is not None and p.poll() is not None:
                    raise RuntimeError(f"{az}-{service} exited with {p.returncode}: "
                                       + (self.logs / f"{az}-{service}.log").read_text()[-3000:])
                try:
                    return call()
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def storage_status(self, az: str) -> spb.StatusResponse:
        with grpc.insecure_channel(self.config.endpoint(az, "storage").grpc_target) as ch:
            return sgrpc.StorageStub(ch).Status(spb.StatusRequest(), timeout=5)

    def journal_status(self, az: str) -> jpb.StatusResponse:
        with grpc.insecure_channel(self.config.endpoint(az, "journal").grpc_target) as ch:
            return jgrpc.JournalStub(ch).Status(jpb.StatusRequest(), timeout=5)

    def kill(self, az: str, service: str, sig=signal.SIGKILL) -> None:
        p = self.procs.pop((az, service), None)
        if p is not None and p.poll() is None:
            os.kill(p.pid, sig)
            p.wait(timeout=10)

    def stop_all(self) -> None:
        for key in list(self.procs):
            self.kill(*key, sig=signal.SIGKILL)
