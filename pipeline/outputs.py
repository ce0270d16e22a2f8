"""Outputs: the Parquet datasets of spec section 4, one file per seller inside each snapshot date's partition,
`<output>/<dataset>/snapshot_date=D/<seller_id>.parquet`, each replaced atomically, so sellers publish side by side."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.contract import file_part
from pipeline.lake import SCRATCH
from pipeline.models import DATES_PER_STATEMENT, date_ranges
from pipeline.settings import Settings

ROWS_PER_BATCH = 100_000  # the rows of a date arrive in batches; one date's rows are held in Python

# dataset -> the query giving its columns, in the contract's order (spec section 7; columns beyond the spec's come after
# them), after the snapshot date (the partition key, not stored in the files); it reads the seller's build in scratch.
DATASETS = {
    "vtr_snapshots": """
        select snapshot_date, seller_id, marketplace, window_days, scope, scope_value, window_start, window_end,
               packages_total, packages_valid, vtr, target, status, packages_exempt
        from marts.mart_vtr_snapshots
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, window_days, scope, scope_value nulls first""",
    "category_report": """
        select snapshot_date, seller_id, marketplace, category, window_days, packages_total, packages_valid, vtr,
               invalid_missing_tracking, invalid_carrier_not_integrated, invalid_no_carrier_events,
               invalid_pre_transit_only, invalid_scan_before_ship_date
        from marts.mart_category_report
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, category, window_days""",
    "invalid_packages": """
        select snapshot_date, seller_id, marketplace, order_id, tracking_number, carrier, ship_date,
               promised_delivery_date, categories, reason, package_id, order_item_ids, skus
        from marts.mart_invalid_packages
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, promised_delivery_date, order_id, tracking_number nulls first,
                 package_id""",
    "at_risk_packages": """
        select snapshot_date, seller_id, marketplace, order_id, tracking_number, carrier, ship_date,
               promised_delivery_date, categories, reason, days_since_ship, fix_by_date, package_id, order_item_ids,
               skus
        from marts.mart_at_risk_packages
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, fix_by_date, order_id, tracking_number nulls first,
                 package_id""",
    "projected_vtr": """
        select snapshot_date, seller_id, marketplace, window_days, scope, scope_value, window_start, window_end,
               final_on, packages_total, packages_valid_now, packages_at_risk, projected_vtr, target, status
        from marts.mart_projected_vtr
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, window_days, scope, scope_value nulls first""",
    "carrier_performance": """
        select snapshot_date, seller_id, marketplace, carrier, window_days, packages_total, packages_invalid,
               share_of_invalid, packages_scanned, median_days_to_first_scan, p90_days_to_first_scan
        from marts.mart_carrier_performance
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, carrier""",
    "reason_summary": """
        select snapshot_date, seller_id, marketplace, window_days, reason, packages
        from marts.mart_reason_summary
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, window_days, reason""",
    "packages": """
        select snapshot_date, seller_id, marketplace, order_id, tracking_number, carrier, ship_method, ship_date,
               promised_delivery_date, categories, status, reason, package_id, order_item_ids, skus
        from marts.mart_packages
        where snapshot_date between $start_date and $end_date
        order by snapshot_date, seller_id, marketplace, promised_delivery_date, order_id, tracking_number nulls first,
                 package_id""",
}


def partition_file(settings: Settings, dataset: str, snapshot_date: dt.date, seller_id: str) -> Path:
    """<output>/<dataset>/snapshot_date=D/<seller_id>.parquet, the seller id encoded as a file name (contract)."""
    return settings.output / dataset / f"snapshot_date={snapshot_date.isoformat()}" / f"{file_part(seller_id)}.parquet"


def publish(
    con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, start: dt.date, end: dt.date
) -> list[Path]:
    """Write the seller's file of each dataset for every date in start..end from its build in scratch; a reader sees
    the old file or the new, never half."""
    con.execute(f"use {SCRATCH}")
    written = []
    for first, last in date_ranges(start, end, DATES_PER_STATEMENT):
        for dataset, query in DATASETS.items():
            reader = con.execute(query, {"start_date": first, "end_date": last}).to_arrow_reader(ROWS_PER_BATCH)
            dated = _tables_by_date(reader)
            held = next(dated, None)
            for day in (first + dt.timedelta(days=n) for n in range((last - first).days + 1)):
                table = reader.schema.empty_table()
                if held is not None and held[0] == day:
                    table, held = held[1], next(dated, None)
                target = partition_file(settings, dataset, day, seller_id)
                written.append(_replace(target, table.drop_columns("snapshot_date")))
    return written


def _tables_by_date(reader: pa.RecordBatchReader) -> Iterator[tuple[dt.date, pa.Table]]:
    """The rows of each snapshot date from a reader ordered by snapshot_date; held one date at a time."""
    pieces = (
        (day, batch.filter(pc.equal(batch.column("snapshot_date"), day)))
        for batch in reader
        for day in pc.unique(batch.column("snapshot_date")).to_pylist()
    )
    for day, same_day in itertools.groupby(pieces, key=lambda piece: piece[0]):
        yield day, pa.Table.from_batches([batch for _, batch in same_day])


def _replace(target: Path, table: pa.Table) -> Path:
    return replace_file(target, lambda tmp: pq.write_table(table, tmp))


# replace_file's temporary names: ".<target name>." + mkstemp's 8 random characters + ".tmp" (a reader skips them)
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def replace_file(target: Path, write: Callable[[Path], object]) -> Path:
    """Write `target` through `write(temporary path)` beside it, then move it into place: a reader sees the old file
    or the new, never half; writers of one file at once (the reports' index) each use their own temporary file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp's 0600 would hide the file from other users' readers
        os.replace(tmp, target)  # atomic on one file system
    finally:
        tmp.unlink(missing_ok=True)  # a failed write leaves the old file and no half file behind
    return target


def remove_temporary_files(folder: Path, older_than: dt.datetime) -> list[Path]:
    """Delete the temporary files of `replace_file` under `folder` last written before `older_than` (a killed
    writer's; a running writer's are younger); returns them. Nothing else is touched."""
    removed = []
    for path in folder.rglob("*.tmp") if folder.is_dir() else ():
        try:
            if _TEMPORARY.fullmatch(path.name) and path.is_file() and path.stat().st_mtime < older_than.timestamp():
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another maintenance got it first
            continue
    return removed
