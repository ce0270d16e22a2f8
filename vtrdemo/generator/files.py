"""The files of a landing folder: their columns, and writing one file per day and feed from the built rows."""

from __future__ import annotations

import datetime as dt
import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ORDER_HEADER = (
    "order-id",
    "order-item-id",
    "purchase-date",
    "payments-date",
    "buyer-email",
    "buyer-name",
    "buyer-phone-number",
    "sku",
    "product-name",
    "quantity-purchased",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "ship-service-level",
    "recipient-name",
    "ship-address-1",
    "ship-address-2",
    "ship-address-3",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "ship-phone-number",
    "delivery-start-date",
    "delivery-end-date",
    "delivery-time-zone",
    "delivery-Instructions",
    "sales-channel",
    "earliest-ship-date",
    "latest-ship-date",
    "earliest-delivery-date",
    "latest-delivery-date",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
    "is-prime",
)
PII_COLUMNS = (
    "buyer-email",
    "buyer-name",
    "buyer-phone-number",
    "recipient-name",
    "ship-address-1",
    "ship-address-2",
    "ship-address-3",
    "ship-phone-number",
)
CONFIRMATION_HEADER = (
    "order-id",
    "order-item-id",
    "quantity",
    "ship-date",
    "carrier-code",
    "carrier-name",
    "tracking-number",
    "ship-method",
)
SCAN_HEADER = ("tracking_number", "carrier", "event_time", "status", "event_code", "description", "location")

# each file's rows in a total order: the same seed gives the same bytes
ORDER_KEYS = {
    "out_orders": "purchase_sec, p, k, cont",
    "out_confirmations": "rev, ship_d, p, k, box",
    "out_scans": "utc_at, p, step, tracking_number",  # a split order's boxes: one p, two numbers
    "out_easypost": "p, tracking_code",
    "out_aftership": "p, tracking_number",
}


def _copy(con, table: str, columns, day: int, path: Path, options: str) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    con.execute(
        f"copy (select {cols} from {table} where file_d = {day} order by {ORDER_KEYS[table]}) to '{path}' ({options})"
    )


def write_files(con, root: Path, start: dt.date, days: int, aggregator_exports: bool) -> int:
    """One file per day and feed (the aggregator exports only on days with something to export), and the catalog."""
    written = 0
    con.execute(f"""copy (select s.sku, c.category from skus as s join categories as c on c.c = s.c
                where s.in_catalog order by c.c, s.i) to '{root / "catalog" / "catalog.csv"}' (header)""")
    written += 1
    ep_cols = [r[0] for r in con.execute("describe out_easypost").fetchall()][2:]
    as_cols = [r[0] for r in con.execute("describe out_aftership").fetchall()][2:]
    ep_days = {r[0] for r in con.execute("select distinct file_d from out_easypost").fetchall()}
    as_days = {r[0] for r in con.execute("select distinct file_d from out_aftership").fetchall()}
    tsv = "header, delimiter '\t'"
    pending = []
    gzipper = ThreadPoolExecutor(max_workers=1)
    for d in range(days):
        name = (start + dt.timedelta(days=d)).isoformat()
        _copy(con, "out_orders", ORDER_HEADER, d, root / "orders" / f"orders_{name}.txt", tsv)
        _copy(
            con, "out_confirmations", CONFIRMATION_HEADER, d, root / "confirmations" / f"confirmations_{name}.txt", tsv
        )
        _copy(con, "out_scans", SCAN_HEADER, d, root / "scans" / f"scans_{name}.csv", "header")
        written += 3
        if aggregator_exports and d in ep_days:
            _copy(con, "out_easypost", ep_cols, d, root / "scans" / f"scans_{name}_easypost.jsonl", "format json")
            written += 1
        if aggregator_exports and d in as_days:
            plain = root / "scans" / f".scans_{name}_aftership.jsonl.tmp"
            _copy(con, "out_aftership", as_cols, d, plain, "format json")
            pending.append(gzipper.submit(_gzip, plain, root / "scans" / f"scans_{name}_aftership.jsonl.gz"))
            written += 1
    try:
        for job in pending:
            job.result()
    finally:
        gzipper.shutdown()
    return written


def _gzip(plain: Path, target: Path) -> None:
    """Gzip in a worker thread while DuckDB writes the next files (zlib releases the GIL); mtime 0: stable bytes."""
    target.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=6, mtime=0))
    plain.unlink()
