"""One model at a time, rows in, rows out (as SQLMesh's and bigquery-etl's model tests): a few hand-written rows per
upstream table, the one model run by the runner, and its exact output. A failure names the model that broke."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
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
            if rows:  # the first columns; the others take their defaults
                fields = list(con.execute(f"from {table} limit 0").to_arrow_table().schema)[: len(rows[0])]
                columns = zip(*rows, strict=True)
                given = pa.table({f.name: as_arrow(c, f.type) for f, c in zip(fields, columns, strict=True)})
                con.execute(f"insert into {table} ({', '.join(given.column_names)}) from given")
        model = {m.name: m for m in load_models()}[name]
        run_model(con, model, start, end)
        return con.execute(f"select * from {model.table} order by all").fetchall()
    finally:
        con.close()


def as_arrow(values: tuple, type_: pa.DataType) -> pa.Array:
    """A column of the inputs as the table's type; values written as text (an amount '12,50') as text, which the
    insert casts as DuckDB casts a literal."""
    try:
        return pa.array(values, type_)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def windows(
    day: dt.date = D, sizes: tuple[int, ...] = (7, 30), marketplaces: tuple[str, ...] = ("Amazon.se",)
) -> tuple[str, list[tuple]]:
    """marts.fct_snapshot_windows of one date, as the runner builds it (lag 14), for each marketplace."""
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), UTC)
    end = day - dt.timedelta(days=14)
    return (
        "snapshot_date date, marketplace varchar, window_days integer, window_start date, window_end date, "
        "scans_until timestamptz, is_largest boolean, lag_days integer",
        [
            (day, m, w, end - dt.timedelta(days=w - 1), end, until, w == max(sizes), 14)
            for m in marketplaces
            for w in sizes
        ],
    )


def profiles(*rows: tuple) -> tuple[str, list[tuple]]:
    """staging.stg_marketplace_profiles: rows of (marketplace[, target[, integrated carriers]]); lag 14, grace 2,
    at risk after 2 days, windows 7 and 30."""
    return (
        "marketplace varchar, target double, integrated_carriers varchar[], lag_days integer default 14, "
        "scan_grace_days integer default 2, at_risk_after_days integer default 2, windows integer[] default [7, 30], "
        "largest_window integer default 30",
        [(m, *rest) if len(rest) == 2 else (m, rest[0] if rest else 0.95, ["UPS", "DHL"]) for m, *rest in rows],
    )


PARTS = (
    "package_id varchar, seller_id varchar, order_id varchar, order_item_id varchar, part_number integer, "
    "quantity integer, tracking_number varchar, carrier_code varchar, carrier_code_as_confirmed varchar, "
    "carrier_name_as_confirmed varchar, ship_method varchar, ship_date date, last_load_seq bigint"
)
ORDERS = (
    "seller_id varchar, order_id varchar, order_item_id varchar, marketplace varchar, "
    "latest_delivery_date date, sku varchar, item_price decimal(18, 2), shipping_price decimal(18, 2)"
)


def test_int_packages_groups_parts_by_order_and_number_or_by_ship_date_and_carrier_when_untracked():
    nov = lambda day: dt.date(2026, 11, day)  # noqa: E731
    rows = run_one(
        "int_packages",
        {
            "intermediate.int_order_item_parts": (
                PARTS,
                [
                    ("a", "acme", "O1", "O1-1", 1, 1, "1Z1", "UPS", "ups", None, "Standard", nov(3), 10),
                    ("b", "acme", "O1", "O1-1", 2, 1, "1Z2", "UPS", "ups", None, "Standard", nov(3), 11),  # split
                    # the later line of the package's parts: its carrier and ship method win
                    ("a", "acme", "O1", "O1-2", 1, 1, "1Z1", "BUDBEE", "Other", "Budbee", "Express", nov(2), 20),
                    ("c", "acme", "O2", "O2-1", 1, 2, None, "UPS", "UPS", None, None, nov(2), 30),
                    ("d", "acme", "O2", "O2-2", 1, 1, None, "GLS", "GLS", None, None, nov(2), 40),  # another carrier
                ],
            ),
            "staging.stg_orders": (
                ORDERS,
                [
                    ("acme", "O1", "O1-1", "Amazon.se", nov(5), "TOY", None, None),
                    ("acme", "O1", "O1-2", "Amazon.se", nov(6), "NOT-IN-CATALOG", None, None),
                    ("acme", "O2", "O2-1", "Amazon.de", nov(4), "TOY", "12.50", "4.90"),
                    ("acme", "O2", "O2-2", "Amazon.de", nov(4), "BOOK", "2.00", None),
                    ("acme", "O2", "O2-3", "Amazon.de", nov(4), "BOOK", "1.00", "0.50"),  # cancelled: no part
                ],
            ),
            "staging.stg_catalog": (
                "seller_id varchar, sku varchar, category varchar",
                [("acme", "TOY", "Toys"), ("acme", "BOOK", "Books")],
            ),
        },
    )
    assert rows == [
        # package, seller, marketplace, order, number, carrier, ship, promised, categories, items, uncategorized,
        # item ids, skus, ship method, carrier-code and carrier-name as confirmed, parts, order value
        ("a", "acme", "Amazon.se", "O1", "1Z1", "BUDBEE", nov(2), nov(6), ["Toys", "Uncategorized"], 2, 1,
         ["O1-1", "O1-2"], ["NOT-IN-CATALOG", "TOY"], "Express", "Other", "Budbee", 2, Decimal("0.00")),
        ("b", "acme", "Amazon.se", "O1", "1Z2", "UPS", nov(3), nov(5), ["Toys"], 1, 0, ["O1-1"], ["TOY"],
         "Standard", "ups", None, 1, Decimal("0.00")),
        # the order's value: every item's price and shipping, the cancelled one's too
        ("c", "acme", "Amazon.de", "O2", None, "UPS", nov(2), nov(4), ["Toys"], 1, 0, ["O2-1"], ["TOY"], None,
         "UPS", None, 1, Decimal("20.90")),
        ("d", "acme", "Amazon.de", "O2", None, "GLS", nov(2), nov(4), ["Books"], 1, 0, ["O2-2"], ["BOOK"], None,
         "GLS", None, 1, Decimal("20.90")),
    ]  # fmt: skip


def test_int_package_scans_finds_first_event_first_physical_scan_and_first_scan_within_the_grace_bound():
    rows = run_one(
        "int_package_scans",
        {
            "intermediate.int_packages": (
                "package_id varchar, seller_id varchar, tracking_number varchar, ship_date date, marketplace varchar",
                [
                    ("p1", "acme", "1Z1", dt.date(2026, 11, 10), "Amazon.se"),
                    ("p2", "acme", "1Z2", dt.date(2026, 11, 10), "Amazon.se"),
                    ("p3", "acme", None, dt.date(2026, 11, 10), "Amazon.se"),
                ],
            ),
            "staging.stg_marketplace_profiles": profiles(("Amazon.se",)),
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
    "packages bigint, is_exempt boolean default false"
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
        (D, 7, "acme", "Amazon.se", "BUDBEE", ["Books"], False, "carrier_not_integrated", 1),
        (D, 7, "acme", "Amazon.se", "UPS", ["Toys"], False, None, 3),
        (D, 30, "acme", "Amazon.se", "BUDBEE", ["Books"], False, "carrier_not_integrated", 1),
        (D, 30, "acme", "Amazon.se", "UPS", ["Toys"], False, "no_carrier_events", 2),
        (D, 30, "acme", "Amazon.se", "UPS", ["Toys"], False, None, 3),
    ]


COUNTS = (
    "snapshot_date date, window_days integer, seller_id varchar, marketplace varchar, carrier_code varchar, "
    "categories varchar[], invalid_reason varchar, packages bigint, is_exempt boolean default false"
)


def test_mart_vtr_snapshots_scopes_rates_statuses_and_the_overall_row_of_an_empty_account():
    rows = run_one(
        "mart_vtr_snapshots",
        {
            "marts.fct_window_counts": (
                COUNTS,
                [
                    (D, 7, "acme", "Amazon.se", "UPS", ["Toys", "Books"], None, 19),
                    (D, 7, "acme", "Amazon.se", None, ["Toys"], "missing_tracking", 1),
                ],
            ),
            "marts.fct_snapshot_windows": windows(marketplaces=("Amazon.se", "Amazon.de")),
            "staging.stg_marketplace_profiles": profiles(("Amazon.se",), ("Amazon.de",)),
            "staging.stg_accounts": (
                "seller_id varchar, marketplace varchar",
                [("acme", "Amazon.se"), ("acme", "Amazon.de")],
            ),
        },
    )
    start7, start30, end = dt.date(2026, 10, 31), dt.date(2026, 10, 8), dt.date(2026, 11, 6)
    assert [r[:-1] for r in rows] == [
        (D, "acme", "Amazon.de", 7, "overall", None, start7, end, 0, 0, None, 0.95, "no_packages"),
        (D, "acme", "Amazon.de", 30, "overall", None, start30, end, 0, 0, None, 0.95, "no_packages"),
        (D, "acme", "Amazon.se", 7, "carrier", "UNKNOWN", start7, end, 1, 0, 0.0, 0.95, "below_target"),
        (D, "acme", "Amazon.se", 7, "carrier", "UPS", start7, end, 19, 19, 1.0, 0.95, "ok"),
        (D, "acme", "Amazon.se", 7, "category", "Books", start7, end, 19, 19, 1.0, 0.95, "ok"),
        (D, "acme", "Amazon.se", 7, "category", "Toys", start7, end, 20, 19, 0.95, 0.95, "ok"),  # at target: ok
        (D, "acme", "Amazon.se", 7, "overall", None, start7, end, 20, 19, 0.95, 0.95, "ok"),
        (D, "acme", "Amazon.se", 30, "overall", None, start30, end, 0, 0, None, 0.95, "no_packages"),
    ]
    assert {r[-1] for r in rows} == {0}  # packages_exempt, the last column: none without exemptions


def test_mart_vtr_snapshots_leaves_exempt_packages_out_counts_them_apart_and_uses_the_profiles_target():
    rows = run_one(
        "mart_vtr_snapshots",
        {
            "marts.fct_window_counts": (
                COUNTS,
                [
                    (D, 7, "acme", "Amazon.de", "UPS", ["Toys"], None, 19, False),
                    (D, 7, "acme", "Amazon.de", "UPS", ["Toys"], "missing_tracking", 1, False),
                    (D, 7, "acme", "Amazon.de", "DEUTSCHE POST", ["Toys"], None, 3, True),
                    (D, 7, "acme", "Amazon.de", "DEUTSCHE POST", ["Books"], None, 2, True),  # all exempt
                ],
            ),
            "marts.fct_snapshot_windows": windows(sizes=(7,), marketplaces=("Amazon.de",)),
            "staging.stg_marketplace_profiles": profiles(("Amazon.de", 0.97)),
            "staging.stg_accounts": ("seller_id varchar, marketplace varchar", [("acme", "Amazon.de")]),
        },
    )
    assert [(r[4], r[5], r[8], r[9], r[11], r[12], r[13]) for r in rows] == [
        ("carrier", "DEUTSCHE POST", 0, 0, 0.97, "no_packages", 5),
        ("carrier", "UPS", 20, 19, 0.97, "below_target", 0),  # 95 % is below Amazon.de's 97 %
        ("category", "Books", 0, 0, 0.97, "no_packages", 2),
        ("category", "Toys", 20, 19, 0.97, "below_target", 3),
        ("overall", None, 20, 19, 0.97, "below_target", 5),
    ]


PACKAGES = (
    "package_id varchar, seller_id varchar, marketplace varchar, order_id varchar, tracking_number varchar, "
    "carrier_code varchar, is_carrier_integrated boolean, ship_date date, promised_delivery_date date, "
    "categories varchar[], order_item_ids varchar[], skus varchar[], first_event_at timestamptz, "
    "first_physical_scan_at timestamptz, first_valid_scan_at timestamptz, is_exempt boolean default false, "
    "ship_method varchar default 'Standard', carrier_code_as_confirmed varchar, carrier_name_as_confirmed varchar"
)


@pytest.mark.parametrize("windows_setting", [(7, 30), (7, 14)], ids=["30-day list", "largest window 14 days"])
def test_mart_packages_lists_every_package_of_the_largest_window_valid_invalid_or_exempt(windows_setting):
    ship = dt.date(2026, 10, 20)
    early, late = dt.date(2026, 10, 10), dt.date(2026, 11, 6)  # early: only in a 30-day window
    package = lambda pid, number, promised, event, physical, valid, exempt=False: (  # noqa: E731
        pid, "acme", "Amazon.se", f"O{pid}", number, "UPS", True, ship, promised, ["Toys"], [f"O{pid}-1"], ["T1"],
        event, physical, valid, exempt,
    )  # fmt: skip
    rows = run_one(
        "mart_packages",
        {
            "marts.fct_packages": (
                PACKAGES,
                [
                    package("p1", None, late, None, None, None),
                    package("p2", "1Z2", early, at("2026-10-19"), None, None),
                    package("p3", "1Z3", late, at("2026-10-01"), at("2026-10-01"), None),
                    package("p4", "1Z4", late, at("2026-10-21"), at("2026-10-21"), at("2026-10-21")),  # valid
                    package("p5", "1Z5", late, at("2026-11-21"), at("2026-11-21"), at("2026-11-21")),  # after D
                    package("p6", None, late, None, None, None, True),  # exempt: no reason
                    package("p7", "1Z7", dt.date(2026, 11, 7), None, None, None),  # promised after the window
                ],
            ),
            "marts.fct_snapshot_windows": windows(sizes=windows_setting),
        },
        windows=windows_setting,
    )
    listed = sorted((r[12], r[10], r[11]) for r in rows)  # package_id, status, reason
    expected = [
        ("p1", "invalid", "missing_tracking"),
        ("p3", "invalid", "scan_before_ship_date"),
        ("p4", "valid", None),
        ("p5", "invalid", "no_carrier_events"),
        ("p6", "exempt", None),
    ]
    if windows_setting[-1] == 30:
        expected.insert(1, ("p2", "invalid", "pre_transit_only"))
    assert listed == expected
    # the spec's columns in its order, then the package's id, items and skus
    assert rows[0] == (
        D, "acme", "Amazon.se", "Op1", None, "UPS", "Standard", ship, late, ["Toys"], "invalid", "missing_tracking",
        "p1", ["Op1-1"], ["T1"],
    )  # fmt: skip


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


def test_fct_fix_parts_lists_the_parts_of_packages_not_validly_tracked_by_the_end_of_the_last_date():
    ship, promised = dt.date(2026, 11, 2), dt.date(2026, 11, 20)
    package = lambda pid, order, number, scanned: (  # noqa: E731
        pid, "acme", "Amazon.se", order, number, "UPS", True, ship, promised, ["Toys"], [f"{order}-1"], ["T1"],
        scanned, scanned, scanned,
    )  # fmt: skip
    rows = run_one(
        "fct_fix_parts",
        {
            "marts.fct_packages": (
                PACKAGES,
                [
                    package("p1", "O1", None, None),  # missing number
                    package("p2", "O2", "1Z2", at("2026-11-02")),  # valid: no rows
                    package("p3", "O3", "1Z3", at("2026-11-21")),  # scanned after D
                ],
            ),
            "intermediate.int_order_item_parts": (
                PARTS,
                [
                    ("p1", "acme", "O1", "O1-1", 1, 2, None, "UPS", "UPS", None, "Standard", ship, 10),
                    ("p1", "acme", "O1", "O1-2", 1, 1, None, "UPS", "UPS", None, None, ship, 11),
                    ("p2", "acme", "O2", "O2-1", 1, 1, "1Z2", "UPS", "UPS", None, "Standard", ship, 12),
                    ("p3", "acme", "O3", "O3-1", 2, 3, "1Z3", "UPS", "UPS", None, "Express", ship, 13),
                ],
            ),
        },
    )
    assert rows == [
        ("p1", "acme", "O1", "O1-1", 1, 2, "Standard"),
        ("p1", "acme", "O1", "O1-2", 1, 1, None),
        ("p3", "acme", "O3", "O3-1", 2, 3, "Express"),  # the item's second box
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
            "marts.fct_fix_parts": (
                "package_id varchar, seller_id varchar, order_id varchar, order_item_id varchar, part_number integer, "
                "quantity integer, ship_method varchar",
                [
                    ("p1", "acme", "O1", "O1-2", 1, 1, None),
                    ("p1", "acme", "O1", "O1-1", 1, 2, "Standard"),
                    ("p2", "acme", "O2", "O2-1", 1, 1, "Standard"),
                    ("p3", "acme", "O3", "O3-1", 1, 1, "Standard"),
                    ("p4", "acme", "O4", "O4-1", 1, 1, "Standard"),
                    ("p5", "acme", "O5", "O5-1", 1, 1, "Express"),
                    ("p9", "acme", "O9", "O9-1", 1, 1, "Standard"),
                ],
            ),
            "raw.scans": (
                "seller_id varchar, tracking_key varchar, carrier varchar, event_at timestamptz",
                [("acme", "BB2", "dhl", at("2026-11-02")), ("acme", "BB2", "UPS", at("2026-10-01"))],
            ),
            "marts.fct_packages": (
                "package_id varchar, carrier_code_as_confirmed varchar, carrier_name_as_confirmed varchar",
                [
                    ("p1", "ups", None),
                    ("p2", "Other", "Budbee"),
                    ("p3", "Other", "Royal Mail"),
                    ("p4", "UPS", None),
                    ("p5", "dhl", "DHL Freight"),
                ],
            ),
            "staging.stg_marketplace_profiles": profiles(("Amazon.se", 0.95, ["UPS", "DHL", "ROYAL_MAIL"])),
        },
    )
    assert [r[2:] for r in rows] == [
        (1, "p2", "O2", "O2-1", 1, 1, ship, "DHL", None, "BB2", "Standard"),  # scanned by DHL; promised first
        # missing: the seller fills it; the carrier as the seller wrote it
        (2, "p1", "O1", "O1-1", 1, 2, ship, "ups", None, None, "Standard"),
        (3, "p1", "O1", "O1-2", 1, 1, ship, "ups", None, None, None),
        (4, "p3", "O3", "O3-1", 1, 1, ship, "ROYAL_MAIL", None, "RM3", "Standard"),  # the name is an integrated code
        (5, "p4", "O4", "O4-1", 1, 1, ship, "UPS", None, None, "Standard"),  # recycled: blank
        (6, "p5", "O5", "O5-1", 1, 1, ship, "dhl", "DHL Freight", "L5", "Express"),  # at risk, after the overdue
    ]


# --- split shipments: int_order_item_parts, one rule of spec section 7 a test ------------------------------------

CONFIRMATIONS = (
    "seller_id varchar, load_seq bigint, order_id varchar, order_item_id varchar, quantity integer, ship_date date, "
    "carrier_code varchar, tracking_action varchar, tracking_number varchar, ship_method varchar, "
    "carrier_code_as_confirmed varchar, carrier_name_as_confirmed varchar"
)
SHIP = dt.date(2026, 11, 2)


def parts(lines: list[tuple], items: dict[str, int | None]) -> list[tuple]:
    """int_order_item_parts of order O1: lines (order_item_id or None for the whole order, quantity, tracking-number
    as written: '' blank, 'NULL', or a number[, carrier[, ship date]]) in load order; items: order_item_id ->
    quantity purchased. Returns (item, part_number, quantity, tracking_number, carrier_code, ship_date) per part."""
    rows = []
    for seq, (item, quantity, tracking, *rest) in enumerate(lines, start=1):
        carrier = rest[0] if rest else "UPS"
        ship_date = rest[1] if len(rest) > 1 else SHIP
        action = {"": "keep", "NULL": "remove"}.get(tracking, "set")
        number = tracking if action == "set" else None
        rows.append(
            ("acme", seq, "O1", item, quantity, ship_date, carrier or None, action, number, None, carrier, None)
        )
    out = run_one(
        "int_order_item_parts",
        {
            "staging.stg_confirmations": (CONFIRMATIONS, rows),
            "staging.stg_orders": (
                "seller_id varchar, order_id varchar, order_item_id varchar, quantity integer",
                [("acme", "O1", item, quantity) for item, quantity in items.items()],
            ),
        },
    )
    return sorted((r[3], r[4], r[5], r[6], r[7], r[11]) for r in out)


def test_two_boxes_with_quantities_that_fit_are_two_parts():
    assert parts([("I1", 1, "B1"), ("I1", 1, "B2")], {"I1": 2}) == [
        ("I1", 1, 1, "B1", "UPS", SHIP),
        ("I1", 2, 1, "B2", "UPS", SHIP),
    ]


def test_a_third_number_that_does_not_fit_corrects_the_latest_box_only():
    assert parts([("I1", 1, "B1"), ("I1", 1, "B2"), ("I1", 1, "B3")], {"I1": 2}) == [
        ("I1", 1, 1, "B1", "UPS", SHIP),
        ("I1", 2, 1, "B3", "UPS", SHIP),
    ]


def test_a_box_sent_again_with_its_own_number_and_a_new_ship_date_changes_only_that_box():
    later = dt.date(2026, 11, 4)
    assert parts([("I1", 1, "B1"), ("I1", 1, "B2"), ("I1", None, "B1", "DHL", later)], {"I1": 2}) == [
        ("I1", 1, 1, "B1", "DHL", later),
        ("I1", 2, 1, "B2", "UPS", SHIP),
    ]


def test_a_first_row_without_quantity_holds_the_whole_item_so_a_later_part_of_one_moves_it():
    assert parts([("I1", None, "A"), ("I1", 1, "B")], {"I1": 2}) == [("I1", 1, 1, "B", "UPS", SHIP)]


def test_a_new_number_without_quantity_after_a_box_of_one_corrects_that_box():
    assert parts([("I1", 1, "A"), ("I1", None, "B")], {"I1": 2}) == [("I1", 1, 1, "B", "UPS", SHIP)]


def test_a_first_row_of_three_for_an_item_of_two_makes_one_part_of_three():
    assert parts([("I1", 3, "A"), ("I1", 1, "B")], {"I1": 2}) == [("I1", 1, 1, "B", "UPS", SHIP)]
    assert parts([("I1", 3, "A")], {"I1": 2}) == [("I1", 1, 3, "A", "UPS", SHIP)]


def test_null_with_a_quantity_removes_the_latest_boxs_number_and_splits_nothing():
    assert parts([("I1", 1, "A"), ("I1", 1, "B"), ("I1", 1, "NULL")], {"I1": 3}) == [
        ("I1", 1, 1, "A", "UPS", SHIP),
        ("I1", 2, 1, None, "UPS", SHIP),
    ]
    # a blank number with a quantity neither splits: it keeps the latest box's number
    assert parts([("I1", 1, "A"), ("I1", 1, "")], {"I1": 3}) == [("I1", 1, 1, "A", "UPS", SHIP)]


def test_a_whole_order_row_ignores_its_quantity_and_covers_whole_items():
    assert parts([(None, 1, "W"), ("I1", 1, "B")], {"I1": 2, "I2": 1}) == [
        ("I1", 1, 1, "B", "UPS", SHIP),  # part of 2 (the whole item): a box of 1 does not fit, it corrects
        ("I2", 1, 1, "W", "UPS", SHIP),
    ]
    assert parts([(None, 1, "W")], {"I1": 2}) == [("I1", 1, 2, "W", "UPS", SHIP)]


def test_a_cancelled_item_is_in_no_part_through_a_whole_order_row_or_its_own_row():
    assert parts([(None, None, "W"), ("I2", 1, "X")], {"I1": 1, "I2": 0}) == [("I1", 1, 1, "W", "UPS", SHIP)]


def test_a_new_box_with_a_blank_carrier_takes_the_latest_boxs_carrier():
    assert parts([("I1", 1, "A", "DHL"), ("I1", 1, "B", "")], {"I1": 2}) == [
        ("I1", 1, 1, "A", "DHL", SHIP),
        ("I1", 2, 1, "B", "DHL", SHIP),
    ]


def test_an_item_whose_quantity_was_never_given_counts_as_one():
    assert parts([("I1", 1, "A"), ("I1", 1, "B")], {"I1": None}) == [("I1", 1, 1, "B", "UPS", SHIP)]


def reference_parts(lines: list[tuple], quantity: int) -> list[tuple]:
    """Spec section 7's rules written plainly, one item at a time: the reference the SQL fold must agree with."""
    parts: list[dict] = []
    for line_quantity, tracking, carrier in lines:
        action = {"": "keep", "NULL": "remove"}.get(tracking, "set")
        numbers = [p["number"] for p in parts]
        if action == "set" and tracking in numbers:
            target = numbers.index(tracking)
        elif not parts or (
            action == "set"
            and line_quantity is not None
            and sum(p["quantity"] for p in parts) + line_quantity <= quantity
        ):
            parts.append({"number": None, "quantity": None, "carrier": parts[-1]["carrier"] if parts else None})
            target = len(parts) - 1
        else:
            target = len(parts) - 1
        part = parts[target]
        part["number"] = tracking if action == "set" else None if action == "remove" else part["number"]
        part["carrier"] = carrier or part["carrier"]
        part["quantity"] = line_quantity or part["quantity"] or quantity
    return [(n + 1, p["quantity"], p["number"], p["carrier"]) for n, p in enumerate(parts)]


