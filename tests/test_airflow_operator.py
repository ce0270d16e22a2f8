"""The operator's path on a real Airflow 3.3 (api-server, scheduler, dag-processor, triggerer started by the
project's launcher, `python -m ops.launcher`, on 127.0.0.1 with SQLite metadata): triggers from the REST API (with a
token) and the command line, with and without a logical date, a range, a re-run of a date, a backfill, a sensor that
waits, an error no retry can fix; what Airflow shows of the VTR, and what the notification channel receives."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydantic
import pytest

from helpers.airflow_api import AirflowApi
from helpers.receivers import Hook
from helpers.servers import free_ports
from vtrdemo.generator import CARRIER_ALIASES, generate

pytestmark = pytest.mark.slow  # a real Airflow started by the launcher (never beside the cluster: tests/conftest.py)

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
TODAY = dt.datetime.now(dt.UTC).date()
YESTERDAY = TODAY - dt.timedelta(days=1)  # the last complete UTC day: what a run without a date computes


class Airflow(AirflowApi):
    """The launcher's Airflow, its REST API (token from the simple auth manager's generated password) and CLI."""

    def __init__(self, root: Path, config: Path):
        self.home, self.port = root / "airflow", free_ports(3)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ops.launcher",
                "start",
                "--port",
                str(self.port),
                "--config",
                str(config),
                "--home",
                str(self.home),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output = []
        for line in self.process.stdout:
            self.output.append(line)
            if "ready at" in line or self.process.poll() is not None:
                break
        assert "ready at" in "".join(self.output), "".join(self.output)
        self.login("".join(self.output))
        # what the README's operator exports: AIRFLOW_HOME (its airflow.cfg, written by the launcher, says the rest)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
            "AIRFLOW_HOME": str(self.home),
        }
        self.settle()

    def settle(self, seconds: float = 360) -> None:
        """Wait for the runs that unpausing started (the last complete day, the maintenance) to end: the tests count
        notifications from their own runs, and on SQLite a burst of task starts can hold the API for a minute."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            active = self.request("GET", "/api/v2/dags/~/dagRuns?state=queued&state=running&limit=10")
            if not active["dag_runs"]:
                return
            time.sleep(3)
        raise AssertionError(f"runs still active after {seconds} s: {active['dag_runs']}")

    def cli(self, *args: str, again_if: str = "") -> subprocess.CompletedProcess:
        """Run an `airflow` command; one that fails saying `again_if` (which creates nothing) is run again."""
        for _ in range(3):
            done = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120)
            if done.returncode == 0 or not again_if or again_if not in done.stderr:
                break
            time.sleep(5)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def runs(self) -> dict[str, dict]:
        return {r["dag_run_id"]: r for r in self.request("GET", "/api/v2/dags/vtr_daily/dagRuns?limit=100")["dag_runs"]}

    def returned(self, run_id: str, task: str = "finish_run"):
        return self.request(
            "GET", f"/api/v2/dags/vtr_daily/dagRuns/{run_id}/taskInstances/{task}/xcomEntries/return_value"
        )["value"]

    def log(self, run_id: str, task: str, map_index: int = -1) -> str:
        found = self.request(
            "GET",
            f"/api/v2/dags/vtr_daily/dagRuns/{run_id}/taskInstances/{task}/logs/1"
            f"?map_index={map_index}&full_content=true",
        )
        return "\n".join(json.dumps(c) if isinstance(c, dict) else str(c) for c in found["content"])

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C
        self.process.wait(timeout=180)  # the launcher gives each component 30 s, then kills it


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    root = tmp_path_factory.mktemp("operator")
    generate(
        root / "landing", seller_id="acme", start=YESTERDAY - dt.timedelta(days=44), days=45, packages=1500, seed=3
    )
    hook = Hook()
    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    config = root / "vtr.toml"
    config.write_text(
        '[paths]\nlanding = "landing"\nwarehouse = "data/warehouse.sqlite"\noutput = "data/output"\n'
        "[schedule]\nwait_for_files_minutes = 0\ntask_timeout_minutes = 30\nrun_timeout_minutes = 90\n"
        "[ingest]\nsettle_seconds = 0\n"
        f'[[alerts]]\nurl = "{hook.url}"\n[carrier_aliases]\n{aliases}'
    )
    os.environ["VTR_ALERT_BACKOFF_SECONDS"] = "0.01"
    af = Airflow(root, config)
    try:
        yield af, hook, root
    finally:
        af.stop()
        hook.server.shutdown()
        hook.server.server_close()
        assert not list((root / "airflow").glob("launcher.pids"))


