"""The operator run by kopf against an emulated API server: the life of a DSQLCluster.

Each test drives the real handlers through the API (create, patch, delete the custom
object) and plays the kubelet by patching workload status; nothing calls the
reconciler directly.
"""

from __future__ import annotations

import pytest

pytest.importorskip("kmock", reason="kmock is not installed (pip install kmock==0.8)")
pytest.importorskip("kopf", reason="kopf is not installed (pip install kopf==1.45.2)")

from tests.operator.emulator import NAMESPACE, add_zone_nodes, eventually  # noqa: E402

pytestmark = pytest.mark.asyncio

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
WORKLOADS = [(kind, f"demo-{svc}-{z}") for z in ZONES
             for kind, svc in (("Deployment", "relay"), ("Deployment", "compute"),
                               ("StatefulSet", "journal"), ("StatefulSet", "storage"))]


def cluster(name="demo", **spec):
    return {"apiVersion": "dsql.k8s.io/v1alpha1", "kind": "DSQLCluster",
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}


async def get(client, name="demo"):
    return await client.get("DSQLCluster", NAMESPACE, name)


async def phase_is(client, wanted, name="demo"):
    obj = await get(client, name)
    return obj is not None and (obj.get("status") or {}).get("phase") == wanted


async def events(client, reason=None):
    found = await client._call("GET", f"/api/v1/namespaces/{NAMESPACE}/events")
    return [e for e in found["items"] if reason is None or e.get("reason") == reason]


async def _phase_events(client, *wanted):
    # kopf posts events from a queue, a moment after the handler that made them.
    messages = [e["message"] for e in await events(client, "PhaseChanged")]
    return all(w in messages for w in wanted)


async def _count_events(client, reason, n):
    return len(await events(client, reason)) == n


async def images(client) -> set[str]:
    found = set()
    for kind in ("Deployment", "StatefulSet"):
        for o in await client.list(kind, NAMESPACE, labels={"app.kubernetes.io/name": "dsql"}):
            if o["metadata"]["labels"].get("app.kubernetes.io/component") != "etcd":
                found.add(o["spec"]["template"]["spec"]["containers"][0]["image"])
    return found


async def active_cluster(client, kubelet, **spec):
    await add_zone_nodes(client)
    await client.create(cluster(**spec))
    await eventually(lambda: _all_exist(client))
    await kubelet.settle()
    await eventually(lambda: phase_is(client, "ACTIVE"))


async def _all_exist(client):
    names = set()
    for kind in ("Deployment", "StatefulSet"):
        names |= {(kind, o["metadata"]["name"]) for o in await client.list(kind, NAMESPACE)}
    return set(WORKLOADS) <= names


async def test_create_makes_every_child_and_moves_creating_to_active(api, client, kubelet, operator_running):
    """Proves: a new cluster gets its children (owned, zone-pinned), is CREATING until pods are ready, then ACTIVE."""
    await add_zone_nodes(client)
    await client.create(cluster(tags={"Name": "demo"}))
    await eventually(lambda: _all_exist(client))
    await eventually(lambda: phase_is(client, "CREATING"))

    obj = await get(client)
    uid = obj["metadata"]["uid"]
    for kind in ("Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"):
        for child in await client.list(kind, NAMESPACE):
            refs = child["metadata"].get("ownerReferences") or []
            assert [r["uid"] for r in refs] == [uid], f"{kind}/{child['metadata']['name']} is not owned"
    svc = await client.get("Service", NAMESPACE, "demo")
    assert svc["spec"]["ports"][0]["port"] == 5432
    assert (await client.get("Service", NAMESPACE, "demo-peers"))["spec"]["clusterIP"] == "None"
    assert await client.get("StatefulSet", NAMESPACE, "demo-etcd") is not None
    relay = await client.get("Deployment", NAMESPACE, "demo-relay-us-east-1b")
    terms = relay["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0] == {"key": "topology.kubernetes.io/zone", "operator": "In",
                                               "values": ["us-east-1b"]}

    await kubelet.settle()
    await eventually(lambda: phase_is(client, "ACTIVE"))
    st = (await get(client))["status"]
    assert st["readyZones"] == "3/3"
    assert st["observedGeneration"] == obj["metadata"]["generation"]
    assert len(st["identifier"]) == 26 and st["arn"].endswith(f":cluster/{st['identifier']}")
    assert st["endpoint"] == {"host": "demo.default.svc.cluster.local", "port": 5432,
                              "dsqlHostname": f"{st['identifier']}.dsql.us-east-1.on.aws"}
    assert [z["name"] for z in st["availabilityZones"]] == list(ZONES)
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "Ready": "True", "Available": "True", "Progressing": "False", "Degraded": "False"}
    await eventually(lambda: _phase_events(client, "new -> CREATING", "CREATING -> ACTIVE"))


