"""The cluster's own servers, from Debian's packages, on 127.0.0.1 with their data under the cluster's home folder:
PostgreSQL (two databases: Airflow's metadata `airflow` and the lake's catalog `vtr_lake`, both owned by the role
`vtr`; the role `vtr_reader` may only read the catalog, for analysts' sessions) and Redis (the Celery broker). Used
by `python -m ops.cluster up|status|down`.

PostgreSQL refuses to run as root: as root its folder belongs to the `postgres` system user and every server command
runs through `runuser -u postgres` (as the tests do). It listens on 127.0.0.1 only, with no Unix socket,
and asks for a password (scram-sha-256); Redis asks for one too. The passwords are made once and kept in
<home>/secrets.json (mode 0600) with the data they protect.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

SUPERUSER = "postgres"
ROLE = "vtr"
READER = "vtr_reader"  # analysts' sessions (vtr sql): reads the catalog, can change nothing
METADATA_DB = "airflow"
CATALOG_DB = "vtr_lake"
START_SECONDS = 60


class ServiceError(Exception):
    """A server cannot be set up or started; the message is one line naming what and where."""


def load_secrets(home: Path) -> dict[str, str]:
    """The cluster's passwords (PostgreSQL superuser, the `vtr` and `vtr_reader` roles, Redis), made on first use."""
    path = home / "secrets.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    wanted = {k: found.get(k) or secrets.token_hex(16) for k in ("postgres", ROLE, READER, "redis")}
    if wanted != found:
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(wanted))
    return wanted


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def session_members(sid: int) -> list[int]:
    """Every live process of the session `sid` (a component started in its own session, its workers and their task
    processes, which Airflow puts in process groups of their own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


# --- PostgreSQL ------------------------------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The folder holding initdb and pg_ctl: Debian's newest version, else the one on PATH."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    raise ServiceError("no PostgreSQL server (initdb, pg_ctl): apt-get install postgresql")


class Postgres:
    """The cluster's PostgreSQL server: data in `folder`, its log at `log`, listening on 127.0.0.1:`port`."""

    def __init__(self, folder: Path, log: Path, port: int):
        self.folder, self.log, self.port = folder, log, port
        self.bin = postgres_bin()
        self.owner = None
        if os.geteuid() == 0:
            import pwd

            try:
                self.owner = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise ServiceError("running as root and there is no 'postgres' user to run PostgreSQL") from None

    def _run(self, tool: str, *args: str, timeout: float = START_SECONDS) -> None:
        command = [str(self.bin / tool), *args]
        if self.owner:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd="/")
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
            raise ServiceError(f"PostgreSQL {tool} failed: {tail[0]} (see {self.log})")

    def _give(self, path: Path) -> None:
        if self.owner:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def init(self, superuser_password: str) -> None:
        """Make the database cluster once: 127.0.0.1 only, no Unix socket, passwords asked (scram-sha-256)."""
        if (self.folder / "PG_VERSION").exists():
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._give(self.folder)
        if self.owner:  # the postgres user must reach the folder through every parent
            probe = subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-w", str(self.folder)])
            if probe.returncode != 0:
                raise ServiceError(
                    f"the postgres user cannot enter {self.folder}: give its parent folders o+x "
                    "(PostgreSQL refuses to run as root)"
                )
        pwfile = self.folder.parent / f".{self.folder.name}-initdb-password"  # initdb wants an empty folder
        pwfile.write_text(superuser_password + "\n")
        pwfile.chmod(0o600)
        self._give(pwfile)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.folder),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        (self.folder / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")
        with open(self.folder / "postgresql.conf", "a") as conf:
            # every worker task holds a few catalog connections (DuckLake, the seller lock), Airflow a pool each
            conf.write(
                "\n# ops/services.py: the VTR cluster's own server\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nmax_connections = 300\n"
            )

    def start(self) -> int:
        """Start the server (waiting until it accepts connections); returns the postmaster's process id."""
        self.log.touch()
        self._give(self.log)
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            str(START_SECONDS),
            "-D",
            str(self.folder),
            "-l",
            str(self.log),
            "-o",
            f"-p {self.port}",
            timeout=START_SECONDS + 10,
        )
        return int((self.folder / "postmaster.pid").read_text().split()[0])

    def ensure_databases(self, passwords: dict[str, str]) -> None:
        """The role `vtr` and its two databases, made once; the role `vtr_reader`, which may only read the
        catalog."""
        import psycopg2

        pg = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=passwords["postgres"],
            dbname="postgres",
            connect_timeout=10,
        )
        try:
            pg.autocommit = True
            with pg.cursor() as cur:
                for role in (ROLE, READER):
                    cur.execute("select 1 from pg_roles where rolname = %s", [role])
                    verb = "alter" if cur.fetchone() else "create"
                    cur.execute(f"{verb} role {role} login password %s", [passwords[role]])
                for db in (METADATA_DB, CATALOG_DB):
                    cur.execute("select 1 from pg_database where datname = %s", [db])
                    if not cur.fetchone():
                        cur.execute(f"create database {db} owner {ROLE}")
        finally:
            pg.close()
        pg = psycopg2.connect(self.dsn(CATALOG_DB, passwords["postgres"], SUPERUSER), connect_timeout=10)
        try:
            pg.autocommit = True
            with pg.cursor() as cur:
                grant_reader(cur, CATALOG_DB, ROLE, READER)
        finally:
            pg.close()

    def dsn(self, dbname: str, password: str, role: str = ROLE) -> str:
        """A libpq connection string (keyword form) for a database of the cluster, as the role `vtr` by default."""
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={role} password={password}"

    def url(self, dbname: str, password: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{ROLE}:{password}@127.0.0.1:{self.port}/{dbname}"


# What a read-only role of the lake's catalog may do (docs/operations.md gives the same statements for other hosts):
# connect and read every table the owner has made or will make (DuckLake's own), nothing else
READER_GRANTS = (
    "grant connect on database {database} to {reader}",
    "grant usage on schema public to {reader}",
    "grant select on all tables in schema public to {reader}",
    "alter default privileges for role {owner} in schema public grant select on tables to {reader}",
)


def grant_reader(cur, database: str, owner: str, reader: str) -> None:
    """Let `reader` read the catalog `database` (run there, as a superuser or the owner), and nothing more."""
    for statement in READER_GRANTS:
        cur.execute(statement.format(database=database, owner=owner, reader=reader))


def postgres_ready(port: int, passwords: dict[str, str]) -> bool:
    """Whether the server accepts a connection to the catalog's database as the role `vtr`."""
    import psycopg2

    try:
        psycopg2.connect(
            host="127.0.0.1", port=port, user=ROLE, password=passwords["vtr"], dbname=CATALOG_DB, connect_timeout=3
        ).close()
        return True
    except psycopg2.Error:
        return False


def stop_postgres(pid: int) -> None:
    """Fast shutdown (SIGINT: open sessions end, committed data stays), immediate (SIGQUIT) after 60 s."""
    _stop(pid, (signal.SIGINT, 60), (signal.SIGQUIT, 30))


# --- Redis -----------------------------------------------------------------------------------------------------------


def redis_server() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        raise ServiceError("no Redis server (redis-server): apt-get install redis-server")
    return found


def start_redis(folder: Path, log: Path, port: int, password: str) -> subprocess.Popen:
    """Redis on 127.0.0.1:`port` in its own session, its queue kept in `folder` (append-only file) across restarts;
    the password sits in its config file (mode 0600), never on a command line."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "redis.conf"
    conf.touch(mode=0o600)
    conf.chmod(0o600)
    conf.write_text(
        f"bind 127.0.0.1\nport {port}\nprotected-mode yes\nrequirepass {password}\ndir {folder}\n"
        'appendonly yes\nsave ""\ndaemonize no\nlogfile ""\n'
    )
    out = open(log, "a")  # noqa: SIM115 - the server's output for its lifetime
    return subprocess.Popen(
        [redis_server(), str(conf)], stdout=out, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True
    )


def redis_ready(port: int, password: str) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def stop_redis(pid: int) -> None:
    """SIGTERM: Redis flushes its append-only file and exits; SIGKILL after 30 s."""
    _stop(pid, (signal.SIGTERM, 30), (signal.SIGKILL, 10))


def _stop(pid: int, *steps: tuple[int, float]) -> None:
    """Send each (signal, seconds to wait for the exit) in turn until the process is gone."""
    for sig, seconds in steps:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, seconds):
            return
