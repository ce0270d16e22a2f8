"""A project in a temporary folder as the tests use it: a landing folder with seller 'acme' and a settings file
(conftest's `project` fixture), and the dates of the generated project the report tests share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.contract import FEEDS
from pipeline.settings import load_settings


class Project:
    def __init__(self, root: Path):
        self.root = root
        self.landing = root / "landing"
        self.add_seller("acme")
        self.config = root / "vtr.toml"
        self.write_config()

    def add_seller(self, seller_id: str) -> Path:
        for feed in FEEDS:
            (self.landing / seller_id / feed).mkdir(parents=True, exist_ok=True)
        return self.landing / seller_id

    def write_config(self, extra: str = "") -> Path:
        """The settings file: the project's paths, then `extra`; files dropped by a test are read at once (a
        settle time of 0) unless `extra` sets one."""
        settle = "" if "[ingest]" in extra else "\n[ingest]\nsettle_seconds = 0\n"
        self.config.write_text(
            '[paths]\nlanding = "landing"\nwarehouse = "data/warehouse.duckdb"\noutput = "data/output"\n'
            + extra
            + settle
        )
        return self.config

    def drop(self, seller_id: str, feed: str, name: str, content: str | bytes) -> Path:
        """Put a file in a seller's feed folder, as the marketplace or a carrier would."""
        path = self.landing / seller_id / feed / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def settings(self):
        return load_settings(self.config)


REPORT_START = dt.date(2026, 3, 2)
REPORT_DAYS = 24
REPORT_DAY = REPORT_START + dt.timedelta(days=REPORT_DAYS - 1)  # both windows of D hold generated packages
ODD_CATEGORY = "Bath & <Spa>"  # a category name that is also HTML
