"""The metric on small hand-made inputs (spec sections 1, 3, 6 and 7): each expected VTR is worked out by hand here.

Snapshot date D = 2026-11-20 with the default lag 14 and windows 7 and 30 unless a test says otherwise:
  7-day window:  promised delivery dates 2026-10-31 .. 2026-11-06
  30-day window: promised delivery dates 2026-10-08 .. 2026-11-06
Scans count up to 2026-11-20T24:00Z.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers.feeds import (
    IN_BOTH,
    SCANNED,
    SHIPPED,
    D,
    boxes_tsv,
    confirmations_tsv,
    orders_tsv,
    orders_with_quantities_tsv,
    query,
    scans_csv,
)
from pipeline.lake import connect
from pipeline.models import build_models
from pipeline.outputs import partition_file
from pipeline.run import run


def overall_rows(summary) -> list[tuple]:
    """The run summary's overall VTR per account and window, as (seller, marketplace, window, total, valid, vtr,
    status)."""
    return [
        (
            a["seller_id"],
            a["marketplace"],
            a["window_days"],
            a["packages_total"],
            a["packages_valid"],
            a["vtr"],
            a["status"],
        )
        for a in summary.figures()["accounts"]
    ]


def built(project, sql: str, params=None, day=D, seller="acme", time_zone="UTC") -> list[tuple]:
    """Query a seller's build for one date in its scratch database (staging, intermediate and fct_* models live
    there only), after a run loaded the files."""
    settings = project.settings()
    con = connect(settings, read_only=True)
    try:
        con.execute(f"set TimeZone = '{time_zone}'")
        build_models(con, settings, seller, day, day)
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def overall(project, day=D, seller="acme", marketplace="Amazon.se") -> dict[int, tuple]:
    """window_days -> (packages_total, packages_valid, vtr, status) of the account's overall rows."""
    rows = query(
        project,
        """
        select window_days, packages_total, packages_valid, vtr, status from marts.mart_vtr_snapshots
        where snapshot_date = ? and seller_id = ? and marketplace = ? and scope = 'overall'""",
        [day, seller, marketplace],
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def scoped(project, scope: str, day=D, window=7) -> dict[str, tuple]:
    """scope_value -> (packages_total, packages_valid, status) for one scope and window of acme / Amazon.se."""
    rows = query(
        project,
        """
        select scope_value, packages_total, packages_valid, status from marts.mart_vtr_snapshots
        where snapshot_date = ? and seller_id = 'acme' and marketplace = 'Amazon.se' and scope = ?
          and window_days = ?""",
        [day, scope, window],
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def invalid(project, day=D) -> dict[str, tuple]:
    """order_id -> (tracking_number, carrier, reason) of the invalid packages list."""
    rows = query(
        project,
        """
        select order_id, tracking_number, carrier, reason from marts.mart_invalid_packages
        where snapshot_date = ? order by order_id""",
        [day],
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def one_package_orders(n: int, promised: str = IN_BOTH, prefix: str = "O", sku: str = "SKU1", channel="Amazon.se"):
    return [(f"{prefix}{i:03d}", f"{prefix}{i:03d}-1", sku, promised, channel) for i in range(n)]


# --- the marketplace's own example ---------------------------------------------------------------------------


@pytest.mark.parametrize("valid, status", [(190, "ok"), (189, "below_target")])
def test_190_of_200_is_exactly_95_percent_and_ok_189_is_below(project, valid, status):
    items = one_package_orders(200)
    project.drop("acme", "orders", "orders.txt", orders_tsv(*items))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(*[(o, i, SHIPPED, "UPS", "", f"1Z{n:06d}") for n, (o, i, *_) in enumerate(items)]),
    )
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(*[(f"1Z{n:06d}", SCANNED, "in_transit") for n in range(valid)])
    )

    run(project.settings(), D)

    assert overall(project) == {7: (200, valid, valid / 200, status), 30: (200, valid, valid / 200, status)}
    if valid == 190:
        assert overall(project)[7][2] == 0.95


# --- reasons ---------------------------------------------------------------------------------------------------


def test_each_invalid_package_gets_the_first_reason_that_applies(project):
    project.write_config('[carrier_aliases]\n"postnord sverige" = "POSTNORD"\n')
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nSKU1,Toys\n")
    ids = [f"R{n:02d}" for n in range(1, 12)]
    project.drop("acme", "orders", "orders.txt", orders_tsv(*[(o, f"{o}-1", "SKU1", IN_BOTH) for o in ids]))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("R01", "R01-1", SHIPPED, "UPS", "", ""),  # no number
            ("R02", "R02-1", SHIPPED, "Other", "Budbee", ""),  # no number and not integrated: missing first
            ("R03", "R03-1", SHIPPED, "Other", "Budbee", "TRK03"),  # scanned, but Budbee is not integrated
            ("R04", "R04-1", SHIPPED, "Bpost", "", "TRK04"),  # not integrated, no events: carrier first
            ("R05", "R05-1", SHIPPED, "Other", "PostNord Sverige", "TRK05"),  # alias -> POSTNORD, valid
            ("R06", "R06-1", SHIPPED, "ups", "", "TRK06"),  # code in any case, valid
            ("R07", "R07-1", SHIPPED, "UPS", "", "TRK07"),  # no event at all
            ("R08", "R08-1", SHIPPED, "UPS", "", "TRK08"),  # label created only
            ("R09", "R09-1", SHIPPED, "UPS", "", "TRK09"),  # recycled number: scans before the grace bound
            ("R10", "R10-1", SHIPPED, "UPS", "", "TRK10"),  # scanned exactly at the grace bound: valid
            ("R11", "R11-1", SHIPPED, "Other", "", "TRK11"),  # Other without a name
        ),
    )
    # ship date 2026-11-02, scan_grace_days 2: scans count from 2026-10-31T00:00Z on
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(
            ("TRK03", SCANNED, "in_transit"),
            ("TRK05", SCANNED, "delivered"),
            ("TRK06", SCANNED, "out_for_delivery"),
            ("TRK08", "2026-11-01T09:00:00Z", "pre_transit"),
            ("TRK08", "2026-11-02T09:00:00Z", "unknown"),
            ("TRK09", "2026-10-30T23:59:59Z", "in_transit"),
            ("TRK09", "2026-10-31T00:30:00+01:00", "delivered"),  # 2026-10-30T23:30Z, still before the bound
            ("TRK09", "2026-11-02T08:00:00Z", "pre_transit"),  # new label, never scanned
            ("TRK10", "2026-10-31T00:00:00Z", "in_transit"),
        ),
    )

    run(project.settings(), D)

    assert invalid(project) == {
        "R01": (None, "UPS", "missing_tracking"),
        "R02": (None, "BUDBEE", "missing_tracking"),
        "R03": ("TRK03", "BUDBEE", "carrier_not_integrated"),
        "R04": ("TRK04", "BPOST", "carrier_not_integrated"),
        "R07": ("TRK07", "UPS", "no_carrier_events"),
        "R08": ("TRK08", "UPS", "pre_transit_only"),
        "R09": ("TRK09", "UPS", "scan_before_ship_date"),
        "R11": ("TRK11", "OTHER", "carrier_not_integrated"),
    }
    assert overall(project) == {7: (11, 3, 3 / 11, "below_target"), 30: (11, 3, 3 / 11, "below_target")}
    assert query(
        project,
        "select * exclude (snapshot_date) from marts.mart_category_report where snapshot_date = ? order by window_days",
        [D],
    ) == [
        ("acme", "Amazon.se", "Toys", 7, 11, 3, 3 / 11, 2, 3, 1, 1, 1),
        ("acme", "Amazon.se", "Toys", 30, 11, 3, 3 / 11, 2, 3, 1, 1, 1),
    ]
    assert scoped(project, "carrier") == {
        "BPOST": (1, 0, "below_target"),
        "BUDBEE": (2, 0, "below_target"),
        "OTHER": (1, 0, "below_target"),
        "POSTNORD": (1, 1, "ok"),
        "UPS": (6, 2, "below_target"),
    }


