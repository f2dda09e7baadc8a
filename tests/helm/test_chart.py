"""The Helm chart, rendered and linted by Helm's own Go engine (helm-python-sdk, no cluster).

For the default values and a few realistic value sets: `helm lint --strict` is clean, every
rendered manifest validates strictly against the Kubernetes OpenAPI schemas (1.30, the
chart's minimum, and the latest), the example DSQLCluster validates against the CRD, and
values.schema.json refuses values that would render nonsense.
"""

from __future__ import annotations

import pathlib
import sys

import pytest
import yaml

helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk==0.2.2")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate==1.37.0")
jsonschema = pytest.importorskip("jsonschema")

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "dsql-operator"
if str(ROOT / "operator") not in sys.path:
    sys.path.append(str(ROOT / "operator"))     # appended: `operator` stays the stdlib module
from dsql_operator import crd  # noqa: E402

K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
VALUE_SETS = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"], "rbac": {"create": True, "certManager": True}},
    "example-cluster": {"exampleCluster": {"enabled": True, "name": "demo",
                                           "spec": {"deletionProtection": False, "relay": {"replicas": 2},
                                                    "tags": {"Name": "demo", "env": "staging"}}}},
    "pinned-images": {"image": {"repository": "registry.local/dsql-operator", "tag": "1.2.3",
                                "pullPolicy": "Always"},
                      "clusterImage": {"repository": "registry.local/dsql", "tag": "1.2.3"},
                      "imagePullSecrets": [{"name": "regcred"}], "admissionPolicy": {"enabled": False},
                      "serviceAccount": {"create": True, "name": "dsql-op", "annotations": {"a": "b"}},
                      "nodeSelector": {"kubernetes.io/os": "linux"}, "priorityClassName": "system-cluster-critical",
                      "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db",
                                       "effect": "NoSchedule"}]},
}


@pytest.fixture(scope="module")
def chart():
    return helm.Chart.load(str(CHART))


def render(chart, values: dict, namespace: str = "dsql-system") -> list[dict]:
    out = chart.render(values, name="dsql", namespace=namespace, is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_is_clean(name):
    """Proves: `helm lint --strict` reports no warning or error for each value set and Kubernetes version."""
    for version in ("v1.30.0", "v1.34.0"):
        report = helm.lint(str(CHART), VALUE_SETS[name], strict=True, kube_version=version)
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert not problems, problems


@pytest.mark.parametrize("name", VALUE_SETS)
def test_rendered_manifests_validate_against_kubernetes(chart, name):
    """Proves: every manifest rendered for the value set is valid (strict) for Kubernetes 1.30 and latest."""
    docs = render(chart, VALUE_SETS[name])
    assert by_kind(docs, "Deployment"), "the operator Deployment is rendered"
    for doc in docs:
        if doc["apiVersion"].startswith("dsql.k8s.io/"):
            jsonschema.Draft7Validator(_crd_schema()).validate(doc)
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_crds_directory_holds_the_generated_crd(chart):
    """Proves: the chart installs the DSQLCluster CRD (crds/) and it is a valid CustomResourceDefinition."""
    files = {c["name"]: c for c in chart.crds}
    assert list(files) == ["crds/dsqlclusters.dsql.k8s.io.yaml"]
    doc = yaml.safe_load((CHART / "crds" / "dsqlclusters.dsql.k8s.io.yaml").read_text())
    assert doc == crd.crd()
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)
    columns = [c["name"] for c in doc["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns[:4] == ["Identifier", "Phase", "Ready", "Endpoint"]


def _crd_schema():
    from tests.operator.test_resources import _python_patterns
    return _python_patterns(crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def test_default_install_is_cluster_wide_and_least_privilege(chart):
    """Proves: by default one ClusterRole covers all namespaces, with no wildcards and no Secret listing."""
    docs = render(chart, {})
    roles = by_kind(docs, "ClusterRole")
    assert not by_kind(docs, "Role")
    for role in roles:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
    rules = [r for role in roles for r in role["rules"]]
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert secrets and all(set(r["verbs"]) <= {"get", "create", "delete"} for r in secrets)
    assert not any("certificates" in r["resources"] for r in rules), "cert-manager access is opt-in"
    env = {e["name"]: e.get("value") for e in by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"][
        "containers"][0]["env"]}
    assert env["DSQL_WATCH_NAMESPACES"] == ""
    assert env["DSQL_DEFAULT_IMAGE"] == "ghcr.io/dsql-k8s/dsql:0.1.0"


def test_watch_namespaces_grant_roles_only_there(chart):
    """Proves: with watchNamespaces, namespaced rights are Roles in exactly those namespaces."""
    docs = render(chart, VALUE_SETS["namespaced"])
    assert sorted(r["metadata"]["namespace"] for r in by_kind(docs, "Role")) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in by_kind(docs, "RoleBinding")) == ["team-a", "team-b"]
    cluster_rules = [r for role in by_kind(docs, "ClusterRole") for r in role["rules"]]
    assert all(set(r["resources"]) <= {"nodes", "namespaces", "customresourcedefinitions"} for r in cluster_rules)
    assert any("certificates" in r["resources"] for r in by_kind(docs, "Role")[0]["rules"])
    env = {e["name"]: e.get("value") for e in by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"][
        "containers"][0]["env"]}
    assert env["DSQL_WATCH_NAMESPACES"] == "team-a,team-b"


def test_operator_pod_is_hardened(chart):
    """Proves: the operator runs as non-root, read-only, without capabilities, one replica (Recreate)."""
    dep = by_kind(render(chart, VALUE_SETS["pinned-images"]), "Deployment")[0]
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["image"] == "registry.local/dsql-operator:1.2.3"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["serviceAccountName"] == "dsql-op"


def test_admission_policy_can_be_turned_off(chart):
    """Proves: the deletion-protection ValidatingAdmissionPolicy is on by default and optional."""
    assert len(by_kind(render(chart, {}), "ValidatingAdmissionPolicy")) == 1
    assert len(by_kind(render(chart, {}), "ValidatingAdmissionPolicyBinding")) == 1
    assert by_kind(render(chart, VALUE_SETS["pinned-images"]), "ValidatingAdmissionPolicy") == []


def test_example_cluster_is_optional(chart):
    """Proves: the example DSQLCluster is rendered only when enabled, in the release namespace."""
    assert by_kind(render(chart, {}), "DSQLCluster") == []
    [cluster] = by_kind(render(chart, VALUE_SETS["example-cluster"], namespace="db"), "DSQLCluster")
    assert cluster["metadata"] == {**cluster["metadata"], "name": "demo", "namespace": "db"}
    assert cluster["spec"]["relay"]["replicas"] == 2


@pytest.mark.parametrize("values", [
    {"bogus": 1},
    {"watchNamespaces": ["Not_A_Namespace"]},
    {"accountId": "12345"},
    {"reconcileIntervalSeconds": 0},
    {"image": {"repository": ""}},
    {"exampleCluster": {"enabled": "yes"}},
])
def test_values_schema_refuses_bad_values(chart, values):
    """Proves: values.schema.json rejects unknown keys and malformed values before anything renders."""
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmError):
        chart.render(values, name="dsql", namespace="dsql-system")


def test_values_schema_accepts_every_value_set(chart):
    """Proves: the documented value sets (and values.yaml itself) pass the schema."""
    for values in VALUE_SETS.values():
        chart.validate_schema(values)
    chart.validate_schema(yaml.safe_load((CHART / "values.yaml").read_text()))
