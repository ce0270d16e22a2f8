"""Ingest (issues 2 and 11): every feed format loads, bad rows are rejected with file, line and reason, broken and
hostile files fail alone, files load once and in name order, memory stays flat, and no buyer data reaches the lake,
the rejects, a log or the command line's output."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline import lake
from pipeline.cli import main
from pipeline.contract import FileStatus
from pipeline.ingest import ingest_seller, load
from pipeline.ingest.formats import COLUMNS
from pipeline.run import ingest

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
ROOT = Path(__file__).resolve().parent.parent
UTC = dt.UTC
LOADED, UNCHANGED = FileStatus.LOADED, FileStatus.UNCHANGED
DUPLICATE, FAILED = FileStatus.DUPLICATE, FileStatus.FAILED
# `vtr` that writes its peak resident memory (VmHWM, KiB) to the file named first, as it exits
REPORTS_OWN_PEAK = """import atexit, sys
from pipeline.cli import main
peak = lambda: open('/proc/self/status').read().split('VmHWM:')[1].split()[0]
atexit.register(lambda: open(sys.argv[1], 'w').write(peak()))
sys.exit(main(sys.argv[2:]))"""
SCANS_HEADER = "tracking_number,carrier,event_time,status,event_code,description,location\n"

# Every distinctive buyer / recipient value in the fixtures (names, e-mail, phones, address lines, city, postcode,
# and the name of who signed for a parcel in a carrier's event text).
PII = [
    "Quaxworth",
    "QUAXWORTH",
    "zebulon.quaxworth@example",
    "555 0199",
    "555 0142",
    "Quaxgatan",
    "Lgh 1204",
    "Wobblestone",
    "Quaxholm",
    "41319",
    "Göteborg",
]

ALL_FIXTURES = {
    "orders": ["orders_amazon.txt", "orders_cp1252_crlf.txt", "orders_bom.txt"],
    "confirmations": ["confirmations.txt"],
    "scans": ["scans.csv", "easypost.jsonl", "aftership.jsonl"],
    "catalog": ["catalog.csv"],
}


def drop_fixture(project, feed, fixture, name=None, seller="acme", gz=False):
    data = (FIXTURES / fixture).read_bytes()
    if gz:
        data, name = gzip.compress(data), (name or fixture) + ".gz"
    return project.drop(seller, feed, name or fixture, data)


def drop_all_fixtures(project):
    for feed, names in ALL_FIXTURES.items():
        for name in names:
            drop_fixture(project, feed, name)


def run_ingest(project, sellers=None) -> dict[str, load.FileResult]:
    """`pipeline.run.ingest` (every seller under its lock, its own connection): file -> result."""
    return {r.file: r for r in ingest(project.config, sellers)}


@pytest.fixture
def con(project):
    """One writing connection to the project's lake for the whole test (opening one costs about half a second):
    a test loads through it with `load_all` and queries it."""
    con = lake.connect(project.settings())
    yield con
    con.close()


def load_all(con, project) -> dict[str, load.FileResult]:
    """What `pipeline.run.ingest` does per seller, through the given connection: file -> result."""
    settings = project.settings()
    return {r.file: r for seller in settings.seller_ids() for r in ingest_seller(con, settings, seller)}


@pytest.fixture
def open_warehouse(project):
    """Open the lake as an analyst would (read only), after an ingest; closed at the end of the test."""
    cons = []

    def _open(settings=None):
        cons.append(lake.connect(settings or project.settings(), read_only=True))
        return cons[-1]

    yield _open
    for c in cons:
        c.close()


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def current_order_items(con):
    """The current order items as the staging model computes them (later non-blank values overwrite)."""
    sql = (ROOT / "sql" / "staging" / "stg_orders.sql").read_text()
    # the run's range (written by the model runner): early enough to hold every order
    con.execute("create or replace temp table run as select date '2000-01-01' as earliest_promised_date")
    sql = sql.replace("config.run", "temp.run")
    return {
        (r[0], r[1]): r[2:]
        for r in rows(
            con,
            f"select order_id, order_item_id, sku, quantity, latest_delivery_date, marketplace "
            f"from (\n{sql}\n) order by all",
        )
    }


def rejects(con, feed):
    return rows(con, "select file, line, reason, fields from main.rejects where feed = ? order by file, line", [feed])


def cli(capsys, *args):
    """`vtr ...` in-process: (exit code, stdout lines, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def table_row(out, seller, feed):
    """The `vtr ingest` table's row of a seller's feed: files loaded, skipped, failed, rows loaded, rejected."""
    return next([int(v) for v in line.split()[2:]] for line in out if line.split()[:2] == [seller, feed])


# --- formats -------------------------------------------------------------------------------------------------------


def test_order_report_variants_continuation_lines_and_later_overwrite(project, con):
    drop_fixture(project, "orders", "orders_amazon.txt", "2026-11-01-orders.txt")
    first = load_all(con, project)["orders/2026-11-01-orders.txt"]
    assert (first.status, first.rows_read, first.rows_loaded, first.rows_rejected) == (LOADED, 7, 4, 3)
    # the continuation line (line 4) is loaded like any row, but is not an extra item and its blanks change nothing
    assert rows(con, "select count(*) from raw.orders") == [(4,)]
    assert rows(con, "select line from raw.orders where order_item_id = '10002' order by line") == [(3,), (4,)]
    items = current_order_items(con)
    assert items == {
        ("111-0000001-0000001", "10001"): ("SKU-A", 1, dt.date(2026, 11, 5), "Amazon.se"),
        ("111-0000001-0000001", "10002"): ("SKU-B", 2, dt.date(2026, 11, 6), "Amazon.se"),
        # a date written with a time counts as the calendar date as written
        ("111-0000003-0000003", "30001"): ("SKU-C", 3, dt.date(2026, 11, 8), "Amazon.se"),
    }

    # a later file with the other header variant (order-id, quantity), Windows-1252 and CRLF overwrites non-blank values
    drop_fixture(project, "orders", "orders_cp1252_crlf.txt", "2026-11-02-orders.tsv")
    second = load_all(con, project)["orders/2026-11-02-orders.tsv"]
    assert (second.status, second.rows_read, second.rows_loaded, second.rows_rejected) == (LOADED, 2, 2, 0)
    items = current_order_items(con)
    assert len(items) == 4
    assert items[("111-0000001-0000001", "10002")] == ("Kök-1", 2, dt.date(2026, 11, 9), "Amazon.se")
    assert items[("111-0000004-0000004", "40001")] == ("SKU-D", 1, dt.date(2026, 11, 10), "Amazon.de")


def test_header_with_utf8_bom_and_crlf(project, con):
    drop_fixture(project, "orders", "orders_bom.txt")
    result = load_all(con, project)["orders/orders_bom.txt"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 1, 0)
    assert rows(con, "select order_id, sku, latest_delivery_date, sales_channel from raw.orders") == [
        ("111-0000005-0000005", "SKU-E", dt.date(2026, 11, 11), "Amazon.se")
    ]


def test_a_spreadsheets_utf16_unicode_text_is_read(project, con):
    text = (FIXTURES / "confirmations.txt").read_text().replace("\n", "\r\n")
    project.drop("acme", "confirmations", "edited.txt", text.encode("utf-16"))  # with a BOM, as Excel saves it
    result = load_all(con, project)["confirmations/edited.txt"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 2, 3)
    assert rows(con, "select carrier_name from raw.confirmations order by line") == [(None,), ("PostNord Sverige",)]


def test_confirmations_tsv(project, con):
    drop_fixture(project, "confirmations", "confirmations.txt")
    result = load_all(con, project)["confirmations/confirmations.txt"]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    assert rows(
        con,
        "select line, order_id, order_item_id, ship_date, carrier_code, carrier_name, tracking_number "
        "from raw.confirmations order by line",
    ) == [
        (2, "111-0000001-0000001", "10001", dt.date(2026, 11, 2), "UPS", None, "1Z 999-AA1"),
        (3, "111-0000003-0000003", None, dt.date(2026, 11, 2), "Other", "PostNord Sverige", "NULL"),
    ]
    assert [r[1:3] for r in rejects(con, "confirmations")] == [
        (4, "missing ship-date"),
        (5, "missing order-id"),
        (6, "unparseable ship-date"),
    ]


def test_scans_canonical_csv_with_quoted_commas(project, con):
    drop_fixture(project, "scans", "scans.csv")
    result = load_all(con, project)["scans/scans.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    # quoted fields with commas and "" split right; the event's text is not stored (it names who signed)
    assert rows(con, "select line, tracking_number, carrier, event_at, status from raw.scans order by line") == [
        (2, "1Z999AA1", "UPS", dt.datetime(2026, 11, 3, 7, tzinfo=UTC), "in_transit"),
        # no offset means UTC; statuses compare without regard to case
        (3, "1Z999AA1", "UPS", dt.datetime(2026, 11, 3, 20, tzinfo=UTC), "delivered"),
    ]
    assert [r[1:3] for r in rejects(con, "scans")] == [
        (4, "unknown status teleported"),
        (5, "wrong column count: 4 instead of 7"),
        (6, "unparseable event_time"),
    ]


def test_easypost_json_lines(project, con):
    drop_fixture(project, "scans", "easypost.jsonl")
    result = load_all(con, project)["scans/easypost.jsonl"]
    # 6 events from three trackers; the blank line 4 is not counted; line 3 is not JSON
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (LOADED, 7, 6, 1)
    # return_to_sender is a (returned) scan; cancelled and error are not
    assert rows(
        con, "select line, tracking_number, carrier, event_at, status from raw.scans order by line, event_at"
    ) == [
        (1, "EZ1000000001", "USPS", dt.datetime(2026, 11, 2, 9, tzinfo=UTC), "pre_transit"),
        (1, "EZ1000000001", "USPS", dt.datetime(2026, 11, 3, 9, tzinfo=UTC), "in_transit"),
        (1, "EZ1000000001", "USPS", dt.datetime(2026, 11, 5, 9, tzinfo=UTC), "returned"),
        (2, "EZ1000000002", "USPS", dt.datetime(2026, 11, 3, 10, tzinfo=UTC), "unknown"),
        (2, "EZ1000000002", "USPS", dt.datetime(2026, 11, 3, 11, tzinfo=UTC), "unknown"),
        (5, "EZ1000000003", "USPS", dt.datetime(2026, 11, 4, 17, tzinfo=UTC), "delivered"),
    ]
    assert [r[1:3] for r in rejects(con, "scans")] == [(3, "invalid JSON")]


def test_json_lines_with_a_bom_and_crlf_read_like_plain_ones(project, con):
    text = (FIXTURES / "aftership.jsonl").read_text()
    project.drop("acme", "scans", "aftership-bom.jsonl", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    result = load_all(con, project)["scans/aftership-bom.jsonl"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 9, 0)
    assert rows(con, "select line, count(*) from raw.scans group by line order by line") == [(1, 5), (2, 4)]


def test_blank_lines_and_empty_spreadsheet_rows_are_not_rows(project, con):
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        SCANS_HEADER + "\n  \n,,,,,,\n1Z1,UPS,2026-11-03T08:00:00Z,in_transit,,,\n\t\n1Z2,UPS,2026-11-03,lost,,,\n",
    )
    project.drop(
        "acme", "orders", "orders.txt", "order-id\torder-item-id\tlatest-delivery-date\n\t\t\n1\t1\t2026-11-05\n"
    )
    results = load_all(con, project)
    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results.values()] == [(1, 1, 0), (2, 1, 1)]
    assert rows(con, "select line from raw.scans") == [(5,)]
    assert rows(con, "select line from raw.orders") == [(3,)]
    assert rows(con, "select line, reason from main.rejects") == [(7, "unknown status lost")]


def test_aftership_json_lines_with_and_without_wrapper(project, con):
    drop_fixture(project, "scans", "aftership.jsonl")
    result = load_all(con, project)["scans/aftership.jsonl"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, 9, 0)
    # tags Pending, InfoReceived (pre_transit) and Expired (unknown) are not scans; Exception_011 is a return
    assert rows(con, "select line, tracking_number, carrier, status from raw.scans order by line, event_at") == [
        (1, "AS0000000001", "postnord", "pre_transit"),
        (1, "AS0000000001", "postnord", "pre_transit"),
        (1, "AS0000000001", "postnord", "in_transit"),
        (1, "AS0000000001", "postnord", "out_for_delivery"),
        (1, "AS0000000001", "postnord", "delivered"),
        (2, "AS0000000002", "dhl", "unknown"),
        (2, "AS0000000002", "dhl", "failure"),
        (2, "AS0000000002", "dhl", "available_for_pickup"),
        (2, "AS0000000002", "dhl", "returned"),
    ]


def test_catalog_csv(project, con):
    drop_fixture(project, "catalog", "catalog.csv")
    load_all(con, project)
    assert rows(con, "select sku, category from raw.catalog order by line") == [
        ("SKU-A", "Toys"),
        ("Kök-1", "Home, Kitchen"),
    ]
    assert rejects(con, "catalog") == [("catalog/catalog.csv", 4, "missing category", {"sku": "SKU-B"})]


def test_gzip_loads_the_same_and_a_gzipped_copy_is_the_same_file(project, con):
    every = [(feed, fixture) for feed, names in ALL_FIXTURES.items() for fixture in names]
    for feed, fixture in every:
        drop_fixture(project, feed, fixture, "a-" + fixture, gz=True)
    packed = load_all(con, project)
    for feed, fixture in every:
        result = packed[f"{feed}/a-{fixture}.gz"]
        assert result.status is LOADED, result.message
        assert result.rows_read == result.rows_loaded + result.rows_rejected > 0

    for feed, fixture in every:
        drop_fixture(project, feed, fixture, "b-" + fixture)
    again = load_all(con, project)
    for feed, fixture in every:
        assert again[f"{feed}/b-{fixture}"].status is DUPLICATE
        assert again[f"{feed}/b-{fixture}"].message == f"same content as {feed}/a-{fixture}.gz, loaded before"


def test_gzip_and_plain_give_the_same_rows(project, con, tmp_path):
    for feed, names in ALL_FIXTURES.items():
        for name in names:
            drop_fixture(project, feed, name, gz=True)
    load_all(con, project)
    packed = {
        t: rows(con, f"select * exclude (file_id) from raw.{t} order by all")
        for t in ("orders", "confirmations", "scans", "catalog")
    }
    packed_rejects = rows(
        con, "select feed, replace(file, '.gz', ''), line, reason, fields from main.rejects order by all"
    )

    plain = type(project)(tmp_path / "plain")
    drop_all_fixtures(plain)
    plain_con = lake.connect(plain.settings())
    try:
        load_all(plain_con, plain)
        for table, expected in packed.items():
            assert rows(plain_con, f"select * exclude (file_id) from raw.{table} order by all") == expected
        assert (
            rows(plain_con, "select feed, file, line, reason, fields from main.rejects order by all") == packed_rejects
        )
    finally:
        plain_con.close()


# --- personal data -------------------------------------------------------------------------------------------------


def test_no_buyer_data_in_the_lakes_files_rejects_logs_or_cli_output(project, caplog, capsys):
    drop_all_fixtures(project)
    drop_fixture(project, "orders", "orders_amazon.txt", "zz-orders.txt", gz=True)  # a copy: a duplicate
    settings = project.settings()
    con = lake.connect(settings)
    # Parquet files stored uncompressed, so that a buyer's name in any table would show in the files' bytes
    con.execute(f"call {lake.LAKE}.set_option('parquet_compression', 'uncompressed')")
    con.close()
    caplog.set_level(logging.DEBUG)
    code, out, err = cli(capsys, "-v", "ingest", "--config", str(project.config))
    assert code == 0, err
    assert table_row(out, "acme", "orders") == [3, 1, 0, 7, 3]
    con = lake.connect(settings, read_only=True)
    stored_rejects = str(rows(con, "select * from main.rejects"))
    con.close()

    # every file of the lake: the catalog (and its WAL) beside paths.warehouse, and every data file
    files = [p for p in settings.warehouse.parent.rglob("*") if p.is_file()]
    files += [p for p in Path(settings.lake_data_path).rglob("*") if p.is_file()]
    assert settings.warehouse in files and any(p.suffix == ".parquet" for p in files)
    stored = b"".join(p.read_bytes() for p in files)
    assert "Kök-1".encode() in stored and b"EZ1000000003" in stored  # the check can see stored text
    assert [v for v in PII if v.encode("utf-8") in stored or v.encode("cp1252") in stored] == []
    assert [v for v in PII if v in stored_rejects] == []
    assert "orders/orders_amazon.txt: loaded" in caplog.text  # the check can see the log
    assert [v for v in PII if v in caplog.text] == []
    assert [v for v in PII if v in "\n".join(out) + err] == []


# --- bad rows --------------------------------------------------------------------------------------------------------


def test_every_kind_of_bad_row_is_rejected_with_file_line_and_reason(project, con):
    drop_all_fixtures(project)
    load_all(con, project)
    assert rows(con, "select feed, file, line, reason from main.rejects order by feed, file, line") == [
        ("catalog", "catalog/catalog.csv", 4, "missing category"),
        ("confirmations", "confirmations/confirmations.txt", 4, "missing ship-date"),
        ("confirmations", "confirmations/confirmations.txt", 5, "missing order-id"),
        ("confirmations", "confirmations/confirmations.txt", 6, "unparseable ship-date"),
        ("orders", "orders/orders_amazon.txt", 6, "unparseable purchase-date"),
        ("orders", "orders/orders_amazon.txt", 7, "missing order-id"),
        ("orders", "orders/orders_amazon.txt", 8, "wrong column count: 5 instead of 22"),
        ("scans", "scans/easypost.jsonl", 3, "invalid JSON"),
        ("scans", "scans/scans.csv", 4, "unknown status teleported"),
        ("scans", "scans/scans.csv", 5, "wrong column count: 4 instead of 7"),
        ("scans", "scans/scans.csv", 6, "unparseable event_time"),
    ]
    # a reject keeps the whitelisted fields (here: no buyer columns), not the raw line
    assert rows(con, "select fields from main.rejects where file = 'orders/orders_amazon.txt' and line = 6") == [
        (
            {
                "order-id": "111-0000002-0000002",
                "order-item-id": "20001",
                "purchase-date": "31/11/2026",
                "sku": "SKU-A",
                "quantity-purchased": "1",
                "latest-delivery-date": "2026-11-07",
                "sales-channel": "Amazon.se",
            },
        )
    ]
    for feed, fields in rows(con, "select feed, fields from main.rejects where fields is not null"):
        assert set(fields) <= {names[0] for names in COLUMNS[feed].values()}
    # the manifest: rows loaded + rows rejected = rows read, and they match the raw tables and the rejects
    manifest = rows(
        con,
        """
        select f.path, f.rows_read, f.rows_loaded, f.rows_rejected,
            (select count(*) from raw.orders as t where t.file_id = f.file_id)
            + (select count(*) from raw.confirmations as t where t.file_id = f.file_id)
            + (select count(*) from raw.scans as t where t.file_id = f.file_id)
            + (select count(*) from raw.catalog as t where t.file_id = f.file_id),
            (select count(*) from main.rejects as r where r.file_id = f.file_id)
        from raw.files as f order by f.file_id""",
    )
    assert len(manifest) == 8
    for path, read, loaded, rejected, in_raw, in_rejects in manifest:
        assert (loaded + rejected, loaded, rejected) == (read, in_raw, in_rejects), path
    # file ids are the seller's load order: feeds in their order (catalog first), names in order within a feed
    assert [m[0] for m in manifest] == [
        "catalog/catalog.csv",
        "orders/orders_amazon.txt",
        "orders/orders_bom.txt",
        "orders/orders_cp1252_crlf.txt",
        "confirmations/confirmations.txt",
        "scans/aftership.jsonl",
        "scans/easypost.jsonl",
        "scans/scans.csv",
    ]


# --- broken files ----------------------------------------------------------------------------------------------------

GOOD_ORDERS = (FIXTURES / "orders_bom.txt").read_bytes()
BROKEN = {  # file -> (content, what its failure says)
    "orders/binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary content"),
    "orders/truncated.txt.gz": (gzip.compress(GOOD_ORDERS * 50)[:-40], "not a readable gzip archive"),
    "orders/missing-column.txt": (
        b"order-id\torder-item-id\tsku\n111-1\t1\tSKU-A\n",
        "missing required column(s): latest-delivery-date",
    ),
    "orders/empty.txt": (b"", "empty file"),
    "orders/blank-first-line.txt": (b"\n" + GOOD_ORDERS, "no header line"),
    "scans/not-json-lines.jsonl": (b"<html>\n<body>502 Bad Gateway</body>\n</html>\n", "no line is a JSON object"),
    "scans/json-array.json": (
        b'[{"tracking_code": "EZ1", "tracking_details": []},\n {"tracking_code": "EZ2"}]\n',
        "no line is a JSON object",
    ),
}