def titles(hook: Hook, since: int = 0) -> list[str]:
    return [m["title"] for m in hook.messages()[since:]]


def test_a_run_without_a_logical_date_computes_the_last_complete_day_and_airflow_shows_the_vtr(airflow):
    af, hook, root = airflow
    run = af.request("POST", "/api/v2/dags/vtr_daily/dagRuns", {"logical_date": None, "conf": {}})
    assert run["logical_date"] is None
    assert af.wait(run["dag_run_id"])["state"] == "success"
    figures = af.returned(run["dag_run_id"])
    assert figures["snapshot_date"] == YESTERDAY.isoformat()
    assert {(a["marketplace"], a["window_days"]) for a in figures["accounts"]} == {
        ("Amazon.se", 7),
        ("Amazon.se", 30),
        ("Amazon.de", 7),
        ("Amazon.de", 30),
    }
    assert [Path(r).name for r in figures["reports"]["acme"]] == [
        f"vtr_report_{YESTERDAY}_Amazon.de.html",
        f"vtr_report_{YESTERDAY}_Amazon.se.html",
    ]
    assert all(Path(r).exists() for r in figures["reports"]["acme"])
    events = af.request("GET", "/api/v2/assets/events?limit=50")["asset_events"]
    ours = [e for e in events if e["source_run_id"] == run["dag_run_id"]]
    assert {e["name"] for e in ours} >= {"vtr://vtr_snapshots", "vtr://invalid_packages"}
    assert all(e["extra"]["accounts"] == figures["accounts"] for e in ours)
    assert "VTR snapshot " + YESTERDAY.isoformat() in af.log(run["dag_run_id"], "finish_run")


def test_cli_triggers_a_date_a_rerun_and_a_range_notifying_its_last_date_only(airflow):
    af, hook, _ = airflow
    day, before = YESTERDAY - dt.timedelta(days=3), len(hook.messages())
    first = af.cli(
        "dags", "trigger", "vtr_daily", "-c", json.dumps({"snapshot_date": day.isoformat()}), "--output", "json"
    )
    run_ids = [r for r in af.runs() if r not in ("",)]
    [first_id] = [r["dag_run_id"] for r in json.loads(first.stdout.strip().splitlines()[-1])]
    assert af.wait(first_id)["state"] == "success"
    sent = titles(hook, before)
    again = af.cli(
        "dags", "trigger", "vtr_daily", "-c", json.dumps({"snapshot_date": day.isoformat()}), "--output", "json"
    )  # a re-run of the date: a new run, nothing sent twice
    [again_id] = [r["dag_run_id"] for r in json.loads(again.stdout.strip().splitlines()[-1])]
    assert af.wait(again_id)["state"] == "success" and again_id not in run_ids
    assert titles(hook, before) == sent

    start, end, before = YESTERDAY - dt.timedelta(days=9), YESTERDAY - dt.timedelta(days=7), len(hook.messages())
    ranged = af.cli(
        "dags",
        "trigger",
        "vtr_daily",
        "-c",
        json.dumps({"snapshot_date": start.isoformat(), "end_date": end.isoformat()}),
        "--output",
        "json",
    )
    [ranged_id] = [r["dag_run_id"] for r in json.loads(ranged.stdout.strip().splitlines()[-1])]
    assert af.wait(ranged_id)["state"] == "success"
    bodies = [m["message"] for m in hook.messages()[before:]]
    assert bodies, "the range's last date should be notified"
    assert all(str(d) not in b for b in bodies for d in (start, start + dt.timedelta(days=1)))
    assert any(f"snapshot {end}" in b for b in bodies)
    assert af.returned(ranged_id)["start_date"] == start.isoformat()