def test_scan_grace_days_is_a_setting(project):
    project.write_config("[metric]\nscan_grace_days = 0\n")
    project.drop(
        "acme", "orders", "orders.txt", orders_tsv(("G1", "G1-1", "SKU1", IN_BOTH), ("G2", "G2-1", "SKU1", IN_BOTH))
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(("G1", "G1-1", SHIPPED, "UPS", "", "TG1"), ("G2", "G2-1", SHIPPED, "UPS", "", "TG2")),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(("TG1", "2026-11-01T23:59:59Z", "in_transit"), ("TG2", "2026-11-02T00:00:00Z", "in_transit")),
    )

    run(project.settings(), D)

    assert invalid(project) == {"G1": ("TG1", "UPS", "scan_before_ship_date")}


def test_grace_bound_is_utc_whatever_the_analysts_session_time_zone(project):
    """An analyst opening the warehouse in New York sees the same scan judgement as the run."""
    project.drop("acme", "orders", "orders.txt", orders_tsv(("G1", "G1-1", "SKU1", IN_BOTH)))
    project.drop("acme", "confirmations", "conf.txt", confirmations_tsv(("G1", "G1-1", SHIPPED, "UPS", "", "TG1")))
    # bound + 30 min
    project.drop("acme", "scans", "scans.csv", scans_csv(("TG1", "2026-10-31T00:30:00Z", "in_transit")))
    run(project.settings(), D)

    # a build in a session set to New York judges the same (the SQL spells its cut-offs in UTC)
    assert built(
        project,
        "select first_valid_scan_at is not null from intermediate.int_package_scans",
        time_zone="America/New_York",
    ) == [(True,)]
    con = connect(project.settings(), read_only=True)
    try:
        con.execute("set TimeZone = 'America/New_York'")
        assert con.execute(
            "select window_days, packages_valid from marts.mart_vtr_snapshots where scope = 'overall' "
            "order by window_days"
        ).fetchall() == [(7, 1), (30, 1)]
    finally:
        con.close()


# --- windows ---------------------------------------------------------------------------------------------------