def test_a_broken_file_fails_alone_and_is_retried(project, con, caplog):
    drop_fixture(project, "orders", "orders_amazon.txt", "a-good.txt")
    drop_fixture(project, "scans", "scans.csv")
    for file, (content, _) in BROKEN.items():
        project.drop("acme", *file.split("/"), content)
    caplog.set_level(logging.INFO, logger="pipeline.ingest")
    results = load_all(con, project)
    for file, (_, problem) in BROKEN.items():
        assert results[file].status is FAILED and problem in results[file].message, file
        assert any(file in r.getMessage() and problem in r.getMessage() for r in caplog.records), file
    assert results["orders/a-good.txt"].status is results["scans/scans.csv"].status is LOADED
    assert rows(con, "select path from raw.files order by file_id") == [("orders/a-good.txt",), ("scans/scans.csv",)]
    assert rows(con, "select count(*) from raw.orders") == [(4,)]
    assert rows(con, "select count(*) from raw.scans") == [(2,)]
    assert rows(con, "select distinct file from main.rejects order by 1") == [
        ("orders/a-good.txt",),
        ("scans/scans.csv",),
    ]

    # the next run tries them again (a failed file is not remembered) ...
    again = load_all(con, project)
    assert {file for file, r in again.items() if r.status is FAILED} == set(BROKEN)
    assert again["orders/a-good.txt"].status is UNCHANGED
    # ... and loads each once it is replaced with a readable file (each its own content: none is a duplicate)
    for i, file in enumerate(BROKEN):
        if file.startswith("orders"):
            fixed = GOOD_ORDERS + f"111-{i}\t1\tSKU-E\t1\t2026-11-11\tAmazon.se\t\r\n".encode()
        else:
            fixed = (
                f'{{"tracking_code": "EZ{i}", "tracking_details": [{{"status": "in_transit", '
                f'"datetime": "2026-11-03T08:00:00Z"}}]}}\n'
            ).encode()
        project.drop("acme", *file.split("/"), gzip.compress(fixed) if file.endswith(".gz") else fixed)
    fixed = load_all(con, project)
    assert {file: fixed[file].status for file in BROKEN} == dict.fromkeys(BROKEN, LOADED)


