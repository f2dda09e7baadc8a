"""DSQL's own `AWS IAM GRANT role TO 'arn'` / `AWS IAM REVOKE role FROM 'arn'`, which the
PostgreSQL parser does not know: recognised here before pglast sees the text."""

from __future__ import annotations

import dataclasses
import re

from services.common import errors

_RE = re.compile(r"""^\s*aws\s+iam\s+(grant|revoke)\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s+(to|from)\s+
                     '((?:[^']|'')*)'\s*;?\s*$""", re.I | re.X)


@dataclasses.dataclass
class AwsIamStmt:
    is_grant: bool
    role: str
    arn: str


def parse_aws_iam(sql: str) -> AwsIamStmt | None:
    """The statement if `sql` is one AWS IAM GRANT/REVOKE, else None. A statement that starts
    like one but does not parse raises 42601."""
    m = _RE.match(sql)
    if m is None:
        if re.match(r"^\s*aws\s+iam\b", sql, re.I):
            raise errors.SyntaxError_("syntax error in AWS IAM statement",
                                      hint="AWS IAM GRANT role TO 'arn' / AWS IAM REVOKE role FROM 'arn'")
        return None
    verb, role, prep, arn = m.groups()
    is_grant = verb.lower() == "grant"
    if (prep.lower() == "to") != is_grant:
        raise errors.SyntaxError_(f'syntax error at or near "{prep}"')
    role = role[1:-1].replace('""', '"') if role.startswith('"') else role.lower()
    return AwsIamStmt(is_grant, role, arn.replace("''", "'"))
