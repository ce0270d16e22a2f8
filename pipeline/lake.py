"""The shared warehouse: a DuckLake (a catalog database plus Parquet data files), opened from the installed wheels.

Embedded default: a SQLite catalog file at `paths.warehouse` (in WAL mode, so an analyst's open read never blocks a
commit) and its data folder beside it. Scaled: `[warehouse] catalog` names a PostgreSQL database and `data_path` a
shared folder or S3 bucket. Every connection is an in-memory DuckDB (the run's private scratch database, `memory`)
with the lake attached as `lake`; analysts' sessions use the lake by default.

Writers keep each lake transaction short (computed in scratch first) and go through `write`: on the SQLite catalog
one writer at a time (a file lock: SQLite itself refuses concurrent commits), on PostgreSQL a conflicting commit is
retried with back-off. Runs of one seller are serialized by `seller_lock`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import logging
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from pipeline.contract import file_part
from pipeline.settings import Settings, seller_id_problem

log = logging.getLogger(__name__)

LAKE = "lake"
SCRATCH = "memory"
MACROS = Path(__file__).resolve().parent.parent / "sql" / "macros.sql"
RAW_DDL = Path(__file__).resolve().parent.parent / "sql" / "raw.sql"
WRITE_ATTEMPTS = 12
LOCK_WAIT_LOG_SECONDS = 30


class WarehouseError(Exception):
    """The warehouse cannot be opened or written as configured; the message is one line naming what and where."""


@functools.cache
def extension_path(name: str) -> str:
    """The extension file inside its installed wheel (duckdb-extension-<name>), checked once per process against the
    hash the wheel recorded at install (uv checked the wheel against uv.lock): nothing is downloaded, and DuckDB need
    not verify its signature on every connection (0.45 s for the two a connection loads)."""
    distribution = f"duckdb-extension-{name.replace('_', '-')}"
    try:
        files = importlib.metadata.distribution(distribution).files or []
    except importlib.metadata.PackageNotFoundError:
        raise WarehouseError(f"the DuckDB extension wheel {distribution} is not installed (run make setup)") from None
    wanted = f"v{duckdb.__version__}/{name}.duckdb_extension"
    record = next((f for f in files if f.as_posix().endswith(wanted)), None)
    if record is None or record.hash is None:
        raise WarehouseError(f"{distribution} has no extension for DuckDB {duckdb.__version__}")
    path = Path(record.locate())
    digest = hashlib.new(record.hash.mode)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    if base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode() != record.hash.value:
        raise WarehouseError(f"{path} differs from the file its wheel installed: reinstall with make setup")
    return str(path)


def catalog_label(settings: Settings) -> str:
    """The catalog as it may be printed: a file path, or PostgreSQL's host and database without the password."""
    if not settings.catalog:
        return str(settings.warehouse)
    host = re.search(r"host=(\S+)|@([^/:?]+)", settings.catalog)
    db = re.search(r"dbname=(\S+)|/([^/?]+)(?:\?|$)", settings.catalog)

    def pick(m: re.Match[str] | None) -> str:
        return next((g for g in m.groups() if g), "?") if m else "?"

    return f"postgresql://{pick(host)}/{pick(db)}"


def split_password(catalog: str) -> tuple[str, str | None]:
    """A PostgreSQL connection string (key=value or URL form) without its password, and the password (None: none
    given), as libpq itself parses it: whatever the password holds (spaces, quotes), none of it is left."""
    import psycopg2  # the postgres dependency group: only a PostgreSQL catalog needs it
    from psycopg2.extensions import make_dsn, parse_dsn

    try:
        parts = parse_dsn(catalog)
    except psycopg2.ProgrammingError:
        raise WarehouseError("[warehouse] catalog is not a PostgreSQL connection string") from None
    password = parts.pop("password", None)
    return make_dsn(**parts), password


