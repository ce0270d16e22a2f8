"""The fix file (pipeline/fixfile.py): per account and snapshot date, the packages to fix as rows of the marketplace's
shipping-confirmation upload template, prefilled with what the data knows. Hand-made inputs, run end to end.

D = 2026-11-20, lag 14: invalid_packages holds packages promised 2026-10-08 .. 2026-11-06; a package promised later
is not measured yet and is at risk (fix_by_date = promised + 14 - 3) when its number or carrier is wrong, or when
it is not scanned 2 days after its ship date. Ship date 2026-11-02 unless a row says otherwise; scans count from
2026-10-31T00:00Z (the grace bound) to the end of D.
"""

from __future__ import annotations

import openpyxl
import pyarrow.parquet as pq

from helpers.feeds import (
    CONF_HEADER,
    IN_BOTH,
    ORDER_HEADER,
    SCAN_HEADER,
    SCANNED,
    SHIPPED,
    D,
    boxes_tsv,
    confirmations_tsv,
    orders_tsv,
    orders_with_quantities_tsv,
    query,
)
from pipeline.fixfile import fix_file
from pipeline.run import run


def scans_by(*rows) -> str:
    """rows: (tracking_number, carrier, event_time, status): scans with the carrier an aggregator wrote."""
    return "\n".join([SCAN_HEADER] + [f"{t},{c},{at},{s},,event,Stockholm" for t, c, at, s in rows]) + "\n"


def fix_rows(project, marketplace="Amazon.se", day=D) -> list[list[str]]:
    """The fix file's lines split at tabs, the header first."""
    text = fix_file(project.settings(), day, "acme", marketplace).read_text()
    assert text.endswith("\n")
    return [line.split("\t") for line in text.splitlines()]


def drop_packages_to_fix(project):
    project.write_config('[carrier_aliases]\n"united parcel service" = "UPS"\n')
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nTOY1,Toys\nBOOK1,Books\n")
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        orders_tsv(
            ("M1", "M1-1", "TOY1", IN_BOTH),
            ("M2", "M2-1", "TOY1", "2026-11-04"),
            ("M3", "M3-1", "TOY1", IN_BOTH),
            ("M4", "M4-1", "TOY1", IN_BOTH),
            ("M5", "M5-1", "TOY1", IN_BOTH),
            ("M6", "M6-1", "TOY1", IN_BOTH),
            ("M7", "M7-1", "TOY1", IN_BOTH),
            ("M8", "M8-2", "BOOK1", IN_BOTH),
            ("M8", "M8-1", "TOY1", IN_BOTH),
            ("M8", "M8-3", "TOY1", IN_BOTH),
            ("M9", "M9-1", "TOY1", IN_BOTH),
            ("V1", "V1-1", "TOY1", IN_BOTH),
            ("R1", "R1-1", "TOY1", "2026-11-15"),
            ("R2", "R2-1", "BOOK1", "2026-11-10"),
            ("R3", "R3-1", "TOY1", "2026-11-10"),
            ("DE1", "DE1-1", "TOY1", IN_BOTH, "Amazon.de"),
        ),
    )
    # a later order-report line (continuation: blanks keep) changes one item's quantity
    project.drop("acme", "orders", "orders_2.txt", f"{ORDER_HEADER}\nM8\tM8-2\t\t\t3\t\t\t\t\t\n")
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(
            ("M1", "M1-1", SHIPPED, "UPS", "", ""),  # missing tracking
            ("M2", "M2-1", SHIPPED, "Other", "Royal Mail", "RM 123-456"),  # a name that is an integrated code
            ("M3", "M3-1", SHIPPED, "United-Parcel  Service", "", "1ZM3"),  # an alias, other punctuation
            ("M4", "M4-1", SHIPPED, "Other", "Budbee", "BBM4"),  # outside the list, scanned by DHL
            ("M5", "M5-1", SHIPPED, "UPS", "", "1ZOLD"),  # recycled number
            ("M6", "M6-1", SHIPPED, "DHL", "", "NOEVENTS6"),  # no event at all
            ("M8", "", SHIPPED, "Other", "Budbee", "BBM8"),  # three items, one package, not integrated
            ("M9", "M9-1", SHIPPED, "Other", "Budbee", "BBM9"),  # scanned by Budbee only: no correction
            ("V1", "V1-1", SHIPPED, "UPS", "", "1ZV1"),  # valid: not in the file
            ("R1", "R1-1", "2026-11-18", "UPS", "", ""),  # at risk at once (no number)
            ("R2", "R2-1", "2026-11-10", "UPS", "", "1ZR2"),  # not scanned 10 days after shipping
            ("R3", "R3-1", "2026-11-10", "Other", "Budbee", "BBR3"),  # at risk, same fix-by date as R2
            ("DE1", "DE1-1", SHIPPED, "DPD", "", "DPD1"),
        ),
    )
    # ship-method: a later line that gives none keeps the earlier one; a line that gives another changes it; an item
    # whose lines never gave one gets a blank
    project.drop(
        "acme",
        "confirmations",
        "conf_2.txt",
        "\n".join(
            [
                CONF_HEADER,
                f"M5\tM5-1\t1\t{SHIPPED}\t\t\t\t",
                f"M6\tM6-1\t1\t{SHIPPED}\t\t\t\tExpress",
            ]
        )
        + "\n",
    )
    project.drop(
        "acme",
        "confirmations",
        "conf_3.txt",  # label created, never scanned; no ship-method ever
        f"{CONF_HEADER}\nM7\tM7-1\t1\t{SHIPPED}\tDHL\t\tLABEL7\t\n",
    )
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        scans_by(
            ("BBM4", "dhl", SCANNED, "in_transit"),
            ("BBM4", "UPS", "2026-10-01T10:00:00Z", "delivered"),  # before the grace bound: an earlier parcel's
            ("1ZOLD", "UPS", "2026-10-01T10:00:00Z", "delivered"),
            ("LABEL7", "DHL", SCANNED, "pre_transit"),
            ("BBM9", "Budbee", SCANNED, "in_transit"),
            ("1ZV1", "UPS", SCANNED, "in_transit"),
            ("DPD1", "DPD", SCANNED, "in_transit"),
        ),
    )


