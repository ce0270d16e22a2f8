"""Alerts end to end against real servers on 127.0.0.1: an HTTP endpoint for Apprise json:// and an SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from helpers.receivers import TOKEN, Inbox
from helpers.servers import free_port
from pipeline import alerts, lake
from pipeline.alerts import plan_early_warnings, plan_quality_warnings, plan_stale_feed_alerts, plan_vtr_alerts, send
from pipeline.alerts.planning import QUALITY_KEY_TEMPLATE
from pipeline.contract import REASONS
from pipeline.settings import Settings

D1 = dt.date(2026, 11, 20)
D2 = dt.date(2026, 11, 21)
D3 = dt.date(2026, 11, 22)
SELLERS = ["nordic-home", "acme"]
PASSWORD = "pw-Hunter2-xyz"


# --- servers ------------------------------------------------------------------------------------------------------


class SlowReceiver:
    """An HTTP endpoint on 127.0.0.1 that takes every POST whole, records it, and then answers badly: `trickle` (a 200
    answer, one byte every 3 s), `late` (a 200 answer after 5 s), `silent` (never; the connection stays open)."""

    def __init__(self, mode: str):
        self.mode, self.requests = mode, []
        self.closing = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"json://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True, name="receiver").start()

    def _serve(self):
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True, name="receiver").start()

    def _answer(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536) or b"\r\n\r\n"
            head, _, body = data.partition(b"\r\n\r\n")
            found = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
            while found and len(body) < int(found.group(1)):
                body += conn.recv(65536)
            self.requests.append(body)
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            try:
                if self.mode == "late" and not self.closing.wait(5):
                    conn.sendall(answer)
                elif self.mode == "trickle":
                    for byte in answer:
                        if self.closing.wait(3):
                            return
                        conn.sendall(bytes([byte]))
                else:
                    self.closing.wait()
            except OSError:  # the sender gave up and closed
                return

    def close(self):
        self.closing.set()
        self.sock.close()


@pytest.fixture
def receiver(request):
    r = SlowReceiver(request.param)
    yield r
    r.close()


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"mailto://127.0.0.1:{controller.port}?from=vtr@example.com&to=ops@example.com"
    inbox.label = f"mailto://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


# --- lake with hand-written mart rows ----------------------------------------------------------------------------


@pytest.fixture
def con(tmp_path: Path):
    con = lake.connect(make_settings(tmp_path))
    con.execute("""
        create table marts.mart_vtr_snapshots (
            snapshot_date date, seller_id varchar, marketplace varchar, window_days integer, scope varchar,
            scope_value varchar, window_start date, window_end date, packages_total bigint, packages_valid bigint,
            vtr double, target double, status varchar);
        create table marts.mart_category_report (
            snapshot_date date, seller_id varchar, marketplace varchar, category varchar, window_days integer,
            packages_total bigint, packages_valid bigint, vtr double, invalid_missing_tracking bigint,
            invalid_carrier_not_integrated bigint, invalid_no_carrier_events bigint, invalid_pre_transit_only bigint,
            invalid_scan_before_ship_date bigint);
        create table marts.mart_invalid_packages (
            snapshot_date date, seller_id varchar, marketplace varchar, package_id varchar, order_id varchar,
            tracking_number varchar, carrier varchar, ship_date date, promised_delivery_date date,
            categories varchar[], reason varchar);
    """)
    yield con
    con.close()


def snapshot(con, date, scope, value, window, valid, total, seller="nordic-home", marketplace="Amazon.se", target=0.95):
    end = date - dt.timedelta(days=14)
    vtr = valid / total if total else None
    status = "no_packages" if vtr is None else ("below_target" if vtr < target else "ok")
    con.execute(
        "insert into marts.mart_vtr_snapshots values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            date,
            seller,
            marketplace,
            window,
            scope,
            value,
            end - dt.timedelta(days=window - 1),
            end,
            total,
            valid,
            vtr,
            target,
            status,
        ],
    )


def category_report(
    con, date, category, window, valid, total, seller="nordic-home", marketplace="Amazon.se", **reasons
):
    counts = [reasons.get(r, 0) for r in REASONS]
    con.execute(
        "insert into marts.mart_category_report values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [date, seller, marketplace, category, window, total, valid, valid / total, *counts],
    )


def invalid_packages(con, date, reason, count, days_before_end=0, seller="nordic-home", marketplace="Amazon.se"):
    promised = date - dt.timedelta(days=14 + days_before_end)
    for i in range(count):
        con.execute(
            "insert into marts.mart_invalid_packages values (?, ?, ?, ?, ?, null, 'UPS', ?, ?, ['Garden'], ?)",
            [date, seller, marketplace, f"{reason}-{days_before_end}-{i}", f"order-{i}", promised, promised, reason],
        )


def make_settings(tmp_path: Path, *urls: str, connection_ids: tuple[str, ...] = (), **overrides) -> Settings:
    """Settings of the alerts tests; a send's deadline of 10 s unless told (a test's receiver answers at once)."""
    overrides.setdefault("alert_timeout_seconds", 10)
    return Settings(
        config_file=None,
        landing=tmp_path / "landing",
        warehouse=tmp_path / "warehouse.sqlite",
        output=tmp_path / "output",
        alert_urls=urls,
        alert_connection_ids=connection_ids,
        **overrides,
    )


def first_date(con):
    """D1: Garden breaches its 7-day window; the carrier scope breaches too; overall and another account are fine."""
    snapshot(con, D1, "overall", None, 7, 196, 200)
    snapshot(con, D1, "overall", None, 30, 760, 800)  # exactly at target: ok
    snapshot(con, D1, "category", "Garden", 7, 187, 200)
    snapshot(con, D1, "category", "Toys", 30, 380, 400)
    snapshot(con, D1, "carrier", "POSTNORD", 7, 150, 200)
    snapshot(con, D1, "overall", None, 7, 100, 100, seller="acme", marketplace="Amazon.de")
    category_report(con, D1, "Garden", 7, 187, 200, pre_transit_only=8, missing_tracking=5)
    category_report(con, D1, "Toys", 30, 380, 400, no_carrier_events=20)


def log_rows(con) -> list[dict]:
    cur = con.execute("select * from main.alert_log order by rowid")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def statuses(deliveries) -> list[str]:
    return [d.status for d in deliveries]


# --- tests --------------------------------------------------------------------------------------------------------

GARDEN_LINE = (
    "category Garden, 7 days: VTR 93.50% < target 95.00% (187/200 valid); "
    "top reasons: pre_transit_only 8, missing_tracking 5"
)


def test_breach_alert_reaches_webhook_and_mailbox_once(con, tmp_path, hook, smtp, caplog):
    caplog.set_level(logging.INFO, logger="pipeline.alerts")
    first_date(con)
    settings = make_settings(tmp_path, hook.url, smtp.url)

    planned = plan_vtr_alerts(con, settings, D1, SELLERS)
    assert [a.title for a in planned] == ["VTR below target: nordic-home Amazon.se"]
    deliveries = send(con, settings, planned, backoff_seconds=0.01)
    assert statuses(deliveries) == ["sent", "sent"]

    [message] = hook.messages()
    assert message["title"] == "VTR below target: nordic-home Amazon.se"
    lines = message["message"].splitlines()
    assert GARDEN_LINE in lines
    # the stable id, for a receiver to drop a repeat: last line of the body, and a header where the channel has them
    assert lines[-1] == "Notification id: vtr|nordic-home|Amazon.se|2026-11-20"
    assert hook.headers[0]["X-VTR-Notification-Id"] == "vtr|nordic-home|Amazon.se|2026-11-20"
    fix = tmp_path / "output" / "invalid_packages" / "snapshot_date=2026-11-20" / "nordic-home.parquet"
    assert f"Invalid packages to fix: {fix}" in lines
    # overall and Toys are at or above target; carriers are never alerted on
    assert not any(line.startswith(("overall", "category Toys")) for line in lines)
    assert "POSTNORD" not in message["message"]

    [mail] = smtp.mails
    parsed = email.message_from_bytes(mail, policy=email.policy.default)
    assert parsed["Subject"] == "VTR below target: nordic-home Amazon.se"
    assert parsed["To"] == "ops@example.com"
    assert parsed["X-VTR-Notification-Id"] == "vtr|nordic-home|Amazon.se|2026-11-20"
    assert GARDEN_LINE in parsed.get_content().splitlines()

    rows = log_rows(con)
    assert {(r["channel"], r["delivered"], r["attempts"]) for r in rows} == {
        (f"json://127.0.0.1:{hook.port}", True, 1),
        (smtp.label, True, 1),
    }
    assert {r["alert_key"] for r in rows} == {"vtr|nordic-home|Amazon.se|2026-11-20"}

    # Re-running the date sends nothing that was already sent, and says so in the log.
    again = send(con, settings, plan_vtr_alerts(con, settings, D1, SELLERS), backoff_seconds=0.01)
    assert statuses(again) == ["already_sent", "already_sent"]
    assert len(hook.posts) == 1 and len(smtp.mails) == 1
    assert len(log_rows(con)) == 2
    assert f"vtr|nordic-home|Amazon.se|2026-11-20 -> {smtp.label}: already delivered" in caplog.text


def test_overall_breach_top_reasons_come_from_the_window_s_invalid_packages(con, tmp_path):
    snapshot(con, D1, "overall", None, 7, 90, 100)
    invalid_packages(con, D1, "no_carrier_events", 6)
    invalid_packages(con, D1, "missing_tracking", 4)
    invalid_packages(con, D1, "carrier_not_integrated", 9, days_before_end=20)  # 30-day list, outside the 7-day window

    [alert] = plan_vtr_alerts(con, make_settings(tmp_path), D1, SELLERS)
    assert (
        "overall, 7 days: VTR 90.00% < target 95.00% (90/100 valid); "
        "top reasons: no_carrier_events 6, missing_tracking 4"
    ) in alert.body.splitlines()


def test_recovery_is_announced_on_the_next_date_only(con, tmp_path, hook):
    first_date(con)
    snapshot(con, D2, "overall", None, 7, 196, 200)
    snapshot(con, D2, "category", "Garden", 7, 192, 200)  # back above target
    snapshot(con, D2, "category", "Toys", 30, 372, 400)  # new breach
    category_report(con, D2, "Toys", 30, 372, 400, carrier_not_integrated=28)
    snapshot(con, D3, "overall", None, 7, 196, 200)
    snapshot(con, D3, "category", "Garden", 7, 195, 200)
    snapshot(con, D3, "category", "Toys", 30, 390, 400)
    settings = make_settings(tmp_path, hook.url)

    [alert] = plan_vtr_alerts(con, settings, D2, SELLERS)
    send(con, settings, [alert], backoff_seconds=0.01)
    [message] = hook.messages()
    assert message["title"] == "VTR below target: nordic-home Amazon.se"
    lines = message["message"].splitlines()
    assert (
        "category Toys, 30 days: VTR 93.00% < target 95.00% (372/400 valid); top reasons: carrier_not_integrated 28"
    ) in lines
    assert "recovered: category Garden, 7 days: VTR 96.00% >= 95.00% (192/200 valid)" in lines

    # D3: Toys recovers; Garden was already fine on D2, so it is not announced again.
    [alert] = plan_vtr_alerts(con, settings, D3, SELLERS)
    assert alert.title == "VTR back on target: nordic-home Amazon.se"
    recovered = [line for line in alert.body.splitlines() if line.startswith("recovered")]
    assert recovered == ["recovered: category Toys, 30 days: VTR 97.50% >= 95.00% (390/400 valid)"]
    assert "Invalid packages to fix" not in alert.body


def test_only_a_carrier_below_target_sends_nothing(con, tmp_path):
    snapshot(con, D1, "overall", None, 7, 196, 200)
    snapshot(con, D1, "category", "Garden", 7, 196, 200)
    snapshot(con, D1, "carrier", "DHL", 7, 10, 20)
    assert plan_vtr_alerts(con, make_settings(tmp_path), D1, SELLERS) == []


def test_scopes_smaller_than_min_packages_never_alert(con, tmp_path, hook):
    snapshot(con, D1, "overall", None, 7, 196, 200)
    snapshot(con, D1, "category", "Garden", 7, 187, 200)  # below target, but 200 packages < 300
    assert len(plan_vtr_alerts(con, make_settings(tmp_path), D1, SELLERS)) == 1  # the default (1) alerts on it
    settings = make_settings(tmp_path, hook.url, min_alert_packages=300)

    assert send(con, settings, plan_vtr_alerts(con, settings, D1, SELLERS), backoff_seconds=0.01) == []
    assert hook.posts == []

    # D2: the overall scope is large enough and breaches: alerted; the small Garden breach is still left out.
    snapshot(con, D2, "overall", None, 7, 370, 400)
    snapshot(con, D2, "category", "Garden", 7, 180, 200)
    category_report(con, D2, "Garden", 7, 180, 200, pre_transit_only=20)
    send(con, settings, plan_vtr_alerts(con, settings, D2, SELLERS), backoff_seconds=0.01)
    [message] = hook.messages()
    lines = message["message"].splitlines()
    assert "overall, 7 days: VTR 92.50% < target 95.00% (370/400 valid)" in lines
    assert not any("Garden" in line for line in lines)

    # D3: both back on target; only the scope that was alerted on is announced as recovered.
    snapshot(con, D3, "overall", None, 7, 390, 400)
    snapshot(con, D3, "category", "Garden", 7, 196, 200)
    [alert] = plan_vtr_alerts(con, settings, D3, SELLERS)
    assert [line for line in alert.body.splitlines() if line.startswith("recovered")] == [
        "recovered: overall, 7 days: VTR 97.50% >= 95.00% (390/400 valid)"
    ]


def test_only_the_sellers_of_the_run_are_alerted(con, tmp_path):
    first_date(con)
    snapshot(con, D1, "overall", None, 7, 80, 100, seller="acme", marketplace="Amazon.fr")
    settings = make_settings(tmp_path)

    assert [a.title for a in plan_vtr_alerts(con, settings, D1, SELLERS)] == [
        "VTR below target: acme Amazon.fr",
        "VTR below target: nordic-home Amazon.se",
    ]
    assert [a.title for a in plan_vtr_alerts(con, settings, D1, ["acme"])] == ["VTR below target: acme Amazon.fr"]
    assert plan_vtr_alerts(con, settings, D1, ["bergen-bikes"]) == []
    assert plan_vtr_alerts(con, settings, D1, []) == []


def test_incomplete_figures_are_said_with_the_files_that_could_not_be_read(con, tmp_path, hook):
    first_date(con)
    snapshot(con, D1, "overall", None, 7, 80, 100, seller="acme", marketplace="Amazon.fr")
    settings = make_settings(tmp_path, hook.url)
    unread = {"nordic-home": ["scans/scans_2026-11-20.csv.gz", "orders/orders_2026-11-20.txt"]}

    send(con, settings, plan_vtr_alerts(con, settings, D1, SELLERS, incomplete=unread), backoff_seconds=0.01)
    bodies = {m["title"]: m["message"] for m in hook.messages()}
    assert (
        "Note: figures are incomplete: 2 file(s) of nordic-home could not be read, so nothing of them is counted:"
        " orders/orders_2026-11-20.txt, scans/scans_2026-11-20.csv.gz."
    ) in bodies["VTR below target: nordic-home Amazon.se"].splitlines()
    assert "figures are incomplete" not in bodies["VTR below target: acme Amazon.fr"]


def test_stale_scans_are_noted_and_stale_feeds_alerted_per_seller(con, tmp_path):
    first_date(con)
    settings = make_settings(tmp_path)
    stale = {"nordic-home": ["scans", "orders"], "acme": [], "bergen-bikes": ["catalog"]}

    [alert] = plan_vtr_alerts(con, settings, D1, SELLERS, stale_feeds=stale)
    assert "computed on stale scans" in alert.body
    [fresh] = plan_vtr_alerts(con, settings, D1, SELLERS, stale_feeds={"nordic-home": ["orders"]})
    assert "stale scans" not in fresh.body

    feed_alerts = plan_stale_feed_alerts(settings, D1, stale)
    assert [a.title for a in feed_alerts] == [
        "Stale feed: bergen-bikes (catalog)",
        "Stale feed: nordic-home (orders, scans)",
    ]
    assert len({a.key for a in feed_alerts}) == 2


def test_channel_down_is_retried_logged_and_delivered_later_without_leaking_secrets(con, tmp_path, hook, caplog):
    caplog.set_level(logging.DEBUG)  # Apprise and urllib3 log request paths at debug level
    first_date(con)
    hook.status = 500
    closed = f"json://vtr:{PASSWORD}@127.0.0.1:{free_port()}/hook/{TOKEN}"  # nothing listens there
    settings = make_settings(tmp_path, hook.url, closed, alert_max_attempts=5)
    planned = plan_vtr_alerts(con, settings, D1, SELLERS) + plan_stale_feed_alerts(
        settings, D1, {"nordic-home": ["scans"]}
    )

    failed = send(con, settings, planned, tries=3, backoff_seconds=0.01)  # returns: a channel down raises nothing
    assert statuses(failed) == ["failed"] * 4
    # the first alert tried `tries` times per channel; once a channel is known down, the next alert tries it once.
    # A send that reached the channel (an error answer) counts; one that could not reach it (refused) does not.
    assert [d.attempts for d in failed] == [3, 0, 1, 0]
    assert len(hook.posts) == 3 + 1
    rows = log_rows(con)
    assert [(r["kind"], r["delivered"], r["attempts"]) for r in rows] == [
        ("vtr", False, 3),
        ("vtr", False, 0),
        ("stale_feed", False, 1),
        ("stale_feed", False, 0),
    ]
    assert "500" in rows[0]["error"] and "connection error" in rows[1]["error"].lower()
    assert "500" in failed[0].error and failed[0].channel == f"json://127.0.0.1:{hook.port}"
    warnings = [
        r.getMessage() for r in caplog.records if r.name.startswith("pipeline.alerts") and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 4 and f"-> json://127.0.0.1:{hook.port}: failed, 3 send(s)" in warnings[0]

    # The endpoint is back: the next run delivers what failed (undelivered alerts are not deduplicated).
    hook.status = 200
    retried = send(con, settings, planned, tries=1, backoff_seconds=0.01)  # the closed port is still down
    assert statuses(retried) == ["sent", "failed", "sent", "failed"]
    assert [body["title"] for body in hook.messages()[4:]] == [a.title for a in planned]
    assert [r["delivered"] for r in log_rows(con)[4:]] == [True, False, True, False]
    third = send(con, settings, planned, tries=1, backoff_seconds=0.01)
    assert statuses(third) == ["already_sent", "failed", "already_sent", "failed"]
    assert len(hook.posts) == 6  # each delivered once, never again

    stored = json.dumps([list(r.values()) for r in log_rows(con)], default=str)
    returned = repr(failed + retried + third)
    for secret in (TOKEN, PASSWORD):
        assert secret not in stored
        assert secret not in caplog.text
        assert secret not in returned
        assert secret not in repr(alerts.channels(settings))
    assert "/hook/***" in caplog.text  # the debug lines were there (in the process that sent), scrubbed


def test_a_notification_sent_max_attempts_times_without_a_confirmation_is_given_up(con, tmp_path, hook):
    hook.status = 503
    settings = make_settings(tmp_path, hook.url, alert_max_attempts=3)
    [stale] = plan_stale_feed_alerts(settings, D1, {"acme": ["scans"]})

    first = send(con, settings, [stale], tries=2, backoff_seconds=0.01)
    assert [(d.status, d.attempts) for d in first] == [("failed", 2)]
    second = send(con, settings, [stale], tries=2, backoff_seconds=0.01)  # counted over runs: one send left
    assert [(d.status, d.attempts) for d in second] == [("undelivered", 1)]
    assert "sent 3 time(s) in all without a confirmation: not sent again" in second[0].error
    hook.status = 200
    third = send(con, settings, [stale], backoff_seconds=0.01)
    assert [(d.status, d.attempts) for d in third] == [("undelivered", 0)]
    assert len(hook.posts) == 3


def test_a_channel_refusing_the_request_is_a_failed_delivery_not_an_error(con, tmp_path, hook, smtp, monkeypatch):
    monkeypatch.setenv("VTR_ALERT_BACKOFF_SECONDS", "0.01")  # the default back-off (2 s, then 4 s) comes from here
    first_date(con)
    hook.status = 405
    settings = make_settings(tmp_path, hook.url, smtp.url)

    deliveries = send(con, settings, plan_vtr_alerts(con, settings, D1, SELLERS), tries=2)
    assert [(d.channel, d.status, d.attempts) for d in deliveries] == [
        (f"json://127.0.0.1:{hook.port}", "failed", 2),
        (smtp.label, "sent", 1),
    ]
    assert "405" in deliveries[0].error and TOKEN not in deliveries[0].error
    assert len(hook.posts) == 2 and len(smtp.mails) == 1  # the mailbox got it all the same
    assert [(r["channel"], r["delivered"]) for r in log_rows(con)] == [
        (f"json://127.0.0.1:{hook.port}", False),
        (smtp.label, True),
    ]


def test_without_the_warehouse_the_log_is_a_file_under_the_outputs(con, tmp_path, hook):
    settings = make_settings(tmp_path, hook.url)
    [stale] = plan_stale_feed_alerts(settings, D1, {"acme": ["scans"]})

    first = send(None, settings, [stale], backoff_seconds=0.01, log_unavailable="PostgreSQL is down")
    assert statuses(first) == ["sent"] and first.log_unavailable == "PostgreSQL is down"
    assert statuses(send(None, settings, [stale], backoff_seconds=0.01)) == ["already_sent"]  # remembered
    assert [m["title"] for m in hook.messages()] == ["Stale feed: acme (scans)"]
    assert log_rows(con) == []
    [line] = (settings.output / "alert_log_without_warehouse.jsonl").read_text().splitlines()
    assert json.loads(line)["alert_key"] == stale.key and json.loads(line)["delivered"] is True
    # the lake's log and the file are read together: a run with the lake back does not send it again either
    assert statuses(send(con, settings, [stale], backoff_seconds=0.01)) == ["already_sent"]


def test_a_lake_that_cannot_take_the_log_rows_falls_back_to_the_file(con, tmp_path, hook):
    settings = make_settings(tmp_path, hook.url)
    [stale] = plan_stale_feed_alerts(settings, D1, {"acme": ["scans"]})
    con.execute("use memory; detach lake")  # the catalog is gone from under the run: no log to read or write

    first = send(con, settings, [stale], backoff_seconds=0.01)
    assert statuses(first) == ["sent"] and "alert_log" in first.log_unavailable
    assert statuses(send(con, settings, [stale], backoff_seconds=0.01)) == ["already_sent"]
    assert len(hook.posts) == 1


def test_a_file_with_many_rejects_is_warned_about_once(con, tmp_path, hook):
    settings = make_settings(tmp_path, hook.url)
    sha = "ab" * 32
    con.execute(
        "insert into raw.files (seller_id, file_id, feed, path, sha256, size_bytes, modified_ns, rows_read,"
        " rows_loaded, rows_rejected, loaded_at) values ('acme', 1, 'orders', 'orders/orders_2026-11-20.txt', ?,"
        " 1000, 0, 200, 160, 40, now())",
        [sha],
    )
    check = (Path(__file__).resolve().parent.parent / "sql" / "checks" / "raw_files_many_rejects.sql").read_text()

    def many_rejects() -> list[list]:
        params = {
            "max_reject_share": settings.max_reject_share,
            "min_rejected_rows": settings.min_rejected_rows,
            "quality_alert_key": QUALITY_KEY_TEMPLATE,
        }
        return [list(row) for row in con.execute(check, params).fetchall()]

    [warning] = plan_quality_warnings(many_rejects())
    assert warning.key == f"data_quality|acme|-|-|{sha}"
    assert warning.title == "Data quality: many rejected rows in acme's file orders/orders_2026-11-20.txt"
    assert warning.body.startswith(
        "40 of 200 rows (20.00%) of seller acme's orders file orders/orders_2026-11-20.txt were rejected"
    )
    assert "rejects table (main.rejects) with their file, line and reason" in warning.body

    assert statuses(send(con, settings, [warning], backoff_seconds=0.01)) == ["sent"]
    assert many_rejects() == []  # the check finds it notified: later runs plan nothing for this file
    assert statuses(send(con, settings, [warning], backoff_seconds=0.01)) == ["already_sent"]
    assert [m["title"] for m in hook.messages()] == [warning.title]
    assert [(r["kind"], r["seller_id"], r["snapshot_date"], r["delivered"]) for r in log_rows(con)] == [
        ("data_quality", "acme", None, True)
    ]


def test_early_warning_is_titled_as_such(con, tmp_path):
    settings = make_settings(tmp_path)
    assert plan_early_warnings(con, settings, D1, SELLERS) == []  # the mart does not exist yet

    con.execute("""
        create table marts.mart_projected_vtr (
            snapshot_date date, seller_id varchar, marketplace varchar, window_days integer, scope varchar,
            scope_value varchar, window_start date, window_end date, packages_total bigint,
            packages_valid_now bigint, projected_vtr double, target double, status varchar);
        insert into marts.mart_projected_vtr values
            ('2026-11-20', 'nordic-home', 'Amazon.se', 7, 'overall', null, '2026-11-14', '2026-11-20',
             100, 80, 0.92, 0.95, 'below_target'),
            ('2026-11-20', 'nordic-home', 'Amazon.se', 7, 'category', 'Garden', '2026-11-14', '2026-11-20',
             50, 40, 0.9, 0.95, 'below_target'),
            ('2026-11-20', 'acme', 'Amazon.de', 7, 'carrier', 'DHL', '2026-11-14', '2026-11-20',
             50, 10, 0.5, 0.95, 'below_target'),
            ('2026-11-20', 'acme', 'Amazon.de', 7, 'overall', null, '2026-11-14', '2026-11-20',
             50, 49, 0.99, 0.95, 'ok');
    """)
    [warning] = plan_early_warnings(con, settings, D1, SELLERS)
    assert warning.title.startswith("Early warning")
    assert warning.title == "Early warning: projected VTR below target: nordic-home Amazon.se"
    assert "projected VTR 90.00% < target 95.00% (40/50 valid so far)" in warning.body
    assert warning.key == "early_warning|nordic-home|Amazon.se|2026-11-20"

    assert plan_early_warnings(con, settings, D1, ["acme"]) == []  # acme: only a carrier is below target
    [large_only] = plan_early_warnings(con, make_settings(tmp_path, min_alert_packages=60), D1, SELLERS)
    assert "overall, 7 days" in large_only.body and "Garden" not in large_only.body


def test_run_failed_alert_is_sent_once_per_run_with_secrets_scrubbed(con, tmp_path, hook):
    settings = make_settings(tmp_path, hook.url)
    error = RuntimeError(f"could not post to http://127.0.0.1:1/hook/{TOKEN}")
    dates = "2026-11-01 .. 2026-11-20"
    alert = alerts.run_failed_alert("vtr_daily scheduled__2026-11-20", "build_models", error, dates)
    send(con, settings, [alert], backoff_seconds=0.01)
    send(con, settings, [alert], backoff_seconds=0.01)  # a second failing task of the same run
    send(con, settings, [alerts.run_failed_alert("vtr_daily manual__1", "build_models", error, dates)])
    assert len(hook.posts) == 2  # one per run
    message = hook.messages()[0]
    assert message["title"] == f"VTR run failed: vtr_daily scheduled__2026-11-20 / build_models for {dates}"
    assert f"step build_models failed for {dates}" in message["message"]
    assert "RuntimeError: could not post to" in message["message"]
    assert TOKEN not in message["message"]
    assert [(r["kind"], r["delivered"]) for r in log_rows(con)] == [("run_failed", True)] * 2

    long = alerts.run_failed_alert("vtr run", "publish", "x" * 5000, "2026-11-20")
    assert long.body.endswith("Error: " + "x" * 2000 + " ...")


def test_percentages_never_round_a_breach_up_to_its_target():
    from pipeline.formatting import percent

    assert percent(0.949996) == "94.99%"
    assert percent(0.57) == "57.00%"
    assert percent(0.96) == "96.00%"
    assert percent(687 / 695) == "98.84%"  # the summary, the report and the alerts all read it so
    assert percent(None) == "-"


def test_channel_labels_show_service_and_host_only():
    assert alerts.url_label(f"json://127.0.0.1:8080/hook/{TOKEN}") == "json://127.0.0.1:8080"
    assert (
        alerts.url_label(f"mailtos://ops:{PASSWORD}@smtp.example.com:587?to=a@b.se") == "mailtos://smtp.example.com:587"
    )
    assert alerts.url_label("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ") == "slack://"
    assert alerts.url_label("https://hooks.slack.com/services/T1/B2/XYZ") == "https://hooks.slack.com"
    assert alerts.url_label(TOKEN) == "invalid-url"


def test_urls_from_an_airflow_connection(con, tmp_path, hook, monkeypatch):
    config = {"config": [{"path": hook.url}]}
    monkeypatch.setenv("AIRFLOW_CONN_VTR_ALERTS", json.dumps({"conn_type": "apprise", "extra": config}))
    settings = make_settings(tmp_path, connection_ids=("vtr_alerts", "missing_alerts"))
    assert [c.label for c in alerts.channels(settings)] == [
        f"json://127.0.0.1:{hook.port}",
        "airflow_connection:missing_alerts",
    ]

    first_date(con)
    deliveries = send(con, settings, plan_vtr_alerts(con, settings, D1, SELLERS), backoff_seconds=0.01)
    assert [(d.channel, d.status) for d in deliveries] == [
        (f"json://127.0.0.1:{hook.port}", "sent"),
        ("airflow_connection:missing_alerts", "failed"),
    ]
    assert "could not read Airflow connection 'missing_alerts'" in deliveries[1].error
    [message] = hook.messages()
    assert GARDEN_LINE in message["message"].splitlines()


# --- slow and silent channels ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("receiver", ["trickle", "late", "silent"], indirect=True)
def test_a_send_ends_at_its_deadline_whatever_the_channel_does(con, tmp_path, receiver):
    """One byte every 3 s, an answer after 5 s, no answer: with a deadline of 2 s the send ends in 2 s, nothing of it
    is left running, and its outcome is unknown (the receiver has the notification)."""
    settings = make_settings(tmp_path, receiver.url, alert_timeout_seconds=2)
    [stale] = plan_stale_feed_alerts(settings, D1, {"acme": ["scans"]})
    ours = lambda: [t for t in threading.enumerate() if t.name != "receiver"]  # noqa: E731
    threads = ours()
    started = time.monotonic()
    [outcome] = send(con, settings, [stale], backoff_seconds=0.01)
    assert time.monotonic() - started < 2 + 3
    assert ours() == threads
    assert (outcome.status, outcome.attempts) == ("unknown", 1)
    assert outcome.error == "no complete answer within 2 s (stopped)"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("receiver", ["trickle"], indirect=True)
def test_a_run_against_a_trickling_channel_ends_and_its_process_exits(project, receiver):
    """`vtr run` (it hung for good before: Apprise's reading threads kept the process alive); its summary says the
    notification is not delivered yet, and a re-run sends it again (the outcome was unknown)."""
    project.write_config(f'[[alerts]]\nurl = "{receiver.url}"\n[alert_policy]\ntimeout_seconds = 2\n')
    for sent in (1, 2):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("vtr")), "run", "--config", str(project.config), "--date", str(D1)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert "alerts: 0 sent, 1 not delivered (tried again on a re-run)" in done.stdout
        assert "no complete answer within 2 s (stopped)" in done.stdout
        assert len(receiver.requests) == sent


@pytest.mark.parametrize("receiver", ["late"], indirect=True)
def test_a_late_answer_within_the_deadline_is_delivered_once_over_three_runs(con, tmp_path, receiver):
    settings = make_settings(tmp_path, receiver.url, alert_timeout_seconds=30)  # the default deadline
    [stale] = plan_stale_feed_alerts(settings, D1, {"acme": ["scans"]})
    outcomes = [send(con, settings, [stale], backoff_seconds=0.01) for _ in range(3)]
    assert [statuses(o) for o in outcomes] == [["sent"], ["already_sent"], ["already_sent"]]
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("receiver", ["silent"], indirect=True)
def test_a_silent_channel_gets_at_most_max_attempts_sends_then_is_reported_undelivered(con, tmp_path, receiver):
    settings = make_settings(tmp_path, receiver.url, alert_timeout_seconds=1, alert_max_attempts=2)
    planned = plan_stale_feed_alerts(settings, D1, {"acme": ["scans"], "zeta": ["orders"]})

    first = send(con, settings, planned, backoff_seconds=0.01)
    # no answer in time: not tried again in this run, and the channel gets nothing more in it
    assert [(d.status, d.attempts) for d in first] == [("unknown", 1), ("failed", 0)]
    assert "gave no answer within 1 s earlier in this run" in first[1].error
    assert len(receiver.requests) == 1
    second = send(con, settings, planned, backoff_seconds=0.01)
    assert [(d.status, d.attempts) for d in second] == [("undelivered", 1), ("failed", 0)]
    # the first is given up, so the second gets its turn
    third = send(con, settings, planned, backoff_seconds=0.01)
    assert [(d.status, d.attempts) for d in third] == [("undelivered", 0), ("unknown", 1)]
    fourth = send(con, settings, planned, backoff_seconds=0.01)
    assert [(d.status, d.attempts) for d in fourth] == [("undelivered", 0), ("undelivered", 1)]
    assert [d.status for d in send(con, settings, planned, backoff_seconds=0.01)] == ["undelivered"] * 2
    assert len(receiver.requests) == 2 + 2  # each notification sent max_attempts times, never more
