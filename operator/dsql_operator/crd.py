"""The DSQLCluster CustomResourceDefinition (group dsql.k8s.io, version v1alpha1).

This module is the single source of the CRD; `python -m dsql_operator.crd` writes it
into the Helm chart (`helm/dsql-operator/crds/`), and a test fails if the two differ.
Defaults and validation mirror `model.parse`; rules that need the old object or map keys
are CEL (`x-kubernetes-validations`), enforced by the API server.
"""

from __future__ import annotations

import pathlib
import sys

import yaml

from dsql_operator import model

CRD_NAME = f"{model.PLURAL}.{model.GROUP}"
CHART_CRD_PATH = pathlib.Path(__file__).resolve().parents[2] / "helm" / "dsql-operator" / "crds" / f"{CRD_NAME}.yaml"

_QUANTITY = {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True,
             "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"}
_RESOURCES = {
    "type": "object", "description": "Compute resources of each pod (requests and limits), as in a container.",
    "properties": {"limits": {"type": "object", "additionalProperties": _QUANTITY},
                   "requests": {"type": "object", "additionalProperties": _QUANTITY}},
}
_VOLUME = {
    "type": "object", "description": "The persistent volume of each pod.",
    "properties": {"size": {**_QUANTITY, "description": "Requested size, e.g. 10Gi."},
                   "storageClassName": {"type": "string",
                                        "description": "Storage class; the cluster default when empty."}},
}
_DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_TAG_CHARS = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"


def _stateless(name: str, what: str) -> dict:
    return {"type": "object", "default": {}, "description": f"The {name} ({what}) of every zone.",
            "properties": {"replicas": {"type": "integer", "minimum": 1, "maximum": 50, "default": 1,
                                        "description": f"{name} pods per zone."},
                           "resources": _RESOURCES}}


def _stateful(name: str, what: str, size: str) -> dict:
    volume = {**_VOLUME, "default": {"size": size}}
    return {"type": "object", "default": {}, "description": f"The {name} ({what}): one pod per zone.",
            "properties": {"resources": _RESOURCES, "volume": volume}}


def spec_schema() -> dict:
    return {
        "type": "object",
        "default": {},
        "description": "The desired cluster, in the terms of Aurora DSQL's CreateCluster.",
        "properties": {
            "region": {"type": "string", "default": model.DEFAULT_REGION, "pattern": r"^[a-z]{2}(-[a-z]+)+-\d+$",
                       "description": "AWS-style Region name; auth tokens are signed for it."},
            "availabilityZones": {
                "type": "array", "minItems": 1, "maxItems": 5,
                "description": "Zones, one full replica each (default: the Region's a, b and c). "
                               "A write commits once a majority of zones has it; three zones survive "
                               "the loss of one. Fixed at creation.",
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-validations": [{"rule": "self == oldSelf",
                                              "message": "availabilityZones cannot be changed after creation"}],
                "items": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": 20, "pattern": _DNS_LABEL,
                             "description": "DSQL zone name, e.g. us-east-1a."},
                    "nodeZone": {"type": "string", "maxLength": 63,
                                 "description": "Value of the nodes' topology.kubernetes.io/zone label "
                                                "(default: name)."}}},
            },
            "placement": {"type": "object", "default": {}, "properties": {
                "zoneAffinity": {"type": "string", "enum": list(model.ZONE_AFFINITY_MODES), "default": "Auto",
                                 "description": "Required pins pods to their zone's nodes; Preferred only "
                                                "prefers them; Auto is Required when nodes carry every "
                                                "zone label and Preferred otherwise (single-zone clusters)."}}},
            "image": {"type": "string", "description": "Image of the services (default: the operator's)."},
            "imagePullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"],
                                "default": "IfNotPresent"},
            "relay": _stateless("relay", "PostgreSQL endpoint"),
            "compute": _stateless("compute", "query processor"),
            "journal": _stateful("journal", "adjudicator and replicated log", "2Gi"),
            "storage": _stateful("storage", "multi-version key-value replica", "10Gi"),
            "reclaimPolicy": {"type": "string", "enum": ["Delete", "Retain"], "default": "Delete",
                              "description": "What happens to volumes when the cluster is deleted."},
            "etcd": {"type": "object", "default": {},
                     "description": "The catalog store: managed by the operator, or external endpoints.",
                     "x-kubernetes-validations": [{
                         "rule": "!(has(self.endpoints) && size(self.endpoints) > 0 && has(self.managed))",
                         "message": "give either endpoints (external etcd) or managed, not both"}],
                     "properties": {
                         "endpoints": {"type": "array", "items": {"type": "string", "pattern": r"^[^:/\s]+:\d+$"},
                                       "description": "External etcd client endpoints, host:port."},
                         "managed": {"type": "object", "properties": {
                             "replicas": {"type": "integer", "enum": [1, 3, 5, 7], "default": 1},
                             "image": {"type": "string"},
                             "resources": _RESOURCES,
                             "volume": {**_VOLUME, "default": {"size": "1Gi"}}}}}},
            "deletionProtection": {"type": "boolean", "default": True,
                                   "description": "As in DSQL (on by default): the cluster cannot be deleted "
                                                  "until this is turned off."},
            "tags": {"type": "object", "maxProperties": model.TAGS_MAX,
                     "description": "DSQL tags: at most 50; keys 1-128 characters, not prefixed with aws:; "
                                    "values 0-256 characters; letters, digits, white space and _ . : / = + - @.",
                     "additionalProperties": {"type": "string", "maxLength": model.TAG_VALUE_BYTES_MAX,
                                              "pattern": _TAG_CHARS},
                     "x-kubernetes-validations": [
                         {"rule": "self.all(k, size(k) >= 1 && size(k) <= 128)",
                          "message": "tag keys must be between 1 and 128 characters"},
                         {"rule": "self.all(k, !k.lowerAscii().startsWith('aws:'))",
                          "message": "tag keys can't be prefixed with aws:"},
                         {"rule": "self.all(k, k.matches('" + _TAG_CHARS.replace("\\", "\\\\") + "'))",
                          "message": "tag keys may use letters, digits, white space and _ . : / = + - @"}]},
            "quotas": {"type": "object", "description": "Overrides of DSQL's configurable cluster quotas.",
                       "properties": {
                           "maxConnections": {"type": "integer", "minimum": 1, "description": "default 1000"},
                           "connectionRatePerSecond": {"type": "number", "minimum": 0.01,
                                                       "description": "token refill rate, default 10"},
                           "connectionBurst": {"type": "integer", "minimum": 1,
                                               "description": "token bucket size, default 100"}}},
            "tls": {"type": "object", "default": {},
                    "x-kubernetes-validations": [
                        {"rule": "self.mode != 'Secret' || has(self.secretName)",
                         "message": "mode Secret needs secretName"},
                        {"rule": "self.mode != 'CertManager' || has(self.issuerRef)",
                         "message": "mode CertManager needs issuerRef"}],
                    "properties": {
                        "mode": {"type": "string", "enum": list(model.TLS_MODES), "default": "Generated",
                                 "description": "Generated: a private CA made by the operator; Secret: your "
                                                "kubernetes.io/tls Secret with ca.crt; CertManager: a "
                                                "Certificate from issuerRef."},
                        "secretName": {"type": "string"},
                        "issuerRef": {"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"}, "kind": {"type": "string", "default": "Issuer"},
                            "group": {"type": "string", "default": "cert-manager.io"}}}}},
            "credentials": {"type": "object", "properties": {
                "secretName": {"type": "string",
                               "description": "Secret with credentials.json (the credential store); "
                                              "generated as <name>-credentials when empty."}}},
            "service": {"type": "object", "default": {}, "properties": {
                "type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"], "default": "ClusterIP"},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}},
        },
    }


