"""The cluster of `make cluster-up` (ops/cluster.py): PostgreSQL, Redis, Airflow's api-server, scheduler and
dag-processor and two Celery workers on 127.0.0.1, brought up once for the module. Four sellers, one DAG run per
snapshot date; outputs equal one embedded serial `vtr backfill`; notifications at a local webhook; an analyst
session open on the lake throughout; a worker SIGKILLed in the middle of a seller's task, named by `cluster-status`
and restarted alone by `cluster-up`; its secrets readable by their owner only; down and up again.

Mark `cluster` (`pytest -m cluster`); `make test` runs it. Without redis-server or PostgreSQL it skips, except in CI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.airflow_api import AirflowApi
from helpers.published import published
from helpers.receivers import Hook
from helpers.servers import free_port, free_ports
from ops import services
from pipeline.analyst import open_session
from pipeline.lake import connect
from pipeline.settings import load_settings
from vtrdemo.generator import CARRIER_ALIASES, generate

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SELLERS = ("s1", "s2", "s3", "s4")
# 300 packages a seller over 45 days: on D1 accounts are below target, on D2 some are back (Garden's dip, seeds 0-3)
D1, D2 = dt.date(2026, 9, 27), dt.date(2026, 9, 28)


def _available() -> str | None:
    try:
        services.postgres_bin()
        services.redis_server()
    except services.ServiceError as exc:
        return str(exc)
    return None


class Cluster(AirflowApi):
    """`python -m ops.cluster up|status|down` on a settings file, and the REST API of its Airflow."""

    def __init__(self, settings: Path, home: Path):
        self.settings, self.home = settings, home

    def command(self, command: str) -> subprocess.CompletedProcess:
        # the DAG's own retries (conftest's in-process Airflow sets VTR_TASK_RETRIES=0 for this test session)
        env = {k: v for k, v in os.environ.items() if k != "VTR_TASK_RETRIES"}
        return subprocess.run(
            [sys.executable, "-m", "ops.cluster", command, "--settings", str(self.settings)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=self.settings.parent,  # anywhere: the settings' paths are the repository's or absolute
        )

    def succeed(self, command: str) -> str:
        done = self.command(command)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def up(self) -> str:
        out = self.succeed("up")
        self.port = int(re.search(r"ready at http://127\.0\.0\.1:(\d+)", out).group(1))
        self.login(out)
        return out

    def pids(self) -> dict[str, int]:
        return json.loads((self.home / "cluster.pids").read_text())


def marts(config: Path, last: dt.date) -> dict[str, list[tuple]]:
    """Every published mart's rows up to the date `last`, read as an analyst would."""
    con = connect(load_settings(config), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'lake' and schema_name = 'marts'"
                " and table_name like 'mart\\_%' escape '\\' order by all"
            ).fetchall()
        ]
        return {
            m: con.execute(
                f"select seller_id, * exclude (seller_id) from marts.{m} where snapshot_date <= ? order by all", [last]
            ).fetchall()
            for m in names
        }
    finally:
        con.close()


def assert_same_as_serial(cluster_config: Path, serial_config: Path, last: dt.date) -> None:
    """Rows and Parquet bytes: the cluster's marts and files up to `last` are the serial run's."""
    assert marts(cluster_config, last) == marts(serial_config, last)
    got, expected = published(cluster_config), published(serial_config)
    assert got.raw == expected.raw
    dated = re.compile(r"snapshot_date=(\d{4}-\d\d-\d\d)/")

    def parquet(files):
        return {
            p: b
            for p, b in files.items()
            if p.endswith(".parquet") and dt.date.fromisoformat(dated.search(p).group(1)) <= last
        }

    assert sorted(parquet(got.files)) == sorted(parquet(expected.files))
    assert [p for p, b in parquet(expected.files).items() if got.files[p] != b] == [], "Parquet files differ"
    reports = [p for p in expected.files if p.startswith("reports/") and str(last) in p]
    assert [p for p in reports if got.files.get(p) != expected.files[p]] == [], "reports differ"


def vtr_alerts(hook: Hook) -> list[tuple[str, str, str]]:
    """(seller, marketplace, snapshot date) of every VTR alert the webhook received."""
    found = []
    for m in hook.messages():
        if m["title"].startswith(("VTR below target", "VTR back on target")):
            seller, market, date = re.match(r"(\S+) on (\S+), snapshot (\S+):", m["message"]).groups()
            found.append((seller, market, date))
    return found