def test_the_fix_file_prefills_what_the_data_knows_per_reason_overdue_rows_first(project):
    drop_packages_to_fix(project)
    summary = run(project.settings(), D)

    assert fix_rows(project) == [
        CONF_HEADER.split("\t"),
        # measured invalid (overdue), by promised date then order: M2 is promised a day earlier
        ["M2", "M2-1", "1", "2026-11-02", "ROYAL_MAIL", "", "RM123456", "Standard"],  # name -> integrated code
        ["M1", "M1-1", "1", "2026-11-02", "UPS", "", "", "Standard"],  # missing: seller fills it
        ["M3", "M3-1", "1", "2026-11-02", "UPS", "", "1ZM3", "Standard"],  # alias -> code
        ["M4", "M4-1", "1", "2026-11-02", "DHL", "", "BBM4", "Standard"],  # scanned by DHL
        ["M5", "M5-1", "1", "2026-11-02", "UPS", "", "", "Standard"],  # recycled: blank
        ["M6", "M6-1", "1", "2026-11-02", "DHL", "", "NOEVENTS6", "Express"],  # unknown to DHL: to check, kept
        ["M7", "M7-1", "1", "2026-11-02", "DHL", "", "LABEL7", ""],  # label only: number kept
        # one row per item; a carrier no name corrects stays as the seller wrote it
        ["M8", "M8-1", "1", "2026-11-02", "Other", "Budbee", "BBM8", "Standard"],
        ["M8", "M8-2", "3", "2026-11-02", "Other", "Budbee", "BBM8", "Standard"],
        ["M8", "M8-3", "1", "2026-11-02", "Other", "Budbee", "BBM8", "Standard"],
        ["M9", "M9-1", "1", "2026-11-02", "Other", "Budbee", "BBM9", "Standard"],
        # at risk, by fix-by date then order: R2 and R3 by 2026-11-21, R1 by 2026-11-26
        ["R2", "R2-1", "1", "2026-11-10", "UPS", "", "1ZR2", "Standard"],
        ["R3", "R3-1", "1", "2026-11-10", "Other", "Budbee", "BBR3", "Standard"],
        ["R1", "R1-1", "1", "2026-11-18", "UPS", "", "", "Standard"],
    ]
    # the marts agree on which packages these are: every invalid and at-risk package of D, nothing else
    listed = query(
        project,
        """select order_id from marts.mart_invalid_packages where snapshot_date = ? union all
                               select order_id from marts.mart_at_risk_packages where snapshot_date = ?""",
        [D, D],
    )
    assert sorted(o for (o,) in listed) == sorted({r[0] for r in fix_rows(project)[1:]})
    # an account with nothing to fix gets the header alone; the run's result names both files
    assert fix_rows(project, "Amazon.de") == [CONF_HEADER.split("\t")]
    (result,) = summary.sellers
    assert result["fix_files"] == [
        str(fix_file(project.settings(), D, "acme", m).with_suffix(suffix))
        for m in ("Amazon.de", "Amazon.se")
        for suffix in (".txt", ".xlsx")
    ]


