"""One reconciliation pass: observe the children, create or patch what differs, report status.

Level-based and idempotent: a pass only compares what exists with what the spec asks
for, so running it again (from a timer, after a restart, twice in a row) is harmless.

Rolling out a change zone by zone:

    zones = [a, b, c]; the image changes
    pass 1: a differs, b and c ready        -> patch a's workloads        (a rolls, b+c serve)
    pass 2: a not rolled out yet            -> wait
    pass 3: a ready; b differs, a+c ready   -> patch b
    ...
A zone that is not ready is patched at once (it serves nothing, and the change may be
its fix); a ready zone is patched only when every other zone is ready and rolled out,
so at most one serving zone is disrupted at a time. Before the cluster has ever been
ACTIVE nothing serves, and every zone is created or patched at once.
"""

from __future__ import annotations

import dataclasses
import logging

from dsql_operator import kube as kube_mod
from dsql_operator import material, model, resources, status

log = logging.getLogger(__name__)

# Fields a merge patch may change, per kind; the rest are immutable or defaulted by the API server.
_PATCHABLE_SPEC = {
    "Deployment": ("replicas", "template", "strategy", "revisionHistoryLimit"),
    "StatefulSet": ("replicas", "template", "updateStrategy", "revisionHistoryLimit",
                    "persistentVolumeClaimRetentionPolicy"),
    "Service": ("ports", "selector", "type", "publishNotReadyAddresses"),
    "PodDisruptionBudget": ("maxUnavailable", "selector"),
    "Certificate": ("secretName", "issuerRef", "dnsNames", "ipAddresses", "usages"),
}


@dataclasses.dataclass
class Outcome:
    status: dict
    events: list[tuple[str, str, str]]     # (Normal|Warning, reason, message)
    created: list[str]
    patched: list[str]


