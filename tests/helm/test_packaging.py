"""skaffold.yaml, the Dockerfiles and the e2e runner, checked statically (no Docker here).

skaffold: a v4 schema, artifacts whose Dockerfiles exist, a chart path that is a chart,
value templates that name the artifacts and keys the chart has, a kind profile whose
context is the e2e kind cluster. Dockerfiles: every COPY source exists and is not excluded
by the Dockerfile's own .dockerignore. e2e: without its tools it skips with a reason.
"""

from __future__ import annotations

import fnmatch
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
ARTIFACTS = SKAFFOLD["build"]["artifacts"]


def sanitized(image: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", image)


def value_keys(values: dict, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in values.items():
        keys.add(prefix + k)
        if isinstance(v, dict):
            keys |= value_keys(v, f"{prefix}{k}.")
    return keys


def test_skaffold_schema_and_artifacts():
    """Proves: skaffold.yaml is a v4 Config whose artifacts point at Dockerfiles that exist."""
    assert SKAFFOLD["apiVersion"].startswith("skaffold/v4beta") and SKAFFOLD["kind"] == "Config"
    assert {a["image"] for a in ARTIFACTS} == {"ghcr.io/dsql-k8s/dsql", "ghcr.io/dsql-k8s/dsql-operator"}
    for artifact in ARTIFACTS:
        context = ROOT / artifact.get("context", ".")
        assert (context / artifact["docker"]["dockerfile"]).is_file(), artifact


def _releases():
    yield "default", SKAFFOLD["deploy"]["helm"]["releases"]
    for profile in SKAFFOLD.get("profiles", []):
        if "helm" in profile.get("deploy", {}):
            yield profile["name"], profile["deploy"]["helm"]["releases"]


@pytest.mark.parametrize("where,releases", list(_releases()), ids=[w for w, _ in _releases()])
def test_skaffold_deploys_the_chart_with_the_built_images(where, releases):
    """Proves: each release installs the chart and wires both built images into existing chart values."""
    values = yaml.safe_load((ROOT / "helm" / "dsql-operator" / "values.yaml").read_text())
    keys = value_keys(values)
    templates_allowed = {f"IMAGE_{part}_{sanitized(a['image'])}" for a in ARTIFACTS for part in ("REPO", "TAG")}
    for release in releases:
        chart = ROOT / release["chartPath"]
        assert (chart / "Chart.yaml").is_file(), release["chartPath"]
        used = set()
        for key, template in {**release.get("setValueTemplates", {}), **release.get("setValues", {})}.items():
            assert key in keys, f"{where}: {key} is not a value of the chart"
            for name in re.findall(r"\{\{\.(\w+)\}\}", str(template)):
                assert name in templates_allowed, f"{where}: {name} names no artifact"
                used.add(name)
        assert used == templates_allowed, f"{where}: both images must be wired: {templates_allowed - used}"


def test_kind_profile_targets_the_e2e_cluster():
    """Proves: `skaffold run -p kind` builds without pushing and deploys to the e2e kind cluster."""
    kind_name = yaml.safe_load((ROOT / "e2e" / "kind-config.yaml").read_text())["name"]
    [profile] = [p for p in SKAFFOLD["profiles"] if p["name"] == "kind"]
    assert profile["build"]["local"]["push"] is False
    assert profile["deploy"]["kubeContext"] == f"kind-{kind_name}"


def _copies(dockerfile: pathlib.Path):
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "COPY" and not any(p.startswith("--from") for p in parts):
            yield from (p for p in parts[1:-1] if not p.startswith("--"))


def _excluded(path: str, ignore: list[str]) -> bool:
    excluded = False
    for pattern in ignore:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat.rstrip("*").rstrip("/") + "*") and "**" in pat:
            excluded = not negate
    return excluded


@pytest.mark.parametrize("artifact", ARTIFACTS, ids=[a["image"] for a in ARTIFACTS])
def test_dockerfile_copies_exist_and_are_not_ignored(artifact):
    """Proves: what each Dockerfile COPYs exists and its .dockerignore lets it into the build context."""
    dockerfile = ROOT / artifact["docker"]["dockerfile"]
    ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
    ignore = [l.strip() for l in ignore_file.read_text().splitlines() if l.strip() and not l.startswith("#")]
    sources = list(_copies(dockerfile))
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src} does not exist"
        probe = src if (ROOT / src).is_file() else next(str(p.relative_to(ROOT)) for p in (ROOT / src).rglob("*.py"))
        assert not _excluded(probe, ignore), f"{ignore_file.name} excludes {probe}"


def test_operator_image_requirements_are_pinned():
    """Proves: the operator image installs exact versions (reproducible builds)."""
    lines = [l for l in (ROOT / "operator" / "requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.]*", l) for l in lines), lines
    assert any(l.startswith("kopf==") for l in lines)


def load_e2e():
    import importlib.util
    spec = importlib.util.spec_from_file_location("dsql_e2e_run", ROOT / "e2e" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_e2e_skips_with_a_reason_without_its_tools():
    """Proves: `make e2e` here says why it does not run and succeeds; E2E_REQUIRED=1 turns that into a failure."""
    e2e = load_e2e()
    why = e2e.missing_prerequisites()
    if why is None:
        pytest.skip("docker, kind, kubectl, helm and psql are all here: run `make e2e` for the real thing")
    env = {**os.environ, "E2E_REQUIRED": ""}
    done = subprocess.run([sys.executable, str(ROOT / "e2e" / "run.py")], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("SKIP: e2e not run: ") and why in done.stdout
    env["E2E_REQUIRED"] = "1"
    done = subprocess.run([sys.executable, str(ROOT / "e2e" / "run.py")], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 1


def test_e2e_knows_every_tool_it_calls():
    """Proves: the prerequisite check covers every external command the e2e runs."""
    source = (ROOT / "e2e" / "run.py").read_text()
    called = set(re.findall(r'run\("(\w+)"', source)) | {"kubectl"}
    assert called <= set(load_e2e().TOOLS), called - set(load_e2e().TOOLS)


def _imports(path):
    import ast
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def _module_files(module):
    """The files Python runs to import `module`: its own and every parent package's __init__.py."""
    parts = module.split(".")
    files = [ROOT.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]
    own = ROOT.joinpath(*parts)
    files.append(own / "__init__.py" if own.is_dir() else own.with_suffix(".py"))
    return files


def test_operator_package_imports_only_what_its_image_has():
    """Proves: dsql_operator imports no package missing from its image. Of `services` it uses the
    shared TLS generator and credential-store format; every file those imports reach (transitively)
    must be copied by the Dockerfile and let through by the .dockerignore."""
    allowed = {"kopf", "cryptography", "yaml", "aiohttp", "dsql_operator"} | set(sys.stdlib_module_names)
    dockerfile = (ROOT / "images" / "operator" / "Dockerfile").read_text()
    ignore = (ROOT / "images" / "operator" / "Dockerfile.dockerignore").read_text()
    pending = [name for path in (ROOT / "operator" / "dsql_operator").glob("*.py") for name in _imports(path)]
    seen = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.split(".")[0] != "services":
            assert name.split(".")[0] in allowed, f"the operator imports {name}: not in the operator image"
            continue
        for file in _module_files(name):
            rel = file.relative_to(ROOT).as_posix()
            assert rel in dockerfile and f"!{rel}" in ignore, f"{rel} ({name}) is not copied into the operator image"
            pending.extend(_imports(file))