def test_a_json_file_for_a_delimited_feed_fails(project, con):
    project.drop("acme", "orders", "orders.json", b'{"order-id": "1"}\n')
    result = load_all(con, project)["orders/orders.json"]
    assert result.status is FAILED and "scans feed only" in result.message


# --- files load once, in name order ----------------------------------------------------------------------------------


def test_a_redropped_file_is_a_duplicate_and_said_so(project, con):
    drop_fixture(project, "orders", "orders_amazon.txt", "2026-11-01.txt")
    load_all(con, project)
    drop_fixture(project, "orders", "orders_amazon.txt", "2026-11-01 (1).txt")
    results = load_all(con, project)
    assert results["orders/2026-11-01.txt"].status is UNCHANGED
    redropped = results["orders/2026-11-01 (1).txt"]
    assert redropped.status is DUPLICATE
    assert "same content as orders/2026-11-01.txt" in redropped.message
    assert rows(con, "select count(*) from raw.files") == [(1,)]
    assert rows(con, "select count(*) from raw.orders") == [(4,)]
    assert rows(con, "select count(*) from main.rejects") == [(3,)]


def test_files_load_in_name_order_and_the_later_name_wins(project, con):
    header = "order-id\torder-item-id\tsku\tlatest-delivery-date\n"
    late = project.drop("acme", "orders", "2026-11-02.txt", header + "111-1\t1\tSKU-NEW\t2026-11-09\n")
    early = project.drop("acme", "orders", "2026-11-01.txt", header + "111-1\t1\tSKU-OLD\t2026-11-08\n")
    os.utime(early, (time.time() + 60, time.time() + 60))  # written last: name order, not time order, decides
    assert list(load_all(con, project)) == ["orders/2026-11-01.txt", "orders/2026-11-02.txt"]
    assert rows(con, "select path from raw.files order by file_id") == [
        ("orders/2026-11-01.txt",),
        ("orders/2026-11-02.txt",),
    ]
    assert current_order_items(con)[("111-1", "1")][0] == "SKU-NEW"
    assert late.exists()


