"""The account's figures as HTML: the headline (VTR per window, its change, the early warning and the packages to
work on), the category table and the carrier table."""

from __future__ import annotations

from html import escape
from typing import Any

from pipeline.contract import REASONS
from pipeline.report import reasons
from pipeline.report.data import WEEK, Figures
from pipeline.report.html import (
    LOW_VOLUME,
    attr,
    badge,
    card,
    change,
    count,
    low_volume_badge,
    pct,
    ratio,
    span,
    table,
    td,
    th,
)
from pipeline.report.notes import ref
from pipeline.verdict import ORDER, describe, verdict, worst


def verdict_banner(f: Figures) -> str:
    """The account's verdict first (pipeline/verdict.py: a category below target makes the account below target),
    each breach with its counts, and the overall VTR per window beside it."""
    judged = verdict(f.now.values())
    status = judged["verdict"]
    breaches = [
        f"<li>{escape(b['scope_value'] or 'Overall')}, {b['window_days']}-day window: {pct(b['vtr'])}, "
        f"{b['packages_valid']:,} of {b['packages_total']:,} packages valid"
        + (f" {low_volume_badge(b['packages_total'])}" if b["packages_total"] < LOW_VOLUME else "")
        + "</li>"
        for b in judged["breaches"]
    ]
    overall = "".join(
        f"<div><span class='nowrap'>{w}-day <b>{pct(r['vtr'])}</b></span> {badge(r['status'])}</div>"
        for w in f.windows
        if (r := f.row("overall", None, w))
    )
    return (
        f"<section class='verdict verdict-{status}' id='verdict'><div class='verdict-main'>"
        f"<div class='label'>Verdict{ref('verdict')}</div>"
        f"<p class='verdict-text'>{escape(describe(judged, pct))}</p>"
        + (f"<ul class='breaches'>{''.join(breaches)}</ul>" if breaches else "")
        + f"</div><div class='verdict-overall'><div class='label'>Overall VTR</div>{overall}</div></section>"
    )


def headline(f: Figures, invalid: list[dict[str, Any]], to_fix: list[dict[str, Any]]) -> str:
    """Measured overall VTR per window and the packages to work on; below, the early warning per window."""
    cards = []
    for w in f.windows:
        r, before = f.row("overall", None, w), f.row("overall", None, w, earlier=True)
        assert r is not None, "an account with a snapshot has its overall rows"
        moved = change(r["vtr"], before["vtr"] if before else None, f"{w}-day VTR")[0]
        cards.append(
            card(
                f"Overall VTR, {w}-day window{ref('vtr')}",
                f"{pct(r['vtr'])} {badge(r['status'])}",
                f"{r['packages_valid']:,} of {r['packages_total']:,} packages valid{exempt(r)} · target "
                f"{pct(r['target'])}<br>"
                f"promised {span(r['window_start'], r['window_end'])}<br>{moved} vs 7 days earlier{ref('change')}",
                title=f"{r['packages_valid']:,} of the {r['packages_total']:,} packages promised "
                f"{r['window_start']} to {r['window_end']} have a physical scan from an integrated carrier by the end"
                f" of {f.day} (UTC)",
            )
        )
    overdue = sum(r["fix_by_date"] < f.day for r in to_fix)
    first = min((r["fix_by_date"] for r in to_fix), default=None)
    cards.append(
        card(
            f"To fix before they are measured{ref('to_fix')}",
            f"{len(to_fix):,}",
            (
                f"{badge('overdue', f'{overdue:,} overdue') if overdue else 'none overdue'} · first fix-by {first}<br>"
                if to_fix
                else ""
            )
            + "not measured yet: each counts as valid if fixed in time · <a href='#to-fix'>the list"
            "</a>",
            cls="action",
            title="packages not measured yet that are invalid now; each counts as valid if fixed by its fix-by date",
        )
    )
    largest = f.row("overall", None, f.largest)
    assert largest is not None, "an account with a snapshot has its overall rows"
    cards.append(
        card(
            f"Measured invalid now{ref('measured')}",
            f"{len(invalid):,}",
            f"of the {f.largest}-day window (promised {span(largest['window_start'], largest['window_end'])}): "
            f"already in the VTR above · <a href='#invalid'>the list</a>",
            cls="action",
            title=f"{largest['packages_total'] - largest['packages_valid']:,} = {largest['packages_total']:,} packages "
            f"- {largest['packages_valid']:,} valid; a correction still counts while the package is in the window",
        )
    )
    early = []
    for r in sorted((r for r in f.projected if r["scope"] == "overall"), key=lambda r: r["window_days"]):
        early.append(
            card(
                f"Early warning: projected {r['window_days']}-day VTR{ref('projected')}",
                f"{pct(r['projected_vtr'])} {badge(r['status'])}",
                f"{r['packages_at_risk']:,} projected invalid of {r['packages_total']:,} packages promised "
                f"{span(r['window_start'], r['window_end'])}, measured on <span class='nowrap'>{r['final_on']}</span>"
                " if nothing is fixed. A projection by this pipeline, not the marketplace's figure.",
                cls="projection",
                title=f"Projected invalid: {r['packages_at_risk']:,} packages of this window are invalid now and not "
                f"expected to become valid without a fix ({r['packages_valid_now']:,} valid now)",
            )
        )
    return f"<div class='cards'>{''.join(cards)}</div><div class='cards'>{''.join(early)}</div>"


