"""PostgreSQL's object-identifier alias types (regclass, regproc, regnamespace, regrole;
regtype lives in regtype.py): an OID that reads and prints as the object's name.

A value is a `RegOid`: an int that remembers the name it printed as when it was made, so
it can be written out after the statement that made it is over. Turning names into OIDs
and back needs the catalog of the running session: `services.compute.sql.syscat` installs
the resolvers here (types know nothing of catalogs).
"""

from __future__ import annotations

import struct
from typing import Callable

from services.common.errors import PgError

from .base import PgType


class RegOid(int):
    """An OID with the label it prints as (None: print the number)."""
    label: str | None = None

    def __new__(cls, oid: int, label: str | None = None):
        v = super().__new__(cls, oid)
        v.label = label
        return v


# kind -> function(text) -> oid, and kind -> function(oid) -> label or None (installed by syscat)
NAME_TO_OID: dict[str, Callable[[str], int]] = {}
OID_TO_NAME: dict[str, Callable[[int], str | None]] = {}


def make(kind: str, oid: int) -> RegOid:
    """A reg* value for an OID, labelled by the current catalog (0 prints as '-')."""
    oid = int(oid)
    if oid == 0:
        return RegOid(0, "-")
    labeler = OID_TO_NAME.get(kind)
    return RegOid(oid, labeler(oid) if labeler else None)


class RegOidType(PgType):
    typlen = 4
    category = "N"
    kind = ""

    def text_in(self, text, typmod=-1):
        t = text.strip()
        if t == "-":
            return RegOid(0, "-")
        if t.isdigit():
            return make(self.kind, int(t))
        resolver = NAME_TO_OID.get(self.kind)
        if resolver is None:
            raise PgError(f'invalid input syntax for type {self.name}: "{text}"', sqlstate="22P02")
        return make(self.kind, resolver(t))

    def text_out(self, value):
        label = getattr(value, "label", None)
        if label is None and self.kind in OID_TO_NAME and int(value) != 0:
            label = OID_TO_NAME[self.kind](int(value))
        return label if label is not None else str(int(value))

    def binary_in(self, data, typmod=-1):
        return make(self.kind, struct.unpack(">I", data)[0])

    def binary_out(self, value):
        return struct.pack(">I", int(value))


def _reg(oid_, name_, array_oid_):
    cls = type(f"{name_.capitalize()}Type", (RegOidType,),
               {"oid": oid_, "name": name_, "sql_name": name_, "kind": name_, "array_oid": array_oid_})
    return cls()


REGCLASS = _reg(2205, "regclass", 2210)
REGPROC = _reg(24, "regproc", 1008)
REGNAMESPACE = _reg(4089, "regnamespace", 4090)
REGROLE = _reg(4096, "regrole", 4097)
REGPROCEDURE = _reg(2202, "regprocedure", 2207)
TYPES = (REGCLASS, REGPROC, REGNAMESPACE, REGROLE, REGPROCEDURE)
