"""Reading the landing folder (spec section 7, issue 19): files are read only when complete, a change is seen
whatever its times say, nothing is passed over silently, and rows are read as written. Each case is the one a
reliability tester found on the release before: a half-copied file whose completion undid a later correction, a
stalled copy's half tracking number, a correction in place hidden by `touch -r`, an unlistable feed folder that
published nothing silently, sellers and files skipped unnamed, junk counted as a delivery, one Latin-1 byte turning
a catalog into mojibake, a quoted line break, a duplicated column, spreadsheet formulas in the lists, and two
marketplaces sharing one report."""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers.feeds import IN_BOTH, SCANNED, SHIPPED, D, confirmations_tsv, orders_tsv, query, scans_csv
from helpers.project import Project
from pipeline import lake
from pipeline.contract import FileStatus
from pipeline.fixfile import fix_file
from pipeline.freshness import stale_feeds
from pipeline.ingest import load
from pipeline.outputs import partition_file
from pipeline.report.assets import report_path
from pipeline.run import ingest, run

VTR = Path(sys.executable).with_name("vtr")
SETTLE = 5  # seconds


@contextlib.contextmanager
def copy_in_progress(path: Path):
    """A copy still being written: it touches the file every 0.2 s, however long the run takes to reach its folder
    on a loaded machine (a file dropped once and left may be older than the settle time by the time it is read)."""
    done = threading.Event()

    def write() -> None:
        while not done.wait(0.2):
            os.utime(path)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        done.set()
        writer.join()


LOADED, UNCHANGED, WAITING, NOT_READ, FAILED = (
    FileStatus.LOADED,
    FileStatus.UNCHANGED,
    FileStatus.WAITING,
    FileStatus.NOT_READ,
    FileStatus.FAILED,
)


def drop_account(project, seller="acme", channel="Amazon.se", tracking="1ZGOOD1", order="O-1"):
    """One package of a seller on a marketplace, confirmed with `tracking` and scanned: valid."""
    project.add_seller(seller)
    project.drop(seller, "catalog", "catalog.csv", "sku,category\nTOY1,Toys\n")
    project.drop(seller, "orders", f"orders_{order}.txt", orders_tsv((order, f"{order}-1", "TOY1", IN_BOTH, channel)))
    project.drop(
        seller,
        "confirmations",
        f"conf_{order}.txt",
        confirmations_tsv((order, f"{order}-1", SHIPPED, "UPS", "", tracking)),
    )
    project.drop(seller, "scans", f"scans_{order}.csv", scans_csv((tracking, SCANNED, "in_transit")))


def results(project) -> dict[str, load.FileResult]:
    return {f"{r.seller_id}:{r.file}": r for r in ingest(project.config)}


def published(settings, seller="acme", dataset="vtr_snapshots") -> list[dict]:
    return pq.read_table(partition_file(settings, dataset, D, seller)).to_pylist()


# --- files read only when complete -----------------------------------------------------------------------------------


def test_a_half_copied_file_waits_with_the_files_after_it_so_a_later_correction_is_kept(project, tmp_path):
    """File A is half-copied when a run starts; file B corrects order O-1 of A. Neither is read until A is whole;
    then A and B load together in name order: the outputs are those of a run where A arrived whole."""
    orders = orders_tsv(("O-1", "O-1-1", "TOY1", IN_BOTH), ("O-2", "O-2-1", "TOY1", IN_BOTH))
    scans = scans_csv(("1ZGOOD1", SCANNED, "in_transit"), ("1ZGOOD2", SCANNED, "in_transit"))
    a = confirmations_tsv(
        ("O-1", "O-1-1", SHIPPED, "UPS", "", "1ZWRONG1"), ("O-2", "O-2-1", SHIPPED, "UPS", "", "1ZGOOD2")
    )
    b = confirmations_tsv(("O-1", "O-1-1", SHIPPED, "UPS", "", "1ZGOOD1"))
    whole = Project(tmp_path / "whole")
    for p in (project, whole):
        p.drop("acme", "catalog", "catalog.csv", "sku,category\nTOY1,Toys\n")
        p.drop("acme", "orders", "orders.txt", orders)
        p.drop("acme", "scans", "scans.csv", scans)
        p.drop("acme", "confirmations", "conf_b.txt", b)
    whole.drop("acme", "confirmations", "conf_a.txt", a)
    run(whole.settings(), D)

    project.write_config(f"[ingest]\nsettle_seconds = {SETTLE}\n")
    time.sleep(SETTLE + 0.1)  # everything but A is complete
    half = project.drop("acme", "confirmations", "conf_a.txt", a[: a.index("1ZWRONG1") + 4])  # mid-number
    with copy_in_progress(half):
        first = run(project.settings(), D)
    waiting = {f["file"]: f["message"] for f in first.files(WAITING)}
    assert waiting.keys() == {"confirmations/conf_a.txt", "confirmations/conf_b.txt"}
    assert f"less than {SETTLE} s ago" in waiting["confirmations/conf_a.txt"]
    assert "after confirmations/conf_a.txt" in waiting["confirmations/conf_b.txt"]
    assert "not yet complete, left for the next run: acme confirmations/conf_a.txt" in first.render()
    assert not first.failures()

    project.drop("acme", "confirmations", "conf_a.txt", a)  # the copy completes
    time.sleep(SETTLE + 0.1)
    run(project.settings(), D)
    for dataset in ("vtr_snapshots", "invalid_packages"):
        assert published(project.settings(), dataset=dataset) == published(whole.settings(), dataset=dataset)
    assert [r["vtr"] for r in published(project.settings()) if r["scope"] == "overall"] == [1.0, 1.0]
    assert (
        fix_file(project.settings(), D, "acme", "Amazon.se").read_text()
        == fix_file(whole.settings(), D, "acme", "Amazon.se").read_text()
    )