def test_window_edges_are_inclusive_and_one_day_outside_is_excluded(project):
    promised = {
        "E1": "2026-10-07",  # one day before the 30-day window
        "E2": "2026-10-08",  # first day of the 30-day window, D - 14 - 30 + 1
        "E3": "2026-10-30",  # one day before the 7-day window
        "E4": "2026-10-31",  # first day of the 7-day window, D - 14 - 7 + 1
        "E5": "2026-11-06T23:30:00-08:00",  # last day of both, D - 14, written with a time: the date as written
        "E6": "2026-11-07",  # one day after both
    }
    project.drop("acme", "orders", "orders.txt", orders_tsv(*[(o, f"{o}-1", "SKU1", p) for o, p in promised.items()]))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(*[(o, f"{o}-1", "2026-10-01", "UPS", "", f"T{o}") for o in promised]),
    )
    # E3 and E5 valid; the others never scanned
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(("TE3", SCANNED, "in_transit"), ("TE5", SCANNED, "in_transit"))
    )

    run(project.settings(), D)

    rows = query(
        project,
        """select window_days, window_start, window_end, packages_total, packages_valid, vtr, status
        from marts.mart_vtr_snapshots where scope = 'overall' order by window_days""",
    )
    assert rows == [
        (7, dt.date(2026, 10, 31), dt.date(2026, 11, 6), 2, 1, 0.5, "below_target"),  # E4, E5
        (30, dt.date(2026, 10, 8), dt.date(2026, 11, 6), 4, 2, 0.5, "below_target"),  # E2, E3, E4, E5
    ]
    assert invalid(project) == {"E2": ("TE2", "UPS", "no_carrier_events"), "E4": ("TE4", "UPS", "no_carrier_events")}


def test_empty_window_has_an_overall_row_with_no_packages_and_nothing_else(project):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(
            ("N1", "N1-1", "SKU1", "2026-12-01"),  # promised after both windows
            ("N2", "N2-1", "SKU1", "2026-10-20"),  # in the 30-day window only
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(("N1", "N1-1", SHIPPED, "UPS", "", "TN1"), ("N2", "N2-1", "2026-10-15", "UPS", "", "TN2")),
    )

    run(project.settings(), D)

    rows = query(
        project,
        """select window_days, scope, scope_value, packages_total, packages_valid, vtr, target, status
        from marts.mart_vtr_snapshots order by window_days, scope, scope_value""",
    )
    assert rows == [
        (7, "overall", None, 0, 0, None, 0.95, "no_packages"),
        (30, "carrier", "UPS", 1, 0, 0.0, 0.95, "below_target"),
        (30, "category", "Uncategorized", 1, 0, 0.0, 0.95, "below_target"),
        (30, "overall", None, 1, 0, 0.0, 0.95, "below_target"),
    ]
    assert query(project, "select window_days, packages_total from marts.mart_category_report") == [(30, 1)]


def test_account_without_any_confirmed_package_still_has_overall_rows(project):
    project.drop("acme", "orders", "orders.txt", orders_tsv(("U1", "U1-1", "SKU1", IN_BOTH)))

    summary = run(project.settings(), D)

    assert overall_rows(summary) == [
        ("acme", "Amazon.se", 7, 0, 0, None, "no_packages"),
        ("acme", "Amazon.se", 30, 0, 0, None, "no_packages"),
    ]
    assert query(project, "select count(*) from marts.mart_vtr_snapshots where scope <> 'overall'") == [(0,)]
    # the day's partitions exist: two overall rows, and empty files that still carry the contract's columns
    counts = {
        name: pq.read_metadata(partition_file(project.settings(), name, D, "acme")).num_rows
        for name in ("vtr_snapshots", "category_report", "invalid_packages")
    }
    assert counts == {"vtr_snapshots": 2, "category_report": 0, "invalid_packages": 0}
    schema = pq.read_schema(partition_file(project.settings(), "invalid_packages", D, "acme"))
    assert schema.names == [
        "seller_id",
        "marketplace",
        "order_id",
        "tracking_number",
        "carrier",
        "ship_date",
        "promised_delivery_date",
        "categories",
        "reason",  # the spec's, in its order
        "package_id",
        "order_item_ids",
        "skus",
    ]


# --- packages and categories -----------------------------------------------------------------------------------


def test_package_in_two_categories_counts_once_in_each_and_once_overall(project):
    project.drop("acme", "catalog", "catalog_1.csv", "sku,category\nTOY1,Games\nBOOK1,Books\n")
    project.drop("acme", "catalog", "catalog_2.csv", "sku,category\nTOY1,Toys\n")  # later row wins
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(
            ("C1", "C1-1", "TOY1", IN_BOTH),
            ("C1", "C1-2", "BOOK1", IN_BOTH),
            ("C2", "C2-1", "TOY1", IN_BOTH),
            ("C3", "C3-1", "NOT-IN-CATALOG", IN_BOTH),
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("C1", "", SHIPPED, "UPS", "", "TC1"),  # both items in one package
            ("C2", "C2-1", SHIPPED, "UPS", "", "TC2"),
            ("C3", "C3-1", SHIPPED, "UPS", "", "TC3"),
        ),
    )
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(("TC1", SCANNED, "in_transit"), ("TC3", SCANNED, "in_transit"))
    )

    summary = run(project.settings(), D)

    assert overall(project)[7] == (3, 2, 2 / 3, "below_target")
    assert scoped(project, "category") == {
        "Books": (1, 1, "ok"),
        "Toys": (2, 1, "below_target"),
        "Uncategorized": (1, 1, "ok"),
    }
    assert query(
        project,
        "select category, packages_total, packages_valid, vtr from marts.mart_category_report "
        "where window_days = 7 order by category",
    ) == [("Books", 1, 1, 1.0), ("Toys", 2, 1, 0.5), ("Uncategorized", 1, 1, 1.0)]
    assert query(project, "select order_id, categories from marts.mart_invalid_packages") == [("C2", ["Toys"])]
    assert built(project, "select categories from marts.fct_packages where order_id = 'C1'") == [(["Books", "Toys"],)]
    assert summary.figures()["uncategorized_items"] == 1


