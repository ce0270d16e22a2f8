"""The page's charts, drawn by the shared plotly.min.js: the overall trend, one small panel per category, and the
carriers' days to first scan. One colour per category, the same everywhere on the page, none of them the target
line's red or the overall line's near-black.

Each figure is written as plotly.js JSON from plain dicts, as plotly's Python figure objects wrote it (their
validation and copies cost a second a seller), byte for byte: traces with their keys in plotly's order (by name,
`type` last), the layout's as plotly's updates left them (within one update, nested settings before plain values),
the `plotly_white` template first.
"""

from __future__ import annotations

import colorsys
import datetime as dt
import decimal
import functools
import json
import math
from html import escape
from typing import Any

from pipeline.report.assets import FONT, plotly_data
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


Figure = dict[str, Any]  # {"data": [trace, ...], "layout": {...}}: what plotly.js's newPlot takes


@functools.cache
def _template() -> dict[str, Any]:
    """plotly's `plotly_white` template, as the installed package holds it."""
    template = json.loads((plotly_data() / "templates" / "plotly_white.json").read_text())
    return {"data": template["data"], "layout": template["layout"]}


def _json_value(value: object) -> object:
    if isinstance(value, dt.date):  # snapshot dates: plotly writes a date as its ISO text
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} in a chart's JSON")


