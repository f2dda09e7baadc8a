"""Session settings: SET [SESSION|LOCAL] / SHOW [ALL] / RESET [ALL], set_config and current_setting,
and the pg_settings view. The values live in `SqlSession.settings` (lower-case name -> text).

A setting changed inside a transaction block is put back at ROLLBACK; one changed with SET LOCAL
(or set_config(..., true)) is put back at the end of the block either way, as in PostgreSQL.
Only values DSQL can honour are accepted: the time zone is UTC, the encoding UTF8, dates ISO.
"""

from __future__ import annotations

import dataclasses
import re

from services.common import errors
from services.common.errors import PgError

from .. import functions as F
from .. import types as T
from . import view


@dataclasses.dataclass
class Setting:
    name: str                     # canonical spelling (SHOW's column name)
    default: str
    category: str
    short_desc: str
    vartype: str = "string"       # bool, integer, real, string, enum
    unit: str | None = None
    min_val: str | None = None
    max_val: str | None = None
    enumvals: tuple | None = None
    context: str = "user"         # user: SET works; internal: read-only


_UTC = ("utc", "gmt", "etc/utc", "etc/gmt", "z", "zulu", "universal", "etc/universal", "0", "+00", "00:00",
        "+00:00", "utc0", "gmt0")
SETTINGS = {s.name.lower(): s for s in (
    Setting("application_name", "", "Reporting and Logging / What to Log",
            "Sets the application name to be reported in statistics and logs."),
    Setting("client_encoding", "UTF8", "Client Connection Defaults / Locale and Formatting",
            "Sets the client's character set encoding."),
    Setting("DateStyle", "ISO, MDY", "Client Connection Defaults / Locale and Formatting",
            "Sets the display format for date and time values."),
    Setting("IntervalStyle", "postgres", "Client Connection Defaults / Locale and Formatting",
            "Sets the display format for interval values.", "enum", enumvals=("postgres",)),
    Setting("TimeZone", "UTC", "Client Connection Defaults / Locale and Formatting",
            "Sets the time zone for displaying and interpreting time stamps."),
    Setting("extra_float_digits", "1", "Client Connection Defaults / Locale and Formatting",
            "Sets the number of digits displayed for floating-point values.", "integer", None, "-15", "3"),
    Setting("search_path", '"$user", public', "Client Connection Defaults / Statement Behavior",
            "Sets the schema search order for names that are not schema-qualified."),
    Setting("statement_timeout", "0", "Client Connection Defaults / Statement Behavior",
            "Sets the maximum allowed duration of any statement.", "integer", "ms", "0", "2147483647"),
    Setting("idle_in_transaction_session_timeout", "0", "Client Connection Defaults / Statement Behavior",
            "Sets the maximum allowed idle time between queries, when in a transaction.", "integer", "ms", "0",
            "2147483647"),
    Setting("lock_timeout", "0", "Client Connection Defaults / Statement Behavior",
            "Sets the maximum allowed duration of any wait for a lock.", "integer", "ms", "0", "2147483647"),
    Setting("default_transaction_read_only", "off", "Client Connection Defaults / Statement Behavior",
            "Sets the default read-only status of new transactions.", "bool"),
    Setting("transaction_read_only", "off", "Client Connection Defaults / Statement Behavior",
            "Sets the current transaction's read-only status.", "bool"),
    Setting("default_transaction_isolation", "repeatable read", "Client Connection Defaults / Statement Behavior",
            "Sets the transaction isolation level of each new transaction.", "enum",
            enumvals=("serializable", "repeatable read", "read committed", "read uncommitted")),
    Setting("transaction_isolation", "repeatable read", "Client Connection Defaults / Statement Behavior",
            "Sets the current transaction's isolation level.", "enum",
            enumvals=("serializable", "repeatable read", "read committed", "read uncommitted")),
    Setting("bytea_output", "hex", "Client Connection Defaults / Statement Behavior",
            "Sets the output format for bytea.", "enum", enumvals=("hex",)),
    Setting("xmloption", "content", "Client Connection Defaults / Statement Behavior",
            "Sets whether XML data in implicit parsing and serialization operations is to be considered as "
            "documents or content fragments.", "enum", enumvals=("content", "document")),
    Setting("client_min_messages", "notice", "Reporting and Logging / When to Log",
            "Sets the message levels that are sent to the client.", "enum",
            enumvals=("debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error")),
    Setting("row_security", "on", "Client Connection Defaults / Statement Behavior", "Enable row security.",
            "bool"),
    Setting("check_function_bodies", "on", "Client Connection Defaults / Statement Behavior",
            "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE.", "bool"),
    Setting("standard_conforming_strings", "on", "Version and Platform Compatibility / Previous PostgreSQL Versions",
            "Causes '...' strings to treat backslashes literally.", "bool", enumvals=None),
    Setting("synchronous_commit", "on", "Write-Ahead Log / Settings",
            "Sets the current transaction's synchronization level.", "enum",
            enumvals=("local", "remote_write", "remote_apply", "on", "off")),
    Setting("jit", "off", "Query Tuning / Other Planner Options", "Allow JIT compilation.", "bool"),
    Setting("work_mem", "4096", "Resource Usage / Memory",
            "Sets the maximum memory to be used for query workspaces.", "integer", "kB", "64", "2147483647"),
    Setting("server_version", "16.9", "Preset Options", "Shows the server version.", context="internal"),
    Setting("server_version_num", "160009", "Preset Options", "Shows the server version as an integer.",
            "integer", context="internal"),
    Setting("server_encoding", "UTF8", "Preset Options", "Shows the server (database) character set encoding.",
            context="internal"),
    Setting("integer_datetimes", "on", "Preset Options", "Shows whether datetimes are integer based.", "bool",
            context="internal"),
    Setting("max_identifier_length", "63", "Preset Options", "Shows the maximum identifier length.", "integer",
            context="internal"),
    Setting("lc_collate", "C", "Preset Options", "Shows the collation order locale.", context="internal"),
    Setting("lc_ctype", "C", "Preset Options", "Shows the character classification and case conversion locale.",
            context="internal"),
    Setting("is_superuser", "on", "Preset Options", "Shows whether the current user is a superuser.", "bool",
            context="internal"),
    Setting("session_authorization", "admin", "Preset Options", "Sets the session user name."),
    Setting("role", "none", "Preset Options", "Sets the current role."),
    Setting("in_hot_standby", "off", "Preset Options", "Shows whether hot standby is currently active.", "bool",
            context="internal"),
    Setting("block_size", "8192", "Preset Options", "Shows the size of a disk block.", "integer",
            context="internal"),
    Setting("max_connections", "1000", "Connections and Authentication / Connection Settings",
            "Sets the maximum number of concurrent connections.", "integer", context="internal"),
)}
_REFUSED_MESSAGE = "parameter \"{}\" cannot be changed"


