"""kopf handlers: when to reconcile, and how results reach status and Events.

    create / update / resume  --> reconcile now
    timer (every interval)    --> reconcile again: continues zone-by-zone rollouts and keeps
                                  status true to the pods (readiness comes from the workloads)
    delete                    --> deletion protection on: Warning event, retry until it is off
                                  off: phase DELETING, delete children and volumes, release
    probe                     --> liveness endpoint reports how many clusters this operator saw

Every operator setting lives in the one startup handler. `register()` builds the handlers
on a registry, so tests run a private operator with short intervals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable
from typing import Any

import kopf

from dsql_operator import kube as kube_mod
from dsql_operator import model, reconcile, status

FINALIZER = "dsql.k8s.io/finalizer"
ANNOTATION_PREFIX = "dsql.k8s.io"


@dataclasses.dataclass
class OperatorConfig:
    default_image: str = model.DEFAULT_IMAGE
    account_id: str = model.DEFAULT_ACCOUNT_ID
    interval_s: float = 15.0          # status refresh and rollout step
    delete_retry_s: float = 30.0      # how often a protected deletion is re-checked
    reporting_instance: str = "dsql-operator"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> OperatorConfig:
        env = dict(os.environ if env is None else env)
        return cls(default_image=env.get("DSQL_DEFAULT_IMAGE", model.DEFAULT_IMAGE),
                   account_id=env.get("DSQL_ACCOUNT_ID", model.DEFAULT_ACCOUNT_ID),
                   interval_s=float(env.get("DSQL_RECONCILE_INTERVAL_S", "15")),
                   delete_retry_s=float(env.get("DSQL_DELETE_RETRY_S", "30")),
                   reporting_instance=env.get("POD_NAME", "dsql-operator"))


def status_delta(old: dict, new: dict) -> dict:
    """Only what changed: a steady cluster costs the API server no write per timer tick."""
    return {k: v for k, v in new.items() if old.get(k) != v and not (v is None and k not in old)}


def _default_kube() -> kube_mod.Kube:
    """In a pod: the service account; elsewhere: the kubeconfig (kopf's own discovery)."""
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.PermanentError("no Kubernetes credentials: neither a service account nor a kubeconfig")
    return kube_mod.Kube.from_connection_info(info)


def register(registry: kopf.OperatorRegistry, config: OperatorConfig,
             kube_factory: Callable[[], kube_mod.Kube] = _default_kube) -> dict[str, Any]:
    """Declare every handler on `registry`; return the shared state (for tests)."""
    state: dict[str, Any] = {"kube": None, "locks": {}, "seen": set()}
    resource = (model.GROUP, model.VERSION, model.PLURAL)

    def kube() -> kube_mod.Kube:
        if state["kube"] is None:
            state["kube"] = kube_factory()
        return state["kube"]

    def lock(uid: str) -> asyncio.Lock:
        # The timer and the change handlers of one object run concurrently in kopf.
        return state["locks"].setdefault(uid, asyncio.Lock())

    @kopf.on.startup(id="configure", registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=ANNOTATION_PREFIX, key="last-handled-configuration")
        settings.posting.reporting_component = "dsql-operator"
        settings.posting.reporting_instance = config.reporting_instance
        settings.posting.level = logging.INFO
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
        settings.execution.max_workers = 4
        kube()

    @kopf.on.cleanup(id="close", registry=registry)
    async def close(**_: Any) -> None:
        if state["kube"] is not None:
            await state["kube"].close()

    async def reconcile_into(body: kopf.Body, patch: kopf.Patch, logger: logging.Logger) -> dict:
        raw = dict(body)
        raw["status"] = dict(body.get("status") or {})
        previous_phase = raw["status"].get("phase")
        state["seen"].add(body.metadata.uid)
        async with lock(body.metadata.uid):
            try:
                outcome = await reconcile.reconcile(kube(), raw, default_image=config.default_image,
                                                    account_id=config.account_id)
            except model.SpecError as exc:
                new = reconcile.failed_status(raw, str(exc))
                if previous_phase != status.FAILED:
                    kopf.event(body, type="Warning", reason="InvalidSpec", message=str(exc))
                patch.status.update(status_delta(raw["status"], new))
                logger.error("invalid spec: %s", exc)
                return new
        patch.status.update(status_delta(raw["status"], outcome.status))
        for obj in outcome.created:
            logger.info("created %s", obj)
        for obj in outcome.patched:
            logger.info("patched %s", obj)
        if outcome.created:
            kopf.event(body, type="Normal", reason="Created", message=f"created {len(outcome.created)} objects")
        for type_, reason, message in outcome.events:
            kopf.event(body, type=type_, reason=reason, message=message)
        phase = outcome.status["phase"]
        if phase != previous_phase:
            kopf.event(body, type="Warning" if phase == status.FAILED else "Normal", reason="PhaseChanged",
                       message=f"{previous_phase or 'new'} -> {phase}")
        return outcome.status

    # Explicit ids: kopf keys its progress annotations by handler id.
    @kopf.on.resume(*resource, id="reconcile", registry=registry)
    @kopf.on.create(*resource, id="reconcile", registry=registry)
    @kopf.on.update(*resource, id="reconcile", field="spec", registry=registry)
    async def on_change(body: kopf.Body, patch: kopf.Patch, logger: logging.Logger, **_: Any) -> None:
        await reconcile_into(body, patch, logger)

    @kopf.timer(*resource, id="refresh", interval=config.interval_s, initial_delay=config.interval_s,
                registry=registry)
    async def on_timer(body: kopf.Body, patch: kopf.Patch, logger: logging.Logger, **_: Any) -> None:
        await reconcile_into(body, patch, logger)

    @kopf.on.delete(*resource, id="delete", registry=registry)
    async def on_delete(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, logger: logging.Logger,
                        **_: Any) -> None:
        conditions = list((body.get("status") or {}).get("conditions") or [])
        generation = int(body.metadata.get("generation") or 1)
        if spec.get("deletionProtection", True):
            message = ("deletion protection is enabled; set spec.deletionProtection to false "
                       "to let the deletion proceed")
            kopf.event(body, type="Warning", reason="DeletionProtected", message=message)
            keep = [c for c in conditions if c.get("type") != "DeletionBlocked"]
            patch.status["conditions"] = keep + [status.condition(
                conditions, "DeletionBlocked", True, "DeletionProtectionEnabled", message, generation)]
            raise kopf.TemporaryError(message, delay=config.delete_retry_s)
        patch.status["phase"] = status.DELETING
        if (body.get("status") or {}).get("phase") != status.DELETING:
            kopf.event(body, type="Normal", reason="PhaseChanged",
                       message=f"{(body.get('status') or {}).get('phase') or 'new'} -> {status.DELETING}")
        async with lock(body.metadata.uid):
            deleted = await reconcile.cleanup(kube(), dict(body))
        logger.info("deleted %d objects: %s", len(deleted), ", ".join(deleted))
        state["locks"].pop(body.metadata.uid, None)

    @kopf.on.probe(id="clusters", registry=registry)
    def probe_clusters(**_: Any) -> int:
        return len(state["seen"])

    return state


def main_registry() -> kopf.OperatorRegistry:
    registry = kopf.get_default_registry()
    register(registry, OperatorConfig.from_env())
    return registry