def _check_catalog_file(path: Path, *, create: bool) -> None:
    """A DuckDB-file warehouse of an earlier release is named, never mixed; a new SQLite catalog starts in WAL mode."""
    if path.exists():
        with open(path, "rb") as f:
            head = f.read(16)
        if head[8:12] == b"DUCK":
            raise WarehouseError(
                f"{path} is a DuckDB-file warehouse of an earlier release; move it aside, point paths.warehouse at a"
                " new file (default data/warehouse.sqlite) and rebuild: vtr ingest, then vtr backfill over the dates"
                " you need"
            )
        if head and not head.startswith(b"SQLite format 3"):
            raise WarehouseError(f"{path} is not a warehouse catalog (neither SQLite nor an earlier DuckDB file)")
        return
    if not create:
        raise WarehouseError(f"no warehouse at {path} yet: run vtr run or vtr ingest first")
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as sq:
        sq.execute("pragma journal_mode = wal")  # kept in the file: readers and a writer never block each other


def _spill_folder(settings: Settings) -> str:
    """A private folder for DuckDB's spill files, removed at exit (in-memory databases share the default name)."""
    base = settings.temp_directory or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="vtr-duckdb-", dir=base)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached and used by default; writers make sure its tables exist."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": settings.memory_limit,
        "threads": settings.threads,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_unsigned_extensions": True,  # only the files extension_path checked are loaded
        "temp_directory": _spill_folder(settings),
    }
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute("set TimeZone = 'UTC'")  # instants without an offset are UTC (spec section 2)
        con.execute("set enable_progress_bar = false")  # it would be garbage in task logs and piped output
        for name in ("ducklake", "postgres_scanner" if settings.catalog else "sqlite_scanner"):
            con.execute(f"load '{extension_path(name)}'")
        if settings.lake_data_path.startswith("s3://"):
            _s3_secret(con)
        # no rows inlined in the catalog: merging files after flushing inlined rows made a reader pinned to an
        # earlier snapshot see no rows, and an inlined NUL failed the SQLite commit; small files are merged instead
        con.execute("set ducklake_default_data_inlining_row_limit = 0")
        if read_only:
            _attach(con, settings, read_only)
        else:  # a writer may be the one making the lake: first runs of many sellers take turns at that
            with _named_lock(settings, "create", "another run making the warehouse"):
                _attach(con, settings, read_only)
                _ensure_tables(con, settings)
        con.execute(MACROS.read_text())  # the connection's own macros: analysts and every model share the rules
    except BaseException:
        con.close()
        raise
    return con


# each process's writer connection between sellers: pid -> (the settings it was opened with, a read-only descriptor
# of its SQLite catalog file, the connection). A fork's child never touches (not even closes) what it inherited:
# DuckDB's threads did not come with it
_workers: dict[int, tuple[tuple[object, ...], int | None, duckdb.DuckDBPyConnection]] = {}


def _opened_with(settings: Settings) -> tuple[object, ...]:
    return (settings.catalog, settings.warehouse, settings.data_path, settings.lake_data_path, settings.memory_limit,
            settings.threads, settings.temp_directory)  # fmt: skip


def _same_file(fd: int | None, path: Path) -> bool:
    """The open descriptor is still the file at path (it pins its inode: a new file never gets the same number)."""
    if fd is None:
        return False
    try:
        held, now = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


@contextlib.contextmanager
def worker_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """This process's writer connection (`connect`), opened once and lent to one seller's work at a time: loading
    the extensions and attaching the lake cost a small seller as much as its models (the next seller's build
    replaces its scratch schemas first). Work that raised closes it (its state unknown), as do other settings or a
    SQLite catalog file replaced since (a warehouse moved aside and made anew)."""
    held = _workers.pop(os.getpid(), None)
    if held and held[0] == _opened_with(settings) and (settings.catalog or _same_file(held[1], settings.warehouse)):
        fd, con = held[1:]
    else:
        if held:
            _close_worker(*held[1:])
        con = connect(settings)
        fd = None if settings.catalog else os.open(settings.warehouse, os.O_RDONLY)
    try:
        yield con
    except BaseException:
        _close_worker(fd, con)
        raise
    if _workers.setdefault(os.getpid(), (_opened_with(settings), fd, con))[2] is not con:
        _close_worker(fd, con)  # another thread's seller put its connection back first: one is kept


