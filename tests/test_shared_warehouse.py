"""The shared warehouse (spec section 4): analysts read while runs write, snapshots are isolated, earlier states stay
readable, maintenance keeps the lake small without disturbing readers, and an old DuckDB-file warehouse is named."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.lake import connect
from pipeline.maintain import maintain
from pipeline.settings import load_settings
from vtrdemo.generator import CARRIER_ALIASES, generate

pytestmark = pytest.mark.slow  # analysts' sessions held open in other processes through runs

VTR = str(Path(sys.executable).with_name("vtr"))
START = dt.date(2026, 5, 1)
DAYS = 45
LAST = START + dt.timedelta(days=DAYS - 1)
_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("generated") / "landing"
    generate(landing, seller_id="acme", start=START, days=DAYS, packages=900, seed=11)
    return landing


def land(generated: Path, landing: Path, until: dt.date) -> None:
    """Copy the generated files named for days up to `until` (and the undated catalog) into the landing folder."""
    for path in generated.rglob("*"):
        match = _DAY_IN_NAME.search(path.name)
        if path.is_file() and (not match or dt.date.fromisoformat(match.group(1)) <= until):
            target = landing / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copyfile(path, target)


def write_config(root: Path, extra: str = "") -> Path:
    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    config = root / "vtr.toml"
    config.write_text(
        '[paths]\nlanding = "landing"\nwarehouse = "data/warehouse.sqlite"\noutput = "data/output"\n'
        f"[schedule]\nwait_for_files_minutes = 0\n[ingest]\nsettle_seconds = 0\n[carrier_aliases]\n{aliases}{extra}"
    )
    return config


def vtr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VTR, *args], capture_output=True, text=True, timeout=300)


class SqlSession:
    """`vtr sql` reading statements from a pipe, kept open; `ask` sends one and reads the line carrying a marker."""

    def __init__(self, config: Path):
        self.process = subprocess.Popen(
            [VTR, "sql", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def ask(self, sql: str) -> str:
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            assert line, self.process.stderr.read()
            found = re.search(r"answer=(\d+)", line)
            if found:
                return found.group(1)

    def close(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=30)


class Poller(threading.Thread):
    """An analyst's script asking the warehouse every 0.15 s, counting its answers and its errors."""

    def __init__(self, settings):
        super().__init__(daemon=True)
        self.settings, self.answers, self.errors, self.stop = settings, 0, [], threading.Event()

    def run(self):
        con = connect(self.settings, read_only=True)
        try:
            while not self.stop.is_set():
                try:
                    con.execute("select count(*) from raw.files").fetchone()
                    self.answers += 1
                except duckdb.Error as exc:
                    self.errors.append(str(exc).splitlines()[0])
                time.sleep(0.15)
        finally:
            con.close()


FILES = "select 'answer=' || count(*) as answer from raw.files;"


def overall(con, day: dt.date) -> list[tuple]:
    return con.execute(
        "select marketplace, window_days, packages_valid, packages_total from marts.mart_vtr_snapshots"
        " where snapshot_date = ? and scope = 'overall' order by all",
        [day],
    ).fetchall()


def test_analysts_sessions_stay_open_through_a_cold_run_a_warm_run_and_a_backfill(generated, tmp_path):
    config = write_config(tmp_path)
    landing = tmp_path / "landing"
    land(generated, landing, LAST - dt.timedelta(days=1))
    settings = load_settings(config)
    connect(settings).close()  # an empty warehouse, as after installation

    session, reader, poller = SqlSession(config), connect(settings, read_only=True), Poller(settings)
    poller.start()
    try:
        assert session.ask(FILES) == "0"

        cold = vtr("run", "--config", str(config), "--date", str(LAST - dt.timedelta(days=1)))
        assert cold.returncode == 0, cold.stderr
        loaded = int(session.ask(FILES))
        assert loaded > 100  # the session sees the run's commit
        before = overall(reader, LAST - dt.timedelta(days=1))
        assert before and overall(reader, LAST) == []

        # a transaction reads one snapshot: the warm run commits meanwhile, and the reader sees it only after
        land(generated, landing, LAST)
        reader.execute("begin transaction")
        assert overall(reader, LAST) == []  # the transaction's snapshot is taken at its first read
        warm = vtr("run", "--config", str(config), "--date", str(LAST))
        assert warm.returncode == 0, warm.stderr
        assert overall(reader, LAST) == [] and reader.execute("select count(*) from raw.files").fetchone()[0] == loaded
        reader.execute("commit")
        after = overall(reader, LAST)
        assert after and int(session.ask(FILES)) > loaded

        backfill = vtr(
            "backfill", "--config", str(config), "--start", str(LAST - dt.timedelta(days=29)), "--end", str(LAST)
        )
        assert backfill.returncode == 0, backfill.stderr
        dates = reader.execute("select count(distinct snapshot_date) from marts.mart_vtr_snapshots").fetchone()[0]
        assert dates == 30
        assert (
            session.ask("select 'answer=' || count(distinct snapshot_date) as answer from marts.mart_vtr_snapshots;")
            == "30"
        )
        assert overall(reader, LAST) == after  # a backfill's last date is the daily run's
    finally:
        poller.stop.set()
        poller.join()
        reader.close()
        assert session.close() == 0
    assert poller.errors == [] and poller.answers > 10


