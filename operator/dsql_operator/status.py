"""Status from observation: workload readiness in, DSQL lifecycle phase and conditions out.

Phases are DSQL's cluster statuses:

    CREATING --all zones ready--> ACTIVE --spec changed--> UPDATING --rolled out--> ACTIVE
        |                                                                       |
        +--invalid spec--> FAILED (fixing the spec resumes)   deletion allowed --> DELETING

A cluster stays ACTIVE while one zone is down (the endpoint still serves, like DSQL
surviving the loss of an AZ); the conditions say what is wrong:

    Ready         every zone has every pod ready
    Available     a majority of zones is ready: the journal has a quorum, the endpoint serves
    Progressing   a change is rolling out (zone by zone)
    Degraded      some zone is not ready
"""

from __future__ import annotations

import dataclasses
import datetime

CREATING, ACTIVE, UPDATING, DELETING, FAILED = "CREATING", "ACTIVE", "UPDATING", "DELETING", "FAILED"
PHASES = (CREATING, ACTIVE, UPDATING, DELETING, FAILED)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class WorkloadState:
    exists: bool
    desired: int
    ready: int
    rolled_out: bool

    @property
    def is_ready(self) -> bool:
        return self.exists and self.ready >= self.desired

    @property
    def text(self) -> str:
        return f"{self.ready}/{self.desired}"


def workload_state(obj: dict | None, desired: int) -> WorkloadState:
    """Read a Deployment's or StatefulSet's status the way `kubectl rollout status` does."""
    if obj is None:
        return WorkloadState(False, desired, 0, False)
    spec_replicas = (obj.get("spec") or {}).get("replicas", desired)
    st = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation", 0)
    ready = int(st.get("readyReplicas") or 0)
    rolled_out = (int(st.get("observedGeneration") or 0) >= generation
                  and int(st.get("updatedReplicas") or 0) >= spec_replicas
                  and int(st.get("replicas") or 0) <= spec_replicas)
    if obj.get("kind") == "StatefulSet" and st.get("updateRevision"):
        rolled_out = rolled_out and st.get("currentRevision") == st.get("updateRevision")
    return WorkloadState(True, spec_replicas, ready, rolled_out)


@dataclasses.dataclass(frozen=True)
class ZoneState:
    name: str
    workloads: dict[str, WorkloadState]
    pending: bool         # the zone's objects differ from the spec and wait for their turn

    @property
    def ready(self) -> bool:
        return all(w.is_ready for w in self.workloads.values())

    @property
    def rolled_out(self) -> bool:
        return not self.pending and all(w.rolled_out for w in self.workloads.values())

    def to_status(self) -> dict:
        out = {"name": self.name, "ready": self.ready}
        out.update({svc: w.text for svc, w in self.workloads.items()})
        return out


def condition(previous: list[dict], type_: str, status: bool, reason: str, message: str,
              generation: int) -> dict:
    """A Kubernetes condition whose lastTransitionTime only moves when the status flips."""
    value = "True" if status else "False"
    old = next((c for c in previous or [] if c.get("type") == type_), None)
    since = old["lastTransitionTime"] if old and old.get("status") == value and old.get("lastTransitionTime") \
        else now_iso()
    return {"type": type_, "status": value, "reason": reason, "message": message,
            "lastTransitionTime": since, "observedGeneration": generation}


def decide_phase(previous: str | None, zones: list[ZoneState], *, etcd_ready: bool, was_active: bool) -> str:
    """The next phase of a cluster that is not being deleted and whose spec is valid."""
    done = etcd_ready and all(z.ready and z.rolled_out for z in zones)
    if done:
        return ACTIVE
    if not was_active:
        return CREATING
    if not all(z.rolled_out for z in zones) or previous in (UPDATING, FAILED):
        return UPDATING
    return ACTIVE   # rolled out but a zone is down: still serving, see the Degraded condition


def build(previous_status: dict, *, generation: int, zones: list[ZoneState], etcd_ready: bool,
          phase: str, identifier: str, arn: str, endpoint: dict, waiting: list[str]) -> dict:
    prev_conditions = previous_status.get("conditions") or []
    ready_zones = [z.name for z in zones if z.ready]
    quorum = len(ready_zones) > len(zones) // 2 and etcd_ready
    all_ready = len(ready_zones) == len(zones) and etcd_ready
    progressing = not all(z.rolled_out for z in zones)
    not_ready = [z.name for z in zones if not z.ready] + ([] if etcd_ready else ["etcd"])
    conditions = [
        condition(prev_conditions, "Ready", all_ready, "AllZonesReady" if all_ready else "ZonesNotReady",
                  "every zone is ready" if all_ready else f"not ready: {', '.join(not_ready)}", generation),
        condition(prev_conditions, "Available", quorum, "QuorumReady" if quorum else "QuorumLost",
                  f"{len(ready_zones)} of {len(zones)} zones ready", generation),
        condition(prev_conditions, "Progressing", progressing,
                  "RollingOut" if progressing else "RolledOut",
                  (f"rolling out zone by zone; waiting: {', '.join(waiting)}" if waiting else "rolling out")
                  if progressing else "every zone runs the current spec", generation),
        condition(prev_conditions, "Degraded", bool(not_ready) and phase != CREATING,
                  "ZoneNotReady" if not_ready else "Healthy",
                  f"not ready: {', '.join(not_ready)}" if not_ready else "no zone is degraded", generation),
    ]
    return {
        "phase": phase,
        "observedGeneration": generation,
        "identifier": identifier,
        "arn": arn,
        "endpoint": endpoint,
        "readyZones": f"{len(ready_zones)}/{len(zones)}",
        "availabilityZones": [z.to_status() for z in zones],
        "conditions": conditions,
    }
