"""Data-quality checks over a seller's build in scratch, each returning the offending rows.

Generated from each model's declarations (unique grain, not-null columns, accepted values: level fail), run as
the model is built, and the assertions in sql/checks/*.sql, each declaring its level, run after the build. A `fail`
check withholds the seller's publication; it reads only the build's inputs and results, so the same inputs fail it
again on every retry and re-run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.alerts.planning import QUALITY_KEY_TEMPLATE
from pipeline.contract import CheckLevel
from pipeline.lake import SCRATCH
from pipeline.models import Model, sql_params
from pipeline.settings import Settings

CHECKS_DIR = Path(__file__).resolve().parent.parent / "sql" / "checks"
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class CheckResult:
    name: str
    level: CheckLevel
    offending_rows: int
    sample: list[tuple[Any, ...]]

    @property
    def passed(self) -> bool:
        return self.offending_rows == 0

    def describe(self) -> str:
        return f"{self.name}: {self.offending_rows} row(s), e.g. {self.sample[0]}" if self.sample else self.name


def model_checks(model: Model) -> dict[str, str]:
    """check name -> SQL returning the offending rows, from the model's declarations."""
    grain = ", ".join(model.grain)
    checks = {
        f"{model.name}_unique_grain": (
            f"select {grain}, count(*) as copies from {model.table} group by all having count(*) > 1"
        )
    }
    if model.not_null:
        nulls = " or ".join(f"{c} is null" for c in model.not_null)
        checks[f"{model.name}_not_null"] = f"select {grain} from {model.table} where {nulls}"
    for column, values in model.accepted.items():
        listed = ", ".join(f"'{v}'" for v in values)
        checks[f"{model.name}_accepted_{column}"] = (
            f"select {column}, count(*) as rows from {model.table} where {column} not in ({listed}) group by all"
        )
    return checks


def _level(sql: str, path: Path) -> CheckLevel:
    match = re.search(r"^-- level: (\w+)$", sql, re.MULTILINE)
    if not match:
        raise ValueError(f"{path}: declare '-- level: fail' or '-- level: warn'")
    return CheckLevel(match.group(1))


def check_model(con: duckdb.DuckDBPyConnection, model: Model) -> list[CheckResult]:
    """The checks a model's declarations give, run on its table in scratch (level fail)."""
    return [_result(con, name, CheckLevel.FAIL, sql, {}) for name, sql in model_checks(model).items()]


def run_assertions(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: dt.date, end: dt.date
) -> list[CheckResult]:
    """The assertions of sql/checks/*.sql, each at its declared level, over the build in scratch."""
    con.execute(f"use {SCRATCH}")
    values = {
        "start_date": start,
        "end_date": end,
        "max_reject_share": settings.max_reject_share,
        "min_rejected_rows": settings.min_rejected_rows,
        "quality_alert_key": QUALITY_KEY_TEMPLATE,
    }
    results = []
    for path in sorted(CHECKS_DIR.glob("*.sql")):
        sql = path.read_text()
        results.append(_result(con, path.stem, _level(sql, path), sql, values))
    return results


def _result(
    con: duckdb.DuckDBPyConnection, name: str, level: CheckLevel, sql: str, values: dict[str, Any]
) -> CheckResult:
    rows = con.execute(sql, sql_params(sql, values)).fetchall()
    return CheckResult(name, level, len(rows), rows[:SAMPLE_ROWS])
