"""The fix file: per account (seller, marketplace) and snapshot date, the packages to fix as rows of the marketplace's
shipping-confirmation upload template (spec section 2), prefilled with what the data knows, for the seller's team to
complete and upload: `<output>/fix_files/snapshot_date=D/<seller_id>_<marketplace>.txt`, tab-separated.

Rows: one per order item of each package to fix, the packages already measured invalid first (`invalid_packages` of
D: overdue), then the at-risk ones (`at_risk_packages` of D) by fix-by date and order. Computed in the seller's
scratch database after its build, from the published marts of D, `marts.fct_fix_items` (quantity, ship method) and
the seller's scans (which carrier scanned a number). Only whitelisted columns exist there: no buyer data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import xlsxwriter

from pipeline.contract import file_part
from pipeline.lake import SCRATCH
from pipeline.outputs import replace_file
from pipeline.settings import Settings

HEADER = (
    "order-id",
    "order-item-id",
    "quantity",
    "ship-date",
    "carrier-code",
    "carrier-name",
    "tracking-number",
    "ship-method",
)

# Reasons whose tracking number the data does not contradict: the carrier code is the problem, or the carrier knows
# the number (a label was created) and the parcel is not scanned yet. Missing, unknown to the carrier
# (no_carrier_events) or recycled numbers are left blank for the seller to fill (docs/decisions.md).
KEEPS_TRACKING_NUMBER = ("carrier_not_integrated", "pre_transit_only")

# One row per order item to fix, in file order ($snapshot_date: D). Reads the scratch database of the seller's build.
FIX_ROWS = """
with integrated as (
    select carrier_code from config.integrated_carriers
),

-- the integrated codes and the aliases leading to them, keyed without case, spaces and punctuation; a key that
-- leads to two carriers corrects nothing
known_names as (
    select carrier_key(carrier_code) as name_key, carrier_code from integrated
    union
    select carrier_key(alias) as name_key, carrier_code from config.carrier_aliases
    where carrier_code in (select carrier_code from integrated)
),

name_lookup as (
    select name_key, min(carrier_code) as carrier_code
    from known_names
    where name_key is not null
    group by name_key
    having count(distinct carrier_code) = 1
),

to_fix as (
    select
        true as is_measured, package_id, seller_id, marketplace, order_id, tracking_number, carrier, ship_date,
        reason, promised_delivery_date as sort_date,
    from marts.mart_invalid_packages
    where snapshot_date = $snapshot_date
    union all
    select
        false as is_measured, package_id, seller_id, marketplace, order_id, tracking_number, carrier, ship_date,
        reason, fix_by_date as sort_date,
    from marts.mart_at_risk_packages
    where snapshot_date = $snapshot_date
),

-- the integrated carrier that scanned the number of a package confirmed with another carrier, from the grace bound
-- to the end of D (older events belong to an earlier parcel with a recycled number); one carrier only
scanned_by as (
    select f.package_id, min(n.carrier_code) as carrier_code,
    from to_fix as f
    cross join config.metric as m
    inner join raw.scans as s
        on s.seller_id = f.seller_id and s.tracking_key = f.tracking_number
    inner join name_lookup as n
        on n.name_key = carrier_key(s.carrier)
    where (f.carrier is null or f.carrier not in (select carrier_code from integrated))
        and s.event_at >= to_timestamp(epoch(f.ship_date - m.scan_grace_days))
        and s.event_at < to_timestamp(epoch($snapshot_date::date + 1))
    group by f.package_id
    having count(distinct n.carrier_code) = 1
),

corrected as (
    select
        f.*,
        case
            when f.carrier in (select carrier_code from integrated) then f.carrier
            else coalesce(n.carrier_code, s.carrier_code, f.carrier)
        end as carrier_code,
    from to_fix as f
    left join name_lookup as n
        on n.name_key = carrier_key(f.carrier)
    left join scanned_by as s
        on s.package_id = f.package_id
)

select
    c.marketplace,
    c.order_id,
    i.order_item_id,
    i.quantity::varchar as quantity,
    strftime(c.ship_date, '%Y-%m-%d') as ship_date,
    case
        when c.carrier_code in (select carrier_code from integrated) then c.carrier_code
        when c.carrier_code is not null then 'Other'
    end as carrier_code,
    case
        when c.carrier_code not in (select carrier_code from integrated) then nullif(c.carrier_code, 'OTHER')
    end as carrier_name,
    case when list_contains($keeps_tracking_number, c.reason) then c.tracking_number end as tracking_number,
    i.ship_method,
from corrected as c
inner join marts.fct_fix_items as i
    on i.package_id = c.package_id
order by
    c.marketplace, c.is_measured desc, c.sort_date, c.order_id, c.tracking_number nulls first, c.package_id,
    i.order_item_id
"""


def fix_file(settings: Settings, snapshot_date: dt.date, seller_id: str, marketplace: str) -> Path:
    """The account's fix file of a date, `<seller_id>_<marketplace>`, each encoded (contract.file_part; `_` in the
    seller id too, so that the first `_` separates them): two accounts never share one."""
    name = f"{file_part(seller_id, also='_')}_{file_part(marketplace)}"
    return settings.output / "fix_files" / f"snapshot_date={snapshot_date.isoformat()}" / f"{name}.txt"


def write_fix_files(
    con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, snapshot_date: dt.date
) -> list[Path]:
    """Write the fix file of every account of the seller for the date from its build in scratch, .txt and .xlsx, each
    replaced atomically; an account with nothing to fix gets the header alone (a re-run after the fixes empties it)."""
    con.execute(f"use {SCRATCH}")
    accounts = [
        r[0]
        for r in con.execute(
            "select distinct marketplace from marts.mart_vtr_snapshots where snapshot_date = ? and seller_id = ? "
            "order by marketplace",
            [snapshot_date, seller_id],
        ).fetchall()
    ]
    rows = con.execute(
        FIX_ROWS, {"snapshot_date": snapshot_date, "keeps_tracking_number": list(KEEPS_TRACKING_NUMBER)}
    ).fetchall()
    written = []
    for marketplace in accounts:
        table = [HEADER] + [tuple(value or "" for value in row[1:]) for row in rows if row[0] == marketplace]
        text = "".join("\t".join(line) + "\n" for line in table)
        target = fix_file(settings, snapshot_date, seller_id, marketplace)
        written.append(replace_file(target, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8")))
        written.append(
            replace_file(target.with_suffix(".xlsx"), lambda tmp, t=table: _write_xlsx(tmp, t, snapshot_date))
        )
    return written


def _write_xlsx(path: Path, table: list[tuple[str, ...]], snapshot_date: dt.date) -> None:
    """The same rows as a workbook whose every cell, and every column for what the seller types in, is text: a
    spreadsheet opening it keeps leading zeros and never reads a value as a number, a date or a formula. Values are
    written raw (no escaping: the file is uploaded). Created "on" the snapshot date, so a re-run writes the same
    bytes."""
    book = xlsxwriter.Workbook(
        str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    book.set_properties({"created": dt.datetime.combine(snapshot_date, dt.time(), dt.UTC)})
    text = book.add_format({"num_format": "@"})
    sheet = book.add_worksheet("fix file")
    sheet.set_column(0, len(HEADER) - 1, 22, text)
    sheet.freeze_panes(1, 0)
    for r, line in enumerate(table):
        for c, value in enumerate(line):
            if value:
                sheet.write_string(r, c, value, text)
            else:
                sheet.write_blank(r, c, None, text)
    book.close()
