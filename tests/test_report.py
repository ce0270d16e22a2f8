"""The HTML report: one self-contained file per snapshot date, built from the Parquet outputs, charts drawn in a
browser."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from pipeline.report import write_report
from pipeline.run import run
from pipeline.settings import load_settings
from vtrdemo.generator import generate

START = dt.date(2026, 3, 2)
DAYS = 24
D = START + dt.timedelta(days=DAYS - 1)  # the 30-day window of D holds generated packages, the 7-day one too
ODD_CATEGORY = "Bath & <Spa>"  # a category name that is also HTML
CHARTS_PER_ACCOUNT = 3  # trend (both windows), invalid reasons, carriers


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A generated seller (two marketplaces) plus a hand-written one, run for D-2..D: outputs published."""
    root = tmp_path_factory.mktemp("report")
    landing = root / "landing"
    generate(landing, seller_id="nordic-home", start=START, days=DAYS, packages=4000, seed=11,
             aggregator_exports=False)
    tiny = landing / "tiny-shop"
    for feed in ("orders", "confirmations", "scans", "catalog"):
        (tiny / feed).mkdir(parents=True)
    promised, shipped = D - dt.timedelta(days=16), D - dt.timedelta(days=18)
    (tiny / "orders" / "orders.txt").write_text(
        "order-id\torder-item-id\tpurchase-date\tsku\tquantity-purchased\titem-price\tcurrency\t"
        "latest-delivery-date\tsales-channel\n"
        f"T-1\t1\t{shipped}T08:00:00Z\tSPA-1\t1\t10.00\tEUR\t{promised}\tAmazon.fr\n"
        f"T-2\t1\t{shipped}T08:00:00Z\tSPA-1\t1\t10.00\tEUR\t{promised}\tAmazon.fr\n")
    (tiny / "confirmations" / "confirmations.txt").write_text(
        "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method\n"
        f"T-1\t1\t1\t{shipped}\tUPS\t\t1Z999AA10123456784\tStandard\n"
        f"T-2\t1\t1\t{shipped}\tUPS\t\t1Z999AA10123456785\tStandard\n")
    (tiny / "scans" / "scans.csv").write_text(
        "tracking_number,carrier,event_time,status,event_code,description,location\n"
        f"1Z999AA10123456784,UPS,{shipped}T15:00:00Z,in_transit,,Departed,Paris\n")
    with (tiny / "catalog" / "catalog.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("sku", "category"), ("SPA-1", ODD_CATEGORY)])

    config = root / "vtr.toml"
    config.write_text('[paths]\nlanding = "landing"\nwarehouse = "warehouse.sqlite"\noutput = "output"\n')
    settings = load_settings(config)
    summary = run(settings, D - dt.timedelta(days=2), D)
    assert not summary.failures(), summary.render()
    return settings


def _datasets(settings, sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        for name in ("vtr_snapshots", "at_risk_packages"):
            path = (settings.output / name / "*" / "*.parquet").as_posix()
            con.execute(f"create view {name} as select * from read_parquet('{path}', hive_partitioning = true)")
        return con.execute(sql).fetchall()
    finally:
        con.close()


class _Refs(HTMLParser):
    """External references a browser would fetch: <script src>, <link href>, <img src>, <iframe src>."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if (tag, name) in {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src")}:
                self.refs.append(f"{tag} {name}={value}")


def test_one_self_contained_file_with_a_section_per_account(published):
    settings = published
    path = write_report(settings, D)
    assert path == settings.output / "reports" / f"vtr_report_{D}.html"
    # one file per report, no side assets (each seller's run wrote its own report beside it)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name] + [f"vtr_report_{D}_{seller}.html" for seller in ("nordic-home", "tiny-shop")])
    page = path.read_text(encoding="utf-8")

    parser = _Refs()
    parser.feed(page)
    assert parser.refs == []
    assert page.count("plotly.js v") == 1  # plotly.js embedded inline, once

    accounts = _datasets(settings, f"select distinct seller_id, marketplace from vtr_snapshots "
                                   f"where snapshot_date = date '{D}' order by all")
    assert accounts == [("nordic-home", "Amazon.de"), ("nordic-home", "Amazon.se"), ("tiny-shop", "Amazon.fr")]
    for seller, marketplace in accounts:
        assert f"<h2>{seller} · {marketplace}</h2>" in page
    assert len(re.findall(r'<div id="chart-\d+" class="plotly-graph-div"', page)) == CHARTS_PER_ACCOUNT * len(accounts)

    categories = _datasets(settings, f"select distinct scope_value from vtr_snapshots where snapshot_date = "
                                     f"date '{D}' and scope = 'category' and seller_id = 'nordic-home'")
    assert len(categories) >= 5
    for (category,) in categories:
        assert escape(category) in page
    # the odd category is shown escaped, never as markup
    assert escape(ODD_CATEGORY) in page and ODD_CATEGORY not in page
    assert "projection by this pipeline, not the marketplace's figure" in page
    assert "Early warning: projected VTR" in page


def test_at_risk_list_shows_the_first_twenty_and_points_to_the_full_dataset(published):
    settings = published
    page = write_report(settings, D).read_text(encoding="utf-8")
    section = page.split("<h2>nordic-home · Amazon.se</h2>")[1].split("<h2>")[0]
    at_risk = _datasets(settings, f"select order_id from at_risk_packages where snapshot_date = date '{D}' and "
                                  f"seller_id = 'nordic-home' and marketplace = 'Amazon.se' "
                                  f"order by fix_by_date, order_id, tracking_number nulls first")
    assert len(at_risk) > 20, "the generated data set should give more at-risk packages than the list shows"
    assert f"20 of {len(at_risk)} shown" in section
    shown = section.split("Packages to fix")[1]
    assert at_risk[0][0] in shown
    assert shown.count("<tr>") == 1 + 20  # header + 20 rows
    assert escape(str(settings.output / "at_risk_packages" / f"snapshot_date={D}" / "nordic-home.parquet")) in shown


def test_one_seller_and_an_unpublished_date(published):
    settings = published
    path = write_report(settings, D, seller_id="tiny-shop")
    assert path.name == f"vtr_report_{D}_tiny-shop.html"
    page = path.read_text(encoding="utf-8")
    assert "<h2>tiny-shop · Amazon.fr</h2>" in page and "nordic-home" not in page
    assert len(re.findall(r'class="plotly-graph-div"', page)) == CHARTS_PER_ACCOUNT
    # 1 of 2 packages valid: 50 % in both windows, below target
    assert "50.00\u00a0%" in page and "Below target" in page
    with pytest.raises(FileNotFoundError, match="no published outputs"):
        write_report(settings, D + dt.timedelta(days=1))


def _chromium() -> str | None:
    return shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_a_headless_browser_draws_every_chart_offline(published, tmp_path):
    settings = published
    path = write_report(settings, D)
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: the page must work offline
             "--window-size=1280,2400", "--virtual-time-budget=5000"]
    profile = tmp_path / "profile"
    screenshot = tmp_path / "report.png"
    dom = subprocess.run([*flags, f"--user-data-dir={profile}", f"--screenshot={screenshot}", "--dump-dom",
                          path.as_uri()], check=True, capture_output=True, timeout=60, text=True).stdout
    assert screenshot.stat().st_size > 50_000  # a drawn page, not a blank one

    charts = re.split(r'<div id="chart-\d+"', dom)[1:]
    assert len(charts) == CHARTS_PER_ACCOUNT * 3
    drawn_path = re.compile(r'<path class="js-line" d="M[\d.]')
    bar = re.compile(r'<g class="point"><path d="M[\d.]')
    for i, chart in enumerate(charts):
        assert 'class="main-svg"' in chart, f"chart {i + 1} was not drawn"
        if i % CHARTS_PER_ACCOUNT == 0:
            # trend: target + overall (+ categories) in each of the two windows, the target dashed
            assert len(drawn_path.findall(chart)) >= 4, f"trend chart {i + 1} has no lines"
            assert "stroke-dasharray" in chart
            assert 'class="legendtext"' in chart
        else:
            assert bar.search(chart), f"bar chart {i + 1} has no bars"
    # plotly decoded the escaped category name for its legend: the browser shows "Bath & <Spa>" as text
    assert re.search(r'class="legendtext"[^>]*>Bath &amp; &lt;Spa&gt;<', dom)
