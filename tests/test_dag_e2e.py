"""The real `vtr_daily` DAG, run in this process (dag.test on SQLite metadata), on hand-written files.

Alerts go to real servers on 127.0.0.1: an HTTP endpoint (Apprise json://) and an SMTP server (mailto://).
Seller acme sells Books (40 packages, all scanned) and Toys (10 packages); all are promised 2026-11-05, so they are
in both windows (7 and 30 days, lag 14) of 2026-11-20, -21 and -22:
  day 1 (11-20): 8 of 10 Toys scanned: Toys 80.00 % < 95 % in both windows; overall 48/50 = 96 % is ok.
  day 2 (11-21): orders and confirmations files arrive, no scans file: the scans feed is stale; Toys still 80 %.
  day 3 (11-22): the scans file for 11-22 scans the two missing Toys: Toys 100 %, back on target.
The Toys packages are also in the early warning's projected 30-day window (promised D - 29 .. D) on days 1 and 2.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller

from helpers.feeds import confirmations_tsv, orders_tsv, scans_csv
from helpers.project import Project
from helpers.receivers import Hook, Inbox
from helpers.servers import free_port
from pipeline import checks
from pipeline.contract import DATASETS
from pipeline.lake import connect
from pipeline.run import run
from pipeline.settings import load_settings
from vtrdemo.airflow_local import run_dag
from vtrdemo.generator import generate

pytestmark = pytest.mark.slow  # the real DAG end to end

D1, D2, D3 = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)
PROMISED, SHIPPED = "2026-11-05", "2026-11-02"
BOOKS = [f"B{i:03d}" for i in range(1, 41)]
TOYS = [f"T{i:03d}" for i in range(1, 11)]
CONF_HEADER_ONLY = confirmations_tsv()
VTR_BREACH = "VTR below target: acme Amazon.se"
EARLY_WARNING = "Early warning: projected VTR below target: acme Amazon.se"


@pytest.fixture(autouse=True)
def quick_alert_retries(monkeypatch):
    monkeypatch.setenv("VTR_ALERT_BACKOFF_SECONDS", "0.01")


class Servers:
    """The HTTP hook and the SMTP inbox; `received()` is every (title, message) so far, per channel."""

    def __init__(self):
        self.hook = Hook()
        self.inbox = Inbox()
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=free_port())
        self.smtp.start()
        self.mail_url = f"mailto://127.0.0.1:{self.smtp.port}?mode=insecure&from=vtr@example.com&to=ops@example.com"

    def posts(self) -> list[tuple[str, str]]:
        return [(m["title"], m["message"]) for m in self.hook.messages()]

    def mails(self) -> list[tuple[str, str]]:
        found = []
        for raw in self.inbox.mails:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n").strip()
            found.append((str(msg["subject"]), body))
        return found

    def close(self):
        self.smtp.stop()
        self.hook.server.shutdown()
        self.hook.server.server_close()


def new_project(root: Path, servers: Servers, extra: str = "") -> Project:
    project = Project(root)
    project.write_config(f'[[alerts]]\nurl = "{servers.hook.url}"\n[[alerts]]\nurl = "{servers.mail_url}"\n' + extra)
    return project


def day_files(day: dt.date) -> list[tuple[str, str, str]]:
    """(feed, file name, content) that land for a day."""
    if day == D1:
        scanned = BOOKS + TOYS[:8]
        return [
            ("catalog", "catalog.csv", "sku,category\nSKU-B,Books\nSKU-T,Toys\n"),
            (
                "orders",
                "orders_2026-11-20.txt",
                orders_tsv(*[(o, f"{o}-1", "SKU-B" if o[0] == "B" else "SKU-T", PROMISED) for o in BOOKS + TOYS]),
            ),
            (
                "confirmations",
                "confirmations_2026-11-20.txt",
                confirmations_tsv(*[(o, f"{o}-1", SHIPPED, "UPS", "", f"1Z{o}") for o in BOOKS + TOYS]),
            ),
            (
                "scans",
                "scans_2026-11-20.csv",
                scans_csv(*[(f"1Z{o}", "2026-11-03T10:00:00Z", "in_transit") for o in scanned]),
            ),
        ]
    if day == D2:  # a new order (promised later, outside the windows); no scans file today
        return [
            ("orders", "orders_2026-11-21.txt", orders_tsv(("N2", "N2-1", "SKU-B", "2026-12-10"))),
            ("confirmations", "confirmations_2026-11-21.txt", CONF_HEADER_ONLY),
        ]
    return [
        ("orders", "orders_2026-11-22.txt", orders_tsv(("N3", "N3-1", "SKU-B", "2026-12-11"))),
        ("confirmations", "confirmations_2026-11-22.txt", CONF_HEADER_ONLY),
        (
            "scans",
            "scans_2026-11-22.csv",
            scans_csv(*[(f"1Z{o}", "2026-11-22T08:00:00Z", "out_for_delivery") for o in TOYS[8:]]),
        ),
    ]


def drop_day(project: Project, day: dt.date) -> None:
    for feed, name, content in day_files(day):
        project.drop("acme", feed, name, content)


def dag_run(project: Project, day: dt.date, **kwargs):
    log = project.root / "airflow.log"
    result = run_dag(project.config, [day], log_file=log, **kwargs)[0]
    result.log_tail = log.read_text()[-3000:]
    return result


def query(project: Project, sql: str, params=None) -> list[tuple]:
    con = connect(project.settings(), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def output_files(project: Project) -> dict[str, Path]:
    out = project.settings().output
    return {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*.parquet"))}


# --- three consecutive days, one re-run ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Runs day 1, day 1 again, day 2 and day 3; records what each run sent and how long it took."""
    servers = Servers()
    project = new_project(tmp_path_factory.mktemp("dag_e2e"), servers)
    steps = {}
    for name, day, new_files in [("day1", D1, True), ("rerun1", D1, False), ("day2", D2, True), ("day3", D3, True)]:
        if new_files:
            drop_day(project, day)
        posts, mails = len(servers.posts()), len(servers.mails())
        started = time.monotonic()
        result = dag_run(project, day)
        steps[name] = {
            "result": result,
            "seconds": time.monotonic() - started,
            "posts": servers.posts()[posts:],
            "mails": servers.mails()[mails:],
        }
    yield project, steps
    servers.close()


