"""The cluster description every process reads at startup.

The local launcher writes it as `<state_dir>/cluster.json`; on Kubernetes the
operator renders the same document into a ConfigMap. A process is told its AZ
and service and finds everything else (peers, ports, TLS files, limits) here.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

SERVICES = ("relay", "compute", "journal", "storage")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    host: str
    grpc_port: int
    metrics_port: int

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Every limit of the guide, with the guide's value as the default."""
    max_connections: int = 1000
    connection_rate_per_s: float = 10.0
    connection_burst: int = 100
    session_max_s: int = 3600
    transaction_max_s: int = 300
    txn_rows_max: int = 10_000
    txn_bytes_max: int = 10 * 1024 * 1024
    row_bytes_max: int = 2 * 1024 * 1024
    column_bytes_max: int = 1024 * 1024
    key_column_bytes_max: int = 255
    key_bytes_max: int = 1024
    index_key_columns_max: int = 8
    table_columns_max: int = 255
    table_indexes_max: int = 24
    schemas_max: int = 10
    tables_max: int = 1000
    query_memory_bytes_max: int = 128 * 1024 * 1024
    token_expiry_max_s: int = 7 * 24 * 3600
    # async jobs (CREATE INDEX ASYNC; services/compute/jobs.py)
    job_retention_s: int = 30 * 60          # finished jobs leave sys.jobs after this (the guide's 30 minutes)
    job_lease_ttl_s: int = 5                # a dead runner's job is taken over after this
    index_build_batch_rows: int = 1000      # rows backfilled per transaction (also bounded by txn_rows_max)
    index_build_grace_ms: int = 1000        # before the backfill: every compute's catalog shows the index
    token_clock_skew_s: int = 300          # how far in the future a token's signing time may be
    role_rename_max_entries: int = 120      # ALTER ROLE RENAME rewrites this many catalog keys at most (one
                                            # etcd transaction; etcd's --max-txn-ops defaults to 128)


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    cluster_id: str
    region: str
    state_dir: str
    client_host: str               # where relays listen for PostgreSQL clients
    client_port: int               # one port shared by every relay (SO_REUSEPORT)
    etcd_endpoints: tuple[str, ...]
    tls_cert: str                  # server certificate chain (PEM)
    tls_key: str
    tls_ca: str                    # CA that signed tls_cert; clients verify with it
    credentials_file: str          # the local credential store (JSON)
    azs: dict[str, dict[str, Endpoint]]   # az -> service -> endpoint
    limits: Limits = Limits()
    max_clock_offset_us: int = 0   # commit-wait; zero when every process shares one clock
    closed_ts_interval_ms: int = 10  # how often the journal publishes the closed timestamp (idle CPU vs read wait)
    extra_hostnames: tuple[str, ...] = ()   # more names tokens may be signed for (Service DNS names)
    # "raft": one journal replica per AZ replicated with Raft (services/journal/replicated.py);
    # "static": the first AZ's journal leads alone, unreplicated (the walking skeleton's mode).
    journal_replication: str = "raft"
    # Raft log compaction: each journal replica snapshots and truncates its Raft log every
    # this many applied entries (services/journal/replicated.py).
    raft_snapshot_entries: int = 10_000
    # Each journal replica keeps at least this many of the newest entries of its log for storage
    # to tail; a storage replica further behind copies a checkpoint from a peer storage.
    journal_retain_entries: int = 1_000_000
    account_id: str = "000000000000"  # the AWS account the cluster (and its ARN) belongs to

    def __post_init__(self) -> None:
        if self.journal_replication not in ("static", "raft"):
            raise ValueError(f"journal_replication must be 'static' or 'raft', not {self.journal_replication!r}")

    @property
    def hostnames(self) -> tuple[str, ...]:
        """Names the endpoint answers to (auth tokens must be signed for one)."""
        base = ("localhost", "127.0.0.1", f"{self.cluster_id}.dsql.{self.region}.on.aws")
        return base + tuple(h for h in self.extra_hostnames if h not in base)

    @property
    def cluster_arn(self) -> str:
        """The resource that IAM policies name (dsql:DbConnect on arn:aws:dsql:...:cluster/<id>)."""
        return f"arn:aws:dsql:{self.region}:{self.account_id}:cluster/{self.cluster_id}"

    def endpoint(self, az: str, service: str) -> Endpoint:
        return self.azs[az][service]

    def az_dir(self, az: str, service: str) -> pathlib.Path:
        """The private data folder of one process."""
        return pathlib.Path(self.state_dir) / az / service

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ClusterConfig:
        raw = json.loads(text)
        raw["etcd_endpoints"] = tuple(raw["etcd_endpoints"])
        raw["extra_hostnames"] = tuple(raw.get("extra_hostnames", ()))
        raw["azs"] = {az: {svc: Endpoint(**ep) for svc, ep in services.items()}
                      for az, services in raw["azs"].items()}
        raw["limits"] = Limits(**raw.get("limits", {}))
        # A document written before the field existed describes a static-journal cluster
        # (its log is the static journal.log): keep it static. New documents name the mode.
        raw.setdefault("journal_replication", "static")
        return cls(**raw)

    @classmethod
    def load(cls, path: str | pathlib.Path) -> ClusterConfig:
        return cls.from_json(pathlib.Path(path).read_text())
