"""`dsql`: run a local three-AZ cluster and talk to it.

    dsql up [--detach]      start etcd and, per AZ, journal, storage, compute and relay
    dsql down               stop them
    dsql status [--json]    every process with its AZ, service, pid, ports and role
    dsql stop --az X [--service S] [--kill]     stop one AZ's processes (or one of them)
    dsql start --az X [--service S]             restart them with their original argv
    dsql token [--admin | --role R] [--expires-in S]    print an auth token
    dsql env                shell exports for AWS tooling and psql
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import signal
import sys
import time

from services.common.config import ClusterConfig
from services.launcher import cluster

DEFAULT_STATE = ".state"
DEFAULT_REGION = "us-east-1"
DEFAULT_PORT = 5432


def _state(args) -> pathlib.Path:
    return pathlib.Path(args.state_dir).resolve()


def _load(args) -> ClusterConfig:
    path = _state(args) / "cluster.json"
    if not path.exists():
        raise SystemExit(f"no cluster in {_state(args)}: start one with `dsql up`")
    return ClusterConfig.load(path)


def _admin_key(config: ClusterConfig) -> dict:
    return json.loads(pathlib.Path(config.credentials_file).read_text())["keys"][0]


def make_token(config: ClusterConfig, *, admin: bool = True, expires_in: int = 900,
               host: str = "localhost") -> str:
    from services.common.auth.sigv4 import generate_token
    key = _admin_key(config)
    return generate_token(host, config.region, key["access_key_id"], key["secret_access_key"],
                          action="DbConnectAdmin" if admin else "DbConnect", expires_in=expires_in,
                          session_token=key.get("session_token"))


def dsn(config: ClusterConfig, user: str = "admin") -> str:
    return (f"host=localhost port={config.client_port} user={user} dbname=postgres "
            f"sslmode=verify-full sslrootcert={config.tls_ca}")


def connect_help(config: ClusterConfig, state: pathlib.Path) -> str:
    token = make_token(config)
    dsql = f"dsql --state-dir {shlex.quote(str(state))}"
    return f"""\
DSQL local cluster {config.cluster_id} is up: {len(config.azs)} AZs ({', '.join(sorted(config.azs))}), \
endpoint localhost:{config.client_port} (TLS required).

Connect with psql (tokens last 15 minutes; `{dsql} token` makes a new one):
  PGPASSWORD="$({dsql} token)" psql "{dsn(config)}"
or paste this, with a fresh token in it:
  PGPASSWORD='{token}' psql "{dsn(config)}"

psycopg:
  import psycopg
  conn = psycopg.connect("{dsn(config)}", password=token)

AWS tooling (boto3, aws CLI, DSQL connectors): eval "$({dsql} env)"
  then e.g. aws dsql generate-db-connect-admin-auth-token --hostname localhost --region {config.region}