def asset_events(run_id: str) -> list[dict]:
    """The `extra` of every asset event the run's tasks emitted (Airflow's metadata database)."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [e.extra for e in session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run_id))]


def assert_succeeded(result) -> None:
    assert result.state == "success", (result.tasks, result.log_tail)
    assert result.failed_tasks == [], result.tasks


def test_day1_sends_one_category_breach_alert_per_channel_with_its_figures(three_days):
    _, steps = three_days
    day1 = steps["day1"]
    assert_succeeded(day1["result"])
    assert set(day1["result"].tasks) == {
        "plan_run",
        "list_sellers",
        "seller.wait_for_files[0]",
        "seller.run_seller[0]",
        "finish_run",
    }
    assert [title for title, _ in day1["posts"]] == [VTR_BREACH, EARLY_WARNING]
    assert day1["mails"] == day1["posts"]  # the same alerts, once each by e-mail
    body, early = day1["posts"][0][1], day1["posts"][1][1]
    assert "acme on Amazon.se, snapshot 2026-11-20: 2 below target, 0 back on target." in body
    assert "category Toys, 7 days: VTR 80.00% < target 95.00% (8/10 valid); top reasons: no_carrier_events 2" in body
    assert "category Toys, 30 days: VTR 80.00% < target 95.00% (8/10 valid)" in body
    assert "overall" not in body and "Books" not in body  # 48/50 = 96 % and 40/40 are on target
    assert "stale" not in body
    assert (
        "category Toys, 30 days (promised 2026-10-22 to 2026-11-20): projected VTR 80.00% < target 95.00%"
        " (8/10 valid so far)"
    ) in early


def test_day1_xcom_and_asset_events_carry_the_verdict_below_target_naming_the_category(three_days):
    """Overall 96 % is on target, Toys 80 % is not: the account's verdict is below target (spec section 4), in
    finish_run's return value (XCom) and in every asset event's extra, with its breaches; the overall rows stay."""
    _, steps = three_days
    result = steps["day1"]["result"]
    toys = {"scope": "category", "scope_value": "Toys", "vtr": 0.8, "packages_valid": 8, "packages_total": 10}
    expected = [
        {
            "seller_id": "acme",
            "marketplace": "Amazon.se",
            "verdict": "below_target",
            "breaches": [toys | {"window_days": 7}, toys | {"window_days": 30}],
            "text": "Below target in 1 category: Toys 7-day 80.00%, Toys 30-day 80.00%",
        }
    ]
    assert result.figures["verdicts"] == expected
    assert {(a["window_days"], a["status"]) for a in result.figures["accounts"]} == {(7, "ok"), (30, "ok")}
    events = asset_events(result.run_id)
    assert len(events) == len(DATASETS) and all(e["verdicts"] == expected for e in events)  # one per dataset
    # day 3: Toys back on target, the verdict with it
    assert [v["verdict"] for v in steps["day3"]["result"].figures["verdicts"]] == ["ok"]


def test_rerun_of_a_date_sends_nothing_new(three_days):
    project, steps = three_days
    assert_succeeded(steps["rerun1"]["result"])
    assert steps["rerun1"]["posts"] == [] and steps["rerun1"]["mails"] == []
    log = query(
        project,
        "select kind, snapshot_date, channel, delivered, attempts from main.alert_log"
        " where snapshot_date = ? order by channel",
        [D1],
    )
    port_hook = project.config.read_text().split("json://127.0.0.1:")[1].split("/")[0]
    assert sorted((k, c.split(":")[0], d, a) for k, _, c, d, a in log) == [
        ("early_warning", "json", True, 1),
        ("early_warning", "mailto", True, 1),
        ("vtr", "json", True, 1),
        ("vtr", "mailto", True, 1),
    ]
    # the channel's service and host, never the URL's token
    assert {c for _, _, c, _, _ in log if c.startswith("json")} == {f"json://127.0.0.1:{port_hook}"}


def test_stale_scans_feed_is_alerted_and_the_run_does_not_wait(three_days):
    _, steps = three_days
    day2 = steps["day2"]
    assert_succeeded(day2["result"])
    assert day2["seconds"] < 60  # the sensor's poke interval is 5 minutes: a wait would show
    titles = sorted(title for title, _ in day2["posts"])
    assert titles == [EARLY_WARNING, "Stale feed: acme (scans)", VTR_BREACH]
    assert sorted(day2["mails"]) == sorted(day2["posts"])
    messages = dict(day2["posts"])
    assert "No file arrived for 2026-11-21 in seller acme's feed(s): scans." in messages["Stale feed: acme (scans)"]
    vtr = messages[VTR_BREACH]
    assert "computed on stale scans: no scans file arrived for 2026-11-21" in vtr
    assert "category Toys, 7 days: VTR 80.00% < target 95.00% (8/10 valid)" in vtr


def test_day3_recovery_alert(three_days):
    _, steps = three_days
    day3 = steps["day3"]
    assert_succeeded(day3["result"])
    assert [title for title, _ in day3["posts"]] == ["VTR back on target: acme Amazon.se"]
    assert day3["mails"] == day3["posts"]
    body = day3["posts"][0][1]
    assert "0 below target, 2 back on target." in body
    assert "recovered: category Toys, 7 days: VTR 100.00% >= 95.00% (10/10 valid)" in body
    assert "recovered: category Toys, 30 days: VTR 100.00% >= 95.00% (10/10 valid)" in body
    assert "stale" not in body


def test_dag_outputs_equal_those_of_vtr_run_on_the_same_files(three_days, tmp_path):
    project, _ = three_days
    copy = Project(tmp_path)
    copy.write_config()
    for day in (D1, D2, D3):  # the files as they had landed by each run
        drop_day(copy, day)
        run(load_settings(copy.config), day)
    dag_files, cli_files = output_files(project), output_files(copy)
    datasets = {name.split("/")[0] for name in dag_files}
    assert {"vtr_snapshots", "category_report", "invalid_packages"} <= datasets
    assert sorted(dag_files) == sorted(cli_files)
    assert len(dag_files) == 3 * len(datasets)
    for name, path in dag_files.items():
        dag_table, cli_table = pq.read_table(path), pq.read_table(cli_files[name])
        assert dag_table.equals(cli_table), name
    toys = pq.read_table(dag_files["vtr_snapshots/snapshot_date=2026-11-20/acme.parquet"]).to_pylist()
    assert {
        (r["window_days"], r["packages_valid"], r["packages_total"], r["status"])
        for r in toys
        if r["scope_value"] == "Toys"
    } == {(7, 8, 10, "below_target"), (30, 8, 10, "below_target")}


# --- failures ------------------------------------------------------------------------------------------------------


@pytest.fixture
def servers():
    s = Servers()
    yield s
    s.close()


def test_an_alert_endpoint_that_refuses_leaves_the_run_successful_and_a_later_run_delivers(tmp_path, servers):
    # each refused send counts towards max_attempts (the receiver may have acted on it): 3 now, the 4th delivers
    project = new_project(tmp_path, servers, "[alert_policy]\nmax_attempts = 4\n")
    drop_day(project, D1)
    servers.hook.status = 405  # what Airflow's own API answers when an alert URL points at it

    down = dag_run(project, D1)

    assert_succeeded(down)  # the outputs were published: a channel that is down fails nothing
    assert [t for t, _ in servers.posts()].count(VTR_BREACH) == 3  # three tries inside the step, with back-off
    assert [t for t, _ in servers.mails()] == [VTR_BREACH, EARLY_WARNING]
    assert down.figures["alerts_not_delivered"] == 2 and down.figures["alerts_sent"] == 2  # hook: 0 of 2, mail 2
    log = query(project, "select channel, delivered, attempts, error from main.alert_log where kind = 'vtr'")
    failed = [row for row in log if row[0].startswith("json")]
    assert [(d, a) for _, d, a, _ in failed] == [(False, 3)]
    assert "405" in failed[0][3]

    servers.hook.status = 200
    servers.hook.posts.clear()
    up = dag_run(project, D1)

    assert_succeeded(up)
    assert [t for t, _ in servers.posts()] == [VTR_BREACH, EARLY_WARNING]
    assert len(servers.mails()) == 2  # nothing twice by e-mail
    assert (
        query(project, "select count(*) from main.alert_log where kind = 'vtr' and channel like 'json%' and delivered")[
            0
        ][0]
        == 1
    )


@pytest.fixture
def no_toys_check(tmp_path_factory, monkeypatch):
    """The product's checks plus one at level `fail` that finds rows in this data set (Toys in the snapshots)."""
    folder = tmp_path_factory.mktemp("checks")
    for path in checks.CHECKS_DIR.glob("*.sql"):
        (folder / path.name).write_text(path.read_text())
    (folder / "mart_vtr_snapshots_no_toys.sql").write_text(
        "-- level: fail\nselect scope_value from marts.mart_vtr_snapshots where scope_value = 'Toys'\n"
    )
    monkeypatch.setattr(checks, "CHECKS_DIR", folder)


