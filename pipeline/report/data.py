"""What one account's report reads from the lake (the published marts, `marts.mart_*`): the snapshot of D and of
the same windows 7 days earlier, the trend, the early warning, the category report and the carrier figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipeline.lake import LAKE, SCRATCH
from pipeline.settings import Settings

TREND_DAYS = 90  # how far back the trend charts go: a report costs the same after a year of history
WEEK = dt.timedelta(days=7)
TREND_COLUMNS = (
    "snapshot_date",
    "window_days",
    "scope",
    "scope_value",
    "packages_total",
    "packages_valid",
    "vtr",
    "target",
)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: object) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@dataclass
class Figures:
    """One account's figures for snapshot date `day`; keys of `now` / `week_ago`: (scope, scope_value, window)."""

    settings: Settings
    seller_id: str
    marketplace: str
    day: dt.date
    windows: list[int]
    now: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    week_ago: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    trend: list[dict[str, Any]] = field(default_factory=list)
    projected: list[dict[str, Any]] = field(default_factory=list)
    category_report: list[dict[str, Any]] = field(default_factory=list)
    carrier_performance: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> list[Any]:
        return [self.seller_id, self.marketplace]

    @property
    def largest(self) -> int:
        return max(self.windows)

    def scope_values(self, scope: str) -> list[str]:
        return sorted({k[1] for k in self.now if k[0] == scope})

    def row(self, scope: str, value: str | None, window: int, *, earlier: bool = False) -> dict[str, Any] | None:
        return (self.week_ago if earlier else self.now).get((scope, value, window))


def accounts(con: duckdb.DuckDBPyConnection, seller_id: str, day: dt.date) -> list[str]:
    """The seller's marketplaces with a snapshot on `day` (a date the run just built: its scratch copy)."""
    return [
        r[0]
        for r in con.execute(
            f"select distinct marketplace from {SCRATCH}.marts.mart_vtr_snapshots where seller_id = ?"
            " and snapshot_date = ? order by marketplace",
            [seller_id, day],
        ).fetchall()
    ]


def load(con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, marketplace: str, day: dt.date) -> Figures:
    """The account's figures: its snapshots of D, of a week before and its trend from the lake's history in one
    query; D's other marts from the run's scratch copies, the rows it just published (in their published order),
    since each query on the lake costs a small seller tens of milliseconds."""
    account = "seller_id = ? and marketplace = ?"
    key = [seller_id, marketplace]
    first = day - dt.timedelta(days=TREND_DAYS - 1)
    snapshots = rows(
        con,
        f"select * from {LAKE}.marts.mart_vtr_snapshots where {account} and (snapshot_date in (?, ?)"
        " or snapshot_date between ? and ? and scope in ('overall', 'category'))",
        [*key, day, day - WEEK, first, day],
    )
    # the account is measured with its marketplace's profile: its target, windows and lag throughout the page
    figures = Figures(
        settings.for_marketplace(marketplace),
        seller_id,
        marketplace,
        day,
        sorted({r["window_days"] for r in snapshots if r["snapshot_date"] in (day, day - WEEK)}),
    )
    for r in snapshots:
        if r["snapshot_date"] in (day, day - WEEK):
            target = figures.now if r["snapshot_date"] == day else figures.week_ago
            target[(r["scope"], r["scope_value"], r["window_days"])] = r
    figures.trend = sorted(
        (
            {k: r[k] for k in TREND_COLUMNS}
            for r in snapshots
            if r["scope"] in ("overall", "category") and first <= r["snapshot_date"]
        ),
        key=lambda r: r["snapshot_date"],
    )
    today = f"{account} and snapshot_date = ? order by all"
    figures.projected = rows(con, f"select * from {SCRATCH}.marts.mart_projected_vtr where {today}", [*key, day])
    figures.category_report = rows(
        con, f"select * from {SCRATCH}.marts.mart_category_report where {today}", [*key, day]
    )
    figures.carrier_performance = rows(
        con, f"select * from {SCRATCH}.marts.mart_carrier_performance where {today}", [*key, day]
    )
    return figures
