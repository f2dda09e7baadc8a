"""DSQL auth tokens: AWS Signature Version 4 presigned URLs without their scheme.

    <host>/?Action=DbConnectAdmin&X-Amz-Algorithm=AWS4-HMAC-SHA256
        &X-Amz-Credential=<akid>%2F<yyyymmdd>%2F<region>%2Fdsql%2Faws4_request
        &X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-Expires=<s>&X-Amz-SignedHeaders=host
        [&X-Amz-Security-Token=<token>]&X-Amz-Signature=<hex>

`generate_token` produces byte for byte what botocore's
`generate_db_connect_admin_auth_token` / `generate_db_connect_auth_token` (and the
AWS CLI) produce; `verify_token` accepts those and the equivalent tokens of the
other AWS SDKs (canonicalisation is re-done from the decoded parameters, and both
payload conventions - UNSIGNED-PAYLOAD and the empty-body hash - are accepted).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import hmac
import re
import time
from typing import Iterable, Protocol
from urllib.parse import quote, unquote, urlsplit

from services.common.errors import InvalidAuthorization, InvalidPassword, PgError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "dsql"
ACTIONS = ("DbConnectAdmin", "DbConnect")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_CLOCK_SKEW_S = 300       # tolerated clock difference for X-Amz-Date in the future (Limits)
ADMIN_USER = "admin"

_SAFE = "-_.~"
_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
_SIG_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class Identity:
    principal_arn: str
    access_key_id: str
    action: str                  # 'DbConnectAdmin' or 'DbConnect'


class _Store(Protocol):
    def get(self, access_key_id: str): ...

    def is_allowed(self, principal_arn: str, action: str, resource: str) -> bool: ...


def _enc(s: str) -> str:
    return quote(s.encode("utf-8"), safe=_SAFE)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    k = _hmac(f"AWS4{secret}".encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    enc = sorted((_enc(k), _enc(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in enc)


def _signature(secret: str, amz_date: str, region: str, host: str, query_pairs: list[tuple[str, str]],
               payload_hash: str, service: str = SERVICE) -> str:
    canonical = "\n".join([
        "GET", "/", _canonical_query(query_pairs), f"host:{host}\n", "host", payload_hash])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sts = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _signing_key(secret, amz_date[:8], region, service)
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def _host_header(hostname: str) -> str:
    """As botocore derives the Host header from https://<hostname>: lowercase, port 443 dropped."""
    parts = urlsplit(f"https://{hostname}")
    host = parts.hostname or ""
    if ":" in host:                       # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != 443:
        host = f"{host}:{parts.port}"
    return host


def generate_token(hostname: str, region: str, access_key_id: str, secret_access_key: str,
                   action: str = "DbConnectAdmin", expires_in: int = 900, session_token: str | None = None,
                   now: float | _dt.datetime | None = None) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    if now is None:
        now = time.time()
    if isinstance(now, _dt.datetime):
        t = now.astimezone(_dt.timezone.utc) if now.tzinfo else now
    else:
        t = _dt.datetime.fromtimestamp(now, _dt.timezone.utc)
    amz_date = t.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{access_key_id}/{amz_date[:8]}/{region}/{SERVICE}/aws4_request"
    pairs = [("Action", action), ("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", credential),
             ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(int(expires_in))),
             ("X-Amz-SignedHeaders", "host")]
    if session_token is not None:
        pairs.append(("X-Amz-Security-Token", session_token))
    sig = _signature(secret_access_key, amz_date, region, _host_header(hostname), pairs, EMPTY_SHA256)
    query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs)
    return f"{hostname}/?{query}&X-Amz-Signature={sig}"


def auth_failed(user: str, detail: str, hint: str | None = None, sqlstate: str = "28P01") -> PgError:
    """The guide's `IAM authentication failed for user "..."`; the reason goes in DETAIL."""
    cls = InvalidPassword if sqlstate == "28P01" else InvalidAuthorization
    return cls(f'IAM authentication failed for user "{user}"', detail=detail, hint=hint, severity="FATAL")


