"""What the alerts read from the lake's marts: breaches and recoveries of a date, their top reasons, and the
projected VTRs below target. Every query is limited to the sellers asked for and to scopes of at least
`[alert_policy] min_packages` packages: a smaller scope is reported in the outputs but never alerted on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from pipeline.contract import REASONS

TOP_REASONS = 3

# Overall and category scopes only: carrier scopes are reported, never alerted on (spec section 4).
_ALERTED = "scope in ('overall', 'category') and packages_total >= $min_packages and list_contains($sellers, seller_id)"

_CHANGES_SQL = f"""
with current_rows as (
    select * from marts.mart_vtr_snapshots
    where snapshot_date = $d and {_ALERTED}
),
previous_dates as (
    select seller_id, marketplace, max(snapshot_date) as previous_date
    from marts.mart_vtr_snapshots
    where snapshot_date < $d and list_contains($sellers, seller_id)
    group by all
),
previous_breaches as (
    select s.*
    from marts.mart_vtr_snapshots as s
    inner join previous_dates as p
        on p.seller_id = s.seller_id and p.marketplace = s.marketplace and p.previous_date = s.snapshot_date
    where s.scope in ('overall', 'category') and s.packages_total >= $min_packages and s.status = 'below_target'
)
select 'breach' as change, c.*
from current_rows as c
where c.status = 'below_target'
union all
select 'recovery' as change, c.*
from current_rows as c
inner join previous_breaches as p
    on p.seller_id = c.seller_id and p.marketplace = c.marketplace and p.window_days = c.window_days
    and p.scope = c.scope and p.scope_value is not distinct from c.scope_value
where c.status = 'ok'
"""

_PROJECTED_SQL = f"""
select * from marts.mart_projected_vtr
where snapshot_date = $d and status = 'below_target' and {_ALERTED}
"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: object) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether the table is in the connection's default database (the lake), where the queries resolve it."""
    row = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and schema_name = ?"
        " and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(row[0][0])


def reasons_text(counts: dict[str, int]) -> str:
    """The top reasons by count, ties in the order the rule checks them: 'pre_transit_only 8, missing_tracking 5'."""
    order = {reason: i for i, reason in enumerate(REASONS)}
    ranked = sorted(((n, r) for r, n in counts.items() if n), key=lambda x: (-x[0], order.get(x[1], len(order))))
    return ", ".join(f"{r} {n}" for n, r in ranked[:TOP_REASONS])


def _top_reasons(con: duckdb.DuckDBPyConnection, row: dict[str, Any], has_report: bool, has_invalid: bool) -> str:
    """Top reasons of one breached scope: the category report for a category, the invalid-package list for overall."""
    key = [row["snapshot_date"], row["seller_id"], row["marketplace"]]
    if row["scope"] == "category" and has_report:
        found = _rows(
            con,
            "select * from marts.mart_category_report where snapshot_date = ? and seller_id = ? and marketplace = ?"
            " and category = ? and window_days = ?",
            key + [row["scope_value"], row["window_days"]],
        )
        counts = {
            k.removeprefix("invalid_"): v for k, v in (found[0] if found else {}).items() if k.startswith("invalid_")
        }
        return reasons_text(counts)
    if row["scope"] == "overall" and has_invalid:
        # The list covers the largest window; every smaller window ends on the same day, so it is a subset.
        pairs = con.execute(
            "select reason, count(*) from marts.mart_invalid_packages where snapshot_date = ? and seller_id = ?"
            " and marketplace = ? and promised_delivery_date between ? and ? group by reason",
            key + [row["window_start"], row["window_end"]],
        ).fetchall()
        return reasons_text({reason: n for reason, n in pairs})
    return ""


def vtr_changes(
    con: duckdb.DuckDBPyConnection, snapshot_date: dt.date, sellers: list[str], min_packages: int
) -> list[dict[str, Any]]:
    """Rows of marts.mart_vtr_snapshots that breach (change 'breach', with their top `reasons`) or recover since the
    account's previous snapshot (change 'recovery')."""
    params = {"d": snapshot_date, "sellers": list(sellers), "min_packages": min_packages}
    changes = _rows(con, _CHANGES_SQL, params)
    has_report = _table_exists(con, "marts", "mart_category_report")
    has_invalid = _table_exists(con, "marts", "mart_invalid_packages")
    for row in changes:
        row["reasons"] = _top_reasons(con, row, has_report, has_invalid) if row["change"] == "breach" else ""
    return changes


def projected_below_target(
    con: duckdb.DuckDBPyConnection, snapshot_date: dt.date, sellers: list[str], min_packages: int
) -> list[dict[str, Any]]:
    """Rows of marts.mart_projected_vtr below target; none while that mart does not exist."""
    if not _table_exists(con, "marts", "mart_projected_vtr"):
        return []
    return _rows(con, _PROJECTED_SQL, {"d": snapshot_date, "sellers": list(sellers), "min_packages": min_packages})
