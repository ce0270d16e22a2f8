"""Lake maintenance (`vtr maintain`, and the DAG `vtr_maintenance`): merge the small files every run adds, expire
snapshots older than `[warehouse] retention_days`, and delete the files no kept snapshot reads. Readers go on: a
session reads the snapshot it started on, and only files of snapshots past the retention are deleted."""

from __future__ import annotations

import datetime as dt
import logging

from pipeline import lake
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def maintain(settings: Settings, now: dt.datetime | None = None) -> dict:
    """Compact, expire and clean the lake; returns the data files and snapshots before and after."""
    horizon = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=settings.retention_days)
    con = lake.connect(settings)
    try:
        before = _counts(con)
        steps = [
            ("flush inlined rows", "call ducklake_flush_inlined_data('lake')"),
            ("merge small files", "call ducklake_merge_adjacent_files('lake')"),
            ("expire old snapshots", "call ducklake_expire_snapshots('lake', older_than => ?)"),
            ("delete unreferenced files", "call ducklake_cleanup_old_files('lake', older_than => ?)"),
            ("delete orphaned files", "call ducklake_delete_orphaned_files('lake', older_than => ?)"),
        ]
        for what, sql in steps:
            params = [horizon] if "?" in sql else []
            lake.write(con, settings, lambda c, sql=sql, params=params: c.execute(sql, params).fetchall(), what=what)
            log.info("maintenance: %s done", what)
        after = _counts(con)
    finally:
        con.close()
    return {"before": before, "after": after, "expired_before": horizon.isoformat(timespec="seconds")}


def _counts(con) -> dict:
    files = con.execute("select count(*) from ducklake_list_files('lake', 'orders', schema => 'raw')").fetchone()[0]
    data_files = sum(con.execute(f"select count(*) from ducklake_list_files('lake', '{t}', schema => '{s}')")
                     .fetchone()[0] for s, t in con.execute(
                         "select schema_name, table_name from duckdb_tables() where database_name = 'lake'").fetchall())
    snapshots = con.execute("select count(*) from lake.snapshots()").fetchone()[0]
    return {"data_files": data_files, "raw_orders_files": files, "snapshots": snapshots}