def test_the_fold_agrees_with_the_rules_written_plainly_on_thousands_of_random_items():
    """Many items folded in one statement (several vectors): each item's parts are what the rules give it alone."""
    rng = random.Random(17)
    lines, items, expected = [], {}, []
    for n in range(3000):
        item, quantity = f"I{n:04d}", rng.choice([0, 1, 1, 2, 3, 4])
        items[item] = quantity
        own = [
            (
                rng.choice([None, 1, 1, 2, 3]),
                rng.choice(["", "NULL", "A", "B", "C", "D"]),
                rng.choice(["", "UPS", "DHL"]),
            )
            for _ in range(rng.choice([1, 1, 2, 3, 5]))
        ]
        lines += [(item, q, t, c) for q, t, c in own]
        if quantity:
            expected += [(item, *p) for p in reference_parts(own, quantity)]
    folded = parts(lines, items)
    assert [(i, n, q, t, c) for i, n, q, t, c, _ in folded] == sorted(expected, key=lambda r: (r[0], r[1]))


def test_the_fold_of_many_items_each_confirmed_by_one_line_fits_in_little_memory():
    """Most items are confirmed by one line: the fold makes their parts without a list per item. Gathering every item
    into lists ran a 119-date backfill at a million packages out of memory at 1.5 GB; at this scale the same model
    failed below 256 MB and now fits in 128 MB (it needs 64)."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'; set memory_limit = '128MB'; set threads = 2")
        con.execute(MACROS.read_text())
        con.execute("create schema staging; create schema intermediate")
        con.execute(
            "create table staging.stg_orders as select 'acme' as seller_id, 'O' || (i // 2) as order_id, "
            "'I' || i as order_item_id, 1 as quantity from range(400000) as t(i)"
        )
        con.execute(f"create table staging.stg_confirmations ({CONFIRMATIONS})")
        con.execute(
            "insert into staging.stg_confirmations select 'acme', i, 'O' || (i // 2), 'I' || i, null, "
            "date '2026-11-02', 'UPS', 'set', '1Z' || (i // 2), 'Std', 'UPS', null from range(400000) as t(i)"
        )
        run_model(con, {m.name: m for m in load_models()}["int_order_item_parts"], D, D)
        assert con.execute(
            "select count(*), count(distinct package_id), max(part_number) from intermediate.int_order_item_parts"
        ).fetchone() == (400000, 200000, 1)
    finally:
        con.close()