def _close_worker(fd: int | None, con: duckdb.DuckDBPyConnection) -> None:
    con.close()
    if fd is not None:  # after the connection: closing a descriptor drops the process's POSIX locks on that file
        os.close(fd)


def _attach(con: duckdb.DuckDBPyConnection, settings: Settings, read_only: bool) -> None:
    # a lake records its data folder when it is made; a data_path given for an existing lake must match it
    data_path = settings.data_path
    if settings.catalog:
        source = f"ducklake:postgres:{settings.catalog}"
    else:
        if not settings.warehouse.exists():
            data_path = data_path or settings.lake_data_path
            if "://" not in data_path:
                Path(data_path).mkdir(parents=True, exist_ok=True)
        _check_catalog_file(settings.warehouse, create=not read_only)
        source = f"ducklake:sqlite:{settings.warehouse}"
    options = ", ".join(
        ([f"data_path '{quote(data_path)}'"] if data_path else []) + (["read_only"] if read_only else [])
    )
    options = f" ({options})" if options else ""
    try:
        con.execute(f"attach '{quote(source)}' as {LAKE}{options}")
    except duckdb.Error as exc:  # the message may quote the connection string: name the catalog by its label
        reason = str(exc).splitlines()[0].replace(settings.catalog or "\0", "***")
        raise WarehouseError(f"cannot open the warehouse catalog {catalog_label(settings)}: {reason}") from None
    con.execute(f"use {LAKE}")


def _s3_secret(con: duckdb.DuckDBPyConnection) -> None:
    """S3-compatible data files: httpfs from its wheel, credentials from the usual AWS_* environment variables."""
    con.execute(f"load '{extension_path('httpfs')}'")
    env = {
        k: os.environ.get(f"AWS_{k.upper()}") for k in ("access_key_id", "secret_access_key", "region", "endpoint_url")
    }
    parts = ["type s3", "url_style 'path'"]
    for key, option in (("access_key_id", "key_id"), ("secret_access_key", "secret"), ("region", "region")):
        value = env[key]
        if value:
            parts.append(f"{option} '{quote(value)}'")
    if env["endpoint_url"]:
        endpoint = re.sub(r"^https?://", "", env["endpoint_url"])
        parts += [f"endpoint '{quote(endpoint)}'", f"use_ssl {str(env['endpoint_url'].startswith('https')).lower()}"]
    con.execute(f"create or replace secret vtr_s3 ({', '.join(parts)})")


# columns added to the lake's tables since their first release, each (table, column, type): a lake made before gets
# them when a writer first opens it (rows loaded before hold NULL)
ADDED_COLUMNS = (
    ("raw.files", "changed_ns", "bigint"),
    ("raw.files", "inode", "bigint"),
    ("raw.orders", "shipping_price", "decimal(18, 2)"),  # issue 17
)


