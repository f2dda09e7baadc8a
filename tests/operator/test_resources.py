"""The builders and the spec model, without an API server.

Every object the operator can create validates (strictly) against the Kubernetes OpenAPI
schemas; the ConfigMap is a ClusterConfig the services load; DSQL's tag rules and the
spec's defaults hold; the CRD in the chart is the one `crd.py` generates and accepts the
chart's examples.
"""

from __future__ import annotations

import base64
import json
import pathlib
import sys

import pytest
import yaml

from tests.operator import conftest  # noqa: F401  (puts operator/ on sys.path)

from dsql_operator import crd, material, model, resources  # noqa: E402
from services.common.auth.store import CredentialStore  # noqa: E402

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate==1.37.0")
jsonschema = pytest.importorskip("jsonschema")

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "helm" / "dsql-operator" / "examples").glob("*.yaml"))
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())


def body(name="demo", namespace="db", **spec):
    return {"apiVersion": model.API_VERSION, "kind": model.KIND,
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1},
            "spec": spec}


def example_bodies():
    for path in EXAMPLES:
        obj = yaml.safe_load(path.read_text())
        obj["metadata"].setdefault("namespace", "default")
        obj["metadata"]["uid"] = "uid-example"
        yield path.name, obj


def validate_k8s(obj: dict, versions=K8S_VERSIONS) -> None:
    for version in versions:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("name,obj", list(example_bodies()), ids=[p.name for p in EXAMPLES])
def test_every_object_for_every_example_validates_against_kubernetes(name, obj):
    """Proves: each object built for the chart's examples is valid (strict) for Kubernetes 1.30 and latest."""
    c = model.parse(obj)
    # Zones differ only in names, so one zone stands for all (validation costs ~0.1 s per object).
    objs = resources.shared_objects(c) + resources.zone_objects(c, c.zones[0], True)
    objs += [o for o in resources.zone_objects(c, c.zones[-1], False) if o["kind"] != "Service"]
    objs.append(resources.secret(c, c.tls_secret, "tls", material.tls_material(resources.tls_hostnames(c)),
                                 "kubernetes.io/tls"))
    for o in objs:
        if o["apiVersion"].startswith("cert-manager.io"):
            continue   # not a Kubernetes schema; shape checked in test_cert_manager_certificate
        validate_k8s(o, K8S_VERSIONS if name == EXAMPLES[0].name else K8S_VERSIONS[-1:])
    names = [(o["kind"], o["metadata"]["name"]) for o in resources.all_objects(c)]
    assert all(len(n) <= 63 for _, n in names)


def test_cluster_json_is_a_cluster_config_the_services_load():
    """Proves: the ConfigMap's cluster.json loads as services.common.config.ClusterConfig with k8s hosts."""
    from services.common.config import ClusterConfig
    c = model.parse(body(quotas={"maxConnections": 50, "connectionRatePerSecond": 2.5}))
    config = ClusterConfig.from_json(resources.config_map(c)["data"]["cluster.json"])
    assert config.cluster_id == c.identifier and config.region == "us-east-1"
    assert sorted(config.azs) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert config.endpoint("us-east-1b", "journal").grpc_target == "demo-journal-us-east-1b-0.demo-peers.db.svc:7003"
    assert config.endpoint("us-east-1c", "compute").host == "demo-compute-us-east-1c.db.svc"
    assert config.etcd_endpoints == ("demo-etcd-0.demo-etcd.db.svc:2379",)
    assert config.limits.max_connections == 50 and config.limits.connection_rate_per_s == 2.5
    assert config.limits.connection_burst == 100          # untouched quotas keep the guide's default
    assert config.client_port == 5432 and config.tls_ca.endswith("/ca.crt")
    assert config.cluster_arn == c.arn                    # what credential-store policies name
    # Tokens signed for the client Service's DNS name are accepted by the relays.
    assert "demo.db.svc.cluster.local" in config.hostnames and "localhost" in config.hostnames
    assert config.journal_replication == "raft"          # one journal replica per zone, replicated