def _ref(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _current_hash(obj: dict | None) -> str | None:
    if obj is None:
        return None
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(resources.HASH_ANNOTATION)


def _patch_body(desired: dict) -> dict:
    meta = desired["metadata"]
    body: dict = {"metadata": {"labels": meta["labels"], "annotations": meta.get("annotations") or {},
                               "ownerReferences": meta["ownerReferences"]}}
    kind = desired["kind"]
    if kind == "ConfigMap":
        body["data"] = desired["data"]
    elif kind in _PATCHABLE_SPEC:
        body["spec"] = {k: desired["spec"][k] for k in _PATCHABLE_SPEC[kind] if k in desired["spec"]}
    return body


async def apply(kube: kube_mod.Kube, desired: dict, current: dict | None) -> str:
    """Create the object or bring it to the desired state; return created|patched|unchanged."""
    meta = desired["metadata"]
    if current is None:
        try:
            await kube.create(desired)
            return "created"
        except kube_mod.Conflict:    # created since we looked (another pass); compare next time
            return "unchanged"
    if _current_hash(current) == meta["annotations"][resources.HASH_ANNOTATION]:
        return "unchanged"
    await kube.patch(desired["kind"], meta["namespace"], meta["name"], _patch_body(desired))
    return "patched"


async def _ensure_secret(kube: kube_mod.Kube, c: model.Cluster, name: str, component: str, make) -> bool:
    """Generated secrets are created once and never rewritten (their content is random)."""
    if await kube.get("Secret", c.namespace, name) is not None:
        return False
    data, secret_type = make()
    try:
        await kube.create(resources.secret(c, name, component, data, secret_type))
    except kube_mod.Conflict:
        return False
    return True


OBSERVED_KINDS = ("ConfigMap", "Service", "PodDisruptionBudget", "Deployment", "StatefulSet")


async def observe(kube: kube_mod.Kube, c: model.Cluster) -> dict[tuple[str, str], dict]:
    """Every child by (kind, name): one list call per kind, not one get per object."""
    kinds = OBSERVED_KINDS + (("Certificate",) if c.tls_mode == "CertManager" else ())
    found: dict[tuple[str, str], dict] = {}
    for kind in kinds:
        for obj in await kube.list(kind, c.namespace, labels={"dsql.k8s.io/cluster": c.name}):
            found[(kind, obj["metadata"]["name"])] = obj
    return found


async def zone_affinity_required(kube: kube_mod.Kube, c: model.Cluster) -> tuple[bool, list[str]]:
    """Auto mode pins pods to zones only if nodes carry every zone label (single-zone fallback)."""
    if c.zone_affinity == "Required":
        return True, []
    if c.zone_affinity == "Preferred":
        return False, []
    nodes = await kube.list("Node", None)
    present = {((n.get("metadata") or {}).get("labels") or {}).get(model.ZONE_LABEL) for n in nodes}
    missing = [z.node_zone for z in c.zones if z.node_zone not in present]
    return not missing, missing


async def reconcile(kube: kube_mod.Kube, body: dict, *, default_image: str = model.DEFAULT_IMAGE,
                    account_id: str = model.DEFAULT_ACCOUNT_ID) -> Outcome:
    """One pass. Raises model.SpecError for a spec that cannot work."""
    c = model.parse(body, default_image=default_image, account_id=account_id)
    previous = dict(body.get("status") or {})
    was_active = bool(previous.get("activatedAt"))
    events: list[tuple[str, str, str]] = []
    created: list[str] = []
    patched: list[str] = []

    required, missing = await zone_affinity_required(kube, c)
    placement = "Required" if required else "Preferred"
    if missing and previous.get("placement") != placement:
        events.append(("Warning", "ZonesNotFound",
                       f"no node is labelled {model.ZONE_LABEL} in {', '.join(missing)}; "
                       "pods prefer their zone but may share nodes (single-zone fallback)"))

    # Secrets first: pods cannot start without them.
    if c.tls_mode == "Generated":
        if await _ensure_secret(kube, c, c.tls_secret, "tls",
                                lambda: (material.tls_material(resources.tls_hostnames(c)), "kubernetes.io/tls")):
            created.append(f"Secret/{c.tls_secret}")
    elif c.tls_mode == "Secret" and await kube.get("Secret", c.namespace, c.tls_secret) is None:
        events.append(("Warning", "SecretMissing", f"TLS secret {c.tls_secret} does not exist"))
    if c.credentials_generated:
        if await _ensure_secret(kube, c, c.credentials_secret, "credentials",
                                lambda: (material.credential_material(c.region, c.account_id, c.name), "Opaque")):
            created.append(f"Secret/{c.credentials_secret}")
    elif await kube.get("Secret", c.namespace, c.credentials_secret) is None:
        events.append(("Warning", "SecretMissing", f"credentials secret {c.credentials_secret} does not exist"))

    observed = await observe(kube, c)
    etcd_obj = None
    for desired in resources.shared_objects(c):
        meta = desired["metadata"]
        current = observed.get((desired["kind"], meta["name"]))
        result = await apply(kube, desired, current)
        (created if result == "created" else patched if result == "patched" else []).append(_ref(desired))
        if desired["kind"] == "StatefulSet" and meta["name"] == c.etcd_name:
            etcd_obj = current
    etcd_ready = status.workload_state(etcd_obj, c.etcd_replicas).is_ready if c.etcd_managed else True

    # Observe every zone before touching any, so the gate sees the whole cluster.
    plans = []
    for zone in c.zones:
        desired_objs = resources.zone_objects(c, zone, required)
        currents = [observed.get((d["kind"], d["metadata"]["name"])) for d in desired_objs]
        workloads = {}
        for d, cur in zip(desired_objs, currents):
            if d["kind"] in ("Deployment", "StatefulSet"):
                svc = d["metadata"]["labels"]["app.kubernetes.io/component"]
                workloads[svc] = status.workload_state(cur, d["spec"]["replicas"])
        differs = [(d, cur) for d, cur in zip(desired_objs, currents)
                   if _current_hash(cur) != d["metadata"]["annotations"][resources.HASH_ANNOTATION]]
        plans.append((zone, differs, workloads))

    states = {zone.name: status.ZoneState(zone.name, w, bool(differs)) for zone, differs, w in plans}
    # A zone is rolling when its workloads have not caught up with their spec yet.
    rolling = {name for name, z in states.items() if not all(w.rolled_out for w in z.workloads.values())}
    waiting: list[str] = []
    for zone, differs, _ in plans:
        if not differs:
            continue
        if all(d["kind"] == "Service" for d, _ in differs):     # nothing restarts
            for d, cur in differs:
                result = await apply(kube, d, cur)
                (created if result == "created" else patched if result == "patched" else []).append(_ref(d))
            states[zone.name] = dataclasses.replace(states[zone.name], pending=False)
            continue
        me = states[zone.name]
        others = [s for s in states.values() if s.name != zone.name]
        my_turn = (not was_active or not me.ready
                   or (all(s.ready for s in others) and not (rolling - {zone.name})))
        if not my_turn:
            # Creations and Services disrupt nothing and go ahead out of turn.
            for d, cur in differs:
                if cur is None or d["kind"] == "Service":
                    result = await apply(kube, d, cur)
                    (created if result == "created" else patched if result == "patched" else []).append(_ref(d))
            waiting.append(zone.name)
            continue
        for d, cur in differs:
            result = await apply(kube, d, cur)
            (created if result == "created" else patched if result == "patched" else []).append(_ref(d))
        if was_active:
            events.append(("Normal", "RollingOutZone", f"rolling out the new spec in zone {zone.name}"))
        rolling.add(zone.name)
        # Its workloads report the new generation on a later pass; until then it is rolling.
        states[zone.name] = dataclasses.replace(me, pending=False, workloads={
            k: dataclasses.replace(v, rolled_out=False) for k, v in me.workloads.items()})
    for name in waiting:
        states[name] = dataclasses.replace(states[name], pending=True)

    zones = [states[z.name] for z in c.zones]
    phase = status.decide_phase(previous.get("phase"), zones, etcd_ready=etcd_ready, was_active=was_active)
    endpoint = {"host": c.service_host, "port": model.CLIENT_PORT, "dsqlHostname": c.dsql_hostname}
    new = status.build(previous, generation=c.generation, zones=zones, etcd_ready=etcd_ready, phase=phase,
                       identifier=c.identifier, arn=c.arn, endpoint=endpoint, waiting=waiting)
    new["placement"] = placement
    new["activatedAt"] = previous.get("activatedAt") or (status.now_iso() if phase == status.ACTIVE else None)
    new["tags"] = c.tags or None
    for z in zones:
        old = next((p for p in previous.get("availabilityZones") or [] if p.get("name") == z.name), None)
        if old is not None and old.get("ready") != z.ready:
            events.append(("Normal" if z.ready else "Warning", "ZoneReady" if z.ready else "ZoneNotReady",
                           f"zone {z.name} is {'ready' if z.ready else 'not ready'}"))
    return Outcome(new, events, created, patched)


def failed_status(body: dict, message: str) -> dict:
    previous = dict(body.get("status") or {})
    generation = int((body.get("metadata") or {}).get("generation") or 1)
    conditions = [status.condition(previous.get("conditions") or [], "Ready", False, "InvalidSpec",
                                   message, generation)]
    return {"phase": status.FAILED, "observedGeneration": generation, "conditions": conditions}


CLEANUP_KINDS = ("Deployment", "StatefulSet", "PodDisruptionBudget", "Service", "ConfigMap")


async def cleanup(kube: kube_mod.Kube, body: dict) -> list[str]:
    """Delete every child now (the garbage collector would, later) and, unless Retain, the volumes."""
    meta = body.get("metadata") or {}
    name, namespace = meta["name"], meta.get("namespace") or "default"
    spec = body.get("spec") or {}
    kinds = list(CLEANUP_KINDS)
    if (spec.get("tls") or {}).get("mode") == "CertManager":
        kinds.insert(0, "Certificate")
    if (spec.get("reclaimPolicy") or "Delete") == "Delete":
        kinds.append("PersistentVolumeClaim")
    deleted = []
    for kind in kinds:
        try:
            found = await kube.list(kind, namespace, labels={"dsql.k8s.io/cluster": name})
        except kube_mod.NotFound:    # e.g. cert-manager is not installed
            continue
        for obj in found:
            refs = (obj.get("metadata") or {}).get("ownerReferences") or []
            if kind != "PersistentVolumeClaim" and refs and not any(r.get("uid") == meta.get("uid") for r in refs):
                continue   # labelled like ours but owned by something else: not ours to delete
            if await kube.delete(kind, namespace, obj["metadata"]["name"]):
                deleted.append(f"{kind}/{obj['metadata']['name']}")
    # Secrets by name (the operator may not list Secrets), and only those it generated.
    for secret_name in (f"{name}-tls", f"{name}-credentials"):
        obj = await kube.get("Secret", namespace, secret_name)
        refs = ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
        if obj is not None and any(r.get("uid") == meta.get("uid") for r in refs):
            if await kube.delete("Secret", namespace, secret_name):
                deleted.append(f"Secret/{secret_name}")
    return deleted