def canonical(name: str) -> str:
    s = SETTINGS.get(name.lower())
    return s.name if s is not None else name.lower()


def _bool(name: str, value: str) -> str:
    v = value.strip().lower()
    if v in ("on", "true", "yes", "1", "t", "y", "tr", "tru", "ye"):
        return "on"
    if v in ("off", "false", "no", "0", "f", "n", "of", "fa", "fal", "fals"):
        return "off"
    raise PgError(f'parameter "{name}" requires a Boolean value', sqlstate="22023")


_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def _integer(s: Setting, value: str) -> str:
    v = value.strip()
    m = re.fullmatch(r"([-+]?\d+(?:\.\d+)?)\s*([a-zA-Z]*)", v)
    if m is None:
        raise PgError(f'invalid value for parameter "{s.name}": "{value}"', sqlstate="22023")
    num, unit = float(m.group(1)), m.group(2)
    if unit:
        if s.unit != "ms" or unit not in _UNITS_MS:
            raise PgError(f'invalid value for parameter "{s.name}": "{value}"', sqlstate="22023",
                          hint='Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".'
                          if s.unit == "ms" else None)
        num *= _UNITS_MS[unit]
    if not unit and "." in m.group(1) and s.unit is None:
        raise PgError(f'invalid value for parameter "{s.name}": "{value}"', sqlstate="22023")
    n = int(round(num))
    if s.min_val is not None and not int(s.min_val) <= n <= int(s.max_val):
        raise PgError(f"{n} is outside the valid range for parameter \"{s.name}\" ({s.min_val} .. {s.max_val})",
                      sqlstate="22023")
    return str(n)


