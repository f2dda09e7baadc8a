"""Django's `db_comment` / `db_table_comment` through aurora-dsql-django: the schema editor's COMMENT ON
statements run on the cluster, and Django's introspection (inspectdb's source) reads them back."""

from __future__ import annotations

import pytest

from tests.orm.conftest import run_python
from tests.orm.test_django import django_env, project  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

SCRIPT = """
from django.db import connection, models

class Noted(models.Model):
    body = models.TextField(db_comment="what was noted")
    plain = models.TextField(null=True)

    class Meta:
        app_label = "pet_clinic"
        db_table = "pet_clinic_noted"
        db_table_comment = "notes about pets"

with connection.cursor() as c:
    c.execute("DROP TABLE IF EXISTS pet_clinic_noted")
with connection.schema_editor() as editor:
    editor.create_model(Noted)
try:
    with connection.cursor() as c:
        tables = [t.comment for t in connection.introspection.get_table_list(c) if t.name == "pet_clinic_noted"]
        columns = [(f.name, f.comment) for f in connection.introspection.get_table_description(c, "pet_clinic_noted")]
    print("comments:", tables, columns)
finally:
    with connection.cursor() as c:     # delete_model says DROP ... CASCADE, which DSQL refuses
        c.execute("DROP TABLE pet_clinic_noted")
"""


def test_db_comment_round_trip(project, django_env):  # noqa: F811
    out = run_python(["manage.py", "shell", "-c", SCRIPT], cwd=project, env=django_env).stdout
    assert "comments: ['notes about pets'] [('id', None), ('body', 'what was noted'), ('plain', None)]" in out, out