# --- interrupted load ------------------------------------------------------------------------------------------------

INGEST_SCRIPT = """
import logging, sys
from pipeline.run import ingest
log = logging.getLogger("pipeline.ingest")
log.setLevel(logging.INFO)
log.addHandler(logging.StreamHandler(sys.stderr))
ingest(sys.argv[1])
"""


def test_a_killed_load_leaves_nothing_and_the_next_run_loads_the_file_whole(project):
    # a small memory limit: the load of a file many times smaller than memory must not run out of it
    project.write_config('[duckdb]\nmemory_limit = "256MB"\n')
    drop_fixture(project, "catalog", "catalog.csv")  # loads first (catalog is the first feed) and says so
    n = 1_000_000
    big = project.landing / "acme" / "orders" / "big.txt"
    with big.open("w") as f:
        f.write("order-id\torder-item-id\tbuyer-name\tsku\tquantity-purchased\tlatest-delivery-date\n")
        f.writelines(f"111-{i:07d}\t{i}\tZebulon Quaxworth\tSKU-{i % 50}\t1\t2026-11-05\n" for i in range(n))

    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST_SCRIPT, str(project.config)], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()
        assert "catalog/catalog.csv: loaded" in line, line
        time.sleep(0.3)  # now inside the big file's load, which takes well over a second
        assert proc.poll() is None, "the load finished before it could be interrupted; make the file bigger"
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        proc.kill()
        proc.stderr.close()

    con = lake.connect(project.settings())  # with the small memory limit
    try:
        assert rows(con, "select path from raw.files") == [("catalog/catalog.csv",)]
        assert rows(con, "select count(*) from raw.orders") == [(0,)]
        assert rows(con, "select count(*) from main.rejects where feed = 'orders'") == [(0,)]

        result = load_all(con, project)["orders/big.txt"]
        assert (result.status, result.rows_loaded, result.rows_rejected) == (LOADED, n, 0)
        assert rows(con, "select count(*), count(distinct line), min(line), max(line) from raw.orders") == [
            (n, n, 2, n + 1)
        ]
        assert rows(con, "select path from raw.files order by file_id") == [
            ("catalog/catalog.csv",),
            ("orders/big.txt",),
        ]
    finally:
        con.close()


# --- command line ----------------------------------------------------------------------------------------------------


