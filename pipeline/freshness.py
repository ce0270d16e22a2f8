"""Whether a seller's daily feeds delivered the day's files, and until when a scheduled run waits for them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pipeline.contract import DAILY_FEEDS
from pipeline.ingest.files import feed_files
from pipeline.settings import Settings

_DATE_IN_NAME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def _file_day(path: Path) -> dt.date:
    """The day a file is for: the date in its name, else the day it was written (UTC)."""
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()


def stale_feeds(settings: Settings, seller_id: str, snapshot_date: dt.date) -> list[str]:
    """The seller's daily feeds with no file for the snapshot date (named for it, or written on or after it); a file
    still being written is not delivered yet, and a name never read (junk, a partial copy) never is."""
    return [
        feed
        for feed in DAILY_FEEDS
        if not any(
            _file_day(f.path) >= snapshot_date
            for f in feed_files(settings, seller_id, feed)
            if f.refusal is None and not f.settling
        )
    ]


def wait_deadline(settings: Settings, snapshot_date: dt.date) -> dt.datetime:
    """Files for D are awaited until D + 1 day 00:00 UTC plus wait_for_files_minutes."""
    day_end = dt.datetime.combine(snapshot_date + dt.timedelta(days=1), dt.time(), dt.UTC)
    return day_end + dt.timedelta(minutes=settings.wait_for_files_minutes)