def test_a_failed_check_withholds_the_sellers_outputs_on_every_retry_and_says_which(tmp_path, servers, no_toys_check):
    project = new_project(tmp_path, servers)
    drop_day(project, D1)

    first, again = dag_run(project, D1), dag_run(project, D1)

    for result in (first, again):  # the same inputs, the same outcome
        assert result.state == "failed"
        assert result.tasks["seller.run_seller[0]"] == "failed" and result.tasks["finish_run"] == "failed"
    assert output_files(project) == {}
    assert (
        query(project, "select count(*) from duckdb_tables() where database_name = 'lake' and schema_name = 'marts'")[
            0
        ][0]
        == 0
    )  # nothing published to the warehouse either
    titles = [t for t, _ in servers.posts()]
    assert titles == [f"VTR run failed: {r.run_id} / finish_run for 2026-11-20" for r in (first, again)]
    message = servers.posts()[0][1]
    assert "acme: outputs not published, a check failed: mart_vtr_snapshots_no_toys: 2 row(s)" in message
    assert servers.mails() == servers.posts()


def test_a_file_with_many_rejects_is_a_warning_sent_once_and_the_run_publishes(tmp_path, servers):
    project = new_project(tmp_path, servers, "[quality]\nmax_reject_share = 0.01\nmin_rejected_rows = 1\n")
    drop_day(project, D1)
    bad_row = "\tX-1\t2026-10-25T10:00:00+00:00\tSKU-B\t1\t10.00\tSEK\t2026-11-05\tAmazon.se\tA Buyer\n"
    project.drop(
        "acme", "orders", "orders_2026-11-20b.txt", orders_tsv(("B900", "B900-1", "SKU-B", PROMISED)) + bad_row
    )

    first = dag_run(project, D1)
    assert_succeeded(first)
    assert first.figures["warnings"] == ["acme: raw_files_many_rejects"]
    assert output_files(project)  # published all the same
    quality = [(t, m) for t, m in servers.posts() if t.startswith("Data quality")]
    assert len(quality) == 1 and "orders/orders_2026-11-20b.txt" in quality[0][0] + quality[0][1]

    again = dag_run(project, D1)  # a re-run: the warning was delivered, so it is neither sent nor listed again
    assert_succeeded(again)
    assert len([t for t, _ in servers.posts() if t.startswith("Data quality")]) == 1
    assert again.figures["warnings"] == []