def status_schema() -> dict:
    condition = {"type": "object", "required": ["type", "status"], "properties": {
        "type": {"type": "string"}, "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": {"type": "string"}, "message": {"type": "string"},
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer"}}}
    zone = {"type": "object", "properties": {
        "name": {"type": "string"}, "ready": {"type": "boolean"},
        **{svc: {"type": "string"} for svc in model.SERVICES}}}
    return {"type": "object", "properties": {
        "phase": {"type": "string", "enum": ["CREATING", "ACTIVE", "UPDATING", "DELETING", "FAILED"]},
        "observedGeneration": {"type": "integer"},
        "identifier": {"type": "string"},
        "arn": {"type": "string"},
        "endpoint": {"type": "object", "properties": {
            "host": {"type": "string"}, "port": {"type": "integer"}, "dsqlHostname": {"type": "string"}}},
        "readyZones": {"type": "string"},
        "placement": {"type": "string"},
        "activatedAt": {"type": "string", "format": "date-time", "nullable": True},
        "tags": {"type": "object", "nullable": True, "additionalProperties": {"type": "string"}},
        "availabilityZones": {"type": "array", "items": zone},
        "conditions": {"type": "array", "items": condition,
                       "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    }}


def crd() -> dict:
    columns = [
        {"name": "Identifier", "type": "string", "jsonPath": ".status.identifier"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.readyZones", "description": "ready zones"},
        {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint.host"},
        {"name": "Protected", "type": "boolean", "jsonPath": ".spec.deletionProtection", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/name": "dsql-operator"}},
        "spec": {
            "group": model.GROUP,
            "scope": "Namespaced",
            "names": {"kind": model.KIND, "listKind": f"{model.KIND}List", "plural": model.PLURAL,
                      "singular": "dsqlcluster", "shortNames": ["dsql"], "categories": ["dsql"]},
            "versions": [{
                "name": model.VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A distributed, PostgreSQL-compatible Aurora DSQL cluster.",
                    "x-kubernetes-validations": [{"rule": "size(self.metadata.name) <= 30",
                                                  "message": "metadata.name must be at most 30 characters"}],
                    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                   "metadata": {"type": "object"},
                                   "spec": spec_schema(), "status": status_schema()}}},
            }],
        },
    }


def to_yaml() -> str:
    return "# Generated from operator/dsql_operator/crd.py by `make crd`; do not edit.\n" + yaml.safe_dump(crd(), sort_keys=False)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--stdout" in argv:
        sys.stdout.write(to_yaml())
    else:
        CHART_CRD_PATH.parent.mkdir(parents=True, exist_ok=True)
        CHART_CRD_PATH.write_text(to_yaml())
        print(CHART_CRD_PATH)


if __name__ == "__main__":
    main()
