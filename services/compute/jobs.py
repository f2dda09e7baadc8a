"""Asynchronous jobs: CREATE INDEX ASYNC, the job records in etcd and the runner in every compute.

Life of a job:

    CREATE INDEX ASYNC ix ON t (a)          any compute (sql/ddl.py -> submit_index_build)
      one etcd transaction: t gains ix in state write_only + /dsql/jobs/<db>/<id> {submitted}
      -> the job id at once; from now on writes maintain ix, queries do not read it
    JobRunner.run_pending                   a thread in every compute
      claim: /dsql/job_claims/<db>/<id> put-if-absent under an etcd lease, kept alive meanwhile
      wait until index_build_grace_ms after submission: every compute's catalog shows ix
      backfill: rows in primary-key order, each batch one transaction at a fresh snapshot that
        writes ix's entries and checks the rows it read (a row changed meanwhile aborts the
        batch, which is retried); the resume key and row count go into the job record
      one etcd transaction: ix valid + job completed (or ix invalid + job failed, with details)

A runner that dies loses its lease; another compute (or the restarted one) claims the job and
resumes from the saved key. sys.cancel_job marks the job cancelled and ix invalid at once; the
runner notices before its next batch. Finished jobs are purged after Limits.job_retention_s.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from typing import Callable

from services.common import errors
from services.common.config import Limits
from services.common.errors import PgError

from .catalog import INDEX_INVALID, INDEX_VALID, INDEX_WRITE_ONLY, Catalog, Index

log = logging.getLogger("compute.jobs")

JOBS_PREFIX = "/dsql/jobs/"            # outside /dsql/catalog/: progress must not refresh every catalog cache
CLAIMS_PREFIX = "/dsql/job_claims/"

SUBMITTED, PROCESSING, FAILED, COMPLETED, CANCELLED = "submitted", "processing", "failed", "completed", "cancelled"
ACTIVE = (SUBMITTED, PROCESSING)
WAIT_POLL_S = 0.1
BATCH_RETRIES_MAX = 100                 # conflicting writers abort a batch; it is retried at a new snapshot


def new_job_id() -> str:
    """26 lowercase base32 characters, like DSQL's job ids."""
    return base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()


@dataclasses.dataclass
class Job:
    id: str
    status: str
    table_id: int
    index_id: int
    index_name: str
    submitted_at: float
    details: str | None = None
    kind: str = "create_index"
    updated_at: float = 0.0
    finished_at: float | None = None
    batch_rows: int = 0                 # 0: Limits.index_build_batch_rows
    resume_key: str = ""                # hex of the next row key to backfill ("" = the table's start)
    rows_done: int = 0
    owner: str = ""                     # the runner that last worked on it (az/pid)
    revision: int = 0                   # etcd mod revision (not stored)

    def to_json(self) -> bytes:
        d = dataclasses.asdict(self)
        d.pop("revision")
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: bytes, revision: int) -> Job:
        return cls(**json.loads(text), revision=revision)


def job_key(database: str, job_id: str) -> str:
    return f"{JOBS_PREFIX}{database}/{job_id}"


def claim_key(database: str, job_id: str) -> str:
    return f"{CLAIMS_PREFIX}{database}/{job_id}"


def read_job(catalog: Catalog, job_id: str) -> Job | None:
    got = catalog.store.get(job_key(catalog.database, job_id))
    return Job.from_json(got[0], got[1]) if got else None


def list_jobs(catalog: Catalog) -> list[Job]:
    jobs = [Job.from_json(v, rev) for _, v, rev in catalog.store.get_prefix(f"{JOBS_PREFIX}{catalog.database}/")]
    return sorted(jobs, key=lambda j: (j.submitted_at, j.id))


def _job_or_error(catalog: Catalog, job_id: str) -> Job:
    job = read_job(catalog, job_id)
    if job is None:
        raise errors.UndefinedObject(f'job "{job_id}" does not exist')
    return job


def purge_finished(catalog: Catalog, retention_s: float, now: float | None = None) -> int:
    """Delete jobs finished more than retention_s ago (the guide: on every new job)."""
    now = time.time() if now is None else now
    n = 0
    for job in list_jobs(catalog):
        if job.status not in ACTIVE and job.finished_at is not None and now - job.finished_at > retention_s:
            key = job_key(catalog.database, job.id)
            n += catalog.store.txn({key: job.revision}, {}, [key])
    return n


