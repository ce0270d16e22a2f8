"""Small HTML pieces every section uses: rates, changes, badges, table cells with their sort keys and hover texts.
Every text from the data is escaped here or by the caller before it reaches the page."""

from __future__ import annotations

from html import escape

from pipeline.formatting import percent

STATUS_TEXT = {"ok": "OK", "below_target": "Below target", "no_packages": "No packages"}
LOW_VOLUME = 20  # packages in a window below which a VTR is marked "low volume" and never scales a chart's axis


def attr(text: object) -> str:
    return escape(str(text), quote=True)


def pct(value: float | None) -> str:
    """A rate as the pipeline prints it (two decimals, truncated), with a non-breaking space before %."""
    return percent(value, none="–").replace("%", "\u00a0%")


def count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def ratio(valid: int | None, total: int | None) -> str:
    return "–" if total is None else f"{valid:,}\u00a0/\u00a0{total:,}"


def change(now: float | None, before: float | None, what: str = "") -> tuple[str, float | None]:
    """The change of a VTR against the same window 7 days earlier, in percentage points, with an arrow; returns
    (html, the change as a fraction for sorting)."""
    if now is None or before is None:
        tip = f"{what}: no VTR on one of the two dates" if what else "no VTR on one of the two dates"
        return f"<span class='flat' title='{attr(tip)}'>–</span>", None
    delta = now - before
    points = round(delta * 100, 2)
    arrow, cls = ("▲", "up") if points > 0 else ("▼", "down") if points < 0 else ("▶", "flat")
    tip = f"{what + ': ' if what else ''}{pct(before)} a week before, {pct(now)} now"
    return (f"<span class='{cls} nowrap' title='{attr(tip)}'>{arrow}\u00a0{points:+.2f}\u00a0pp</span>", delta)


def badge(status: str, text: str | None = None, title: str = "") -> str:
    tip = f" title='{attr(title)}'" if title else ""
    return f"<span class='badge {attr(status)}'{tip}>{escape(text or STATUS_TEXT.get(status, status))}</span>"


def low_volume_badge(total: int) -> str:
    return badge(
        "low",
        "low volume",
        f"{total} package(s) in the window, fewer than {LOW_VOLUME}: one package "
        f"moves this VTR by {100 / max(total, 1):.1f} points",
    )


def th(label: str, title: str = "", *, num: bool = False) -> str:
    """A header cell; label is HTML already."""
    cls = " class='num'" if num else ""
    tip = f" title='{attr(title)}'" if title else ""
    return f"<th{cls}{tip}>{label}</th>"


def td(content: str, *, sort: object = None, title: str = "", num: bool = False, cls: str = "", label: str = "") -> str:
    """A body cell; content is HTML already; `sort` is the value a click on its header sorts by; `label` names it
    where a narrow screen shows the row as a card (table(collapse=True))."""
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    parts = [
        f" class='{classes}'" if classes else "",
        f" data-sort='{attr(sort)}'" if sort is not None else "",
        f" title='{attr(title)}'" if title else "",
        f" data-label='{attr(label)}'" if label else "",
    ]
    return f"<td{''.join(parts)}>{content}</td>"


def table(
    head: list[str],
    rows: list[list[str]],
    *,
    table_id: str = "",
    tall: bool = False,
    row_attrs: list[str] | None = None,
    collapse: bool = False,
) -> str:
    """A sortable table (click a header) in a scrolling box; `tall` caps its height (a long list scrolls);
    `collapse`: on a narrow screen each row is a card, its cells one under the other with their labels."""
    ident = f" id='{attr(table_id)}'" if table_id else ""
    attrs = row_attrs or [""] * len(rows)
    body = "".join(f"<tr{a}>{''.join(r)}</tr>" for a, r in zip(attrs, rows, strict=True))
    classes = "sortable collapse" if collapse else "sortable"
    return (
        f"<div class='scroll{' tall' if tall else ''}'><table class='{classes}'{ident}><thead><tr>{''.join(head)}"
        f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def card(label: str, value: str, detail: str, *, title: str = "", cls: str = "") -> str:
    """A headline figure; label, value and detail are HTML already."""
    tip = f" title='{attr(title)}'" if title else ""
    return (
        f"<div class='card {cls}'{tip}><div class='label'>{label}</div><div class='value'>{value}</div>"
        f"<div class='detail'>{detail}</div></div>"
    )


def span(start: object, end: object) -> str:
    return f"<span class='nowrap'>{start}</span> to <span class='nowrap'>{end}</span>"