def to_json(value: object) -> str:
    """JSON as plotly writes it into a page: compact, NaN and infinities as null, and <, > and / escaped so that no
    text closes the page's script element."""
    text = json.dumps(value, separators=(",", ":"), default=_json_value)
    if "NaN" in text or "Infinity" in text:
        text = json.dumps(json.loads(text, parse_constant=lambda _: None), separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("/", "\\u002f")


def chart_div(fig: Figure, height: int, div_id: str, *, toolbar: bool = True) -> str:
    """The figure drawn by the shared plotly.js, as wide as its box and resized with it, in a div of a fixed id (a
    re-run writes the same page); `toolbar`: plotly's modebar (top right, so legends go below the plot); margins the
    figure set are kept."""
    margin = fig["layout"].get("margin", {})
    layout = {"template": _template(), **fig["layout"], "font": {"family": FONT, "size": 12}}
    layout["margin"] = margin | {
        side: margin.get(side) or n for side, n in (("l", 60), ("r", 20), ("t", 40), ("b", 40))
    }
    layout["height"] = height
    config = {"displaylogo": False, "responsive": True, "displayModeBar": "hover" if toolbar else False}
    script = (
        f'if (document.getElementById("{div_id}")) {{                    Plotly.newPlot(                        '
        f'"{div_id}",                        {to_json(fig["data"])},                        {to_json(layout)},'
        f"                        {json.dumps(config)}                    )                }}"
    )
    return (
        f"<div class='chart'><div style=\"height:{height}px; width:100%;\">                            "
        f'<div id="{div_id}" class="plotly-graph-div" style="height:100%; width:100%;"></div>            <script>'
        f"                window.PLOTLYENV=window.PLOTLYENV || {{}};                                {script};"
        "            </script>        </div></div>"
    )


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


def _ordered(props: dict[str, Any]) -> dict[str, Any]:
    """Properties as plotly's figure objects wrote them: in name order (theirs too), None left out."""
    return {k: _ordered(v) if isinstance(v, dict) else v for k, v in sorted(props.items()) if v is not None}


def _trace(kind: str, **props: object) -> dict[str, Any]:
    return _ordered(props) | {"type": kind}


def _axes(y_range: list[float], days: int, **x: object) -> dict[str, Any]:
    """Date ticks spaced by plotly for the drawn width (a phone gets fewer), so labels never overlap; over a short
    history at most one tick a day (plotly would tick every 12 hours, each date written twice)."""
    xaxis = {"type": "date", "tickformat": "%b %-d"} | ({"nticks": max(1, min(days - 1, 5))} if days < 15 else {})
    return {
        "xaxis": xaxis | {k: v for k, v in x.items() if v is not None},
        "yaxis": {"tickformat": ".1%", "range": y_range, "fixedrange": False},
    }


def overall_figure(figures: Figures, target: float) -> Figure:
    y_range = axis_range(figures, target, figures.windows, categories=False)
    dates = sorted({r["snapshot_date"] for r in figures.trend})
    data = [
        _trace(
            "scatter",
            x=dates,
            y=[target] * len(dates),
            name=f"Target {pct(target)}",
            mode="lines",
            line={"color": TARGET_COLOUR, "dash": "dash", "width": 2},
            hoverinfo="skip",
        )
    ]
    for i, window in enumerate(sorted(figures.windows, reverse=True)):
        series = _series(figures, "overall", None, window)
        data.append(
            _trace(
                "scatter",
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
    layout = _axes(y_range, len(dates)) | {"legend": BELOW, "margin": {"t": 30}, "hovermode": "closest"}
    return {"data": data, "layout": layout}


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
        data = [
            _trace(
                "scatter",
                x=dates,
                y=[target] * len(dates),
                mode="lines",
                hoverinfo="skip",
                line={"color": TARGET_COLOUR, "dash": "dash", "width": 1.5},
            )
        ]
        for w, y_range in zip(windows, ranges, strict=True):
            overall = _series(figures, "overall", None, w)
            series = _series(figures, "category", name, w)
            few = [r for r in series if r["packages_total"] < LOW_VOLUME]
            visible = w == windows[0]
            data.append(
                _trace(
                    "scatter",
                    x=[r["snapshot_date"] for r in overall],
                    y=[r["vtr"] for r in overall],
                    mode="lines",
                    visible=visible,
                    line={"color": OVERALL_COLOURS[1], "width": 1.2},
                    text=[_hover("Overall", w, r) for r in overall],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
            data.append(
                _trace(
                    "scatter",
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
            data.append(
                _trace(
                    "scatter",
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
        # every panel the same dates
        layout = _axes(ranges[0], len(dates), range=[dates[0], dates[-1]] if dates else None) | {
            "margin": {"t": 8, "l": 52, "r": 12, "b": 28},
            "showlegend": False,
            "hovermode": "closest",
        }
        fig = {"data": data, "layout": layout}
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


def carrier_height(carriers: int) -> int:
    return 130 + 34 * carriers


def carrier_scan_figure(carriers: list[dict[str, Any]]) -> Figure:
    """Days from the ship date to the first physical scan, median and 90th percentile, per carrier: one row of bars
    per carrier (`carriers` in the table's order, top down), so its name reads across however narrow the chart."""
    names = [escape(r["carrier"]) for r in carriers]
    data = [
        _trace(
            "bar",
            y=names,
            x=[r[field] for r in carriers],
            orientation="h",
            name=label,
            marker={"color": colour},
            text=[
                f"<b>{n}</b>: {label} {r[field] if r[field] is not None else '–'} days<br>"
                f"{r['packages_scanned']:,} of {r['packages_total']:,} packages scanned"
                for n, r in zip(names, carriers, strict=True)
            ],
            textposition="none",
            hovertemplate="%{text}<extra></extra>",
        )
        for field, label, colour in (
            ("median_days_to_first_scan", "median", "#3e4c59"),
            ("p90_days_to_first_scan", "90th percentile", "#9aa5b1"),
        )
    ]
    unscanned = [
        _ordered({"y": name, "x": 0, "xanchor": "left", "showarrow": False, "text": "no scan that counts",
                  "font": {"color": "#8a041a"}})
        for name, r in zip(names, carriers, strict=True)
        if r["median_days_to_first_scan"] is None
    ]  # fmt: skip
    layout = {
        **({"annotations": unscanned} if unscanned else {}),
        "xaxis": {"title": {"text": "days after the ship date"}, "rangemode": "tozero"},
        "yaxis": {"autorange": "reversed", "automargin": True},
        "legend": BELOW,
        "margin": {"t": 30, "l": 20},
        "barmode": "group",
    }
    return {"data": data, "layout": layout}
