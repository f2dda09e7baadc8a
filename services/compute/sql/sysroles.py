"""sys.iam_pg_role_mappings: which IAM principals may connect as which database role (AWS IAM GRANT)."""

from __future__ import annotations

from ..authcatalog import auth_of
from . import types as T


def _iam_pg_role_mappings(cat, session):
    auth = auth_of(cat)
    oids = {r.name: r.oid for r in auth.roles()}
    return [(m.oid, m.arn, oids.get(m.role), m.role, oids.get(m.grantor), m.grantor) for m in auth.iam_mappings()]


VIEWS = {
    ("sys", "iam_pg_role_mappings"): ([("iam_oid", T.OID), ("arn", T.TEXT), ("pg_role_oid", T.OID),
                                       ("pg_role_name", T.NAME), ("grantor_pg_role_oid", T.OID),
                                       ("grantor_pg_role_name", T.NAME)], _iam_pg_role_mappings),
}