def test_vtr_ingest_prints_per_seller_and_feed_lists_failed_and_duplicate_files_and_exits_1_on_a_failed_one(
    project, capsys
):
    project.add_seller("bolt")
    drop_fixture(project, "orders", "orders_amazon.txt")
    drop_fixture(project, "scans", "easypost.jsonl", seller="bolt")
    code, out, err = cli(capsys, "ingest", "--config", str(project.config))
    assert code == 0, err
    # seller, feed, then files loaded, skipped, failed, rows loaded, rows rejected
    assert table_row(out, "acme", "orders") == [1, 0, 0, 4, 3]
    assert table_row(out, "bolt", "scans") == [1, 0, 0, 6, 1]
    assert len(out) == 3  # the header and a row per seller and feed with files: no file listed (none failed)

    drop_fixture(project, "orders", "orders_amazon.txt", "copy.txt")
    project.drop("bolt", "scans", "broken.jsonl.gz", b"\x1f\x8b\x08\x00garbage")
    code, out, err = cli(capsys, "ingest", "--config", str(project.config))
    assert code == 1
    assert table_row(out, "acme", "orders") == [0, 2, 0, 0, 0]
    assert table_row(out, "bolt", "scans") == [0, 1, 1, 0, 0]
    # the files listed: only the failed and the duplicate ones, never a file loaded before
    duplicate, failed = out[3:]
    assert duplicate == "duplicate acme orders/copy.txt: same content as orders/orders_amazon.txt, loaded before"
    assert failed.startswith("failed bolt scans/broken.jsonl.gz: not a readable gzip archive")
    assert err == "vtr: 1 file(s) could not be read\n"


# --- files already loaded --------------------------------------------------------------------------------------------


