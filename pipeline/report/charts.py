"""The page's charts (plotly, drawn by the shared plotly.min.js): the overall trend, one small panel per category,
and the carriers' days to first scan. One colour per category, the same everywhere on the page, none of them the
target line's red or the overall line's near-black."""

from __future__ import annotations

import colorsys
import json
import math
from html import escape
from typing import Any

import plotly.graph_objects as go

from pipeline.report.assets import FONT
from pipeline.report.data import Figures
from pipeline.report.html import LOW_VOLUME, pct

TARGET_COLOUR = "#d62728"
OVERALL_COLOURS = ("#1f2933", "#7b8794")  # the largest window, then the others
# 12 colours at least 26 apart in CIELAB from each other and from the target's red and the overall's near-black
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#1a237e",
    "#008856",
    "#827717",
    "#c2b280",
)
PANEL_HEIGHT = 180
# a legend under the plot, centred, in the margin plotly makes for it: the modebar (top right) never covers it
BELOW = {"orientation": "h", "x": 0.5, "xanchor": "center", "y": 0, "yref": "container", "yanchor": "bottom"}


def category_colours(categories: list[str]) -> dict[str, str]:
    """Name order, `Uncategorized` last; past the palette, hues away from red at alternating lightness."""
    names = sorted(categories, key=lambda c: (c == "Uncategorized", c))
    colours = {}
    for i, name in enumerate(names):
        if i < len(PALETTE):
            colours[name] = PALETTE[i]
        else:
            n = i - len(PALETTE)
            hue = 0.09 + (n * 0.618034 % 1) * 0.8  # 32 to 320 degrees: never red
            r, g, b = colorsys.hls_to_rgb(hue, 0.35 if n % 2 else 0.55, 0.75)
            colours[name] = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
    return colours


def chart_div(fig: go.Figure, height: int, div_id: str, *, toolbar: bool = True) -> str:
    """The figure drawn by the shared plotly.js, as wide as its box and resized with it, in a div of a fixed id (a
    re-run writes the same page); `toolbar`: plotly's modebar (top right, so legends go below the plot); margins the
    figure set are kept."""
    margin = fig.layout.margin
    fig.update_layout(
        height=height,
        font={"family": FONT, "size": 12},
        margin={"l": margin.l or 60, "r": margin.r or 20, "t": margin.t or 40, "b": margin.b or 40},
    )
    config = {"displaylogo": False, "responsive": True, "displayModeBar": "hover" if toolbar else False}
    div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=config)
    return f"<div class='chart'>{div}</div>"


def _hover(name: str, window: int, r: dict[str, Any]) -> str:
    low = f"<br>low volume: fewer than {LOW_VOLUME} packages" if r["packages_total"] < LOW_VOLUME else ""
    return (
        f"<b>{escape(name)}</b>, {window}-day window<br>{r['snapshot_date']:%b %-d}: {pct(r['vtr'])}"
        f"<br>{r['packages_valid']:,} of {r['packages_total']:,} packages valid{low}"
    )


def axis_range(figures: Figures, target: float, windows: list[int], *, categories: bool) -> list[float]:
    """A VTR axis holding the target, the overall VTR of the windows and (`categories`) every category point of
    enough volume: low-volume points never widen it (a point below it is pinned to its bottom edge)."""
    values = [
        r["vtr"]
        for r in figures.trend
        if r["vtr"] is not None
        and r["window_days"] in windows
        and (r["scope"] == "overall" or categories and r["packages_total"] >= LOW_VOLUME)
    ]
    bottom = max(0.0, math.floor((min([*values, target]) - 0.005) * 200) / 200)  # half a point below, on a 0.5 step
    return [bottom, 1.0025]


def _series(figures: Figures, scope: str, value: str | None, window: int) -> list[dict[str, Any]]:
    return [
        r
        for r in figures.trend
        if r["scope"] == scope and r["scope_value"] == value and r["window_days"] == window and r["vtr"] is not None
    ]