def lowest_first(f: Figures, scope: str, names: set[str] | list[str]) -> list[str]:
    """Lowest VTR of any window first (so every value below target comes before those at or above it), low-volume
    values in their place, values with no VTR in any window last; ties by name."""

    def key(name: str) -> tuple[bool, float, str]:
        rates = [r["vtr"] for w in f.windows if (r := f.row(scope, name, w)) and r["vtr"] is not None]
        return (not rates, min(rates, default=0.0), name)

    return sorted(names, key=key)


def category_order(f: Figures) -> list[str]:
    return lowest_first(f, "category", f.scope_values("category"))


def _status(f: Figures, scope: str, name: str) -> str:
    rows = {w: r for w in f.windows if (r := f.row(scope, name, w))}
    status = worst(r["status"] for r in rows.values())
    below = [f"{w}-day" for w, r in rows.items() if r["status"] == "below_target"]
    windows = f"{', '.join(below)} window{'s' if len(below) > 1 else ''}"
    tips = {
        "below_target": f"below {pct(f.settings.target)} in the {windows}",
        "ok": f"at or above {pct(f.settings.target)} in every window with packages",
        "no_packages": "no package in any window",
    }
    return td(badge(status), sort=ORDER.index(status), title=tips[status])


def exempt(r: dict[str, Any]) -> str:
    """The packages an exemption left out of a VTR, written beside it (nothing when none)."""
    return f" (+{r['packages_exempt']:,} exempt)" if r["packages_exempt"] else ""


def _window_cells(f: Figures, scope: str, name: str, w: int, *, with_change: bool) -> list[str]:
    r, before = f.row(scope, name, w), f.row(scope, name, w, earlier=True)
    if r is None:
        return [td("–", sort=""), td("–", sort=0)] + ([td("–", sort="")] if with_change else [])
    tip = (
        f"{r['packages_valid']:,} of {r['packages_total']:,} packages valid{exempt(r)}, promised {r['window_start']} "
        f"to {r['window_end']}"
    )
    cells = [
        td(pct(r["vtr"]), sort="" if r["vtr"] is None else r["vtr"], title=tip, num=True, cls=f"vtr-{w}"),
        td(
            ratio(r["packages_valid"], r["packages_total"]) + exempt(r),
            sort=r["packages_total"],
            title=tip,
            num=True,
            cls=f"count-{w}",
        ),
    ]
    if with_change:
        html, delta = change(r["vtr"], before["vtr"] if before else None, f"{escape(name)}, {w}-day")
        cells.append(td(html, sort="" if delta is None else round(delta, 6), num=True))
    return cells


