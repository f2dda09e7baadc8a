"""Generated secrets: the cluster's TLS certificate and its credential store.

Both match what the local launcher writes (`services/common/tls.py`,
`credentials.py`), only kept in memory and stored in Kubernetes Secrets:

- TLS: a private CA and a server certificate for the client Service's DNS names,
  `localhost` (port-forwards) and `<identifier>.dsql.<region>.on.aws`; the Secret has
  the cert-manager layout (`tls.crt`, `tls.key`, `ca.crt`) so the three TLS modes
  (Generated, Secret, CertManager) look the same to the pods.
- Credentials: `credentials.json` (the store the relay verifies auth tokens with) and
  `aws-credentials` (an AWS shared-credentials file for boto3 and the AWS CLI).
"""

from __future__ import annotations

import json

from services.common.auth.store import new_store_document
from services.common.tls import make_tls_material


def tls_material(hostnames: list[str]) -> dict[str, bytes]:
    """A fresh CA and server certificate: {'ca.crt', 'tls.crt', 'tls.key'} (PEM)."""
    m = make_tls_material(hostnames, "dsql-k8s")
    return {"ca.crt": m.ca_pem, "tls.crt": m.cert_pem, "tls.key": m.key_pem}


def credential_material(region: str, account_id: str, user: str) -> dict[str, bytes]:
    """A credential store with one admin access key, in the launcher's format."""
    doc = new_store_document(f"arn:aws:iam::{account_id}:user/{user}")
    key = doc["keys"][0]
    shared = (f"[default]\naws_access_key_id = {key['access_key_id']}\n"
              f"aws_secret_access_key = {key['secret_access_key']}\nregion = {region}\n")
    return {"credentials.json": json.dumps(doc, indent=2).encode(),
            "aws-credentials": shared.encode(),
            "AWS_ACCESS_KEY_ID": key["access_key_id"].encode(),
            "AWS_SECRET_ACCESS_KEY": key["secret_access_key"].encode(),
            "AWS_REGION": region.encode()}
