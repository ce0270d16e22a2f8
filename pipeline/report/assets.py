"""Where the reports live and what they share: file names, atomic writes, the one plotly.js beside them, the
page's CSS and its few lines of JavaScript (sortable tables)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import plotly

from pipeline.outputs import replace_file
from pipeline.settings import Settings

PLOTLY_JS = "plotly.min.js"  # <output>/reports/plotly.min.js: one copy for every report, written from the package
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def reports_dir(settings: Settings) -> Path:
    return settings.output / "reports"


def safe_name(text: str) -> str:
    """A marketplace as a file name part: its own letters, digits, dots, hyphens and underscores; others become _
    (a sales channel comes from the seller's files and must not lead out of the folder)."""
    return _UNSAFE.sub("_", text).lstrip(".") or "_"


def report_path(settings: Settings, seller_id: str, snapshot_date: dt.date, marketplace: str) -> Path:
    """<output>/reports/<seller_id>/vtr_report_<D>_<marketplace>.html"""
    return reports_dir(settings) / seller_id / f"vtr_report_{snapshot_date.isoformat()}_{safe_name(marketplace)}.html"


def write_atomic(target: Path, content: str | bytes) -> Path:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return replace_file(target, lambda tmp: tmp.write_bytes(data))


def ensure_plotly_js(settings: Settings) -> Path:
    """The shared plotly.min.js, copied from the installed plotly package when missing or from another version."""
    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    target = reports_dir(settings) / PLOTLY_JS
    content = source.read_bytes()
    if not target.exists() or target.stat().st_size != len(content) or target.read_bytes() != content:
        write_atomic(target, content)
    return target


FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

CSS = (  # a placeholder, not an f-string: CSS is full of braces
    """
body { font-family: FONT_STACK; color: #1f2933; margin: 0; background: #f5f7fa; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 32px 48px; box-sizing: border-box; }
nav { font-size: 13px; margin: 0 0 8px; } nav a { margin-right: 14px; }
a { color: #0b69a3; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-top: 14px; border-top: 3px solid #3e4c59; }
h3 { font-size: 15px; margin: 22px 0 6px; color: #3e4c59; }
p.lead, p.note, .note { color: #52606d; font-size: 13px; margin: 4px 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; margin: 10px 0; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px 14px; }
.card.projection { border-style: dashed; background: #fbfcfd; }
.card.action { border-left: 5px solid #f0b429; }
.card .label { font-size: 12px; color: #52606d; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 28px; font-weight: 600; margin: 4px 0; }
.card .detail { font-size: 12px; color: #52606d; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px;
  vertical-align: middle; white-space: nowrap; }
.ok { background: #e3f9e5; color: #0e5814; } .below_target { background: #ffe3e3; color: #8a041a; }
.no_packages, .low { background: #e4e7eb; color: #3e4c59; } .overdue { background: #ffe3e3; color: #8a041a; }
.due { background: #fff3c4; color: #8d2b0b; }
.up { color: #0e7c14; } .down { color: #b0031f; } .flat { color: #52606d; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.chart { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 4px; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e4e7eb; white-space: nowrap; }
th { background: #f0f4f8; font-weight: 600; white-space: normal; vertical-align: bottom; position: sticky; top: 0; }
th.sortable { cursor: pointer; } th.sortable::after { content: " \\2195"; color: #9aa5b1; }
th[aria-sort=ascending]::after { content: " \\2191"; color: #1f2933; }
th[aria-sort=descending]::after { content: " \\2193"; color: #1f2933; }
td.wrap { white-space: normal; min-width: 260px; }
.scroll { overflow: auto; border: 1px solid #d9e2ec; border-radius: 4px; }
.scroll.tall { max-height: 420px; }
.scroll.tall th, .scroll.tall td { padding: 4px 6px; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; background: #f0f4f8; padding: 1px 4px; border-radius: 3px; }
.health { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 4px 14px 12px; }
.warn { color: #8d2b0b; font-weight: 600; }
ol.notes { font-size: 12px; color: #52606d; padding-left: 20px; } ol.notes li { margin: 3px 0; }
sup a { text-decoration: none; }
"""
).replace("FONT_STACK", FONT)

# Click a header to sort its table by that column (by each cell's data-sort, else its text); click again to reverse.
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.classList.add('sortable');
    th.addEventListener('click', function (e) {
      if (e.target.tagName === 'A') return;  // a footnote link in the header
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var key = function (row) { var c = row.cells[col]; var v = c.getAttribute('data-sort');
        return v === null ? c.textContent.trim() : v; };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), numbers = x !== '' && y !== '' && !isNaN(x) && !isNaN(y);
        var r = numbers ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
