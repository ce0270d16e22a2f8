"""A run killed at any point and run again gives exactly the uninterrupted run's result (spec sections 5 and 6):
the marts, the rejects, the load manifest, the Parquet bytes and the notifications.

The killed runs load in small batches (many commits to kill at), the re-runs and the reference in the default ones;
the files include a Windows-1252 order report named before UTF-8 ones (parsed by Python, the others by DuckDB) and a
file with many rejected rows (a data-quality warning, which the re-run must still notify, once).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers.receivers import Hook
from pipeline.lake import connect
from pipeline.settings import load_settings
from vtrdemo.generator import CARRIER_ALIASES, generate

pytestmark = pytest.mark.slow  # runs killed at 20+ points

VTR = str(Path(sys.executable).with_name("vtr"))
KILLPOINT = str(Path(__file__).with_name("helpers") / "killpoint.py")
START = dt.date(2026, 5, 1)
DAYS = 20
DAY = START + dt.timedelta(days=DAYS - 1)
SMALL_BATCHES = "40000"


def cp1252_orders() -> bytes:
    header = (
        "order-id\torder-item-id\tpurchase-date\tsku\tquantity-purchased\titem-price\tcurrency\t"
        "latest-delivery-date\tsales-channel\tbuyer-name"
    )
    line = f"K-1\tK-1-1\t{START}T09:00:00Z\tKSKU\t1\t9.90\tEUR\t{DAY - dt.timedelta(days=15)}\tAmazon.de\tRenée Müller"
    return (header + "\r\n" + line + "\r\n").encode("cp1252")


def many_rejects() -> str:
    header = "tracking_number,carrier,event_time,status,event_code,description,location"
    rows = [f"KX{n},UPS,not-a-time,in_transit,,,," for n in range(12)] + [f"KY1,UPS,{START}T10:00:00Z,in_transit,,,,"]
    return "\n".join([header, *rows]) + "\n"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kills") / "landing"
    # split shipments: a correction of a box's number arrives in a later file, so load order decides which box it hits
    generate(root, seller_id="acme", start=START, days=DAYS, packages=250, seed=5, split_share=0.3)
    (root / "acme" / "orders" / "a_first_report_cp1252.txt").write_bytes(cp1252_orders())  # sorts before orders_*
    (root / "acme" / "scans" / "scans_many_rejects.csv").write_text(many_rejects())
    return root


def config(folder: Path, landing: Path, hook: Hook) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    path = folder / "vtr.toml"
    path.write_text(
        f'[paths]\nlanding = "{landing}"\nwarehouse = "data/warehouse.sqlite"\noutput = "data/output"\n'
        "[quality]\nmin_rejected_rows = 5\n[ingest]\nsettle_seconds = 0\n"
        f'[[alerts]]\nurl = "{hook.url}"\n[carrier_aliases]\n{aliases}'
    )
    return path


def run_args(path: Path) -> list[str]:
    return ["backfill", "--config", str(path), "--start", str(DAY - dt.timedelta(days=2)), "--end", str(DAY)]


def result(path: Path, hook: Hook) -> dict:
    """What a run leaves: every mart, the rejects, the manifest, the Parquet files' bytes, the notifications."""
    settings = load_settings(path)
    con = connect(settings, read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'lake' "
                "and schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        found = {name: con.execute(f"select * from marts.{name} order by all").fetchall() for name in marts}
        found["rejects"] = con.execute("select * from main.rejects order by all").fetchall()
        found["files"] = con.execute("select * exclude (loaded_at) from raw.files order by all").fetchall()
        found["raw rows"] = [
            con.execute(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("orders", "confirmations", "scans", "catalog")
        ]
    finally:
        con.close()
    out = settings.output
    found["parquet"] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}
    found["notifications"] = sorted(m["title"] for m in hook.messages())
    return found


def test_a_run_killed_at_any_point_and_run_again_equals_an_uninterrupted_run(landing, tmp_path):
    hook = Hook()
    try:
        reference_config = config(tmp_path / "reference", landing, hook)
        done = subprocess.run(
            [sys.executable, KILLPOINT, "count", "0", *run_args(reference_config)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**_env(), "KILLPOINT_BATCH_BYTES": SMALL_BATCHES},
        )
        assert done.returncode == 0, done.stderr
        counts = dict(re.findall(r"(\w+)=(\d+)", done.stderr.splitlines()[-1]))
        reference = result(reference_config, hook)
        assert any(t.startswith("Data quality") for t in reference["notifications"])
        assert reference["rejects"] and "mart_vtr_snapshots" in reference
        assert [f for f in reference["files"] if f[3] == "orders/a_first_report_cp1252.txt"][0][1] < [
            f for f in reference["files"] if f[2] == "orders" and f[3].startswith("orders/orders_")
        ][0][1]

        before_outputs, parquet = int(counts["commits_before_outputs"]), int(counts["parquet"])
        assert before_outputs >= 10  # small batches: many commits to kill at
        ingest_commits = before_outputs - 1  # the last one before the outputs publishes the marts
        points = sorted(
            {("inside-commit", k) for k in _spread(1, before_outputs, 8)}
            | {("after-commit", k) for k in _spread(1, before_outputs, 8)}
            | {("after-commit", ingest_commits)}  # killed after ingest: the re-run decides the same
            | {("inside-commit", 2)}  # the cp1252 report's batch, before the UTF-8 reports'
            | {("parquet", k) for k in _spread(1, parquet, 3)}
        )
        assert len(points) >= 20
        with ThreadPoolExecutor(max_workers=2) as pool:  # two trials at a time, each its own lake and webhook
            differences = [
                d for found in pool.map(lambda p: _trial(landing, tmp_path, reference, *p), points) for d in found
            ]
        assert differences == []
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def _trial(landing: Path, tmp_path: Path, reference: dict, kind: str, at: int) -> list[str]:
    """Kill a run at one point, run it again, and name what differs from the reference."""
    hook = Hook()
    try:
        trial = config(tmp_path / f"{kind}-{at}", landing, hook)
        killed = subprocess.run(
            [sys.executable, KILLPOINT, kind, str(at), *run_args(trial)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**_env(), "KILLPOINT_BATCH_BYTES": SMALL_BATCHES},
        )
        assert killed.returncode == -9, (kind, at, killed.stderr[-2000:])
        again = subprocess.run([VTR, *run_args(trial)], capture_output=True, text=True, timeout=300, env=_env())
        assert again.returncode == 0, (kind, at, again.stderr[-2000:])
        got = result(trial, hook)
    finally:
        hook.server.shutdown()
        hook.server.server_close()
    shutil.rmtree(tmp_path / f"{kind}-{at}")
    return [f"{kind} {at}: {key}" for key in reference if got[key] != reference[key]]


def _spread(first: int, last: int, count: int) -> set[int]:
    """About `count` points from first to last, both included."""
    step = max(1, (last - first) // max(1, count - 1))
    return set(range(first, last + 1, step)) | {last}


def _env() -> dict:
    import os

    return {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "VTR_ALERT_BACKOFF_SECONDS": "0.01",
    }
