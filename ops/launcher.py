"""Start and stop a local Airflow for vtr_daily: `make airflow` / `make airflow-stop` (or `python ops/launcher.py`).

    python ops/launcher.py start [--port 8080] [--config demo/vtr.toml] [--home .airflow] [--pool-slots 2]
                                 [--parallelism N]
    python ops/launcher.py stop  [--home .airflow]
    python ops/launcher.py cluster-up | cluster-down [--settings ops/cluster.toml]  (the cluster: ops/cluster.py)

`start` writes the deployment's settings into <home>/airflow.cfg (the dags folder; every component on 127.0.0.1, on
the given port and the next two for the log servers; SQLite metadata under the home folder), migrates the metadata
database, creates the pool the DAG uses and the Variable vtr_config, starts the api-server, scheduler, dag-processor
and triggerer (each in its own process group, logging to <home>/logs/<component>.log), waits until the API answers
and the DAGs are parsed, unpauses them, prints the UI address and login, and stays in the foreground: Ctrl-C stops
every component it started. `stop` (from another shell) stops them by the process ids it recorded. A port already
in use is refused.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pipeline.contract import SELLER_POOL

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DAGS = ("vtr_daily", "vtr_maintenance")
USER = "admin"


def _write_config(home: Path, port: int, parallelism: int, extra: dict | None = None) -> None:
    """Airflow's settings for this deployment in <home>/airflow.cfg, so that any shell with AIRFLOW_HOME set (the
    README's CLI commands) uses the same as the components; the JWT secret the components share stays there.
    `extra`: more settings by section (the cluster's: ops/cluster.py)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(home / "airflow.cfg")
    secret = config.get("api_auth", "jwt_secret", fallback="") or secrets.token_urlsafe(32)
    extra = extra or {}
    database = (
        extra.get("database", {}).get("sql_alchemy_conn")
        or config.get("database", "sql_alchemy_conn", fallback="")
        or f"sqlite:///{home / 'airflow.db'}"
    )
    values = {
        # parallelism: task processes at once; Airflow's 32 on a small machine starve the scheduler and the API
        "core": {
            "dags_folder": str(ROOT / "dags"),
            "load_examples": "False",
            "executor": "LocalExecutor",
            "parallelism": str(parallelism),
            "simple_auth_manager_users": f"{USER}:admin",
            "execution_api_server_url": f"http://127.0.0.1:{port}/execution/",
        },
        "api": {"host": "127.0.0.1", "port": str(port), "base_url": f"http://127.0.0.1:{port}"},
        "api_auth": {"jwt_secret": secret},
        # the log servers of the scheduler's task runs and of the triggerer, next to the API's port (the defaults,
        # 8793 and 8794, would collide between two local Airflows)
        "logging": {"worker_log_server_port": str(port + 1), "trigger_log_server_port": str(port + 2)},
        # an operator's own database (PostgreSQL) is kept; on SQLite, whose components write at once, a writer waits
        # its turn (pipeline/airflow_sqlite.py)
        "database": {"sql_alchemy_conn": database}
        | (
            {
                "sql_alchemy_connect_args": "pipeline.airflow_sqlite.CONNECT_ARGS",
                "sql_alchemy_connect_args_async": "pipeline.airflow_sqlite.CONNECT_ARGS",
            }
            if database.startswith("sqlite")
            else {}
        ),
        "dag_processor": {"refresh_interval": "30"},
        # a task's calls to the API wait as long as the API may wait for SQLite's write lock (60 s): with Airflow's
        # 5 s a task starting while the components write at once was killed (seen on 2 busy cores)
        "workers": {"execution_api_timeout": "90"},
    }
    for section, keys in extra.items():
        values[section] = values.get(section, {}) | keys
    for section, keys in values.items():
        if not config.has_section(section):
            config.add_section(section)
        for key, value in keys.items():
            config.set(section, key, value)
    with open(home / "airflow.cfg", "w") as f:
        config.write(f)
    (home / "airflow.cfg").chmod(0o600)


def _environment(home: Path, config: Path) -> dict:
    """The environment of every component and command: the virtualenv first on PATH (standalone and the executor
    start `airflow`), AIRFLOW_HOME (whose airflow.cfg holds the rest) and the settings file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}  # airflow.cfg is the one source
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "VTR_CONFIG": str(config),
    }


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _airflow(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"airflow {' '.join(args)} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done


def _wait(what: str, ready, seconds: float, processes: dict, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        dead = [name for name, p in processes.items() if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            reason = f"{', '.join(dead)} exited" if dead else f"not within {seconds:.0f} s"
            raise RuntimeError(f"{what}: {reason}; see {logs}")
        time.sleep(1)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the components as Ctrl-C does


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _parsed(env: dict) -> bool:
    done = _airflow(env, "dags", "list", "--output", "json", check=False)
    listed = [line for line in done.stdout.splitlines() if line.startswith("[")]  # warnings come first
    return bool(listed) and set(DAGS) <= {d["dag_id"] for d in json.loads(listed[-1])}


def _password(home: Path) -> str:
    found = home / "simple_auth_manager_passwords.json.generated"
    return json.loads(found.read_text()).get(USER, "?") if found.exists() else "?"


def start(args) -> int:
    home, config = Path(args.home).resolve(), Path(args.config).resolve()
    pids_file = home / "launcher.pids"
    busy = [port for port in (args.port, args.port + 1, args.port + 2) if _port_in_use(port)]
    if busy:
        print(
            f"airflow: port {busy[0]} on 127.0.0.1 is in use (another Airflow? `make airflow-stop`; or PORT=...:"
            " it uses the port and the next two)",
            file=sys.stderr,
        )
        return 1
    if not config.exists():
        print(
            f"airflow: no settings file {config} (`make demo` writes demo/vtr.toml; or VTR_CONFIG=...)", file=sys.stderr
        )
        return 2
    (home / "logs").mkdir(parents=True, exist_ok=True)
    _write_config(home, args.port, args.parallelism)
    env = _environment(home, config)
    print(f"airflow: metadata database under {home} ...", flush=True)
    _airflow(env, "db", "migrate")
    if (home / "airflow.db").exists():  # SQLite metadata in WAL mode: readers never block the writer
        with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
            db.execute("pragma journal_mode = wal")
    _airflow(env, "pools", "set", SELLER_POOL, str(args.pool_slots), "sellers' chains that run at once")
    _airflow(env, "variables", "set", "vtr_config", str(config))  # for a shell or worker without VTR_CONFIG
    processes = {}
    for name in COMPONENTS:
        log = open(home / "logs" / f"{name}.log", "a")  # noqa: SIM115 - kept open for the component's lifetime
        processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), name], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    pids_file.write_text(json.dumps({name: p.pid for name, p in processes.items()}))
    signal.signal(signal.SIGTERM, _interrupt)
    # Ctrl-C stops it even when started in the background of a script, which starts it with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _wait("the API server", lambda: _healthy(args.port), 180, processes, home / "logs")
        time.sleep(5)  # the dag-processor's first parse; each look below starts an Airflow command line
        _wait("parsing the DAGs", lambda: _parsed(env), 180, processes, home / "logs")
        for dag in DAGS:
            _airflow(env, "dags", "unpause", dag)
        print(
            f"airflow: ready at http://127.0.0.1:{args.port}  login {USER} / {_password(home)}\n"
            f"airflow: logs in {home / 'logs'}; settings {config}\n"
            "airflow: Ctrl-C (or `make airflow-stop` from another shell) stops it",
            flush=True,
        )
        while all(p.poll() is None for p in processes.values()):
            time.sleep(1)
        if not pids_file.exists():  # `stop` from another shell
            return 0
        dead = [name for name, p in processes.items() if p.poll() is not None]
        print(f"airflow: {', '.join(dead)} exited; stopping the rest (see {home / 'logs'})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"airflow: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop(processes.values())
        pids_file.unlink(missing_ok=True)
        print("airflow: stopped", flush=True)


def _stop(processes) -> None:
    """SIGTERM to each component's process group (its workers too), SIGKILL to what is left after 30 s."""
    groups = []
    for p in processes:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            groups.append(p)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    for p in groups:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)