def normalize(name: str, value: str) -> str:
    """The stored text of a SET value, or the PostgreSQL error for a value we cannot honour."""
    key = name.lower()
    s = SETTINGS.get(key)
    if s is None:
        if "." in key:        # placeholder variables (myapp.x), as PostgreSQL allows
            return value
        raise PgError(f'unrecognized configuration parameter "{name}"', sqlstate="42704")
    if s.context == "internal":
        raise PgError(_REFUSED_MESSAGE.format(s.name), sqlstate="55P02")
    if key == "timezone":
        if value.strip().lower() not in _UTC:
            raise errors.FeatureNotSupported("the time zone is UTC and cannot be changed")
        return "UTC"
    if key == "client_encoding":
        if value.strip().upper().replace("-", "").replace("_", "") not in ("UTF8", "UNICODE"):
            raise errors.FeatureNotSupported(f'client_encoding "{value}" is not supported: the encoding is UTF8')
        return "UTF8"
    if key == "datestyle":
        parts = [p.strip().upper() for p in value.split(",") if p.strip()]
        if any(p not in ("ISO", "SQL", "POSTGRES", "GERMAN", "MDY", "DMY", "YMD", "US", "EURO", "EUROPEAN",
                         "NONEURO", "NONEUROPEAN")
               for p in parts):
            raise PgError(f'invalid value for parameter "DateStyle": "{value}"', sqlstate="22023")
        if any(p in ("US",) for p in parts) or "ISO" not in parts and parts:
            raise errors.FeatureNotSupported("only the ISO date style is supported")
        order = next((p for p in parts if p in ("MDY", "DMY", "YMD")), "MDY")
        order = {"EURO": "DMY", "EUROPEAN": "DMY"}.get(order, order)
        return f"ISO, {order}"
    if s.vartype == "bool":
        return _bool(s.name, value)
    if s.vartype == "integer":
        return _integer(s, value)
    if s.vartype == "enum" and s.enumvals is not None:
        v = value.strip().lower()
        if v not in s.enumvals:
            raise PgError(f'invalid value for parameter "{s.name}": "{value}"', sqlstate="22023",
                          hint=f"Available values: {', '.join(s.enumvals)}.")
        return v
    return value


# ------------------------------------------------------------------ session operations

def set_value(session, name: str, value: str | None, local: bool = False, trusted: bool = False) -> None:
    """SET name = value (None: DEFAULT); inside a block the old value comes back at ROLLBACK (or at
    the end of the block for SET LOCAL)."""
    key = name.lower()
    text = default(session, key) if value is None else value if trusted else normalize(name, value)
    if session._in_block:
        saved = session.__dict__.setdefault("_settings_saved", {})
        if key not in saved:
            saved[key] = (session.settings.get(key), local)
        elif local:
            saved[key] = (saved[key][0], True)
    elif local:
        return            # SET LOCAL outside a block: no effect (PostgreSQL warns)
    session.settings[key] = text


def default(session, key: str) -> str:
    if key == "session_authorization":
        return session.user
    s = SETTINGS.get(key)
    return s.default if s is not None else ""


def reset_all(session) -> None:
    for key, s in SETTINGS.items():
        if s.context != "internal" and key in session.settings:
            set_value(session, key, None)


def end_block(session, committed: bool) -> None:
    saved = session.__dict__.pop("_settings_saved", {})
    for key, (old, local) in saved.items():
        if local or not committed:
            if old is None:
                session.settings.pop(key, None)
            else:
                session.settings[key] = old


def show(session, name: str) -> str:
    key = name.lower()
    if key == "transaction_read_only":
        return "on" if session._effective_read_only() else "off"
    if key not in session.settings:
        if key in SETTINGS:
            return default(session, key)
        raise PgError(f'unrecognized configuration parameter "{name}"', sqlstate="42704")
    return session.settings[key]


def show_all(session) -> list[tuple[str, str, str]]:
    return [(s.name, show(session, k), s.short_desc) for k, s in sorted(SETTINGS.items())]


def statement_timeout_s(session) -> float:
    try:
        return int(session.settings.get("statement_timeout", "0")) / 1000.0
    except ValueError:
        return 0.0


# ------------------------------------------------------------------ functions and pg_settings

def _fn(name, sig, res, fn, strict=True):
    def call(env, *args):
        if strict and any(a is None for a in args):
            return None
        return fn(env.session, *args)
    call.wants_env = True
    F.FUNCTIONS.setdefault(name, []).append((tuple(sig), res, call, False, True))


def _current_setting(session, name, missing_ok=False):
    try:
        return show(session, name)
    except PgError:
        if missing_ok:
            return None
        raise


def _set_config(session, name, value, is_local):
    set_value(session, name, value, bool(is_local))
    return show(session, name)


_fn("current_setting", (T.TEXT,), T.TEXT, _current_setting)
_fn("current_setting", (T.TEXT, T.BOOL), T.TEXT, _current_setting)
_fn("set_config", (T.TEXT, T.TEXT, T.BOOL), T.TEXT, _set_config)


@view("pg_catalog", "pg_settings")
def _pg_settings(catalog, session):
    out = []
    for key, s in sorted(SETTINGS.items()):
        cur = show(session, key)
        out.append((s.name, cur, s.unit, s.category, s.short_desc, None, s.context, s.vartype,
                    "session" if cur != s.default else "default", s.min_val, s.max_val,
                    list(s.enumvals) if s.enumvals else None, s.default, s.default, None, None, False))
    return out
