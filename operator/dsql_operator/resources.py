"""Pure builders: a normalized `Cluster` in, the Kubernetes objects it needs out.

Nothing here talks to the API server, so every object can be checked in tests against
the Kubernetes OpenAPI schemas. Layout of one cluster named `demo` with zones a, b, c:

    Service    demo                 client endpoint, port 5432, every relay behind it
    Service    demo-peers           headless; stable DNS for journal and storage pods
    Service    demo-{relay,compute}-<az>   per-zone gRPC endpoints (what cluster.json names)
    ConfigMap  demo-config          cluster.json, the document every process reads
    Secret     demo-tls, demo-credentials  (generated unless the spec names others)
    Deployment demo-relay-<az>, demo-compute-<az>     pinned to the zone
    StatefulSet demo-journal-<az>, demo-storage-<az>  one replica each, own volume
    StatefulSet demo-etcd + Service demo-etcd (headless)   unless etcd is external
    PodDisruptionBudget demo-<service>, demo-etcd     at most one pod of each down

Every object carries the cluster's labels, an owner reference to the DSQLCluster, and
the annotation `dsql.k8s.io/desired-hash` that tells the reconciler whether it is current.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from dsql_operator import model
from dsql_operator.model import Cluster

HASH_ANNOTATION = "dsql.k8s.io/desired-hash"
CONFIG_HASH_ANNOTATION = "dsql.k8s.io/config-hash"
ENTRYPOINT = "dsql-entrypoint"
RUN_AS_ID = 10001
MAX_CLOCK_OFFSET_US = 1000     # pods on different nodes do not share a clock (commit-wait)
CLOSED_TS_INTERVAL_MS = 5


# ---- helpers -------------------------------------------------------------------------------

def owner_reference(c: Cluster) -> dict:
    return {"apiVersion": model.API_VERSION, "kind": model.KIND, "name": c.name, "uid": c.uid,
            "controller": True, "blockOwnerDeletion": True}


def _meta(c: Cluster, name: str, component: str | None = None, az: str | None = None,
          annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": c.namespace, "labels": c.labels(component, az),
            "ownerReferences": [owner_reference(c)]}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def desired_hash(obj: dict) -> str:
    body = copy.deepcopy(obj)
    (body["metadata"].get("annotations") or {}).pop(HASH_ANNOTATION, None)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def stamp(obj: dict) -> dict:
    """Record the object's own hash in it, so drift is one string comparison."""
    obj["metadata"].setdefault("annotations", {})[HASH_ANNOTATION] = desired_hash(obj)
    return obj


def host(c: Cluster, service: str, az: str) -> str:
    if service in model.STATEFUL:
        return f"{c.workload_name(service, az)}-0.{c.peers_service}.{c.namespace}.svc"
    return f"{c.workload_name(service, az)}.{c.namespace}.svc"


def etcd_endpoints(c: Cluster) -> list[str]:
    if not c.etcd_managed:
        return list(c.etcd_endpoints)
    return [f"{c.etcd_name}-{i}.{c.etcd_name}.{c.namespace}.svc:{model.ETCD_CLIENT_PORT}"
            for i in range(c.etcd_replicas)]


# ---- cluster.json ---------------------------------------------------------------------------

def cluster_config(c: Cluster) -> dict:
    """The `services.common.config.ClusterConfig` document, with Kubernetes names as hosts."""
    return {
        "cluster_id": c.identifier,
        "region": c.region,
        "state_dir": model.DATA_DIR,
        "client_host": "0.0.0.0",
        "client_port": model.CLIENT_PORT,
        "etcd_endpoints": etcd_endpoints(c),
        "tls_cert": f"{model.TLS_DIR}/tls.crt",
        "tls_key": f"{model.TLS_DIR}/tls.key",
        "tls_ca": f"{model.TLS_DIR}/ca.crt",
        "credentials_file": f"{model.CREDENTIALS_DIR}/credentials.json",
        "azs": {z.name: {svc: {"host": host(c, svc, z.name), "grpc_port": model.GRPC_PORTS[svc],
                               "metrics_port": model.METRICS_PORTS[svc]}
                         for svc in model.SERVICES}
                for z in c.zones},
        "limits": {model.QUOTA_FIELDS[k]: v for k, v in sorted(c.quotas.items())},
        "max_clock_offset_us": MAX_CLOCK_OFFSET_US,
        "closed_ts_interval_ms": CLOSED_TS_INTERVAL_MS,
        "extra_hostnames": tls_hostnames(c),
        "journal_replication": "raft",
        "account_id": c.account_id,      # the cluster ARN that credential-store policies name
    }