def test_a_copy_stalled_mid_line_is_not_read_while_it_settles_even_with_an_old_modification_time(project):
    project.write_config("[ingest]\nsettle_seconds = 60\n")
    path = project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        confirmations_tsv(("O-1", "O-1-1", SHIPPED, "UPS", "", "1ZTEST0099"))[:-3],  # the copy stalled here
    )
    day_old = time.time() - 86_400
    os.utime(path, (day_old, day_old))  # as `touch -r` or `cp -p` would: the change time stays now
    got = results(project)["acme:confirmations/conf.txt"]
    assert got.status is WAITING and "less than 60 s ago" in got.message
    assert query(project, "select count(*) from raw.confirmations")[0][0] == 0
    assert query(project, "select count(*) from main.rejects")[0][0] == 0
    assert stale_feeds(project.settings(), "acme", D) == ["orders", "confirmations", "scans"]  # not delivered yet


# --- a change is seen whatever the times say -------------------------------------------------------------------------


def test_a_correction_in_place_with_size_and_modification_time_kept_is_new_content(project):
    path = project.drop(
        "acme", "confirmations", "conf.txt", confirmations_tsv(("O-1", "O-1-1", SHIPPED, "UPS", "", "1ZAAAA1"))
    )
    assert results(project)["acme:confirmations/conf.txt"].status is LOADED
    before = path.stat()
    path.write_text(path.read_text().replace("1ZAAAA1", "1ZBBBB1"))  # the same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # touch -r
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    assert results(project)["acme:confirmations/conf.txt"].status is LOADED
    assert query(project, "select file_id, tracking_key from raw.confirmations order by file_id") == [
        (1, "1ZAAAA1"),
        (2, "1ZBBBB1"),  # loaded after, like any new file: it wins
    ]


def test_a_lake_of_the_previous_release_keeps_working_and_a_file_read_again_is_not_read_a_third_time(
    project, monkeypatch
):
    settings = project.settings()
    path = project.drop("acme", "catalog", "catalog.csv", "sku,category\nTOY1,Toys\n")
    assert results(project)["acme:catalog/catalog.csv"].status is LOADED
    con = lake.connect(settings)
    lake.write(
        con,
        settings,
        lambda c: c.execute(
            "alter table lake.raw.files drop column changed_ns; alter table lake.raw.files drop column inode"
        ),
        what="make the lake of the previous release",
    )
    con.close()

    assert results(project)["acme:catalog/catalog.csv"].status is UNCHANGED  # its row matches by size and mtime
    assert query(project, "select changed_ns, inode from raw.files") == [(None, None)]

    project.drop("acme", "catalog", "more.csv", "sku,category\nTOY2,Toys\n")
    assert results(project)["acme:catalog/more.csv"].status is LOADED
    more = project.landing / "acme" / "catalog" / "more.csv"
    more.chmod(0o600)  # its change time moves, its content does not: read again once, found unchanged
    assert results(project)["acme:catalog/more.csv"].status is UNCHANGED

    def no_reading(*_args):
        raise AssertionError(f"read again: {_args}")

    monkeypatch.setattr(load, "inspect", no_reading)
    assert {r.status for r in results(project).values()} == {UNCHANGED}
    assert path.exists()