def verify_token(token: str, store: _Store, hostnames: Iterable[str], now: float | None = None,
                 expiry_max_s: int = 604800, clock_skew_s: int = DEFAULT_CLOCK_SKEW_S,
                 user: str = ADMIN_USER) -> Identity:
    """Authenticate an auth token: who signed it, for which action. Raises a FATAL PgError:
    28P01 for a malformed, unknown-key, forged, expired or not-yet-valid token, 28000 for a
    token signed for another host."""
    if now is None:
        now = time.time()

    def bad(detail: str, hint: str | None = None) -> PgError:
        return auth_failed(user, detail, hint)

    token = (token or "").strip()
    if not token:
        raise bad("The auth token is empty.",
                  "Use a DSQL auth token (e.g. `aws dsql generate-db-connect-admin-auth-token`) as the password.")
    lower = token.lower()
    if lower.startswith("https://") or lower.startswith("http://"):
        token = token.split("://", 1)[1]
    not_url = "The auth token is malformed: it is not a presigned URL."
    try:
        parts = urlsplit("https://" + token)
        host_header = _host_header(parts.netloc)
        hostname = (parts.hostname or "").lower()
    except ValueError:
        raise bad(not_url) from None
    if not hostname or parts.path not in ("", "/") or not parts.query or parts.fragment:
        raise bad(not_url, "The password must be an auth token generated for this cluster's endpoint.")
    params: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for item in parts.query.split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        k, v = unquote(k), unquote(v)
        if k in params:
            raise bad(f"The auth token is malformed: repeated parameter {k}.")
        params[k] = v
        if k != "X-Amz-Signature":
            pairs.append((k, v))

    def need(name: str) -> str:
        v = params.get(name)
        if v is None or v == "":
            raise bad(f"The auth token is malformed: missing {name}.")
        return v

    action = need("Action")
    if need("X-Amz-Algorithm") != ALGORITHM:
        raise bad(f"The auth token is malformed: unsupported algorithm {params['X-Amz-Algorithm']!r}.")
    credential = need("X-Amz-Credential")
    amz_date = need("X-Amz-Date")
    expires_s = need("X-Amz-Expires")
    signed_headers = need("X-Amz-SignedHeaders")
    signature = need("X-Amz-Signature").lower()
    cred_parts = credential.split("/")
    if len(cred_parts) != 5 or cred_parts[4] != "aws4_request":
        raise bad("The auth token is malformed: invalid X-Amz-Credential.")
    access_key_id, cred_date, region, service, _ = cred_parts
    if service != SERVICE:
        raise bad(f"The auth token is signed for service {service!r}, not {SERVICE!r}.")
    if not _DATE_RE.match(amz_date) or cred_date != amz_date[:8]:
        raise bad("The auth token is malformed: invalid X-Amz-Date.")
    try:
        signed_at = _dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        raise bad("The auth token is malformed: invalid X-Amz-Date.") from None
    if not expires_s.isdigit():
        raise bad("The auth token is malformed: invalid X-Amz-Expires.")
    expires = int(expires_s)
    if signed_headers.lower() != "host":
        raise bad("The auth token is malformed: only the host header may be signed.")
    if not _SIG_RE.match(signature):
        raise bad("The auth token is malformed: invalid X-Amz-Signature.")
    if action not in ACTIONS:
        raise bad(f"The auth token has an unknown action {action!r}; expected DbConnectAdmin or DbConnect.")

    allowed_hosts = {h.lower() for h in hostnames}
    if hostname not in allowed_hosts and host_header not in allowed_hosts:
        raise auth_failed(user, f'The auth token was generated for host "{hostname}", which is not this cluster.',
                          "Generate the token for one of: " + ", ".join(sorted(allowed_hosts)), "28000")

    cred = store.get(access_key_id)
    if cred is None:
        raise bad("The AWS Access Key ID you provided does not exist in our records.",
                  f"Access key id: {access_key_id}")
    want_token = getattr(cred, "session_token", None)
    if want_token is not None and params.get("X-Amz-Security-Token") != want_token:
        raise bad("The security token included in the auth token is invalid.")

    if not any(hmac.compare_digest(signature, _signature(cred.secret_access_key, amz_date, region, host_header,
                                                         pairs, payload_hash))
               for payload_hash in (EMPTY_SHA256, UNSIGNED_PAYLOAD)):
        raise bad("The signature of the auth token does not match the signature we calculated.",
                  "Check the secret access key and region used to generate the token.")

    if expires > expiry_max_s:
        raise bad(f"The auth token's expiry of {expires} seconds exceeds the maximum of {expiry_max_s} seconds.")
    if signed_at > now + clock_skew_s:
        raise bad(f"The auth token is not yet valid: it was signed at {amz_date}, more than {clock_skew_s} "
                  "seconds in the future.", "Check the clock of the machine that generated the token.")
    if expires <= 0 or now > signed_at + expires:
        raise bad(f"The auth token has expired: it was signed at {amz_date} and was valid for {expires} seconds.",
                  "Generate a new auth token.")
    if cred.expiration is not None and now >= cred.expiration:
        raise bad("The security token included in the auth token is expired.",
                  "The temporary credentials that signed the token have expired; refresh them.")
    return Identity(principal_arn=cred.principal_arn, access_key_id=access_key_id, action=action)


def authorize(identity: Identity, user: str, store: _Store, resource: str, now: float | None = None) -> None:
    """May this identity (still) connect as `user` to the cluster `resource`? Checked at connect
    and again at the start of every transaction. Raises a FATAL 28000 PgError."""
    if user == ADMIN_USER and identity.action != "DbConnectAdmin":
        raise auth_failed(user, f'Role "{user}" requires a DbConnectAdmin auth token.',
                          "Generate the token with generate-db-connect-admin-auth-token.", "28000")
    if user != ADMIN_USER and identity.action != "DbConnect":
        raise auth_failed(user, "Custom database roles require a DbConnect auth token.",
                          'Generate the token with generate-db-connect-auth-token, or connect as "admin".', "28000")
    cred = store.get(identity.access_key_id)
    if cred is None or cred.principal_arn != identity.principal_arn:
        raise auth_failed(user, f"The access key {identity.access_key_id} of {identity.principal_arn} "
                                "no longer exists.", sqlstate="28000")
    if cred.expiration is not None and (now if now is not None else time.time()) >= cred.expiration:
        raise auth_failed(user, "The security token included in the auth token is expired.", sqlstate="28000")
    if not store.is_allowed(identity.principal_arn, identity.action, resource):
        raise auth_failed(user, f"User: {identity.principal_arn} is not authorized to perform: "
                                f"dsql:{identity.action} on resource: {resource}", sqlstate="28000")
