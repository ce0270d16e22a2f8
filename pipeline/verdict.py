"""An account's verdict (spec section 4): the worst status among its `overall` and `category` rows of
vtr_snapshots in any window, with the rows below target (its breaches). A category below target makes the account
below target even when its overall VTR is not: the marketplace restricts self-fulfilment per category.

The one computation behind everything that shows one status for an account: the report's headline and category
table, the index of reports, the run's summary, the DAG's XCom and asset events. Plain values in and out, so it
travels through XCom unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pipeline.formatting import percent

ORDER = ("below_target", "ok", "no_packages")  # worst first (spec section 4)
JUDGED = ("overall", "category")  # carrier rows are reported, never judged
BREACH = ("scope", "scope_value", "window_days", "vtr", "packages_valid", "packages_total")


def worst(statuses: Iterable[str]) -> str:
    """The worst of the statuses; none at all is `no_packages`."""
    found = set(statuses)
    return next((s for s in ORDER if s in found), "no_packages")


def verdict(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One account's verdict from its vtr_snapshots rows of one date (carrier rows are ignored):
    {"verdict": status, "breaches": [{scope, scope_value, window_days, vtr, packages_valid, packages_total}]},
    overall breaches first, then categories from the lowest VTR, each category's windows shortest first."""
    judged = [r for r in rows if r["scope"] in JUDGED]
    below = [r for r in judged if r["status"] == "below_target"]
    lowest: dict[str, Any] = {}
    for r in below:
        lowest[r["scope_value"]] = min(r["vtr"], lowest.get(r["scope_value"], r["vtr"]))
    below.sort(
        key=lambda r: (r["scope"] != "overall", lowest[r["scope_value"]], r["scope_value"] or "", r["window_days"])
    )
    return {"verdict": worst(r["status"] for r in judged), "breaches": [{k: r[k] for k in BREACH} for r in below]}


def describe(judged: Mapping[str, Any], pct: Callable[[float | None], str] = percent) -> str:
    """The verdict in one line: 'Below target in 2 categories: Garden 7-day 86.00%, Storage 7-day 94.38%'."""
    if judged["verdict"] == "ok":
        return "OK: every category and the overall VTR at or above target in every window"
    if judged["verdict"] == "no_packages":
        return "No packages in any window"
    return f"Below target {breaches_text(judged, pct)}"


def breaches_text(judged: Mapping[str, Any], pct: Callable[[float | None], str] = percent) -> str:
    """Where the account is below target: 'overall (30-day 94.10%) and in 1 category: Garden 7-day 86.00%'."""
    overall = [b for b in judged["breaches"] if b["scope"] == "overall"]
    categories = [b for b in judged["breaches"] if b["scope"] == "category"]
    parts = []
    if overall:
        windows = ", ".join(f"{b['window_days']}-day {pct(b['vtr'])}" for b in overall)
        parts.append(f"overall ({windows})")
    if categories:
        names = len({b["scope_value"] for b in categories})
        listed = ", ".join(f"{b['scope_value']} {b['window_days']}-day {pct(b['vtr'])}" for b in categories)
        parts.append(f"in {names} categor{'y' if names == 1 else 'ies'}: {listed}")
    return " and ".join(parts)
