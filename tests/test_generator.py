"""The sample-data generator: same seed same bytes, files the pipeline reads without rejects, a visible category dip."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pipeline.lake import connect
from pipeline.run import run
from pipeline.settings import load_settings
from vtrdemo.generator import PII_COLUMNS, generate

START = dt.date(2026, 3, 2)
DAYS = 60


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _tsv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a = generate(tmp_path / "a", start=START, days=12, packages=800, seed=3)
    b = generate(tmp_path / "b", start=START, days=12, packages=800, seed=3)
    generate(tmp_path / "c", start=START, days=12, packages=800, seed=4)
    files_a, files_b, files_c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert files_a == files_b
    assert len(files_a) == a.files
    assert files_a["nordic-home/orders/orders_2026-03-05.txt"] != files_c["nordic-home/orders/orders_2026-03-05.txt"]
    # a second call replaces the seller's files rather than adding to them
    generate(tmp_path / "a", start=START, days=12, packages=800, seed=3)
    assert _files(tmp_path / "a") == files_a


def test_files_are_named_by_day_and_carry_buyer_data(tmp_path):
    stats = generate(tmp_path, start=START, days=10, packages=600)
    seller = tmp_path / "nordic-home"
    orders = sorted((seller / "orders").iterdir())
    assert [p.name for p in orders] == [f"orders_{START + dt.timedelta(days=d)}.txt" for d in range(10)]
    assert len(list((seller / "confirmations").iterdir())) == 10
    scans = {p.name for p in (seller / "scans").iterdir()}
    assert f"scans_{START}.csv" in scans
    assert any(n.endswith("_easypost.jsonl") for n in scans) and any(n.endswith("_aftership.jsonl.gz") for n in scans)

    rows = [r for p in orders for r in _tsv(p)]
    assert len(rows) == stats.order_lines
    assert set(PII_COLUMNS) <= set(rows[0])
    full = [r for r in rows if r["sku"]]
    assert len(rows) - len(full) == stats.continuation_lines
    for column in ("buyer-name", "buyer-email", "recipient-name", "ship-address-1"):
        assert all(r[column] for r in full), column
    assert all(re.fullmatch(r"\d{3}-\d{7}-\d{7}", r["order-id"]) for r in rows)
    assert all(re.fullmatch(r"\d{14}", r["order-item-id"]) for r in rows)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", r["purchase-date"]) for r in full)
    assert {r["sales-channel"] for r in full} == {"Amazon.se", "Amazon.de"}

    catalog = (seller / "catalog" / "catalog.csv").read_text().splitlines()
    assert catalog[0] == "sku,category" and len({line.split(",")[1] for line in catalog[1:]}) == 10

    export = next((seller / "scans").glob("*_aftership.jsonl.gz"))
    line = json.loads(gzip.decompress(export.read_bytes()).splitlines()[0])
    assert line["checkpoints"] and {"tag", "checkpoint_time"} <= set(line["checkpoints"][0])


def _s10_ok(number: str) -> bool:
    digits = [int(c) for c in number[2:10]]
    check = 11 - sum(w * d for w, d in zip((8, 6, 4, 2, 3, 5, 9, 7), digits, strict=True)) % 11
    return int(number[10]) == {10: 0, 11: 5}.get(check, check)


SHAPES = {
    "UPS": r"1Z[0-9A-Z]{16}",
    "DHL": r"\d{10}",
    "DPD": r"\d{14}",
    "GLS": r"\d{12}",
    "FedEx": r"\d{12}",
    "Hermes": r"H\d{19}",
    "AMZL": r"TBA\d{12}",
    "PostNord": r"[A-Z]{2}\d{9}SE",
    "Bring": r"[A-Z]{2}\d{9}NO",
}


def test_tracking_numbers_look_like_the_carriers_and_some_are_wrong(tmp_path):
    generate(tmp_path, start=START, days=20, packages=4000)
    rows = [r for p in sorted((tmp_path / "nordic-home" / "confirmations").iterdir()) for r in _tsv(p)]
    by_code = Counter(r["carrier-code"] for r in rows)
    assert by_code["PostNord"] > by_code["Bring"] > 0 and by_code["DHL"] > 0 and by_code["Other"] > 0
    assert {r["carrier-name"] for r in rows if r["carrier-code"] == "Other"} <= {"Budbee", "GO! Express"}
    tracked = [r for r in rows if r["tracking-number"] not in ("", "NULL")]
    for r in tracked:
        shape = SHAPES.get(r["carrier-code"])
        assert shape is None or re.fullmatch(shape, r["tracking-number"]), r
    s10 = [r["tracking-number"] for r in tracked if r["carrier-code"] in ("PostNord", "Bring")]
    bad = sum(not _s10_ok(t) for t in s10)
    assert 0 < bad < 0.02 * len(s10)  # typos break the check digit, and only they do
    assert any(r["tracking-number"] == "" for r in rows) and any(r["tracking-number"] == "NULL" for r in rows)


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    """8000 packages over 60 days, run through the pipeline for the snapshot dates of the last 40 days."""
    root = tmp_path_factory.mktemp("gen")
    stats = generate(root / "landing", start=START, days=DAYS, packages=8000)
    config = root / "vtr.toml"
    config.write_text(
        '[paths]\nlanding = "landing"\nwarehouse = "warehouse.sqlite"\noutput = "output"\n'
        "[ingest]\nsettle_seconds = 0\n"
    )
    settings = load_settings(config)
    end = START + dt.timedelta(days=DAYS - 1)
    summary = run(settings, end - dt.timedelta(days=39), end)
    return stats, settings, summary


def test_generated_files_load_without_rejects_and_vtr_is_realistic(pipeline_run):
    stats, settings, summary = pipeline_run
    figures = summary.figures()
    assert figures["files_failed"] == 0 and figures["rows_rejected"] == 0
    assert figures["files_loaded"] == stats.files
    assert figures["uncategorized_items"] == stats.uncategorized_items > 0
    monthly = [
        (
            a["seller_id"],
            a["marketplace"],
            a["window_days"],
            a["packages_total"],
            a["packages_valid"],
            a["vtr"],
            a["status"],
        )
        for a in figures["accounts"]
        if a["window_days"] == 30
    ]
    assert {row[1] for row in monthly} == {"Amazon.se", "Amazon.de"}
    total, valid = sum(r[3] for r in monthly), sum(r[4] for r in monthly)
    assert 0.9 < valid / total < 1.0


def test_invalid_packages_match_the_injected_failures(pipeline_run):
    stats, settings, summary = pipeline_run
    con = connect(settings, read_only=True)
    try:
        found = dict(
            con.execute(
                "select reason, count(*) from marts.mart_invalid_packages where snapshot_date = ? group by all",
                [stats.end],
            ).fetchall()
        )
        lo, hi = con.execute(
            "select min(window_start), max(window_end) from marts.mart_vtr_snapshots "
            "where snapshot_date = ? and window_days = 30",
            [stats.end],
        ).fetchone()
    finally:
        con.close()
    expected: Counter = Counter()
    for day, reasons in stats.invalid_by_promised_date.items():
        if lo <= day <= hi:
            expected.update(reasons)
    assert found == dict(expected)
    assert set(found) == {
        "missing_tracking",
        "carrier_not_integrated",
        "no_carrier_events",
        "pre_transit_only",
        "scan_before_ship_date",
    }


def test_dip_category_falls_below_target_and_recovers(pipeline_run):
    stats, settings, summary = pipeline_run
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            """select snapshot_date, sum(packages_valid) / sum(packages_total) from marts.mart_vtr_snapshots
            where scope = 'category' and scope_value = ? and window_days = 7 group by all order by 1""",
            [stats.dip_category],
        ).fetchall()
    finally:
        con.close()
    vtr = dict(rows)
    # the 7-day window (lag 14) holds the dip's packages from about dip_start + 3 + 14 to dip_end + 6 + 20
    before = [d for d in vtr if d < stats.dip_start + dt.timedelta(days=16)]
    during = [d for d in vtr if stats.dip_start + dt.timedelta(days=22) <= d <= stats.dip_end + dt.timedelta(days=20)]
    after = [d for d in vtr if d > stats.dip_end + dt.timedelta(days=27)]
    assert before and during and after
    assert all(vtr[d] >= 0.95 for d in before)
    assert min(vtr[d] for d in during) < 0.95
    assert vtr[max(after)] >= 0.95