def test_tracking_numbers_are_normalised_and_packages_are_order_and_number(project):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(
            ("P1", "P1-1", "SKU1", IN_BOTH),
            ("P1", "P1-2", "SKU1", IN_BOTH),
            ("P2", "P2-1", "SKU1", IN_BOTH),
            ("P2", "P2-2", "SKU1", IN_BOTH),
            ("P3", "P3-1", "SKU1", IN_BOTH),
            ("P4", "P4-1", "SKU1", IN_BOTH),
            ("P4", "P4-2", "SKU1", IN_BOTH),
            ("P4", "P4-3", "SKU1", IN_BOTH),
            ("P4", "P4-4", "SKU1", IN_BOTH),
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("P1", "P1-1", SHIPPED, "UPS", "", " 1z-999 aa1 "),
            ("P1", "P1-2", SHIPPED, "UPS", "", "1Z999AA1"),
            ("P2", "P2-1", SHIPPED, "UPS", "", "TA"),
            ("P2", "P2-2", SHIPPED, "UPS", "", "TB"),
            ("P3", "P3-1", SHIPPED, "UPS", "", "ta"),  # same number as P2-1, another order: another package
            ("P4", "P4-1", SHIPPED, "UPS", "", ""),  # untracked: one package per ship date and carrier
            ("P4", "P4-2", SHIPPED, "ups", "", ""),
            ("P4", "P4-3", "2026-11-03", "UPS", "", ""),
            ("P4", "P4-4", SHIPPED, "DHL", "", ""),
        ),
    )
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(("1Z999AA1", SCANNED, "in_transit"), ("TA", SCANNED, "in_transit"))
    )

    run(project.settings(), D)

    assert built(
        project,
        """select order_id, tracking_number, carrier_code, ship_date::varchar, item_count
        from marts.fct_packages order by all""",
    ) == [
        ("P1", "1Z999AA1", "UPS", SHIPPED, 2),
        ("P2", "TA", "UPS", SHIPPED, 1),
        ("P2", "TB", "UPS", SHIPPED, 1),
        ("P3", "TA", "UPS", SHIPPED, 1),
        ("P4", None, "DHL", SHIPPED, 1),
        ("P4", None, "UPS", SHIPPED, 2),
        ("P4", None, "UPS", "2026-11-03", 1),
    ]
    assert overall(project)[7] == (7, 3, 3 / 7, "below_target")
    assert query(
        project, "select order_id, tracking_number, carrier, reason from marts.mart_invalid_packages order by all"
    ) == [
        ("P2", "TB", "UPS", "no_carrier_events"),
        ("P4", None, "DHL", "missing_tracking"),
        ("P4", None, "UPS", "missing_tracking"),
        ("P4", None, "UPS", "missing_tracking"),
    ]


def test_package_dates_are_latest_promised_and_earliest_ship_date_of_its_items(project):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(("M1", "M1-1", "SKU1", "2026-10-30"), ("M1", "M1-2", "SKU1", "2026-10-31")),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("M1", "M1-1", "2026-10-20", "UPS", "", "TM1"), ("M1", "M1-2", "2026-10-22", "UPS", "", "TM1")
        ),
    )
    # 2026-10-18T00:00Z is the grace bound of the earliest ship date: valid
    project.drop("acme", "scans", "scans.csv", scans_csv(("TM1", "2026-10-18T00:00:00Z", "in_transit")))

    run(project.settings(), D)

    assert built(project, "select ship_date::varchar, promised_delivery_date::varchar from marts.fct_packages") == [
        ("2026-10-20", "2026-10-31")
    ]
    assert overall(project)[7] == (1, 1, 1.0, "ok")  # promised 10-31 is in the 7-day window, 10-30 alone is not


# --- scans over time -------------------------------------------------------------------------------------------


