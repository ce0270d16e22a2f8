"""Start and stop a local Airflow for vtr_daily: `make airflow` / `make airflow-stop` (or `python -m ops.launcher`).

    python -m ops.launcher start [--port 8080] [--config demo/vtr.toml] [--home .airflow] [--pool-slots 2]
                                 [--parallelism N]
    python -m ops.launcher stop  [--home .airflow]

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
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ops import deployment
from ops.deployment import BIN, DAGS, ROOT, USER
from pipeline.contract import SELLER_POOL

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the components as Ctrl-C does


def _parsed(env: dict) -> bool:
    done = deployment.airflow(env, "dags", "list", "--output", "json", check=False)
    listed = [line for line in done.stdout.splitlines() if line.startswith("[")]  # warnings come first
    return bool(listed) and set(DAGS) <= {d["dag_id"] for d in json.loads(listed[-1])}


def start(args) -> int:
    home, config = Path(args.home).resolve(), Path(args.config).resolve()
    pids_file = home / "launcher.pids"
    busy = [port for port in (args.port, args.port + 1, args.port + 2) if deployment.port_in_use(port)]
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
    deployment.write_config(home, args.port, args.parallelism)
    env = deployment.environment(home, config)
    print(f"airflow: metadata database under {home} ...", flush=True)
    deployment.airflow(env, "db", "migrate")
    if (home / "airflow.db").exists():  # SQLite metadata in WAL mode: readers never block the writer
        with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
            db.execute("pragma journal_mode = wal")
    deployment.airflow(env, "pools", "set", SELLER_POOL, str(args.pool_slots), "sellers' chains that run at once")
    deployment.airflow(env, "variables", "set", "vtr_config", str(config))  # for a shell or worker without VTR_CONFIG
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
        deployment.wait("the API server", lambda: deployment.healthy(args.port), 180, processes, home / "logs")
        time.sleep(5)  # the dag-processor's first parse; each look below starts an Airflow command line
        deployment.wait("parsing the DAGs", lambda: _parsed(env), 180, processes, home / "logs")
        for dag in DAGS:
            deployment.airflow(env, "dags", "unpause", dag)
        print(
            f"airflow: ready at http://127.0.0.1:{args.port}  login {USER} / {deployment.password(home)}\n"
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
    parser = argparse.ArgumentParser(prog="python -m ops.launcher", description=__doc__.splitlines()[0])
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
    args = parser.parse_args(argv)
    return start(args) if args.command == "start" else stop(args)


if __name__ == "__main__":
    sys.exit(main())