def config_json(c: Cluster) -> str:
    return json.dumps(cluster_config(c), indent=2, sort_keys=True)


def config_map(c: Cluster) -> dict:
    return stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(c, c.config_map, "config"),
                  "data": {"cluster.json": config_json(c)}})


def tls_hostnames(c: Cluster) -> list[str]:
    svc = f"{c.name}.{c.namespace}"
    return [c.service_host, c.name, svc, f"{svc}.svc", c.dsql_hostname, "localhost", "127.0.0.1"]


# ---- services -------------------------------------------------------------------------------

def client_service(c: Cluster) -> dict:
    annotations = dict(c.service_annotations)
    if c.tags:
        annotations["dsql.k8s.io/tags"] = json.dumps(c.tags, sort_keys=True)
    annotations["dsql.k8s.io/arn"] = c.arn
    return stamp({"apiVersion": "v1", "kind": "Service",
                  "metadata": _meta(c, c.name, "endpoint", annotations=annotations),
                  "spec": {"type": c.service_type, "selector": c.selector("relay"),
                           "ports": [{"name": "postgresql", "port": model.CLIENT_PORT,
                                      "targetPort": "postgresql", "protocol": "TCP"}]}})


def peers_service(c: Cluster) -> dict:
    ports = [{"name": f"{svc}-grpc", "port": model.GRPC_PORTS[svc], "protocol": "TCP"}
             for svc in model.STATEFUL]
    return stamp({"apiVersion": "v1", "kind": "Service", "metadata": _meta(c, c.peers_service, "peers"),
                  # Raft peers and storage subscribers must resolve each other before they are Ready.
                  "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                           "selector": c.selector(), "ports": ports}})


def zone_service(c: Cluster, service: str, az: str) -> dict:
    return stamp({"apiVersion": "v1", "kind": "Service",
                  "metadata": _meta(c, c.workload_name(service, az), service, az),
                  "spec": {"selector": c.selector(service, az),
                           "ports": [{"name": "grpc", "port": model.GRPC_PORTS[service], "protocol": "TCP",
                                      "targetPort": "grpc"},
                                     {"name": "metrics", "port": model.METRICS_PORTS[service],
                                      "protocol": "TCP", "targetPort": "metrics"}]}})


def etcd_service(c: Cluster) -> dict:
    return stamp({"apiVersion": "v1", "kind": "Service", "metadata": _meta(c, c.etcd_name, "etcd"),
                  "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                           "selector": c.selector("etcd"),
                           "ports": [{"name": "client", "port": model.ETCD_CLIENT_PORT, "protocol": "TCP"},
                                     {"name": "peer", "port": model.ETCD_PEER_PORT, "protocol": "TCP"}]}})


def pod_disruption_budget(c: Cluster, component: str) -> dict:
    return stamp({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                  "metadata": _meta(c, f"{c.name}-{component}", component),
                  "spec": {"maxUnavailable": 1, "selector": {"matchLabels": c.selector(component)}}})


# ---- secrets --------------------------------------------------------------------------------

def secret(c: Cluster, name: str, component: str, data: dict[str, bytes], secret_type: str = "Opaque") -> dict:
    import base64
    return {"apiVersion": "v1", "kind": "Secret", "type": secret_type,
            "metadata": _meta(c, name, component),
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}}


