"""Runs at the same moment (spec section 6), as an operator starts them: real `vtr` processes on the embedded SQLite
catalog and on a real PostgreSQL catalog (helpers/servers.py). Sellers run in parallel without lock errors and give
what one serial run gives; two runs of one seller take turns, never mixed; the PostgreSQL catalog publishes what the
SQLite one does; the catalog's password is never shown.

Without PostgreSQL's binaries the PostgreSQL cases skip on a developer's machine and fail under CI (`CI` set).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest

from helpers import servers
from helpers.published import Published, assert_same, published
from pipeline.lake import connect
from pipeline.settings import load_settings
from vtrdemo.generator import generate

pytestmark = pytest.mark.slow  # runs in parallel processes, PostgreSQL

VTR = Path(sys.executable).with_name("vtr")
SELLERS = ("north", "south")
START, DAYS, PACKAGES = dt.date(2026, 9, 1), 45, 400
FIRST, LAST = dt.date(2026, 10, 13), dt.date(2026, 10, 15)  # the last dates of the generated data
RANGE = ["backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(), "--no-alerts"]
TIMEOUT = 300
CATALOGS = ["sqlite", "postgresql"]
PASSWORD = "Sup3r-Secret-pw"


# --- servers and data ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session (started on first use, stopped and removed at the end)."""
    with servers.postgres_or_skip("the PostgreSQL catalog tests are") as server:
        yield server


@pytest.fixture
def new_pg_database(postgres_server):
    """A function making a new, empty database on the session's server; it returns its libpq connection string."""
    return postgres_server.new_database


@pytest.fixture(scope="session")
def landing(tmp_path_factory) -> Path:
    """Two sellers' landing folders: 45 days of orders, confirmations, scans and catalog, about 400 orders each."""
    root = tmp_path_factory.mktemp("landing")
    for n, seller in enumerate(SELLERS):
        generate(root, seller_id=seller, start=START, days=DAYS, packages=PACKAGES, seed=11 + n)
    return root


def project(root: Path, landing: Path, catalog: str | None) -> Path:
    """A settings file over the shared landing folder, with a fresh lake and output folder under root."""
    root.mkdir(parents=True, exist_ok=True)
    text = f'[paths]\nlanding = "{landing}"\nwarehouse = "lake/warehouse.sqlite"\noutput = "output"\n'
    text += "[ingest]\nsettle_seconds = 0\n"
    if catalog:
        text += f'[warehouse]\ncatalog = "{catalog}"\ndata_path = "lake/data"\n'
    config = root / "vtr.toml"
    config.write_text(text)
    return config


def catalog_for(kind: str, request) -> str | None:
    return request.getfixturevalue("new_pg_database")() if kind == "postgresql" else None


def make_lake(config: Path) -> Path:
    """The lake an earlier run made: its catalog and empty tables (first runs on a fresh lake: the last test)."""
    connect(load_settings(config)).close()
    return config


# --- running vtr ---------------------------------------------------------------------------------------------------


class Vtr:
    """A `vtr` process; each stderr line is stamped with the moment it arrived (`vtr -v` logs as it goes)."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.lines: list[tuple[float, str]] = []
        self._out: list[tuple[float, str]] = []
        self.started = time.monotonic()
        self.proc = subprocess.Popen([str(VTR), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._readers = [
            threading.Thread(target=self._read, args=(pipe, sink), daemon=True)
            for pipe, sink in ((self.proc.stderr, self.lines), (self.proc.stdout, self._out))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(pipe, sink: list) -> None:
        for line in pipe:
            sink.append((time.monotonic(), line.rstrip("\n")))

    def wait(self) -> Vtr:
        try:
            self.returncode = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for reader in self._readers:
            reader.join(timeout=10)
        self.stdout = "\n".join(line for _, line in self._out)
        return self

    @property
    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def chain(self, seller: str) -> tuple[float, float]:
        """When the process was inside the seller's chain, as its log shows: from the first file loaded or model
        built for the seller (its lock held) to `<seller>: published`. A part of the chain, never more."""
        name = re.escape(seller)
        inside = [
            t
            for t, line in self.lines
            if re.match(rf"INFO pipeline\.(ingest\.load: {name} |models: built \S+ for {name} in )", line)
        ]
        published = [t for t, line in self.lines if line == f"INFO pipeline.steps: {seller}: published"]
        assert inside and published, f"no chain of {seller} in the log:\n{self.stderr}"
        return inside[0], published[-1]

    def files_loaded(self) -> int:
        return int(re.search(r"^files: (\d+) loaded", self.stdout, re.MULTILINE).group(1))


def vtr(config: Path, *args: str) -> Vtr:
    return Vtr(["-v", *args[:1], "--config", str(config), *args[1:]])


def assert_clean(*runs: Vtr) -> None:
    """Exit 0, and stderr holds only `vtr -v`'s progress lines: no warning, error or traceback."""
    for run in runs:
        assert run.returncode == 0, f"{run.args} exited {run.returncode}:\n{run.stderr}"
        noise = [line for _, line in run.lines if not line.startswith("INFO ")]
        assert noise == [], f"{run.args} wrote to stderr:\n" + "\n".join(noise)