# --- nothing passed over silently ------------------------------------------------------------------------------------


def as_user_without_rights(args: list[str]) -> list[str]:
    """Run as a user without the right to read what is chmod 000: root keeps no capability to override it."""
    if os.geteuid() == 0:
        return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *args]
    return args


@pytest.mark.parametrize(
    ("folder", "named"),
    [
        ("acme/orders", "acme orders: the folder cannot be listed (Permission denied)"),
        ("acme", "acme .: the seller's folder cannot be listed (Permission denied)"),
    ],
)
def test_a_folder_that_cannot_be_listed_fails_that_sellers_feed_and_the_others_publish(project, folder, named):
    drop_account(project, "acme")
    drop_account(project, "bolt")
    (project.landing / folder).chmod(0)
    try:
        done = subprocess.run(
            as_user_without_rights([str(VTR), "run", "--config", str(project.config), "--date", str(D)]),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        (project.landing / folder).chmod(0o755)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("vtr:")]
    assert len(errors) == 1 and named in errors[0] and "Traceback" not in done.stderr
    assert published(project.settings(), "bolt")  # the other seller published
    assert "outputs of acme published from the files that loaded: INCOMPLETE" in done.stdout


def test_sellers_of_any_alphabet_with_spaces_are_processed_and_their_file_names_encoded(project):
    sellers = ["my shop", "köket", "_underscore"]
    for seller in sellers:
        drop_account(project, seller)
    (project.landing / ".hidden" / "orders").mkdir(parents=True)
    (project.landing / "bad\x07name" / "orders").mkdir(parents=True)
    summary = run(project.settings(), D)
    assert not summary.failures()
    assert sorted({a["seller_id"] for a in summary.figures()["accounts"]}) == sorted(sellers)
    settings = project.settings()
    assert partition_file(settings, "vtr_snapshots", D, "my shop").name == "my%20shop.parquet"
    for seller in sellers:
        assert {r["seller_id"] for r in published(settings, seller)} == {seller}
        assert report_path(settings, seller, D, "Amazon.se").exists()
    assert report_path(settings, "my shop", D, "Amazon.se").parent.name == "my%20shop"
    assert (settings.warehouse.with_name(settings.warehouse.name + ".locks") / "seller-my%20shop.lock").exists()
    text = summary.render()
    assert "not read: landing folder .hidden/: not a seller id: a name starting with a dot" in text
    assert "not read: landing folder bad\\x07name/: not a seller id: the name holds a control character" in text
    index = (settings.output / "reports" / "index.html").read_text()
    assert "my shop" in index and "köket" in index


def test_junk_and_unfinished_copies_are_never_read_nor_a_delivery_and_misplaced_files_are_named(project):
    drop_account(project)
    scans = project.landing / "acme" / "scans"
    (scans / "scans_O-1.csv").unlink()
    for name in ("Thumbs.db", "desktop.ini", ".DS_Store", "scans.csv.part", "scans.csv.crdownload", "~$scans.xlsx"):
        (scans / name).write_bytes(b"\x00\x01 not a scan [desktop]\n")
    (project.landing / "acme" / "Scans").mkdir()
    (project.landing / "acme" / "Scans" / "scans.csv").write_text(scans_csv(("1ZGOOD1", SCANNED, "in_transit")))
    (project.landing / "acme" / "orders.txt").write_text(orders_tsv(("O-9", "O-9-1", "TOY1", IN_BOTH)))
    summary = run(project.settings(), D)
    assert not summary.failures()
    assert summary.stale == {"acme": ["scans"]}  # junk is no delivery
    text = summary.render()
    assert "not read: acme Scans/: not a feed folder (the feeds: catalog, orders, confirmations, scans" in text
    assert "not read: acme orders.txt: a file directly in the seller's folder" in text
    assert query(project, "select count(*) from raw.orders where order_id = 'O-9'")[0][0] == 0
    assert query(project, "select count(*) from raw.files where feed = 'scans'")[0][0] == 0


# --- rows as written -------------------------------------------------------------------------------------------------


