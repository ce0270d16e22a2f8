"""One model at a time, rows in, rows out (as SQLMesh's and bigquery-etl's model tests): a few hand-written rows per
upstream table, the one model run by the runner, and its exact output. A failure names the model that broke."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipeline.lake import MACROS
from pipeline.models import LAYERS, load_models, run_model, write_config
from pipeline.settings import Settings

D = dt.date(2026, 11, 20)  # windows of D: 7 days promised 10-31 .. 11-06, 30 days 10-08 .. 11-06
UTC = dt.UTC


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def run_one(
    name: str, inputs: dict[str, tuple[str, list[tuple]]], start: dt.date = D, end: dt.date = D, **settings
) -> list[tuple]:
    """Run model `name` on `inputs` (table -> (column definitions, rows)); returns its rows, sorted."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(MACROS.read_text())
        for schema in ("raw", "config", *LAYERS):
            con.execute(f"create schema {schema}")
        write_config(con, Settings(None, Path(), Path(), Path(), **settings), start, end)
        for table, (columns, rows) in inputs.items():
            con.execute(f"create table {table} ({columns})")
            if rows:
                con.executemany(f"insert into {table} values ({', '.join('?' * len(rows[0]))})", rows)
        model = {m.name: m for m in load_models()}[name]
        run_model(con, model, start, end)
        return con.execute(f"select * from {model.table} order by all").fetchall()
    finally:
        con.close()


def windows(day: dt.date = D, sizes: tuple[int, ...] = (7, 30)) -> tuple[str, list[tuple]]:
    """marts.fct_snapshot_windows of one date, as the runner builds it (lag 14)."""
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), UTC)
    end = day - dt.timedelta(days=14)
    return (
        "snapshot_date date, window_days integer, window_start date, window_end date, scans_until timestamptz",
        [(day, w, end - dt.timedelta(days=w - 1), end, until) for w in sizes],
    )


ITEMS = (
    "seller_id varchar, order_id varchar, order_item_id varchar, ship_date date, carrier_code varchar, "
    "tracking_number varchar, last_load_seq bigint"
)
ORDERS = (
    "seller_id varchar, order_id varchar, order_item_id varchar, marketplace varchar, "
    "latest_delivery_date date, sku varchar"
)


def test_int_packages_groups_items_by_order_and_number_or_by_ship_date_and_carrier_when_untracked():
    rows = run_one(
        "int_packages",
        {
            "intermediate.int_order_items_confirmed": (
                ITEMS,
                [
                    ("acme", "O1", "O1-1", dt.date(2026, 11, 3), "UPS", "1Z1", 10),
                    ("acme", "O1", "O1-2", dt.date(2026, 11, 2), "DHL", "1Z1", 20),  # later line: its carrier wins
                    ("acme", "O2", "O2-1", dt.date(2026, 11, 2), "UPS", None, 30),
                    (
                        "acme",
                        "O2",
                        "O2-2",
                        dt.date(2026, 11, 2),
                        "GLS",
                        None,
                        40,
                    ),  # untracked, another carrier: own package
                ],
            ),
            "staging.stg_orders": (
                ORDERS,
                [
                    ("acme", "O1", "O1-1", "Amazon.se", dt.date(2026, 11, 5), "TOY"),
                    ("acme", "O1", "O1-2", "Amazon.se", dt.date(2026, 11, 6), "NOT-IN-CATALOG"),
                    ("acme", "O2", "O2-1", "Amazon.de", dt.date(2026, 11, 4), "TOY"),
                    ("acme", "O2", "O2-2", "Amazon.de", dt.date(2026, 11, 4), "BOOK"),
                ],
            ),
            "staging.stg_catalog": (
                "seller_id varchar, sku varchar, category varchar",
                [("acme", "TOY", "Toys"), ("acme", "BOOK", "Books")],
            ),
        },
    )
    assert len({r[0] for r in rows}) == 3
    assert sorted(r[1:] for r in rows) == [
        (
            "acme",
            "Amazon.de",
            "O2",
            None,
            "GLS",
            dt.date(2026, 11, 2),
            dt.date(2026, 11, 4),
            ["Books"],
            1,
            0,
            ["O2-2"],
            ["BOOK"],
        ),
        (
            "acme",
            "Amazon.de",
            "O2",
            None,
            "UPS",
            dt.date(2026, 11, 2),
            dt.date(2026, 11, 4),
            ["Toys"],
            1,
            0,
            ["O2-1"],
            ["TOY"],
        ),
        (
            "acme",
            "Amazon.se",
            "O1",
            "1Z1",
            "DHL",
            dt.date(2026, 11, 2),
            dt.date(2026, 11, 6),
            ["Toys", "Uncategorized"],
            2,
            1,
            ["O1-1", "O1-2"],
            ["NOT-IN-CATALOG", "TOY"],
        ),
    ]