def _ensure_tables(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Create the raw layer, the rejects and the alert log once, or add the columns a lake of an earlier release
    lacks (the caller holds the lock making the lake)."""
    try:
        con.execute(f"select 1 from {LAKE}.raw.files limit 0")
    except duckdb.CatalogException:
        write(con, settings, lambda c: c.execute(RAW_DDL.read_text()), what="create the warehouse tables")
        return
    present = set(
        con.execute(
            "select schema_name || '.' || table_name, column_name from duckdb_columns() where database_name = ?", [LAKE]
        ).fetchall()
    )
    missing = [(table, column, kind) for table, column, kind in ADDED_COLUMNS if (table, column) not in present]
    if missing:

        def add(c: duckdb.DuckDBPyConnection) -> None:
            for table, column, kind in missing:
                c.execute(f"alter table {LAKE}.{table} add column {column} {kind}")

        write(con, settings, add, what="add the columns of this release to the warehouse")


def quote(text: str) -> str:
    return text.replace("'", "''")


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failed statement; DuckDB may have ended the transaction already (out of memory or disk),
    and that must not hide the error that caused it."""
    with contextlib.suppress(duckdb.TransactionException, duckdb.InvalidInputException):
        con.execute("rollback")


def _retryable(exc: duckdb.Error) -> bool:
    """A commit that another writer got in the way of: a DuckLake conflict, or SQLite's busy catalog."""
    text = str(exc).lower()
    return "conflict" in text or "database is locked" in text or "could not serialize" in text


@contextlib.contextmanager
def _file_lock(path: Path, what: str) -> Iterator[None]:
    """An exclusive lock on a file, released by the kernel when the process dies (a killed run holds nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        waited = time.monotonic()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - waited > LOCK_WAIT_LOG_SECONDS:
                    log.warning("still waiting for %s", what)
                    waited = time.monotonic()
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _writer_lock(settings: Settings) -> contextlib.AbstractContextManager[None]:
    """One writer at a time on the SQLite catalog; PostgreSQL takes concurrent commits (conflicts are retried)."""
    if settings.catalog:
        return contextlib.nullcontext()
    return _file_lock(settings.warehouse.with_name(settings.warehouse.name + ".writer.lock"), "the catalog writer lock")


def write(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    body: Callable[[duckdb.DuckDBPyConnection], object],
    *,
    what: str,
) -> None:
    """Run body in one lake transaction and commit; a commit another writer got in the way of is rolled back and
    run again with back-off (body must read only scratch tables and committed lake state, so a retry redoes it)."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with _writer_lock(settings):
            try:
                con.execute("begin transaction")
                body(con)
                con.execute("commit")
                return
            except duckdb.Error as exc:
                rollback(con)
                if not _retryable(exc) or attempt == WRITE_ATTEMPTS:
                    raise
                log.info("%s: commit conflicted (%s), retrying", what, str(exc).splitlines()[-1][:120])
        time.sleep(random.uniform(0.05, 0.3) * min(2 ** (attempt - 1), 16))


def seller_lock(settings: Settings, seller_id: str) -> contextlib.AbstractContextManager[None]:
    """Runs that touch the same seller take turns (ingest order and mart rows are per seller); other sellers and
    analysts go on."""
    if seller_id_problem(seller_id):  # it names a lock file: never a path
        raise WarehouseError(f"not a seller id: {seller_id!r}")
    return _named_lock(settings, f"seller-{file_part(seller_id)}", f"another run of seller {seller_id}")


@contextlib.contextmanager
def _named_lock(settings: Settings, name: str, what: str) -> Iterator[None]:
    """A lock every process of the deployment shares: a file lock beside the SQLite catalog, or a PostgreSQL advisory
    lock, so workers on many machines share it. Either ends with its process: a killed run holds nothing."""
    if not settings.catalog:
        with _file_lock(settings.warehouse.with_name(settings.warehouse.name + ".locks") / f"{name}.lock", what):
            yield
        return
    import psycopg2  # the postgres dependency group: only a PostgreSQL catalog needs it

    key = int.from_bytes(hashlib.sha256(f"vtr:{name}".encode()).digest()[:8], "big", signed=True)
    try:
        pg = psycopg2.connect(settings.catalog)
    except psycopg2.Error as exc:
        reason = str(exc).splitlines()[0].replace(settings.catalog, "***")
        raise WarehouseError(f"cannot reach the catalog {catalog_label(settings)} for {what}: {reason}") from None
    try:
        pg.autocommit = True
        with pg.cursor() as cur:
            waited = time.monotonic()
            while True:
                cur.execute("select pg_try_advisory_lock(%s)", [key])
                row = cur.fetchone()
                if row and row[0]:
                    break
                if time.monotonic() - waited > LOCK_WAIT_LOG_SECONDS:
                    log.warning("still waiting for %s", what)
                    waited = time.monotonic()
                time.sleep(0.1)
        yield  # the lock ends with the session
    finally:
        pg.close()
