"""An emulated Kubernetes API (kmock) that kopf can live with, a fake kubelet, and a kopf runner.

kmock's emulator stores objects and serves list/watch/get/create/patch/delete, but as
shipped sets no uid, resourceVersion or generation and ignores label selectors. Real API
servers do all of that and the operator (and kopf's consistency checks) rely on it, so
`Emulator` adds them. Nothing runs pods here: `Kubelet` plays the controllers and kubelet
by patching workload status (ready replicas, observed generation, revisions).

Import only after `pytest.importorskip("kmock")` and `("kopf")`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import threading
import time
import uuid

import kmock
import kopf
from kmock._internal import dicts as kmock_dicts
from kmock._internal import enums as kmock_enums
from kmock._internal import parsing as kmock_parsing

from dsql_operator import handlers, kube, model

NAMESPACE = "default"
CLUSTER_RESOURCE = f"{model.GROUP}/{model.VERSION}/{model.PLURAL}"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")


_parse_path = kmock_parsing.parse_path


def _parse_path_with_namespaces(path: str):
    """kmock 0.8 reads /api/v1/namespaces[/<name>] as a namespace prefix with nothing after it."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
        return kmock_parsing.ParsedPath("", "v1", "namespaces", None, parts[3] if len(parts) == 4 else None)
    return _parse_path(path)


kmock_parsing.parse_path = _parse_path_with_namespaces


class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator plus the metadata and list filtering of a real API server."""

    _counter = itertools.count(1)

    def _current(self, request) -> dict | None:
        key = (request.resource, request.namespace, request.name)
        if key in self.objects and not self.objects[key].deleted:
            return self.objects[key].raw
        return None

    async def _handle(self, request):
        data = request.data
        if request.resource is not None and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            if request.action == kmock_enums.action.CREATE:
                meta.setdefault("namespace", request.namespace)
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                meta["uid"] = str(uuid.uuid4())
                meta["generation"] = 1
                meta["creationTimestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
                meta["resourceVersion"] = str(next(self._counter))
                if request.resource.plural == model.PLURAL:
                    data.pop("status", None)            # status is a subresource
            elif request.action == kmock_enums.action.UPDATE and request.name:
                current = self._current(request)
                meta["resourceVersion"] = str(next(self._counter))
                if current is not None and request.subresource != "status" and "spec" in data:
                    merged = kmock_dicts.merge_patch_dict(current.get("spec") or {}, data["spec"] or {})
                    if merged != (current.get("spec") or {}):
                        meta["generation"] = int(current["metadata"].get("generation") or 1) + 1
        return await super()._handle(request)

    async def _serve_list(self, request):
        result = await super()._serve_list(request)
        selector = request.params.get("labelSelector")
        if selector:
            wanted = dict(term.split("=", 1) for term in selector.split(","))
            result["items"] = [item for item in result["items"]
                               if all(((item.get("metadata") or {}).get("labels") or {}).get(k) == v
                                      for k, v in wanted.items())]
        result["metadata"]["resourceVersion"] = str(next(self._counter))
        return result


async def add_zone_nodes(client: kube.Kube, zones=("us-east-1a", "us-east-1b", "us-east-1c")) -> None:
    for i, zone in enumerate(zones):
        await client.create({"apiVersion": "v1", "kind": "Node",
                             "metadata": {"name": f"node-{i}", "labels": {model.ZONE_LABEL: zone}}})


class Kubelet:
    """Plays the workload controllers: marks workloads (all, or one zone's) ready or not."""

    def __init__(self, client: kube.Kube):
        self.client = client

    async def workloads(self, zone: str | None = None) -> list[dict]:
        out = []
        for kind in WORKLOAD_KINDS:
            out += [w for w in await self.client.list(kind, NAMESPACE)
                    if zone is None or w["metadata"]["labels"].get("dsql.k8s.io/az") == zone]
        return out

    async def settle(self, zone: str | None = None, ready: bool = True) -> int:
        """Finish every rollout (of one zone) with `ready` pods; return how many were changed."""
        changed = 0
        for w in await self.workloads(zone):
            gen = w["metadata"].get("generation", 1)
            replicas = w["spec"].get("replicas", 1)
            new = {"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas if ready else 0, "availableReplicas": replicas if ready else 0}
            if w["kind"] == "StatefulSet":
                new.update(currentRevision=f"r{gen}", updateRevision=f"r{gen}")
            if {k: (w.get("status") or {}).get(k) for k in new} != new:
                await self.client.patch(w["kind"], NAMESPACE, w["metadata"]["name"], {"status": new},
                                        subresource="status")
                changed += 1
        return changed


async def eventually(check, timeout_s: float = 30.0, interval_s: float = 0.1):
    """Poll an async (or sync) predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {last!r})")


@contextlib.asynccontextmanager
async def run_operator(api):
    """The real handlers, run by kopf against the emulator, with short intervals.

    kopf runs in a thread with its own event loop (as kopf.testing.KopfRunner does): at exit
    it cancels every task of its loop that it did not start, which here would be pytest's.
    """
    registry = kopf.OperatorRegistry()
    config = handlers.OperatorConfig(default_image="dsql:test", interval_s=0.2, delete_retry_s=0.3)
    server = str(api.url).rstrip("/")
    state = handlers.register(registry, config, kube_factory=lambda: kube.Kube(server=server))

    @kopf.on.login(registry=registry)
    def login(**_):
        return kopf.ConnectionInfo(server=server, insecure=True)

    settings = kopf.OperatorSettings()
    settings.watching.reconnect_backoff = 0.05
    settings.persistence.consistency_timeout = 1.0
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(kopf.operator(registry=registry, settings=settings, standalone=True,
                                      namespaces=[NAMESPACE], stop_flag=stop, ready_flag=ready))
        except BaseException as exc:   # surfaced by the fixture, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="kopf", daemon=True)
    thread.start()
    assert await asyncio.to_thread(ready.wait, 10), f"kopf did not start: {errors}"
    try:
        yield state
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 15)
    assert not thread.is_alive(), "kopf did not stop"
    assert not errors, errors
