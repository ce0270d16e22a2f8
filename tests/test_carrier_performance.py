"""Carrier performance: share of invalid packages and days from ship date to first physical scan, per carrier."""

from __future__ import annotations

import pyarrow.parquet as pq

from helpers.feeds import IN_BOTH, SHIPPED, D, confirmations_tsv, orders_tsv, query, scans_csv
from pipeline.outputs import partition_file
from pipeline.run import run


def test_carrier_share_of_invalid_and_days_to_first_scan(project):
    project.drop("acme", "orders", "orders.txt", orders_tsv(*[(o, f"{o}-1", "SKU1", IN_BOTH) for o in "ABCD"]))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("A", "A-1", SHIPPED, "UPS", "", "1ZA"),
            ("B", "B-1", SHIPPED, "UPS", "", "1ZB"),
            ("C", "C-1", SHIPPED, "DHL", "", "1234567890"),
            ("D", "D-1", SHIPPED, "Other", "Budbee", "BB1"),
        ),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(
            ("1ZA", "2026-11-02T12:00:00Z", "in_transit"),  # half a day after 00:00 UTC of the ship date
            ("1ZB", "2026-11-03T12:00:00Z", "in_transit"),  # a day and a half
            ("1ZB", "2026-11-21T12:00:00Z", "delivered"),  # after D: not seen on D
        ),
    )
    run(project.settings(), D)

    rows = query(
        project,
        """
        select carrier, packages_total, packages_invalid, share_of_invalid, packages_scanned,
               median_days_to_first_scan, p90_days_to_first_scan
        from marts.mart_carrier_performance where snapshot_date = ? order by carrier""",
        [D],
    )
    assert rows == [
        ("BUDBEE", 1, 1, 0.5, 0, None, None),
        ("DHL", 1, 1, 0.5, 0, None, None),
        ("UPS", 2, 0, 0.0, 2, 1.0, 1.4),
    ]
    published = pq.read_table(partition_file(project.settings(), "carrier_performance", D, "acme"))
    assert published.column("carrier").to_pylist() == ["BUDBEE", "DHL", "UPS"]
