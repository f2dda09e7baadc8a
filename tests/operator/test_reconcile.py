"""One reconciliation pass at a time (no kopf): secrets in every TLS mode, and what cleanup spares."""

from __future__ import annotations

import pytest

pytest.importorskip("kmock", reason="kmock is not installed (pip install kmock==0.8)")
pytest.importorskip("kopf", reason="kopf is not installed (pip install kopf==1.45.2)")

from tests.operator.emulator import NAMESPACE, add_zone_nodes  # noqa: E402

from dsql_operator import handlers, reconcile  # noqa: E402

pytestmark = pytest.mark.asyncio


async def created(client, body):
    obj = await client.create(body)
    return obj


def cluster(**spec):
    return {"apiVersion": "dsql.k8s.io/v1alpha1", "kind": "DSQLCluster",
            "metadata": {"name": "demo", "namespace": NAMESPACE}, "spec": spec}


async def test_user_secrets_are_used_never_created_nor_deleted(api, client):
    """Proves: with TLS and credentials Secrets named in the spec, the operator warns while they are
    missing, creates no Secret of its own, and cleanup leaves them alone."""
    await add_zone_nodes(client)
    body = await created(client, cluster(tls={"mode": "Secret", "secretName": "my-tls"},
                                         credentials={"secretName": "my-creds"}))
    outcome = await reconcile.reconcile(client, body)
    assert {r for _, r, _ in outcome.events} >= {"SecretMissing"}
    assert not [o for o in outcome.created if o.startswith("Secret/")]
    for name in ("my-tls", "my-creds"):
        await client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
                             "data": {}})
    outcome = await reconcile.reconcile(client, body)
    assert "SecretMissing" not in {r for _, r, _ in outcome.events}
    relay = await client.get("Deployment", NAMESPACE, "demo-relay-us-east-1a")
    volumes = {v["name"]: v for v in relay["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "my-tls"
    assert volumes["credentials"]["secret"]["secretName"] == "my-creds"
    deleted = await reconcile.cleanup(client, body)
    assert "Deployment/demo-relay-us-east-1a" in deleted
    assert await client.get("Secret", NAMESPACE, "my-tls") is not None
    assert await client.get("Secret", NAMESPACE, "my-creds") is not None


async def test_generated_secrets_are_made_once(api, client):
    """Proves: generated TLS and credentials survive later passes unchanged (content is random)."""
    await add_zone_nodes(client)
    body = await created(client, cluster())
    first = await reconcile.reconcile(client, body)
    assert {"Secret/demo-tls", "Secret/demo-credentials"} <= set(first.created)
    tls = await client.get("Secret", NAMESPACE, "demo-tls")
    second = await reconcile.reconcile(client, body)
    assert second.created == [] and second.patched == []
    assert (await client.get("Secret", NAMESPACE, "demo-tls"))["data"] == tls["data"]
    assert tls["type"] == "kubernetes.io/tls" and set(tls["data"]) == {"ca.crt", "tls.crt", "tls.key"}


async def test_cert_manager_mode_requests_a_certificate(api, client):
    """Proves: TLS mode CertManager creates a Certificate and generates no TLS Secret itself."""
    import kmock
    api.resources["cert-manager.io/v1/certificates"] = kmock.ResourceInfo(kind="Certificate", namespaced=True)
    await add_zone_nodes(client)
    body = await created(client, cluster(tls={"mode": "CertManager", "issuerRef": {"name": "ca"}}))
    outcome = await reconcile.reconcile(client, body)
    assert "Certificate/demo-tls" in outcome.created and "Secret/demo-tls" not in outcome.created
    cert = await client.get("Certificate", NAMESPACE, "demo-tls")
    assert cert["spec"]["issuerRef"]["name"] == "ca"
    assert "Certificate/demo-tls" in await reconcile.cleanup(client, body)


async def test_every_handler_kind_is_registered():
    """Proves: the operator reacts to create, update of spec, resume, delete, a timer; serves a probe."""
    import kopf
    registry = kopf.OperatorRegistry()
    handlers.register(registry, handlers.OperatorConfig())
    changing = {(h.id, h.reason, bool(getattr(h, "initial", False))) for h in registry._changing.get_all_handlers()}
    assert {("reconcile", "create", False), ("reconcile/spec", "update", False), ("delete", "delete", False)} <= changing
    assert any(i == "reconcile" and initial for i, _, initial in changing), "resume"
    assert [h.id for h in registry._spawning.get_all_handlers()] == ["refresh"]
    activities = {(h.id, str(h.activity.value)) for h in registry._activities.get_all_handlers()}
    assert activities == {("configure", "startup"), ("close", "cleanup"), ("clusters", "probe")}