async def test_image_change_rolls_out_one_zone_at_a_time(api, client, kubelet, operator_running):
    """Proves: a new image reaches one zone, and the next only after that zone is rolled out and ready."""
    await active_cluster(client, kubelet)
    await client.patch("DSQLCluster", NAMESPACE, "demo", {"spec": {"image": "dsql:v2"}})
    await eventually(lambda: phase_is(client, "UPDATING"))

    seen_order = []
    for _ in ZONES:
        current = await eventually(lambda: _zones_with_image(client, "dsql:v2", len(seen_order) + 1))
        new = [z for z in current if z not in seen_order]
        assert len(new) == 1, f"more than one zone started at once: {current}"
        seen_order += new
        await _hold(0.5)    # several timer passes: no other zone may start while this one rolls
        assert len(await _zones_with_image(client, "dsql:v2", 0)) == len(seen_order)
        await kubelet.settle(zone=new[0])
    assert seen_order == list(ZONES)
    await eventually(lambda: phase_is(client, "ACTIVE"))
    assert await images(client) == {"dsql:v2"}
    await eventually(lambda: _count_events(client, "RollingOutZone", 3))


async def _zones_with_image(client, image, at_least):
    by_zone: dict[str, set] = {z: set() for z in ZONES}
    for kind in ("Deployment", "StatefulSet"):
        for o in await client.list(kind, NAMESPACE, labels={"dsql.k8s.io/cluster": "demo"}):
            z = o["metadata"]["labels"].get("dsql.k8s.io/az")
            if z:
                by_zone[z].add(o["spec"]["template"]["spec"]["containers"][0]["image"])
    zones = [z for z in ZONES if by_zone[z] == {image}]
    return zones if len(zones) >= at_least else None


async def _hold(seconds):
    import asyncio
    await asyncio.sleep(seconds)


async def test_scaling_compute_rolls_out_and_returns_to_active(api, client, kubelet, operator_running):
    """Proves: changing replicas reaches every zone's Deployment, zone by zone, and the cluster ends ACTIVE."""
    await active_cluster(client, kubelet)
    await client.patch("DSQLCluster", NAMESPACE, "demo", {"spec": {"compute": {"replicas": 3}}})

    async def scaled():
        await kubelet.settle()
        reps = [(await client.get("Deployment", NAMESPACE, f"demo-compute-{z}"))["spec"]["replicas"] for z in ZONES]
        return reps == [3, 3, 3]
    await eventually(scaled)
    await kubelet.settle()
    await eventually(lambda: phase_is(client, "ACTIVE"))
    obj = await get(client)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 2


async def test_zone_failure_degrades_but_keeps_the_cluster_available(api, client, kubelet, operator_running):
    """Proves: status follows pod readiness: one zone down is Degraded but Available; two lose the quorum."""
    await active_cluster(client, kubelet)
    await kubelet.settle(zone="us-east-1c", ready=False)

    async def conditions():
        st = (await get(client))["status"]
        return {c["type"]: c["status"] for c in st["conditions"]}, st
    await eventually(lambda: _cond(client, "Degraded", "True"))
    conds, st = await conditions()
    assert conds["Available"] == "True" and conds["Ready"] == "False"
    assert st["phase"] == "ACTIVE" and st["readyZones"] == "2/3"
    assert [z["ready"] for z in st["availabilityZones"]] == [True, True, False]
    await eventually(lambda: events(client, "ZoneNotReady"))

    await kubelet.settle(zone="us-east-1b", ready=False)
    await eventually(lambda: _cond(client, "Available", "False"))
    await kubelet.settle()
    await eventually(lambda: _cond(client, "Ready", "True"))


