"""The seller's report (issue 12): one page per account for a run's last date, with a category table, the two
working lists complete in the page and as CSV, data health, one shared offline copy of plotly.js, and an index of
every account and date; checked against the published Parquet datasets, and drawn in a headless browser."""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import shutil
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from helpers.browser import Browser, chromium
from helpers.project import ODD_CATEGORY
from helpers.project import REPORT_DAY as D
from pipeline.fixfile import fix_file
from pipeline.report.assets import report_path
from pipeline.report.charts import OVERALL_COLOURS, TARGET_COLOUR, category_colours
from pipeline.report.data import Figures
from pipeline.report.sections import category_order

NBSP = "\u00a0"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"  # kept after the run, for a person to look at


@pytest.fixture(scope="module")
def published(published_outputs):
    settings, summary, _ = published_outputs
    return settings, summary


def _datasets(settings, sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        for name in ("vtr_snapshots", "at_risk_packages", "invalid_packages"):
            path = (settings.output / name / "*" / "*.parquet").as_posix()
            con.execute(f"create view {name} as select * from read_parquet('{path}', hive_partitioning = true)")
        return con.execute(sql).fetchall()
    finally:
        con.close()


class Page(HTMLParser):
    """A report as a reader sees it: each table's rows as cell texts (by table id), and what a browser fetches."""

    def __init__(self, path: Path):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.refs: list[str] = []
        self.links: list[str] = []
        self._table, self._cell = None, None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe") and "src" in a:
            self.refs.append(a["src"])
        if tag == "link" and "href" in a:
            self.refs.append(a["href"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"table{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(re.sub(r"\s+", " ", "".join(self._cell).replace(NBSP, " ")).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _pct(vtr: float) -> str:
    return f"{int(vtr * 10000) / 100:.2f} %"  # the pipeline truncates to two decimals


def test_a_page_per_account_sharing_one_offline_plotly(published):
    settings, summary = published
    reports = settings.output / "reports"
    accounts = _datasets(
        settings,
        f"select distinct seller_id, marketplace from vtr_snapshots where snapshot_date = date '{D}' order by all",
    )
    assert accounts == [("nordic-home", "Amazon.de"), ("nordic-home", "Amazon.se"), ("tiny-shop", "Amazon.fr")]
    for seller, marketplace in accounts:
        page = Page(report_path(settings, seller, D, marketplace))
        assert page.refs == ["../plotly.min.js"]  # the one shared copy beside the reports, nothing fetched online
        assert str(report_path(settings, seller, D, marketplace)) in summary.figures()["reports"][seller]
    assert (reports / "plotly.min.js").read_bytes()[:200].count(b"plotly.js v") == 1
    # a page does not embed the library: it stays small however many accounts there are
    assert report_path(settings, "tiny-shop", D, "Amazon.fr").stat().st_size < 200_000


def test_the_category_table_gives_each_category_its_vtr_per_window_lowest_first(published):
    settings, _ = published
    expected = _datasets(
        settings,
        f"select scope_value, window_days, packages_valid, packages_total, vtr, status "
        f"from vtr_snapshots where snapshot_date = date '{D}' and scope = 'category' "
        f"and seller_id = 'nordic-home' and marketplace = 'Amazon.se'",
    )
    rows = Page(report_path(settings, "nordic-home", D, "Amazon.se")).tables["categories"]
    head, body = rows[0], rows[1:]
    assert head[0] == "Category" and head[1].startswith("7-day VTR") and head[4].startswith("30-day VTR")
    shown = {r[0].split(" low volume")[0].rstrip("0123456789, "): r for r in body}
    assert set(shown) == {e[0] for e in expected} and len(shown) >= 5
    for category, window, valid, total, vtr, status in expected:
        cells = shown[category][1:4] if window == 7 else shown[category][4:7]
        assert cells[0] == _pct(vtr) and cells[1] == f"{valid:,} / {total:,}"
        if status == "below_target":
            assert shown[category][7] == "Below target"
    lowest = [
        min(e[4] for e in expected if e[0] == r[0].split(" low volume")[0].rstrip("0123456789, ") and e[4] is not None)
        for r in body
    ]
    assert lowest == sorted(lowest)  # lowest VTR of any window first, low-volume categories in their place
    statuses = [r[7] for r in body]  # every category below target first
    assert statuses == sorted(statuses, key=["Below target", "OK", "No packages"].index)


def test_lowest_first_by_the_lowest_vtr_of_any_window_low_volume_in_place_empty_last():
    f = Figures(None, "s", "Amazon.se", D, [7, 30])
    for name, window, valid, total in [
        ("Garden", 7, 86, 100),  # below target in one window only: its lowest VTR counts
        ("Garden", 30, 96, 100),
        ("Tiny", 7, 1, 2),  # low volume, the lowest of all: first, not moved to the end
        ("Kitchen", 30, 90, 100),
        ("Empty", 7, 0, 0),  # no VTR in any window: last
        ("Books", 30, 100, 100),
    ]:
        f.now[("category", name, window)] = {"vtr": valid / total if total else None, "packages_total": total}
    assert category_order(f) == ["Tiny", "Garden", "Kitchen", "Books", "Empty"]


def test_both_lists_are_complete_in_the_page_and_in_their_csv_with_what_to_do(published):
    settings, _ = published
    account = "seller_id = 'nordic-home' and marketplace = 'Amazon.se'"
    to_fix = _datasets(
        settings,
        f"select order_id, fix_by_date, reason from at_risk_packages where snapshot_date = "
        f"date '{D}' and {account} order by fix_by_date, order_id, tracking_number nulls "
        f"first, package_id",
    )
    invalid = _datasets(
        settings,
        f"select order_id from invalid_packages where snapshot_date = date '{D}' and "
        f"{account} order by promised_delivery_date, order_id, tracking_number nulls "
        f"first, package_id",
    )
    assert len(to_fix) > 20 and len(invalid) > 20  # more than one screen: the old report showed 20
    path = report_path(settings, "nordic-home", D, "Amazon.se")
    page = Page(path)
    fix_rows, invalid_rows = page.tables["list-to-fix"][1:], page.tables["list-invalid"][1:]
    assert [(r[2], r[0]) for r in fix_rows] == [(o, str(d)) for o, d, _ in to_fix]
    assert [r[0] for r in invalid_rows] == [o for (o,) in invalid]
    overdue = sum(d < D for _, d, _ in to_fix)
    assert overdue > 0 and [r[1] for r in fix_rows].count("overdue") == overdue

    with path.with_name(f"{path.stem}_to_fix.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["order_id"], r["fix_by_date"]) for r in rows] == [(o, str(d)) for o, d, _ in to_fix]
    assert all(r["what_to_do"] for r in rows) and rows[0]["deadline"] == "overdue"
    with path.with_name(f"{path.stem}_measured_invalid.csv").open(newline="") as f:
        assert [r["order_id"] for r in csv.DictReader(f)] == [o for (o,) in invalid]
    # the page links to copies of the account's fix file beside it (.xlsx and .txt), in the upload template
    fixes = fix_file(settings, D, "nordic-home", "Amazon.se")
    linked = [path.parent / link for link in page.links if "_fix_file." in link]
    assert sorted(p.suffix for p in linked) == [".txt", ".xlsx"]
    for copy in linked:
        assert copy.read_bytes() == fixes.with_suffix(copy.suffix).read_bytes()
    assert fixes.read_text().splitlines()[0].split("\t") == [
        "order-id",
        "order-item-id",
        "quantity",
        "ship-date",
        "carrier-code",
        "carrier-name",
        "tracking-number",
        "ship-method",
    ]


def test_data_health_names_the_feeds_and_the_skus_missing_from_the_catalog(published):
    settings, _ = published
    page = Page(report_path(settings, "tiny-shop", D, "Amazon.fr"))
    feeds = {r[0]: r for r in page.tables["feeds"][1:]}
    assert set(feeds) == {"orders", "confirmations", "scans", "catalog"}
    assert feeds["orders"][1] == "orders/orders.txt"
    text = report_path(settings, "tiny-shop", D, "Amazon.fr").read_text()
    # 1 of 2 packages valid: 50 % in both windows, below target; the odd category shown as text, never markup
    assert f"50.00{NBSP}%" in text and "Below target" in text
    assert escape(ODD_CATEGORY) in text and ODD_CATEGORY not in text


def test_the_index_lists_every_account_and_date_with_its_verdict_and_overall_vtr(published):
    settings, summary = published
    index = settings.output / "reports" / "index.html"
    assert summary.index == str(index)
    page = Page(index)
    head, rows = page.tables["reports"][0], page.tables["reports"][1:]
    assert head[3:6] == ["Verdict", "Overall 30-day VTR", "Overall 7-day VTR"]
    expected = _datasets(
        settings,
        "select snapshot_date, seller_id, marketplace, vtr, status, (select list(distinct c.scope_value)"
        " from vtr_snapshots as c where c.snapshot_date = o.snapshot_date and c.seller_id = o.seller_id and"
        " c.marketplace = o.marketplace and c.scope = 'category' and c.status = 'below_target') as below "
        "from vtr_snapshots as o where scope = 'overall' and window_days = 30 order by all",
    )
    shown = {(r[0], r[1], r[2]): r[3:5] for r in rows}
    # the report of the run's last date per account; the index holds every date a report was written for
    for day, seller, marketplace, vtr, status, below in expected:
        if day == D:
            verdict, overall = shown[(str(day), seller, marketplace)]
            assert overall.startswith(_pct(vtr)) and ("Below target" in overall) == (status == "below_target")
            # the verdict: below target when the overall VTR or any category is, naming each category below
            assert verdict.startswith("Below target") == (status == "below_target" or bool(below))
            assert all(f"{category} " in verdict for category in below)
    # the generated seller's Amazon.se is on target overall with categories below: the verdict says so
    verdict, overall = shown[(str(D), "nordic-home", "Amazon.se")]
    assert verdict.startswith("Below target in ") and overall.endswith(" OK")
    for link in page.links:
        assert (index.parent / link).exists()
    assert len(page.links) == len(rows) == 3


def test_category_colours_are_distinct_and_never_the_target_or_overall_colour():
    names = [f"Category {n:02}" for n in range(30)] + ["Uncategorized"]
    colours = category_colours(names)
    assert len(set(colours.values())) == len(names)
    rgb = {name: tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for name, c in colours.items()}
    reserved = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in (TARGET_COLOUR, *OVERALL_COLOURS)]
    for name, colour in rgb.items():
        assert min(sum((a - b) ** 2 for a, b in zip(colour, r, strict=True)) ** 0.5 for r in reserved) > 50, name


def test_a_copied_reports_folder_works_offline_every_link_inside_it(published, tmp_path):
    """Every href and src of every page (reports, index) leads to a file inside the reports folder, so a copy of
    the folder alone (shared, archived) loses nothing: the CSV lists, the fix files, plotly.js, the index."""
    settings, _ = published
    copy = shutil.copytree(settings.output / "reports", tmp_path / "shared" / "reports")
    pages = sorted(copy.rglob("*.html"))
    assert len(pages) == 4  # three accounts' reports and the index
    checked = 0
    for page in pages:
        parsed = Page(page)
        for link in parsed.refs + parsed.links:
            if link.startswith("#"):
                continue  # within the page
            assert "://" not in link and not link.startswith("/"), (page.name, link)
            target = (page.parent / unquote(link.split("#")[0])).resolve()
            assert target.is_relative_to(copy.resolve()) and target.is_file(), (page.name, link)
            checked += 1
    fix_files = [p.name for p in copy.rglob("*_fix_file.*")]
    assert checked > 20 and len(fix_files) == 6  # .txt and .xlsx per account


SCREENS = ((390, 844), (1440, 900))  # a phone, a desktop
GEOMETRY = (Path(__file__).resolve().parent / "page_geometry.js").read_text()
needs_chromium = pytest.mark.skipif(
    chromium() is None and not os.environ.get("CI"),
    reason="chromium is not installed (make test and .ci/run install Debian's chromium)",
)


def _geometry(page, width: int) -> dict:
    return page.evaluate(f"({GEOMETRY})({json.dumps(width < 600)})")


@pytest.mark.slow
@needs_chromium
def test_the_report_and_the_index_fit_a_phone_and_a_desktop(published, tmp_path):
    """Drawn at 390 x 844 and 1440 x 900: nothing overlaps, nothing sticks out of the screen or its box (a table
    scrolls in its box on a phone, fits it on a desktop), the charts' toolbars never cover a legend; on a phone the
    verdict is on the first screen. Screenshots (the whole page, and the first screen) in test-artifacts/."""
    settings, _ = published
    pages = {
        "report": report_path(settings, "nordic-home", D, "Amazon.se"),
        "index": settings.output / "reports" / "index.html",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    broken = tmp_path / "broken.html"  # the check itself finds what it must find
    broken.write_text(
        "<html><body style='margin:0'><h2 style='position:absolute;top:0'>One</h2><h2 style='position:absolute;"
        "top:4px'>Two</h2><div class='scroll' style='overflow:hidden;width:200px;margin-top:80px'><table><tr>"
        f"<td style='white-space:nowrap'>{'wide ' * 60}</td></tr></table></div></body></html>"
    )
    with Browser() as browser:
        found = _geometry(browser.open(broken.as_uri(), 390, 844), 1440)["problems"]
        assert any("overlaps" in p for p in found) and any("wider than its box" in p for p in found), found
        for (name, path), (width, height) in itertools.product(pages.items(), SCREENS):
            page = browser.open(path.as_uri(), width, height)
            page.screenshot(ARTIFACTS / f"{name}_{width}x{height}.png")
            page.screenshot(ARTIFACTS / f"{name}_{width}x{height}_first_screen.png", full_page=False)
            found = _geometry(page, width)
            assert found["width"] == width and found["problems"] == [], (name, width, found)
            if name == "report":
                assert found["counts"]["charts"] > 5 and found["counts"]["legends"] == 2  # overall and carriers
                assert page.evaluate("document.querySelector('.verdict').getBoundingClientRect().bottom") < height


@pytest.mark.slow
@needs_chromium
def test_a_headless_browser_shows_the_figures_the_lists_and_every_chart_offline(published, tmp_path):
    """Drawn by Chromium with no network: the category table's figures for two categories, both lists with their
    full counts and working CSV links, every chart; sorting a VTR column keeps empty values last; the window buttons
    switch every category panel."""
    settings, _ = published
    path = report_path(settings, "nordic-home", D, "Amazon.se")
    with Browser() as browser:
        page = browser.open(path.as_uri(), 1280, 900)
        dom = page.evaluate("document.documentElement.outerHTML")
        drawn = tmp_path / "drawn.html"
        drawn.write_text(dom)
        parsed = Page(drawn)

        categories = {r[0].split(" low volume")[0].rstrip("0123456789, "): r for r in parsed.tables["categories"][1:]}
        for category in ("Garden", "Kitchen"):
            for window, cells in ((7, categories[category][1:3]), (30, categories[category][4:6])):
                valid, total, vtr = _datasets(
                    settings,
                    f"select packages_valid, packages_total, vtr from vtr_snapshots "
                    f"where snapshot_date = date '{D}' and scope = 'category' and "
                    f"scope_value = '{category}' and window_days = {window} and "
                    f"marketplace = 'Amazon.se'",
                )[0]
                assert cells == [_pct(vtr), f"{valid:,} / {total:,}"]
        account = "seller_id = 'nordic-home' and marketplace = 'Amazon.se'"
        for table, dataset, heading in (
            ("list-to-fix", "at_risk_packages", "To fix before they are measured"),
            ("list-invalid", "invalid_packages", "Measured invalid now"),
        ):
            count = _datasets(
                settings, f"select count(*) from {dataset} where snapshot_date = date '{D}' and {account}"
            )
            assert len(parsed.tables[table]) - 1 == count[0][0] > 20
            assert f"{heading}: {count[0][0]:,} package(s)" in dom
        for link in [link for link in parsed.links if link.endswith(".csv")]:
            with (path.parent / link).open(newline="") as f:
                assert len(list(csv.DictReader(f))) > 20
        assert len([link for link in parsed.links if link.endswith(".csv")]) == 2

        charts = {m[1]: m[2] for m in re.finditer(r'<div id="(chart-[a-z]+)"(.*?)(?=<div id="chart-|<h2)', dom, re.S)}
        assert set(charts) == {"chart-overall", "chart-carriers"}
        for name, chart in charts.items():
            assert 'class="main-svg"' in chart, f"{name} was not drawn"
        assert len(re.findall(r'<path class="js-line" d="M[\d.]', charts["chart-overall"])) >= 3  # target + windows
        assert "stroke-dasharray" in charts["chart-overall"]  # the target, dashed
        panels = page.evaluate(
            "Array.prototype.map.call(document.querySelectorAll('#category-panels .js-plotly-plot'),"
            " function (p) { return p.querySelectorAll('.main-svg').length > 0; })"
        )
        assert len(panels) == len(categories) and all(panels)

        # the 7-day window button: every panel shows its 7-day traces (the target always), its 30-day ones hidden
        visible = (
            "Array.prototype.map.call(document.querySelectorAll('#category-panels .js-plotly-plot'),"
            " function (p) { return p.data.map(function (t) { return t.visible !== false; }); })"
        )
        assert {tuple(v) for v in page.evaluate(visible)} == {(True, True, True, True, False, False, False)}
        page.evaluate("document.querySelectorAll('.window-switch button')[1].click()")
        assert {tuple(v) for v in page.evaluate(visible)} == {(True, False, False, False, True, True, True)}

        # sorting the 7-day VTR column, either way: by VTR, empty values last
        sort = (
            "(function () { var th = document.querySelectorAll('#categories th')[1]; th.click();"
            " return Array.prototype.map.call(document.querySelectorAll('#categories tbody tr'),"
            " function (r) { return r.cells[1].getAttribute('data-sort'); }); })()"
        )
        for ascending in (True, False):
            keys = page.evaluate(sort)
            rates = [float(k) for k in keys if k != ""]
            assert "" not in keys[: len(rates)] and rates == sorted(rates, reverse=not ascending)