def test_a_bad_snapshot_date_param_is_refused_before_any_task_runs(tmp_path, servers):
    from airflow.sdk.exceptions import ParamValidationError

    project = new_project(tmp_path, servers)
    with pytest.raises(ParamValidationError, match="snapshot_date"):
        dag_run(project, dt.date(2026, 11, 25), conf={"snapshot_date": "25.11.2026"})
    assert not project.settings().warehouse.exists()
    assert servers.posts() == []


def test_a_date_param_runs_that_date(tmp_path, servers):
    project = new_project(tmp_path, servers)
    drop_day(project, D1)
    result = dag_run(project, dt.date(2026, 11, 26), conf={"snapshot_date": "2026-11-20"})
    assert_succeeded(result)
    assert sorted({name.split("/")[1] for name in output_files(project)}) == ["snapshot_date=2026-11-20"]


def test_the_dag_and_vtr_run_isolate_a_broken_seller_alike(tmp_path):
    """Seller zeta's order report cannot be read (binary content); seller acme is fine. The DAG and `vtr run`, on
    the same files, publish the same outputs for both (zeta from what loaded, marked incomplete), send the same
    notifications, and both end failed naming zeta's file (spec section 5)."""
    received = {}
    for driver in ("dag", "cli"):
        servers = Servers()
        try:
            project = new_project(tmp_path / driver, servers)
            drop_day(project, D1)
            project.add_seller("zeta")
            project.drop("zeta", "orders", "orders_ok.txt", orders_tsv(("Z1", "Z1-1", "SKU-B", PROMISED)))
            project.drop("zeta", "orders", "orders_broken.txt", b"\x00\x01\x02 not a report" * 200)
            project.drop(
                "zeta", "confirmations", "conf.txt", confirmations_tsv(("Z1", "Z1-1", SHIPPED, "UPS", "", "1ZZ1"))
            )
            if driver == "dag":
                result = dag_run(project, D1)
                assert result.state == "failed" and result.tasks["finish_run"] == "failed", result.tasks
                # the grid shows which seller failed: zeta's task is red (sellers map in name order), acme's green
                assert result.tasks["seller.run_seller[1]"] == "failed"
                failed = {"finish_run", "seller.run_seller[1]"}
                assert all(state == "success" for task, state in result.tasks.items() if task not in failed)
            else:
                summary = run(load_settings(project.config), D1)
                assert summary.failures() == ["zeta orders/orders_broken.txt: binary content, not a text file"]
            received[driver] = {
                "outputs": {
                    name: path.read_bytes()
                    for name, path in output_files(project).items()
                    if not name.startswith("reports/")
                },
                "notifications": sorted(
                    (t, m.replace(str(project.root), "<root>"))
                    for t, m in servers.posts()
                    if not t.startswith("VTR run failed")
                ),
                "failed": [m for t, m in servers.posts() if t.startswith("VTR run failed")],
            }
        finally:
            servers.close()

    dag, cli = received["dag"], received["cli"]
    assert {name.split("/")[-1] for name in dag["outputs"]} == {"acme.parquet", "zeta.parquet"}
    assert dag["outputs"] == cli["outputs"]
    assert dag["notifications"] == cli["notifications"]
    zeta = [m for t, m in dag["notifications"] if "zeta" in t and t.startswith("VTR")]
    assert zeta and "incomplete" in zeta[0] and "orders/orders_broken.txt" in zeta[0]
    for failed in (dag["failed"], cli["failed"]):
        assert len(failed) == 1 and "zeta orders/orders_broken.txt: binary content" in failed[0]