def submit_index_build(catalog: Catalog, schema: str, table: str, index: Index, if_not_exists: bool,
                       limits: Limits, batch_rows: int = 0, job_id: str | None = None) -> tuple[Index | None, str]:
    """Add `index` write-only with its job record, atomically. (None, id) if it existed and
    if_not_exists. `job_id`: the id already shown to the client (a transaction block's DDL)."""
    purge_finished(catalog, limits.job_retention_s)
    job_id = job_id or new_job_id()
    now = time.time()
    table_id = catalog.get_table(schema, table).id

    def record(ix: Index) -> bytes:
        return Job(id=job_id, status=SUBMITTED, table_id=table_id, index_id=ix.id, index_name=ix.name,
                   submitted_at=now, updated_at=now, batch_rows=batch_rows).to_json()
    made = catalog.create_index(schema, table, dataclasses.replace(index, state=INDEX_WRITE_ONLY, job_id=job_id),
                                if_not_exists=if_not_exists, also={job_key(catalog.database, job_id): record})
    return made, job_id


def _finish(catalog: Catalog, job: Job, status: str, details: str | None, index_state: str) -> bool:
    """Move a job to a final status and its index to index_state in one etcd transaction (only the
    job when the index is gone). False if the job record changed meanwhile."""
    now = time.time()
    key = job_key(catalog.database, job.id)
    done = dataclasses.replace(job, status=status, details=details, updated_at=now, finished_at=now).to_json()
    if catalog.set_index_state(job.table_id, job.index_id, index_state, compares={key: job.revision},
                               puts={key: done}):
        return True
    cur = read_job(catalog, job.id)
    if cur is None or cur.revision != job.revision:
        return False
    return catalog.store.txn({key: job.revision}, {key: done})     # the index was dropped


def cancel_job(catalog: Catalog, job_id: str) -> None:
    """sys.cancel_job: an active job becomes cancelled and its index invalid."""
    for _ in range(100):
        job = _job_or_error(catalog, job_id)
        if job.status not in ACTIVE:
            raise PgError(f'job "{job_id}" cannot be cancelled: its status is {job.status}', sqlstate="55000")
        if _finish(catalog, job, CANCELLED, None, INDEX_INVALID):
            return
    raise errors.schema_conflict()


def wait_for_job(catalog: Catalog, job_id: str, cancelled: Callable[[], bool] = lambda: False) -> bool:
    """sys.wait_for_job: block until the job is finished; True if it completed."""
    while True:
        job = _job_or_error(catalog, job_id)
        if job.status not in ACTIVE:
            catalog.refresh()            # the next statement sees the index as the job left it
            return job.status == COMPLETED
        if cancelled():
            raise errors.QueryCanceled("canceling statement due to user request")
        time.sleep(WAIT_POLL_S)


class _Duplicate(Exception):
    pass