def test_a_backfill_publishes_every_date_and_notifies_nothing(airflow):
    af, hook, root = airflow
    before = len(hook.messages())
    first, last = YESTERDAY - dt.timedelta(days=14), YESTERDAY - dt.timedelta(days=12)
    done = subprocess.run(  # `make backfill FROM=.. TO=..`: on SQLite, run again while "database is locked"
        [sys.executable, "-m", "ops.backfill", "--from", first.isoformat(), "--to", last.isoformat()],
        env=af.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert all("database is locked; nothing was created): trying again" in line for line in done.stderr.splitlines())
    deadline = time.monotonic() + 360
    while time.monotonic() < deadline:
        backfilled = [r for r in af.runs().values() if r["run_type"] == "backfill"]
        if len(backfilled) == 3 and all(r["state"] in ("success", "failed") for r in backfilled):
            break
        time.sleep(3)
    assert sorted((r["logical_date"][:10], r["state"]) for r in backfilled) == [
        ((first + dt.timedelta(days=n)).isoformat(), "success") for n in range(3)
    ]
    for n in range(3):
        assert (
            root
            / "data"
            / "output"
            / "vtr_snapshots"
            / f"snapshot_date={first + dt.timedelta(days=n)}"
            / "acme.parquet"
        ).exists()
    assert titles(hook, before) == []


def test_the_sensor_says_which_feeds_it_waits_for_and_until_when(airflow):
    af, _, root = airflow
    for path in (root / "landing" / "acme" / "scans").glob(f"*{TODAY}*"):
        path.unlink()  # today's scans have not come (the generator wrote none either: it ends yesterday)
    run = af.request(
        "POST", "/api/v2/dags/vtr_daily/dagRuns", {"logical_date": None, "conf": {"snapshot_date": TODAY.isoformat()}}
    )
    deadline, log = time.monotonic() + 120, ""
    while time.monotonic() < deadline and "waiting for" not in log:
        time.sleep(3)
        try:
            log = af.log(run["dag_run_id"], "seller.wait_for_files", 0)
        except AssertionError:  # the mapped task instance is not there yet
            log = ""
    until = (dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time())).isoformat(timespec="minutes")
    assert re.search(rf"acme: waiting for the .*scans.* file\(s\) of {TODAY} until {until}", log), log
    af.request("PATCH", f"/api/v2/dags/vtr_daily/dagRuns/{run['dag_run_id']}", {"state": "failed"})


def test_an_error_no_retry_can_fix_fails_at_once_with_one_line_and_one_notification(airflow):
    af, hook, _ = airflow
    before = len(hook.messages())
    run = af.request("POST", "/api/v2/dags/vtr_daily/dagRuns", {"logical_date": None, "conf": {"sellers": ["nobody"]}})
    ended = af.wait(run["dag_run_id"], 120)
    assert ended["state"] == "failed"
    took = dt.datetime.fromisoformat(ended["end_date"]) - dt.datetime.fromisoformat(ended["start_date"])
    assert took < dt.timedelta(seconds=30), took
    tasks = af.tasks(run["dag_run_id"])
    plan = tasks.pop("plan_run")
    assert plan["state"] == "failed" and plan["try_number"] == 1 and plan["duration"] < 30
    assert {t["state"] for t in tasks.values()} == {"upstream_failed"}  # nothing downstream ran, finish_run neither
    assert "sellers: unknown seller(s) ['nobody']" in af.log(run["dag_run_id"], "plan_run")
    deadline = time.monotonic() + 30  # the failure callback runs after the task has ended
    while len(hook.messages()) == before and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(5)  # a second notification would come now
    [message] = hook.messages()[before:]
    assert message["title"] == f"VTR run failed: {run['dag_run_id']} / plan_run for the last complete day"
    assert "sellers: unknown seller(s) ['nobody']" in message["message"]


def test_the_dag_carries_the_settings_timeouts(airflow):
    af, _, _ = airflow
    details = af.request("GET", "/api/v2/dags/vtr_daily/details")
    assert details["dag_run_timeout"] in ("01:30:00", "PT1H30M", 5400, "P0DT1H30M0S") or "1:30" in str(
        details["dag_run_timeout"]
    ), details["dag_run_timeout"]
    tasks = {t["task_id"]: t for t in af.request("GET", "/api/v2/dags/vtr_daily/tasks")["tasks"]}
    assert (
        str(tasks["seller.run_seller"]["execution_timeout"])
        in ("{'__type': 'TimeDelta', 'days': 0, 'seconds': 1800, 'microseconds': 0}",)
        or "1800" in json.dumps(tasks["seller.run_seller"]["execution_timeout"])
        or "0:30" in json.dumps(tasks["seller.run_seller"]["execution_timeout"])
    )


# --- hangs: the last tests, as they change the settings --------------------------------------------------------------


def _settings(root: Path, **schedule: int) -> None:
    """Rewrite the settings file's [schedule] keys (the tasks read it when they run; the DAG when it is parsed)."""
    config = root / "vtr.toml"
    text = config.read_text()
    for key, value in schedule.items():
        text = re.sub(rf"{key} = \d+", f"{key} = {value}", text)
    config.write_text(text)