def test_a_bad_param_fails_the_plan_at_once_nothing_downstream_runs_and_one_notification_names_it(tmp_path, servers):
    project = new_project(tmp_path, servers)
    drop_day(project, D1)
    result = dag_run(project, D1, conf={"sellers": ["nope"]})  # how fast: on a real Airflow, test_airflow_operator.py
    assert result.state == "failed"
    assert result.tasks["plan_run"] == "failed"
    assert {s for t, s in result.tasks.items() if t != "plan_run"} == {"upstream_failed"}, result.tasks
    [(title, message)] = servers.posts()
    assert title == f"VTR run failed: {result.run_id} / plan_run for 2026-11-20"
    assert "sellers: unknown seller(s) ['nope']" in message


def test_a_sellers_work_stopped_by_sigstop_is_ended_at_the_task_timeout(tmp_path, servers):
    """The process doing acme's work is frozen; the task's watchdog kills it at the task timeout (1 minute), the task
    fails, and finish_run reports the run: one run-failed notification, naming the seller."""
    import os
    import signal
    import threading

    project = new_project(tmp_path, servers, "[schedule]\ntask_timeout_minutes = 1\n")
    drop_day(project, D1)
    stopped = []

    def freeze():  # the seller's work: a child of this process (dag.test runs tasks here) named "vtr acme"
        deadline = time.monotonic() + 120
        while not stopped and time.monotonic() < deadline:
            for child in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split():
                try:
                    if Path(f"/proc/{child}/comm").read_text().strip() == "vtr acme":
                        os.kill(int(child), signal.SIGSTOP)
                        stopped.append(int(child))
                except OSError:
                    continue
            time.sleep(0.05)

    watcher = threading.Thread(target=freeze, daemon=True)
    watcher.start()
    started = time.monotonic()
    result = dag_run(project, D1)
    took = time.monotonic() - started
    watcher.join()
    assert stopped, "no seller's work to stop"
    assert not Path(f"/proc/{stopped[0]}").exists()  # killed (and reaped), though stopped
    assert 60 <= took < 60 + 60
    assert result.tasks["seller.run_seller[0]"] == "failed" and result.tasks["finish_run"] == "failed"
    [(title, message)] = servers.posts()
    assert title == f"VTR run failed: {result.run_id} / finish_run for 2026-11-20"
    assert "acme: seller acme's work: not finished within 1 minute; stopped" in message