def test_a_scan_after_the_end_of_d_counts_from_the_next_snapshot_and_old_dates_reproduce(project):
    project.drop(
        "acme", "orders", "orders.txt", orders_tsv(*[(o, f"{o}-1", "SKU1", IN_BOTH) for o in ("L1", "L2", "L3")])
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(*[(o, f"{o}-1", SHIPPED, "UPS", "", f"T{o}") for o in ("L1", "L2", "L3")]),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(
            ("TL1", "2026-11-21T00:30:00+01:00", "in_transit"),  # 2026-11-20T23:30Z: within D
            ("TL2", "2026-11-03T08:00:00Z", "pre_transit"),
            ("TL2", "2026-11-21T01:30:00+01:00", "in_transit"),  # 2026-11-21T00:30Z: after D
            ("TL3", "2026-11-21T00:00:00Z", "in_transit"),  # the first instant after D
        ),
    )
    next_day = D + dt.timedelta(days=1)
    before = {"L2": ("TL2", "UPS", "pre_transit_only"), "L3": ("TL3", "UPS", "no_carrier_events")}

    run(project.settings(), D)
    assert overall(project)[7] == (3, 1, 1 / 3, "below_target")
    assert invalid(project) == before

    run(project.settings(), next_day)
    assert overall(project, next_day)[7] == (3, 3, 1.0, "ok")
    assert invalid(project, next_day) == {}

    run(project.settings(), D)  # re-running the old date applies its own cut-off again
    assert overall(project)[7] == (3, 1, 1 / 3, "below_target")
    assert invalid(project) == before
    assert overall(project, next_day)[7] == (3, 3, 1.0, "ok")  # the other date's rows are kept


def test_the_same_scan_event_repeated_across_files_counts_once(project):
    project.drop("acme", "orders", "orders.txt", orders_tsv(("S1", "S1-1", "SKU1", IN_BOTH)))
    project.drop("acme", "confirmations", "conf.txt", confirmations_tsv(("S1", "S1-1", SHIPPED, "UPS", "", "TS1")))
    event = ("TS1", "2026-11-02T10:00:00Z", "in_transit")
    project.drop(
        "acme", "scans", "scans_1.csv", scans_csv(event, event, ("TS1", "2026-11-01T10:00:00Z", "pre_transit"))
    )
    project.drop(
        "acme",
        "scans",
        "scans_2.csv",
        scans_csv(
            ("ts-1", "2026-11-02T11:00:00+01:00", "in_transit"),  # the same event, written differently
            ("TS1", "2026-11-03T10:00:00Z", "delivered"),
        ),
    )
    # an aggregator's export repeats the whole history every day
    easypost = (
        '{"tracking_code": "TS1", "carrier": "UPS", "tracking_details": ['
        '{"status": "pre_transit", "datetime": "2026-11-01T10:00:00Z", "message": "Label created"}, '
        '{"status": "in_transit", "datetime": "2026-11-02T10:00:00Z", "message": "Departed"}]}\n'
    )
    project.drop("acme", "scans", "easypost_1.jsonl", easypost)
    project.drop("acme", "scans", "easypost_2.jsonl", easypost + easypost)

    run(project.settings(), D)

    utc = dt.UTC
    assert built(
        project,
        "select first_event_at, first_physical_scan_at, first_valid_scan_at from intermediate.int_package_scans",
    ) == [
        (
            dt.datetime(2026, 11, 1, 10, tzinfo=utc),
            dt.datetime(2026, 11, 2, 10, tzinfo=utc),
            dt.datetime(2026, 11, 2, 10, tzinfo=utc),
        )
    ]
    assert overall(project)[7] == (1, 1, 1.0, "ok")


# --- confirmations ---------------------------------------------------------------------------------------------


def packages(project) -> list[tuple]:
    return built(
        project,
        """select order_id, tracking_number, carrier_code, ship_date::varchar, item_count
        from marts.fct_packages order by all""",
    )