def test_a_date_reads_as_published_earlier_and_maintenance_keeps_figures_and_readers(generated, tmp_path):
    config = write_config(tmp_path)
    land(generated, tmp_path / "landing", LAST)
    settings = load_settings(config)
    for day in (LAST - dt.timedelta(days=n) for n in range(6, -1, -1)):  # a week of daily runs
        assert vtr("run", "--config", str(config), "--date", str(day)).returncode == 0
    first_published = LAST - dt.timedelta(days=6)

    con = connect(settings, read_only=True)
    try:
        # time travel: the snapshot as it stood right after its own day's run, before later runs
        version = con.execute(
            "select min(snapshot_id) from lake.snapshots() "
            "where changes['tables_inserted_into'] is not null "
            "and snapshot_id > (select max(snapshot_id) from lake.snapshots() "
            "where changes['tables_created'] is not null)"
        ).fetchone()[0]
        assert version is not None
        as_published = con.execute(
            "select count(*) from marts.mart_vtr_snapshots at (version => ?)", [version]
        ).fetchone()[0]
        assert 0 < as_published < con.execute("select count(*) from marts.mart_vtr_snapshots").fetchone()[0]
        figures = {day: overall(con, day) for day in (first_published, LAST)}
        files_before = _data_files(con)
    finally:
        con.close()

    reader = connect(settings, read_only=True)
    reader.execute("begin transaction")
    pinned = overall(reader, LAST)  # its snapshot, from this first read on
    done = maintain(settings)  # retention 30 days: nothing is old enough to expire, small files are merged
    assert overall(reader, LAST) == pinned  # the open session reads on, unaffected
    reader.execute("commit")
    reader.close()

    con = connect(settings, read_only=True)
    try:
        assert {day: overall(con, day) for day in figures} == figures
        assert _data_files(con) < files_before
        assert done["after"]["data_files"] < done["before"]["data_files"]
    finally:
        con.close()

    # past the retention period, old snapshots expire and the files only they read are deleted
    expired = maintain(settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    assert expired["after"]["snapshots"] < expired["before"]["snapshots"]
    con = connect(settings, read_only=True)
    try:
        assert {day: overall(con, day) for day in figures} == figures
    finally:
        con.close()
    assert vtr("maintain", "--config", str(config)).returncode == 0


def _data_files(con) -> int:
    return con.execute(
        "select count(*) from __ducklake_metadata_lake.ducklake_data_file where end_snapshot is null"
    ).fetchone()[0]


def test_an_old_duckdb_file_warehouse_is_named_with_how_to_rebuild(tmp_path):
    (tmp_path / "landing" / "acme" / "orders").mkdir(parents=True)
    old = tmp_path / "data" / "warehouse.sqlite"  # an earlier release's file, under whatever name the settings give
    old.parent.mkdir()
    duckdb.connect(str(old)).close()
    config = write_config(tmp_path)

    for args in (["run", "--date", "2026-11-20"], ["sql", "select 1"]):
        done = vtr(*args[:1], "--config", str(config), *args[1:])
        assert done.returncode == 1
        [line] = done.stderr.strip().splitlines()
        assert "DuckDB-file warehouse of an earlier release" in line and "vtr backfill" in line
    assert duckdb.connect(str(old), read_only=True).execute("select 1").fetchone() == (1,)  # left as it was
