"""The runner and the Parquet outputs (spec sections 4, 6 and 7): backfill = daily runs, re-runs are byte-identical."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from helpers.feeds import IN_BOTH, SHIPPED, D, confirmations_tsv, orders_tsv, query, scans_csv
from pipeline import lake, models
from pipeline.lake import connect
from pipeline.models import build_models, load_models
from pipeline.outputs import DATASETS, partition_file
from pipeline.run import run

COLUMNS = {
    "packages": [  # the spec's columns in its order, then the package's id, items and skus
        "seller_id",
        "marketplace",
        "order_id",
        "tracking_number",
        "carrier",
        "ship_method",
        "ship_date",
        "promised_delivery_date",
        "categories",
        "status",
        "reason",
        "package_id",
        "order_item_ids",
        "skus",
    ],
    "vtr_snapshots": [
        "seller_id",
        "marketplace",
        "window_days",
        "scope",
        "scope_value",
        "window_start",
        "window_end",
        "packages_total",
        "packages_valid",
        "vtr",
        "target",
        "status",
        "packages_exempt",  # the spec's last column (issue 17)
    ],
    "category_report": [
        "seller_id",
        "marketplace",
        "category",
        "window_days",
        "packages_total",
        "packages_valid",
        "vtr",
        "invalid_missing_tracking",
        "invalid_carrier_not_integrated",
        "invalid_no_carrier_events",
        "invalid_pre_transit_only",
        "invalid_scan_before_ship_date",
    ],
    "invalid_packages": [
        "seller_id",
        "marketplace",
        "order_id",
        "tracking_number",
        "carrier",
        "ship_date",
        "promised_delivery_date",
        "categories",
        "reason",
        "package_id",
        "order_item_ids",
        "skus",
    ],
    "at_risk_packages": [
        "seller_id",
        "marketplace",
        "order_id",
        "tracking_number",
        "carrier",
        "ship_date",
        "promised_delivery_date",
        "categories",
        "reason",
        "days_since_ship",
        "fix_by_date",
        "package_id",
        "order_item_ids",
        "skus",
    ],
    "reason_summary": ["seller_id", "marketplace", "window_days", "reason", "packages"],
}
MARTS = (
    "mart_vtr_snapshots",
    "mart_category_report",
    "mart_invalid_packages",
    "mart_at_risk_packages",
    "mart_reason_summary",
)
DAYS = [D + dt.timedelta(days=n) for n in range(5)]


def drop_sample(project):
    """Two accounts, packages promised across the days' windows, scans arriving day by day."""
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nTOY1,Toys\nBOOK1,Books\n")
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(
            ("B1", "B1-1", "TOY1", "2026-10-31"),
            ("B1", "B1-2", "BOOK1", "2026-10-31"),
            ("B2", "B2-1", "TOY1", IN_BOTH),
            ("B3", "B3-1", "BOOK1", "2026-11-08"),
            ("B4", "B4-1", "TOY1", "2026-11-09", "Amazon.de"),
            ("B5", "B5-1", "NOPE", "2026-11-10"),
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("B1", "", SHIPPED, "UPS", "", "TB1"),
            ("B2", "B2-1", SHIPPED, "DHL", "", "TB2"),
            ("B3", "B3-1", SHIPPED, "UPS", "", ""),
            ("B4", "B4-1", SHIPPED, "Other", "Budbee", "TB4"),
            ("B5", "B5-1", SHIPPED, "UPS", "", "TB5"),
        ),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(
            ("TB1", "2026-11-20T12:00:00Z", "in_transit"),
            ("TB2", "2026-11-21T10:00:00Z", "pre_transit"),
            ("TB2", "2026-11-23T00:30:00+01:00", "in_transit"),  # 2026-11-22T23:30Z
            ("TB5", "2026-11-24T00:00:00Z", "delivered"),
        ),
    )


