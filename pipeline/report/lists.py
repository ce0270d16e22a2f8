"""The two working lists of an account: the packages the marketplace measures invalid now (mart_invalid_packages
of D) and the packages to fix before they are measured (mart_at_risk_packages of D), each complete in the page and
written as a CSV beside the report, with what to do per reason and the account's fix file when there is one."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

from pipeline.contract import REASONS
from pipeline.lake import SCRATCH
from pipeline.report import reasons
from pipeline.report.assets import write_atomic
from pipeline.report.data import Figures, rows
from pipeline.report.html import attr, badge, count, table, td, th

# columns a seller works with, in this order; order_item_ids and skus where the mart has them
PACKAGE_COLUMNS = (
    "order_id",
    "order_item_ids",
    "skus",
    "tracking_number",
    "carrier",
    "ship_date",
    "promised_delivery_date",
    "categories",
    "reason",
)
HEADERS = {
    "order_id": "Order",
    "order_item_ids": "Order items",
    "skus": "SKUs",
    "tracking_number": "Tracking number",
    "carrier": "Carrier",
    "ship_date": "Shipped",
    "promised_delivery_date": "Promised",
    "categories": "Categories",
    "reason": "Reason",
    "fix_by_date": "Fix by",
    "days_since_ship": "Days since ship",
}
WRAPPED = ("order_item_ids", "skus", "categories")  # lists of any length: wrapped in their cell, not widening it
UPLOAD_HELP = (
    "Upload it on the marketplace's shipping-confirmation upload page (Seller Central: Orders, Upload "
    "order related files, Shipping confirmation); this pipeline shows the corrections on its next run, "
    "the marketplace's own figure within 72 hours."
)


def load(con: duckdb.DuckDBPyConnection, figures: Figures) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(measured invalid, to fix) of the account on D, in the published datasets' order, from the run's scratch
    copies of the marts (the rows it just published)."""
    where = "snapshot_date = ? and seller_id = ? and marketplace = ?"
    params = [figures.day, *figures.key]
    invalid = rows(
        con,
        f"select * from {SCRATCH}.marts.mart_invalid_packages where {where} order by promised_delivery_date,"
        " order_id, tracking_number nulls first, package_id",
        params,
    )
    to_fix = rows(
        con,
        f"select * from {SCRATCH}.marts.mart_at_risk_packages where {where} order by fix_by_date, order_id,"
        " tracking_number nulls first, package_id",
        params,
    )
    return invalid, to_fix


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a text value starting with =, +, - or @ (a formula to a spreadsheet,
    which could run it) gets a leading apostrophe; the fix file, uploaded to the marketplace, stays raw."""
    text = _text(value)
    return f"'{text}" if isinstance(value, str | list | tuple) and text.startswith(("=", "+", "-", "@")) else text


def _deadline(row: dict[str, Any], day: dt.date) -> tuple[str, str]:
    days = (row["fix_by_date"] - day).days
    if days < 0:
        return "overdue", f"the fix-by date passed {-days} day(s) ago: a correction may reach the marketplace too late"
    if days == 0:
        return "due today", "last day for a correction to reach the marketplace before it measures this package"
    return f"in {days} day(s)", "a correction uploaded by the fix-by date reaches the marketplace's first measurement"


def columns(packages: list[dict[str, Any]], first: tuple[str, ...] = (), last: tuple[str, ...] = ()) -> list[str]:
    present = set(packages[0]) if packages else set(PACKAGE_COLUMNS) - {"order_item_ids", "skus"}
    return [c for c in (*first, *PACKAGE_COLUMNS, *last) if c in present]


def write_csv(target: Path, packages: list[dict[str, Any]], cols: list[str], day: dt.date) -> Path:
    """One row per package: its columns, then what to do (and for the to-fix list whether it is overdue)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    deadline = "fix_by_date" in cols
    writer.writerow([*cols, *(["deadline"] if deadline else []), "what_to_do"])
    for r in packages:
        writer.writerow(
            [_cell(r[c]) for c in cols]
            + ([_deadline(r, day)[0]] if deadline else [])
            + [reasons.WHAT_TO_DO.get(r["reason"], "")]
        )
    return write_atomic(target, out.getvalue())


def _package_table(packages: list[dict[str, Any]], cols: list[str], day: dt.date, table_id: str) -> str:
    head = [th(HEADERS[c], num=c == "days_since_ship") for c in cols]
    deadline = "fix_by_date" in cols
    if deadline:
        head.insert(1, th("Deadline", "overdue: the fix-by date has passed; due today: the last day"))
    body = []
    for r in packages:
        cells = []
        for c in cols:
            if c == "reason":
                cells.append(td(escape(reasons.label(r[c])), title=reasons.WHAT_TO_DO.get(r[c], ""), cls="text"))
            elif c == "tracking_number" and r[c] is None:
                cells.append(td("<i>none</i>", sort=""))
            else:
                cells.append(td(escape(_text(r[c])), num=c == "days_since_ship", cls="text" if c in WRAPPED else ""))
        if deadline:
            text, tip = _deadline(r, day)
            status = {"overdue": "overdue", "due today": "due"}.get(text)
            cells.insert(
                1,
                td(badge(status, text, tip) if status else escape(text), title=tip, sort=(r["fix_by_date"] - day).days),
            )
        body.append(cells)
    return table(head, body, table_id=table_id, tall=True)


