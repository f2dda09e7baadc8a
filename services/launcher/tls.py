"""TLS material for a local cluster, generated once per state directory.

Clients verify the endpoint with the CA (`sslmode=verify-full sslrootcert=<state>/tls/ca.pem`).
"""

from __future__ import annotations

import pathlib

from services.common.tls import make_tls_material


def ensure_tls(folder: pathlib.Path, hostnames: tuple[str, ...]) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """Return (ca, cert, key) paths, creating them if absent."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    if ca_path.exists() and cert_path.exists() and key_path.exists():
        return ca_path, cert_path, key_path
    material = make_tls_material(hostnames, "dsql-local")
    for path, data, private in ((key_path, material.key_pem, True), (folder / "ca.key", material.ca_key_pem, True),
                                (cert_path, material.cert_pem, False), (ca_path, material.ca_pem, False)):
        path.write_bytes(data)
        if private:
            path.chmod(0o600)
    return ca_path, cert_path, key_path
