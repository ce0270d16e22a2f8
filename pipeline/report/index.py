"""The reports' index, `<output>/reports/index.html`: every account and date with a report, its verdict (the worst
status of its overall and category VTRs, from the published vtr_snapshots files), its overall VTR, and a link.
Written once per run (steps.finish), atomically."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import duckdb

from pipeline.contract import file_part
from pipeline.outputs import partition_file
from pipeline.report.assets import CSS, SORT_JS, reports_dir, write_atomic
from pipeline.report.html import attr, badge, pct, table, td, th
from pipeline.settings import Settings, seller_id_problem
from pipeline.verdict import ORDER, breaches_text, describe, verdict

_REPORT = re.compile(r"vtr_report_(\d{4}-\d{2}-\d{2})_(.+)\.html")


def _reports(settings: Settings) -> dict[tuple[str, dt.date], dict[str, Path]]:
    """(seller, date) -> {marketplace as in the file name: report}"""
    found: dict[tuple[str, dt.date], dict[str, Path]] = {}
    for path in sorted(reports_dir(settings).glob("*/vtr_report_*.html")):
        match = _REPORT.fullmatch(path.name)
        seller = unquote(path.parent.name)  # the folder's name is the seller id encoded (contract.file_part)
        if match and not seller_id_problem(seller):
            key = (seller, dt.date.fromisoformat(match[1]))
            found.setdefault(key, {})[match[2]] = path
    return found


def _snapshots(settings: Settings, keys: list[tuple[str, dt.date]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """(seller, date, marketplace) -> its overall and category vtr_snapshots rows, for the reports' dates."""
    files = [
        p.as_posix()
        for p in (partition_file(settings, "vtr_snapshots", day, seller) for seller, day in keys)
        if p.exists()
    ]
    if not files:
        return {}
    con = duckdb.connect()
    try:
        cur = con.execute(
            "select snapshot_date, seller_id, marketplace, window_days, scope, scope_value, packages_total,"
            " packages_valid, vtr, status from read_parquet(?, hive_partitioning = true)"
            " where scope in ('overall', 'category')",
            [files],
        )
        names = [d[0] for d in cur.description]
        found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in cur.fetchall():
            found.setdefault((r[1], r[0], r[2]), []).append(dict(zip(names, r, strict=True)))
        return found
    finally:
        con.close()


def _verdict_cell(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return td("–", sort=len(ORDER), title="no published figures for this date", label="Verdict")
    judged = verdict(rows)
    status = judged["verdict"]
    where = f" <span class='where'>{escape(breaches_text(judged, pct))}</span>" if status == "below_target" else ""
    return td(badge(status) + where, sort=ORDER.index(status), title=describe(judged), cls="wrap", label="Verdict")


def write_index(settings: Settings) -> Path:
    """List every report under <output>/reports/ (newest date first) with its account's verdict and overall VTR
    per window."""
    reports = _reports(settings)
    snapshots = _snapshots(settings, list(reports))
    overall = {(*key, r["window_days"]): r for key, rows in snapshots.items() for r in rows if r["scope"] == "overall"}
    windows = sorted({k[3] for k in overall}) or list(settings.windows)
    marketplaces = {(s, d): {file_part(k[2]): k[2] for k in snapshots if k[:2] == (s, d)} for s, d in reports}
    body = []
    for (seller, day), files in sorted(reports.items(), key=lambda kv: (-kv[0][1].toordinal(), kv[0][0])):
        for name, path in sorted(files.items()):
            marketplace = marketplaces[(seller, day)].get(name, name)
            cells = [
                td(str(day), label="Snapshot date"),
                td(escape(seller), label="Seller"),
                td(escape(marketplace), label="Marketplace"),
            ]
            cells.append(_verdict_cell(snapshots.get((seller, day, marketplace), [])))
            for w in reversed(windows):
                r = overall.get((seller, day, marketplace, w))
                cells.append(
                    td(
                        f"{pct(r['vtr'])} {badge(r['status'])}" if r else "–",
                        sort=r and r["vtr"],
                        num=True,
                        label=f"Overall {w}-day VTR",
                        title=f"{r['packages_valid']:,} of {r['packages_total']:,} packages valid"
                        if r
                        else "no published figures for this date",
                    )
                )
            href = quote(path.relative_to(reports_dir(settings)).as_posix())
            cells.append(td(f"<a href='{attr(href)}'>report</a>", label="Report"))
            body.append(cells)
    head = [
        th("Snapshot date"),
        th("Seller"),
        th("Marketplace"),
        th("Verdict", "the worst status of the overall and category VTRs in any window, and where it is below target"),
    ]
    head += [
        th(f"Overall {w}-day VTR", "overall VTR of the account and its status", num=True) for w in reversed(windows)
    ]
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>VTR reports</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
        f"<main><h1>Valid Tracking Rate reports</h1><p class='lead'>{len(body):,} report(s), one per account "
        f"(seller, marketplace) and snapshot date, newest first. Verdict: the worst status of the account's overall "
        f"and category VTRs in any window against its marketplace's target ({pct(settings.target)} unless a profile "
        f"in the settings says otherwise; the marketplace restricts "
        f"self-fulfilment per category, so one category below target makes the account below target); the overall "
        f"VTR per window beside it. Click a header to sort.</p>"
        + (table([*head, th("Report")], body, table_id="reports", collapse=True) if body else "<p>No report yet.</p>")
        + f"</main><script>{SORT_JS}</script></body></html>"
    )
    return write_atomic(reports_dir(settings) / "index.html", page)
