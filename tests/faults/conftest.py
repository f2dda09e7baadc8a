"""The fault tests' own three-AZ cluster, started once per module with the launcher.

Every AZ's processes read their own view of the cluster config: the endpoints of the *other*
AZs' services are fault-injecting proxies (tests/faults/proxy.py), one per (from AZ, to AZ,
service), so a test can cut any one AZ off from the rest while each process still binds its
real ports. Processes are killed and restarted through the launcher's stop_process /
start_process, which reuse the argv recorded in processes.json.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import tempfile
import time

import grpc
import pytest

from services.common.config import ClusterConfig, Endpoint
from services.launcher import cluster
from services.pb.dsql.journal.v1 import journal_pb2 as jpb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as jgrpc
from services.pb.dsql.storage.v1 import storage_pb2 as spb
from services.pb.dsql.storage.v1 import storage_pb2_grpc as sgrpc
from tests.faults.proxy import Proxies

WAIT_S = 90.0        # generous: two busy cores


def wait_until(what: str, predicate, timeout: float = WAIT_S, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (grpc.RpcError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclasses.dataclass
class FaultCluster:
    config: ClusterConfig
    state: pathlib.Path
    proxies: Proxies
    views: dict[str, ClusterConfig]        # az -> the config its processes read

    @property
    def azs(self) -> list[str]:
        return sorted(self.config.azs)

    def _call(self, az: str, service: str, method: str, request, timeout: float = 2.0):
        with grpc.insecure_channel(self.config.endpoint(az, service).grpc_target) as ch:
            stub = (jgrpc.JournalStub if service == "journal" else sgrpc.StorageStub)(ch)
            return getattr(stub, method)(request, timeout=timeout)

    def journal(self, az: str) -> jpb.StatusResponse:
        return self._call(az, "journal", "Status", jpb.StatusRequest())

    def storage(self, az: str) -> spb.StatusResponse:
        return self._call(az, "storage", "Status", spb.StatusRequest())

    def leader(self, among: list[str] | None = None) -> str | None:
        """The AZ whose journal says it leads (and serves), asking only `among`."""
        for az in among or self.azs:
            try:
                s = self.journal(az)
            except grpc.RpcError:
                continue
            if s.role == "leader":
                return az
        return None

    def kill(self, az: str, service: str | None = None) -> None:
        cluster.stop_process(self.state, az, service, kill=True)

    def restart(self, az: str, service: str | None = None) -> None:
        cluster.start_process(self.state, az, service)

    def ensure_running(self) -> None:
        for az in self.azs:
            cluster.start_process(self.state, az)

    def scan_all(self, az: str, read_ts: int) -> list[tuple[bytes, bytes]]:
        """Every row this AZ's storage holds at read_ts (waits for its closed timestamp)."""
        rows, start = [], b""
        while True:
            resp = self._call(az, "storage", "Scan", spb.ScanRequest(read_ts=read_ts, start=start, end=b"",
                                                                      limit=10_000), timeout=30)
            rows += [(r.key, r.value) for r in resp.rows]
            if not resp.more:
                return rows
            start = rows[-1][0] + b"\x00"

    def converged(self, timeout: float = WAIT_S) -> int:
        """Wait until every journal has applied the leader's commit index and every storage has
        applied the same log index; returns that storage index."""
        def same():
            leader = self.leader()
            if leader is None:
                return None
            commit = self.journal(leader).commit_index
            if any(self.journal(a).applied_index < commit for a in self.azs):
                return None
            applied = {self.storage(a).applied_index for a in self.azs}
            return applied.pop() if len(applied) == 1 else None
        return wait_until("every AZ to converge", same, timeout)


def _views(config: ClusterConfig, proxies: Proxies) -> dict[str, ClusterConfig]:
    views = {}
    for me in sorted(config.azs):
        azs = {}
        for az, services in config.azs.items():
            if az == me:
                azs[az] = services
                continue
            azs[az] = {svc: Endpoint(ep.host, proxies.add(ep.grpc_target, (me, az)), ep.metrics_port)
                       for svc, ep in services.items()}
        views[me] = dataclasses.replace(config, azs=azs)
    return views


@pytest.fixture(scope="module")
def fault_cluster():
    state = pathlib.Path(tempfile.mkdtemp(prefix="dsql-faults-"))
    config = cluster.init_state(state, client_port=cluster.free_port(), region="us-east-1")
    proxies = Proxies()
    views = _views(config, proxies)
    paths = {}
    for az, view in views.items():
        paths[az] = state / f"cluster-{az}.json"
        paths[az].write_text(view.to_json())
    try:
        cluster.start(config, az_configs=paths)
    except BaseException:
        proxies.close()
        raise
    fc = FaultCluster(config, state, proxies, views)
    try:
        wait_until("a journal leader", fc.leader)
        yield fc
    finally:
        cluster.stop(state)
        proxies.close()
        if os.environ.get("DSQL_KEEP_STATE"):
            print(f"fault cluster state kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
