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

from helpers.project import ODD_CATEGORY, REPORT_DAY, REPORT_DAYS, REPORT_START, Project
from helpers.receivers import Hook
from pipeline.run import run
from pipeline.settings import load_settings
from vtrdemo.generator import generate

# `make test` runs the slow lane on 2 workers a file at a time (--dist loadfile), the launcher's Airflow and the
# Celery cluster as one unit: two Airflows at once would starve each other on 2 cores. (xdist's loadgroup marks do
# nothing under pytest 9: xdist 3.8 renames a test through an attribute pytest no longer reads.)
ONE_WORKER = {"tests/test_airflow_operator.py": "airflow", "tests/test_cluster.py": "airflow"}


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndAirflows(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return ONE_WORKER.get(file, file)

    return FilesAndAirflows(config, log)


@pytest.fixture
def hook():
    """A webhook endpoint on 127.0.0.1 recording what it receives (helpers/receivers.py)."""
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


@pytest.fixture
def project(tmp_path: Path):
    """A fresh landing/ with seller 'acme' and a settings file; returns a helper object."""
    return Project(tmp_path)


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
