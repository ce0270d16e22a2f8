"""Where the reports live and what they share: file names, atomic writes, the one plotly.js beside them, the
page's CSS and its few lines of JavaScript (sortable tables)."""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
from pathlib import Path

from pipeline.contract import file_part
from pipeline.outputs import replace_file
from pipeline.settings import Settings

PLOTLY_JS = "plotly.min.js"  # <output>/reports/plotly.min.js: one copy for every report, written from the package


def reports_dir(settings: Settings) -> Path:
    return settings.output / "reports"


def report_path(settings: Settings, seller_id: str, snapshot_date: dt.date, marketplace: str) -> Path:
    """<output>/reports/<seller_id>/vtr_report_<D>_<marketplace>.html, both names encoded (contract.file_part: a
    sales channel comes from the seller's files and must not lead out of the folder, nor collide with another)."""
    name = f"vtr_report_{snapshot_date.isoformat()}_{file_part(marketplace)}.html"
    return reports_dir(settings) / file_part(seller_id) / name


def write_atomic(target: Path, content: str | bytes) -> Path:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return replace_file(target, lambda tmp: tmp.write_bytes(data))


@functools.cache
def plotly_data() -> Path:
    """The installed plotly package's data folder (plotly.min.js, templates), found without importing plotly."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package (its plotly.min.js and templates) is not installed: run make setup")
    return Path(spec.origin).parent / "package_data"


def ensure_plotly_js(settings: Settings) -> Path:
    """The shared plotly.min.js, copied from the installed plotly package when missing or from another version."""
    source = plotly_data() / PLOTLY_JS
    target = reports_dir(settings) / PLOTLY_JS
    content = source.read_bytes()
    if not target.exists() or target.stat().st_size != len(content) or target.read_bytes() != content:
        write_atomic(target, content)
    return target


FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

CSS = (  # a placeholder, not an f-string: CSS is full of braces
    """