# --- what a user sees ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def serial(landing, tmp_path_factory) -> Published:
    """One serial `vtr backfill` of both sellers into a fresh lake (SQLite catalog): what every test expects."""
    config = project(tmp_path_factory.mktemp("serial"), landing, None)
    run = vtr(config, *RANGE).wait()
    assert_clean(run)
    result = published(config)
    assert {r[0] for r in result.marts["mart_vtr_snapshots"]} == set(SELLERS)
    days = [FIRST + dt.timedelta(n) for n in range((LAST - FIRST).days + 1)]
    assert {f"vtr_snapshots/snapshot_date={d}/{s}.parquet" for d in days for s in SELLERS} <= set(result.files)
    return result


# --- the tests -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CATALOGS)
def test_two_sellers_at_the_same_moment_give_the_results_of_one_serial_run(kind, landing, serial, tmp_path, request):
    config = make_lake(project(tmp_path, landing, catalog_for(kind, request)))

    runs = [vtr(config, *RANGE, "--sellers", seller) for seller in SELLERS]
    for run in runs:
        run.wait()

    assert_clean(*runs)
    # both were inside their chains at once: each began its chain before the other had published
    (a_in, a_out), (b_in, b_out) = runs[0].chain(SELLERS[0]), runs[1].chain(SELLERS[1])
    shown = (
        f"{SELLERS[0]} {a_in - runs[0].started:.1f}..{a_out - runs[0].started:.1f} s,"
        f" {SELLERS[1]} {b_in - runs[0].started:.1f}..{b_out - runs[0].started:.1f} s after the start"
    )
    print(f"inside the chains: {shown}")
    assert max(a_in, b_in) < min(a_out, b_out), f"the runs did not overlap: {shown}"
    assert_same(published(config), serial)


@pytest.mark.parametrize("kind", CATALOGS)
def test_the_same_seller_twice_at_once_takes_turns_and_equals_one_run(kind, landing, serial, tmp_path, request):
    config = make_lake(project(tmp_path, landing, catalog_for(kind, request)))
    seller = SELLERS[0]

    runs = [vtr(config, *RANGE, "--sellers", seller) for _ in range(2)]
    for run in runs:
        run.wait()

    assert_clean(*runs)
    first, second = sorted(runs, key=lambda r: r.chain(seller)[0])
    assert first.chain(seller)[1] < second.chain(seller)[0], "the two runs of one seller were inside it at once"
    expected, got = serial.of(seller), published(config).of(seller)
    files = len(expected.raw["raw.files"])
    # one run loaded every file, the other found them all loaded: each file is in the manifest once, no row twice
    assert (first.files_loaded(), second.files_loaded()) == (files, 0)
    assert len({r[4] for r in got.raw["raw.files"]}) == len(got.raw["raw.files"]) == files
    assert_same(got, expected)


