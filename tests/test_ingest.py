"""Ingest (issue 2): every feed format loads, bad rows are rejected with file, line and reason,
broken files fail alone, files load once, and no buyer data reaches the warehouse, the rejects or a log."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import ingest as ingest_module
from pipeline.cli import main
from pipeline.db import connect
from pipeline.ingest import COLUMNS, ingest

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc

# Every distinctive buyer / recipient value in the fixtures (names, e-mail, phones, address lines, city, postcode,
# and the name of who signed for a parcel in a carrier's event text).
PII = ["Quaxworth", "QUAXWORTH", "zebulon.quaxworth@example", "555 0199", "555 0142", "Quaxgatan", "Lgh 1204",
       "Wobblestone", "Quaxholm", "41319", "Göteborg"]

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


def run_ingest(project):
    settings = project.settings()
    con = connect(settings)
    try:
        return {r.file: r for r in ingest(con, settings)}
    finally:
        con.close()


@pytest.fixture
def open_warehouse(project):
    """Open the warehouse after an ingest (closing it at the end of the test)."""
    cons = []

    def _open():
        cons.append(connect(project.settings()))
        return cons[-1]

    yield _open
    for con in cons:
        con.close()


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
        for r in rows(con, f"select order_id, order_item_id, sku, quantity, latest_delivery_date, marketplace "
                           f"from (\n{sql}\n) order by all")
    }


def rejects(con, feed):
    return rows(con, "select file, line, reason, fields from main.rejects where feed = ? order by file, line", [feed])


# --- formats -------------------------------------------------------------------------------------------------------

def test_order_report_variants_continuation_lines_and_later_overwrite(project, open_warehouse):
    drop_fixture(project, "orders", "orders_amazon.txt", "2026-11-01-orders.txt")
    first = run_ingest(project)["orders/2026-11-01-orders.txt"]
    assert (first.status, first.rows_read, first.rows_loaded, first.rows_rejected) == ("loaded", 7, 4, 3)

    con = open_warehouse()
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
    con.close()

    # a later file with the other header variant (order-id, quantity), Windows-1252 and CRLF overwrites non-blank values
    drop_fixture(project, "orders", "orders_cp1252_crlf.txt", "2026-11-02-orders.tsv")
    second = run_ingest(project)["orders/2026-11-02-orders.tsv"]
    assert (second.status, second.rows_read, second.rows_loaded, second.rows_rejected) == ("loaded", 2, 2, 0)
    con = open_warehouse()
    items = current_order_items(con)
    assert len(items) == 4
    assert items[("111-0000001-0000001", "10002")] == ("Kök-1", 2, dt.date(2026, 11, 9), "Amazon.se")
    assert items[("111-0000004-0000004", "40001")] == ("SKU-D", 1, dt.date(2026, 11, 10), "Amazon.de")


def test_header_with_utf8_bom_and_crlf(project, open_warehouse):
    drop_fixture(project, "orders", "orders_bom.txt")
    result = run_ingest(project)["orders/orders_bom.txt"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 0)
    con = open_warehouse()
    assert rows(con, "select order_id, sku, latest_delivery_date, sales_channel from raw.orders") == [
        ("111-0000005-0000005", "SKU-E", dt.date(2026, 11, 11), "Amazon.se")]


def test_a_spreadsheets_utf16_unicode_text_is_read(project, open_warehouse):
    text = (FIXTURES / "confirmations.txt").read_text().replace("\n", "\r\n")
    project.drop("acme", "confirmations", "edited.txt", text.encode("utf-16"))  # with a BOM, as Excel saves it
    result = run_ingest(project)["confirmations/edited.txt"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 3)
    con = open_warehouse()
    assert rows(con, "select carrier_name from raw.confirmations order by line") == [(None,), ("PostNord Sverige",)]


def test_confirmations_tsv(project, open_warehouse):
    drop_fixture(project, "confirmations", "confirmations.txt")
    result = run_ingest(project)["confirmations/confirmations.txt"]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    con = open_warehouse()
    assert rows(con, "select line, order_id, order_item_id, ship_date, carrier_code, carrier_name, tracking_number "
                     "from raw.confirmations order by line") == [
        (2, "111-0000001-0000001", "10001", dt.date(2026, 11, 2), "UPS", None, "1Z 999-AA1"),
        (3, "111-0000003-0000003", None, dt.date(2026, 11, 2), "Other", "PostNord Sverige", "NULL"),
    ]
    assert [r[1:3] for r in rejects(con, "confirmations")] == [
        (4, "missing ship-date"), (5, "missing order-id"), (6, "unparseable ship-date")]


def test_scans_canonical_csv_with_quoted_commas(project, open_warehouse):
    drop_fixture(project, "scans", "scans.csv")
    result = run_ingest(project)["scans/scans.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    con = open_warehouse()
    # quoted fields with commas and "" split right; the event's text is not stored (it names who signed)
    assert rows(con, "select line, tracking_number, carrier, event_at, status from raw.scans order by line") == [
        (2, "1Z999AA1", "UPS", dt.datetime(2026, 11, 3, 7, tzinfo=UTC), "in_transit"),
        # no offset means UTC; statuses compare without regard to case
        (3, "1Z999AA1", "UPS", dt.datetime(2026, 11, 3, 20, tzinfo=UTC), "delivered"),
    ]
    assert [r[1:3] for r in rejects(con, "scans")] == [
        (4, "unknown status teleported"), (5, "wrong column count: 4 instead of 7"), (6, "unparseable event_time")]


def test_easypost_json_lines(project, open_warehouse):
    drop_fixture(project, "scans", "easypost.jsonl")
    result = run_ingest(project)["scans/easypost.jsonl"]
    # 6 events from three trackers; the blank line 4 is not counted; line 3 is not JSON
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 7, 6, 1)
    con = open_warehouse()
    # return_to_sender is a (returned) scan; cancelled and error are not
    assert rows(con, "select line, tracking_number, carrier, event_at, status from raw.scans "
                     "order by line, event_at") == [
        (1, "EZ1000000001", "USPS", dt.datetime(2026, 11, 2, 9, tzinfo=UTC), "pre_transit"),
        (1, "EZ1000000001", "USPS", dt.datetime(2026, 11, 3, 9, tzinfo=UTC), "in_transit"),
        (1, "EZ1000000001", "USPS", dt.datetime(2026, 11, 5, 9, tzinfo=UTC), "returned"),
        (2, "EZ1000000002", "USPS", dt.datetime(2026, 11, 3, 10, tzinfo=UTC), "unknown"),
        (2, "EZ1000000002", "USPS", dt.datetime(2026, 11, 3, 11, tzinfo=UTC), "unknown"),
        (5, "EZ1000000003", "USPS", dt.datetime(2026, 11, 4, 17, tzinfo=UTC), "delivered"),
    ]
    assert [r[1:3] for r in rejects(con, "scans")] == [(3, "invalid JSON")]


def test_json_lines_with_a_bom_and_crlf_read_like_plain_ones(project, open_warehouse):
    text = (FIXTURES / "aftership.jsonl").read_text()
    project.drop("acme", "scans", "aftership-bom.jsonl", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    result = run_ingest(project)["scans/aftership-bom.jsonl"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 9, 0)
    con = open_warehouse()
    assert rows(con, "select line, count(*) from raw.scans group by line order by line") == [(1, 5), (2, 4)]


def test_blank_lines_and_empty_spreadsheet_rows_are_not_rows(project, open_warehouse):
    project.drop("acme", "scans", "scans.csv", "tracking_number,carrier,event_time,status,event_code,description,location\n"
                 "\n  \n,,,,,,\n1Z1,UPS,2026-11-03T08:00:00Z,in_transit,,,\n\t\n1Z2,UPS,2026-11-03,lost,,,\n")
    project.drop("acme", "orders", "orders.txt", "order-id\torder-item-id\tlatest-delivery-date\n\t\t\n1\t1\t2026-11-05\n")
    results = run_ingest(project)
    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results.values()] == [(1, 1, 0), (2, 1, 1)]
    con = open_warehouse()
    assert rows(con, "select line from raw.scans") == [(5,)]
    assert rows(con, "select line from raw.orders") == [(3,)]
    assert rows(con, "select line, reason from main.rejects") == [(7, "unknown status lost")]


def test_aftership_json_lines_with_and_without_wrapper(project, open_warehouse):
    drop_fixture(project, "scans", "aftership.jsonl")
    result = run_ingest(project)["scans/aftership.jsonl"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 9, 0)
    con = open_warehouse()
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


def test_catalog_csv(project, open_warehouse):
    drop_fixture(project, "catalog", "catalog.csv")
    run_ingest(project)
    con = open_warehouse()
    assert rows(con, "select sku, category from raw.catalog order by line") == [("SKU-A", "Toys"), ("Kök-1", "Home, Kitchen")]
    assert rejects(con, "catalog") == [("catalog/catalog.csv", 4, "missing category", {"sku": "SKU-B"})]


@pytest.mark.parametrize("feed,fixture", [(f, n) for f, names in ALL_FIXTURES.items() for n in names])
def test_gzip_loads_the_same_and_a_gzipped_copy_is_the_same_file(project, feed, fixture):
    drop_fixture(project, feed, fixture, "a-" + fixture, gz=True)
    packed = run_ingest(project)[f"{feed}/a-{fixture}.gz"]
    assert packed.status == "loaded", packed.message

    drop_fixture(project, feed, fixture, "b-" + fixture)
    again = run_ingest(project)[f"{feed}/b-{fixture}"]
    assert again.status == "skipped"
    assert f"a-{fixture}.gz" in again.message
    assert packed.rows_read == packed.rows_loaded + packed.rows_rejected > 0


def test_gzip_and_plain_give_the_same_rows(project, tmp_path, open_warehouse):
    for feed, names in ALL_FIXTURES.items():
        for name in names:
            drop_fixture(project, feed, name, gz=True)
    run_ingest(project)
    con = open_warehouse()
    packed = {t: rows(con, f"select * exclude (file_id) from raw.{t} order by all")
              for t in ("orders", "confirmations", "scans", "catalog")}
    packed_rejects = rows(con, "select feed, replace(file, '.gz', ''), line, reason, fields from main.rejects order by all")
    con.close()

    plain = type(project)(tmp_path / "plain")
    for feed, names in ALL_FIXTURES.items():
        for name in names:
            drop_fixture(plain, feed, name)
    run_ingest(plain)
    con = connect(plain.settings())
    try:
        for table, expected in packed.items():
            assert rows(con, f"select * exclude (file_id) from raw.{table} order by all") == expected
        assert rows(con, "select feed, file, line, reason, fields from main.rejects order by all") == packed_rejects
    finally:
        con.close()


# --- personal data -------------------------------------------------------------------------------------------------

def test_no_buyer_data_in_the_warehouse_file_rejects_logs_or_cli_output(project, caplog, capsys):
    for feed, names in ALL_FIXTURES.items():
        for name in names:
            drop_fixture(project, feed, name)
    drop_fixture(project, "orders", "orders_amazon.txt", "zz-orders.txt.gz", gz=True)  # skipped copy
    settings = project.settings()
    con = connect(settings)
    # stored strings uncompressed, so that a buyer's name in any table would show in the file's bytes
    con.execute("set force_compression = 'uncompressed'")
    caplog.set_level(logging.DEBUG)
    results = ingest(con, settings)
    assert {r.status for r in results} == {"loaded", "skipped"}
    stored_rejects = str(rows(con, "select * from main.rejects"))
    con.execute("checkpoint")
    con.close()

    assert main(["ingest", "--config", str(project.config)]) == 0
    cli = capsys.readouterr()

    files = [settings.warehouse] + [p for p in settings.warehouse.parent.iterdir() if p.name.endswith(".wal")]
    stored = b"".join(p.read_bytes() for p in files)
    assert "Kök-1".encode() in stored and b"EZ1000000003" in stored  # the check can see stored text
    assert [v for v in PII if v.encode("utf-8") in stored or v.encode("cp1252") in stored] == []
    assert [v for v in PII if v in stored_rejects] == []
    assert [v for v in PII if v in caplog.text] == []
    assert [v for v in PII if v in cli.out + cli.err] == []


# --- bad rows --------------------------------------------------------------------------------------------------------

def test_every_kind_of_bad_row_is_rejected_with_file_line_and_reason(project, open_warehouse):
    for feed, names in ALL_FIXTURES.items():
        for name in names:
            drop_fixture(project, feed, name)
    run_ingest(project)
    con = open_warehouse()
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
        ({"order-id": "111-0000002-0000002", "order-item-id": "20001", "purchase-date": "31/11/2026", "sku": "SKU-A",
          "quantity-purchased": "1", "latest-delivery-date": "2026-11-07", "sales-channel": "Amazon.se"},)]
    for feed, fields in rows(con, "select feed, fields from main.rejects where fields is not null"):
        assert set(fields) <= {names[0] for names in COLUMNS[feed].values()}
    # the manifest: rows loaded + rows rejected = rows read, and they match the raw tables and the rejects
    manifest = rows(con, """
        select f.path, f.rows_read, f.rows_loaded, f.rows_rejected,
            (select count(*) from raw.orders as t where t.file_id = f.file_id)
            + (select count(*) from raw.confirmations as t where t.file_id = f.file_id)
            + (select count(*) from raw.scans as t where t.file_id = f.file_id)
            + (select count(*) from raw.catalog as t where t.file_id = f.file_id),
            (select count(*) from main.rejects as r where r.file_id = f.file_id)
        from raw.files as f order by f.file_id""")
    assert len(manifest) == 8
    for path, read, loaded, rejected, in_raw, in_rejects in manifest:
        assert (loaded + rejected, loaded, rejected) == (read, in_raw, in_rejects), path


# --- broken files ----------------------------------------------------------------------------------------------------

GOOD_ORDERS = (FIXTURES / "orders_bom.txt").read_bytes()
BROKEN = {
    "binary": ("orders", "report.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary content"),
    "truncated gzip": ("orders", "report.txt.gz", gzip.compress(GOOD_ORDERS * 50)[:-40], "gzip"),
    "missing column": ("orders", "report.txt",
                       b"order-id\torder-item-id\tsku\n111-1\t1\tSKU-A\n", "missing required column(s): latest-delivery-date"),
    "empty": ("orders", "report.txt", b"", "no header line"),
    "not JSON lines": ("scans", "tracking.jsonl", b"<html>\n<body>502 Bad Gateway</body>\n</html>\n", "no line is a JSON object"),
    "JSON array": ("scans", "tracking.json",
                   b'[{"tracking_code": "EZ1", "tracking_details": []},\n {"tracking_code": "EZ2"}]\n',
                   "no line is a JSON object"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_file_fails_alone_and_is_retried(project, open_warehouse, caplog, kind):
    feed, name, content, problem = BROKEN[kind]
    drop_fixture(project, "orders", "orders_amazon.txt", "a-good.txt")
    drop_fixture(project, "scans", "scans.csv")
    project.drop("acme", feed, name, content)
    caplog.set_level(logging.INFO, logger="pipeline.ingest")
    results = run_ingest(project)
    broken = results[f"{feed}/{name}"]
    assert broken.status == "failed" and problem in broken.message
    assert any(name in r.getMessage() and problem in r.getMessage() for r in caplog.records)
    assert results["orders/a-good.txt"].status == results["scans/scans.csv"].status == "loaded"
    con = open_warehouse()
    assert rows(con, "select path from raw.files order by file_id") == [("orders/a-good.txt",), ("scans/scans.csv",)]
    assert rows(con, "select count(*) from raw.orders") == [(4,)]
    assert rows(con, "select count(*) from raw.scans") == [(2,)]
    assert rows(con, "select distinct file from main.rejects order by 1") == [("orders/a-good.txt",), ("scans/scans.csv",)]
    con.close()

    # the next run tries it again (a failed file is not remembered) ...
    again = run_ingest(project)
    assert again[f"{feed}/{name}"].status == "failed"
    assert again["orders/a-good.txt"].status == "skipped"
    # ... and loads it once it is replaced with a readable file
    fixed = GOOD_ORDERS if feed == "orders" else (FIXTURES / "aftership.jsonl").read_bytes()
    project.drop("acme", feed, name, gzip.compress(fixed) if name.endswith(".gz") else fixed)
    assert run_ingest(project)[f"{feed}/{name}"].status == "loaded"


def test_a_json_file_for_a_delimited_feed_fails(project):
    project.drop("acme", "orders", "orders.json", b'{"order-id": "1"}\n')
    result = run_ingest(project)["orders/orders.json"]
    assert result.status == "failed" and "scans feed only" in result.message


# --- files load once, in name order ----------------------------------------------------------------------------------

def test_a_redropped_file_is_skipped_and_said_so(project, open_warehouse):
    drop_fixture(project, "orders", "orders_amazon.txt", "2026-11-01.txt")
    run_ingest(project)
    drop_fixture(project, "orders", "orders_amazon.txt", "2026-11-01 (1).txt")
    results = run_ingest(project)
    redropped = results["orders/2026-11-01 (1).txt"]
    assert redropped.status == "skipped"
    assert "same content as orders/2026-11-01.txt" in redropped.message
    con = open_warehouse()
    assert rows(con, "select count(*) from raw.files") == [(1,)]
    assert rows(con, "select count(*) from raw.orders") == [(4,)]
    assert rows(con, "select count(*) from main.rejects") == [(3,)]


def test_files_load_in_name_order_and_the_later_name_wins(project, open_warehouse):
    header = "order-id\torder-item-id\tsku\tlatest-delivery-date\n"
    late = project.drop("acme", "orders", "2026-11-02.txt", header + "111-1\t1\tSKU-NEW\t2026-11-09\n")
    early = project.drop("acme", "orders", "2026-11-01.txt", header + "111-1\t1\tSKU-OLD\t2026-11-08\n")
    os.utime(early, (time.time() + 60, time.time() + 60))  # written last: name order, not time order, decides
    assert list(run_ingest(project)) == ["orders/2026-11-01.txt", "orders/2026-11-02.txt"]
    con = open_warehouse()
    assert rows(con, "select path from raw.files order by file_id") == [("orders/2026-11-01.txt",), ("orders/2026-11-02.txt",)]
    assert current_order_items(con)[("111-1", "1")][0] == "SKU-NEW"
    assert late.exists()


# --- interrupted load ------------------------------------------------------------------------------------------------

INGEST_SCRIPT = """
import logging, sys
from pipeline.db import connect
from pipeline.ingest import ingest
from pipeline.settings import load_settings
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
settings = load_settings(sys.argv[1])
con = connect(settings)
ingest(con, settings)
con.close()
"""


def test_a_killed_load_leaves_nothing_and_the_next_run_loads_the_file_whole(project, open_warehouse):
    # a small memory limit: the load of a file many times smaller than memory must not run out of it
    project.write_config('[duckdb]\nmemory_limit = "256MB"\n')
    drop_fixture(project, "catalog", "catalog.csv")  # loads first (catalog is the first feed) and says so
    n = 2_000_000
    big = project.landing / "acme" / "orders" / "big.txt"
    with big.open("w") as f:
        f.write("order-id\torder-item-id\tbuyer-name\tsku\tquantity-purchased\tlatest-delivery-date\n")
        f.writelines(f"111-{i:07d}\t{i}\tZebulon Quaxworth\tSKU-{i % 50}\t1\t2026-11-05\n" for i in range(n))

    proc = subprocess.Popen([sys.executable, "-c", INGEST_SCRIPT, str(project.config)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
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

    con = open_warehouse()
    assert rows(con, "select path from raw.files") == [("catalog/catalog.csv",)]
    assert rows(con, "select count(*) from raw.orders") == [(0,)]
    assert rows(con, "select count(*) from main.rejects where feed = 'orders'") == [(0,)]
    con.close()

    result = run_ingest(project)["orders/big.txt"]
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", n, 0)
    con = open_warehouse()
    assert rows(con, "select count(*), count(distinct line), min(line), max(line) from raw.orders") == [(n, n, 2, n + 1)]


# --- command line ----------------------------------------------------------------------------------------------------

def test_vtr_ingest_prints_per_seller_and_feed_and_exits_1_on_a_failed_file(project, capsys):
    project.add_seller("bolt")
    drop_fixture(project, "orders", "orders_amazon.txt")
    drop_fixture(project, "scans", "easypost.jsonl", seller="bolt")
    assert main(["ingest", "--config", str(project.config)]) == 0
    out = capsys.readouterr().out.splitlines()
    # seller, feed, files loaded, skipped, failed, rows loaded, rows rejected
    assert ["acme", "orders", "1", "0", "0", "4", "3"] in [line.split() for line in out]
    assert ["bolt", "scans", "1", "0", "0", "6", "1"] in [line.split() for line in out]

    drop_fixture(project, "orders", "orders_amazon.txt", "copy.txt")
    project.drop("bolt", "scans", "broken.jsonl.gz", b"\x1f\x8b\x08\x00garbage")
    assert main(["ingest", "--config", str(project.config)]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert ["acme", "orders", "0", "2", "0", "0", "0"] in [line.split() for line in out]
    assert ["bolt", "scans", "0", "1", "1", "0", "0"] in [line.split() for line in out]
    skipped = next(line for line in out if "orders/copy.txt" in line)
    assert skipped.startswith("skipped acme orders/copy.txt") and "orders/orders_amazon.txt" in skipped
    failed = next(line for line in out if "broken.jsonl.gz" in line)
    assert failed.startswith("FAILED bolt scans/broken.jsonl.gz") and "gzip" in failed
    assert "could not be read" in captured.err and "Traceback" not in captured.err


# --- files already loaded --------------------------------------------------------------------------------------------

def test_a_file_loaded_before_is_not_read_again_but_one_rewritten_in_place_is(project, monkeypatch):
    path = drop_fixture(project, "catalog", "catalog.csv")
    assert run_ingest(project)["catalog/catalog.csv"].status == "loaded"

    import pipeline.ingest as ingest_module

    def no_reading(_path):
        raise AssertionError("an unchanged file loaded before was read again")

    with monkeypatch.context() as m:
        m.setattr(ingest_module, "_read_content", no_reading)
        assert run_ingest(project)["catalog/catalog.csv"].status == "skipped"

    # corrections written over the same file name: new content, so it loads on top
    path.write_text(path.read_text() + "SKU-NEW,Garden\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    result = run_ingest(project)["catalog/catalog.csv"]
    assert result.status == "loaded" and result.rows_loaded > 0


@pytest.mark.parametrize("batch_bytes", [None, 1], ids=["one batch", "a batch per file"])
def test_files_read_together_keep_their_own_line_numbers_and_name_order(project, open_warehouse, caplog, monkeypatch,
                                                                         batch_bytes):
    """New files of a feed are read in one pass where DuckDB's reader maps their lines one to one; a file with
    a blank line, a wrong column count or a line break inside quotes is read line by line instead. Either way a
    reject names its own file and line, and the load order follows the names, however the files are batched."""
    if batch_bytes:
        monkeypatch.setattr("pipeline.ingest.BATCH_BYTES", batch_bytes)
    header = "tracking_number,carrier,event_time,status,event_code,description,location\n"
    good = "1Z999,UPS,2026-11-20T10:00:00Z,in_transit,I,Scanned,\"Lund, SE\"\n"
    project.drop("acme", "scans", "a_clean.csv", header + good + good + "1Z998,UPS,2026-11-20T11:00:00Z,lost,X,?,\n")
    project.drop("acme", "scans", "b_blank_and_short.csv", header + good + "\n" + "1Z997,UPS\n" + good)
    project.drop("acme", "scans", "c_quoted_break.csv",
                 header + "1Z996,UPS,2026-11-20T12:00:00Z,in_transit,I,\"two\nlines\",x\n" + "1Z995,UPS,never,in_transit,I,,\n")
    project.drop("acme", "scans", "d_clean.csv.gz",
                 gzip.compress((header + good + "1Z994,UPS,yesterday,in_transit,I,,\n").encode()))
    caplog.set_level(logging.WARNING)
    results = run_ingest(project)
    assert {r.file: (r.status, r.rows_read, r.rows_rejected) for r in results.values()} == {
        "scans/a_clean.csv": ("loaded", 3, 1),
        "scans/b_blank_and_short.csv": ("loaded", 3, 1),
        "scans/c_quoted_break.csv": ("loaded", 3, 3),
        "scans/d_clean.csv.gz": ("loaded", 2, 1),
    }
    con = open_warehouse()
    assert rows(con, "select file, line, reason from main.rejects order by file, line") == [
        ("scans/a_clean.csv", 4, "unknown status lost"),
        ("scans/b_blank_and_short.csv", 4, "wrong column count: 2 instead of 7"),
        ("scans/c_quoted_break.csv", 2, "wrong column count: 6 instead of 7"),
        ("scans/c_quoted_break.csv", 3, "wrong column count: 2 instead of 7"),
        ("scans/c_quoted_break.csv", 4, "unparseable event_time"),
        ("scans/d_clean.csv.gz", 3, "unparseable event_time"),
    ]
    assert rows(con, "select path from raw.files order by file_id") == [
        ("scans/a_clean.csv",), ("scans/b_blank_and_short.csv",), ("scans/c_quoted_break.csv",), ("scans/d_clean.csv.gz",)]
    assert rows(con, "select f.path, s.line from raw.scans as s join raw.files as f using (file_id) "
                     "order by s.file_id, s.line") == [
        ("scans/a_clean.csv", 2), ("scans/a_clean.csv", 3), ("scans/b_blank_and_short.csv", 2),
        ("scans/b_blank_and_short.csv", 5), ("scans/d_clean.csv.gz", 2)]
    assert not caplog.records  # the pass over all files did not fail and fall back


def test_gzipped_files_load_under_a_small_memory_limit(project):
    """DuckDB's CSV reader allocates a compressed file's buffers whole, sized from its line limit: with a
    100 MB line limit every .gz file asked for 1.5 GiB and failed under a memory limit below that."""
    project.write_config('[duckdb]\nmemory_limit = "256MB"\n')
    drop_fixture(project, "scans", "aftership.jsonl", gz=True)
    drop_fixture(project, "scans", "scans.csv", gz=True)
    results = run_ingest(project)
    assert {r.file: (r.status, r.rows_loaded) for r in results.values()} == {
        "scans/aftership.jsonl.gz": ("loaded", 9), "scans/scans.csv.gz": ("loaded", 2)}


def test_a_file_gone_before_the_batch_reads_it_fails_alone(project, monkeypatch, caplog):
    """When the statement reading a batch fails (here a file removed after it was hashed), the batch is rolled
    back and its files load one by one: the others load, the missing one fails with its name."""
    header = "tracking_number,carrier,event_time,status,event_code,description,location\n"
    for name in ("a.csv", "b.csv", "c.csv"):
        project.drop("acme", "scans", name, header + f"1Z{name[0]},UPS,2026-11-20T10:00:00Z,in_transit,,,\n")
    inspect = ingest_module._inspect

    def inspect_then_remove_b(feed, path, rel):
        f = inspect(feed, path, rel)
        if path.name == "b.csv":
            path.unlink()
        return f

    monkeypatch.setattr(ingest_module, "_inspect", inspect_then_remove_b)
    caplog.set_level(logging.WARNING)
    results = run_ingest(project)
    assert {r.file: (r.status, r.rows_loaded) for r in results.values()} == {
        "scans/a.csv": ("loaded", 1), "scans/b.csv": ("failed", 0), "scans/c.csv": ("loaded", 1)}
    assert "could not be read" in results["scans/b.csv"].message
    assert "reading 3 files together failed" in caplog.text
