"""The page's footnotes: what each figure counts, referenced from the figures as superscript links."""

from __future__ import annotations

from pipeline.report.html import LOW_VOLUME, pct
from pipeline.settings import Settings

ORDER = (
    "verdict",
    "vtr",
    "change",
    "to_fix",
    "measured",
    "projected",
    "low",
    "uncategorized",
    "carrier",
    "stale",
    "rejects",
)


def ref(*notes: str) -> str:
    """Superscript links to the notes (1, 2 ...)."""
    links = [f"<a href='#note-{n}' title='see note {ORDER.index(n) + 1}'>{ORDER.index(n) + 1}</a>" for n in notes]
    return f"<sup>{', '.join(links)}</sup>"


def footnotes(settings: Settings) -> str:
    lag, target = settings.lag_days, pct(settings.target)
    text = {
        "verdict": "Verdict: the worst status among the account's overall and category VTRs in every window (below "
        "target, then OK, then no packages). The marketplace restricts self-fulfilment per category, so one category "
        "below target makes the account below target even when its overall VTR is not. Low-volume categories count "
        "too: the marketplace measures them alike.",
        "vtr": f"VTR = packages with a valid tracking number / packages shipped and confirmed. Valid: at least one "
        f'physical scan by a carrier the marketplace integrates (a printed label or "information received" '
        f"is not a scan), by the end of the snapshot date (UTC). A W-day window holds the packages promised "
        f"from D - {lag} - W + 1 to D - {lag} ({lag} days for scans to arrive). Target {target}: below it the "
        f"marketplace may restrict self-fulfilment in the category.",
        "change": "Change against the same window 7 days earlier (its snapshot of D - 7), in percentage points.",
        "projected": f"Early warning, this pipeline's projection: the window of packages promised up to D, measured "
        f"on D + {lag}, if nothing is fixed. Packages invalid now and not expected to become valid "
        f"(no physical scan {settings.at_risk_after_days} days after shipping, no tracking number, a "
        f"carrier not integrated) count as invalid; packages shipped too recently to judge count as "
        f"valid. Its invalid packages include some already measured (promised up to D - {lag}).",
        "measured": "Measured invalid: the packages of the largest window the marketplace measures on D that are "
        "not validly tracked; the headline VTR already counts them.",
        "to_fix": f"To fix: packages the marketplace has not measured yet (promised after D - {lag}) that would "
        f"count as invalid now; fixed by their fix-by date (72 hours before their first measurement, "
        f"the marketplace's delay for updates) they count as valid. Overdue: the fix-by date has passed.",
        "low": f"Low volume: fewer than {LOW_VOLUME} packages in the window: one package moves its VTR by "
        f"{100 / (LOW_VOLUME - 1):.1f} points or more. It is shown, but never scales the charts' VTR axis.",
        "uncategorized": "Uncategorized: items whose SKU is not in your catalog feed (see Data health); add them "
        "to the catalog and the next run counts them in their category.",
        "carrier": "Carrier VTR: the same rule per carrier of the package. A carrier the marketplace does not "
        "integrate never gives a valid tracking number. UNKNOWN: no carrier confirmed.",
        "rejects": "Rejected rows: lines of your files that could not be read (a bad date, a missing order id, a "
        "wrong number of columns ...). They are in no figure of this page until a corrected file is "
        "loaded.",
        "stale": "Stale feed: a daily feed that delivered no file for the snapshot date; figures that depend on it "
        "may be behind (scans missing make packages look invalid).",
    }
    items = "".join(f"<li id='note-{k}'>{text[k]}</li>" for k in ORDER)
    return f"<h2 id='notes'>Notes</h2><ol class='notes'>{items}</ol>"