def mart_rows(project) -> dict[str, list[tuple]]:
    con = connect(project.settings(), read_only=True)
    try:
        return {m: con.execute(f"select * from marts.{m} order by all").fetchall() for m in MARTS}
    finally:
        con.close()


def drop_warehouse(settings) -> None:
    """Delete the lake: its catalog file (with SQLite's journal files) and its data folder."""
    for path in settings.warehouse.parent.glob(settings.warehouse.name + "*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(settings.lake_data_path, ignore_errors=True)


def output_files(project) -> dict[str, bytes]:
    """The Parquet datasets' files (the HTML report is written for a run's last date only)."""
    out = project.settings().output
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def test_backfill_over_a_range_equals_single_runs_date_by_date(project, monkeypatch):
    """A backfill with the models' declared batches, and one whose batched marts are built 2 dates at a time, give
    the rows and files of single runs date by date."""
    drop_sample(project)
    settings = project.settings()
    declared = models.load_models

    def batched_by_2():
        return [dataclasses.replace(m, batch=2) if m.batch else m for m in declared()]

    backfills = []
    for models_of_the_run in (declared, batched_by_2):
        monkeypatch.setattr(models, "load_models", models_of_the_run)
        run(settings, DAYS[0], DAYS[-1])
        backfills.append((mart_rows(project), output_files(project)))
        drop_warehouse(settings)
        shutil.rmtree(settings.output)
    monkeypatch.setattr(models, "load_models", declared)

    for day in DAYS:
        run(settings, day)

    single, single_files = mart_rows(project), output_files(project)
    for rows, files in backfills:
        assert rows == single
        assert files == single_files
    assert sorted(single_files) == sorted(
        f"{name}/snapshot_date={day}/acme.parquet" for name in DATASETS for day in DAYS
    )
    # the days differ (windows move, scans arrive), so the comparison means something
    overall_7 = [
        (r[0], r[8], r[9]) for r in single["mart_vtr_snapshots"] if r[1:6] == ("acme", "Amazon.se", 7, "overall", None)
    ]
    assert overall_7 == [(DAYS[0], 2, 1), (DAYS[1], 1, 0), (DAYS[2], 2, 1), (DAYS[3], 2, 1), (DAYS[4], 3, 2)]


def test_a_rerun_gives_byte_identical_files_and_replaces_the_partition(project):
    drop_sample(project)
    settings = project.settings()
    run(settings, D)
    first = output_files(project)

    run(settings, D)
    assert output_files(project) == first

    # a correction arrives: the re-run replaces the partition whole, leaving one file and no temporary files
    project.drop("acme", "confirmations", "conf_2.txt", confirmations_tsv(("B2", "B2-1", SHIPPED, "UPS", "", "TB1")))
    run(settings, D)
    after = output_files(project)
    assert sorted(after) == sorted(first)
    assert after != first
    for name in DATASETS:
        assert [p.name for p in partition_file(settings, name, D, "acme").parent.iterdir()] == ["acme.parquet"]
    table = pq.read_table(partition_file(settings, "vtr_snapshots", D, "acme"))
    rows = [r for r in table.to_pylist() if r["scope"] == "overall" and r["marketplace"] == "Amazon.se"]
    assert [(r["window_days"], r["packages_total"], r["packages_valid"]) for r in rows] == [(7, 2, 2), (30, 2, 2)]


def test_output_columns_are_the_contracts_in_order_and_snapshot_date_comes_from_the_path(project):
    drop_sample(project)
    settings = project.settings()
    run(settings, D)

    for name, columns in COLUMNS.items():
        assert pq.read_schema(partition_file(settings, name, D, "acme")).names == columns
        dataset = ds.dataset(settings.output / name, format="parquet", partitioning="hive")
        assert dataset.to_table().column("snapshot_date").to_pylist()[0] in (D, D.isoformat())

    invalid = pq.read_table(partition_file(settings, "invalid_packages", D, "acme")).to_pylist()
    package_ids = [row.pop("package_id") for row in invalid]
    assert invalid == [
        {
            "seller_id": "acme",
            "marketplace": "Amazon.se",
            "order_id": "B2",
            "tracking_number": "TB2",
            "carrier": "DHL",
            "ship_date": dt.date(2026, 11, 2),
            "promised_delivery_date": dt.date(2026, 11, 5),
            "categories": ["Toys"],
            "reason": "no_carrier_events",
            "order_item_ids": ["B2-1"],
            "skus": ["TOY1"],
        },
    ]
    assert package_ids == [
        r[0]
        for r in query(
            project,
            "select package_id from marts.mart_invalid_packages where order_id = 'B2' and snapshot_date = ?",
            [D],
        )
    ]
    at_risk = pq.read_table(partition_file(settings, "at_risk_packages", D, "acme")).to_pylist()
    assert [(r["order_id"], r["reason"], r["order_item_ids"], r["skus"]) for r in at_risk] == [
        ("B4", "carrier_not_integrated", ["B4-1"], ["TOY1"]),  # Amazon.de first, then by fix-by date
        ("B3", "missing_tracking", ["B3-1"], ["BOOK1"]),
        ("B5", "no_carrier_events", ["B5-1"], ["NOPE"]),
    ]
    summary = pq.read_table(partition_file(settings, "reason_summary", D, "acme")).to_pylist()
    assert [tuple(r.values()) for r in summary] == [
        ("acme", "Amazon.se", 7, "no_carrier_events", 1),
        ("acme", "Amazon.se", 30, "no_carrier_events", 1),
    ]
    snapshots = pq.read_table(partition_file(settings, "vtr_snapshots", D, "acme")).to_pylist()
    assert snapshots[0] == {
        "seller_id": "acme",
        "marketplace": "Amazon.de",
        "window_days": 7,
        "scope": "overall",
        "scope_value": None,
        "window_start": dt.date(2026, 10, 31),
        "window_end": dt.date(2026, 11, 6),
        "packages_total": 0,
        "packages_valid": 0,
        "vtr": None,
        "target": 0.95,
        "status": "no_packages",
        "packages_exempt": 0,
    }


def test_every_mart_and_model_column_is_documented(project):
    drop_sample(project)
    settings = project.settings()
    run(settings, D)
    con = connect(settings, read_only=True)
    try:
        # the published marts in the lake carry their model's comments
        undocumented = con.execute("""
            select table_name || '.' || column_name from duckdb_columns()
            where database_name = 'lake' and schema_name = 'marts' and coalesce(comment, '') = ''""").fetchall()
        tables = con.execute("""select table_name, comment from duckdb_tables()
                                where database_name = 'lake' and schema_name = 'marts'""").fetchall()
        # every model's columns, as built, are the ones its header documents
        build_models(con, settings, "acme", D, D)
        built = {m.name: [r[0] for r in con.execute(f"describe {m.table}").fetchall()] for m in load_models()}
    finally:
        con.close()
    assert undocumented == []
    assert sorted(t for t, comment in tables if comment) == sorted(
        m.name for m in load_models() if m.kind == "snapshot"
    )
    assert {m.name: sorted(m.column_docs) for m in load_models()} == {name: sorted(c) for name, c in built.items()}


def test_two_sellers_publish_side_by_side_in_a_dates_partition(project):
    drop_sample(project)
    project.add_seller("zeta")
    project.drop("zeta", "orders", "orders.txt", orders_tsv(("Z1", "Z1-1", "TOY1", IN_BOTH)))
    project.drop("zeta", "confirmations", "conf.txt", confirmations_tsv(("Z1", "Z1-1", SHIPPED, "UPS", "", "TZ1")))
    settings = project.settings()
    run(settings, D)

    folder = settings.output / "vtr_snapshots" / f"snapshot_date={D}"
    assert sorted(p.name for p in folder.iterdir()) == ["acme.parquet", "zeta.parquet"]
    rows = ds.dataset(settings.output / "vtr_snapshots", format="parquet", partitioning="hive").to_table().to_pylist()
    assert {r["seller_id"] for r in rows} == {"acme", "zeta"}
    zeta = [r for r in rows if r["seller_id"] == "zeta" and r["scope"] == "overall"]
    assert [(r["window_days"], r["packages_total"], r["packages_valid"]) for r in zeta] == [(7, 1, 0), (30, 1, 0)]

    # a re-run of one seller replaces its own file and leaves the other's bytes alone
    before = (folder / "zeta.parquet").read_bytes()
    project.drop("acme", "scans", "scans_2.csv", scans_csv(("TB2", "2026-11-03T10:00:00Z", "in_transit")))
    run(settings, D, sellers=["acme"])
    assert (folder / "zeta.parquet").read_bytes() == before


def test_a_failed_write_keeps_the_old_partition_and_leaves_no_temporary_file(project, monkeypatch):
    import pipeline.outputs

    drop_sample(project)
    settings = project.settings()
    run(settings, D)
    before = output_files(project)

    def broken_write(table, where, **kwargs):
        where.write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pipeline.outputs.pq, "write_table", broken_write)
    summary = run(settings, D)
    assert summary.failures() == ["acme: OSError: disk full"]  # the run ends failed, saying why
    assert output_files(project) == before
    assert not [p for p in settings.output.rglob("*") if p.name.endswith(".tmp")]


