"""Shared fixtures: a landing folder and settings file in a temporary directory."""

from __future__ import annotations

# Airflow reads its configuration at first import: every test in the session shares one AIRFLOW_HOME with SQLite
# metadata in a temporary folder (never ~/airflow), set before anything imports airflow.
import atexit
import pathlib
import shutil
import tempfile

from vtrdemo import airflow_local

_AIRFLOW_HOME = pathlib.Path(tempfile.mkdtemp(prefix="vtr_airflow_"))
airflow_local.prepare(_AIRFLOW_HOME)
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)

from pathlib import Path

import pytest

from pipeline.contract import FEEDS
from pipeline.settings import load_settings


@pytest.fixture
def project(tmp_path: Path):
    """A fresh landing/ with seller 'acme' and a settings file; returns a helper object."""
    return Project(tmp_path)


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
        self.config.write_text(
            '[paths]\nlanding = "landing"\nwarehouse = "data/warehouse.duckdb"\noutput = "data/output"\n' + extra
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