"""


def cmd_up(args) -> int:
    state = _state(args)
    config = cluster.init_state(state, client_port=args.port, region=args.region)
    if cluster.running(state):
        print(f"already running from {state}\n")
        print(connect_help(config, state))
        return 0
    procs = cluster.start(config)
    print(connect_help(config, state), flush=True)
    if args.detach:
        print(f"Running in the background ({len(procs)} processes). Stop with: dsql --state-dir {state} down")
        return 0

    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("Press Ctrl-C to stop.", flush=True)
    reported: set[int] = set()
    while not stopping:
        for p in procs:
            if p.pid not in reported and not cluster.pid_alive(p.pid):
                reported.add(p.pid)
                print(f"warning: {p.name} (pid {p.pid}) exited; see {cluster.log_path(config, p.name)}",
                      file=sys.stderr, flush=True)
        time.sleep(0.2)
    print("stopping...", flush=True)
    cluster.stop(state)
    print("stopped.")
    return 0


def cmd_down(args) -> int:
    stopped = cluster.stop(_state(args))
    print(f"stopped {len(stopped)} processes" if stopped else "nothing was running")
    return 0


def cmd_stop(args) -> int:
    stopped = cluster.stop_process(_state(args), args.az, args.service, kill=args.kill)
    print("\n".join(f"{'killed' if args.kill else 'stopped'} {p.name} (pid {p.pid})" for p in stopped)
          or "nothing was running")
    return 0


def cmd_start(args) -> int:
    started = cluster.start_process(_state(args), args.az, args.service)
    print("\n".join(f"started {p.name} (pid {p.pid})" for p in started) or "all were running")
    return 0


def _role(proc: cluster.Proc) -> str | None:
    """Ask a journal for its role; other services have none."""
    if proc.service != "journal":
        return None
    try:
        import grpc
        from services.pb.dsql.journal.v1 import journal_pb2, journal_pb2_grpc
        with grpc.insecure_channel(f"127.0.0.1:{proc.ports['grpc']}") as channel:
            return journal_pb2_grpc.JournalStub(channel).Status(journal_pb2.StatusRequest(), timeout=1).role
    except Exception:  # a dead or busy journal has no role to report
        return "unknown"


def cmd_status(args) -> int:
    state = _state(args)
    live = {p.pid for p in cluster.running(state)}
    rows = [{"name": p.name, "az": p.az, "service": p.service, "pid": p.pid, "alive": p.pid in live,
             "ports": p.ports, "role": _role(p) if p.pid in live else None}
            for p in cluster.read_procs(state)]
    if args.json:
        print(json.dumps({"state_dir": str(state), "running": bool(live), "processes": rows}, indent=2))
        return 0
    if not rows:
        print(f"not running ({state})")
        return 1
    for r in rows:
        ports = " ".join(f"{k}={v}" for k, v in r["ports"].items())
        print(f"{r['name']:<22} {'up' if r['alive'] else 'DOWN':<5} pid={r['pid']:<8} {ports}"
              + (f" role={r['role']}" if r["role"] else ""))
    return 0 if all(r["alive"] for r in rows) else 1


def cmd_token(args) -> int:
    config = _load(args)
    admin = args.role in (None, "admin")
    print(make_token(config, admin=admin, expires_in=args.expires_in, host=args.host))
    return 0


def client_env(config: ClusterConfig) -> dict[str, str]:
    """The environment AWS tooling (boto3, the CLI, DSQL connectors) and libpq need to reach the cluster."""
    key = _admin_key(config)
    creds = pathlib.Path(config.credentials_file).parent
    return {
        "AWS_ACCESS_KEY_ID": key["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_SHARED_CREDENTIALS_FILE": str(creds / "aws-credentials"),
        "AWS_CONFIG_FILE": str(creds / "aws-config"),
        "PGHOST": "localhost",
        "PGPORT": str(config.client_port),
        "PGUSER": "admin",
        "PGDATABASE": "postgres",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": config.tls_ca,
    }


def cmd_env(args) -> int:
    for name, value in client_env(_load(args)).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dsql", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", default=os.environ.get("DSQL_STATE_DIR", DEFAULT_STATE),
                        help="where the cluster keeps its data (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the local cluster")
    up.add_argument("--detach", action="store_true", help="return once the cluster is up")
    up.add_argument("--port", type=int, default=DEFAULT_PORT,
                    help="client port, on first start (default: %(default)s)")
    up.add_argument("--region", default=DEFAULT_REGION, help="on first start (default: %(default)s)")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the local cluster").set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="show every process")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    for name, func, what in (("stop", cmd_stop, "stop"), ("start", cmd_start, "restart")):
        one = sub.add_parser(name, help=f"{what} the processes of one AZ, or one of its services")
        one.add_argument("--az", required=True)
        one.add_argument("--service", choices=cluster.START_ORDER)
        if name == "stop":
            one.add_argument("--kill", action="store_true", help="SIGKILL instead of a graceful stop")
        one.set_defaults(func=func)
    token = sub.add_parser("token", help="print an auth token")
    who = token.add_mutually_exclusive_group()
    who.add_argument("--admin", action="store_const", const="admin", dest="role")
    who.add_argument("--role", help="a database role other than admin (DbConnect token)")
    token.add_argument("--expires-in", type=int, default=900, help="seconds (default: %(default)s)")
    token.add_argument("--host", default="localhost", help="host the token is signed for")
    token.set_defaults(func=cmd_token)
    sub.add_parser("env", help="print shell exports for AWS tooling and psql").set_defaults(func=cmd_env)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RuntimeError as exc:
        print(f"dsql: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