def test_a_corrupted_catalog_gives_one_run_failed_notification_over_retries(tmp_path, servers):
    project = new_project(tmp_path, servers)
    drop_day(project, D1)
    catalog = project.settings().warehouse
    catalog.parent.mkdir(parents=True)
    catalog.write_bytes(b"SQLite format 3\x00" + b"\x00garbage" * 1000)  # a header, then nothing readable

    runs = [dag_run(project, D1), dag_run(project, D1)]
    assert [r.state for r in runs] == ["failed", "failed"]
    failed = [(t, m) for t, m in servers.posts() if t.startswith("VTR run failed")]
    assert len(failed) == 1, servers.posts()
    assert "warehouse could not be opened or written" in failed[0][1]
    kept = (project.settings().output / "alert_log_without_warehouse.jsonl").read_text()  # what remembers it
    rows = [json.loads(line) for line in kept.splitlines()]
    assert sorted((r["kind"], r["channel"].split(":")[0], r["delivered"]) for r in rows) == [
        ("run_failed", "json", True),
        ("run_failed", "mailto", True),
    ]


# --- split shipments, exemptions and profiles (issue 17) ------------------------------------------------------------

PROFILES = (
    '[marketplaces."Amazon.se"]\ntarget = 0.97\n'
    '[marketplaces."Amazon.de"]\nintegrated_carriers = ["DHL", "DPD", "GLS", "HERMES", "UPS", "GO!", "AMZL"]\n'
    '[[marketplaces."Amazon.de".exemptions]]\nship_methods = ["DHL Paket"]\nmax_order_value = 40\ncarriers = ["DHL"]\n'
)


def test_the_dag_and_vtr_run_give_byte_identical_parquet_with_splits_exemptions_and_profiles(tmp_path):
    start, days = dt.date(2026, 10, 1), 45
    day = start + dt.timedelta(days=days - 1)
    outputs = {}
    for driver in ("dag", "cli"):
        project = Project(tmp_path / driver)
        generate(project.landing, seller_id="acme", start=start, days=days, packages=900, split_share=0.3)
        project.write_config(PROFILES)
        if driver == "dag":
            result = dag_run(project, day)
            assert result.state == "success", result.log_tail
        else:
            assert not run(load_settings(project.config), day).failures()
        outputs[driver] = {name: path.read_bytes() for name, path in output_files(project).items()}
        if driver == "cli":  # the data holds what the test is about
            packages = pq.read_table(output_files(project)[f"packages/snapshot_date={day}/acme.parquet"]).to_pylist()
            by_order: dict = {}
            for p in packages:
                by_order.setdefault(p["order_id"], []).append(p)
            assert any(len(boxes) > 1 for boxes in by_order.values())  # split orders: one row per box
            assert {p["status"] for p in packages} == {"valid", "invalid", "exempt"}
            snapshots = pq.read_table(output_files(project)[f"vtr_snapshots/snapshot_date={day}/acme.parquet"])
            targets = {(r["marketplace"], r["target"]) for r in snapshots.to_pylist()}
            assert targets == {("Amazon.se", 0.97), ("Amazon.de", 0.95)}
    assert outputs["dag"] == outputs["cli"]
