"""The local cluster: `make cluster-up`, `make cluster-status`, `make cluster-down` (`python -m ops.cluster ...`).

    python -m ops.cluster up     [--settings ops/cluster.toml]
    python -m ops.cluster status [--settings ops/cluster.toml]
    python -m ops.cluster down   [--settings ops/cluster.toml] [--purge]

`up` starts, on 127.0.0.1 only and each in a session of its own: PostgreSQL (Airflow's metadata database and the
DuckLake catalog), Redis (the Celery broker), then Airflow with the CeleryExecutor: api-server, scheduler,
dag-processor and the Celery workers (w1@<host>, w2@<host>, ...). On a cluster partly up (a worker died) it starts
only what is missing. Its settings file (ops/cluster.toml) says where everything lives ([cluster] home: absolute, or
relative to the repository, as every path in it, so a copy of the file elsewhere means the same folders), the ports,
the workers and their concurrency, and holds the pipeline's settings ([vtr]), written to <home>/vtr.toml with the
catalog filled in. It records every process id in <home>/cluster.pids, prints the UI address, the login and where
the logs are, and returns. `status` lists every component with its process id and whether it answers (the workers
through Celery's ping), exit code 1 when one is down. `down` stops what `up` recorded, by process id (each
component's whole session: a worker's task processes too), and keeps the data unless --purge. Files holding a secret
(passwords, the catalog's connection string, the admin login, logs that may print it) are mode 0600.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from ops import deployment, services, worker_hostname
from pipeline import lake
from pipeline.contract import SELLER_POOL
from pipeline.settings import SettingsError, load_settings

PIDS = "cluster.pids"
ANALYST_SETTINGS = "vtr-analyst.toml"  # the pipeline's settings with the read-only catalog role, for vtr sql
DEFAULTS = {
    "home": ".cluster",
    "port": 8080,
    "postgres_port": 5433,
    "redis_port": 6380,
    "workers": 2,
    "worker_concurrency": 2,
    "pool_slots": 4,
    "parallelism": 8,
    "task_heartbeat_timeout": 60,
    "schedule": True,
}
PATH_KEYS = {
    ("paths", "landing"),
    ("paths", "warehouse"),
    ("paths", "output"),
    ("warehouse", "data_path"),
    ("duckdb", "temp_directory"),
}
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor")


def read_settings(path: Path) -> tuple[dict, dict]:
    """([cluster] with defaults and `home` resolved, [vtr] with its paths resolved) from the cluster's file; relative
    paths are relative to the repository, wherever the file is."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise services.ServiceError(f"{path}: cannot read the cluster settings ({exc})") from None
    unknown = set(raw.get("cluster", {})) - set(DEFAULTS)
    if unknown or set(raw) - {"cluster", "vtr"}:
        raise services.ServiceError(f"{path}: unknown key(s) {sorted(unknown or set(raw) - {'cluster', 'vtr'})}")
    cluster = DEFAULTS | raw.get("cluster", {})
    cluster["home"] = (deployment.ROOT / cluster["home"]).resolve()
    vtr = raw.get("vtr", {})
    for section, key in PATH_KEYS:
        value = vtr.get(section, {}).get(key)
        if value and "://" not in value:
            vtr[section][key] = str((deployment.ROOT / value).resolve()) + ("/" if key == "data_path" else "")
    return cluster, vtr


def _toml(values: dict, prefix: str = "") -> str:
    """A TOML document of plain tables, arrays of tables and scalars or lists (JSON's literals are TOML's)."""
    lines = [
        f"{json.dumps(k)} = {json.dumps(v)}"
        for k, v in values.items()
        if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))
    ]
    for k, v in values.items():
        if isinstance(v, dict):
            lines.append(f"\n[{prefix}{k}]\n" + _toml(v, f"{prefix}{k}."))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines += [f"\n[[{prefix}{k}]]\n" + _toml(item, f"{prefix}{k}.") for item in v]
    return "\n".join(lines)


