"""The local cluster: `make cluster-up` / `make cluster-down` (`python ops/launcher.py cluster-up|cluster-down`).

    python ops/launcher.py cluster-up   [--settings ops/cluster.toml]
    python ops/launcher.py cluster-down [--settings ops/cluster.toml] [--purge]

`cluster-up` starts, on 127.0.0.1 only and each in a session of its own: PostgreSQL (Airflow's metadata database
and the DuckLake catalog), Redis (the Celery broker), then Airflow with the CeleryExecutor: api-server, scheduler,
dag-processor and the Celery workers (w1@<host>, w2@<host>, ...). Its settings file (ops/cluster.toml) says where
everything lives ([cluster] home), the ports, the workers and their concurrency, and holds the pipeline's settings
([vtr]), written to <home>/vtr.toml with the catalog filled in. It records every process id in
<home>/cluster.pids, prints the UI address, the login and where the logs are, and returns. `cluster-down` stops
what it recorded, by process id (each component's whole session: a worker's task processes too), and keeps the data
unless --purge. A cluster already up, or a port in use, is refused.
"""

from __future__ import annotations

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

import launcher
import services
import worker_hostname

from pipeline import lake
from pipeline.settings import SettingsError, load_settings

PIDS = "cluster.pids"
ANALYST_SETTINGS = "vtr-analyst.toml"  # the pipeline's settings with the read-only catalog role, for vtr sql
DEFAULTS = {
    "home": "../.cluster",
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


def read_settings(path: Path) -> tuple[dict, dict]:
    """([cluster] with defaults and `home` resolved, [vtr] with its paths resolved) from the cluster's file."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise services.ServiceError(f"{path}: cannot read the cluster settings ({exc})") from None
    unknown = set(raw.get("cluster", {})) - set(DEFAULTS)
    if unknown or set(raw) - {"cluster", "vtr"}:
        raise services.ServiceError(f"{path}: unknown key(s) {sorted(unknown or set(raw) - {'cluster', 'vtr'})}")
    cluster = DEFAULTS | raw.get("cluster", {})
    cluster["home"] = (path.parent / cluster["home"]).resolve()
    vtr = raw.get("vtr", {})
    for section, key in PATH_KEYS:
        value = vtr.get(section, {}).get(key)
        if value and "://" not in value:
            vtr[section][key] = str((path.parent / value).resolve()) + ("/" if key == "data_path" else "")
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
    target = home / name
    target.touch(mode=0o600)
    target.chmod(0o600)
    target.write_text(
        "# written by ops/launcher.py cluster-up from the cluster's settings file: edit that one\n"
        + _toml(values)
        + "\n"
    )
    return target


def _airflow_settings(cluster: dict, pg: services.Postgres, passwords: dict) -> dict:
    """Airflow's settings for the cluster, on top of the launcher's (ops/launcher.py `_write_config`)."""
    return {
        "core": {"executor": "CeleryExecutor", "hostname_callable": "ops.worker_hostname.hostname"},
        "database": {"sql_alchemy_conn": pg.url(services.METADATA_DB, passwords["vtr"])},
        "celery": {
            "broker_url": f"redis://:{passwords['redis']}@127.0.0.1:{cluster['redis_port']}/0",
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


def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def _running(recorded: dict) -> list[str]:
    """The recorded components still alive (each leads its own session: a reused process id does not)."""
    return [name for name, pid in recorded.items() if services.alive(pid) and _session_of(pid) == pid]


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
    """Airflow's components first, then Redis, then PostgreSQL; each only if it still leads its own session (a
    process id reused by another program is left alone)."""
    servers = ("postgres", "redis")
    stop_sessions([pid for name, pid in recorded.items() if name not in servers and _session_of(pid) == pid])
    if "redis" in recorded and _session_of(recorded["redis"]) == recorded["redis"]:
        services.stop_redis(recorded["redis"])
    pid = recorded.get("postgres")
    with contextlib.suppress(OSError):
        if pid and services.alive(pid) and "postgres" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
            services.stop_postgres(pid)
    (home / PIDS).unlink(missing_ok=True)


def _record(home: Path, recorded: dict) -> None:
    (home / PIDS).write_text(json.dumps(recorded))


class Api:
    """Airflow's REST API as the admin user: faster than a command line (each one imports Airflow anew)."""

    def __init__(self, port: int, password: str):
        self.base, self.token = f"http://127.0.0.1:{port}", None
        self.token = self.call("POST", "/auth/token", {"username": launcher.USER, "password": password})["access_token"]

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
    pids = home / PIDS
    if pids.exists():
        alive = _running(json.loads(pids.read_text()))
        if alive:
            print(f"cluster: already up ({', '.join(alive)}); `make cluster-down` first", file=sys.stderr)
            return 1
        pids.unlink()
    busy = [p for p in (port, cluster["postgres_port"], cluster["redis_port"]) if launcher._port_in_use(p)]
    if busy:
        print(
            f"cluster: port {busy[0]} on 127.0.0.1 is in use (another Airflow or server?); change it in"
            f" {settings_file}",
            file=sys.stderr,
        )
        return 1
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    home.chmod(0o711)  # the postgres user enters it to reach its data folder
    logs.chmod(0o711)
    passwords = services.load_secrets(home)
    recorded: dict[str, int] = {}
    try:
        print(
            f"cluster: PostgreSQL on 127.0.0.1:{cluster['postgres_port']}, Redis on :{cluster['redis_port']}",
            flush=True,
        )
        pg = services.Postgres(home / "postgres", logs / "postgresql.log", cluster["postgres_port"])
        pg.init(passwords["postgres"])
        recorded["postgres"] = pg.start()
        _record(home, recorded)
        pg.ensure_databases(passwords)
        redis = services.start_redis(home / "redis", logs / "redis.log", cluster["redis_port"], passwords["redis"])
        recorded["redis"] = redis.pid
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
        launcher._write_config(airflow_home, port, cluster["parallelism"], _airflow_settings(cluster, pg, passwords))
        env = launcher._environment(airflow_home, config) | {"PYTHONPATH": str(launcher.ROOT)}
        print(f"cluster: Airflow's metadata database on PostgreSQL ({services.METADATA_DB}) ...", flush=True)
        launcher._airflow(env, "db", "migrate")
        processes = {}
        host = socket.getfqdn()
        commands = {name: ([name], {}) for name in ("api-server", "scheduler", "dag-processor")}
        for n in range(1, cluster["workers"] + 1):  # each records its Celery name as the task instances' hostname
            commands[f"worker-w{n}"] = (
                [
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"w{n}@{host}",
                    "--skip-serve-logs",
                    "--without-mingle",
                    "--without-gossip",
                ],
                {worker_hostname.ENV: f"w{n}@{host}"},
            )
        for name, (args, own) in commands.items():
            with open(logs / f"{name}.log", "a") as log:
                processes[name] = subprocess.Popen(
                    [str(launcher.BIN / "airflow"), *args],
                    env=env | own,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=home,
                )
            recorded[name] = processes[name].pid
            _record(home, recorded)
        launcher._wait("the API server", lambda: launcher._healthy(port), 180, processes, logs)
        api = Api(port, launcher._password(airflow_home))
        api.put(
            "/api/v2/pools",
            launcher.SELLER_POOL,
            {
                "name": launcher.SELLER_POOL,
                "slots": cluster["pool_slots"],
                "description": "sellers' chains that run at once",
                "include_deferred": False,
            },
        )
        api.put("/api/v2/variables", "vtr_config", {"key": "vtr_config", "value": str(config)})
        launcher._wait(
            "parsing the DAGs",
            lambda: all(api.call("GET", f"/api/v2/dags/{d}", missing_ok=True) for d in launcher.DAGS),
            180,
            processes,
            logs,
        )
        for dag in launcher.DAGS:
            api.call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
    except (services.ServiceError, SettingsError, lake.WarehouseError, RuntimeError, SystemExit) as exc:
        print(f"cluster: {exc}; stopping what started", file=sys.stderr)
        _stop_all(home, recorded)
        return 1
    workers = ", ".join(n.removeprefix("worker-") + f"@{host}" for n in commands if n.startswith("worker"))
    print(
        f"cluster: ready at http://127.0.0.1:{port}  login {launcher.USER} / {launcher._password(airflow_home)}\n"
        f"cluster: workers {workers} (concurrency {cluster['worker_concurrency']} each), pool"
        f" {launcher.SELLER_POOL} {cluster['pool_slots']} slots\n"
        f"cluster: logs in {logs}; pipeline settings {config}; landing {load_settings(config).landing}\n"
        f"cluster: analysts: vtr sql --config {analyst_config}  (catalog role {services.READER}: reads only)\n"
        f"cluster: export AIRFLOW_HOME={airflow_home}  (the airflow command line); `make cluster-down` stops it",
        flush=True,
    )
    return 0


def down(settings_file: Path, purge: bool = False) -> int:
    cluster, _ = read_settings(settings_file)
    home = cluster["home"]
    pids = home / PIDS
    if pids.exists():
        _stop_all(home, json.loads(pids.read_text()))
        print("cluster: stopped", flush=True)
    else:
        print("cluster: nothing to stop (no cluster.pids)", flush=True)
    if purge and home.exists():
        shutil.rmtree(home)
        print(f"cluster: removed {home}", flush=True)
    return 0
