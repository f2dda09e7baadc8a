"""The credential store: who may connect (a JSON file locally, a Secret on Kubernetes).

    {"principals": [{"arn": "arn:aws:iam::000000000000:user/dsql-local", "policies": ["dsql-connect"]}],
     "policies": {"dsql-connect": {"Version": "2012-10-17", "Statement": [
         {"Effect": "Allow", "Action": ["dsql:DbConnectAdmin", "dsql:DbConnect"],
          "Resource": "arn:aws:dsql:us-east-1:000000000000:cluster/*"}]}},
     "keys": [{"access_key_id": "AKIA...", "secret_access_key": "...", "session_token": null,
               "principal_arn": "arn:aws:iam::000000000000:user/dsql-local",
               "expiration": null}]}

A key belongs to a principal; a principal's policies (IAM policy documents: Allow/Deny
statements with `*`/`?` wildcards in Action and Resource; an explicit Deny wins) decide
which actions on which cluster ARNs it may perform. A key with a session token (temporary
credentials) may carry an `expiration` (ISO 8601). The older format - keys with an
`allow` list of actions and no principals - still loads: such a key may perform those
actions on any cluster.

`CredentialStore.load(path)` reads it once; `ReloadingStore(path)` re-reads it whenever
the file's mtime/size change (checked at most every `interval_s`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import pathlib
import re
import secrets
import string
import threading
import time

log = logging.getLogger("auth")

CONNECT_ACTIONS = ("dsql:DbConnectAdmin", "dsql:DbConnect")
ADMIN_POLICY = "dsql-connect"


def _pattern(glob: str, flags: int = 0) -> re.Pattern:
    """An IAM wildcard (`*` any run, `?` one character) as a regex."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob) + r"\Z",
                      flags)


def _strings(v, what: str) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ValueError(f"{what} must be a string or a non-empty list of strings")


@dataclasses.dataclass(frozen=True)
class Statement:
    allow: bool
    actions: tuple[re.Pattern, ...]
    resources: tuple[re.Pattern, ...]

    @classmethod
    def from_dict(cls, raw: dict) -> Statement:
        unsupported = set(raw) - {"Sid", "Effect", "Action", "Resource"}
        if unsupported:
            raise ValueError(f"unsupported policy statement elements: {', '.join(sorted(unsupported))}")
        if raw.get("Effect") not in ("Allow", "Deny"):
            raise ValueError("a policy statement's Effect must be Allow or Deny")
        return cls(allow=raw["Effect"] == "Allow",
                   actions=tuple(_pattern(a, re.IGNORECASE) for a in _strings(raw.get("Action"), "Action")),
                   resources=tuple(_pattern(r) for r in _strings(raw.get("Resource"), "Resource")))

    def matches(self, action: str, resource: str) -> bool:
        return any(p.match(action) for p in self.actions) and any(p.match(resource) for p in self.resources)


def parse_policy(doc: dict) -> tuple[Statement, ...]:
    stmts = doc.get("Statement")
    if isinstance(stmts, dict):
        stmts = [stmts]
    if not isinstance(stmts, list):
        raise ValueError("a policy needs a Statement list")
    return tuple(Statement.from_dict(s) for s in stmts)


@dataclasses.dataclass(frozen=True)
class Principal:
    arn: str
    statements: tuple[Statement, ...]

    def is_allowed(self, action: str, resource: str) -> bool:
        """IAM evaluation: an explicit Deny wins; otherwise an Allow is needed."""
        hits = [s.allow for s in self.statements if s.matches(action, resource)]
        return bool(hits) and all(hits)


@dataclasses.dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    principal_arn: str
    session_token: str | None = None
    expiration: float | None = None          # epoch seconds; temporary credentials end then


def _epoch(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    t = _dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)).timestamp()


class CredentialStore:
    def __init__(self, credentials=(), principals=()):
        self._by_key = {c.access_key_id: c for c in credentials}
        self._principals = {p.arn: p for p in principals}

    def get(self, access_key_id: str) -> Credential | None:
        return self._by_key.get(access_key_id)

    def principal(self, arn: str) -> Principal | None:
        return self._principals.get(arn)

    def is_allowed(self, principal_arn: str, action: str, resource: str) -> bool:
        """action with or without its `dsql:` prefix; an unknown principal may do nothing."""
        p = self._principals.get(principal_arn)
        return p is not None and p.is_allowed(action if ":" in action else f"dsql:{action}", resource)

    def __len__(self) -> int:
        return len(self._by_key)

    @classmethod
    def from_dict(cls, raw: dict) -> CredentialStore:
        policies = {name: parse_policy(doc) for name, doc in (raw.get("policies") or {}).items()}
        statements: dict[str, list[Statement]] = {}
        for p in raw.get("principals") or []:
            own = statements.setdefault(p["arn"], [])
            for name in p.get("policies", []):
                if name not in policies:
                    raise ValueError(f"principal {p['arn']} names an unknown policy {name!r}")
                own.extend(policies[name])
            if p.get("policy"):
                own.extend(parse_policy(p["policy"]))
        creds = []
        for k in raw.get("keys", []):
            arn = k.get("principal_arn") or f"arn:aws:iam::000000000000:user/{k['access_key_id']}"
            if "allow" in k:        # the older format: the key's own actions, on any cluster
                statements.setdefault(arn, []).append(Statement(
                    True, tuple(_pattern(a, re.IGNORECASE) for a in _strings(k["allow"], "allow")),
                    (_pattern("*"),)))
            elif "principals" not in raw:
                statements.setdefault(arn, []).append(Statement.from_dict(
                    {"Effect": "Allow", "Action": list(CONNECT_ACTIONS), "Resource": "*"}))
            creds.append(Credential(access_key_id=k["access_key_id"], secret_access_key=k["secret_access_key"],
                                    principal_arn=arn, session_token=k.get("session_token"),
                                    expiration=_epoch(k.get("expiration"))))
        return cls(creds, [Principal(arn, tuple(s)) for arn, s in statements.items()])

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
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("credential store %s not reloaded: %s", self.path, e)
            return
        self._store, self._stamp = store, stamp

    @property
    def store(self) -> CredentialStore:
        with self._lock:
            self._reload()
            return self._store

    def get(self, access_key_id: str) -> Credential | None:
        return self.store.get(access_key_id)

    def is_allowed(self, principal_arn: str, action: str, resource: str) -> bool:
        return self.store.is_allowed(principal_arn, action, resource)


# ------------------------------------------------------------------ a new store (launcher, operator)

def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_access_key(principal_arn: str) -> dict:
    """A fresh long-term access key entry for principal_arn."""
    return {"access_key_id": "AKIA" + _random(string.ascii_uppercase + "234567", 16),
            "secret_access_key": _random(string.ascii_letters + string.digits + "+/", 40),
            "session_token": None, "principal_arn": principal_arn, "expiration": None}


def new_store_document(principal_arn: str) -> dict:
    """A store with one principal allowed to connect (as admin and as any role) to any cluster,
    and one access key of it. Used by both the local launcher and the operator."""
    return {"principals": [{"arn": principal_arn, "policies": [ADMIN_POLICY]}],
            "policies": {ADMIN_POLICY: {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": list(CONNECT_ACTIONS), "Resource": "*"}]}},
            "keys": [new_access_key(principal_arn)]}