def _private(path: Path) -> Path:
    """The file, made if missing, readable by its owner only (before anything secret is written into it)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    return path


def write_vtr_settings(home: Path, vtr: dict, catalog: str, name: str = "vtr.toml") -> Path:
    """<home>/<name>: the pipeline's settings with the cluster's catalog (a secret: mode 0600)."""
    values = json.loads(json.dumps(vtr))
    paths = values.setdefault("paths", {})
    paths.setdefault("landing", str(home / "landing"))
    paths.setdefault("output", str(home / "output"))
    paths.setdefault("warehouse", str(home / "lake" / "unused.sqlite"))  # the catalog is PostgreSQL's
    warehouse = values.setdefault("warehouse", {})
    warehouse["catalog"] = catalog
    warehouse.setdefault("data_path", str(home / "lake" / "data") + "/")
    Path(paths["landing"]).mkdir(parents=True, exist_ok=True)
    target = _private(home / name)
    target.write_text(
        "# written by `python -m ops.cluster up` from the cluster's settings file: edit that one\n"
        + _toml(values)
        + "\n"
    )
    return target


def _airflow_settings(cluster: dict, pg: services.Postgres, passwords: dict) -> dict:
    """Airflow's settings for the cluster, on top of those every local deployment has (ops/deployment.py)."""
    return {
        "core": {"executor": "CeleryExecutor", "hostname_callable": "ops.worker_hostname.hostname"},
        "database": {"sql_alchemy_conn": pg.url(services.METADATA_DB, passwords["vtr"])},
        "celery": {
            "broker_url": _broker(cluster, passwords),
            "result_backend": "db+" + pg.url(services.METADATA_DB, passwords["vtr"]),
            "worker_concurrency": str(cluster["worker_concurrency"]),
            "worker_prefetch_multiplier": "1",
        },
        "scheduler": {
            "task_instance_heartbeat_timeout": str(cluster["task_heartbeat_timeout"]),
            "task_instance_heartbeat_timeout_detection_interval": "5",
            "use_job_schedule": str(bool(cluster["schedule"])),
        },
    }


def _broker(cluster: dict, passwords: dict) -> str:
    return f"redis://:{passwords['redis']}@127.0.0.1:{cluster['redis_port']}/0"


def _workers(cluster: dict) -> dict[str, str]:
    """component name -> the worker's Celery name, w1@<host> ..."""
    host = socket.getfqdn()
    return {f"worker-w{n}": f"w{n}@{host}" for n in range(1, cluster["workers"] + 1)}