def _launched(home: Path) -> set[int]:
    """The sessions of the launcher's components: processes of this Airflow, not of another test's."""
    return set(json.loads((home / "launcher.pids").read_text()).values())


def test_a_sellers_work_stopped_by_sigstop_is_ended_at_the_task_timeout(airflow):
    """Airflow's execution_timeout (a SIGALRM in the task process) ends nothing stopped; the watchdog does: the
    process doing acme's work (`vtr acme`, a child of the task process) is frozen, killed at the task timeout (1
    minute, read from the settings when the task runs), the task fails, and the run is notified once."""
    af, hook, root = airflow
    _settings(root, task_timeout_minutes=1)
    try:
        before = len(hook.messages())
        day = YESTERDAY - dt.timedelta(days=20)
        run = af.request(
            "POST", "/api/v2/dags/vtr_daily/dagRuns", {"logical_date": None, "conf": {"snapshot_date": str(day)}}
        )
        sessions, stopped, deadline = _launched(af.home), None, time.monotonic() + 180
        while stopped is None and time.monotonic() < deadline:
            for entry in Path("/proc").iterdir():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[3]) in sessions and (entry / "comm").read_text().strip() == "vtr acme":
                        os.kill(int(entry.name), signal.SIGSTOP)
                        stopped = int(entry.name)
                        break
                except (OSError, ValueError):
                    continue
            time.sleep(0.05)
        assert stopped, "acme's work never ran"
        stopped_at = time.monotonic()
        assert af.wait(run["dag_run_id"], 300)["state"] == "failed"
        assert not Path(f"/proc/{stopped}").exists() or "Z" in Path(f"/proc/{stopped}/stat").read_text().split()[2]
        tasks = af.tasks(run["dag_run_id"])
        assert tasks["seller.run_seller[0]"]["state"] == "failed" and tasks["finish_run"]["state"] == "failed"
        assert time.monotonic() - stopped_at >= 50  # ended at the timeout, not before
        assert "seller acme's work: not finished within 1 minute; stopped" in af.log(
            run["dag_run_id"], "seller.run_seller", 0
        )
        time.sleep(10)
        failed = [m for m in hook.messages()[before:] if m["title"].startswith("VTR run failed")]
        assert len(failed) == 1 and "acme: seller acme's work: not finished within 1 minute" in failed[0]["message"]
    finally:
        _settings(root, task_timeout_minutes=30)


def test_a_run_past_its_run_timeout_is_notified_once(airflow):
    """A run that waits for files past its run timeout: the scheduler fails it and skips its tasks; the DAG's
    failure callback (reason timed_out) sends "run failed" once."""
    af, hook, root = airflow
    _settings(root, run_timeout_minutes=1)

    def reparsed(seconds: int) -> bool:  # the DAG reads its run timeout when parsed: wait for a new parse
        timeout = af.request("GET", "/api/v2/dags/vtr_daily/details")["dag_run_timeout"]  # ISO 8601: PT1H30M
        return pydantic.TypeAdapter(dt.timedelta).validate_python(timeout) == dt.timedelta(seconds=seconds)

    try:
        af.reparse()
        deadline = time.monotonic() + 300
        while not reparsed(60) and time.monotonic() < deadline:
            time.sleep(1)
        assert reparsed(60), af.request("GET", "/api/v2/dags/vtr_daily/details")["dag_run_timeout"]
        before = len(hook.messages())
        run = af.request(
            "POST", "/api/v2/dags/vtr_daily/dagRuns", {"logical_date": None, "conf": {"snapshot_date": str(TODAY)}}
        )  # today's files have not all come: its sensor waits
        ended = af.wait(run["dag_run_id"], 300)
        assert ended["state"] == "failed"
        assert "skipped" in {t["state"] for t in af.tasks(run["dag_run_id"]).values()}
        deadline = time.monotonic() + 120  # the dag-processor runs the callback
        while not hook.messages()[before:] and time.monotonic() < deadline:
            time.sleep(2)
        time.sleep(10)
        [message] = [m for m in hook.messages()[before:] if run["dag_run_id"] in m["title"]]
        assert message["title"] == f"VTR run failed: {run['dag_run_id']} / run timeout for {TODAY}"
        assert "the run did not finish within 1 min" in message["message"]
    finally:
        _settings(root, run_timeout_minutes=90)
        af.reparse()
        deadline = time.monotonic() + 300
        while not reparsed(5400) and time.monotonic() < deadline:
            time.sleep(1)
        assert reparsed(5400)  # the next tests run with the usual timeout
