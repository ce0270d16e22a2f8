"""The values the steps of pipeline/steps.py hand each other: the run's plan, a seller's wait and a seller's result.

TypedDicts, so they stay plain dicts at run time: Airflow passes them between tasks as XCom (JSON), and
pipeline/summary.py reads them back the same from either driver.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict


class Plan(TypedDict):
    """A resolved run (steps.plan): its settings file, snapshot dates (ISO), sellers and what it may do."""

    config: str
    start: str
    end: str
    sellers: list[str]
    full_rebuild: bool
    notify: bool


class Wait(TypedDict):
    """One look at a seller's feeds (steps.wait_for_files)."""

    seller_id: str
    stale: list[str]  # daily feeds with no file for the last date
    deadline: str  # UTC, ISO to the minute: when the run stops waiting for them


class FileRecord(TypedDict):
    """A file ingest read or refused (pipeline/ingest/load.py FileResult, its status as text)."""

    seller_id: str
    feed: str
    file: str
    status: str  # a contract.FileStatus value
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    message: str


class SellerResult(TypedDict, total=False):
    """A seller's chain (steps.run_seller); a chain that broke before it could say more has only `seller_id` and
    `error`. Keys after `published` exist when it published."""

    seller_id: Required[str]
    error: str  # why its chain failed
    # per marketplace and window, the last date's overall row: marketplace, window_days, packages_total,
    # packages_valid, vtr, status
    overall: list[list[Any]]
    verdicts: dict[str, dict[str, Any]]  # marketplace -> pipeline/verdict.py verdict
    held_confirmations: int
    uncategorized_items: int
    stale: list[str]
    files: list[FileRecord]  # every file that was not unchanged
    failed_checks: list[str]
    warnings: list[str]
    quality_files: list[list[Any]]  # raw_files_many_rejects sample rows, for the data-quality notification
    incomplete: list[str]  # files that could not be read: it published from what loaded
    published: bool
    files_written: int
    fix_files: list[str]
    reports: list[str]
