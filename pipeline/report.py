"""HTML report: one self-contained file per snapshot date, written from the published Parquet datasets.

Reads output/<dataset>/snapshot_date=*/<seller>.parquet (vtr_snapshots, projected_vtr, category_report,
carrier_performance, at_risk_packages) with DuckDB and writes output/reports/vtr_report_<D>.html: a section per
account (seller, marketplace) with headline VTRs, the trend up to D, categories at risk, invalid reasons, carriers
and the packages to fix first. Charts are plotly; plotly.js is embedded once, so the file opens without a network.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from html import escape
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from pipeline.contract import REASONS
from pipeline.formatting import percent
from pipeline.settings import Settings

REASON_LABELS = {
    "missing_tracking": "Missing tracking number",
    "carrier_not_integrated": "Carrier not integrated",
    "no_carrier_events": "No carrier events",
    "pre_transit_only": "Label only (no physical scan)",
    "scan_before_ship_date": "Scan before ship date (recycled number)",
}
REASON_COLORS = ("#636efa", "#ef553b", "#ffa15a", "#ab63fa", "#19d3f3")
AT_RISK_ROWS = 20
TREND_DAYS = 90  # how far back the trend charts go
DATASETS = ("vtr_snapshots", "projected_vtr", "category_report", "carrier_performance", "at_risk_packages")
STATUS_TEXT = {"ok": "OK", "below_target": "Below target", "no_packages": "No packages"}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

CSS = """
body { font-family: %s; color: #1f2933; margin: 0; background: #f5f7fa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 32px 48px; box-sizing: border-box; }
.nowrap { white-space: nowrap; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 40px 0 12px; padding-top: 16px;
  border-top: 3px solid #3e4c59; } h3 { font-size: 15px; margin: 24px 0 8px; color: #3e4c59; }
p.lead, p.note { color: #52606d; font-size: 13px; margin: 4px 0 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px 14px; }
.card.projection { border-style: dashed; background: #fbfcfd; }
.card .label { font-size: 12px; color: #52606d; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 28px; font-weight: 600; margin: 4px 0; }
.card .detail { font-size: 12px; color: #52606d; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px;
  vertical-align: middle; }
.ok { background: #e3f9e5; color: #0e5814; } .below_target { background: #ffe3e3; color: #8a041a; }
.no_packages { background: #e4e7eb; color: #3e4c59; }
.chart { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 4px; margin: 8px 0; }
table { border-collapse: collapse; width: 100%%; background: #fff; font-size: 13px; border: 1px solid #d9e2ec; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e4e7eb; white-space: nowrap; }
th { background: #f0f4f8; font-weight: 600; white-space: normal; vertical-align: bottom; }
.scroll { overflow-x: auto; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; background: #f0f4f8; padding: 1px 4px; border-radius: 3px; }
""" % FONT  # noqa: UP031 - CSS is full of braces an f-string would double


def write_report(settings: Settings, snapshot_date: dt.date, *, seller_id: str | None = None) -> Path:
    """Write output/reports/vtr_report_<D>.html (…_<D>_<seller>.html for one seller) from the Parquet outputs
    of the TREND_DAYS snapshot dates up to D; raises FileNotFoundError when D has not been published."""
    files = f"{seller_id}.parquet" if seller_id else "*.parquet"
    if not list((settings.output / "vtr_snapshots" / f"snapshot_date={snapshot_date.isoformat()}").glob(files)):
        raise FileNotFoundError(f"no published outputs for {snapshot_date} under {settings.output}; run it first")
    # the look of every chart, set once: a template set on each figure is copied into it (20 ms a figure)
    pio.templates.default = "plotly_white"
    con = duckdb.connect()
    try:
        for name in DATASETS:
            path = (settings.output / name / "*" / files).as_posix().replace("'", "''")
            # the trend covers the TREND_DAYS up to D: a report costs the same after a year of history
            con.execute(f"create view {name} as select * from read_parquet('{path}', hive_partitioning = true)"
                        f" where snapshot_date between date '{snapshot_date.isoformat()}' - {TREND_DAYS - 1}"
                        f" and date '{snapshot_date.isoformat()}'")
        accounts = con.execute(
            "select distinct seller_id, marketplace from vtr_snapshots where snapshot_date = ?"
            " and (?::varchar is null or seller_id = ?) order by all", [snapshot_date, seller_id, seller_id],
        ).fetchall()
        charts = _Charts()
        sections = [_account(con, settings, snapshot_date, s, m, charts) for s, m in accounts]
    finally:
        con.close()
    title = f"Valid Tracking Rate report, snapshot {snapshot_date.isoformat()}"
    body = "".join(sections) or "<p class='lead'>No account has data for this snapshot date.</p>"
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
            f"<body><main><h1>{escape(title)}</h1><p class='lead'>VTR = packages with a valid tracking number "
            f"(at least one physical carrier scan, integrated carrier) / packages shipped and confirmed. "
            f"Windows by promised delivery date, {settings.lag_days}-day lag. {len(accounts)} account(s).</p>"
            f"{body}</main></body></html>")
    suffix = f"_{seller_id}" if seller_id else ""
    target = settings.output / "reports" / f"vtr_report_{snapshot_date.isoformat()}{suffix}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)  # a reader sees the old report or the new one, never half
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_reports(con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, snapshot_date: dt.date,
                  stale: list[str]) -> list[Path]:
    """The seller's reports for the run's last date (written from its published Parquet files)."""
    return [write_report(settings, snapshot_date, seller_id=seller_id)]


class _Charts:
    """Turns figures into <div>s; only the first carries plotly.js, inline."""

    def __init__(self):
        self.count = 0

    def html(self, fig: go.Figure, height: int) -> str:
        fig.update_layout(height=height, font={"family": FONT, "size": 12},
                          margin={"l": 60, "r": 20, "t": fig.layout.margin.t or 50, "b": 40})
        self.count += 1
        div = fig.to_html(full_html=False, include_plotlyjs=self.count == 1, div_id=f"chart-{self.count}",
                          config={"displaylogo": False, "responsive": True})
        return f"<div class='chart'>{div}</div>"


def _rows(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _pct(v) -> str:
    return percent(v, none="–").replace("%", "\u00a0%")


def _span(start: dt.date, end: dt.date) -> str:
    return f"<span class='nowrap'>{start}</span> to <span class='nowrap'>{end}</span>"


def _badge(status: str) -> str:
    return f"<span class='badge {escape(status)}'>{escape(STATUS_TEXT.get(status, status))}</span>"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """headers and cells are HTML already escaped by the caller."""
    head = "".join(f"<th class='num'>{h}</th>" if i in numeric else f"<th>{h}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _account(con, settings: Settings, day: dt.date, seller: str, marketplace: str, charts: _Charts) -> str:
    key = [seller, marketplace]
    today = "snapshot_date = ? and seller_id = ? and marketplace = ?"
    vtr = _rows(con, f"select * from vtr_snapshots where {today} and scope in ('overall', 'category')"
                " order by window_days, scope_value nulls first", [day, *key])
    projected = _rows(con, f"select * from projected_vtr where {today} and scope in ('overall', 'category')",
                      [day, *key])
    parts = [f"<h2>{escape(seller)} · {escape(marketplace)}</h2>", _headline(vtr, projected)]

    trend = _rows(con, "select snapshot_date, window_days, scope_value, vtr, target from vtr_snapshots"
                  " where seller_id = ? and marketplace = ? and scope in ('overall', 'category')"
                  " order by snapshot_date", key)
    parts.append("<h3>VTR trend, overall and per category</h3>")
    parts.append(charts.html(_trend_figure(trend, vtr, projected), 520))
    parts.append(_categories_at_risk(vtr, projected))

    reasons = _rows(con, f"select * from category_report where {today} and window_days ="
                    " (select max(window_days) from category_report)", [day, *key])
    parts.append("<h3>Why packages are invalid</h3>")
    parts.append(charts.html(_reasons_figure(reasons), 380))

    carriers = _rows(con, f"select * from carrier_performance where {today} order by share_of_invalid desc, carrier",
                     [day, *key])
    parts.append("<h3>Carriers</h3>")
    parts.append(charts.html(_carrier_figure(carriers), 380))

    parts.append(_at_risk_list(con, settings, day, key))
    return "<section>" + "".join(parts) + "</section>"


def _headline(vtr: list[dict], projected: list[dict]) -> str:
    cards = []
    for r in (r for r in vtr if r["scope"] == "overall"):
        cards.append(
            f"<div class='card'><div class='label'>VTR, {r['window_days']} days</div>"
            f"<div class='value'>{_pct(r['vtr'])} {_badge(r['status'])}</div>"
            f"<div class='detail'>{r['packages_valid']:,} of {r['packages_total']:,} packages valid<br>target "
            f"{_pct(r['target'])} · promised {_span(r['window_start'], r['window_end'])}</div></div>")
    for r in (r for r in projected if r["scope"] == "overall"):
        cards.append(
            f"<div class='card projection'><div class='label'>Early warning: projected VTR, {r['window_days']} days"
            f"</div><div class='value'>{_pct(r['projected_vtr'])} {_badge(r['status'])}</div>"
            f"<div class='detail'>{r['packages_at_risk']:,} of {r['packages_total']:,} packages at risk · "
            f"promised {_span(r['window_start'], r['window_end'])}, "
            f"final on <span class='nowrap'>{r['final_on']}</span><br>"
            f"A projection by this pipeline, not the marketplace's figure.</div></div>")
    return f"<div class='cards'>{''.join(cards)}</div>"


def _trend_figure(trend: list[dict], vtr: list[dict], projected: list[dict]) -> go.Figure:
    windows = sorted({r["window_days"] for r in trend})
    fig = make_subplots(rows=1, cols=len(windows), shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[f"{w}-day window" for w in windows])
    at_risk = {r["scope_value"] for r in vtr + projected if r["scope"] == "category" and r["status"] == "below_target"}
    categories = sorted({r["scope_value"] for r in trend if r["scope_value"] is not None})
    palette = qualitative.D3 + qualitative.Set2
    for col, w in enumerate(windows, start=1):
        rows = [r for r in trend if r["window_days"] == w]
        dates = sorted({r["snapshot_date"] for r in rows})
        target = {r["snapshot_date"]: r["target"] for r in rows}
        fig.add_trace(go.Scatter(x=dates, y=[target[d] for d in dates], name="Target", legendgroup="target",
                                 showlegend=col == 1, legendrank=1, mode="lines",
                                 hovertemplate="target %{y:.2%}<extra></extra>",
                                 line={"color": "#d62728", "dash": "dash", "width": 2}), row=1, col=col)
        for i, name in [*enumerate(categories), (-1, None)]:  # overall last: drawn on top
            by_day = {r["snapshot_date"]: r["vtr"] for r in rows if r["scope_value"] == name}
            if not by_day:
                continue
            label = escape(name) if name else "Overall"
            line = ({"color": "#1f2933", "width": 3.5} if name is None else
                    {"color": palette[i % len(palette)], "width": 2.2 if name in at_risk else 1.2})
            fig.add_trace(go.Scatter(
                x=dates, y=[by_day.get(d) for d in dates], name=label, legendgroup=label, showlegend=col == 1,
                mode="lines", line=line, opacity=1 if name is None or name in at_risk else 0.55,
                legendrank=2 if name is None else 1000,
                hovertemplate=f"{label}: %{{y:.2%}}<extra>%{{x}}</extra>"), row=1, col=col)
    days = len({r["snapshot_date"] for r in trend})
    fig.update_xaxes(type="date", tickformat="%b %-d", dtick=86_400_000 * math.ceil(days / 8))  # whole days
    fig.update_yaxes(tickformat=".1%", title_text="VTR", row=1, col=1)  # a narrow range must not repeat a label
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.12}, hovermode="closest")
    return fig


def _categories_at_risk(vtr: list[dict], projected: list[dict]) -> str:
    final = {(r["scope_value"], r["window_days"]): r for r in vtr if r["scope"] == "category"}
    early = {(r["scope_value"], r["window_days"]): r for r in projected if r["scope"] == "category"}
    keys = [k for k in sorted(set(final) | set(early), key=lambda k: (k[0], k[1]))
            if final.get(k, {}).get("status") == "below_target" or early.get(k, {}).get("status") == "below_target"]
    if not keys:
        return ("<h3>Categories at risk</h3><p class='note'>Every category is at or above target, measured and"
                " projected.</p>")
    rows = []
    for k in keys:
        f, e = final.get(k), early.get(k)
        rows.append([escape(k[0]), f"{k[1]} days",
                     f"{_pct(f['vtr'])} {_badge(f['status'])}" if f else "–",
                     f"{f['packages_valid']:,} / {f['packages_total']:,}" if f else "–",
                     f"{_pct(e['projected_vtr'])} {_badge(e['status'])}" if e else "–",
                     f"{e['packages_at_risk']:,}" if e else "–"])
    return ("<h3>Categories at risk</h3><p class='note'>Below target in the measured window, or projected below "
            "target (early warning) in the window not yet final.</p>"
            + _table(["Category", "Window", "VTR", "Valid / total", "Projected VTR (early warning)",
                      "Packages at risk"], rows, {2, 3, 4, 5}))


def _reasons_figure(rows: list[dict]) -> go.Figure:
    rows = sorted(rows, key=lambda r: -sum(r[f"invalid_{x}"] for x in REASONS))
    rows = [r for r in rows if sum(r[f"invalid_{x}"] for x in REASONS)]
    window = rows[0]["window_days"] if rows else ""
    fig = go.Figure()
    for reason, color in zip(REASONS, REASON_COLORS, strict=True):
        fig.add_trace(go.Bar(x=[escape(r["category"]) for r in rows], y=[r[f"invalid_{reason}"] for r in rows],
                             name=REASON_LABELS[reason], marker_color=color))
    if not rows:
        fig.add_annotation(text="No invalid packages", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    most = max((sum(r[f"invalid_{x}"] for x in REASONS) for r in rows), default=0)
    fig.update_yaxes(dtick=1 if most < 6 else None, rangemode="tozero")  # counts: no fractional ticks
    fig.update_layout(barmode="stack", title=f"Invalid packages by reason and category, {window}-day window",
                      yaxis_title="packages", bargap=0.3)
    return fig


def _carrier_figure(rows: list[dict]) -> go.Figure:
    names = [escape(r["carrier"]) for r in rows]
    window = rows[0]["window_days"] if rows else ""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=[
        f"Share of invalid packages ({window}-day window)", "Days from ship date to first scan"])
    fig.add_trace(go.Bar(x=names, y=[r["share_of_invalid"] for r in rows], name="share of invalid",
                         marker_color="#ef553b", showlegend=False,
                         customdata=[[r["packages_invalid"], r["packages_total"]] for r in rows],
                         hovertemplate="%{x}: %{y:.1%} of invalid<br>%{customdata[0]} invalid of "
                                       "%{customdata[1]} packages<extra></extra>"), row=1, col=1)
    for field, label, color in (("median_days_to_first_scan", "median", "#636efa"),
                                ("p90_days_to_first_scan", "90th percentile", "#9ca3f9")):
        fig.add_trace(go.Bar(x=names, y=[r[field] for r in rows], name=label, marker_color=color,
                             hovertemplate=f"%{{x}}: {label} %{{y:.2f}} days<extra></extra>"), row=1, col=2)
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text="days", row=1, col=2)
    fig.update_xaxes(automargin=True)
    fig.update_layout(barmode="group", margin={"t": 80},
                      legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.22})
    return fig


def _at_risk_list(con, settings: Settings, day: dt.date, key: list[str]) -> str:
    total = con.execute("select count(*) from at_risk_packages where snapshot_date = ? and seller_id = ?"
                        " and marketplace = ?", [day, *key]).fetchone()[0]
    rows = _rows(con, "select * from at_risk_packages where snapshot_date = ? and seller_id = ? and marketplace = ?"
                 " order by fix_by_date, order_id, tracking_number nulls first limit ?", [day, *key, AT_RISK_ROWS])
    path = settings.output / "at_risk_packages" / f"snapshot_date={day.isoformat()}" / f"{key[0]}.parquet"
    if not rows:
        return "<h3>Packages to fix</h3><p class='note'>No package is at risk.</p>"
    note = (f"<p class='note'>Packages not yet valid that still count towards a window not yet final, the earliest "
            f"fix-by date first: {len(rows)} of {total:,} shown. The full list is in "
            f"<code>{escape(str(path))}</code>.</p>")
    table = _table(["Fix by", "Order", "Tracking number", "Carrier", "Shipped", "Promised", "Categories", "Reason",
                    "Days since ship"],
                   [[str(r["fix_by_date"]), escape(r["order_id"]), escape(r["tracking_number"] or "(none)"),
                     escape(r["carrier"] or ""), str(r["ship_date"]), str(r["promised_delivery_date"]),
                     escape(", ".join(r["categories"] or [])), escape(REASON_LABELS.get(r["reason"], r["reason"])),
                     str(r["days_since_ship"])] for r in rows], {8})
    return "<h3>Packages to fix</h3>" + note + table
