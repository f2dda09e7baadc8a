"""Admission: after the relay verified a token, may its IAM principal connect as this role?

    admission = Admission.for_etcd(config.etcd_endpoints)
    await admission.check(user, principal_arn)       # raises a FATAL PgError (28000) if not

`admin` needs only the DbConnectAdmin action (checked with the token). Any other role must
exist, have LOGIN, and be mapped to the principal by `AWS IAM GRANT role TO 'arn'` (read from
the auth catalog in etcd: services/common/rolecatalog.py). An STS assumed-role session matches
a mapping of its IAM role.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable

from services.common.errors import PgError
from services.common.rolecatalog import ADMIN, Role, iam_key, principal_arns, role_key


def _refused(message: str, hint: str | None = None) -> PgError:
    return PgError(message, sqlstate="28000", hint=hint, severity="FATAL")


class Admission:
    def __init__(self, get: Callable[[str], bytes | None]):
        self._get = get                       # blocking etcd get: key -> value or None

    @classmethod
    def for_etcd(cls, endpoints: tuple[str, ...]) -> Admission:
        return cls(_EtcdGetter(endpoints))

    async def check(self, user: str, principal_arn: str) -> None:
        if user == ADMIN:
            return
        role_raw = await asyncio.to_thread(self._get, role_key(user))
        if role_raw is None:
            raise _refused(f'role "{user}" does not exist')
        if not Role.from_json(role_raw).login:
            raise _refused(f'role "{user}" is not permitted to log in')
        for arn in principal_arns(principal_arn):
            if await asyncio.to_thread(self._get, iam_key(user, arn)) is not None:
                return
        raise _refused(f'role "{user}" is not authorized for IAM principal {principal_arn}',
                       hint=f"As admin: AWS IAM GRANT {user} TO '{principal_arn}';")


class _EtcdGetter:
    """Connects on first use (admin-only relays never need etcd) and fails over between endpoints."""

    def __init__(self, endpoints: tuple[str, ...]):
        self._endpoints = [ep.split("://", 1)[-1].rstrip("/") for ep in endpoints] or ["127.0.0.1:2379"]
        self._client = None
        self._lock = threading.Lock()

    def _connect(self):
        import pyetcd
        last = None
        for ep in self._endpoints:
            host, _, port = ep.rpartition(":")
            try:
                c = pyetcd.client(host=host or "127.0.0.1", port=int(port or 2379), timeout=5)
                c.status()
                return c
            except Exception as e:    # noqa: BLE001 - try the next endpoint
                last = e
        raise ConnectionError(last)

    def __call__(self, key: str) -> bytes | None:
        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._client is None:
                        self._client = self._connect()
                    return self._client.get(key)[0]
                except Exception as e:    # noqa: BLE001 - reconnect once (possibly to another endpoint)
                    self._client = None
                    if attempt:
                        raise PgError(f"could not reach the catalog to admit the connection: {e}",
                                      sqlstate="08006", severity="FATAL") from e
        return None
