"""Hand-made seller feeds for the model tests (spec section 7's columns): orders, confirmations and scans as text,
around snapshot date D = 2026-11-20 (windows 7 and 30, lag 14), and a read-only query of a project's lake."""

from __future__ import annotations

import datetime as dt

from pipeline.lake import connect

D = dt.date(2026, 11, 20)
IN_BOTH = "2026-11-05"  # a promised date inside both windows of D
SHIPPED = "2026-11-02"
SCANNED = "2026-11-02T10:00:00Z"

ORDER_HEADER = (
    "order-id\torder-item-id\tpurchase-date\tsku\tquantity-purchased\titem-price\tcurrency"
    "\tlatest-delivery-date\tsales-channel\tbuyer-name"
)
CONF_HEADER = "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method"
SCAN_HEADER = "tracking_number,carrier,event_time,status,event_code,description,location"


def orders_tsv(*rows) -> str:
    """rows: (order_id, order_item_id, sku, latest_delivery_date[, sales_channel])."""
    lines = [ORDER_HEADER]
    for order_id, item_id, sku, promised, *rest in rows:
        channel = rest[0] if rest else "Amazon.se"
        lines.append(
            f"{order_id}\t{item_id}\t2026-10-25T10:00:00+00:00\t{sku}\t1\t10.00\tSEK\t{promised}\t{channel}\tA Buyer"
        )
    return "\n".join(lines) + "\n"


def confirmations_tsv(*rows) -> str:
    """rows: (order_id, order_item_id, ship_date, carrier_code, carrier_name, tracking_number); '' is blank."""
    lines = [CONF_HEADER]
    for order_id, item_id, ship_date, code, name, tracking in rows:
        lines.append(f"{order_id}\t{item_id}\t1\t{ship_date}\t{code}\t{name}\t{tracking}\tStandard")
    return "\n".join(lines) + "\n"


def scans_csv(*rows) -> str:
    """rows: (tracking_number, event_time, status)."""
    lines = [SCAN_HEADER]
    for tracking, at, status in rows:
        lines.append(f"{tracking},UPS,{at},{status},,event,Stockholm")
    return "\n".join(lines) + "\n"


def query(project, sql: str, params=None) -> list[tuple]:
    con = connect(project.settings(), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def orders_with_quantities_tsv(*rows) -> str:
    """rows: (order_id, order_item_id, sku, quantity_purchased[, sales_channel[, item_price, shipping_price]])."""
    lines = [ORDER_HEADER + "\tshipping-price"]
    for order_id, item_id, sku, quantity, *rest in rows:
        channel = rest[0] if rest else "Amazon.se"
        price, shipping = rest[1:3] if len(rest) > 1 else ("10.00", "")
        lines.append(
            f"{order_id}\t{item_id}\t2026-10-25T10:00:00+00:00\t{sku}\t{quantity}\t{price}\tEUR\t{IN_BOTH}\t{channel}"
            f"\tA Buyer\t{shipping}"
        )
    return "\n".join(lines) + "\n"


def boxes_tsv(*rows) -> str:
    """Confirmation rows with a quantity and ship-method: (order_id, order_item_id, quantity, carrier_code,
    carrier_name, tracking_number[, ship_method]); shipped on SHIPPED."""
    lines = [CONF_HEADER]
    for order_id, item_id, quantity, code, name, tracking, *method in rows:
        lines.append(f"{order_id}\t{item_id}\t{quantity}\t{SHIPPED}\t{code}\t{name}\t{tracking}\t{''.join(method)}")
    return "\n".join(lines) + "\n"
