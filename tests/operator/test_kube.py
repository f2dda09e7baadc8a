"""The operator's small API client against the emulator: paths, selectors, errors, credentials."""

from __future__ import annotations

import pytest

pytest.importorskip("kmock", reason="kmock is not installed (pip install kmock==0.8)")
pytest.importorskip("kopf", reason="kopf is not installed (pip install kopf==1.45.2)")

from tests.operator.emulator import NAMESPACE  # noqa: E402

from dsql_operator import kube  # noqa: E402

pytestmark = pytest.mark.asyncio


async def test_crud_and_label_selectors(api, client):
    """Proves: create/get/patch/list-by-label/delete map to the right API paths and errors."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": NAMESPACE,
                                                                "labels": {"x": "1"}}, "data": {"k": "v"}}
    await client.create(cm)
    await client.create({**cm, "metadata": {**cm["metadata"], "name": "b", "labels": {"x": "2"}}})
    with pytest.raises(kube.Conflict):
        await client.create(cm)
    await client.patch("ConfigMap", NAMESPACE, "a", {"data": {"k": "w"}})
    assert (await client.get("ConfigMap", NAMESPACE, "a"))["data"] == {"k": "w"}
    assert [o["metadata"]["name"] for o in await client.list("ConfigMap", NAMESPACE, labels={"x": "2"})] == ["b"]
    assert await client.delete("ConfigMap", NAMESPACE, "a") is True
    assert await client.delete("ConfigMap", NAMESPACE, "a") is False
    assert await client.get("ConfigMap", NAMESPACE, "a") is None
    assert kube.Kube.path("Node", None, "n1") == "/api/v1/nodes/n1"
    assert kube.Kube.path("DSQLCluster", "ns", "c", "status") == "/apis/dsql.k8s.io/v1alpha1/namespaces/ns/dsqlclusters/c/status"


async def test_service_account_token_is_read_per_request(api, tmp_path):
    """Proves: a rotated token file is picked up without restarting the operator."""
    token = tmp_path / "token"
    token.write_text("one\n")
    k = kube.Kube(server=str(api.url).rstrip("/"), token_file=str(token))
    try:
        await k.list("ConfigMap", NAMESPACE)
        token.write_text("two\n")
        await k.list("ConfigMap", NAMESPACE)
    finally:
        await k.close()
    seen = [r.headers.get("Authorization") for r in api if r.headers.get("User-Agent") == "dsql-operator"]
    assert seen == ["Bearer one", "Bearer two"]
