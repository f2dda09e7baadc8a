"""Issue 6's Django proof: the guide's pet clinic (tests/orm/django_petclinic) migrated onto the local
cluster with aurora-dsql-django over aurora-dsql-python-connector (boto3 tokens), in the guide's two
steps - Owner and Pet, then the relationships - each followed by the guide's curl flows
(django_petclinic/flow.py); then aurora-dsql-django's own integration tests against the cluster.
Each Django run is a process of its own (settings and the adapter's field patches are process-wide).
"""

from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.orm.conftest import run_python

pytestmark = pytest.mark.integration

PROJECT = pathlib.Path(__file__).parent / "django_petclinic"
SECOND_STEP = "# --- The guide's second step"
TABLES = ["pet_clinic_vetspecialties", "pet_clinic_vet", "pet_clinic_specialty", "pet_clinic_pet",
          "pet_clinic_owner", "django_migrations"]


@pytest.fixture
def django_env(endpoint, aws_env):
    return {**aws_env, **endpoint.env(), "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture
def project(tmp_path, django_env):
    """A copy of the project without migrations, on a cluster without its tables; both dropped after."""
    shutil.copytree(PROJECT, tmp_path / "petclinic", ignore=shutil.ignore_patterns("__pycache__", "0*.py"))
    root = tmp_path / "petclinic" / "project"
    drop = "\n".join(f"DROP TABLE IF EXISTS {t};" for t in TABLES)
    script = f"from django.db import connection\nfor s in {drop!r}.splitlines():\n" \
             "    with connection.cursor() as c: c.execute(s)\n"
    run_python(["manage.py", "shell", "-c", script], cwd=root, env=django_env)
    yield root
    run_python(["manage.py", "shell", "-c", script], cwd=root, env=django_env)


def test_guide_pet_clinic(project, django_env):
    models = project / "pet_clinic" / "models.py"
    full = models.read_text()
    models.write_text(full[:full.index(SECOND_STEP)])

    made = run_python(["manage.py", "makemigrations", "pet_clinic"], cwd=project, env=django_env)
    assert "0001_initial.py" in made.stdout and "Create model Pet" in made.stdout
    run_python(["manage.py", "migrate", "pet_clinic", "0001"], cwd=project, env=django_env)
    assert "crud: ok" in run_python(["../flow.py", "crud"], cwd=project, env=django_env).stdout

    models.write_text(full)
    made = run_python(["manage.py", "makemigrations", "pet_clinic"], cwd=project, env=django_env)
    assert "0002_" in made.stdout and "Create model Vet" in made.stdout
    run_python(["manage.py", "migrate", "pet_clinic"], cwd=project, env=django_env)
    shown = run_python(["manage.py", "showmigrations", "pet_clinic"], cwd=project, env=django_env).stdout
    assert shown.count("[X]") == 2, shown
    assert "relationships: ok" in run_python(["../flow.py", "relationships"], cwd=project, env=django_env).stdout


def test_inspectdb(project, django_env):
    """Django's introspection reads the guide's tables back from the cluster's catalog as the models made them."""
    for step in (["makemigrations", "pet_clinic"], ["migrate", "pet_clinic"]):
        run_python(["manage.py", *step], cwd=project, env=django_env)
    models_py = run_python(["manage.py", "inspectdb", "pet_clinic_owner", "pet_clinic_vet"], cwd=project,
                           env=django_env).stdout
    for line in ["class PetClinicOwner(models.Model):", "id = models.UUIDField(primary_key=True)",
                 "name = models.CharField(max_length=30)", "city = models.CharField(max_length=80)",
                 "telephone = models.CharField(max_length=20, blank=True, null=True)",
                 "owner_id = models.UUIDField(unique=True, blank=True, null=True)", "db_table = 'pet_clinic_vet'"]:
        assert line in models_py, models_py


def test_adapter_integration_tests(tmp_path, endpoint, django_env):
    """aurora-dsql-django's own integration tests, run as its README says (pytest with its settings)."""
    env = {**django_env, "CLUSTER_ENDPOINT": endpoint.host, "DJANGO_SETTINGS_MODULE": "adapter_settings",
           "PYTHONPATH": str(PROJECT)}
    result = run_python(["-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path),
                         "--pyargs", "aurora_dsql_django.tests.integration"], cwd=tmp_path, env=env)
    assert " passed" in result.stdout and "failed" not in result.stdout
