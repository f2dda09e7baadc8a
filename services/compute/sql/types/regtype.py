"""PostgreSQL regtype: a type OID shown as the type's name (what pg_typeof returns)."""

from services.common.errors import PgError

from .regoid import NAME_TO_OID, OID_TO_NAME, RegOid, RegOidType


def _name_to_oid(text: str) -> int:
    from . import by_name
    t = by_name(text.strip().strip('"'))
    if t is None:
        raise PgError(f'type "{text.strip()}" does not exist', sqlstate="42704")
    return t.oid


def _oid_to_name(oid: int) -> str | None:
    from . import REGISTRY
    if oid == 1042:
        return "character"
    t = REGISTRY.get(oid)
    return t.format_type(-1) if t is not None else None


NAME_TO_OID.setdefault("regtype", _name_to_oid)
OID_TO_NAME.setdefault("regtype", _oid_to_name)


class RegtypeType(RegOidType):
    oid = 2206
    name = "regtype"
    sql_name = "regtype"
    kind = "regtype"
    array_oid = 2211

    def text_out(self, value):
        if not isinstance(value, RegOid) or value.label is None:
            label = OID_TO_NAME["regtype"](int(value))
            return label if label is not None else str(int(value))
        return value.label


TYPE = RegtypeType()