def test_a_line_that_is_not_utf8_in_a_utf8_file_is_a_reject_and_a_wholly_cp1252_file_is_cp1252(project):
    project.drop(
        "acme",
        "catalog",
        "a_mixed.csv",
        "sku,category\nSKU-1,Kök & Bad\n".encode() + "SKU-2,Trädgård\n".encode("latin-1") + "SKU-3,Café\n".encode(),
    )
    project.drop("acme", "catalog", "b_cp1252.csv", "sku,category\nSKU-4,Trädgård & Kök\n".encode("cp1252"))
    got = results(project)
    assert (got["acme:catalog/a_mixed.csv"].rows_read, got["acme:catalog/a_mixed.csv"].rows_rejected) == (3, 1)
    assert query(project, "select sku, category from raw.catalog order by sku") == [
        ("SKU-1", "Kök & Bad"),
        ("SKU-3", "Café"),
        ("SKU-4", "Trädgård & Kök"),
    ]
    assert query(project, "select file, line, reason, fields from main.rejects") == [
        ("catalog/a_mixed.csv", 3, "not valid UTF-8 (the file's other lines are)", None)
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"], ids=["read by DuckDB", "read line by line"])
def test_quoted_fields_may_hold_delimiters_quotes_and_line_breaks_and_line_numbers_stay_right(project, encoding):
    text = (
        'sku,category\nSKU-1,"Bath, ""Spa"""\nSKU-2,"Two\nlines"\n"SKU-3","Garden"\nSKU-4\nSKU-5,Trädgård\nSKU-6,Toys\n'
    )
    project.drop("acme", "catalog", "catalog.csv", text.encode(encoding))
    got = results(project)["acme:catalog/catalog.csv"]
    assert (got.rows_read, got.rows_rejected) == (6, 2)
    assert query(project, "select line, sku, category from raw.catalog order by line") == [
        (2, "SKU-1", 'Bath, "Spa"'),
        (5, "SKU-3", "Garden"),
        (7, "SKU-5", "Trädgård"),
        (8, "SKU-6", "Toys"),
    ]
    assert query(project, "select line, reason from main.rejects order by line") == [
        (3, "control character in a value"),  # a line break in a category is no category
        (6, "wrong column count: 1 instead of 2"),
    ]


def test_a_header_naming_a_column_twice_fails_the_file_in_one_line(project, capsys):
    project.drop(
        "acme",
        "confirmations",
        "conf.txt",
        "order-id\torder-item-id\tship-date\ttracking-number\tcarrier-code\ttracking-number\n"
        "O-1\tO-1-1\t2026-11-02\t\tUPS\t1ZGOOD1\n",
    )
    got = results(project)["acme:confirmations/conf.txt"]
    assert got.status is FAILED and got.message.startswith("the header names column tracking-number twice")
    assert query(project, "select count(*) from raw.confirmations")[0][0] == 0


# --- exports safe to open, names that never collide ------------------------------------------------------------------


def test_formula_like_values_get_an_apostrophe_in_the_csv_lists_and_stay_raw_in_the_fix_file(project):
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nTOY1,+Toys\n")
    project.drop("acme", "orders", "orders.txt", orders_tsv(("=1+1", "=1+1-1", "TOY1", IN_BOTH)))
    project.drop(
        "acme", "confirmations", "conf.txt", confirmations_tsv(("=1+1", "=1+1-1", SHIPPED, "Other", "@SUM", "=2+3"))
    )
    run(project.settings(), D)
    report = report_path(project.settings(), "acme", D, "Amazon.se")
    with report.with_name(f"{report.stem}_measured_invalid.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["order_id"], row["tracking_number"], row["carrier"], row["categories"]) == (
        "'=1+1",
        "'=2+3",
        "'@SUM",
        "'+Toys",
    )
    fix = fix_file(project.settings(), D, "acme", "Amazon.se").read_text().splitlines()
    assert fix[1].split("\t")[:2] == ["=1+1", "=1+1-1"]  # uploaded to the marketplace as the seller's own values
    assert "@SUM" in fix[1].split("\t")


def test_marketplaces_differing_only_in_punctuation_get_their_own_report_and_fix_file(project):
    drop_account(project, channel="Amazon se", order="O-1", tracking="1ZGOOD1")
    drop_account(project, channel="Amazon_se", order="O-2", tracking="1ZMISSING")  # not scanned: one to fix
    (project.landing / "acme" / "scans" / "scans_O-2.csv").unlink()
    summary = run(project.settings(), D)
    reports = summary.figures()["reports"]["acme"]
    fixes = summary.figures()["fix_files"]["acme"]
    assert len(set(reports)) == 2
    assert {Path(p).name for p in fixes} >= {"acme_Amazon%20se.txt", "acme_Amazon_se.txt"}  # and their .xlsx
    assert Path(fix_file(project.settings(), D, "acme", "Amazon_se")).read_text().count("\n") == 2
    assert Path(fix_file(project.settings(), D, "acme", "Amazon se")).read_text().count("\n") == 1