@pytest.fixture(scope="module")
def cluster():
    missing = _available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI installs it: .ci/system-packages --required)")
        pytest.skip(f"{missing}; the cluster tests are skipped")
    root = Path(tempfile.mkdtemp(prefix="vtr-cluster-"))  # /tmp itself: the postgres user enters it
    root.chmod(0o711)
    for n, seller in enumerate(SELLERS):
        generate(
            root / "landing",
            seller_id=seller,
            start=dt.date(2026, 9, 1),
            days=45,
            packages=300,
            seed=n,
            memory_limit="512MB",
        )
    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    serial = root / "serial" / "vtr.toml"
    serial.parent.mkdir()
    serial.write_text(
        f'[paths]\nlanding = "{root / "landing"}"\nwarehouse = "data/warehouse.sqlite"\n'
        f'output = "data/output"\n[schedule]\nwait_for_files_minutes = 0\n[ingest]\nsettle_seconds = 0\n'
        f"[carrier_aliases]\n{aliases}"
    )
    backfill = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("vtr")),
            "backfill",
            "--config",
            str(serial),
            "--start",
            str(D1),
            "--end",
            str(D2),
            "--no-alerts",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    hook = Hook()
    settings = root / "cluster.toml"
    settings.write_text(
        f'[cluster]\nhome = "{root / "home"}"\nport = {free_ports(3)}\npostgres_port = {free_port()}\n'
        f"redis_port = {free_port()}\nworkers = 2\nworker_concurrency = 2\npool_slots = 4\nparallelism = 8\n"
        "task_heartbeat_timeout = 20\nschedule = false\n"
        f'[vtr.paths]\nlanding = "{root / "landing"}"\noutput = "{root / "output"}"\n'
        "[vtr.schedule]\nwait_for_files_minutes = 0\ntask_timeout_minutes = 10\nrun_timeout_minutes = 20\n"
        "[vtr.ingest]\nsettle_seconds = 0\n"
        '[vtr.duckdb]\nmemory_limit = "512MB"\nthreads = 1\n'
        f'[vtr.carrier_aliases]\n{aliases}[[vtr.alerts]]\nurl = "{hook.url}"\n'
    )
    os.environ["VTR_ALERT_BACKOFF_SECONDS"] = "0.01"
    c = Cluster(settings, root / "home")
    try:
        c.up()
        assert backfill.wait(timeout=300) == 0, backfill.stderr.read()
        c.config, c.serial, c.hook, c.root = root / "home" / "vtr.toml", serial, hook, root
        yield c
    finally:
        c.succeed("down")
        hook.server.shutdown()
        hook.server.server_close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def analyst(cluster):
    """The read-only session `vtr sql` opens, with the settings cluster-up writes for analysts (the catalog role
    that can only read), held open from before the first run to the end of the module."""
    password = os.environ.get("PGPASSWORD")
    con = open_session(load_settings(cluster.home / "vtr-analyst.toml"))
    yield con
    con.close()
    if password is None:  # the session hands its catalog password to libpq this way
        os.environ.pop("PGPASSWORD", None)
    else:
        os.environ["PGPASSWORD"] = password


def test_analysts_connect_with_a_catalog_role_that_cannot_change_it(cluster, analyst):
    import psycopg2

    reader = load_settings(cluster.home / "vtr-analyst.toml").catalog
    assert "user=vtr_reader" in reader
    by_hand = psycopg2.connect(reader)  # a client an analyst opens with the same role
    with by_hand, by_hand.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cur.execute("delete from ducklake_snapshot")
    by_hand.close()
    with pytest.raises(Exception, match="read-only"):
        analyst.execute("create table lake.main.t as select 1")


def test_four_sellers_on_two_workers_equal_the_serial_run_and_notify_breaches(cluster, analyst):
    assert analyst.execute("select count(*) from raw.files").fetchone()[0] == 0  # a fresh lake, open before any run
    run_id = cluster.trigger({"snapshot_date": str(D1)})
    assert cluster.wait(run_id)["state"] == "success"
    tasks = list(cluster.tasks(run_id).values())
    assert {t["state"] for t in tasks} == {"success"}, [(t["task_id"], t["state"]) for t in tasks]
    assert sorted(t["map_index"] for t in tasks if t["task_id"] == "seller.run_seller") == [0, 1, 2, 3]
    # the analyst's session, open throughout, sees the run's commits on its next query
    assert (
        analyst.execute("select count(*) from marts.mart_vtr_snapshots where snapshot_date = ?", [D1]).fetchone()[0] > 0
    )
    assert_same_as_serial(cluster.config, cluster.serial, D1)
    alerts = vtr_alerts(cluster.hook)
    assert alerts and len(alerts) == len(set(alerts)) and {d for _, _, d in alerts} == {str(D1)}
    assert any(m["title"].startswith("VTR below target") for m in cluster.hook.messages())