def _is_ip(name: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def certificate(c: Cluster) -> dict:
    """A cert-manager Certificate whose Secret has the same layout as a generated one."""
    issuer = dict(c.tls_issuer or {})
    issuer.setdefault("kind", "Issuer")
    issuer.setdefault("group", "cert-manager.io")
    names = tls_hostnames(c)
    ips = [n for n in names if _is_ip(n)]
    return stamp({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                  "metadata": _meta(c, c.tls_secret, "tls"),
                  "spec": {"secretName": c.tls_secret, "issuerRef": issuer,
                           "dnsNames": [n for n in names if n not in ips], "ipAddresses": ips,
                           "usages": ["server auth", "digital signature", "key encipherment"]}})


# ---- workloads ------------------------------------------------------------------------------

def _affinity(zone: model.Zone, required: bool) -> dict:
    term = {"matchExpressions": [{"key": model.ZONE_LABEL, "operator": "In", "values": [zone.node_zone]}]}
    if required:
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": term}]}}


_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                       "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
_POD_SECURITY = {"runAsNonRoot": True, "runAsUser": RUN_AS_ID, "runAsGroup": RUN_AS_ID, "fsGroup": RUN_AS_ID,
                 "seccompProfile": {"type": "RuntimeDefault"}}


def _service_pod(c: Cluster, service: str, zone: model.Zone, required: bool) -> dict:
    az = zone.name
    probe_port = "postgresql" if service == "relay" else "grpc"
    ports = [{"name": "grpc", "containerPort": model.GRPC_PORTS[service], "protocol": "TCP"},
             {"name": "metrics", "containerPort": model.METRICS_PORTS[service], "protocol": "TCP"}]
    if service == "relay":
        ports.insert(0, {"name": "postgresql", "containerPort": model.CLIENT_PORT, "protocol": "TCP"})
    mounts = [{"name": "config", "mountPath": model.CONFIG_DIR, "readOnly": True},
              {"name": "tls", "mountPath": model.TLS_DIR, "readOnly": True},
              {"name": "data", "mountPath": model.DATA_DIR},
              {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict] = [{"name": "config", "configMap": {"name": c.config_map}},
                           {"name": "tls", "secret": {"secretName": c.tls_secret, "defaultMode": 0o440}},
                           {"name": "tmp", "emptyDir": {}}]
    if service == "relay":   # only the relay verifies auth tokens
        mounts.append({"name": "credentials", "mountPath": model.CREDENTIALS_DIR, "readOnly": True})
        volumes.append({"name": "credentials", "secret": {"secretName": c.credentials_secret,
                                                          "defaultMode": 0o440}})
    if service in model.STATELESS:
        volumes.append({"name": "data", "emptyDir": {}})
    container = {
        "name": service, "image": c.image, "imagePullPolicy": c.image_pull_policy,
        "command": [ENTRYPOINT],
        "args": ["--service", service, "--az", az, "--config", f"{model.CONFIG_DIR}/cluster.json"],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "PYTHONUNBUFFERED", "value": "1"}],
        "ports": ports,
        "readinessProbe": {"tcpSocket": {"port": probe_port}, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"tcpSocket": {"port": probe_port}, "initialDelaySeconds": 15,
                          "periodSeconds": 10, "failureThreshold": 6},
        "resources": c.resources[service],
        "securityContext": _CONTAINER_SECURITY,
        "volumeMounts": mounts,
    }
    spec: dict[str, Any] = {"containers": [container], "volumes": volumes,
                            "affinity": _affinity(zone, required), "securityContext": _POD_SECURITY,
                            "automountServiceAccountToken": False, "enableServiceLinks": False,
                            "terminationGracePeriodSeconds": 30}
    if service in model.STATELESS and c.replicas[service] > 1:
        spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                              "whenUnsatisfiable": "ScheduleAnyway",
                                              "labelSelector": {"matchLabels": c.selector(service, az)}}]
    annotations = {CONFIG_HASH_ANNOTATION: hashlib.sha256(config_json(c).encode()).hexdigest()[:16],
                   "prometheus.io/scrape": "true", "prometheus.io/port": str(model.METRICS_PORTS[service])}
    return {"metadata": {"labels": c.labels(service, az), "annotations": annotations}, "spec": spec}


def _claim(name: str, volume: dict, labels: dict[str, str]) -> dict:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": volume["size"]}}}
    if volume.get("storageClassName"):
        spec["storageClassName"] = volume["storageClassName"]
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