def test_int_package_scans_finds_first_event_first_physical_scan_and_first_scan_within_the_grace_bound():
    rows = run_one(
        "int_package_scans",
        {
            "intermediate.int_packages": (
                "package_id varchar, seller_id varchar, tracking_number varchar, ship_date date",
                [
                    ("p1", "acme", "1Z1", dt.date(2026, 11, 10)),
                    ("p2", "acme", "1Z2", dt.date(2026, 11, 10)),
                    ("p3", "acme", None, dt.date(2026, 11, 10)),
                ],
            ),
            "raw.scans": (
                "seller_id varchar, tracking_key varchar, event_at timestamptz, status varchar",
                [
                    ("acme", "1Z1", at("2026-11-01"), "pre_transit"),
                    ("acme", "1Z1", at("2026-11-05"), "in_transit"),  # a recycled number's old scan
                    ("acme", "1Z1", at("2026-11-08", 0), "delivered"),  # exactly the grace bound: counts
                    ("acme", "1Z1", at("2026-11-08", 0), "delivered"),  # a repeat changes nothing
                    ("other", "1Z2", at("2026-11-10"), "in_transit"),  # another seller's scan: never matches
                ],
            ),
        },
    )
    assert rows == [("p1", at("2026-11-01"), at("2026-11-05"), at("2026-11-08", 0))]


GROUPS = (
    "seller_id varchar, marketplace varchar, carrier_code varchar, is_carrier_integrated boolean, "
    "categories varchar[], ship_date date, promised_delivery_date date, has_tracking_number boolean, "
    "first_event_day timestamptz, first_physical_scan_day timestamptz, first_valid_scan_day timestamptz, "
    "packages bigint"
)


def test_fct_window_counts_judges_each_group_per_window_and_counts_its_packages():
    ship = dt.date(2026, 11, 1)
    rows = run_one(
        "fct_window_counts",
        {
            "marts.fct_package_groups": (
                GROUPS,
                [
                    (
                        "acme",
                        "Amazon.se",
                        "UPS",
                        True,
                        ["Toys"],
                        ship,
                        dt.date(2026, 11, 5),
                        True,
                        at("2026-11-02", 0),
                        at("2026-11-02", 0),
                        at("2026-11-02", 0),
                        3,
                    ),  # valid, in both windows
                    (
                        "acme",
                        "Amazon.se",
                        "UPS",
                        True,
                        ["Toys"],
                        ship,
                        dt.date(2026, 10, 10),
                        True,
                        at("2026-11-21", 0),
                        at("2026-11-21", 0),
                        at("2026-11-21", 0),
                        2,
                    ),  # scanned after D: 30 only
                    (
                        "acme",
                        "Amazon.se",
                        "BUDBEE",
                        False,
                        ["Books"],
                        ship,
                        dt.date(2026, 11, 6),
                        True,
                        None,
                        None,
                        None,
                        1,
                    ),
                    (
                        "acme",
                        "Amazon.se",
                        "UPS",
                        True,
                        ["Toys"],
                        ship,
                        dt.date(2026, 11, 7),
                        False,
                        None,
                        None,
                        None,
                        4,
                    ),  # promised after the windows
                ],
            ),
            "marts.fct_snapshot_windows": windows(),
        },
    )
    assert rows == [
        (D, 7, "acme", "Amazon.se", "BUDBEE", ["Books"], "carrier_not_integrated", 1),
        (D, 7, "acme", "Amazon.se", "UPS", ["Toys"], None, 3),
        (D, 30, "acme", "Amazon.se", "BUDBEE", ["Books"], "carrier_not_integrated", 1),
        (D, 30, "acme", "Amazon.se", "UPS", ["Toys"], "no_carrier_events", 2),
        (D, 30, "acme", "Amazon.se", "UPS", ["Toys"], None, 3),
    ]


