"""The generated gRPC code under services/pb matches protos/ (run `make protos` after editing)."""

import subprocess
import sys
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generated_code_is_current():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_protos.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
