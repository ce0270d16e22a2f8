"""The alert log read and written by `send`: per notification and channel, whether it was delivered and how many
times it was sent, over all runs; so a delivered notification is never sent again and one sent `max_attempts` times
without a confirmation is given up.

It lives in the lake (`main.alert_log`, one row per notification and channel each time delivery was tried). When the
lake cannot be opened, read or written (a corrupted catalog, PostgreSQL down, a full disk), the same rows go to a
small file under `paths.output`, which every worker shares (`FALLBACK_FILE`, JSON lines), and both are read back: a
"run failed" sent while the warehouse is down is sent once, not on every retry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
from dataclasses import dataclass
from typing import Any

import duckdb

from pipeline import lake
from pipeline.alerts.planning import Alert
from pipeline.settings import Settings

log = logging.getLogger(__name__)

FALLBACK_FILE = "alert_log_without_warehouse.jsonl"
COLUMNS = (
    "alert_key",
    "kind",
    "seller_id",
    "marketplace",
    "snapshot_date",
    "channel",
    "title",
    "sent_at",
    "delivered",
    "attempts",
    "error",
)


@dataclass
class History:
    delivered: bool = False
    sends: int = 0  # sends that reached the channel, over all runs


class Ledger:
    """The alert log of one `send` call: the lake's when `con` is given and works, else the fallback file."""

    def __init__(self, con: duckdb.DuckDBPyConnection | None, settings: Settings, unavailable: str | None = None):
        self.con, self.settings = con, settings
        self.unavailable = unavailable if con is None else None  # why the lake's log is not used: said in the summary
        self.file = settings.output / FALLBACK_FILE

    def _lost(self, exc: Exception) -> None:
        self.unavailable = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        log.warning("the alert log in the warehouse is unavailable (%s); using %s", self.unavailable, self.file)
        self.con = None

    def history(self, key: str) -> dict[str, History]:
        """channel label -> what the lake's log and the fallback file say of the notification `key`."""
        found: dict[str, History] = {}
        rows: list[Any] = []
        if self.con is not None:
            try:
                rows = self.con.execute(
                    "select channel, delivered, attempts from main.alert_log where alert_key = ?", [key]
                ).fetchall()
            except (duckdb.Error, lake.WarehouseError) as exc:
                self._lost(exc)
        rows += [(r["channel"], r["delivered"], r["attempts"]) for r in self._file_rows() if r["alert_key"] == key]
        for channel, delivered, attempts in rows:
            past = found.setdefault(channel, History())
            past.delivered = past.delivered or bool(delivered)
            past.sends += attempts or 0
        return found

    def record(self, alert: Alert, title: str, tried: list[Any]) -> None:
        """One row per channel tried for the alert (a `Delivery` each), committed at once: a crash loses one alert's
        rows. In the lake; in the fallback file when the lake cannot be written."""
        if not tried:
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            [
                alert.key,
                alert.kind,
                alert.seller_id,
                alert.marketplace,
                alert.snapshot_date,
                d.channel,
                title,
                now,
                d.status == "sent",
                d.attempts,
                d.error,
            ]
            for d in tried
        ]
        if self.con is not None:
            insert = f"insert into main.alert_log ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})"
            try:
                lake.write(self.con, self.settings, lambda c: c.executemany(insert, rows), what="log alert deliveries")
                return
            except (duckdb.Error, lake.WarehouseError) as exc:
                self._lost(exc)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(dict(zip(COLUMNS, row, strict=True)), default=str) + "\n" for row in rows)
        with open(self.file, "a") as f:  # several workers append: one whole write each, under a lock
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(lines)

    def _file_rows(self) -> list[dict[str, Any]]:
        rows = []
        with contextlib.suppress(FileNotFoundError), open(self.file) as f:
            for line in f:
                with contextlib.suppress(ValueError):  # a line a killed writer left half written
                    rows.append(json.loads(line))
        return rows
