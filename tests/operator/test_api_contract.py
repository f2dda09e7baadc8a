"""What the running operator sends to the API server, checked against the chart and the schemas.

One create -> ACTIVE -> update -> protected delete -> delete flow, recorded by the emulator;
then: every request the operator (and kopf in it) made is allowed by the RBAC the chart
grants, for both cluster-wide and per-namespace installs (least privilege that is also
enough); every object it created validates strictly against the Kubernetes OpenAPI schema;
and the DSQLCluster it wrote status into still validates against the CRD schema.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

pytest.importorskip("kmock", reason="kmock is not installed (pip install kmock==0.8)")
pytest.importorskip("kopf", reason="kopf is not installed (pip install kopf==1.45.2)")

from tests.operator.emulator import NAMESPACE, add_zone_nodes, eventually  # noqa: E402
from tests.operator.test_lifecycle import _all_exist, _gone, cluster, phase_is

helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk==0.2.2")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate==1.37.0")
jsonschema = pytest.importorskip("jsonschema")

pytestmark = pytest.mark.asyncio

CHART = pathlib.Path(__file__).resolve().parents[2] / "helm" / "dsql-operator"
VERBS = {"list": "list", "watch": "watch", "fetch": "get", "create": "create", "update": "patch",
         "delete": "delete"}


def rules_for(values: dict, namespace: str) -> list[dict]:
    """Rules the chart grants the operator's service account in `namespace` (plus cluster-wide)."""
    rendered = helm.Chart.load(str(CHART)).render(values, name="dsql", namespace="dsql-system")
    rules = []
    for path, text in rendered.items():
        if not path.endswith(".yaml"):
            continue     # NOTES.txt
        for doc in yaml.safe_load_all(text):
            if doc and doc["kind"] == "ClusterRole" or (doc and doc["kind"] == "Role"
                                                       and doc["metadata"]["namespace"] == namespace):
                rules += doc["rules"]
    return rules


def allowed(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    return any(group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", [])
               for r in rules)


def operator_requests(api) -> list:
    return [r for r in api if (r.headers.get("User-Agent") or "").startswith(("dsql-operator", "kopf"))]


async def test_the_operators_requests_are_allowed_and_its_objects_valid(api, client, kubelet, operator_running):
    """Proves: RBAC from the chart permits every call the operator made; created objects are valid."""
    await add_zone_nodes(client)
    await client.create(cluster())
    await eventually(lambda: _all_exist(client))
    await kubelet.settle()
    await eventually(lambda: phase_is(client, "ACTIVE"))
    await client.patch("DSQLCluster", NAMESPACE, "demo", {"spec": {"image": "dsql:v2"}})
    await eventually(lambda: phase_is(client, "UPDATING"))
    await client.delete("DSQLCluster", NAMESPACE, "demo")
    await eventually(lambda: _events(client, "DeletionProtected"))
    written = await client.get("DSQLCluster", NAMESPACE, "demo")
    await client.patch("DSQLCluster", NAMESPACE, "demo", {"spec": {"deletionProtection": False}})
    await eventually(lambda: _gone(client))

    requests = operator_requests(api)
    seen = set()
    for r in requests:
        if r.resource is None or not r.resource.plural or r.action is None:
            continue    # discovery (/api, /apis/...) needs no RBAC
        plural = r.resource.plural + (f"/{r.subresource}" if r.subresource else "")
        seen.add((r.resource.group, plural, VERBS[r.action.value.lower()]))
    assert ("apps", "deployments", "create") in seen and ("dsql.k8s.io", "dsqlclusters/status", "patch") in seen
    for values in ({}, {"watchNamespaces": [NAMESPACE]}):
        rules = rules_for(values, NAMESPACE)
        denied = sorted(s for s in seen if not allowed(rules, *s))
        assert not denied, f"chart RBAC {values} denies what the operator does: {denied}"
    assert not allowed(rules_for({}, NAMESPACE), "", "secrets", "list"), "the operator must not list Secrets"

    created = [r.data for r in requests if r.action is not None and r.action.value.lower() == "create"
               and r.resource.plural not in ("events",)]
    kinds = {o["kind"] for o in created}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= kinds
    checked = set()
    for obj in created:
        key = (obj["kind"], obj["metadata"]["labels"].get("app.kubernetes.io/component"))
        if key in checked:
            continue     # the same shape in another zone (validation costs ~0.1 s per object)
        checked.add(key)
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)

    from tests.operator.test_resources import _schema
    jsonschema.Draft7Validator(_schema()).validate({k: v for k, v in written.items()})


async def _events(client, reason):
    found = await client._call("GET", f"/api/v1/namespaces/{NAMESPACE}/events")
    return [e for e in found["items"] if e.get("reason") == reason]
