"""Lake maintenance (`vtr maintain`, and the DAG `vtr_maintenance`): merge the small files every run adds, expire
snapshots older than `[warehouse] retention_days`, and delete the files no kept snapshot reads. Readers go on: a
session reads the snapshot it started on, and only files of snapshots past the retention are deleted. Under the
outputs, the temporary files a killed writer left (pipeline/outputs.py's own names) go after a day; the lake's data
path is DuckLake's to clean (its orphaned files, below)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from typing import Any

import duckdb

from pipeline import lake, outputs
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def maintain(settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Merge small files, expire snapshots older than the retention and delete the files nothing reads any more;
    returns the live data files and snapshots before and after."""
    now = now or dt.datetime.now(dt.UTC)
    horizon = now - dt.timedelta(days=settings.retention_days)
    leftovers = outputs.remove_temporary_files(settings.output, now - dt.timedelta(days=1))
    for path in leftovers:
        log.info("maintenance: removed %s, a killed writer's temporary file", path)
    steps = [
        ("merge small files", "call ducklake_merge_adjacent_files('lake')", []),
        ("expire old snapshots", "call ducklake_expire_snapshots('lake', older_than => ?)", [horizon]),
        # files only expired snapshots read: a day's grace for a session still reading one
        (
            "delete unreferenced files",
            "call ducklake_cleanup_old_files('lake', older_than => ?)",
            [now - dt.timedelta(days=1)],
        ),
        # files no commit registered (a killed writer's); a running writer's files are younger than the horizon
        ("delete orphaned files", "call ducklake_delete_orphaned_files('lake', older_than => ?)", [horizon]),
    ]
    con = lake.connect(settings)
    try:
        before = _counts(con)
        for what, sql, params in steps:
            lake.write(con, settings, functools.partial(_call, sql=sql, params=params), what=what)
            log.info("maintenance: %s done", what)
        after = _counts(con)
    finally:
        con.close()
    return {
        "before": before,
        "after": after,
        "expired_before": horizon.isoformat(timespec="seconds"),
        "temporary_files_removed": len(leftovers),
    }


def _call(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]) -> object:
    return con.execute(sql, params).fetchall()


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The lake's live data files and its snapshots, from its catalog."""
    return {
        "data_files": con.execute(
            "select count(*) from __ducklake_metadata_lake.ducklake_data_file where end_snapshot is null"
        ).fetchall()[0][0],
        "snapshots": con.execute("select count(*) from lake.snapshots()").fetchall()[0][0],
    }
