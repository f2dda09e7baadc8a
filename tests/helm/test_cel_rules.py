"""The CEL the API server evaluates for us: CRD validation rules and the admission policy.

No API server here, so the expressions run in cel-python with the one Kubernetes CEL
extension they use (`lowerAscii`). Each rule must accept the chart's examples and refuse
the specs it exists to refuse; the ValidatingAdmissionPolicy must refuse deleting a
protected cluster and allow deleting an unprotected one.
"""

from __future__ import annotations

import pathlib
import sys

import pytest
import yaml

celpy = pytest.importorskip("celpy", reason="pip install cel-python==0.5.0")
helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk==0.2.2")

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT / "operator") not in sys.path:
    sys.path.append(str(ROOT / "operator"))
from dsql_operator import crd  # noqa: E402

EXAMPLES = sorted((ROOT / "helm" / "dsql-operator" / "examples").glob("*.yaml"))


def evaluate(expression: str, **activation) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression),
                          functions={"lowerAscii": lambda s: celpy.celtypes.StringType(str(s).lower())})
    return bool(program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()}))


def rules_by_path(schema: dict, path: tuple = ()) -> list[tuple[tuple, str]]:
    found = [(path, rule["rule"]) for rule in schema.get("x-kubernetes-validations", [])]
    for key, sub in (schema.get("properties") or {}).items():
        found += rules_by_path(sub, path + (key,))
    return found


RULES = rules_by_path(crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def at(obj: dict, path: tuple):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def check(obj: dict, old: dict | None = None) -> list[str]:
    """The rules `obj` breaks (rules whose field is absent do not apply, as in Kubernetes)."""
    broken = []
    for path, rule in RULES:
        value = at(obj, path)
        if value is None:
            continue
        if "oldSelf" in rule:
            old_value = at(old, path) if old is not None else None
            if old_value is None:
                continue      # transition rules apply to updates only
            if not evaluate(rule, self=value, oldSelf=old_value):
                broken.append(rule)
        elif not evaluate(rule, self=value):
            broken.append(rule)
    return broken


def with_defaults(obj: dict) -> dict:
    """The defaults the API server applies before CEL rules run (the ones the rules read)."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("tls", {}).setdefault("mode", "Generated")
    return obj


def test_every_rule_is_found():
    """Proves: the walk finds the rules (so the tests below test something)."""
    assert len(RULES) >= 7


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_pass_every_rule(path):
    """Proves: the chart's example clusters satisfy every CEL rule of the CRD."""
    obj = with_defaults(yaml.safe_load(path.read_text()))
    assert check(obj, old=obj) == []


@pytest.mark.parametrize("spec,fragment", [
    ({"tags": {"aws:team": "x"}}, "startsWith('aws:')"),
    ({"tags": {"AWS:team": "x"}}, "startsWith('aws:')"),
    ({"tags": {"k" * 129: "x"}}, "size(k) <= 128"),
    ({"tags": {"semi;colon": "x"}}, "matches"),
    ({"etcd": {"endpoints": ["e:2379"], "managed": {"replicas": 1}}}, "has(self.managed)"),
    ({"tls": {"mode": "Secret"}}, "has(self.secretName)"),
    ({"tls": {"mode": "CertManager"}}, "has(self.issuerRef)"),
])
def test_rules_refuse_what_they_are_for(spec, fragment):
    """Proves: each rule refuses the spec that breaks the DSQL rule or spec constraint it encodes."""
    broken = check(with_defaults({"metadata": {"name": "demo"}, "spec": spec}))
    assert any(fragment in rule for rule in broken), broken


def test_zones_cannot_change_after_creation():
    """Proves: the transition rule refuses changing availabilityZones on update, and allows keeping them."""
    old = with_defaults({"metadata": {"name": "demo"}, "spec": {"availabilityZones": [{"name": "a"}, {"name": "b"}]}})
    new = with_defaults({"metadata": {"name": "demo"}, "spec": {"availabilityZones": [{"name": "a"}]}})
    assert any("oldSelf" in r for r in check(new, old=old))
    assert check(old, old=old) == []


def test_long_names_are_refused():
    """Proves: the root rule refuses names too long for the children's names."""
    assert check(with_defaults({"metadata": {"name": "x" * 31}, "spec": {}}))
    assert not check(with_defaults({"metadata": {"name": "x" * 30}, "spec": {}}))


def test_admission_policy_blocks_deleting_a_protected_cluster():
    """Proves: the chart's ValidatingAdmissionPolicy denies DELETE while deletion protection is on."""
    rendered = helm.Chart.load(str(ROOT / "helm" / "dsql-operator")).render({}, name="dsql", namespace="x")
    policy = next(d for d in yaml.safe_load_all(rendered["dsql-operator/templates/admission-policy.yaml"])
                  if d and d["kind"] == "ValidatingAdmissionPolicy")
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["operations"] == ["DELETE"]
    [validation] = policy["spec"]["validations"]
    expr = validation["expression"]
    assert not evaluate(expr, oldObject={"spec": {"deletionProtection": True}})
    assert not evaluate(expr, oldObject={"spec": {}})          # absent means protected (the default)
    assert evaluate(expr, oldObject={"spec": {"deletionProtection": False}})
    assert "deletion protection is enabled" in validation["message"]
