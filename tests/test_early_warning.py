"""Early warning on hand-made inputs: the at-risk list and the projected VTR of windows not yet measured.

D = 2026-11-20, lag 14, at_risk_after_days 2: packages promised after 2026-11-06 are not measured yet;
the projected 7-day window holds promised dates 2026-11-14 .. 2026-11-20 and is measured on 2026-12-04.
"""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq

from helpers.feeds import D, confirmations_tsv, orders_tsv, query, scans_csv
from pipeline.outputs import partition_file
from pipeline.run import run

PROMISED = "2026-11-18"


def drop_packages(project):
    orders = [(o, f"{o}-1", "SKU1", PROMISED) for o in ("A", "B", "C", "E", "F")]
    orders += [("G", "G-1", "SKU1", "2026-11-05"), ("H", "H-1", "SKU1", "2026-11-25")]
    project.drop("acme", "orders", "orders.txt", orders_tsv(*orders))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("A", "A-1", "2026-11-16", "UPS", "", "1ZA"),  # 4 days, no event: at risk
            ("B", "B-1", "2026-11-19", "UPS", "", "1ZB"),  # 1 day, no event: too early to worry
            ("C", "C-1", "2026-11-19", "UPS", "", ""),  # no tracking number: at risk at once
            ("E", "E-1", "2026-11-16", "UPS", "", "1ZE"),  # label only: at risk
            ("F", "F-1", "2026-11-16", "UPS", "", "1ZF"),  # scanned: fine
            ("G", "G-1", "2026-11-01", "UPS", "", "1ZG"),  # already measured: in invalid_packages, not at risk
            ("H", "H-1", "2026-11-21", "UPS", "", "1ZH"),  # ships after D
        ),
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_csv(
            ("1ZE", "2026-11-16T08:00:00Z", "pre_transit"),
            ("1ZF", "2026-11-16T18:00:00Z", "in_transit"),
        ),
    )


def test_at_risk_list_holds_unmeasured_packages_that_need_a_fix(project):
    drop_packages(project)
    run(project.settings(), D)

    rows = query(
        project,
        """
        select order_id, reason, days_since_ship, fix_by_date from marts.mart_at_risk_packages
        where snapshot_date = ? order by order_id""",
        [D],
    )
    fix_by = dt.date(2026, 11, 29)  # 2026-11-18 + 14 days = 2026-12-02, less 72 hours
    assert rows == [
        ("A", "no_carrier_events", 4, fix_by),
        ("C", "missing_tracking", 1, fix_by),
        ("E", "pre_transit_only", 4, fix_by),
    ]
    published = pq.read_table(partition_file(project.settings(), "at_risk_packages", D, "acme"))
    assert published.column("order_id").to_pylist() == ["A", "C", "E"]


def test_projected_vtr_counts_at_risk_packages_as_invalid_and_recent_ones_as_valid(project):
    drop_packages(project)
    run(project.settings(), D)

    rows = query(
        project,
        """
        select window_days, window_start, window_end, final_on, packages_total, packages_valid_now,
               packages_at_risk, projected_vtr, status
        from marts.mart_projected_vtr
        where snapshot_date = ? and scope = 'overall' order by window_days""",
        [D],
    )
    # 7 days: A, B, C, E, F; F valid now; A, C, E at risk; B given the benefit of the doubt: 2 / 5
    assert rows[0] == (7, dt.date(2026, 11, 14), D, dt.date(2026, 12, 4), 5, 1, 3, 0.4, "below_target")
    # 30 days also holds G (promised 2026-11-05, no scan since 2026-11-01): 2 / 6
    assert rows[1][4:] == (6, 1, 4, 2 / 6, "below_target")


def test_a_late_scan_takes_a_package_off_the_at_risk_list(project):
    drop_packages(project)
    run(project.settings(), D)
    project.drop("acme", "scans", "scans_2.csv", scans_csv(("1ZA", "2026-11-20T12:00:00Z", "in_transit")))
    run(project.settings(), D)

    rows = query(project, "select order_id from marts.mart_at_risk_packages where snapshot_date = ? order by 1", [D])
    assert rows == [("C",), ("E",)]


def test_the_early_warning_for_the_dipping_category_comes_before_the_marketplace_breach(project):
    """On the generator's data, the projected 7-day VTR of the dip category falls below target, and an early
    warning is planned, days before the measured 7-day VTR does (the measured one lags by 14 days)."""
    from pipeline import alerts
    from pipeline.lake import connect
    from vtrdemo.generator import CARRIER_ALIASES, generate

    start = dt.date(2026, 3, 2)
    stats = generate(project.landing, seller_id="acme", start=start, days=60, packages=6000, seed=7)
    project.write_config("[carrier_aliases]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items()))
    run(project.settings(), start + dt.timedelta(days=20), start + dt.timedelta(days=59))

    con = connect(project.settings(), read_only=True)
    try:

        def first_below(mart):
            return con.execute(
                f"""
                select min(snapshot_date) from marts.{mart}
                where scope = 'category' and scope_value = ? and window_days = 7 and status = 'below_target'""",
                [stats.dip_category],
            ).fetchone()[0]

        warned_on, breached_on = first_below("mart_projected_vtr"), first_below("mart_vtr_snapshots")
        warning = alerts.plan_early_warnings(con, project.settings(), warned_on, ["acme"])
        breaches = alerts.plan_vtr_alerts(con, project.settings(), warned_on, ["acme"])
    finally:
        con.close()
    assert warned_on is not None and breached_on is not None
    assert (breached_on - warned_on).days >= 7, (warned_on, breached_on)
    assert any(
        a.title.startswith("Early warning") and f"category {stats.dip_category}, 7 days" in a.body for a in warning
    )
    assert not any(f"category {stats.dip_category}, 7 days" in a.body for a in breaches)