def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def _is_postgres(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return services.alive(pid) and "postgres" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    return False


def _alive(name: str, pid: int) -> bool:
    """A recorded component still running: PostgreSQL's postmaster by its command line, the others leading their
    own session (a process id reused by another program is not ours)."""
    return _is_postgres(pid) if name == "postgres" else services.alive(pid) and _session_of(pid) == pid


def stop_sessions(pids: list[int], seconds: float = 30) -> None:
    """SIGTERM to every process of the sessions `pids` lead (a worker's task processes too), all at once; SIGKILL
    to what is left after `seconds`."""
    for sig, wait in ((signal.SIGTERM, seconds), (signal.SIGKILL, 10)):
        for member in [m for pid in pids for m in services.session_members(pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, sig)
        deadline = time.monotonic() + wait
        while any(services.session_members(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not any(services.session_members(pid) for pid in pids):
            return


def _stop_all(home: Path, recorded: dict) -> None:
    """Airflow's components first, then Redis, then PostgreSQL; each only if it is still the one recorded."""
    servers = ("postgres", "redis")
    stop_sessions([pid for name, pid in recorded.items() if name not in servers and _alive(name, pid)])
    if "redis" in recorded and _alive("redis", recorded["redis"]):
        services.stop_redis(recorded["redis"])
    if "postgres" in recorded and _alive("postgres", recorded["postgres"]):
        services.stop_postgres(recorded["postgres"])
    (home / PIDS).unlink(missing_ok=True)


def _recorded(home: Path) -> dict[str, int]:
    pids = home / PIDS
    return json.loads(pids.read_text()) if pids.exists() else {}


def _record(home: Path, recorded: dict) -> None:
    (home / PIDS).write_text(json.dumps(recorded))


class Api:
    """Airflow's REST API as the admin user: faster than a command line (each one imports Airflow anew)."""

    def __init__(self, port: int, password: str):
        self.base, self.token = f"http://127.0.0.1:{port}", None
        self.token = self.call("POST", "/auth/token", {"username": deployment.USER, "password": password})[
            "access_token"
        ]

    def call(self, method: str, path: str, body: dict | None = None, missing_ok: bool = False):
        headers = {"Content-Type": "application/json"} | (
            {"Authorization": f"Bearer {self.token}"} if self.token else {}
        )
        request = urllib.request.Request(
            self.base + path, json.dumps(body).encode() if body is not None else None, headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:
                return None
            raise RuntimeError(f"Airflow's API: {method} {path}: {exc.code} {exc.read()[:300]!r}") from None

    def put(self, collection: str, name: str, body: dict) -> None:
        """Create or update a pool or variable."""
        if self.call("GET", f"{collection}/{name}", missing_ok=True) is None:
            self.call("POST", collection, body)
        else:
            self.call("PATCH", f"{collection}/{name}", body)


def up(settings_file: Path) -> int:
    cluster, vtr = read_settings(settings_file)
    home, port = cluster["home"], cluster["port"]
    workers = _workers(cluster)
    wanted = ["postgres", "redis", *AIRFLOW_COMPONENTS, *workers]
    recorded = {name: pid for name, pid in _recorded(home).items() if name in wanted and _alive(name, pid)}
    missing = [name for name in wanted if name not in recorded]
    if not missing:
        print(f"cluster: already up ({', '.join(recorded)}); `make cluster-status` says how it is", flush=True)
        return 0
    ports = {"postgres": cluster["postgres_port"], "redis": cluster["redis_port"], "api-server": port}
    busy = [p for name, p in ports.items() if name in missing and deployment.port_in_use(p)]
    if busy:
        print(
            f"cluster: port {busy[0]} on 127.0.0.1 is in use (another Airflow or server?); change it in"
            f" {settings_file}",
            file=sys.stderr,
        )
        return 1
    if recorded:
        print(f"cluster: {', '.join(recorded)} running; starting {', '.join(missing)}", flush=True)
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)  # the postgres user enters it to reach its data folder
    logs.chmod(0o711)
    passwords = services.load_secrets(home)
    started: list[str] = []
    _record(home, recorded)
    try:
        pg = services.Postgres(home / "postgres", logs / "postgresql.log", cluster["postgres_port"])
        if "postgres" in missing:
            print(f"cluster: PostgreSQL on 127.0.0.1:{cluster['postgres_port']}", flush=True)
            pg.init(passwords["postgres"])
            recorded["postgres"] = pg.start()
            started.append("postgres")
            _record(home, recorded)
        pg.ensure_databases(passwords)
        if "redis" in missing:
            print(f"cluster: Redis on 127.0.0.1:{cluster['redis_port']}", flush=True)
            redis = services.start_redis(home / "redis", logs / "redis.log", cluster["redis_port"], passwords["redis"])
            recorded["redis"] = redis.pid
            started.append("redis")
            _record(home, recorded)
            deadline = time.monotonic() + 30
            while not services.redis_ready(cluster["redis_port"], passwords["redis"]):
                if redis.poll() is not None or time.monotonic() > deadline:
                    raise services.ServiceError(f"Redis did not start; see {logs / 'redis.log'}")
                time.sleep(0.2)

        config = write_vtr_settings(home, vtr, pg.dsn(services.CATALOG_DB, passwords["vtr"]))
        # analysts' sessions connect as the role that can only read the catalog
        reader = pg.dsn(services.CATALOG_DB, passwords[services.READER], services.READER)
        analyst_config = write_vtr_settings(home, vtr, reader, ANALYST_SETTINGS)
        # a wrong key in [vtr] is refused here, before Airflow starts; the lake's tables are made, so that analysts
        # can open a read-only session before the first run
        lake.connect(load_settings(config)).close()
        airflow_home = home / "airflow"
        airflow_home.mkdir(exist_ok=True)
        deployment.write_config(airflow_home, port, cluster["parallelism"], _airflow_settings(cluster, pg, passwords))
        env = deployment.environment(airflow_home, config) | {"PYTHONPATH": str(deployment.ROOT)}
        if not any(name in recorded for name in AIRFLOW_COMPONENTS):
            print(f"cluster: Airflow's metadata database on PostgreSQL ({services.METADATA_DB}) ...", flush=True)
            deployment.airflow(env, "db", "migrate")
        processes = {}
        commands = {name: ([name], {}) for name in AIRFLOW_COMPONENTS}
        for name, celery_name in workers.items():  # each records its Celery name as the task instances' hostname
            commands[name] = (
                ["celery", "worker", "--celery-hostname", celery_name, "--skip-serve-logs"]
                + ["--without-mingle", "--without-gossip"],
                {worker_hostname.ENV: celery_name},
            )
        for name, (args, own) in commands.items():
            if name not in missing:
                continue
            with open(_private(logs / f"{name}.log"), "a") as log:  # the api-server prints the admin password
                processes[name] = subprocess.Popen(
                    [str(deployment.BIN / "airflow"), *args],
                    env=env | own,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=home,
                )
            recorded[name] = processes[name].pid
            started.append(name)
            _record(home, recorded)
        deployment.wait("the API server", lambda: deployment.healthy(port), 180, processes, logs)
        api = Api(port, deployment.password(airflow_home))
        api.put(
            "/api/v2/pools",
            SELLER_POOL,
            {
                "name": SELLER_POOL,
                "slots": cluster["pool_slots"],
                "description": "sellers' chains that run at once",
                "include_deferred": False,
            },
        )
        api.put("/api/v2/variables", "vtr_config", {"key": "vtr_config", "value": str(config)})
        deployment.wait(
            "parsing the DAGs",
            lambda: all(api.call("GET", f"/api/v2/dags/{d}", missing_ok=True) for d in deployment.DAGS),
            180,
            processes,
            logs,
        )
        for dag in deployment.DAGS:
            api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
    except (services.ServiceError, SettingsError, lake.WarehouseError, RuntimeError, SystemExit) as exc:
        print(f"cluster: {exc}; stopping what this command started", file=sys.stderr)
        _stop_all(home, {name: pid for name, pid in recorded.items() if name in started})
        _record(home, {name: pid for name, pid in recorded.items() if name not in started})
        return 1
    print(
        f"cluster: ready at http://127.0.0.1:{port}  login {deployment.USER} / {deployment.password(airflow_home)}\n"
        f"cluster: started {', '.join(started)}\n"
        f"cluster: workers {', '.join(workers.values())} (concurrency {cluster['worker_concurrency']} each), pool"
        f" {SELLER_POOL} {cluster['pool_slots']} slots\n"
        f"cluster: logs in {logs}; pipeline settings {config}; landing {load_settings(config).landing}\n"
        f"cluster: analysts: vtr sql --config {analyst_config}  (catalog role {services.READER}: reads only)\n"
        f"cluster: export AIRFLOW_HOME={airflow_home}  (the airflow command line); `make cluster-down` stops it",
        flush=True,
    )
    return 0


def _answering_workers(cluster: dict, passwords: dict, names: list[str]) -> set[str]:
    """The Celery names among `names` that answer a ping through the broker within 3 s."""
    if not names:
        return set()
    from celery import Celery

    app = Celery(broker=_broker(cluster, passwords))
    try:
        replies = app.control.ping(destination=names, timeout=3)
    except Exception:  # noqa: BLE001 - the broker itself is down: no worker answers
        return set()
    finally:
        app.close()
    return {name for reply in replies for name in reply}


def status(settings_file: Path) -> int:
    """Every component with its process id and whether it answers; exit code 1 naming those down."""
    cluster, _ = read_settings(settings_file)
    home = cluster["home"]
    workers = _workers(cluster)
    recorded = _recorded(home)
    if not recorded:
        print(f"cluster: not up (no {home / PIDS}); `make cluster-up` starts it", file=sys.stderr)
        return 1
    passwords = services.load_secrets(home)
    health = deployment.health(cluster["port"]) or {}
    answering = _answering_workers(cluster, passwords, [workers[n] for n in workers if _alive(n, recorded.get(n, 0))])
    checks = {
        "postgres": lambda: services.postgres_ready(cluster["postgres_port"], passwords),
        "redis": lambda: services.redis_ready(cluster["redis_port"], passwords["redis"]),
        "api-server": lambda: bool(health),
        "scheduler": lambda: health.get("scheduler", {}).get("status") == "healthy",
        "dag-processor": lambda: health.get("dag_processor", {}).get("status") == "healthy",
    } | {name: (lambda n=celery_name: n in answering) for name, celery_name in workers.items()}
    what = {
        "postgres": "accepts connections",
        "redis": "answers PING",
        "api-server": "answers /api/v2/monitor/health",
        "scheduler": "heartbeat healthy",
        "dag-processor": "heartbeat healthy",
    } | {name: f"{celery_name} answers Celery's ping" for name, celery_name in workers.items()}
    down = []
    for name, check in checks.items():
        pid = recorded.get(name)
        if pid is None or not _alive(name, pid):
            state, note = "DOWN", "no process"
        elif check():
            state, note = "up", what[name]
        else:
            state, note = "DOWN", f"running, but not: {what[name]}"
        if state == "DOWN":
            down.append(name)
        print(f"{name:<14} pid {pid or '-':<8} {state:<5} {note}")
    if down:
        print(f"cluster: down: {', '.join(down)} (`make cluster-up` starts what is missing)", file=sys.stderr)
        return 1
    print(f"cluster: up, {len(checks)} components; UI http://127.0.0.1:{cluster['port']}")
    return 0


def down(settings_file: Path, purge: bool = False) -> int:
    cluster, _ = read_settings(settings_file)
    home = cluster["home"]
    if (home / PIDS).exists():
        _stop_all(home, _recorded(home))
        print("cluster: stopped", flush=True)
    else:
        print("cluster: nothing to stop (no cluster.pids)", flush=True)
    if purge and home.exists():
        shutil.rmtree(home)
        print(f"cluster: removed {home}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.cluster", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "status", "down"):
        p = sub.add_parser(name)
        p.add_argument("--settings", default=str(deployment.ROOT / "ops" / "cluster.toml"))
    p.add_argument("--purge", action="store_true", help="also remove the cluster's home folder (all its data)")
    args = parser.parse_args(argv)
    settings = Path(args.settings).resolve()
    try:
        if args.command == "up":
            return up(settings)
        return status(settings) if args.command == "status" else down(settings, args.purge)
    except services.ServiceError as exc:  # the cluster's settings file: one line, exit code 2
        print(f"cluster: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