def test_mart_vtr_snapshots_scopes_rates_statuses_and_the_overall_row_of_an_empty_account():
    counts = (
        "snapshot_date date, window_days integer, seller_id varchar, marketplace varchar, carrier_code varchar, "
        "categories varchar[], invalid_reason varchar, packages bigint"
    )
    rows = run_one(
        "mart_vtr_snapshots",
        {
            "marts.fct_window_counts": (
                counts,
                [
                    (D, 7, "acme", "Amazon.se", "UPS", ["Toys", "Books"], None, 19),
                    (D, 7, "acme", "Amazon.se", None, ["Toys"], "missing_tracking", 1),
                ],
            ),
            "marts.fct_snapshot_windows": windows(),
            "staging.stg_accounts": (
                "seller_id varchar, marketplace varchar",
                [("acme", "Amazon.se"), ("acme", "Amazon.de")],
            ),
        },
    )
    start7, start30, end = dt.date(2026, 10, 31), dt.date(2026, 10, 8), dt.date(2026, 11, 6)
    assert rows == [
        (D, "acme", "Amazon.de", 7, "overall", None, start7, end, 0, 0, None, 0.95, "no_packages"),
        (D, "acme", "Amazon.de", 30, "overall", None, start30, end, 0, 0, None, 0.95, "no_packages"),
        (D, "acme", "Amazon.se", 7, "carrier", "UNKNOWN", start7, end, 1, 0, 0.0, 0.95, "below_target"),
        (D, "acme", "Amazon.se", 7, "carrier", "UPS", start7, end, 19, 19, 1.0, 0.95, "ok"),
        (D, "acme", "Amazon.se", 7, "category", "Books", start7, end, 19, 19, 1.0, 0.95, "ok"),
        (D, "acme", "Amazon.se", 7, "category", "Toys", start7, end, 20, 19, 0.95, 0.95, "ok"),  # at target: ok
        (D, "acme", "Amazon.se", 7, "overall", None, start7, end, 20, 19, 0.95, 0.95, "ok"),
        (D, "acme", "Amazon.se", 30, "overall", None, start30, end, 0, 0, None, 0.95, "no_packages"),
    ]


PACKAGES = (
    "package_id varchar, seller_id varchar, marketplace varchar, order_id varchar, tracking_number varchar, "
    "carrier_code varchar, is_carrier_integrated boolean, ship_date date, promised_delivery_date date, "
    "categories varchar[], order_item_ids varchar[], skus varchar[], first_event_at timestamptz, "
    "first_physical_scan_at timestamptz, first_valid_scan_at timestamptz"
)


@pytest.mark.parametrize("windows_setting", [(7, 30), (7, 14)], ids=["30-day list", "largest window 14 days"])
def test_mart_invalid_packages_lists_each_invalid_package_of_the_largest_window_with_its_reason(windows_setting):
    ship = dt.date(2026, 10, 20)
    early, late = dt.date(2026, 10, 10), dt.date(2026, 11, 6)  # early: only in a 30-day window
    rows = run_one(
        "mart_invalid_packages",
        {
            "marts.fct_packages": (
                PACKAGES,
                [
                    (
                        "p1",
                        "acme",
                        "Amazon.se",
                        "O1",
                        None,
                        "UPS",
                        True,
                        ship,
                        late,
                        ["Toys"],
                        ["O1-1", "O1-2"],
                        ["T1"],
                        None,
                        None,
                        None,
                    ),
                    (
                        "p2",
                        "acme",
                        "Amazon.se",
                        "O2",
                        "1Z2",
                        "UPS",
                        True,
                        ship,
                        early,
                        ["Toys"],
                        ["O2-1"],
                        ["T1"],
                        at("2026-10-19"),
                        None,
                        None,
                    ),
                    (
                        "p3",
                        "acme",
                        "Amazon.se",
                        "O3",
                        "1Z3",
                        "UPS",
                        True,
                        ship,
                        late,
                        ["Toys"],
                        ["O3-1"],
                        ["T1"],
                        at("2026-10-01"),
                        at("2026-10-01"),
                        None,
                    ),
                    (
                        "p4",
                        "acme",
                        "Amazon.se",
                        "O4",
                        "1Z4",
                        "UPS",
                        True,
                        ship,
                        late,
                        ["Toys"],
                        ["O4-1"],
                        ["T1"],
                        at("2026-10-21"),
                        at("2026-10-21"),
                        at("2026-10-21"),
                    ),  # valid: not listed
                    (
                        "p5",
                        "acme",
                        "Amazon.se",
                        "O5",
                        "1Z5",
                        "UPS",
                        True,
                        ship,
                        late,
                        ["Toys"],
                        ["O5-1"],
                        ["T1"],
                        at("2026-11-21"),
                        at("2026-11-21"),
                        at("2026-11-21"),
                    ),  # first event after D
                ],
            ),
            "marts.fct_snapshot_windows": windows(sizes=windows_setting),
        },
        windows=windows_setting,
    )
    listed = [(r[3], r[10]) for r in rows]  # package_id, reason
    expected = [("p1", "missing_tracking"), ("p3", "scan_before_ship_date"), ("p5", "no_carrier_events")]
    if windows_setting[-1] == 30:
        expected.insert(1, ("p2", "pre_transit_only"))
    assert sorted(listed) == expected
    assert rows[0][:3] == (D, "acme", "Amazon.se")
    assert rows[0][11:] == (["O1-1", "O1-2"], ["T1"])  # the package's items and skus, after the reason