def test_a_run_on_the_postgresql_catalog_publishes_what_the_sqlite_catalog_does(landing, new_pg_database, tmp_path):
    on_sqlite = project(tmp_path / "sqlite", landing, None)
    on_postgres = project(tmp_path / "postgresql", landing, new_pg_database())

    runs = [vtr(config, "run", "--date", LAST.isoformat(), "--no-alerts") for config in (on_sqlite, on_postgres)]
    for run in runs:  # two lakes, side by side: nothing shared but the landing folder
        run.wait()

    assert_clean(*runs)
    sqlite = published(on_sqlite)
    assert sqlite.marts["mart_vtr_snapshots"] and sqlite.files
    assert_same(published(on_postgres), sqlite)
    assert not (tmp_path / "postgresql" / "lake" / "warehouse.sqlite").exists()  # the catalog is the server's


@pytest.mark.parametrize("refusal", ["wrong password", "wrong password, URL form", "nothing listening"])
def test_a_refused_catalog_is_one_line_naming_host_and_database_never_the_password(
    refusal, landing, postgres_server, tmp_path
):
    if refusal == "wrong password":
        catalog = postgres_server.dsn(servers.SECURED_DB, password=PASSWORD)
    elif refusal == "wrong password, URL form":
        catalog = f"postgresql://{servers.SUPERUSER}:{PASSWORD}@127.0.0.1:{postgres_server.port}/{servers.SECURED_DB}"
    else:
        catalog = postgres_server.dsn(servers.SECURED_DB, password=PASSWORD).replace(
            f"port={postgres_server.port}", f"port={servers.free_port()}"
        )
    config = project(tmp_path, landing, catalog)

    quiet = subprocess.run(
        [str(VTR), "run", "--config", str(config), "--date", LAST.isoformat()],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    verbose = vtr(config, "run", "--date", LAST.isoformat()).wait()  # the log at -v, too

    assert quiet.returncode == verbose.returncode == 1
    assert quiet.stderr.count("\n") == 1 and quiet.stderr.startswith("vtr: ")
    assert f"postgresql://127.0.0.1/{servers.SECURED_DB}" in quiet.stderr
    assert ("password authentication failed" if "password" in refusal else "Connection refused") in quiet.stderr
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != config]
    for text in (quiet.stdout, quiet.stderr, verbose.stdout, verbose.stderr, *written):
        assert (PASSWORD not in text) if isinstance(text, str) else (PASSWORD.encode() not in text)


def test_first_runs_of_two_sellers_on_a_fresh_postgresql_lake_both_succeed(postgres_server, tmp_path):
    """The first DAG run of a new deployment maps every seller at once onto a lake nobody has made yet. The first
    run is held at the lake's first table (a transaction of ours makes it and waits) while the second starts, so the
    two meet where the lake is made; both must succeed (without the lock making the lake, one ended `Failed to
    initialize DuckLake ... duplicate key value`)."""
    landing = tmp_path / "landing"
    for seller in SELLERS:
        (landing / seller / "catalog").mkdir(parents=True)
        (landing / seller / "catalog" / "catalog.csv").write_text("sku,category\nSKU-1,Toys\n")
    catalog = postgres_server.new_database()
    config = project(tmp_path, landing, catalog)

    holder, runs, waiting = psycopg2.connect(catalog), [], 0
    try:
        holder.cursor().execute("create table public.ducklake_metadata (key varchar)")  # uncommitted: a wait
        runs = [vtr(config, "ingest", "--sellers", seller) for seller in SELLERS]
        deadline = time.monotonic() + 60
        with postgres_server.connect("postgres") as pg, pg.cursor() as cur:
            while waiting < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
                cur.execute(
                    "select count(*) from pg_stat_activity where datname = %s and wait_event_type = 'Lock'",
                    [re.search(r"dbname=(\S+)", catalog).group(1)],
                )
                waiting = cur.fetchone()[0]
            time.sleep(2)  # the other run has started meanwhile, and waits its turn
    finally:
        holder.rollback()
        holder.close()
        for run in runs:
            run.wait()

    assert waiting == 1, "no run waited where the lake is made"
    assert_clean(*runs)
    con = connect(load_settings(config), read_only=True)
    try:
        assert con.execute("select seller_id, path from raw.files order by all").fetchall() == [
            (seller, "catalog/catalog.csv") for seller in SELLERS
        ]
    finally:
        con.close()