def test_tracking_number_corrections_overwrite_keep_and_remove_across_and_within_files(project):
    project.drop(
        "acme",
        "orders",
        "orders_1.txt",
        orders_tsv(
            *[("K1", f"K1-{x}", "SKU1", IN_BOTH) for x in "ABCDE"],
            ("K2", "K2-1", "SKU1", IN_BOTH),
            ("K2", "K2-2", "SKU1", IN_BOTH),
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf_1.txt",
        confirmations_tsv(
            ("K1", "K1-A", "2026-11-01", "UPS", "", "T1"),
            ("K1", "K1-B", "2026-11-01", "UPS", "", "T3"),
            ("K1", "K1-C", "2026-11-01", "UPS", "", "T4"),
            ("K1", "K1-D", "2026-11-01", "UPS", "", "T5"),
            ("K1", "K1-D", "2026-11-01", "UPS", "", "T6"),  # later line wins
            ("K1", "K1-E", "2026-11-01", "UPS", "", "T7"),
            ("K1", "K1-E", "2026-11-01", "", "", "NULL"),  # removed within the file
            ("K2", "", "2026-11-01", "DHL", "", "TW"),  # the whole order
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf_2.txt",
        confirmations_tsv(
            ("K1", "K1-A", "2026-11-02", "", "", "T2"),  # new number overwrites; blank carrier keeps UPS
            ("K1", "K1-B", "2026-11-03", "", "", ""),  # blank keeps T3; the ship date moves
            ("K1", "K1-C", "2026-11-02", "UPS", "", " Null "),  # the literal NULL in any case removes
            ("K2", "K2-1", "2026-11-02", "DHL", "", "TX"),  # moves K2-1 out of TW
        ),
    )
    # the old number T1 was scanned (another parcel); the corrected T2 was not
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(
            ("T1", SCANNED, "in_transit"),
            ("T3", "2026-11-03T10:00:00Z", "in_transit"),
            ("T6", SCANNED, "in_transit"),
            ("TW", SCANNED, "in_transit"),
        ),
    )

    run(project.settings(), D)

    assert packages(project) == [
        ("K1", "T2", "UPS", "2026-11-02", 1),
        ("K1", "T3", "UPS", "2026-11-03", 1),
        ("K1", "T6", "UPS", "2026-11-01", 1),
        ("K1", None, "UPS", "2026-11-01", 1),  # K1-E
        ("K1", None, "UPS", "2026-11-02", 1),  # K1-C
        ("K2", "TW", "DHL", "2026-11-01", 1),
        ("K2", "TX", "DHL", "2026-11-02", 1),
    ]
    assert query(project, "select tracking_number, reason from marts.mart_invalid_packages order by all") == [
        ("T2", "no_carrier_events"),
        ("TX", "no_carrier_events"),
        (None, "missing_tracking"),
        (None, "missing_tracking"),
    ]

    # an item of K2 whose order line arrives later is in the whole-order package too
    project.drop("acme", "orders", "orders_2.txt", orders_tsv(("K2", "K2-3", "SKU1", IN_BOTH)))
    run(project.settings(), D)
    assert ("K2", "TW", "DHL", "2026-11-01", 2) in packages(project)
    assert overall(project)[7] == (7, 3, 3 / 7, "below_target")


def test_a_confirmation_before_its_order_is_held_then_placed(project):
    project.drop("acme", "orders", "orders_1.txt", orders_tsv(("X1", "X1-1", "SKU1", IN_BOTH)))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("X1", "X1-1", SHIPPED, "UPS", "", "TX1"),
            ("H1", "H1-1", SHIPPED, "UPS", "", "TH1"),
            ("H2", "", SHIPPED, "UPS", "", "TH2"),
            ("X1", "X1-9", SHIPPED, "UPS", "", "TX9"),  # the order is here, this item not (yet)
        ),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(("TX1", SCANNED, "in_transit"), ("TH1", SCANNED, "in_transit"), ("TH2", SCANNED, "in_transit")),
    )

    summary = run(project.settings(), D)
    assert summary.figures()["held_confirmations"] == 3
    assert "held confirmations (order not arrived yet): 3" in summary.render()
    assert built(
        project, "select order_id, order_item_id, line from intermediate.int_confirmations_held order by all"
    ) == [("H1", "H1-1", 3), ("H2", None, 4), ("X1", "X1-9", 5)]
    assert overall(project)[7] == (1, 1, 1.0, "ok")

    project.drop(
        "acme",
        "orders",
        "orders_2.txt",
        orders_tsv(("H1", "H1-1", "SKU1", IN_BOTH), ("H2", "H2-1", "SKU1", IN_BOTH), ("H2", "H2-2", "SKU1", IN_BOTH)),
    )
    summary = run(project.settings(), D)
    assert summary.figures()["held_confirmations"] == 1  # X1-9 still waits for its order line
    assert overall(project)[7] == (3, 3, 1.0, "ok")
    assert ("H2", "TH2", "UPS", SHIPPED, 2) in packages(project)


# --- accounts and carriers -------------------------------------------------------------------------------------


def test_two_sellers_and_two_marketplaces_are_kept_apart(project):
    project.add_seller("beta")
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(("A1", "A1-1", "SKU1", IN_BOTH, "Amazon.se"), ("A2", "A2-1", "SKU1", IN_BOTH, "Amazon.de")),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(("A1", "A1-1", SHIPPED, "UPS", "", "TS1"), ("A2", "A2-1", SHIPPED, "UPS", "", "TS2")),
    )
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(("TS1", SCANNED, "in_transit"), ("TS2", SCANNED, "in_transit"))
    )
    # beta: the same order id and tracking number, but acme's scans do not count for beta
    project.drop("beta", "orders", "orders.txt", orders_tsv(("A1", "A1-1", "SKU1", IN_BOTH, "Amazon.se")))
    project.drop("beta", "confirmations", "conf.txt", confirmations_tsv(("A1", "A1-1", SHIPPED, "UPS", "", "TS1")))

    summary = run(project.settings(), D)

    assert overall_rows(summary) == [
        ("acme", "Amazon.de", 7, 1, 1, 1.0, "ok"),
        ("acme", "Amazon.de", 30, 1, 1, 1.0, "ok"),
        ("acme", "Amazon.se", 7, 1, 1, 1.0, "ok"),
        ("acme", "Amazon.se", 30, 1, 1, 1.0, "ok"),
        ("beta", "Amazon.se", 7, 1, 0, 0.0, "below_target"),
        ("beta", "Amazon.se", 30, 1, 0, 0.0, "below_target"),
    ]
    assert query(
        project,
        """select distinct seller_id, marketplace, scope, scope_value from marts.mart_vtr_snapshots
        where scope <> 'overall' order by all""",
    ) == [
        ("acme", "Amazon.de", "carrier", "UPS"),
        ("acme", "Amazon.de", "category", "Uncategorized"),
        ("acme", "Amazon.se", "carrier", "UPS"),
        ("acme", "Amazon.se", "category", "Uncategorized"),
        ("beta", "Amazon.se", "carrier", "UPS"),
        ("beta", "Amazon.se", "category", "Uncategorized"),
    ]
    assert query(project, "select seller_id, marketplace, order_id, reason from marts.mart_invalid_packages") == [
        ("beta", "Amazon.se", "A1", "no_carrier_events")
    ]