class JobRunner:
    """Runs the cluster's pending jobs; one per compute, all competing through etcd leases."""

    def __init__(self, catalog: Catalog, kv, limits: Limits, owner: str | None = None, poll_s: float = 1.0):
        self.catalog = catalog
        self.kv = kv
        self.limits = limits
        self.owner = owner or f"{os.uname().nodename}/{os.getpid()}"
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle
    def start(self) -> None:
        self.catalog.store.watch_prefix(f"{JOBS_PREFIX}{self.catalog.database}/", self._wake.set)
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:   # noqa: BLE001 - etcd or storage hiccup: try again at the next poll
                log.exception("job runner pass failed")
            self._wake.wait(self.poll_s)

    # ---- claiming
    def run_pending(self) -> int:
        """Claim and run every active job nobody holds; the number run."""
        ran = 0
        for job in list_jobs(self.catalog):
            if self._stop.is_set():
                break
            if job.status not in ACTIVE:
                continue
            key = claim_key(self.catalog.database, job.id)
            if self.catalog.store.get(key) is not None:
                continue
            lease = self.catalog.store.claim(key, self.owner.encode(), self.limits.job_lease_ttl_s)
            if lease is None:
                continue
            try:
                self._run(job.id, lease)
                ran += 1
            finally:
                self.catalog.store.release(lease)
        return ran

    def _run(self, job_id: str, lease) -> None:
        lost = threading.Event()
        done = threading.Event()

        def keep_alive():
            while not done.wait(self.limits.job_lease_ttl_s / 3):
                if not self.catalog.store.keep_alive(lease):
                    lost.set()
                    return
        threading.Thread(target=keep_alive, name=f"job-lease-{job_id}", daemon=True).start()
        try:
            self._build(job_id, lambda: lost.is_set() or self._stop.is_set())
        finally:
            done.set()

    # ---- the index build
    def _update(self, job: Job, **changes) -> Job | None:
        """Compare-and-set the job record; the stored job, or None if it changed meanwhile."""
        key = job_key(self.catalog.database, job.id)
        new = dataclasses.replace(job, updated_at=time.time(), **changes)
        if not self.catalog.store.txn({key: job.revision}, {key: new.to_json()}):
            return None
        return read_job(self.catalog, job.id)

    def _build(self, job_id: str, interrupted: Callable[[], bool]) -> None:
        job = read_job(self.catalog, job_id)
        if job is None or job.status not in ACTIVE:
            return
        job = self._update(job, status=PROCESSING, owner=self.owner)
        if job is None:
            return
        log.info("job %s: building index %s (resuming at %d rows)", job.id, job.index_name, job.rows_done)
        grace_end = job.submitted_at + self.limits.index_build_grace_ms / 1000
        while time.time() < grace_end and not interrupted():
            time.sleep(min(0.05, max(0.0, grace_end - time.time())))
        batch_rows = max(1, min(job.batch_rows or self.limits.index_build_batch_rows, self.limits.txn_rows_max))
        while not interrupted():
            job = read_job(self.catalog, job_id)
            if job is None or job.status != PROCESSING:
                return                              # cancelled (or purged)
            table = self.catalog.table_by_id(job.table_id)
            index = next((ix for ix in table.indexes if ix.id == job.index_id), None) if table else None
            if index is None:
                _finish(self.catalog, job, CANCELLED, f'index "{job.index_name}" was dropped', INDEX_INVALID)
                return
            if index.state != INDEX_WRITE_ONLY:
                return
            try:
                next_key, n = self._batch(table, index, bytes.fromhex(job.resume_key), batch_rows)
            except _Duplicate as e:
                _finish(self.catalog, job, FAILED, str(e), INDEX_INVALID)
                log.info("job %s failed: %s", job.id, e)
                return
            if next_key is None:
                job = dataclasses.replace(job, rows_done=job.rows_done + n)
                if _finish(self.catalog, job, COMPLETED, None, INDEX_VALID):
                    log.info("job %s completed: %d rows", job.id, job.rows_done)
                    return
                continue
            self._update(job, resume_key=next_key.hex(), rows_done=job.rows_done + n)

    def _batch(self, table, index: Index, start: bytes, limit: int) -> tuple[bytes | None, int]:
        """Index up to `limit` rows from `start` in one transaction; (next start or None at the end,
        rows indexed). Retried at a new snapshot when a concurrent writer wins a conflict."""
        from .sql.execute import codec_for
        codec = codec_for(table)
        for attempt in range(BATCH_RETRIES_MAX):
            txn = self.kv.begin()
            rows = list(txn.scan(start or codec.prefix, codec.end, limit=limit))
            entries = []
            for row_key, value in rows:
                row = codec.row.decode(value)
                k, v = next((k, v) for k, v, ix in codec.index_entries(row, row_key) if ix.id == index.id)
                if len(k) > self.limits.key_bytes_max:
                    raise _Duplicate(f'index row for "{index.name}" exceeds the key size limit of '
                                     f'{self.limits.key_bytes_max} bytes')
                txn.add_check_key(row_key)      # a row changed since this snapshot aborts the batch
                entries.append((k, v, row))
            if index.unique and entries:
                self._check_unique(table, index, entries, txn.get([k for k, _, _ in entries]))
            for k, v, _ in entries:
                txn.put(k, v)
            try:
                txn.commit()
            except PgError as e:
                if e.sqlstate != "40001":
                    raise
                time.sleep(min(1.0, 0.01 * (attempt + 1)))
                continue
            end = rows[-1][0] + b"\x00" if len(rows) == limit else None
            return end, len(rows)
        raise PgError(f"index build of {index.name} kept conflicting with concurrent writes", sqlstate="40001")

    @staticmethod
    def _check_unique(table, index: Index, entries, existing) -> None:
        from .sql import types as T
        seen: dict[bytes, bytes] = {}
        for (k, v, row), old in zip(entries, existing):
            other = old if old is not None and old != v else seen.get(k)
            if other is not None and other != v:
                cols = [table.column_by_id(c) for c in index.columns]
                vals = [row[table.column_index(c)] for c in index.columns]
                shown = ", ".join("null" if x is None else T.lookup(c.type_oid).text_out(x)
                                  for c, x in zip(cols, vals))
                raise _Duplicate(f'could not create unique index "{index.name}": '
                                 f'Key ({", ".join(c.name for c in cols)})=({shown}) is duplicated.')
            seen[k] = v
