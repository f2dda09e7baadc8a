"""A small asynchronous Kubernetes API client for the kinds the operator owns.

kopf watches `DSQLCluster` objects with its own client; the reconciler needs
plain create/get/patch/delete/list of a dozen kinds, which is ~100 lines over
aiohttp (already a kopf dependency) and keeps the operator image small.
Credentials come from kopf's own discovery (`kopf.ConnectionInfo`), so the
operator authenticates the same way in a pod and from a developer's kubeconfig.
"""

from __future__ import annotations

import dataclasses
import json as jsonlib
import os
import pathlib
import ssl
from typing import Any

import aiohttp

# kind -> (api prefix, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "Service": ("/api/v1", "services", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Pod": ("/api/v1", "pods", True),
    "Node": ("/api/v1", "nodes", False),
    "Namespace": ("/api/v1", "namespaces", False),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
    "Certificate": ("/apis/cert-manager.io/v1", "certificates", True),
    "DSQLCluster": ("/apis/dsql.k8s.io/v1alpha1", "dsqlclusters", True),
}

REQUEST_TIMEOUT_S = 30.0
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


@dataclasses.dataclass
class Kube:
    server: str
    token: str | None = None
    ssl_context: ssl.SSLContext | bool | None = None
    user_agent: str = "dsql-operator"
    token_file: str | None = None     # re-read per request: kubelet rotates service account tokens
    _session: aiohttp.ClientSession | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_connection_info(cls, info: Any) -> Kube:
        """Build from a `kopf.ConnectionInfo` (service account or kubeconfig)."""
        ctx: ssl.SSLContext | bool | None = None
        if info.insecure:
            ctx = False
        elif info.ca_path or info.ca_data or info.certificate_path or info.certificate_data:
            ctx = ssl.create_default_context(
                cafile=info.ca_path or None,
                cadata=info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data)
            if info.certificate_path and info.private_key_path:
                ctx.load_cert_chain(info.certificate_path, info.private_key_path)
        token_file = SERVICE_ACCOUNT_TOKEN if info.token and os.path.exists(SERVICE_ACCOUNT_TOKEN) else None
        return cls(server=str(info.server).rstrip("/"), token=info.token, ssl_context=ctx, token_file=token_file)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self.user_agent}, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
        return self._session

    @staticmethod
    def path(kind: str, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        prefix, plural, namespaced = KINDS[kind]
        parts = [prefix]
        if namespaced:
            assert namespace, f"{kind} is namespaced"
            parts.append(f"namespaces/{namespace}")
        parts.append(plural)
        if name:
            parts.append(name)
        if subresource:
            parts.append(subresource)
        return "/".join(parts)

    async def _call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                    content_type: str = "application/json") -> dict:
        kwargs: dict[str, Any] = {"params": params or None, "headers": {}}
        token = pathlib.Path(self.token_file).read_text().strip() if self.token_file else self.token
        if token:
            kwargs["headers"]["Authorization"] = f"Bearer {token}"
        if self.ssl_context is not None:
            kwargs["ssl"] = self.ssl_context
        if json is not None:
            kwargs["data"] = jsonlib.dumps(json)
            kwargs["headers"]["Content-Type"] = content_type
        async with self._http().request(method, self.server + path, **kwargs) as resp:
            if resp.status == 404:
                raise NotFound(404, path)
            if resp.status == 409:
                raise Conflict(409, await resp.text())
            if resp.status >= 400:
                raise ApiError(resp.status, (await resp.text())[:500])
            return await resp.json(content_type=None)

    async def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        try:
            return await self._call("GET", self.path(kind, namespace, name))
        except NotFound:
            return None

    async def list(self, kind: str, namespace: str | None, labels: dict[str, str] | None = None) -> list[dict]:
        params = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))} if labels else None
        found = await self._call("GET", self.path(kind, namespace), params=params)
        return list(found.get("items") or [])

    async def create(self, obj: dict) -> dict:
        meta = obj["metadata"]
        return await self._call("POST", self.path(obj["kind"], meta.get("namespace")), json=obj)

    async def patch(self, kind: str, namespace: str | None, name: str, patch: dict,
                    subresource: str | None = None) -> dict:
        return await self._call("PATCH", self.path(kind, namespace, name, subresource), json=patch,
                                content_type="application/merge-patch+json")

    async def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        try:
            await self._call("DELETE", self.path(kind, namespace, name),
                             json={"kind": "DeleteOptions", "apiVersion": "v1",
                                   "propagationPolicy": "Background"})
            return True
        except NotFound:
            return False
