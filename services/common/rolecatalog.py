"""Roles, grants and IAM mappings as they are stored in etcd: the layout shared by the compute
(which changes and enforces them) and the relay (which reads them to admit connections).

    /dsql/catalog/auth/roles/<role>              Role.to_json()  (the built-in `admin` is never stored)
    /dsql/catalog/auth/grants/<grantee>          {"<kind>:<oid>": {"privs": [...], "grantable": [...],
                                                                    "grantor": "<role>", "at": <time_ns>}}
    /dsql/catalog/auth/iam/<role>/<quoted arn>   IamMapping.to_json()

Grants are one document per grantee (PUBLIC is "PUBLIC"), so `GRANT ... ON ALL TABLES IN SCHEMA`
changes one key however many tables it names; objects are named by their never-reused catalog id.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse

AUTH_PREFIX = "/dsql/catalog/auth/"
ROLES_PREFIX = AUTH_PREFIX + "roles/"
GRANTS_PREFIX = AUTH_PREFIX + "grants/"
IAM_PREFIX = AUTH_PREFIX + "iam/"

ADMIN = "admin"
ADMIN_OID = 10                    # PostgreSQL's bootstrap role oid
PUBLIC = "PUBLIC"                 # the pseudo-role every role belongs to


@dataclasses.dataclass
class Membership:
    role: str                     # the role granted
    admin_option: bool = False
    grantor: str = ADMIN


@dataclasses.dataclass
class Role:
    oid: int
    name: str
    login: bool = False
    inherit: bool = True
    createrole: bool = False
    createdb: bool = False
    connlimit: int = -1
    valid_until: str | None = None
    memberships: list[Membership] = dataclasses.field(default_factory=list)
    comment: str | None = None    # COMMENT ON ROLE (pg_shdescription)
    revision: int = 0             # etcd mod revision (not stored)

    superuser = False             # no role is, not even admin (as in DSQL)

    @property
    def member_of(self) -> tuple[str, ...]:
        """Names of the roles this one is a direct member of."""
        return tuple(m.role for m in self.memberships)

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d.pop("revision")
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, revision: int = 0) -> Role:
        d = json.loads(text)
        d["memberships"] = [Membership(**m) for m in d.get("memberships", [])]
        return cls(**d, revision=revision)


def admin_role() -> Role:
    return Role(oid=ADMIN_OID, name=ADMIN, login=True, createrole=True, createdb=True)


@dataclasses.dataclass
class IamMapping:
    oid: int
    arn: str
    role: str
    grantor: str = ADMIN

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> IamMapping:
        return cls(**json.loads(text))


def role_key(name: str) -> str:
    return ROLES_PREFIX + name


def grants_key(grantee: str) -> str:
    return GRANTS_PREFIX + grantee


def iam_key(role: str, arn: str) -> str:
    return f"{IAM_PREFIX}{role}/{urllib.parse.quote(arn, safe='')}"


_ARN_RE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_ASSUMED_RE = re.compile(r"^arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[^/]+$")


def valid_arn(arn: str) -> bool:
    """An IAM role or user ARN, the principals AWS IAM GRANT accepts."""
    return bool(_ARN_RE.match(arn))


def principal_arns(principal: str) -> list[str]:
    """The ARNs a mapping may name for a token's principal: itself, and for an STS assumed-role
    session (arn:aws:sts::acct:assumed-role/R/session) also the role arn:aws:iam::acct:role/R."""
    m = _ASSUMED_RE.match(principal)
    if m:
        return [principal, f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}"]
    return [principal]