body { font-family: FONT_STACK; color: #1f2933; margin: 0; background: #f5f7fa; }
main { max-width: 1400px; margin: 0 auto; padding: 20px 32px 48px; box-sizing: border-box; }
nav { font-size: 13px; margin: 0 0 8px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
a { color: #0b69a3; }
h1 { font-size: 24px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-top: 14px; border-top: 3px solid #3e4c59; }
h3 { font-size: 15px; margin: 22px 0 6px; color: #3e4c59; }
p.lead, p.note, .note { color: #52606d; font-size: 13px; margin: 4px 0 10px; }
.nowrap { white-space: nowrap; }
.verdict { display: flex; flex-wrap: wrap; gap: 12px 32px; justify-content: space-between; margin: 12px 0;
  padding: 12px 16px; border-radius: 6px; border: 1px solid #d9e2ec; border-left: 8px solid #7b8794;
  background: #fff; }
.verdict.verdict-below_target { border-left-color: #d62728; background: #fff5f5; }
.verdict.verdict-ok { border-left-color: #2f8132; }
.verdict-main { flex: 1 1 420px; min-width: 0; }
.verdict .label { font-size: 12px; color: #52606d; text-transform: uppercase; letter-spacing: .03em; }
.verdict-text { font-size: 20px; font-weight: 600; margin: 4px 0; overflow-wrap: anywhere; }
.verdict-below_target .verdict-text { color: #8a041a; }
ul.breaches { margin: 4px 0 0; padding-left: 20px; font-size: 13px; color: #3e4c59; }
.verdict-overall { flex: 0 1 auto; font-size: 15px; line-height: 1.7; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; margin: 10px 0; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 12px 14px; min-width: 0; }
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
.chart { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 4px; margin: 8px 0; min-width: 0; }
.window-switch { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; margin: 14px 0 4px; }
.window-switch button { font: inherit; font-size: 13px; padding: 3px 10px; border: 1px solid #9aa5b1;
  border-radius: 4px; background: #fff; color: #1f2933; cursor: pointer; }
.window-switch button[aria-pressed=true] { background: #3e4c59; border-color: #3e4c59; color: #fff; }
.keys { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: #52606d; margin-left: auto; }
.key { display: inline-flex; align-items: center; gap: 6px; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 0 10px; }
.panel { min-width: 0; } .panel .chart { margin: 2px 0 8px; }
.panel-title { font-size: 13px; margin: 8px 0 0; overflow-wrap: anywhere; }
table { border-collapse: separate; border-spacing: 0; width: 100%; background: #fff; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e4e7eb; white-space: nowrap; background: #fff; }
th { background: #f0f4f8; font-weight: 600; white-space: normal; vertical-align: bottom; position: sticky; top: 0;
  z-index: 2; }
th:first-child, td:first-child { position: sticky; left: 0; z-index: 1; box-shadow: 1px 0 0 #e4e7eb; }
th:first-child { z-index: 3; }
th.sortable { cursor: pointer; } th.sortable::after { content: " \\2195"; color: #9aa5b1; }
th[aria-sort=ascending]::after { content: " \\2191"; color: #1f2933; }
th[aria-sort=descending]::after { content: " \\2193"; color: #1f2933; }
td.wrap { white-space: normal; min-width: 16em; }
td.text { white-space: normal; min-width: 7em; }  /* wraps between the values of a list, never inside one */
.scroll { overflow: auto; border: 1px solid #d9e2ec; border-radius: 4px; max-width: 100%; }
.scroll.tall { max-height: 420px; }
.scroll.tall th, .scroll.tall td { padding: 4px 6px; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; background: #f0f4f8; padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
.health { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 4px 14px 12px; }
.warn { color: #8d2b0b; font-weight: 600; }
ol.notes { font-size: 12px; color: #52606d; padding-left: 20px; } ol.notes li { margin: 3px 0; }
sup a { text-decoration: none; }
@media (max-width: 640px) {
  main { padding: 12px 12px 32px; }
  h1 { font-size: 20px; }
  .verdict { padding: 10px 12px; border-left-width: 6px; }
  .verdict-main { flex-basis: 100%; }
  .verdict-text { font-size: 17px; }
  .health { padding: 4px 8px 10px; }
  .keys { margin-left: 0; }
  td.wrap { min-width: 12em; }
  table.collapse thead { display: none; }
  table.collapse, table.collapse tbody, table.collapse tr, table.collapse td { display: block; }
  table.collapse tr { padding: 6px 0; border-bottom: 1px solid #d9e2ec; }
  table.collapse td { position: static; box-shadow: none; border: 0; padding: 2px 10px; white-space: normal;
    text-align: left; min-width: 0; }
  table.collapse td[data-label]::before { content: attr(data-label) ": "; color: #52606d; font-size: 12px; }
}
"""
).replace("FONT_STACK", FONT)

# Click a header to sort its table by that column (by each cell's data-sort, else its text); click again to reverse.
# Empty values (no VTR, no change) stay last either way.
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
        v = v === null ? c.textContent.trim() : v; return v === '\u2013' ? '' : v; };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' || y === '') return (x === '') - (y === '');
        var numbers = !isNaN(x) && !isNaN(y);
        var r = numbers ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

# The category panels' window buttons: every panel shows the chosen window's traces (the target always) and its axis.
WINDOW_JS = """
document.querySelectorAll('.window-switch').forEach(function (box) {
  var ranges = JSON.parse(box.getAttribute('data-ranges'));
  var buttons = Array.prototype.slice.call(box.querySelectorAll('button'));
  buttons.forEach(function (button, chosen) {
    button.addEventListener('click', function () {
      buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b === button)); });
      var visible = [true];
      ranges.forEach(function (_, w) { visible.push(w === chosen, w === chosen, w === chosen); });
      document.querySelectorAll('#' + box.getAttribute('data-for') + ' .js-plotly-plot').forEach(function (div) {
        Plotly.update(div, {visible: visible}, {'yaxis.range': ranges[chosen]});
      });
    });
  });
});
"""