class _Recorded:
    """A component started by another launcher process, known by its recorded process id."""

    def __init__(self, pid: int):
        self.pid = pid

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        raise subprocess.TimeoutExpired(str(self.pid), timeout)


def stop(args) -> int:
    pids_file = Path(args.home).resolve() / "launcher.pids"
    if not pids_file.exists():
        print("airflow: nothing to stop (no launcher.pids)")
        return 0
    recorded = [_Recorded(pid) for pid in json.loads(pids_file.read_text()).values()]
    pids_file.unlink(missing_ok=True)  # first: the launcher in the foreground then knows it was asked to stop
    _stop(recorded)
    print("airflow: stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ops/launcher.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--config", default=str(ROOT / "demo" / "vtr.toml"))
    p.add_argument("--home", default=str(ROOT / ".airflow"))
    p.add_argument("--pool-slots", type=int, default=2, help=f"sellers' chains at once (pool {SELLER_POOL})")
    p.add_argument(
        "--parallelism",
        type=int,
        default=max(4, 2 * (os.cpu_count() or 2)),
        help="task processes at once (default: two per core, at least 4)",
    )
    p = sub.add_parser("stop")
    p.add_argument("--home", default=str(ROOT / ".airflow"))
    for name in ("cluster-up", "cluster-down"):
        p = sub.add_parser(name)
        p.add_argument("--settings", default=str(ROOT / "ops" / "cluster.toml"))
    p.add_argument("--purge", action="store_true", help="also remove the cluster's home folder (all its data)")
    args = parser.parse_args(argv)
    if args.command.startswith("cluster"):
        import cluster

        settings = Path(args.settings).resolve()
        try:
            return cluster.up(settings) if args.command == "cluster-up" else cluster.down(settings, args.purge)
        except cluster.services.ServiceError as exc:  # the cluster's settings file: one line, exit code 2
            print(f"cluster: {exc}", file=sys.stderr)
            return 2
    return start(args) if args.command == "start" else stop(args)


if __name__ == "__main__":
    sys.exit(main())
