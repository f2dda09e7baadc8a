"""node-postgres with an @aws-sdk/dsql-signer token: the guide's Node.js sample (tests/clients/node)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

NODE_DIR = pathlib.Path(__file__).parent / "node"


def test_node_postgres_guide_sample(aws_credentials):
    """Proves: the signer's token (from the AWS environment) is accepted and the sample's statements
    run with node-postgres over TLS verified against the cluster's CA."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "pg").exists():
        pytest.skip("tests/clients/node is not installed: run `make .venv/.installed` (npm ci)")
    ep = aws_credentials
    r = subprocess.run(["node", "sample.mjs", ep.host, str(ep.port), ep.region, ep.ca], cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