def workload(c: Cluster, service: str, zone: model.Zone, required: bool) -> dict:
    name = c.workload_name(service, zone.name)
    template = _service_pod(c, service, zone, required)
    selector = {"matchLabels": c.selector(service, zone.name)}
    if service in model.STATELESS:
        return stamp({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": _meta(c, name, service, zone.name),
                      "spec": {"replicas": c.replicas[service], "selector": selector, "template": template,
                               "revisionHistoryLimit": 5,
                               # surge first: a zone never has fewer ready pods than asked for
                               "strategy": {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}})
    policy = "Delete" if c.reclaim_policy == "Delete" else "Retain"
    return stamp({"apiVersion": "apps/v1", "kind": "StatefulSet",
                  "metadata": _meta(c, name, service, zone.name),
                  "spec": {"replicas": 1, "serviceName": c.peers_service, "selector": selector,
                           "template": template, "podManagementPolicy": "Parallel",
                           "revisionHistoryLimit": 5, "updateStrategy": {"type": "RollingUpdate"},
                           "persistentVolumeClaimRetentionPolicy": {"whenDeleted": policy, "whenScaled": "Retain"},
                           "volumeClaimTemplates": [_claim("data", c.volumes[service], c.labels(service, zone.name))]}})


def etcd_statefulset(c: Cluster) -> dict:
    name, ns = c.etcd_name, c.namespace
    peers = ",".join(f"{name}-{i}=http://{name}-{i}.{name}.{ns}.svc:{model.ETCD_PEER_PORT}"
                     for i in range(c.etcd_replicas))
    # The etcd image has no shell: Kubernetes expands $(POD_NAME) in args itself.
    args = [
        "--name=$(POD_NAME)", "--data-dir=/var/lib/etcd/data",
        f"--listen-client-urls=http://0.0.0.0:{model.ETCD_CLIENT_PORT}",
        f"--advertise-client-urls=http://$(POD_NAME).{name}.{ns}.svc:{model.ETCD_CLIENT_PORT}",
        f"--listen-peer-urls=http://0.0.0.0:{model.ETCD_PEER_PORT}",
        f"--initial-advertise-peer-urls=http://$(POD_NAME).{name}.{ns}.svc:{model.ETCD_PEER_PORT}",
        f"--initial-cluster={peers}", "--initial-cluster-state=new", f"--initial-cluster-token={c.identifier}",
    ]
    container = {
        "name": "etcd", "image": c.etcd_image, "imagePullPolicy": "IfNotPresent",
        "command": ["/usr/local/bin/etcd"], "args": args,
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "ETCD_QUOTA_BACKEND_BYTES", "value": str(2 * 1024 ** 3)}],
        "ports": [{"name": "client", "containerPort": model.ETCD_CLIENT_PORT, "protocol": "TCP"},
                  {"name": "peer", "containerPort": model.ETCD_PEER_PORT, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": "client"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "client"}, "initialDelaySeconds": 15, "periodSeconds": 10,
                          "failureThreshold": 6},
        "resources": c.etcd_resources,
        "securityContext": {**_CONTAINER_SECURITY, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/etcd"}],
    }
    spread = {"maxSkew": 1, "topologyKey": model.ZONE_LABEL, "whenUnsatisfiable": "ScheduleAnyway",
              "labelSelector": {"matchLabels": c.selector("etcd")}}
    template = {"metadata": {"labels": c.labels("etcd")},
                "spec": {"containers": [container], "securityContext": _POD_SECURITY,
                         "topologySpreadConstraints": [spread], "automountServiceAccountToken": False,
                         "enableServiceLinks": False}}
    policy = "Delete" if c.reclaim_policy == "Delete" else "Retain"
    return stamp({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(c, name, "etcd"),
                  "spec": {"replicas": c.etcd_replicas, "serviceName": name,
                           "selector": {"matchLabels": c.selector("etcd")}, "template": template,
                           "podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"},
                           "persistentVolumeClaimRetentionPolicy": {"whenDeleted": policy, "whenScaled": "Retain"},
                           "volumeClaimTemplates": [_claim("data", c.etcd_volume, c.labels("etcd"))]}})


# ---- the whole picture ----------------------------------------------------------------------

def shared_objects(c: Cluster) -> list[dict]:
    """Objects that are not tied to one zone (secrets are handled apart: generated once)."""
    objs = [config_map(c), client_service(c), peers_service(c)]
    objs += [pod_disruption_budget(c, svc) for svc in model.SERVICES]
    if c.tls_mode == "CertManager":
        objs.append(certificate(c))
    if c.etcd_managed:
        objs += [etcd_service(c), etcd_statefulset(c), pod_disruption_budget(c, "etcd")]
    return objs


def zone_objects(c: Cluster, zone: model.Zone, required: bool) -> list[dict]:
    objs = [zone_service(c, svc, zone.name) for svc in model.STATELESS]
    objs += [workload(c, svc, zone, required) for svc in model.SERVICES]
    return objs


def all_objects(c: Cluster, required: bool = True) -> list[dict]:
    objs = shared_objects(c)
    for zone in c.zones:
        objs += zone_objects(c, zone, required)
    return objs