def test_a_worker_killed_in_a_sellers_task_is_retried_elsewhere_with_the_same_outputs(cluster, analyst):
    """The second date: a worker is SIGKILLed (its whole session: pool and task processes) while it runs a seller's
    chain; the scheduler misses the task's heartbeat, fails it, and the retry runs on the other worker."""
    before = vtr_alerts(cluster.hook)
    run_id = cluster.trigger({"snapshot_date": str(D2)})
    deadline, victim = time.monotonic() + 120, None
    while victim is None and time.monotonic() < deadline:
        running = [
            t
            for t in cluster.tasks(run_id).values()
            if t["task_id"] == "seller.run_seller" and t["state"] == "running" and t["hostname"]
        ]
        if running:  # the latest started: still far from its end when the kill comes
            victim = max(running, key=lambda t: t["start_date"] or "")
        else:
            time.sleep(0.5)
    assert victim, "no seller's task ran"
    worker = victim["hostname"].split("@")[0]
    session = cluster.pids()[f"worker-{worker}"]
    for pid in services.session_members(session):  # the worker, its pool and its task processes
        os.kill(pid, signal.SIGKILL)
    state = cluster.wait(run_id, 300)["state"]
    tasks = list(cluster.tasks(run_id).values())
    assert state == "success" and {t["state"] for t in tasks} == {"success"}, [
        (t["task_id"], t["map_index"], t["state"], t["try_number"], t["hostname"]) for t in tasks
    ]
    again = next(t for t in tasks if t["task_id"] == "seller.run_seller" and t["map_index"] == victim["map_index"])
    assert again["try_number"] >= 2 and not again["hostname"].startswith(worker + "@"), again
    # mapped seller tasks ran on both workers
    assert {victim["hostname"].split("@")[0], again["hostname"].split("@")[0]} == {"w1", "w2"}
    assert_same_as_serial(cluster.config, cluster.serial, D2)
    assert (
        analyst.execute("select count(*) from marts.mart_vtr_snapshots where snapshot_date = ?", [D2]).fetchone()[0] > 0
    )
    alerts = vtr_alerts(cluster.hook)
    assert len(alerts) == len(set(alerts)) and alerts[: len(before)] == before, "a notification was sent twice"
    assert {d for _, _, d in alerts[len(before) :]} == {str(D2)}
    bodies = [m["message"] for m in cluster.hook.messages() if m["title"].startswith("VTR")]
    assert any(f"snapshot {D2}" in b and re.search(r"[1-9]\d* back on target", b) for b in bodies), bodies


def test_cluster_status_names_a_dead_worker_and_cluster_up_restarts_only_it(cluster):
    before = cluster.pids()
    w2 = before["worker-w2"]
    for pid in services.session_members(w2):  # w2's whole session (the test above may have killed w1 already)
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while services.session_members(w2) and time.monotonic() < deadline:
        time.sleep(0.2)  # gone once the kernel has ended every process of it
    dead = sorted(n for n, pid in before.items() if n.startswith("worker-") and not services.session_members(pid))
    assert "worker-w2" in dead

    status = cluster.command("status")
    assert status.returncode == 1
    assert f"cluster: down: {', '.join(dead)}" in status.stderr
    lines = {line.split()[0]: line for line in status.stdout.splitlines()}
    assert set(lines) == set(before)  # every component, with its process id
    for name, pid in before.items():
        assert f"pid {pid}" in lines[name]
        assert (" DOWN " in lines[name]) == (name in dead), lines[name]
    assert "up" in lines["postgres"] and "accepts connections" in lines["postgres"]

    out = cluster.succeed("up")
    assert f"cluster: started {', '.join(dead)}\n" in out
    after = cluster.pids()
    assert {n: p for n, p in after.items() if n not in dead} == {n: p for n, p in before.items() if n not in dead}
    assert all(after[n] != before[n] and services.session_members(after[n]) for n in dead)
    deadline = time.monotonic() + 120
    while (status := cluster.command("status")).returncode != 0 and time.monotonic() < deadline:
        time.sleep(3)  # a new worker answers Celery's ping once it has joined the broker
    assert status.returncode == 0, status.stdout + status.stderr
    assert "cluster: up, 7 components" in status.stdout


def test_the_clusters_secrets_are_readable_by_their_owner_only(cluster):
    home = cluster.home
    for path in (
        home / "secrets.json",
        home / "vtr.toml",
        home / "vtr-analyst.toml",
        home / "airflow" / "airflow.cfg",
        home / "airflow" / "simple_auth_manager_passwords.json.generated",
        home / "redis" / "redis.conf",
        home / "logs" / "api-server.log",  # Airflow prints a new admin password there
    ):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_the_cluster_comes_down_cleanly_and_up_again_on_the_same_data(cluster):
    pids = cluster.pids()
    cluster.succeed("down")

    assert not (cluster.home / "cluster.pids").exists()
    assert [n for n, pid in pids.items() if services.session_members(pid)] == []
    assert (cluster.home / "postgres" / "PG_VERSION").exists()  # the data stays
    sent = len(cluster.hook.messages())
    cluster.up()
    runs = cluster.request("GET", "/api/v2/dags/vtr_daily/dagRuns?limit=100")["dag_runs"]
    assert len(runs) == 2  # Airflow's metadata kept
    run_id = cluster.trigger({"snapshot_date": str(D2), "sellers": ["s1"]})  # a re-run: nothing is sent again
    assert cluster.wait(run_id)["state"] == "success"
    assert len(cluster.hook.messages()) == sent
    assert_same_as_serial(cluster.config, cluster.serial, D2)
