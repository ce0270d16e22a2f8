"""The fix file: per account (seller, marketplace) and snapshot date, the packages to fix as rows of the marketplace's
shipping-confirmation upload template (spec section 2), prefilled with what the data knows, for the seller's team to
complete and upload: `<output>/fix_files/snapshot_date=D/<seller_id>_<marketplace>.txt`, tab-separated.

The rows are the model `marts.fct_fix_rows` of the seller's build in scratch (its last date; what each row holds
and why is documented there); this module only writes them. Only whitelisted columns exist there: no buyer data.
"""

from __future__ import annotations

import datetime as dt
import functools
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

# the model giving the rows, numbered per account (sql/marts/fct_fix_rows.sql), and its columns in the file's order
FIX_ROWS = """
select marketplace, order_id, order_item_id, quantity::varchar, strftime(ship_date, '%Y-%m-%d'), carrier_code,
       carrier_name, tracking_number, ship_method
from marts.fct_fix_rows
order by marketplace, row_in_file
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
    rows = con.execute(FIX_ROWS).fetchall()
    written = []
    for marketplace in accounts:
        table = [HEADER] + [tuple(value or "" for value in row[1:]) for row in rows if row[0] == marketplace]
        text = "".join("\t".join(line) + "\n" for line in table)
        target = fix_file(settings, snapshot_date, seller_id, marketplace)
        written.append(replace_file(target, functools.partial(Path.write_text, data=text, encoding="utf-8")))
        written.append(
            replace_file(
                target.with_suffix(".xlsx"), functools.partial(_write_xlsx, table=table, snapshot_date=snapshot_date)
            )
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
