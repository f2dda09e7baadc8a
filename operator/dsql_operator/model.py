"""The DSQLCluster spec, normalized: defaults filled in, DSQL's rules checked, names derived.

The CRD schema (`crd.py`) declares the same defaults and most of the same rules, so a
real API server rejects bad objects before the operator sees them; this module checks
again because the operator must not trust its input (old CRD versions, `kubectl replace
--validate=false`, emulated API servers in tests) and because some rules (name lengths,
tag keys) are awkward to express in OpenAPI.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from typing import Any

GROUP = "dsql.k8s.io"
VERSION = "v1alpha1"
PLURAL = "dsqlclusters"
KIND = "DSQLCluster"
API_VERSION = f"{GROUP}/{VERSION}"

SERVICES = ("relay", "compute", "journal", "storage")
STATELESS = ("relay", "compute")          # Deployments, replicas per AZ configurable
STATEFUL = ("journal", "storage")         # StatefulSets, one replica per AZ (each AZ is a full replica)

# Ports inside every pod; each pod has its own IP, so they never collide.
CLIENT_PORT = 5432
GRPC_PORTS = {"relay": 7001, "compute": 7002, "journal": 7003, "storage": 7004}
METRICS_PORTS = {"relay": 9101, "compute": 9102, "journal": 9103, "storage": 9104}
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380

# Paths inside the service containers (rendered into cluster.json).
CONFIG_DIR = "/etc/dsql/config"
TLS_DIR = "/etc/dsql/tls"
CREDENTIALS_DIR = "/etc/dsql/credentials"
DATA_DIR = "/var/lib/dsql"

ZONE_LABEL = "topology.kubernetes.io/zone"
DEFAULT_REGION = "us-east-1"
DEFAULT_IMAGE = "ghcr.io/dsql-k8s/dsql:0.1.0"
DEFAULT_ETCD_IMAGE = "quay.io/coreos/etcd:v3.5.21"
DEFAULT_ACCOUNT_ID = "000000000000"

TAGS_MAX = 50
TAG_KEY_BYTES_MAX = 128
TAG_VALUE_BYTES_MAX = 256
# Unicode letters, digits, white space and _ . : / = + - @ (the guide's "Tagging requirements").
_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A StatefulSet's pods carry the label controller-revision-hash=<name>-<10 chars>, at most 63.
WORKLOAD_NAME_MAX = 52

QUOTA_FIELDS = {  # spec.quotas key -> services.common.config.Limits field
    "maxConnections": "max_connections",
    "connectionRatePerSecond": "connection_rate_per_s",
    "connectionBurst": "connection_burst",
}

ZONE_AFFINITY_MODES = ("Auto", "Required", "Preferred")
TLS_MODES = ("Generated", "Secret", "CertManager")


class SpecError(ValueError):
    """The spec can never work as written; retrying will not help."""


@dataclasses.dataclass(frozen=True)
class Zone:
    name: str        # DSQL availability zone name, e.g. us-east-1a
    node_zone: str   # value of topology.kubernetes.io/zone on the nodes that host it


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Everything the builders need, derived once from the object."""
    name: str
    namespace: str
    uid: str
    generation: int
    region: str
    zones: tuple[Zone, ...]
    zone_affinity: str
    image: str
    image_pull_policy: str
    replicas: dict[str, int]
    resources: dict[str, dict]
    volumes: dict[str, dict]            # journal/storage -> {size, storageClassName}
    reclaim_policy: str                 # Delete | Retain (PVCs when the cluster is deleted)
    etcd_endpoints: tuple[str, ...]     # external endpoints; empty when managed
    etcd_replicas: int
    etcd_image: str
    etcd_resources: dict
    etcd_volume: dict
    deletion_protection: bool
    tags: dict[str, str]
    quotas: dict[str, Any]
    tls_mode: str
    tls_secret: str
    tls_issuer: dict | None
    credentials_secret: str
    credentials_generated: bool
    service_type: str
    service_annotations: dict[str, str]
    account_id: str

    @property
    def identifier(self) -> str:
        """A DSQL-style cluster identifier (26 lowercase letters and digits), stable per object."""
        digest = hashlib.sha256(self.uid.encode()).digest()
        return base64.b32encode(digest).decode().lower().rstrip("=")[:26]

    @property
    def arn(self) -> str:
        return f"arn:aws:dsql:{self.region}:{self.account_id}:cluster/{self.identifier}"

    @property
    def service_host(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    @property
    def dsql_hostname(self) -> str:
        return f"{self.identifier}.dsql.{self.region}.on.aws"

    @property
    def etcd_managed(self) -> bool:
        return not self.etcd_endpoints

    def zone_names(self) -> list[str]:
        return [z.name for z in self.zones]

    # ---- names of children -------------------------------------------------------------
    def workload_name(self, service: str, az: str) -> str:
        return f"{self.name}-{service}-{az}"

    @property
    def peers_service(self) -> str:
        return f"{self.name}-peers"

    @property
    def etcd_name(self) -> str:
        return f"{self.name}-etcd"

    @property
    def config_map(self) -> str:
        return f"{self.name}-config"

    def labels(self, component: str | None = None, az: str | None = None) -> dict[str, str]:
        out = {"app.kubernetes.io/name": "dsql", "app.kubernetes.io/instance": self.name,
               "app.kubernetes.io/managed-by": "dsql-operator", "dsql.k8s.io/cluster": self.name}
        if component:
            out["app.kubernetes.io/component"] = component
        if az:
            out["dsql.k8s.io/az"] = az
        return out

    def selector(self, component: str | None = None, az: str | None = None) -> dict[str, str]:
        out = {"dsql.k8s.io/cluster": self.name}
        if component:
            out["app.kubernetes.io/component"] = component
        if az:
            out["dsql.k8s.io/az"] = az
        return out


def validate_tags(tags: Any) -> dict[str, str]:
    """DSQL's tag rules (user guide, "Tagging requirements")."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise SpecError("spec.tags must be a map of tag keys to values")
    if len(tags) > TAGS_MAX:
        raise SpecError(f"spec.tags has {len(tags)} tags; a cluster can have at most {TAGS_MAX}")
    for key, value in tags.items():
        if not 1 <= len(key) <= TAG_KEY_BYTES_MAX:
            raise SpecError(f"tag key {key!r} must be between 1 and {TAG_KEY_BYTES_MAX} characters")
        if key.lower().startswith("aws:"):
            raise SpecError(f"tag key {key!r}: keys can't be prefixed with 'aws:'")
        if not isinstance(value, str):
            raise SpecError(f"tag {key!r}: values must be strings")
        if len(value) > TAG_VALUE_BYTES_MAX:
            raise SpecError(f"tag {key!r}: a value must be between 0 and {TAG_VALUE_BYTES_MAX} characters")
        for text in (key, value):
            if not _TAG_CHARS.match(text):
                raise SpecError(f"tag {key!r}: allowed characters are Unicode letters, digits, "
                                "white space, and _ . : / = + - @")
    return dict(tags)


def _positive_int(value: Any, what: str, *, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"{what} must be a positive integer, not {value!r}")
    if maximum is not None and value > maximum:
        raise SpecError(f"{what} must be at most {maximum}, not {value}")
    return value


def parse(body: dict, *, default_image: str = DEFAULT_IMAGE, account_id: str = DEFAULT_ACCOUNT_ID) -> Cluster:
    """Normalize a DSQLCluster object; raise SpecError for a spec that cannot work."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    name = meta.get("name") or ""
    if not _DNS_LABEL.match(name):
        raise SpecError(f"metadata.name {name!r} must be a DNS label")
    region = spec.get("region") or DEFAULT_REGION
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", region):
        raise SpecError(f"spec.region {region!r} does not look like an AWS Region (e.g. us-east-1)")

    raw_zones = spec.get("availabilityZones") or [{"name": f"{region}{s}"} for s in "abc"]
    zones: list[Zone] = []
    for raw in raw_zones:
        raw = {"name": raw} if isinstance(raw, str) else raw
        az = raw.get("name") or ""
        if not _DNS_LABEL.match(az) or len(az) > 20:
            raise SpecError(f"availability zone name {az!r} must be a DNS label of at most 20 characters")
        zones.append(Zone(az, raw.get("nodeZone") or az))
    if len({z.name for z in zones}) != len(zones):
        raise SpecError("spec.availabilityZones names must be unique")
    if not 1 <= len(zones) <= 5:
        raise SpecError("spec.availabilityZones must list between 1 and 5 zones")

    longest = max(len(f"{name}-{svc}-{z.name}") for z in zones for svc in SERVICES)
    if longest > WORKLOAD_NAME_MAX:
        raise SpecError(f"metadata.name {name!r} is too long for its zone names: child names such as "
                        f"'{name}-storage-{zones[0].name}' must fit in {WORKLOAD_NAME_MAX} characters")

    placement = spec.get("placement") or {}
    zone_affinity = placement.get("zoneAffinity") or "Auto"
    if zone_affinity not in ZONE_AFFINITY_MODES:
        raise SpecError(f"spec.placement.zoneAffinity must be one of {', '.join(ZONE_AFFINITY_MODES)}")

    replicas: dict[str, int] = {}
    resources: dict[str, dict] = {}
    volumes: dict[str, dict] = {}
    for svc in SERVICES:
        part = spec.get(svc) or {}
        replicas[svc] = _positive_int(part.get("replicas", 1), f"spec.{svc}.replicas",
                                      maximum=1 if svc in STATEFUL else 50)
        resources[svc] = dict(part.get("resources") or {})
        if svc in STATEFUL:
            vol = part.get("volume") or {}
            volumes[svc] = {"size": vol.get("size") or ("10Gi" if svc == "storage" else "2Gi"),
                            "storageClassName": vol.get("storageClassName")}

    etcd = spec.get("etcd") or {}
    endpoints = tuple(etcd.get("endpoints") or ())
    managed = etcd.get("managed") or {}
    if endpoints and managed:
        raise SpecError("spec.etcd: give either endpoints (external etcd) or managed, not both")
    etcd_replicas = _positive_int(managed.get("replicas", 1), "spec.etcd.managed.replicas", maximum=7)
    if etcd_replicas % 2 == 0:
        raise SpecError("spec.etcd.managed.replicas must be odd (1, 3, 5 or 7) to keep a quorum")
    etcd_vol = managed.get("volume") or {}

    quotas = dict(spec.get("quotas") or {})
    for key, value in quotas.items():
        if key not in QUOTA_FIELDS:
            raise SpecError(f"spec.quotas.{key} is not a configurable quota "
                            f"(configurable: {', '.join(QUOTA_FIELDS)})")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise SpecError(f"spec.quotas.{key} must be a positive number")

    tls = spec.get("tls") or {}
    tls_mode = tls.get("mode") or "Generated"
    if tls_mode not in TLS_MODES:
        raise SpecError(f"spec.tls.mode must be one of {', '.join(TLS_MODES)}")
    if tls_mode == "Secret" and not tls.get("secretName"):
        raise SpecError("spec.tls.mode Secret needs spec.tls.secretName")
    if tls_mode == "CertManager" and not (tls.get("issuerRef") or {}).get("name"):
        raise SpecError("spec.tls.mode CertManager needs spec.tls.issuerRef.name")

    creds = spec.get("credentials") or {}
    service = spec.get("service") or {}
    reclaim = spec.get("reclaimPolicy") or "Delete"
    if reclaim not in ("Delete", "Retain"):
        raise SpecError("spec.reclaimPolicy must be Delete or Retain")

    return Cluster(
        name=name, namespace=meta.get("namespace") or "default", uid=meta.get("uid") or name,
        generation=int(meta.get("generation") or 1), region=region, zones=tuple(zones),
        zone_affinity=zone_affinity, image=spec.get("image") or default_image,
        image_pull_policy=spec.get("imagePullPolicy") or "IfNotPresent",
        replicas=replicas, resources=resources, volumes=volumes, reclaim_policy=reclaim,
        etcd_endpoints=endpoints, etcd_replicas=etcd_replicas,
        etcd_image=managed.get("image") or DEFAULT_ETCD_IMAGE,
        etcd_resources=dict(managed.get("resources") or {}),
        etcd_volume={"size": etcd_vol.get("size") or "1Gi", "storageClassName": etcd_vol.get("storageClassName")},
        deletion_protection=bool(spec.get("deletionProtection", True)),
        tags=validate_tags(spec.get("tags")), quotas=quotas,
        tls_mode=tls_mode, tls_secret=tls.get("secretName") or f"{name}-tls",
        tls_issuer=tls.get("issuerRef") if tls_mode == "CertManager" else None,
        credentials_secret=creds.get("secretName") or f"{name}-credentials",
        credentials_generated=not creds.get("secretName"),
        service_type=service.get("type") or "ClusterIP",
        service_annotations=dict(service.get("annotations") or {}),
        account_id=account_id,
    )
