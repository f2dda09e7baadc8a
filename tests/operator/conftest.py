"""Fixtures for operator tests; the emulator itself is in `emulator.py`.

`operator/` is the operator's source root: its *contents* go on sys.path so that
`import dsql_operator` works. The folder itself is never importable as `operator`
(that is the standard library's module). Modules that need the emulated API server
start with `pytest.importorskip("kmock")` / `("kopf")`, so they skip, with the reason,
where those are not installed; the fixtures import the emulator lazily for that reason.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import pytest
import pytest_asyncio

OPERATOR_ROOT = pathlib.Path(__file__).resolve().parents[2] / "operator"
if str(OPERATOR_ROOT) not in sys.path:
    sys.path.append(str(OPERATOR_ROOT))     # appended, never in front: `operator` stays the stdlib's


@pytest.fixture()
def kmock_options() -> dict[str, Any]:
    from tests.operator.emulator import Emulator
    return {"cls": Emulator}


@pytest.fixture()
def api(kmock):
    """The emulated API server, with the resources the operator and kopf use declared."""
    from tests.operator.emulator import CLUSTER_RESOURCE, WORKLOAD_KINDS, model
    kmock.resources[CLUSTER_RESOURCE] = kmock.ResourceInfo(
        kind=model.KIND, singular="dsqlcluster", namespaced=True, subresources={"status"},
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"})
    for path, kind, namespaced in (("v1/nodes", "Node", False), ("v1/namespaces", "Namespace", False),
                                   ("v1/secrets", "Secret", True),
                                   ("v1/configmaps", "ConfigMap", True), ("v1/services", "Service", True),
                                   ("v1/events", "Event", True),
                                   ("v1/persistentvolumeclaims", "PersistentVolumeClaim", True),
                                   ("apps/v1/deployments", "Deployment", True),
                                   ("apps/v1/statefulsets", "StatefulSet", True),
                                   ("policy/v1/poddisruptionbudgets", "PodDisruptionBudget", True)):
        kmock.resources[path] = kmock.ResourceInfo(kind=kind, namespaced=namespaced,
                                                   verbs={"get", "list", "create", "patch", "delete"},
                                                   subresources={"status"} if kind in WORKLOAD_KINDS else set())
    return kmock


@pytest_asyncio.fixture()
async def client(api):
    from tests.operator.emulator import NAMESPACE, kube
    k = kube.Kube(server=str(api.url).rstrip("/"), user_agent="test-client")
    await k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield k
    await k.close()


@pytest.fixture()
def kubelet(client):
    from tests.operator.emulator import Kubelet
    return Kubelet(client)


@pytest_asyncio.fixture()
async def operator_running(api, client):   # `client` first: it creates the namespace
    from tests.operator.emulator import run_operator
    async with run_operator(api) as state:
        yield state