def test_a_seller_after_another_in_one_process_publishes_what_it_publishes_alone(project, monkeypatch):
    """A worker process lends its lake connection to one seller after another: nothing of the first seller's build
    reaches the second's files or report, whichever comes first."""
    drop_sample(project)
    project.add_seller("zeta")
    project.drop("zeta", "orders", "orders.txt", orders_tsv(("Z1", "Z1-1", "TOY1", IN_BOTH)))
    project.drop("zeta", "confirmations", "conf.txt", confirmations_tsv(("Z1", "Z1-1", SHIPPED, "UPS", "", "TZ1")))
    settings = project.settings()
    run(settings, D)  # acme, then zeta on the connection acme's chain used

    def published() -> dict[str, bytes]:
        files = [p for p in settings.output.rglob("*") if p.is_file() and "index.html" not in p.name]
        return {p.relative_to(settings.output).as_posix(): p.read_bytes() for p in files}

    together = published()
    assert any("zeta" in name for name in together) and any("acme" in name for name in together)
    for seller in ("zeta", "acme"):
        monkeypatch.setattr(lake, "_workers", {})  # as a fresh process: a connection of its own
        run(settings, D, sellers=[seller])
        assert published() == together


def test_vtr_maintain_removes_a_killed_writers_temporary_files_after_a_day(project, capsys):
    import os
    import subprocess
    import sys
    import time

    from pipeline.cli import main

    drop_sample(project)
    settings = project.settings()
    run(settings, D)
    target = partition_file(settings, "vtr_snapshots", D, "acme")
    killed = (  # a writer killed in the middle of the file: its temporary file stays behind
        "import os, sys; from pathlib import Path; from pipeline.outputs import replace_file;"
        " replace_file(Path(sys.argv[1]), lambda tmp: (tmp.write_bytes(b'PAR1 half'), os.kill(os.getpid(), 9)))"
    )
    for _ in range(2):
        assert subprocess.run([sys.executable, "-c", killed, str(target)]).returncode == -9
    old, new = sorted(target.parent.glob(".acme.parquet.*.tmp"))
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    foreign = target.parent / "notes.tmp"  # not the product's own name: never touched
    foreign.write_text("an analyst's")
    os.utime(foreign, (two_days_ago, two_days_ago))

    assert main(["maintain", "--config", str(project.config)]) == 0
    assert "temporary files left by killed writers removed: 1" in capsys.readouterr().out
    assert not old.exists() and new.exists() and foreign.exists()  # a younger one may be a writer at work
    assert pq.read_table(target).num_rows > 0  # the published file is untouched