def _reason_table(invalid: list[dict[str, Any]], to_fix: list[dict[str, Any]], day: dt.date) -> str:
    overdue = [r for r in to_fix if r["fix_by_date"] < day]
    body = [
        [
            td(escape(reasons.label(x)), label="Reason"),
            *(
                td(count(sum(r["reason"] == x for r in group)), num=True, label=label)
                for group, label in ((to_fix, "To fix"), (overdue, "Overdue"), (invalid, "Measured invalid"))
            ),
            td(escape(reasons.WHAT_TO_DO[x]), cls="wrap", label="What to do"),
        ]
        for x in REASONS
        if any(r["reason"] == x for r in invalid + to_fix)
    ]
    if not body:
        return "<p class='note'>No package is invalid or at risk: nothing to fix.</p>"
    return table(
        [
            th("Reason"),
            th("To fix", "packages to fix before they are measured", num=True),
            th("Overdue", "of those, past their fix-by date", num=True),
            th("Measured invalid", "packages the marketplace counts invalid now", num=True),
            th("What to do"),
        ],
        body,
        table_id="reasons",
        collapse=True,
    )


def _link(target: Path, start: Path, text: str) -> str:
    href = quote(os.path.relpath(target, start).replace(os.sep, "/"))
    return f"<a href='{attr(href)}' download>{escape(text)}</a>"


def section(
    figures: Figures, report: Path, invalid: list[dict[str, Any]], to_fix: list[dict[str, Any]], fix_file: Path
) -> str:
    """The lists section; writes the two CSV files beside the report."""
    day, stem = figures.day, report.stem
    parts = ["<h2 id='packages'>Packages to work on</h2>", _reason_table(invalid, to_fix, day)]
    if fix_file.exists():
        # copied beside the report, so the page's links work in a copied reports/ folder
        xlsx, txt = (
            write_atomic(report.with_name(f"{stem}_fix_file{source.suffix}"), source.read_bytes())
            for source in (fix_file.with_suffix(".xlsx"), fix_file)
        )
        parts.append(
            f"<p class='note'><b>Fix file</b>: the packages to fix as rows of the shipping-confirmation upload "
            f"file, prefilled with what the data knows. Open {_link(xlsx, report.parent, xlsx.name)} in a "
            f"spreadsheet (every column is text, so order-item ids and tracking numbers keep their leading zeros), "
            f"fill in what is blank (a tracking number, a carrier) and check the rest, then save it as tab-separated "
            f"text (Excel: <i>Text (Tab delimited)</i>; LibreOffice: <i>Text CSV</i> with Tab as the field "
            f"delimiter, UTF-8) and upload that. The same rows tab-separated, to upload as they are: "
            f"{_link(txt, report.parent, txt.name)}. {UPLOAD_HELP}</p>"
        )
    else:
        parts.append(
            "<p class='note'>No fix file for this account and date: correct the packages below in your "
            f"shipping system, then upload a shipping-confirmation file. {UPLOAD_HELP}</p>"
        )
    lists = (
        (
            "to_fix",
            "to-fix",
            "To fix before they are measured",
            to_fix,
            columns(to_fix, ("fix_by_date",), ("days_since_ship",)),
            f"Shipped at least {figures.settings.at_risk_after_days} days ago and still not validly tracked (or "
            f"with no tracking number, or a carrier not integrated), promised after "
            f"{day - dt.timedelta(days=figures.settings.lag_days)}: the marketplace has not measured them yet. "
            f"Fixed by the "
            f"fix-by date (72 hours before their first measurement), they count as valid. Earliest deadline first.",
        ),
        (
            "measured_invalid",
            "invalid",
            "Measured invalid now",
            invalid,
            columns(invalid),
            f"Promised in the {figures.largest}-day window the marketplace measures on {day}: each already lowers "
            f"the VTR above. A corrected tracking number or a late scan still counts while the package is in "
            f"the window.",
        ),
    )
    for name, anchor, title, packages, cols, note in lists:
        path = write_csv(report.with_name(f"{stem}_{name}.csv"), packages, cols, day)
        parts.append(
            f"<h3 id='{anchor}'>{escape(title)}: {len(packages):,} package(s)</h3><p class='note'>{note} "
            f"Download: {_link(path, report.parent, path.name)} ({len(packages):,} rows).</p>"
        )
        parts.append(_package_table(packages, cols, day, f"list-{anchor}") if packages else "<p class='note'>None.</p>")
    return "".join(parts)