def test_mart_reason_summary_counts_each_invalid_package_once_whatever_its_categories():
    counts = (
        "snapshot_date date, window_days integer, seller_id varchar, marketplace varchar, carrier_code varchar, "
        "categories varchar[], invalid_reason varchar, packages bigint"
    )
    rows = run_one(
        "mart_reason_summary",
        {
            "marts.fct_window_counts": (
                counts,
                [
                    (
                        D,
                        7,
                        "acme",
                        "Amazon.se",
                        "UPS",
                        ["Books", "Toys"],
                        "missing_tracking",
                        2,
                    ),  # two categories: 2, not 4
                    (D, 7, "acme", "Amazon.se", "UPS", ["Toys"], "missing_tracking", 1),
                    (D, 7, "acme", "Amazon.se", "DHL", ["Toys"], "missing_tracking", 1),
                    (D, 7, "acme", "Amazon.se", "BUDBEE", ["Books", "Toys"], "carrier_not_integrated", 3),
                    (D, 7, "acme", "Amazon.se", "UPS", ["Books", "Toys"], None, 40),  # valid: no row
                    (D, 30, "acme", "Amazon.se", "UPS", ["Books", "Toys"], "missing_tracking", 2),
                    (D, 30, "acme", "Amazon.de", "UPS", ["Toys"], "scan_before_ship_date", 1),
                ],
            ),
        },
    )
    assert rows == [
        (D, "acme", "Amazon.de", 30, "scan_before_ship_date", 1),
        (D, "acme", "Amazon.se", 7, "carrier_not_integrated", 3),
        (D, "acme", "Amazon.se", 7, "missing_tracking", 4),
        (D, "acme", "Amazon.se", 30, "missing_tracking", 2),
    ]


def test_fct_fix_items_lists_the_items_of_packages_not_validly_tracked_by_the_end_of_the_last_date():
    ship, promised = dt.date(2026, 11, 2), dt.date(2026, 11, 20)
    rows = run_one(
        "fct_fix_items",
        {
            "marts.fct_packages": (
                PACKAGES,
                [
                    (
                        "p1",
                        "acme",
                        "Amazon.se",
                        "O1",
                        None,
                        "UPS",
                        True,
                        ship,
                        promised,
                        ["Toys"],
                        ["O1-1", "O1-2"],
                        ["T1", "T2"],
                        None,
                        None,
                        None,
                    ),  # missing number
                    (
                        "p2",
                        "acme",
                        "Amazon.se",
                        "O2",
                        "1Z2",
                        "UPS",
                        True,
                        ship,
                        promised,
                        ["Toys"],
                        ["O2-1"],
                        ["T1"],
                        at("2026-11-02"),
                        at("2026-11-02"),
                        at("2026-11-02"),
                    ),  # valid: no rows
                    (
                        "p3",
                        "acme",
                        "Amazon.se",
                        "O3",
                        "1Z3",
                        "UPS",
                        True,
                        ship,
                        promised,
                        ["Toys"],
                        ["O3-1"],
                        ["T1"],
                        at("2026-11-21"),
                        at("2026-11-21"),
                        at("2026-11-21"),
                    ),  # scanned after D
                ],
            ),
            "intermediate.int_order_items_confirmed": (
                ITEMS + ", ship_method varchar",
                [
                    ("acme", "O1", "O1-1", ship, "UPS", None, 10, "Standard"),
                    ("acme", "O1", "O1-2", ship, "UPS", None, 11, None),
                    ("acme", "O2", "O2-1", ship, "UPS", "1Z2", 12, "Standard"),
                    ("acme", "O3", "O3-1", ship, "UPS", "1Z3", 13, "Express"),
                ],
            ),
            "staging.stg_orders": (
                ORDERS + ", quantity integer",
                [
                    ("acme", "O1", "O1-1", "Amazon.se", promised, "T1", 2),
                    ("acme", "O1", "O1-2", "Amazon.se", promised, "T2", 1),
                    ("acme", "O2", "O2-1", "Amazon.se", promised, "T1", 1),
                    ("acme", "O3", "O3-1", "Amazon.se", promised, "T1", 5),
                ],
            ),
        },
    )
    assert rows == [
        ("p1", "acme", "O1", "O1-1", 2, "Standard"),
        ("p1", "acme", "O1", "O1-2", 1, None),
        ("p3", "acme", "O3", "O3-1", 5, "Express"),
    ]


