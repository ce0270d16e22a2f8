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

import csv
import datetime as dt
from pathlib import Path

import pytest

from pipeline.contract import FEEDS
from pipeline.run import run
from pipeline.settings import load_settings
from vtrdemo.generator import generate


@pytest.fixture
def hook():
    """A webhook endpoint on 127.0.0.1 recording what it receives (test_alerts.Hook)."""
    from test_alerts import Hook

    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


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


@pytest.fixture(scope="session")
def published_outputs(tmp_path_factory):
    """A generated seller (two marketplaces) plus a hand-written one, run for D-2..D (D = REPORT_DAY): outputs,
    reports and fix files written under <root>/output, the lake at <root>/warehouse.sqlite, settings <root>/vtr.toml.
    Returns (settings, the run summary, root)."""
    root = tmp_path_factory.mktemp("report")
    landing = root / "landing"
    generate(
        landing,
        seller_id="nordic-home",
        start=REPORT_START,
        days=REPORT_DAYS,
        packages=4000,
        seed=11,
        aggregator_exports=False,
    )
    tiny = landing / "tiny-shop"
    for feed in ("orders", "confirmations", "scans", "catalog"):
        (tiny / feed).mkdir(parents=True)
    promised, shipped = REPORT_DAY - dt.timedelta(days=16), REPORT_DAY - dt.timedelta(days=18)
    (tiny / "orders" / "orders.txt").write_text(
        "order-id\torder-item-id\tpurchase-date\tsku\tquantity-purchased\titem-price\tcurrency\t"
        "latest-delivery-date\tsales-channel\n"
        f"T-1\t1\t{shipped}T08:00:00Z\tSPA-1\t1\t10.00\tEUR\t{promised}\tAmazon.fr\n"
        f"T-2\t1\t{shipped}T08:00:00Z\tSPA-1\t1\t10.00\tEUR\t{promised}\tAmazon.fr\n"
    )
    (tiny / "confirmations" / "confirmations.txt").write_text(
        "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method\n"
        f"T-1\t1\t1\t{shipped}\tUPS\t\t1Z999AA10123456784\tStandard\n"
        f"T-2\t1\t1\t{shipped}\tUPS\t\t1Z999AA10123456785\tStandard\n"
    )
    (tiny / "scans" / "scans.csv").write_text(
        "tracking_number,carrier,event_time,status,event_code,description,location\n"
        f"1Z999AA10123456784,UPS,{shipped}T15:00:00Z,in_transit,,Departed,Paris\n"
    )
    with (tiny / "catalog" / "catalog.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("sku", "category"), ("SPA-1", ODD_CATEGORY)])

    config = root / "vtr.toml"
    config.write_text(
        '[paths]\nlanding = "landing"\nwarehouse = "warehouse.sqlite"\noutput = "output"\n'
        "[ingest]\nsettle_seconds = 0\n"
    )
    settings = load_settings(config)
    summary = run(settings, REPORT_DAY - dt.timedelta(days=2), REPORT_DAY)
    assert not summary.failures(), summary.render()
    return settings, summary, root