def test_carrier_scope_rows_count_untracked_packages_under_their_confirmed_carrier(project):
    project.drop("acme", "orders", "orders.txt", orders_tsv(*one_package_orders(5)))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("O000", "O000-1", SHIPPED, "UPS", "", "TU1"),
            ("O001", "O001-1", SHIPPED, "United Parcel Service", "", "TU2"),  # alias from the settings
            ("O002", "O002-1", SHIPPED, "DHL", "", "TD1"),
            ("O003", "O003-1", SHIPPED, "GLS", "", ""),
            ("O004", "O004-1", SHIPPED, "", "", ""),  # no carrier at all
        ),
    )
    project.write_config('[carrier_aliases]\n"United Parcel Service" = "UPS"\n')
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(("TU1", SCANNED, "in_transit"), ("TU2", SCANNED, "in_transit"))
    )

    run(project.settings(), D)

    assert scoped(project, "carrier") == {
        "UPS": (2, 2, "ok"),
        "DHL": (1, 0, "below_target"),
        "GLS": (1, 0, "below_target"),
        "UNKNOWN": (1, 0, "below_target"),
    }
    assert overall(project)[7] == (5, 2, 0.4, "below_target")


def test_a_run_reads_only_the_orders_its_windows_need_and_keeps_every_account(project):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(
            ("OLD", "OLD-1", "SKU1", "2026-01-05", "Amazon.de"),  # promised long before the 30-day window of D
            ("NEW", "NEW-1", "SKU1", IN_BOTH),
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("OLD", "OLD-1", "2026-01-02", "UPS", "", "1ZOLD"),
            ("NEW", "NEW-1", SHIPPED, "UPS", "", "1ZNEW"),
        ),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(("1ZOLD", "2026-01-02T10:00:00Z", "in_transit"), ("1ZNEW", SCANNED, "in_transit")),
    )
    run(project.settings(), D)

    assert built(project, "select order_id from staging.stg_orders") == [("NEW",)]
    assert built(
        project,
        "select p.tracking_number from intermediate.int_package_scans as s "
        "join intermediate.int_packages as p using (package_id)",
    ) == [("1ZNEW",)]
    assert overall(project) == {7: (1, 1, 1.0, "ok"), 30: (1, 1, 1.0, "ok")}
    # the marketplace whose only order is old is still an account, with nothing in its windows
    assert overall(project, marketplace="Amazon.de") == {
        7: (0, 0, None, "no_packages"),
        30: (0, 0, None, "no_packages"),
    }


# --- split shipments (spec section 7) --------------------------------------------------------------------------


def test_two_boxes_for_one_item_one_scanned_are_two_packages_one_valid(project):
    project.drop("acme", "orders", "orders.txt", orders_with_quantities_tsv(("S1", "S1-1", "SKU1", 2)))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        boxes_tsv(("S1", "S1-1", 1, "UPS", "", "BOX1"), ("S1", "S1-1", 1, "", "", "BOX2")),
    )
    project.drop("acme", "scans", "scans.csv", scans_csv(("BOX1", SCANNED, "in_transit")))

    run(project.settings(), D)

    assert overall(project)[7] == (2, 1, 0.5, "below_target")
    assert invalid(project) == {"S1": ("BOX2", "UPS", "no_carrier_events")}


def test_a_split_box_shared_with_another_item_is_one_package_in_both_categories(project):
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nTOY1,Toys\nBOOK1,Books\n")
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_with_quantities_tsv(("S2", "S2-1", "TOY1", 2), ("S2", "S2-2", "BOOK1", 1)),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        boxes_tsv(
            ("S2", "S2-1", 1, "UPS", "", "BOXA"),
            ("S2", "S2-1", 1, "UPS", "", "BOXB"),
            ("S2", "S2-2", 1, "UPS", "", "BOXB"),
        ),
    )
    project.drop("acme", "scans", "scans.csv", scans_csv(("BOXB", SCANNED, "in_transit")))

    run(project.settings(), D)

    assert scoped(project, "category") == {"Books": (1, 1, "ok"), "Toys": (2, 1, "below_target")}
    assert overall(project)[7] == (2, 1, 0.5, "below_target")
    assert built(project, "select tracking_number, categories, part_count from marts.fct_packages order by all") == [
        ("BOXA", ["Toys"], 1),
        ("BOXB", ["Books", "Toys"], 2),
    ]


def test_a_cancelled_item_is_in_no_package(project):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_with_quantities_tsv(("Z1", "Z1-1", "SKU1", 1), ("Z1", "Z1-2", "SKU1", 0), ("Z2", "Z2-1", "SKU1", 0)),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        boxes_tsv(("Z1", "", "", "UPS", "", "TZ1"), ("Z2", "Z2-1", 1, "UPS", "", "TZ2")),
    )

    run(project.settings(), D)

    assert built(project, "select order_id, order_item_ids from marts.fct_packages") == [("Z1", ["Z1-1"])]
    assert overall(project)[7] == (1, 0, 0.0, "below_target")


# --- marketplace profiles and exemptions (spec section 7) --------------------------------------------------------