def overall_figure(figures: Figures, target: float) -> go.Figure:
    fig = go.Figure()
    y_range = axis_range(figures, target, figures.windows, categories=False)
    dates = sorted({r["snapshot_date"] for r in figures.trend})
    fig.add_trace(
        go.Scatter(
            x=dates,
            y=[target] * len(dates),
            name=f"Target {pct(target)}",
            mode="lines",
            line={"color": TARGET_COLOUR, "dash": "dash", "width": 2},
            hoverinfo="skip",
        )
    )
    for i, window in enumerate(sorted(figures.windows, reverse=True)):
        series = _series(figures, "overall", None, window)
        fig.add_trace(
            go.Scatter(
                x=[r["snapshot_date"] for r in series],
                y=[r["vtr"] for r in series],
                name=f"Overall, {window}-day",
                mode="lines+markers",
                marker={"size": 4},
                text=[_hover("Overall", window, r) for r in series],
                hovertemplate="%{text}<extra></extra>",
                line={"color": OVERALL_COLOURS[min(i, 1)], "width": 2.5 if i == 0 else 1.5},
            )
        )
    _axes(fig, y_range, len(dates))
    fig.update_layout(legend=BELOW, hovermode="closest", margin={"t": 30})
    return fig


def category_panels(figures: Figures, target: float, colours: dict[str, str], order: list[str]) -> str:
    """One small chart per category (`order`: lowest VTR first) in a grid that reflows with the screen's width: the
    category's VTR in its colour, the overall VTR of the same window in grey and the target dashed; buttons above
    switch every panel's window (WINDOW_JS). Low-volume points are open markers (a triangle on the axis' bottom when
    below it) and the line skips them. Every panel holds the same traces in the same order: the target, then per
    window (largest first) the overall, the category's line and its low-volume points."""
    dates = sorted({r["snapshot_date"] for r in figures.trend})
    windows = sorted(figures.windows, reverse=True)
    ranges = [axis_range(figures, target, [w], categories=True) for w in windows]
    panels = []
    for n, name in enumerate(order):
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=[target] * len(dates),
                mode="lines",
                hoverinfo="skip",
                line={"color": TARGET_COLOUR, "dash": "dash", "width": 1.5},
            )
        )
        for w, y_range in zip(windows, ranges, strict=True):
            overall = _series(figures, "overall", None, w)
            series = _series(figures, "category", name, w)
            few = [r for r in series if r["packages_total"] < LOW_VOLUME]
            visible = w == windows[0]
            fig.add_trace(
                go.Scatter(
                    x=[r["snapshot_date"] for r in overall],
                    y=[r["vtr"] for r in overall],
                    mode="lines",
                    visible=visible,
                    line={"color": OVERALL_COLOURS[1], "width": 1.2},
                    text=[_hover("Overall", w, r) for r in overall],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=[r["snapshot_date"] for r in series],
                    y=[None if r["packages_total"] < LOW_VOLUME else r["vtr"] for r in series],
                    mode="lines",
                    visible=visible,
                    line={"color": colours[name], "width": 2},
                    text=[_hover(name, w, r) for r in series],
                    hovertemplate="%{text}<extra></extra>",
                    connectgaps=False,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=[r["snapshot_date"] for r in few],
                    y=[max(r["vtr"], y_range[0]) for r in few],
                    mode="markers",
                    visible=visible,
                    cliponaxis=False,
                    text=[_hover(name, w, r) for r in few],
                    marker={
                        "color": colours[name],
                        "size": 6,
                        "line": {"width": 1.2},
                        "symbol": ["triangle-down-open" if r["vtr"] < y_range[0] else "circle-open" for r in few],
                    },
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        _axes(fig, ranges[0], len(dates))
        fig.update_xaxes(range=[dates[0], dates[-1]] if dates else None)  # every panel the same dates
        fig.update_layout(showlegend=False, hovermode="closest", margin={"t": 8, "l": 52, "r": 12, "b": 28})
        title = f"<h4 class='panel-title'><span class='swatch' style='background:{colours[name]}'></span>{escape(name)}"
        panels.append(
            f"<div class='panel'>{title}</h4>{chart_div(fig, PANEL_HEIGHT, f'panel-{n}', toolbar=False)}</div>"
        )
    buttons = "".join(
        f"<button type='button' aria-pressed='{str(i == 0).lower()}'>{w}-day window</button>"
        for i, w in enumerate(windows)
    )
    target_key = _line_key(TARGET_COLOUR, "stroke-width='2' stroke-dasharray='6 3'")
    overall_key = _line_key(OVERALL_COLOURS[1], "stroke-width='1.5'")
    key = (
        f"<span class='key'>{target_key}Target {pct(target)}</span><span class='key'>{overall_key}Overall (same "
        f"window)</span><span class='key'><svg width='12' height='12' aria-hidden='true'><circle cx='6' cy='6' r='4' "
        f"fill='none' stroke='#52606d' stroke-width='1.3'/></svg>Low volume (&lt; {LOW_VOLUME} packages; \u25bd: "
        f"below the axis)</span>"
    )
    return (
        f"<div class='window-switch' data-for='category-panels' data-ranges='{json.dumps(ranges)}'>{buttons}"
        f"<div class='keys'>{key}</div></div><div class='panels' id='category-panels'>{''.join(panels)}</div>"
    )


def _line_key(colour: str, stroke: str) -> str:
    """A legend's line sample, drawn in HTML beside the panels."""
    return (
        f"<svg width='26' height='10' aria-hidden='true'><line x1='0' y1='5' x2='26' y2='5' stroke='{colour}' "
        f"{stroke}/></svg>"
    )


def _axes(fig: go.Figure, y_range: list[float], days: int) -> None:
    """Date ticks spaced by plotly for the drawn width (a phone gets fewer), so labels never overlap; over a short
    history at most one tick a day (plotly would tick every 12 hours, each date written twice)."""
    fig.update_xaxes(type="date", tickformat="%b %-d", nticks=max(1, min(days - 1, 5)) if days < 15 else None)
    fig.update_yaxes(tickformat=".1%", range=y_range, fixedrange=False)


def carrier_height(carriers: int) -> int:
    return 130 + 34 * carriers


def carrier_scan_figure(carriers: list[dict[str, Any]]) -> go.Figure:
    """Days from the ship date to the first physical scan, median and 90th percentile, per carrier: one row of bars
    per carrier (`carriers` in the table's order, top down), so its name reads across however narrow the chart."""
    fig = go.Figure()
    names = [escape(r["carrier"]) for r in carriers]
    for field, label, colour in (
        ("median_days_to_first_scan", "median", "#3e4c59"),
        ("p90_days_to_first_scan", "90th percentile", "#9aa5b1"),
    ):
        fig.add_trace(
            go.Bar(
                y=names,
                x=[r[field] for r in carriers],
                orientation="h",
                name=label,
                marker_color=colour,
                text=[
                    f"<b>{n}</b>: {label} {r[field] if r[field] is not None else '–'} days<br>"
                    f"{r['packages_scanned']:,} of {r['packages_total']:,} packages scanned"
                    for n, r in zip(names, carriers, strict=True)
                ],
                textposition="none",
                hovertemplate="%{text}<extra></extra>",
            )
        )
    for name, r in zip(names, carriers, strict=True):
        if r["median_days_to_first_scan"] is None:
            fig.add_annotation(
                y=name, x=0, xanchor="left", showarrow=False, text="no scan that counts", font={"color": "#8a041a"}
            )
    fig.update_xaxes(title_text="days after the ship date", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_layout(barmode="group", legend=BELOW, margin={"t": 30, "l": 20})
    return fig
