"""The local credential store: one IAM principal allowed to connect, with one access key.

Three files: `credentials.json` (the store the relay verifies tokens against, in the format of
services/common/auth/store.py), `aws-credentials` (an AWS shared-credentials file, so boto3, the
AWS CLI and the DSQL connectors can sign tokens with AWS_SHARED_CREDENTIALS_FILE or `dsql env`)
and `aws-config` (the region).
"""

from __future__ import annotations

import json
import pathlib

from services.common.auth.store import new_store_document

ACCOUNT_ID = "000000000000"
PROFILE = "dsql-local"


def ensure_credentials(folder: pathlib.Path, region: str) -> dict:
    """Return the admin key entry, creating the store on first start."""
    store_path = folder / "credentials.json"
    if store_path.exists():
        return json.loads(store_path.read_text())["keys"][0]
    folder.mkdir(parents=True, exist_ok=True)
    doc = new_store_document(f"arn:aws:iam::{ACCOUNT_ID}:user/{PROFILE}")
    key = doc["keys"][0]
    store_path.write_text(json.dumps(doc, indent=2))
    store_path.chmod(0o600)
    shared = folder / "aws-credentials"
    shared.write_text(f"[default]\naws_access_key_id = {key['access_key_id']}\n"
                      f"aws_secret_access_key = {key['secret_access_key']}\n"
                      f"[{PROFILE}]\naws_access_key_id = {key['access_key_id']}\n"
                      f"aws_secret_access_key = {key['secret_access_key']}\n")
    shared.chmod(0o600)
    (folder / "aws-config").write_text(f"[default]\nregion = {region}\n[profile {PROFILE}]\nregion = {region}\n")
    return key
