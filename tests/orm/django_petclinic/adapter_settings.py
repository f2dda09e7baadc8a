"""aurora-dsql-django's own integration-test settings (aurora_dsql_django.tests.test_settings, which
reads CLUSTER_ENDPOINT), pointed at the local relay like the pet clinic's (project/settings.py)."""
import os

from aurora_dsql_django.tests.test_settings import *  # noqa: F401,F403
from aurora_dsql_django.tests.test_settings import DATABASES

DATABASES["default"]["PORT"] = os.environ["DSQL_PORT"]
DATABASES["default"]["OPTIONS"].update(sslrootcert=os.environ["DSQL_SSLROOTCERT"],
                                       hostaddr=os.environ["DSQL_HOSTADDR"])
