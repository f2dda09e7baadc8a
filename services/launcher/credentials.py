"""The local credential store: one IAM-style access key that may connect.

Two files: `credentials.json` (the store the relay verifies tokens against) and
`aws-credentials` (an AWS shared-credentials file, so boto3, the AWS CLI and the
DSQL connectors can sign tokens with AWS_SHARED_CREDENTIALS_FILE or `dsql env`).
"""

from __future__ import annotations

import json
import pathlib
import secrets
import string

ACCOUNT_ID = "000000000000"
PROFILE = "dsql-local"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def ensure_credentials(folder: pathlib.Path, region: str) -> dict:
    """Return the admin key entry, creating the store on first start."""
    store_path = folder / "credentials.json"
    if store_path.exists():
        return json.loads(store_path.read_text())["keys"][0]
    folder.mkdir(parents=True, exist_ok=True)
    key = {
        "access_key_id": "AKIA" + _random(string.ascii_uppercase + "234567", 16),
        "secret_access_key": _random(string.ascii_letters + string.digits + "+/", 40),
        "session_token": None,
        "principal_arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{PROFILE}",
        "allow": ["dsql:DbConnectAdmin", "dsql:DbConnect"],
    }
    store_path.write_text(json.dumps({"keys": [key]}, indent=2))
    store_path.chmod(0o600)
    shared = folder / "aws-credentials"
    shared.write_text(f"[default]\naws_access_key_id = {key['access_key_id']}\n"
                      f"aws_secret_access_key = {key['secret_access_key']}\n"
                      f"[{PROFILE}]\naws_access_key_id = {key['access_key_id']}\n"
                      f"aws_secret_access_key = {key['secret_access_key']}\n")
    shared.chmod(0o600)
    (folder / "aws-config").write_text(f"[default]\nregion = {region}\n[profile {PROFILE}]\nregion = {region}\n")
    return key