def test_carrier_name_only_with_other_and_no_buyer_data_in_any_output(project):
    drop_packages_to_fix(project)
    run(project.settings(), D)

    rows = fix_rows(project)[1:]
    assert rows and all(len(r) == 8 for r in rows)
    assert all((r[5] != "") == (r[4] == "Other") for r in rows)
    out = project.settings().output
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".txt", ".xlsx", ".parquet"}
    for path in files:  # the orders helper gives every order the buyer name "A Buyer"
        if path.suffix == ".parquet":
            text = str(pq.read_table(path).to_pylist())
        elif path.suffix == ".xlsx":
            text = str(list(openpyxl.load_workbook(path).active.values))
        else:
            text = path.read_text()
        assert "A Buyer" not in text, path


def test_a_rerun_after_the_fixes_replaces_the_file(project):
    project.drop("acme", "orders", "orders.txt", orders_tsv(("F1", "F1-1", "TOY1", IN_BOTH)))
    project.drop("acme", "confirmations", "conf.txt", confirmations_tsv(("F1", "F1-1", SHIPPED, "UPS", "", "")))
    settings = project.settings()
    run(settings, D)
    assert fix_rows(project)[1:] == [["F1", "F1-1", "1", "2026-11-02", "UPS", "", "", "Standard"]]

    # the seller uploads the number from the fix file and the carrier scans it: nothing left to fix
    project.drop("acme", "confirmations", "fix.txt", confirmations_tsv(("F1", "F1-1", SHIPPED, "UPS", "", "1ZF1")))
    project.drop("acme", "scans", "scans.csv", scans_by(("1ZF1", "UPS", SCANNED, "in_transit")))
    run(settings, D)
    assert fix_rows(project) == [CONF_HEADER.split("\t")]
    folder = fix_file(settings, D, "acme", "Amazon.se").parent
    assert sorted(p.name for p in folder.iterdir()) == ["acme_Amazon.se.txt", "acme_Amazon.se.xlsx"]  # no temporary


def test_the_xlsx_holds_the_rows_of_the_txt_as_text_so_a_spreadsheet_keeps_every_zero(project):
    """A spreadsheet reading the .txt turns 000123 into 123 and =1+2 into 3; in the .xlsx every cell is a string
    in a text-formatted column (what the seller types in stays text too), written raw."""
    drop_packages_to_fix(project)
    project.drop(
        "acme",
        "orders",
        "orders_zeros.txt",
        orders_tsv(("000123", "0001", "TOY1", IN_BOTH), ("0042", "00420", "TOY1", IN_BOTH)),
    )
    project.drop(
        "acme",
        "confirmations",
        "conf_zeros.txt",
        "\n".join(
            [
                CONF_HEADER,
                f"000123\t0001\t1\t{SHIPPED}\tOther\tBudbee\t0012345678\t=1+2",  # number kept: not integrated
                f"0042\t00420\t1\t{SHIPPED}\tUPS\t\t\t00",  # missing number: left blank
            ]
        )
        + "\n",
    )
    run(project.settings(), D)

    txt = fix_rows(project)
    xlsx = fix_file(project.settings(), D, "acme", "Amazon.se").with_suffix(".xlsx")
    first = xlsx.read_bytes()
    run(project.settings(), D)
    assert xlsx.read_bytes() == first  # a re-run writes the same bytes (no time of writing inside)
    sheet = openpyxl.load_workbook(xlsx).active
    cells = [list(row) for row in sheet.iter_rows()]
    assert [[c.value or "" for c in row] for row in cells] == txt  # the same rows, in the same order
    filled = [c for row in cells for c in row if c.value is not None]
    assert len(filled) > 100 and all(c.data_type == "s" and isinstance(c.value, str) for c in filled)
    assert all(c.number_format == "@" for row in cells for c in row)  # blanks too: typed-in values stay text
    assert ["000123", "0001", "1", SHIPPED, "Other", "Budbee", "0012345678", "=1+2"] in txt  # as confirmed
    assert ["0042", "00420", "1", SHIPPED, "UPS", "", "", "00"] in txt


def test_a_split_item_gets_one_row_per_box_with_the_boxs_quantity(project):
    project.drop("acme", "orders", "orders.txt", orders_with_quantities_tsv(("S1", "S1-1", "TOY1", 3)))
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        boxes_tsv(("S1", "S1-1", 1, "UPS", "", "BOX1", "Standard"), ("S1", "S1-1", 2, "UPS", "", "BOX2", "Express")),
    )
    project.drop("acme", "scans", "scans.csv", scans_by(("BOX1", "UPS", "2026-11-01T10:00:00Z", "pre_transit")))
    run(project.settings(), D)

    assert fix_rows(project)[1:] == [
        ["S1", "S1-1", "1", "2026-11-02", "UPS", "", "BOX1", "Standard"],  # label only: its number kept
        ["S1", "S1-1", "2", "2026-11-02", "UPS", "", "BOX2", "Express"],  # unknown to the carrier yet: kept
    ]
    assert query(project, "select tracking_number, reason from marts.mart_invalid_packages order by all") == [
        ("BOX1", "pre_transit_only"),
        ("BOX2", "no_carrier_events"),
    ]