def _top_reason(f: Figures, category: str) -> str:
    row = next((r for r in f.category_report if r["category"] == category and r["window_days"] == f.largest), None)
    counts = [(row[f"invalid_{x}"], x) for x in REASONS] if row else []
    n, reason = max(counts, key=lambda c: c[0], default=(0, None))
    if not n or reason is None:
        return td("–", sort=0, title="no invalid package")
    invalid = sum(c for c, _ in counts)
    return td(
        f"{escape(reasons.label(reason))}: {n:,}",
        sort=n,
        title=f"{n:,} of the {invalid:,} invalid packages of the {f.largest}-day window. {reasons.WHAT_TO_DO[reason]}",
    )


def category_table(f: Figures, colours: dict[str, str]) -> str:
    head = [th("Category")]
    for w in f.windows:
        head += [
            th(f"{w}-day VTR{ref('vtr')}", num=True),
            th("valid / total", num=True),
            th(f"vs last week{ref('change')}", f"{w}-day VTR now against the snapshot of {f.day - WEEK}", num=True),
        ]
    head += [
        th("Status", "the worst of its windows: below target, OK, no packages"),
        th(f"Top reason ({f.largest}-day)", "the most frequent reason among the category's invalid packages"),
    ]
    body, attrs = [], []
    for name in category_order(f):
        r = f.row("category", name, f.largest)
        low = r is not None and r["packages_total"] < LOW_VOLUME
        notes = ("low",) * low + ("uncategorized",) * (name == "Uncategorized")
        marks = (f" {low_volume_badge(r['packages_total'])}" if r is not None and low else "") + (
            ref(*notes) if notes else ""
        )
        cells = [td(f"<span class='swatch' style='background:{colours[name]}'></span>{escape(name)}{marks}", sort=name)]
        for w in f.windows:
            cells += _window_cells(f, "category", name, w, with_change=True)
        body.append([*cells, _status(f, "category", name), _top_reason(f, name)])
        attrs.append(f" data-category='{attr(name)}'")
    if not body:
        return "<p class='note'>No category has packages in the windows.</p>"
    return table(head, body, table_id="categories", row_attrs=attrs)


def carrier_order(f: Figures) -> list[str]:
    return lowest_first(f, "carrier", set(f.scope_values("carrier")) | {r["carrier"] for r in f.carrier_performance})


def carrier_table(f: Figures) -> str:
    perf = {r["carrier"]: r for r in f.carrier_performance}
    names = carrier_order(f)
    head = [th("Carrier"), th("Integrated", "the marketplace receives this carrier's tracking")]
    for w in f.windows:
        head += [th(f"{w}-day VTR{ref('carrier')}", num=True), th("valid / total", num=True)]
    head += [
        th("Status"),
        th(
            "Median days to first scan",
            f"from the ship date (00:00 UTC) to the first physical scan, packages of the {f.largest}-day window",
            num=True,
        ),
        th("90th percentile", "9 in 10 packages had their first scan within this many days", num=True),
        th("Scanned", "packages with a physical scan that counts, of the window's packages", num=True),
    ]
    body = []
    for c in names:
        p = perf.get(c, {})
        integrated = c in f.settings.integrated_carriers
        cells = [
            td(escape(c), sort=c),
            td("yes" if integrated else "<span class='warn'>no</span>", sort=int(integrated)),
        ]
        for w in f.windows:
            cells += _window_cells(f, "carrier", c, w, with_change=False)
        cells += [
            _status(f, "carrier", c),
            td(
                count(None) if p.get("median_days_to_first_scan") is None else f"{p['median_days_to_first_scan']}",
                sort=p.get("median_days_to_first_scan", ""),
                num=True,
            ),
            td(
                count(None) if p.get("p90_days_to_first_scan") is None else f"{p['p90_days_to_first_scan']}",
                sort=p.get("p90_days_to_first_scan", ""),
                num=True,
            ),
            td(
                ratio(p["packages_scanned"], p["packages_total"]) if p else "–",
                sort=p.get("packages_scanned", ""),
                num=True,
            ),
        ]
        body.append(cells)
    return table(head, body, table_id="carriers") if body else "<p class='note'>No carrier in the windows.</p>"
