"""One pipeline run, end to end: ingest, models, outputs, and the summary an operator reads."""

from __future__ import annotations

import datetime as dt
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.checks import CheckResult, last_file_id, run_checks
from pipeline.db import connect
from pipeline.formatting import percent
from pipeline.ingest import FileResult, ingest
from pipeline.models import build_models
from pipeline.outputs import publish
from pipeline.report import write_report
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@contextmanager
def _step(name: str):
    started = time.perf_counter()
    yield
    log.info("%s done in %.1f s", name, time.perf_counter() - started)


@dataclass
class RunSummary:
    start: dt.date
    end: dt.date
    files: list[FileResult] = field(default_factory=list)
    overall: list[tuple] = field(default_factory=list)  # seller, marketplace, window, total, valid, vtr, status
    held_confirmations: int = 0
    uncategorized_items: int = 0
    failed_checks: list[CheckResult] = field(default_factory=list)
    published: bool = False
    report: Path | None = None

    @property
    def failed_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def render(self) -> str:
        loaded = [f for f in self.files if f.status == "loaded"]
        skipped = sum(f.status == "skipped" for f in self.files)
        dates = self.start.isoformat() if self.start == self.end else f"{self.start} .. {self.end}"
        lines = [
            f"VTR snapshot {dates}",
            f"files: {len(loaded)} loaded, {skipped} skipped (already loaded), {len(self.failed_files)} failed;"
            f" rows: {sum(f.rows_loaded for f in loaded)} loaded, {sum(f.rows_rejected for f in loaded)} rejected",
            f"held confirmations (order not arrived yet): {self.held_confirmations};"
            f" items not in the catalog (counted as Uncategorized): {self.uncategorized_items}",
        ]
        for f in self.failed_files:
            lines.append(f"FAILED {f.seller_id} {f.file}: {f.message}")
        for c in self.failed_checks:
            lines.append(f"CHECK FAILED {c.name}: {c.offending_rows} row(s), e.g. {c.sample[0]}")
        if not self.published:
            lines.append("outputs NOT published: a data-quality check failed")
        lines.append("")
        lines.append(f"{'seller':<14} {'marketplace':<14} {'window':>6} {'packages':>9} {'valid':>9} {'VTR':>8}  status")
        for seller, marketplace, window, total, valid, vtr, status in self.overall:
            rate = percent(vtr)
            lines.append(f"{seller:<14} {marketplace:<14} {window:>5}d {total:>9} {valid:>9} {rate:>8}  {status}")
        return "\n".join(lines)


def summarise(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> RunSummary:
    """Fill the summary's figures from the warehouse: the overall VTR of the last date, held and uncategorized counts."""
    summary.overall = con.execute(
        """select seller_id, marketplace, window_days, packages_total, packages_valid, vtr, status
        from marts.mart_vtr_snapshots
        where snapshot_date = ? and scope = 'overall'
        order by seller_id, marketplace, window_days""",
        [summary.end],
    ).fetchall()
    summary.held_confirmations = con.execute("select count(*) from intermediate.int_confirmations_held").fetchone()[0]
    summary.uncategorized_items = con.execute(
        "select coalesce(sum(uncategorized_item_count), 0) from marts.fct_packages").fetchone()[0]
    return summary


def run(settings: Settings, start: dt.date, end: dt.date | None = None) -> RunSummary:
    """Ingest every new file, build the models for the snapshot dates start..end, check them and publish
    their partitions; a failed data-quality check leaves the outputs unpublished (summary.failed_checks)."""
    end = end or start
    summary = RunSummary(start, end)
    # one connection a step, as the DAG's tasks do: the writer closes before the checks read what it committed
    con = connect(settings)
    try:
        loaded_after = last_file_id(con)
        with _step("ingest"):
            summary.files = ingest(con, settings)
        with _step("models"):
            build_models(con, settings, start, end)
    finally:
        con.close()
    con = connect(settings, read_only=True)
    try:
        with _step("checks"):
            summary.failed_checks = [c for c in run_checks(con, settings, start, end, loaded_after) if not c.passed]
        if not summary.failed_checks:
            with _step("outputs"):
                publish(con, settings, start, end)
            summary.published = True
            with _step("report"):
                summary.report = write_report(settings, end)
        return summarise(con, summary)
    finally:
        con.close()