EXEMPTION = (
    '[marketplaces."Amazon.de"]\nintegrated_carriers = ["DHL", "DEUTSCHE POST", "GO!"]\n'
    '[[marketplaces."Amazon.de".exemptions]]\nship_methods = ["Warenpost"]\nmax_order_value = 20\n'
    'carriers = ["Deutsche Post"]\n'
)


def test_exempt_packages_leave_the_vtr_and_are_counted_apart(project):
    project.write_config(EXEMPTION)
    de = "Amazon.de"
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_with_quantities_tsv(
            ("E1", "E1-1", "SKU1", 1, de, "15,00", "4,99"),  # 19.99, comma decimals: exempt
            ("E2", "E2-1", "SKU1", 1, de, "15.00", "5.00"),  # exactly at the bound: not exempt
            ("E3", "E3-1", "SKU1", 1, de, "10.00", ""),  # ship method differing in case: not exempt
            ("E4", "E4-1", "SKU1", 1, de, "10.00", ""),  # a carrier not in the exemption's list
            ("E5", "E5-1", "SKU1", 1, de, "12.00", ""),  # with the cancelled item the order is worth 21
            ("E5", "E5-2", "SKU1", 0, de, "9.00", ""),
            ("E6", "E6-1", "SKU1", 1, de, "10.00", ""),  # tracked and scanned: still exempt
            ("E7", "E7-1", "SKU1", 1, "Amazon.se", "10.00", ""),  # Amazon.se has no exemption: it counts
        ),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        boxes_tsv(
            ("E1", "E1-1", 1, "Other", "Deutsche Post", "", "Warenpost"),
            ("E2", "E2-1", 1, "Other", "Deutsche Post", "", "Warenpost"),
            ("E3", "E3-1", 1, "Other", "Deutsche Post", "", "warenpost"),
            ("E4", "E4-1", 1, "DHL", "", "", "Warenpost"),
            ("E5", "", "", "Other", "deutsche post", "", "Warenpost"),
            ("E6", "E6-1", 1, "Other", "Deutsche Post", "RR123", "Warenpost"),
            ("E7", "E7-1", 1, "Other", "Deutsche Post", "", "Warenpost"),
        ),
    )
    project.drop("acme", "scans", "scans.csv", scans_csv(("RR123", SCANNED, "in_transit")))

    summary = run(project.settings(), D)

    rows = query(
        project,
        """select marketplace, packages_total, packages_valid, status, packages_exempt from marts.mart_vtr_snapshots
        where scope = 'overall' and window_days = 7 order by all""",
    )
    assert rows == [("Amazon.de", 4, 0, "below_target", 2), ("Amazon.se", 1, 0, "below_target", 0)]
    assert query(
        project, "select order_id, status, reason from marts.mart_packages where snapshot_date = ? order by all", [D]
    ) == [
        ("E1", "exempt", None),
        ("E2", "invalid", "missing_tracking"),
        ("E3", "invalid", "missing_tracking"),
        ("E4", "invalid", "missing_tracking"),
        ("E5", "invalid", "missing_tracking"),
        ("E6", "exempt", None),
        ("E7", "invalid", "missing_tracking"),
    ]
    assert sorted(invalid(project)) == ["E2", "E3", "E4", "E5", "E7"]
    assert query(project, "select count(*) from marts.mart_at_risk_packages where order_id in ('E1', 'E6')") == [(0,)]
    # the report shows the exempt count beside the VTR
    (report,) = [p for p in summary.sellers[0]["reports"] if "Amazon.de" in p]
    assert "0 of 4 packages valid (+2 exempt)" in Path(report).read_text()


def test_a_carrier_integrated_on_one_marketplaces_profile_and_not_on_anothers(project):
    project.write_config(EXEMPTION)
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(("G1", "G1-1", "SKU1", IN_BOTH, "Amazon.de"), ("G2", "G2-1", "SKU1", IN_BOTH, "Amazon.se")),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(("G1", "G1-1", SHIPPED, "GO!", "", "GO1"), ("G2", "G2-1", SHIPPED, "GO!", "", "GO2")),
    )
    project.drop(
        "acme", "scans", "scans.csv", scans_csv(("GO1", SCANNED, "in_transit"), ("GO2", SCANNED, "in_transit"))
    )

    run(project.settings(), D)

    assert overall(project, marketplace="Amazon.de")[7] == (1, 1, 1.0, "ok")
    assert invalid(project) == {"G2": ("GO2", "GO!", "carrier_not_integrated")}


@pytest.mark.parametrize("target, status", [(0.97, "below_target"), (0.95, "ok")])
def test_a_profiles_target_decides_the_status_and_is_the_published_target(project, target, status):
    project.write_config(f'[marketplaces."Amazon.se"]\ntarget = {target}\n')
    items = one_package_orders(20)
    project.drop("acme", "orders", "orders.txt", orders_tsv(*items))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(*[(o, i, SHIPPED, "UPS", "", f"1Z{n:03d}") for n, (o, i, *_) in enumerate(items)]),
    )
    project.drop("acme", "scans", "scans.csv", scans_csv(*[(f"1Z{n:03d}", SCANNED, "in_transit") for n in range(19)]))

    run(project.settings(), D)

    assert overall(project)[7] == (20, 19, 0.95, status)
    assert query(project, "select distinct target from marts.mart_vtr_snapshots") == [(target,)]
