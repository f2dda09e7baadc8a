"""First start creates a cluster description, TLS material and credentials; later starts reuse them."""

import json
import ssl

from cryptography import x509

from services.common.config import ClusterConfig
from services.launcher import cluster


def test_init_state_creates_and_reuses(tmp_path):
    config = cluster.init_state(tmp_path / "s", client_port=15432, region="us-west-2")
    assert sorted(config.azs) == ["us-west-2a", "us-west-2b", "us-west-2c"]
    ports = [ep.grpc_port for svcs in config.azs.values() for ep in svcs.values()]
    ports += [ep.metrics_port for svcs in config.azs.values() for ep in svcs.values()]
    assert len(set(ports)) == len(ports) == 24
    again = cluster.init_state(tmp_path / "s", client_port=1, region="eu-west-1")
    assert again == config
    assert ClusterConfig.load(tmp_path / "s" / "cluster.json") == config


def test_server_certificate_names_every_endpoint_host(tmp_path):
    config = cluster.init_state(tmp_path, client_port=15432, region="us-east-1")
    cert = x509.load_pem_x509_certificate(open(config.tls_cert, "rb").read())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    names |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    assert set(config.hostnames) <= names
    # The CA verifies the server certificate.
    ctx = ssl.create_default_context(cafile=config.tls_ca)
    assert ctx.cert_store_stats()["x509_ca"] == 1


def test_credentials_store_and_aws_files(tmp_path):
    config = cluster.init_state(tmp_path, client_port=15432, region="us-east-1")
    store = json.loads(open(config.credentials_file).read())
    key = store["keys"][0]
    assert key["access_key_id"].startswith("AKIA") and len(key["access_key_id"]) == 20
    assert len(key["secret_access_key"]) == 40
    shared = (tmp_path / "credentials" / "aws-credentials").read_text()
    assert key["access_key_id"] in shared and key["secret_access_key"] in shared