async def _cond(client, type_, value):
    st = (await get(client)).get("status") or {}
    return any(c["type"] == type_ and c["status"] == value for c in st.get("conditions") or [])


async def test_deletion_protection_holds_until_turned_off_then_cleans_up(api, client, kubelet, operator_running):
    """Proves: with protection on, delete leaves everything in place; turning it off deletes all children."""
    await active_cluster(client, kubelet)
    assert (await get(client))["metadata"]["finalizers"] == ["dsql.k8s.io/finalizer"]
    # A volume as the StatefulSet controller would have made it.
    await client.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "data-demo-journal-us-east-1a-0", "namespace": NAMESPACE,
                                      "labels": {"dsql.k8s.io/cluster": "demo"}},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    await client.delete("DSQLCluster", NAMESPACE, "demo")
    await eventually(lambda: _has_events(client, "DeletionProtected"))
    await _hold(0.8)
    obj = await get(client)
    assert obj is not None and obj["metadata"].get("deletionTimestamp")
    assert len(await client.list("Deployment", NAMESPACE)) == 6
    assert await _cond(client, "DeletionBlocked", "True")

    await client.patch("DSQLCluster", NAMESPACE, "demo", {"spec": {"deletionProtection": False}})
    await eventually(lambda: _gone(client))
    for kind in ("Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
                 "PersistentVolumeClaim"):
        assert await client.list(kind, NAMESPACE, labels={"dsql.k8s.io/cluster": "demo"}) == [], kind


async def _has_events(client, reason):
    return bool(await events(client, reason))


async def _gone(client):
    return await get(client) is None


async def test_unprotected_cluster_is_deleted_at_once(api, client, kubelet, operator_running):
    """Proves: deletionProtection false lets delete go through DELETING and remove every child."""
    await active_cluster(client, kubelet, deletionProtection=False)
    await client.delete("DSQLCluster", NAMESPACE, "demo")
    await eventually(lambda: _gone(client))
    assert await client.list("StatefulSet", NAMESPACE) == []
    await eventually(lambda: _phase_events(client, "ACTIVE -> DELETING"))


async def test_invalid_spec_fails_with_a_reason(api, client, kubelet, operator_running):
    """Proves: a spec breaking DSQL's tag rules ends FAILED with the rule in the condition and an event."""
    await add_zone_nodes(client)
    await client.create(cluster(tags={"aws:owner": "me"}))
    await eventually(lambda: phase_is(client, "FAILED"))
    st = (await get(client))["status"]
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "InvalidSpec" and "aws:" in ready["message"]
    await eventually(lambda: events(client, "InvalidSpec"))
    assert await client.list("Deployment", NAMESPACE) == []


async def test_single_zone_cluster_falls_back_to_preferred_affinity(api, client, kubelet, operator_running):
    """Proves: when no node carries the zone labels, pods only prefer their zone, and a Warning says so."""
    await client.create(cluster())
    await eventually(lambda: _all_exist(client))
    relay = await client.get("Deployment", NAMESPACE, "demo-relay-us-east-1a")
    affinity = relay["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    await eventually(lambda: _has_events(client, "ZonesNotFound"))
    await kubelet.settle()
    await eventually(lambda: phase_is(client, "ACTIVE"))
    assert (await get(client))["status"]["placement"] == "Preferred"


async def test_a_restarted_operator_resumes_without_touching_a_steady_cluster(api, client, kubelet):
    """Proves: reconciliation is idempotent: a new operator process changes no child of an ACTIVE cluster."""
    from tests.operator.emulator import run_operator
    async with run_operator(api):
        await active_cluster(client, kubelet)
    versions = {}
    for kind in ("Deployment", "StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget"):
        for o in await client.list(kind, NAMESPACE):
            versions[(kind, o["metadata"]["name"])] = o["metadata"]["resourceVersion"]
    before = (await get(client))["metadata"]["resourceVersion"]
    async with run_operator(api):
        await _hold(1.5)      # resume handler plus several timer passes
        assert await phase_is(client, "ACTIVE")
    for (kind, name), version in versions.items():
        assert (await client.get(kind, NAMESPACE, name))["metadata"]["resourceVersion"] == version, (kind, name)
    assert (await get(client))["metadata"]["resourceVersion"] == before, "a steady cluster's status is not rewritten"
