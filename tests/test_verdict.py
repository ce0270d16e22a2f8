"""The account's verdict (spec section 4, pipeline/verdict.py): the worst status of its overall and category rows in
any window, shown wherever one status stands for an account. A category below target on a day whose overall VTR is
on target must read "below target", naming the category and window, in the report's headline (first, before
anything else the page says), the index of reports and `vtr run`'s summary (the DAG's XCom and asset events:
tests/test_dag_e2e.py).

Hand-made account, D = 2026-11-20, every package promised 2026-11-05 (in both windows): Books 40 packages, all
scanned; Toys 10 packages, 8 scanned. Overall 48 / 50 = 96.00 % (ok); Toys 8 / 10 = 80.00 % in both windows.
"""

from __future__ import annotations

from html.parser import HTMLParser

from helpers.feeds import IN_BOTH, SCANNED, SHIPPED, D, confirmations_tsv, orders_tsv, scans_csv
from pipeline.cli import main
from pipeline.report.assets import report_path
from pipeline.verdict import describe, verdict

BOOKS = [f"B{i:03d}" for i in range(40)]
TOYS = [f"T{i:03d}" for i in range(10)]
NBSP = "\u00a0"


def row(scope, value, window, valid, total, status, target=0.95):
    vtr = valid / total if total else None
    return {
        "scope": scope,
        "scope_value": value,
        "window_days": window,
        "packages_valid": valid,
        "packages_total": total,
        "vtr": vtr,
        "status": status,
        "target": target,
    }


def test_the_worst_status_wins_below_target_then_ok_then_no_packages_and_carriers_never_count():
    ok = row("overall", None, 7, 96, 100, "ok")
    empty = row("category", "Toys", 30, 0, 0, "no_packages")
    assert verdict([ok, empty])["verdict"] == "ok"
    assert verdict([empty, row("overall", None, 30, 0, 0, "no_packages")])["verdict"] == "no_packages"
    assert verdict([])["verdict"] == "no_packages"
    carrier = row("carrier", "BUDBEE", 7, 0, 5, "below_target")
    assert verdict([ok, carrier]) == {"verdict": "ok", "breaches": []}  # carriers are reported, never judged
    assert describe(verdict([ok])) == "OK: every category and the overall VTR at or above target in every window"
    assert describe(verdict([empty])) == "No packages in any window"


def test_breaches_overall_first_then_categories_from_the_lowest_vtr():
    judged = verdict(
        [
            row("overall", None, 7, 96, 100, "ok"),
            row("overall", None, 30, 93, 100, "below_target"),
            row("category", "Storage", 7, 89, 94, "below_target"),
            row("category", "Garden", 30, 90, 100, "below_target"),
            row("category", "Garden", 7, 43, 50, "below_target"),
            row("category", "Kitchen", 7, 50, 50, "ok"),
        ]
    )
    assert judged["verdict"] == "below_target"
    assert [(b["scope_value"], b["window_days"]) for b in judged["breaches"]] == [
        (None, 30),
        ("Garden", 7),
        ("Garden", 30),
        ("Storage", 7),
    ]
    assert judged["breaches"][1] == {
        "scope": "category",
        "scope_value": "Garden",
        "window_days": 7,
        "vtr": 0.86,
        "packages_valid": 43,
        "packages_total": 50,
    }
    assert describe(judged) == (
        "Below target overall (30-day 93.00%) and in 2 categories: Garden 7-day 86.00%, Garden 30-day 90.00%, "
        "Storage 7-day 94.68%"
    )


class Texts(HTMLParser):
    """The page's visible text in document order, and per element id / class the text inside it."""

    def __init__(self, html: str):
        super().__init__()
        self.texts: list[str] = []
        self.by: dict[str, list[str]] = {}
        self._open: list[list[str]] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1
        a = dict(attrs)
        names = [a["id"]] if "id" in a else []
        names += (a.get("class") or "").split()
        self._open.append(names)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._skip or not data.strip():
            return
        self.texts.append(data.strip())
        for names in self._open:
            for name in names:
                self.by.setdefault(name, []).append(data)

    def text(self, name: str) -> str:
        return " ".join(" ".join(self.by.get(name, [])).replace(NBSP, " ").split())


def test_a_category_below_target_on_an_overall_ok_day_is_the_first_thing_every_view_says(project, capsys):
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nSKU-B,Books\nSKU-T,Toys\n")
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(*[(o, f"{o}-1", "SKU-B" if o in BOOKS else "SKU-T", IN_BOTH) for o in BOOKS + TOYS]),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(*[(o, f"{o}-1", SHIPPED, "UPS", "", f"1Z{o}") for o in BOOKS + TOYS]),
    )
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(*[(f"1Z{o}", SCANNED, "in_transit") for o in BOOKS + TOYS[:8]])
    )

    assert main(["run", "--config", str(project.config), "--date", str(D), "--no-alerts"]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = "Below target in 1 category: Toys 7-day 80.00%, Toys 30-day 80.00%"
    assert [line.split(None, 2) for line in out if line.startswith("acme ") and "Below" in line] == [
        ["acme", "Amazon.se", expected]
    ]
    overall = [line.split() for line in out if line.startswith("acme ") and "d " in line]
    assert overall == [
        ["acme", "Amazon.se", "7d", "50", "48", "96.00%", "ok"],
        ["acme", "Amazon.se", "30d", "50", "48", "96.00%", "ok"],
    ]

    settings = project.settings()
    page = Texts(report_path(settings, "acme", D, "Amazon.se").read_text())
    headline = expected.replace("%", " %")
    # right after the title, the verdict: before the lead paragraph, the overall figures and any table
    title = page.texts.index(f"acme · Amazon.se: Valid Tracking Rate on {D}")
    assert page.texts[title + 1 : title + 4] == ["Verdict", "1", headline.replace(" %", NBSP + "%")]  # 1: its note
    assert page.text("verdict-text") == headline
    assert page.text("breaches") == (
        "Toys, 7-day window: 80.00 %, 8 of 10 packages valid low volume "
        "Toys, 30-day window: 80.00 %, 8 of 10 packages valid low volume"
    )
    assert page.text("verdict-overall") == "Overall VTR 7-day 96.00 % OK 30-day 96.00 % OK"

    index = Texts((settings.output / "reports" / "index.html").read_text())
    assert index.text("where") == "in 1 category: Toys 7-day 80.00 %, Toys 30-day 80.00 %"
    assert "Below target" in index.texts
