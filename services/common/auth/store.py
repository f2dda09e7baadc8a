"""The credential store: access keys the relay accepts (a JSON file, a Secret on Kubernetes).

    {"keys": [{"access_key_id": "AKIA...", "secret_access_key": "...", "session_token": null,
               "principal_arn": "arn:aws:iam::000000000000:user/dsql-local",
               "allow": ["dsql:DbConnectAdmin", "dsql:DbConnect"]}]}

`CredentialStore.load(path)` reads it once; `ReloadingStore(path)` re-reads it
whenever the file's mtime/size change (checked at most every `interval_s`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import threading
import time


@dataclasses.dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    principal_arn: str
    allow: frozenset[str]
    session_token: str | None = None

    def allows(self, action: str) -> bool:
        """action is 'DbConnect' / 'DbConnectAdmin' (with or without the 'dsql:' prefix)."""
        a = action if ":" in action else f"dsql:{action}"
        return a in self.allow or "dsql:*" in self.allow or "*" in self.allow


class CredentialStore:
    def __init__(self, credentials: list[Credential] | tuple[Credential, ...] = ()):
        self._by_key = {c.access_key_id: c for c in credentials}

    def get(self, access_key_id: str) -> Credential | None:
        return self._by_key.get(access_key_id)

    def __len__(self) -> int:
        return len(self._by_key)

    @classmethod
    def from_dict(cls, raw: dict) -> CredentialStore:
        creds = []
        for k in raw.get("keys", []):
            creds.append(Credential(
                access_key_id=k["access_key_id"],
                secret_access_key=k["secret_access_key"],
                principal_arn=k.get("principal_arn") or f"arn:aws:iam::000000000000:user/{k['access_key_id']}",
                allow=frozenset(k.get("allow", ["dsql:DbConnectAdmin", "dsql:DbConnect"])),
                session_token=k.get("session_token"),
            ))
        return cls(creds)

    @classmethod
    def from_json(cls, text: str) -> CredentialStore:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | os.PathLike) -> CredentialStore:
        return cls.from_json(pathlib.Path(path).read_text())


class ReloadingStore:
    """A CredentialStore view that follows changes of its file. A file that fails to
    parse (e.g. caught mid-write) keeps the previous contents."""

    def __init__(self, path: str | os.PathLike, interval_s: float = 1.0):
        self.path = pathlib.Path(path)
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._store = CredentialStore()
        self._reload(force=True)

    def _reload(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.interval_s:
            return
        self._checked = now
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            store = CredentialStore.load(self.path)
        except (OSError, ValueError, KeyError, TypeError):
            return
        self._store, self._stamp = store, stamp

    def get(self, access_key_id: str) -> Credential | None:
        with self._lock:
            self._reload()
            return self._store.get(access_key_id)

    @property
    def store(self) -> CredentialStore:
        with self._lock:
            self._reload()
            return self._store
