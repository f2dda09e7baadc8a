"""The sys.jobs view: the status of the cluster's asynchronous jobs (services/compute/jobs.py),
with the guide's columns. Finished jobs are purged after Limits.job_retention_s."""

from __future__ import annotations

from .. import jobs
from . import types as T


def _sys_jobs(cat, session):
    return [(j.id, j.status, j.details) for j in jobs.list_jobs(cat)]


VIEWS = {
    ("sys", "jobs"): ([("job_id", T.TEXT), ("status", T.TEXT), ("details", T.TEXT)], _sys_jobs),
}
