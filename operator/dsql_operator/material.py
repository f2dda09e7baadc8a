"""Generated secrets: the cluster's TLS certificate and its credential store.

Both match what the local launcher writes (`services/launcher/tls.py`,
`credentials.py`), only kept in memory and stored in Kubernetes Secrets:

- TLS: a private CA and a server certificate for the client Service's DNS names,
  `localhost` (port-forwards) and `<identifier>.dsql.<region>.on.aws`; the Secret has
  the cert-manager layout (`tls.crt`, `tls.key`, `ca.crt`) so the three TLS modes
  (Generated, Secret, CertManager) look the same to the pods.
- Credentials: `credentials.json` (the store the relay verifies auth tokens with) and
  `aws-credentials` (an AWS shared-credentials file for boto3 and the AWS CLI).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import string

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 825


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dsql-k8s"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])


def tls_material(hostnames: list[str]) -> dict[str, bytes]:
    """A fresh CA and server certificate: {'ca.crt', 'tls.crt', 'tls.key'} (PEM)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=VALIDITY_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(_name("dsql-k8s CA")).issuer_name(_name("dsql-k8s CA"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .sign(ca_key, hashes.SHA256()))
    sans: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(hostnames[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return {"ca.crt": ca_cert.public_bytes(serialization.Encoding.PEM),
            "tls.crt": cert.public_bytes(serialization.Encoding.PEM),
            "tls.key": _key_pem(key)}


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def credential_material(region: str, account_id: str, user: str) -> dict[str, bytes]:
    """A credential store with one admin access key, in the launcher's format."""
    key = {
        "access_key_id": "AKIA" + _random(string.ascii_uppercase + "234567", 16),
        "secret_access_key": _random(string.ascii_letters + string.digits + "+/", 40),
        "session_token": None,
        "principal_arn": f"arn:aws:iam::{account_id}:user/{user}",
        "allow": ["dsql:DbConnectAdmin", "dsql:DbConnect"],
    }
    shared = (f"[default]\naws_access_key_id = {key['access_key_id']}\n"
              f"aws_secret_access_key = {key['secret_access_key']}\nregion = {region}\n")
    return {"credentials.json": json.dumps({"keys": [key]}, indent=2).encode(),
            "aws-credentials": shared.encode(),
            "AWS_ACCESS_KEY_ID": key["access_key_id"].encode(),
            "AWS_SECRET_ACCESS_KEY": key["secret_access_key"].encode(),
            "AWS_REGION": region.encode()}