def test_external_etcd_replaces_the_managed_one():
    """Proves: with etcd endpoints, no etcd StatefulSet is made and cluster.json names the endpoints."""
    c = model.parse(body(etcd={"endpoints": ["etcd.infra.svc:2379"]}))
    kinds = [(o["kind"], o["metadata"]["name"]) for o in resources.all_objects(c)]
    assert ("StatefulSet", "demo-etcd") not in kinds
    assert resources.cluster_config(c)["etcd_endpoints"] == ["etcd.infra.svc:2379"]


def test_zone_pinning_and_spreading():
    """Proves: each workload is pinned to its own zone; multi-replica Deployments spread over nodes."""
    c = model.parse(body(relay={"replicas": 3}, availabilityZones=[{"name": "az1", "nodeZone": "eu-1a"},
                                                                  {"name": "az2"}, {"name": "az3"}]))
    zone = c.zones[0]
    relay = resources.workload(c, "relay", zone, required=True)
    term = relay["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == ["eu-1a"]
    assert relay["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert relay["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    journal = resources.workload(c, "journal", zone, required=False)
    assert journal["spec"]["replicas"] == 1 and journal["spec"]["serviceName"] == "demo-peers"
    assert "preferredDuringSchedulingIgnoredDuringExecution" in journal["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]


def test_desired_hash_changes_with_the_spec_only():
    """Proves: the drift annotation is stable for the same spec and changes when the image changes."""
    a = model.parse(body())
    b = model.parse(body(image="dsql:v2"))
    wa = resources.workload(a, "compute", a.zones[0], True)
    assert wa["metadata"]["annotations"][resources.HASH_ANNOTATION] == \
        resources.workload(a, "compute", a.zones[0], True)["metadata"]["annotations"][resources.HASH_ANNOTATION]
    assert wa["metadata"]["annotations"][resources.HASH_ANNOTATION] != \
        resources.workload(b, "compute", b.zones[0], True)["metadata"]["annotations"][resources.HASH_ANNOTATION]


def test_generated_tls_covers_the_service_names_and_verifies():
    """Proves: the generated server certificate is signed by the CA and names the Service and localhost."""
    from cryptography import x509
    c = model.parse(body())
    tls = material.tls_material(resources.tls_hostnames(c))
    ca = x509.load_pem_x509_certificate(tls["ca.crt"])
    cert = x509.load_pem_x509_certificate(tls["tls.crt"])
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = sans.get_values_for_type(x509.DNSName)
    assert {"demo.db.svc", "demo.db.svc.cluster.local", "localhost", c.dsql_hostname} <= set(names)


def test_generated_credentials_are_the_launchers_format():
    """Proves: the credential store Secret holds the relay's credentials.json format and an AWS file."""
    creds = material.credential_material("us-east-1", "000000000000", "demo")
    store = json.loads(creds["credentials.json"])
    key = store["keys"][0]
    assert key["access_key_id"].startswith("AKIA") and len(key["secret_access_key"]) == 40
    assert key["principal_arn"] == "arn:aws:iam::000000000000:user/demo"
    loaded = CredentialStore.from_dict(store)
    assert loaded.is_allowed(key["principal_arn"], "DbConnectAdmin", model.parse(body()).arn)
    assert creds["AWS_ACCESS_KEY_ID"].decode() == key["access_key_id"]
    assert f"aws_secret_access_key = {key['secret_access_key']}" in creds["aws-credentials"].decode()
    secret = resources.secret(model.parse(body()), "demo-credentials", "credentials", creds)
    assert json.loads(base64.b64decode(secret["data"]["credentials.json"])) == store


def test_cert_manager_certificate():
    """Proves: TLS mode CertManager asks cert-manager for the same names, into the Secret pods mount."""
    c = model.parse(body(tls={"mode": "CertManager", "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}))
    cert = next(o for o in resources.shared_objects(c) if o["kind"] == "Certificate")
    assert cert["spec"]["secretName"] == c.tls_secret == "demo-tls"
    assert cert["spec"]["issuerRef"] == {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert "demo.db.svc" in cert["spec"]["dnsNames"] and cert["spec"]["ipAddresses"] == ["127.0.0.1"]


@pytest.mark.parametrize("tags,message", [
    ({"aws:owner": "x"}, "aws:"),
    ({"": "x"}, "between 1 and 128"),
    ({"k" * 129: "x"}, "between 1 and 128"),
    ({"k": "v" * 257}, "0 and 256"),
    ({"k": "semi;colon"}, "allowed characters"),
    ({f"k{i}": "v" for i in range(51)}, "at most 50"),
])
def test_dsql_tag_rules_are_enforced(tags, message):
    """Proves: each of the guide's tagging requirements rejects a violating tag set."""
    with pytest.raises(model.SpecError, match=message):
        model.parse(body(tags=tags))


def test_valid_tags_and_defaults():
    """Proves: allowed tag characters pass, and an empty spec gets DSQL's defaults."""
    c = model.parse(body(tags={"Name": "Ünïcode team_1 a.b:c/d=e+f-g@h", "empty": ""}))
    assert c.tags["empty"] == ""
    assert c.deletion_protection is True
    assert c.zone_names() == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert c.replicas == {"relay": 1, "compute": 1, "journal": 1, "storage": 1}
    assert c.tls_mode == "Generated" and c.credentials_generated and c.etcd_managed


@pytest.mark.parametrize("spec,message", [
    ({"journal": {"replicas": 2}}, "at most 1"),
    ({"availabilityZones": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ({"etcd": {"managed": {"replicas": 2}}}, "odd"),
    ({"etcd": {"endpoints": ["e:2379"], "managed": {"replicas": 1}}}, "not both"),
    ({"quotas": {"maxStorage": 5}}, "not a configurable quota"),
    ({"tls": {"mode": "Secret"}}, "secretName"),
    ({"region": "mars"}, "Region"),
])
def test_invalid_specs_are_rejected(spec, message):
    """Proves: specs that cannot work are refused with a message naming the problem."""
    with pytest.raises(model.SpecError, match=message):
        model.parse(body(**spec))


def test_long_names_are_rejected_before_kubernetes_would():
    """Proves: a name whose children would exceed Kubernetes' limits is a SpecError, not a failed create."""
    with pytest.raises(model.SpecError, match="too long"):
        model.parse(body(name="a" * 40))


def test_chart_crd_is_generated_from_crd_py():
    """Proves: helm/dsql-operator/crds/ holds exactly what `make crd` generates (no hand edits, not stale)."""
    assert crd.CHART_CRD_PATH.read_text() == crd.to_yaml(), "run `make crd`"
    validate_k8s(crd.crd())


def _python_patterns(node):
    """Kubernetes evaluates `pattern` with Go's regexp (\\p{L} classes); Python's re has \\w and \\s."""
    if isinstance(node, dict):
        return {k: (v.replace(r"\p{L}\p{Z}\p{N}", r"\w\s") if k == "pattern" else _python_patterns(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    return node


def _schema():
    return _python_patterns(crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.mark.parametrize("name,obj", list(example_bodies()), ids=[p.name for p in EXAMPLES])
def test_examples_validate_against_the_crd_schema(name, obj):
    """Proves: the chart's example resources are valid DSQLClusters by the CRD's OpenAPI schema."""
    jsonschema.Draft7Validator(_schema()).validate(obj)


@pytest.mark.parametrize("spec", [
    {"relay": {"replicas": 0}},
    {"tags": {f"k{i}": "v" for i in range(51)}},
    {"tags": {"k": "v" * 257}},
    {"availabilityZones": [{"name": "Upper_Case"}]},
    {"etcd": {"managed": {"replicas": 2}}},
    {"tls": {"mode": "Sometimes"}},
    {"deletionProtection": "yes"},
])
def test_crd_schema_rejects_invalid_specs(spec):
    """Proves: the CRD schema itself refuses invalid specs (what the API server checks before the operator)."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(_schema()).validate(body(**spec))


def test_status_written_by_the_operator_fits_the_crd_status_schema():
    """Proves: the status the reconciler builds validates against the CRD's status schema."""
    from dsql_operator import status
    zones = [status.ZoneState("us-east-1a", {"relay": status.WorkloadState(True, 1, 1, True)}, False)]
    st = status.build({}, generation=3, zones=zones, etcd_ready=True, phase="ACTIVE", identifier="x" * 26,
                      arn="arn:aws:dsql:us-east-1:000000000000:cluster/x", endpoint={"host": "h", "port": 5432,
                                                                                    "dsqlHostname": "d"},
                      waiting=[])
    st.update(placement="Required", activatedAt=status.now_iso(), tags=None)
    st = {k: v for k, v in st.items() if v is not None}     # a merge patch's None deletes the key
    jsonschema.Draft7Validator(_schema()["properties"]["status"]).validate(st)


def test_entrypoint_rewrites_only_the_pods_own_endpoint(tmp_path):
    """Proves: the image entrypoint binds the pod's own endpoint to its IP and leaves peers' DNS names."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("dsql_entrypoint", ROOT / "images" / "dsql" / "entrypoint.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    config = resources.cluster_config(model.parse(body()))
    out = entry.rewrite(config, "compute", "us-east-1b", "10.1.2.3")
    assert out["azs"]["us-east-1b"]["compute"]["host"] == "10.1.2.3"
    assert out["azs"]["us-east-1a"]["compute"]["host"] == "demo-compute-us-east-1a.db.svc"
    assert config["azs"]["us-east-1b"]["compute"]["host"] == "demo-compute-us-east-1b.db.svc"
    with pytest.raises(SystemExit):
        entry.rewrite(config, "compute", "nowhere", "10.1.2.3")


def test_operator_package_never_shadows_the_stdlib_operator_module():
    """Proves: with operator/ on sys.path, `operator` is still the standard library's module."""
    import operator
    assert hasattr(operator, "itemgetter")
    assert not any(pathlib.Path(p).name == "operator" for p in sys.path[:1])


def test_status_delta_writes_only_changes():
    """Proves: an unchanged status produces an empty patch; changed and removed keys are in it."""
    pytest.importorskip("kopf", reason="kopf is not installed (pip install kopf==1.45.2)")
    from dsql_operator.handlers import status_delta
    old = {"phase": "ACTIVE", "readyZones": "3/3", "tags": {"a": "b"}}
    assert status_delta(old, dict(old)) == {}
    assert status_delta(old, {**old, "readyZones": "2/3"}) == {"readyZones": "2/3"}
    assert status_delta(old, {**old, "tags": None, "activatedAt": None}) == {"tags": None}


def test_managed_etcd_members_find_each_other():
    """Proves: a 3-member managed etcd advertises per-pod DNS names and lists every member, without a shell."""
    c = model.parse(body(etcd={"managed": {"replicas": 3}}))
    sts = resources.etcd_statefulset(c)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/usr/local/bin/etcd"] and sts["spec"]["replicas"] == 3
    args = dict(a.split("=", 1) for a in container["args"])
    assert args["--initial-cluster"].count("=http://demo-etcd-") == 3
    assert args["--advertise-client-urls"] == "http://$(POD_NAME).demo-etcd.db.svc:2379"
    assert resources.cluster_config(c)["etcd_endpoints"] == [f"demo-etcd-{i}.demo-etcd.db.svc:2379" for i in range(3)]
