"""What the local Airflow (ops/launcher.py) and the local cluster (ops/cluster.py) share: Airflow's settings file and
environment for a deployment, its command line, waiting for its components, its admin login."""

from __future__ import annotations

import configparser
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
DAGS = ("vtr_daily", "vtr_maintenance")
USER = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"  # the admin password Airflow makes, in its home


def write_config(home: Path, port: int, parallelism: int, extra: dict | None = None) -> None:
    """Airflow's settings for this deployment in <home>/airflow.cfg (mode 0600), so that any shell with AIRFLOW_HOME
    set (the README's CLI commands) uses the same as the components; the JWT secret the components share stays there.
    `extra`: more settings by section (the cluster's)."""
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
    target = home / "airflow.cfg"
    target.touch(mode=0o600)
    target.chmod(0o600)
    with open(target, "w") as f:
        config.write(f)
    # the admin password: Airflow writes it into this file, keeping the file's mode when it exists
    passwords = home / PASSWORDS_FILE
    passwords.touch(mode=0o600)
    passwords.chmod(0o600)


def environment(home: Path, config: Path) -> dict:
    """The environment of every component and command: the virtualenv first on PATH (standalone and the executor
    start `airflow`), AIRFLOW_HOME (whose airflow.cfg holds the rest) and the settings file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}  # airflow.cfg is the one source
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "VTR_CONFIG": str(config),
    }


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def airflow(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """An `airflow` command; one that fails ends this program with its last line (check)."""
    done = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"airflow {' '.join(args)} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done


def wait(what: str, ready, seconds: float, processes: dict, logs: Path) -> None:
    """Until ready() or `seconds`; a component of `processes` that exits meanwhile ends the wait (RuntimeError)."""
    deadline = time.monotonic() + seconds
    while not ready():
        dead = [name for name, p in processes.items() if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            reason = f"{', '.join(dead)} exited" if dead else f"not within {seconds:.0f} s"
            raise RuntimeError(f"{what}: {reason}; see {logs}")
        time.sleep(1)


def health(port: int) -> dict | None:
    """The API server's health report (metadata database, scheduler, dag-processor...), None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as answer:
            return json.loads(answer.read()) if answer.status == 200 else None
    except (OSError, ValueError):
        return None


def healthy(port: int) -> bool:
    return health(port) is not None


def password(home: Path) -> str:
    found = home / PASSWORDS_FILE
    try:
        return json.loads(found.read_text() or "{}").get(USER, "?")
    except (OSError, ValueError):
        return "?"
