"""Real servers for the tests: a private PostgreSQL cluster on 127.0.0.1, started once for a test session.

`PostgresServer` runs Debian's binaries (/usr/lib/postgresql/<version>/bin, else initdb and pg_ctl on PATH) on a
temporary data folder and a free port. PostgreSQL refuses to run as root: as root the folder is given to the
`postgres` system user and every command runs through `runuser -u postgres`. Authentication is trust on
127.0.0.1, except the database `SECURED_DB`, which asks for a password (scram-sha-256), so that a test can see a
server refuse a wrong one. Nothing listens beyond 127.0.0.1; the Unix socket lives in the private folder.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ops import services

SECURED_DB = "vtr_secured"
SUPERUSER = "postgres"
START_SECONDS = 60


class ServerUnavailable(Exception):
    """The PostgreSQL binaries (or, as root, the postgres user that must run them) are not on this machine."""


def postgres_or_skip(what: str) -> PostgresServer:
    """A PostgreSQL server, not started; without PostgreSQL's binaries the test skips (`what` says which), or fails
    under CI (`CI` set), which installs them."""
    try:
        return PostgresServer()
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}; under CI the PostgreSQL tests must run (.ci/run installs it)", pytrace=False)
        pytest.skip(f"{exc}; {what} skipped")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (the launcher's API and its two log servers)."""
    for _ in range(50):
        first = free_port()
        if all(_free(first + n) for n in range(count)):
            return first
    raise RuntimeError("no consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class PostgresServer:
    """A throw-away PostgreSQL cluster; `with PostgresServer() as server:` starts it and stops and removes it."""

    def __init__(self) -> None:
        try:
            self.bin = services.postgres_bin()  # the cluster's own lookup (ops/services.py)
        except services.ServiceError as exc:
            raise ServerUnavailable(str(exc)) from None
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                import pwd

                self._owner = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise ServerUnavailable("running as root and there is no 'postgres' user to run PostgreSQL") from None
        self.port = 0
        self.root: Path | None = None
        self._names = itertools.count(1)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def dsn(self, dbname: str, **extra: str) -> str:
        """A libpq connection string (keyword form) for a database of this server."""
        parts = {"host": "127.0.0.1", "port": str(self.port), "dbname": dbname, "user": SUPERUSER} | extra
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def _pg(self, tool: str, *args: str, timeout: float = START_SECONDS) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}{self._log_tail()}"
            )
        return done

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + "\n".join(self.log.read_text().splitlines()[-20:])
        except OSError:
            return ""

    def start(self) -> PostgresServer:
        # /tmp itself, not pytest's tmp_path: the postgres user must be able to enter the folder
        self.root = Path(tempfile.mkdtemp(prefix="vtr-postgres-"))
        if self.as_root:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        try:
            self._pg(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            # first match wins: the secured database asks for a password, every other one trusts 127.0.0.1 only
            (self.data / "pg_hba.conf").write_text(
                f"host {SECURED_DB} all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
            )
            for attempt in range(3):  # the free port may be taken between the look and the start
                self.port = free_port()
                options = (
                    f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} -c fsync=off"
                    " -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
                )
                try:
                    self._pg(
                        "pg_ctl",
                        "start",
                        "-w",
                        "-t",
                        str(START_SECONDS),
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.log),
                        "-o",
                        options,
                        timeout=START_SECONDS + 10,
                    )
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            self._wait_ready()
            with self.connect("postgres") as pg, pg.cursor() as cur:
                cur.execute(f"create database {SECURED_DB}")
                cur.execute(f"alter user {SUPERUSER} password 'the-right-password'")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import psycopg2

        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                psycopg2.connect(self.dsn("postgres", connect_timeout="2")).close()
                return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on port {self.port} did not accept connections{self._log_tail()}"
                    ) from exc
                time.sleep(0.1)

    @contextlib.contextmanager
    def connect(self, dbname: str):
        """An autocommit psycopg2 session as the superuser."""
        import psycopg2

        pg = psycopg2.connect(self.dsn(dbname))
        pg.autocommit = True
        try:
            yield pg
        finally:
            pg.close()

    def new_database(self, prefix: str = "vtr") -> str:
        """Create an empty database; returns its connection string."""
        name = f"{prefix}_{next(self._names)}"
        with self.connect("postgres") as pg, pg.cursor() as cur:
            cur.execute(f"create database {name}")
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended) and remove its folder."""
        if self.root is None:
            return
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
