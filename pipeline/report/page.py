"""One account's report page: `write_reports` writes `<output>/reports/<seller_id>/vtr_report_<D>_<marketplace>.html`
per marketplace of the seller on D, each beside its two CSV lists, all drawing with the one shared plotly.min.js."""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

import duckdb

from pipeline.fixfile import fix_file
from pipeline.lake import LAKE
from pipeline.report import charts, data, health, lists, sections
from pipeline.report.assets import (
    CSS,
    PLOTLY_JS,
    SORT_JS,
    WINDOW_JS,
    ensure_plotly_js,
    report_path,
    write_atomic,
)
from pipeline.report.html import LOW_VOLUME, pct
from pipeline.report.notes import footnotes, ref
from pipeline.settings import Settings

NAV = (
    ("categories", "Categories"),
    ("trend", "Trend"),
    ("carriers", "Carriers"),
    ("packages", "Packages to work on"),
    ("health", "Data health"),
    ("notes", "Notes"),
)


def write_reports(
    con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, snapshot_date: dt.date, stale: list[str]
) -> list[Path]:
    """The seller's report per account (marketplace) for `snapshot_date`, read from the lake's marts and raw layer
    through `con` (the seller's open lake connection); `stale`: its daily feeds with no file for the date."""
    con.execute(f"use {LAKE}")  # the published marts with their history, not the run's scratch copies
    ensure_plotly_js(settings)
    written = []
    for marketplace in data.accounts(con, seller_id, snapshot_date):
        figures = data.load(con, settings, seller_id, marketplace, snapshot_date)
        target = report_path(settings, seller_id, snapshot_date, marketplace)
        written.append(write_atomic(target, _page(con, figures, target, stale)))
    return written


def _page(con: duckdb.DuckDBPyConnection, f: data.Figures, path: Path, stale: list[str]) -> str:
    settings = f.settings
    invalid, to_fix = lists.load(con, f)
    colours = charts.category_colours(f.scope_values("category"))
    order = sections.category_order(f)
    trend = [charts.chart_div(charts.overall_figure(f, settings.target), 360, "chart-overall")]
    if order:
        trend.append(charts.category_panels(f, settings.target, colours, order))
    perf = {r["carrier"]: r for r in f.carrier_performance}
    carriers = [perf[c] for c in sections.carrier_order(f) if c in perf]
    title = f"{f.seller_id} · {f.marketplace}: Valid Tracking Rate on {f.day}"
    nav = "".join(f"<a href='#{anchor}'>{text}</a>" for anchor, text in NAV)
    body = [
        f"<nav><a href='../index.html'>All reports</a>{nav}</nav><h1>{escape(title)}</h1>",
        sections.verdict_banner(f),
        f"<p class='lead'>VTR = packages with a valid tracking number (a physical scan by an integrated carrier) / "
        f"packages shipped and confirmed{ref('vtr')}. Windows by promised delivery date, {settings.lag_days}-day "
        f"lag, target {pct(settings.target)}. Snapshot {f.day}: scans up to its end (UTC) count.</p>",
        sections.headline(f, invalid, to_fix),
        "<h2 id='categories'>VTR per category</h2><p class='note'>Lowest VTR of any window first: every category "
        "below target comes before those at or above it. Click a header to sort (empty values last). A category's "
        "colour is the same in the charts. Hover a figure for its counts.</p>",
        sections.category_table(f, colours),
        f"<h2 id='trend'>Trend, last {data.TREND_DAYS} days</h2><p class='note'>Each point is the VTR published for "
        f"that snapshot date. Overall: dark line {max(f.windows)}-day window, grey lines the shorter windows; red "
        f"dashes: the target. Below, one panel per category (in the table's order) with the overall VTR of the same "
        f"window in grey; the buttons switch the window. Open markers: low volume{ref('low')}, fewer than "
        f"{LOW_VOLUME} packages (a triangle on the bottom edge when lower than the axis). Hover for valid / "
        f"total.</p>",
        *trend,
        f"<h2 id='carriers'>Carriers</h2><p class='note'>VTR per carrier of the package{ref('carrier')}, lowest "
        f"first, and how long the first physical scan takes after the ship date ({f.largest}-day window).</p>",
        sections.carrier_table(f),
        charts.chart_div(charts.carrier_scan_figure(carriers), charts.carrier_height(len(carriers)), "chart-carriers")
        if carriers
        else "",
        lists.section(f, path, invalid, to_fix, fix_file(settings, f.day, f.seller_id, f.marketplace)),
        health.section(con, f, stale),
        footnotes(settings),
    ]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style>"
        f"<script src='../{PLOTLY_JS}'></script></head><body><main>{''.join(body)}</main>"
        f"<script>{SORT_JS}{WINDOW_JS}</script></body></html>"
    )