def test_a_file_loaded_before_is_not_read_again_but_one_rewritten_in_place_is(project, con, monkeypatch):
    path = drop_fixture(project, "catalog", "catalog.csv")
    assert load_all(con, project)["catalog/catalog.csv"].status is LOADED

    def no_reading(*_args):
        raise AssertionError("an unchanged file loaded before was read again")

    with monkeypatch.context() as m:
        m.setattr(load, "inspect", no_reading)
        assert load_all(con, project)["catalog/catalog.csv"].status is UNCHANGED

    # corrections written over the same file name: new content, so it loads on top
    path.write_text(path.read_text() + "SKU-NEW,Garden\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    result = load_all(con, project)["catalog/catalog.csv"]
    assert result.status is LOADED and result.rows_loaded > 0


@pytest.mark.parametrize("batch_bytes", [None, 1], ids=["one batch", "a batch per file"])
def test_files_read_together_keep_their_own_line_numbers_and_name_order(project, con, caplog, monkeypatch, batch_bytes):
    """New files of a feed are read in one pass where DuckDB's reader maps their lines one to one; a file with
    a blank line, a wrong column count or a line break inside quotes is read line by line instead (a quoted line
    break is part of its field, RFC 4180: its record is one row, numbered by its first line). Either way a reject
    names its own file and line, and the load order follows the names, however the files are batched."""
    if batch_bytes:
        monkeypatch.setattr(load, "BATCH_BYTES", batch_bytes)
    good = '1Z999,UPS,2026-11-20T10:00:00Z,in_transit,I,Scanned,"Lund, SE"\n'
    project.drop(
        "acme", "scans", "a_clean.csv", SCANS_HEADER + good + good + "1Z998,UPS,2026-11-20T11:00:00Z,lost,X,?,\n"
    )
    project.drop("acme", "scans", "b_blank_and_short.csv", SCANS_HEADER + good + "\n" + "1Z997,UPS\n" + good)
    project.drop(
        "acme",
        "scans",
        "c_quoted_break.csv",
        SCANS_HEADER
        + '1Z996,UPS,2026-11-20T12:00:00Z,in_transit,I,"two\nlines",x\n'
        + "1Z995,UPS,never,in_transit,I,,\n",
    )
    project.drop(
        "acme",
        "scans",
        "d_clean.csv.gz",
        gzip.compress((SCANS_HEADER + good + "1Z994,UPS,yesterday,in_transit,I,,\n").encode()),
    )
    caplog.set_level(logging.WARNING)
    results = load_all(con, project)
    assert {r.file: (r.status, r.rows_read, r.rows_rejected) for r in results.values()} == {
        "scans/a_clean.csv": (LOADED, 3, 1),
        "scans/b_blank_and_short.csv": (LOADED, 3, 1),
        "scans/c_quoted_break.csv": (LOADED, 2, 1),
        "scans/d_clean.csv.gz": (LOADED, 2, 1),
    }
    assert rows(con, "select file, line, reason from main.rejects order by file, line") == [
        ("scans/a_clean.csv", 4, "unknown status lost"),
        ("scans/b_blank_and_short.csv", 4, "wrong column count: 2 instead of 7"),
        ("scans/c_quoted_break.csv", 4, "unparseable event_time"),
        ("scans/d_clean.csv.gz", 3, "unparseable event_time"),
    ]
    assert rows(con, "select path from raw.files order by file_id") == [
        ("scans/a_clean.csv",),
        ("scans/b_blank_and_short.csv",),
        ("scans/c_quoted_break.csv",),
        ("scans/d_clean.csv.gz",),
    ]
    assert rows(
        con,
        "select f.path, s.line from raw.scans as s join raw.files as f using (seller_id, file_id) "
        "order by s.file_id, s.line",
    ) == [
        ("scans/a_clean.csv", 2),
        ("scans/a_clean.csv", 3),
        ("scans/b_blank_and_short.csv", 2),
        ("scans/b_blank_and_short.csv", 5),
        ("scans/c_quoted_break.csv", 2),
        ("scans/d_clean.csv.gz", 2),
    ]
    assert not caplog.records  # the pass over all files did not fail and fall back


def test_gzipped_files_load_under_a_small_memory_limit(project):
    """DuckDB's CSV reader allocates a compressed file's buffers whole, sized from its line limit: with a
    100 MB line limit every .gz file asked for 1.5 GiB and failed under a memory limit below that."""
    project.write_config('[duckdb]\nmemory_limit = "256MB"\n')
    drop_fixture(project, "scans", "aftership.jsonl", gz=True)
    drop_fixture(project, "scans", "scans.csv", gz=True)
    results = run_ingest(project)
    assert {r.file: (r.status, r.rows_loaded) for r in results.values()} == {
        "scans/aftership.jsonl.gz": (LOADED, 9),
        "scans/scans.csv.gz": (LOADED, 2),
    }


def test_a_file_gone_before_the_batch_reads_it_fails_alone(project, con, monkeypatch, caplog):
    """When the statement reading a batch fails (here a file removed after it was hashed), its files load one by
    one: the others load, the missing one fails with its name, and nothing of the batch is committed twice."""
    for name in ("a.csv", "b.csv", "c.csv"):
        project.drop("acme", "scans", name, SCANS_HEADER + f"1Z{name[0]},UPS,2026-11-20T10:00:00Z,in_transit,,,\n")
    inspect = load.inspect

    def inspect_then_remove_b(feed, path, rel):
        f = inspect(feed, path, rel)
        if path.name == "b.csv":
            path.unlink()
        return f

    monkeypatch.setattr(load, "inspect", inspect_then_remove_b)
    caplog.set_level(logging.WARNING)
    results = load_all(con, project)
    assert {r.file: (r.status, r.rows_loaded) for r in results.values()} == {
        "scans/a.csv": (LOADED, 1),
        "scans/b.csv": (FAILED, 0),
        "scans/c.csv": (LOADED, 1),
    }
    assert results["scans/b.csv"].message == "could not be read (No such file or directory)"
    assert "reading 3 files together failed" in caplog.text
    # b.csv is not remembered: once dropped again, it loads
    monkeypatch.undo()
    project.drop("acme", "scans", "b.csv", SCANS_HEADER + "1Zb,UPS,2026-11-20T10:00:00Z,in_transit,,,\n")
    assert load_all(con, project)["scans/b.csv"].status is LOADED


# --- hostile input (issue 11) ----------------------------------------------------------------------------------------


def test_an_offset_beyond_14_hours_is_a_rejected_row_and_14_hours_is_accepted(project, con):
    project.drop(
        "acme",
        "scans",
        "offsets.csv",
        SCANS_HEADER
        + "1Z1,UPS,2026-11-03T08:00:00+99:00,in_transit,,,\n"
        + "1Z2,UPS,2026-11-03T08:00:00+14:00,in_transit,,,\n"
        + "1Z3,UPS,2026-11-03T08:00:00-1400,in_transit,,,\n"
        + "1Z4,UPS,2026-11-03T08:00:00-14:30,in_transit,,,\n"
        + "1Z5,UPS,2026-11-03T08:00:00+05:30,in_transit,,,\n",
    )
    project.drop(
        "acme",
        "scans",
        "offsets.jsonl",
        '{"tracking_code": "EZ1", "carrier": "USPS", "tracking_details": ['
        '{"status": "in_transit", "datetime": "2026-11-03T08:00:00+15:00"}, '
        '{"status": "delivered", "datetime": "2026-11-04T08:00:00+14:00"}]}\n',
    )
    results = load_all(con, project)
    assert [(r.file, r.status, r.rows_loaded, r.rows_rejected) for r in results.values()] == [
        ("scans/offsets.csv", LOADED, 3, 2),
        ("scans/offsets.jsonl", LOADED, 1, 1),
    ]
    assert rows(con, "select file, line, reason from main.rejects order by all") == [
        ("scans/offsets.csv", 2, "time zone offset beyond +/-14:00 in event_time"),
        ("scans/offsets.csv", 5, "time zone offset beyond +/-14:00 in event_time"),
        ("scans/offsets.jsonl", 1, "time zone offset beyond +/-14:00 in event_time"),
    ]
    assert rows(con, "select tracking_number, event_at from raw.scans order by all") == [
        ("1Z2", dt.datetime(2026, 11, 2, 18, tzinfo=UTC)),
        ("1Z3", dt.datetime(2026, 11, 3, 22, tzinfo=UTC)),
        ("1Z5", dt.datetime(2026, 11, 3, 2, 30, tzinfo=UTC)),
        ("EZ1", dt.datetime(2026, 11, 3, 18, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("date", ["9999-12-31", "1999-12-31"])
def test_a_date_this_business_cannot_have_is_a_rejected_row(project, con, date):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        f"order-id\torder-item-id\tlatest-delivery-date\n1\t1\t{date}\n2\t1\t2026-11-05\n",
    )
    project.drop("acme", "confirmations", "confirmations.txt", f"order-id\tship-date\n1\t{date}\n2\t2026-11-02\n")
    project.drop(
        "acme",
        "scans",
        "scans.csv",
        SCANS_HEADER + f"1Z1,UPS,{date}T08:00:00Z,in_transit,,,\n1Z2,UPS,2026-11-03T08:00:00Z,in_transit,,,\n",
    )
    results = load_all(con, project)
    assert {(r.status, r.rows_read, r.rows_loaded) for r in results.values()} == {(LOADED, 2, 1)}
    assert rows(con, "select file, line, reason from main.rejects order by all") == [
        ("confirmations/confirmations.txt", 2, "implausible ship-date (before 2000 or more than a year ahead)"),
        ("orders/orders.txt", 2, "implausible latest-delivery-date (before 2000 or more than a year ahead)"),
        ("scans/scans.csv", 2, "implausible event_time (before 2000 or more than a year ahead)"),
    ]


def test_a_control_character_in_a_value_is_a_rejected_row_never_a_value(project, con):
    """A NUL, an escape or a C1 control inside a value, near the start of a file or after its first 64 KiB, in a
    delimited file or (escaped) in a JSON line: the row is rejected, its fields kept with the character written
    \\xNN; the file's other rows load."""
    header = "order-id\torder-item-id\tlatest-delivery-date\n"
    filler = "".join(f"111-{i:07d}\t1\t2026-11-05\n" for i in range(3000))  # about 90 KiB
    project.drop("acme", "orders", "a-early.txt", header + "111-\x00666\t1\t2026-11-05\n" + filler)
    project.drop(
        "acme",
        "orders",
        "b-late.txt",
        header + filler + "111-\x00777\t1\t2026-11-05\n" + "111-\x1b[2J\t1\t2026-11-05\n" + "111-9\t1\t2026-11-05\n",
    )
    project.drop(
        "acme",
        "confirmations",
        "c.txt",
        "order-id\tship-date\ttracking-number\n"
        "111-1\t2026-11-02\t1Z\x01X\n111-1\t2026-11-02\t1ZOK\n111-1\t2026-11-02\t1Z\x9b2J\n",
    )
    project.drop(
        "acme",
        "scans",
        "s.jsonl",
        '{"tracking_code": "EZ\\u0000 1", "tracking_details": ['
        '{"status": "in_transit", "datetime": "2026-11-03T08:00:00Z"}]}\n'
        '{"tracking_code": "EZ2", "tracking_details": [{"status": "in_transit\\u001b", '
        '"datetime": "2026-11-03T08:00:00Z"}]}\n',
    )
    results = load_all(con, project)
    assert {r.file: (r.status, r.rows_read, r.rows_rejected) for r in results.values()} == {
        "orders/a-early.txt": (LOADED, 3001, 1),
        "orders/b-late.txt": (LOADED, 3003, 2),
        "confirmations/c.txt": (LOADED, 3, 2),
        "scans/s.jsonl": (LOADED, 2, 2),
    }
    assert rows(con, "select file, line, reason, fields from main.rejects order by file, line") == [
        (
            "confirmations/c.txt",
            2,
            "control character in a value",
            {"order-id": "111-1", "ship-date": "2026-11-02", "tracking-number": "1Z\\x01X"},
        ),
        (
            "confirmations/c.txt",
            4,
            "control character in a value",  # a C1 control: CSI, the escape of terminals
            {"order-id": "111-1", "ship-date": "2026-11-02", "tracking-number": "1Z\\x9b2J"},
        ),
        (
            "orders/a-early.txt",
            2,
            "control character in a value",
            {"order-id": "111-\\x00666", "order-item-id": "1", "latest-delivery-date": "2026-11-05"},
        ),
        (
            "orders/b-late.txt",
            3002,
            "control character in a value",
            {"order-id": "111-\\x00777", "order-item-id": "1", "latest-delivery-date": "2026-11-05"},
        ),
        (
            "orders/b-late.txt",
            3003,
            "control character in a value",
            {"order-id": "111-\\x1b[2J", "order-item-id": "1", "latest-delivery-date": "2026-11-05"},
        ),
        (
            "scans/s.jsonl",
            1,
            "control character in a value",
            {"tracking-number": "EZ\\x00 1", "event-time": "2026-11-03T08:00:00Z", "status": "in_transit"},
        ),
        (
            "scans/s.jsonl",
            2,
            "control character in a value",
            {"tracking-number": "EZ2", "event-time": "2026-11-03T08:00:00Z", "status": "in_transit\\x1b"},
        ),
    ]
    assert rows(
        con,
        "select count(*) from raw.orders where regexp_matches(order_id, '[\\x00-\\x1f]') "
        "or order_id in ('111-', '111-666', '111-777')",
    ) == [(0,)]
    assert rows(con, "select max(order_id) from raw.orders") == [("111-9",)]
    assert rows(con, "select tracking_number from raw.confirmations") == [("1ZOK",)]


def test_a_symbolic_link_leading_outside_the_landing_folder_is_refused(project, tmp_path, open_warehouse, capsys):
    outside = tmp_path / "outside"
    (outside / "feed").mkdir(parents=True)
    (outside / "secret.csv").write_text(SCANS_HEADER + "1ZSECRET1,UPS,2026-11-03T08:00:00Z,in_transit,,,\n")
    (outside / "feed" / "catalog.csv").write_text("sku,category\nSECRET-SKU,Toys\n")
    seller = project.landing / "acme"
    (seller / "scans" / "link.csv").symlink_to(outside / "secret.csv")
    (seller / "shared.csv").write_text(SCANS_HEADER + "1ZINSIDE,UPS,2026-11-03T08:00:00Z,in_transit,,,\n")
    (seller / "scans" / "inside.csv").symlink_to(seller / "shared.csv")  # inside the seller's own folder: read
    (seller / "scans" / "loop.csv").symlink_to(seller / "scans" / "loop.csv")
    (seller / "catalog").rmdir()
    (seller / "catalog").symlink_to(outside / "feed", target_is_directory=True)

    for _ in range(2):  # refused on every run
        code, out, err = cli(capsys, "ingest", "--config", str(project.config))
        assert code == 1 and err == "vtr: 3 file(s) could not be read\n"
        assert [line for line in out if line.startswith("failed")] == [
            "failed acme catalog: refused: the feed folder is a link leading outside the landing folder",
            "failed acme scans/link.csv: refused: a symbolic link leading outside the landing folder",
            "failed acme scans/loop.csv: refused: a symbolic link that leads nowhere (a loop)",
        ]
    con = open_warehouse()
    assert rows(con, "select path from raw.files") == [("scans/inside.csv",)]
    assert rows(con, "select tracking_number from raw.scans") == [("1ZINSIDE",)]
    assert rows(con, "select count(*) from raw.catalog") == [(0,)]


def test_a_seller_name_leading_outside_the_landing_folder_is_refused_in_one_line(
    project, tmp_path, capsys, open_warehouse
):
    evil = tmp_path / "evil"
    (evil / "scans").mkdir(parents=True)
    (evil / "scans" / "s.csv").write_text(SCANS_HEADER + "1ZEVIL,UPS,2026-11-03T08:00:00Z,in_transit,,,\n")
    (project.landing / "link").symlink_to(evil, target_is_directory=True)
    for seller in ("../evil", "..", "link"):
        code, out, err = cli(capsys, "ingest", "--config", str(project.config), "--sellers", seller)
        assert (code, out) == (2, [])
        assert err.count("\n") == 1 and "unknown seller(s)" in err and "Traceback" not in err
    assert not project.settings().warehouse.exists()  # refused before anything was opened or made


def test_a_small_gzip_expanding_to_a_gibibyte_keeps_memory_within_the_limit(project):
    """Two ~1-3 MB archives that expand to 1 GiB each: zeros fail as binary at their first MiB, repeated valid
    lines load, and the peak memory of `vtr ingest` stays under its DuckDB memory limit plus about 300 MB."""
    project.write_config('[duckdb]\nmemory_limit = "256MB"\n')
    scans = project.landing / "acme" / "scans"
    line = b"1Z999AA1,UPS,2026-11-03T08:00:00Z,in_transit,I," + b"x" * 1000 + b",SE\n"
    block = line * (2**20 // len(line))
    for name, head, data in (("a-zeros.csv.gz", b"", bytes(2**20)), ("b-lines.csv.gz", SCANS_HEADER.encode(), block)):
        member = gzip.compress(data, compresslevel=9)  # a gzip file may be many members: written, not compressed
        with open(scans / name, "wb") as f:
            f.write(gzip.compress(head))
            for _ in range(1024):
                f.write(member)
        assert (scans / name).stat().st_size < 3 * 2**20
    # The child reports its own high-water mark at exit: its ru_maxrss would include this test session's size
    # (a child started with vfork inherits the parent's peak at exec).
    peak_file = project.root / "peak_kib"
    with open(project.root / "out.txt", "w") as out, open(project.root / "err.txt", "w") as err:
        code = subprocess.call(
            [sys.executable, "-c", REPORTS_OWN_PEAK, str(peak_file), "ingest", "--config", str(project.config)],
            cwd=ROOT,
            stdout=out,
            stderr=err,
        )
    out = (project.root / "out.txt").read_text().splitlines()
    assert code == 1, (project.root / "err.txt").read_text()
    assert table_row(out, "acme", "scans") == [1, 0, 1, 1024 * len(block) // len(line), 0]
    assert out[-1] == "failed acme scans/a-zeros.csv.gz: binary content, not a text file"
    peak_mb = int(peak_file.read_text()) / 1024
    assert peak_mb < 256 + 300, f"peak RSS {peak_mb:.0f} MB"


@pytest.mark.parametrize(
    "feed,name,long_line,content",
    [
        (
            "orders",
            "long.txt",
            3,
            lambda long: (
                "order-id\torder-item-id\tlatest-delivery-date\n1\t1\t2026-11-05\n"
                f"2\t{long}\t2026-11-05\n3\t1\t2026-11-05\n"
            ),
        ),
        (
            "scans",
            "long.jsonl",
            2,
            lambda long: (
                '{"tracking_code": "EZ1", "tracking_details": [{"status": "in_transit", '
                '"datetime": "2026-11-03T08:00:00Z"}]}\n'
                f'{{"tracking_code": "EZ2", "pad": "{long}"}}\n'
                '{"tracking_code": "EZ3", "tracking_details": [{"status": "delivered", '
                '"datetime": "2026-11-04T08:00:00Z"}]}\n'
            ),
        ),
    ],
    ids=["delimited", "JSON lines"],
)
def test_a_20_mib_line_is_one_rejected_row_and_the_other_rows_load(project, con, feed, name, long_line, content):
    path = project.drop("acme", feed, name, content("z" * 20 * 2**20))
    result = load_all(con, project)[f"{feed}/{name}"]
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (LOADED, 3, 2, 1)
    assert rows(con, "select file, line, reason, fields from main.rejects") == [
        (f"{feed}/{name}", long_line, "line longer than 16 MiB", None)
    ]
    assert path.stat().st_size > 20 * 2**20


def test_an_empty_file_fails_on_every_run_until_replaced_and_two_are_never_each_others_copy(project, capsys):
    for name in ("a.csv", "b.csv"):
        project.drop("acme", "scans", name, b"")
    for _ in range(2):
        code, out, err = cli(capsys, "ingest", "--config", str(project.config))
        assert code == 1 and err == "vtr: 2 file(s) could not be read\n"
        assert out[1:] == [
            "acme             scans                0        0       2          0         0",
            "failed acme scans/a.csv: empty file: nothing to load",
            "failed acme scans/b.csv: empty file: nothing to load",
        ]
    project.drop("acme", "scans", "a.csv", SCANS_HEADER + "1Z1,UPS,2026-11-03T08:00:00Z,in_transit,,,\n")
    (project.landing / "acme" / "scans" / "b.csv").unlink()
    code, out, err = cli(capsys, "ingest", "--config", str(project.config))
    assert (code, out[1:]) == (0, ["acme             scans                1        0       0          1         0"])


def test_a_control_character_in_a_file_name_is_printed_escaped_never_as_a_forged_line(project, capsys, caplog):
    """A newline, a tab or an escape in a file name is printed \\xNN, in `vtr ingest`'s output and in the log; a
    name that is not UTF-8 is refused (the warehouse stores names as text), and printed the same way."""
    forged = "x\nfailed acme scans/forged.csv: refused\t\x1b[31m.csv"
    project.drop("acme", "scans", forged, b"")  # empty: failed, so listed
    project.drop("acme", "scans", os.fsdecode(b"caf\xe9.csv"), SCANS_HEADER)  # a Windows-1252 name: not UTF-8
    drop_fixture(project, "catalog", "catalog.csv", "first\n.csv")
    drop_fixture(project, "catalog", "catalog.csv", "second.csv")  # a duplicate, whose message names the first
    caplog.set_level(logging.INFO, logger="pipeline.ingest")
    code, out, err = cli(capsys, "-v", "ingest", "--config", str(project.config))
    assert code == 1
    assert out[3:] == [
        "duplicate acme catalog/second.csv: same content as catalog/first\\x0a.csv, loaded before",
        "failed acme scans/caf\\xe9.csv: refused: the name is not UTF-8 text; rename the file",
        "failed acme scans/x\\x0afailed acme scans/forged.csv: refused\\x09\\x1b[31m.csv: empty file: nothing to load",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "pipeline.ingest.load"]
    assert any("catalog/first\\x0a.csv: loaded" in m for m in logged)
    assert any("scans/x\\x0afailed acme scans/forged.csv: refused\\x09\\x1b[31m.csv: failed" in m for m in logged)
    assert not any(c in m for m in logged for c in "\n\t\x1b")


# --- quantities and amounts (issue 17) --------------------------------------------------------------------------


def test_quantities_that_are_not_whole_numbers_in_range_are_rejects_naming_the_column(project):
    project.drop(
        "acme",
        "orders",
        "orders.txt",
        "order-id\torder-item-id\tquantity-purchased\titem-price\tshipping-price\tlatest-delivery-date\n"
        "O1\tI1\t0\t12,50\t4.90\t2026-11-05\n"  # 0: a cancelled item; comma decimal
        "O2\tI2\t\t\t\t2026-11-05\n"  # blanks keep
        "O3\tI3\t-1\t1\t1\t2026-11-05\n"
        "O4\tI4\t1.5\t1\t1\t2026-11-05\n"
        "O5\tI5\t2\t1.000,00\t1\t2026-11-05\n"  # a thousands separator
        "O6\tI6\t2\t1\t4,9,0\t2026-11-05\n",
    )
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        "order-id\torder-item-id\tquantity\tship-date\n"
        "O1\tI1\t1\t2026-11-02\n"
        "O1\tI1\t\t2026-11-02\n"
        "O1\tI1\tabc\t2026-11-02\n"
        "O1\tI1\t0\t2026-11-02\n"
        "O1\tI1\t-1\t2026-11-02\n"
        "O1\tI1\t1.5\t2026-11-02\n"
        "O1\tI1\t007\t2026-11-02\n",
    )
    run_ingest(project)
    con = lake.connect(project.settings(), read_only=True)
    try:
        assert rows(con, "select feed, line, reason from main.rejects order by feed, line") == [
            ("confirmations", 4, "quantity must be a whole number of at least 1"),
            ("confirmations", 5, "quantity must be a whole number of at least 1"),
            ("confirmations", 6, "quantity must be a whole number of at least 1"),
            ("confirmations", 7, "quantity must be a whole number of at least 1"),
            ("orders", 4, "quantity-purchased must be a whole number of at least 0"),
            ("orders", 5, "quantity-purchased must be a whole number of at least 0"),
            ("orders", 6, "unparseable item-price"),
            ("orders", 7, "unparseable shipping-price"),
        ]
        assert rows(con, "select line, quantity from raw.confirmations order by line") == [(2, 1), (3, None), (8, 7)]
        assert rows(con, "select order_id, quantity, item_price, shipping_price from raw.orders order by all") == [
            ("O1", 0, Decimal("12.50"), Decimal("4.90")),
            ("O2", None, None, None),
        ]
    finally:
        con.close()


def test_a_lake_made_by_the_previous_release_gets_the_new_columns_and_keeps_its_rows(project):
    settings = project.settings()
    con = lake.connect(settings)
    try:  # the previous release's raw.orders had no shipping_price; a row it loaded
        con.execute("alter table lake.raw.orders drop column shipping_price")
        con.execute(
            "insert into lake.raw.orders (seller_id, file_id, line, order_id, order_item_id, latest_delivery_date) "
            "values ('acme', 1, 2, 'O1', 'I1', date '2026-11-05')"
        )
    finally:
        con.close()
    project.drop(
        "acme",
        "orders",
        "orders_2.txt",
        "order-id\torder-item-id\tshipping-price\tlatest-delivery-date\nO2\tI2\t3,50\t2026-11-05\n",
    )
    run_ingest(project)
    con = lake.connect(settings, read_only=True)
    try:
        assert rows(con, "select order_id, shipping_price from raw.orders order by all") == [
            ("O1", None),
            ("O2", Decimal("3.50")),
        ]
    finally:
        con.close()
