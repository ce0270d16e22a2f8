"""Data-quality checks: each sql/checks/assert_*.sql returns the offending rows; any row fails the check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.models import sql_params
from pipeline.settings import Settings

CHECKS_DIR = Path(__file__).resolve().parent.parent / "sql" / "checks"


@dataclass(frozen=True)
class CheckResult:
    name: str
    offending_rows: int
    sample: list[tuple]

    @property
    def passed(self) -> bool:
        return self.offending_rows == 0


class QualityCheckFailed(Exception):
    """At least one check found offending rows: the date's outputs must not be published."""


def last_file_id(con: duckdb.DuckDBPyConnection) -> int:
    """The newest loaded file's id; files loaded after it belong to the run about to start."""
    return con.execute("select coalesce(max(file_id), 0) from raw.files").fetchone()[0]


def run_checks(con: duckdb.DuckDBPyConnection, settings: Settings, start: dt.date, end: dt.date,
               loaded_after_file_id: int) -> list[CheckResult]:
    """Run every check for the snapshot dates start..end; returns each check's result."""
    values = {"start_date": start, "end_date": end, "max_reject_share": settings.max_reject_share,
              "loaded_after_file_id": loaded_after_file_id}
    results = []
    for path in sorted(CHECKS_DIR.glob("assert_*.sql")):
        sql = path.read_text()
        rows = con.execute(sql, sql_params(sql, values)).fetchall()
        results.append(CheckResult(path.stem, len(rows), rows[:5]))
    return results


def require_passing(results: list[CheckResult]) -> None:
    failed = [r for r in results if not r.passed]
    if failed:
        detail = "; ".join(f"{r.name}: {r.offending_rows} row(s), e.g. {r.sample[0]}" for r in failed)
        raise QualityCheckFailed(f"data-quality check failed, outputs not published: {detail}")