LISTED = (
    "snapshot_date date, seller_id varchar, marketplace varchar, package_id varchar, order_id varchar, "
    "tracking_number varchar, carrier varchar, ship_date date, promised_delivery_date date, reason varchar"
)


def test_fct_fix_rows_orders_overdue_first_corrects_carriers_and_keeps_only_uncontradicted_numbers():
    ship = dt.date(2026, 11, 2)
    rows = run_one(
        "fct_fix_rows",
        {
            "marts.mart_invalid_packages": (
                LISTED,
                [
                    (D, "acme", "Amazon.se", "p1", "O1", None, "UPS", ship, dt.date(2026, 11, 5), "missing_tracking"),
                    (
                        D,
                        "acme",
                        "Amazon.se",
                        "p2",
                        "O2",
                        "BB2",
                        "BUDBEE",
                        ship,
                        dt.date(2026, 11, 4),
                        "carrier_not_integrated",
                    ),
                    (
                        D,
                        "acme",
                        "Amazon.se",
                        "p3",
                        "O3",
                        "RM3",
                        "ROYAL MAIL",
                        ship,
                        dt.date(2026, 11, 5),
                        "carrier_not_integrated",
                    ),
                    (
                        D,
                        "acme",
                        "Amazon.se",
                        "p4",
                        "O4",
                        "1Z4",
                        "UPS",
                        ship,
                        dt.date(2026, 11, 5),
                        "scan_before_ship_date",
                    ),
                    (
                        D - dt.timedelta(days=1),
                        "acme",
                        "Amazon.se",
                        "p9",
                        "O9",
                        None,
                        "UPS",
                        ship,
                        dt.date(2026, 11, 5),
                        "missing_tracking",
                    ),
                ],
            ),
            "marts.mart_at_risk_packages": (
                LISTED + ", fix_by_date date",
                [
                    (
                        D,
                        "acme",
                        "Amazon.se",
                        "p5",
                        "O5",
                        "L5",
                        "DHL",
                        ship,
                        dt.date(2026, 11, 10),
                        "pre_transit_only",
                        dt.date(2026, 11, 21),
                    )
                ],
            ),
            "marts.fct_fix_items": (
                "package_id varchar, seller_id varchar, order_id varchar, order_item_id varchar, quantity integer, "
                "ship_method varchar",
                [
                    ("p1", "acme", "O1", "O1-2", 1, None),
                    ("p1", "acme", "O1", "O1-1", 2, "Standard"),
                    ("p2", "acme", "O2", "O2-1", 1, "Standard"),
                    ("p3", "acme", "O3", "O3-1", 1, "Standard"),
                    ("p4", "acme", "O4", "O4-1", 1, "Standard"),
                    ("p5", "acme", "O5", "O5-1", 1, "Express"),
                    ("p9", "acme", "O9", "O9-1", 1, "Standard"),
                ],
            ),
            "raw.scans": (
                "seller_id varchar, tracking_key varchar, carrier varchar, event_at timestamptz",
                [("acme", "BB2", "dhl", at("2026-11-02")), ("acme", "BB2", "UPS", at("2026-10-01"))],
            ),
        },
    )
    assert [r[2:] for r in rows] == [
        (1, "p2", "O2", "O2-1", 1, ship, "DHL", None, "BB2", "Standard"),  # scanned by DHL; promised first
        (2, "p1", "O1", "O1-1", 2, ship, "UPS", None, None, "Standard"),  # missing: the seller fills it
        (3, "p1", "O1", "O1-2", 1, ship, "UPS", None, None, None),
        (4, "p3", "O3", "O3-1", 1, ship, "ROYAL_MAIL", None, "RM3", "Standard"),  # the name is an integrated code
        (5, "p4", "O4", "O4-1", 1, ship, "UPS", None, None, "Standard"),  # recycled: blank
        (6, "p5", "O5", "O5-1", 1, ship, "DHL", None, "L5", "Express"),  # at risk, after the overdue ones
    ]
