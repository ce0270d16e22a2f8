"""DAG integrity: the dags folder parses cleanly and quickly, without touching data, and is wired as documented."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pendulum
import pytest

from pipeline.contract import DATASETS, SELLER_POOL
from vtrdemo.airflow_local import DAGS_FOLDER

DAG_FILE = DAGS_FOLDER / "vtr_daily.py"
# what the DAG file may import when parsed: the standard library's worth of the product (names and settings)
LIGHT = ["pipeline", "pipeline.contract", "pipeline.settings"]

# Imports the DAG file the way the DAG processor does, in a fresh interpreter, and reports what parsing did.
PARSE_PROBE = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
import pendulum
from airflow.sdk import BaseHook, Variable, dag
from airflow.sdk.definitions.connection import Connection
t1 = time.perf_counter()
lookups = []
def record(kind):
    def lookup(*args, **kwargs):
        lookups.append(kind)
        raise RuntimeError(kind + " read at parse time")
    return lookup
BaseHook.get_connection = classmethod(record("connection"))
Connection.get = classmethod(record("connection"))
Variable.get = staticmethod(record("variable"))
spec = importlib.util.spec_from_file_location("vtr_daily_parse", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t2 = time.perf_counter()
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("duckdb", "pyarrow", "pipeline", "pandas", "apprise", "plotly", "psycopg2"))
print(json.dumps({"airflow_import": t1 - t0, "dag_import": t2 - t1, "heavy": heavy, "lookups": lookups,
                  "dag_id": module.daily_dag.dag_id}))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    # the pools vtrdemo.airflow_local and the launcher create: a task in any other pool would never be scheduled
    return DagBag(dag_folder=str(DAGS_FOLDER), known_pools={"default_pool", SELLER_POOL})


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["vtr_daily"]


def test_dags_folder_imports_without_errors_or_warnings(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dag_warnings == set()  # e.g. "references non-existent pools"
    # warnings raised by the DAG file itself (airflow's own deprecation notices are not ours)
    ours = [w for ws in dagbag.captured_warnings.values() for w in ws if w.startswith(str(DAGS_FOLDER))]
    assert ours == []
    assert sorted(dagbag.dags) == ["vtr_daily", "vtr_maintenance"]


def test_parsing_is_quick_and_touches_no_data_connection_or_heavy_import(tmp_path):
    (tmp_path / "landing").mkdir()
    config = tmp_path / "vtr.toml"
    config.write_text(
        '[paths]\nlanding = "landing"\nwarehouse = "wh/warehouse.sqlite"\noutput = "out"\n'
        '[schedule]\ntask_timeout_minutes = 45\n[[alerts]]\nconnection_id = "vtr_alerts"\n'
    )
    env = {**os.environ, "VTR_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(DAG_FILE)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dag_id"] == "vtr_daily"
    assert report["heavy"] == LIGHT  # duckdb, pyarrow and the pipeline's steps load inside tasks only
    assert report["lookups"] == []
    # what each parse costs the DAG processor, which has airflow imported already (measured ~0.1 s);
    # a cold `import airflow.sdk` alone takes 3-5 s on this box, so the subprocess's total is not a useful bound
    assert report["dag_import"] < 2.0, report
    assert not (tmp_path / "wh").exists() and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landing", "vtr.toml"]  # no warehouse, no outputs


def documented_edges(doc: str) -> set[tuple[str, str]]:
    """Edges of the docstring's task graph: lines `a >> b >> c` and `a >> b, c` (fan-out)."""
    edges = set()
    for line in doc.splitlines():
        if ">>" not in line:
            continue
        stages = [[t.strip() for t in stage.split(",")] for stage in line.strip().split(">>")]
        for ups, downs in pairwise(stages):
            edges |= {(u, d) for u in ups for d in downs}
    return edges


def test_task_ids_and_edges_are_those_of_the_docstring(dag):
    actual = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    documented = documented_edges(dag.doc_md)
    assert actual == documented
    # the main line, in order: each seller's chain is one group, mapped over the run's sellers
    chain = ["plan_run", "list_sellers", "seller.wait_for_files", "seller.run_seller", "finish_run"]
    assert set(dag.task_ids) == set(chain)
    assert set(pairwise(chain)) <= actual
    assert type(dag.task_group_dict["seller"]).__name__ == "MappedTaskGroup"  # one instance per seller
    assert dag.doc_md.startswith(DAG_FILE.read_text().split('"""')[1])  # doc_md is the module docstring


def test_daily_schedule_snapshot_date_is_the_interval_start(dag):
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    d = pendulum.datetime(2026, 11, 20, tz="UTC")
    info = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(d - dt.timedelta(days=1), d),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    # the run for 2026-11-20 covers that whole day and starts once it is over
    assert info.logical_date == info.data_interval.start == d
    assert info.data_interval.end == d + dt.timedelta(days=1) == info.run_after
    assert dag.catchup is False
    assert dag.start_date <= pendulum.datetime(2000, 1, 1, tz="UTC")
    assert dag.max_active_runs > 1  # runs of other dates do not queue behind one (the lake takes many writers)


def test_params_are_validated(dag):
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dag.params)
    assert params.validate() == {
        "snapshot_date": None,
        "end_date": None,
        "sellers": None,
        "full_rebuild": False,
        "mute_notifications": False,
    }
    params.update({"snapshot_date": "2026-11-20", "end_date": "2026-11-22", "sellers": ["acme"]})
    assert params.validate()["snapshot_date"] == "2026-11-20"
    for key, bad in [
        ("snapshot_date", "20/11/2026"),
        ("snapshot_date", "2026-13-45"),
        ("end_date", 20261120),
        ("sellers", "acme"),
        ("full_rebuild", "yes"),
    ]:
        with pytest.raises(ParamValidationError, match=key):
            copy.deepcopy(dag.params)[key] = bad


def test_the_finished_run_announces_every_dataset_as_an_asset(dag):
    outlets = {a.name for a in dag.get_task("finish_run").outlets}
    assert outlets == {f"vtr://{name}" for name in DATASETS}
    assert all(not dag.get_task(t).outlets for t in dag.task_ids if t != "finish_run")


def test_sellers_chains_share_a_sized_pool_and_nothing_else_queues_behind_one_slot(dag):
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert {t for t, pool in pools.items() if pool == SELLER_POOL} == {"seller.run_seller"}
    assert {pool for t, pool in pools.items() if t != "seller.run_seller"} == {"default_pool"}


def test_a_failed_run_alerts_once_and_the_sensor_frees_its_slot_while_waiting(dag):
    assert dag.get_task("seller.wait_for_files").mode == "reschedule"
    # one run-failed alert per run: the plan's failure, or finish_run's (which reports every seller's), or the
    # DAG's own callback when the scheduler times the run out (then no task callback runs)
    assert {t.task_id for t in dag.tasks if t.on_failure_callback} == {"plan_run", "finish_run"}
    assert dag.on_failure_callback
    # finish_run runs once every seller is done, failed or not (the others' notifications go out), never after a
    # failed plan
    assert dag.get_task("finish_run").trigger_rule == "all_done_min_one_success"


def test_timeouts_come_from_the_settings_file(tmp_path):
    """execution_timeout and dagrun_timeout are read when the file is parsed, from the settings VTR_CONFIG names."""
    config = tmp_path / "vtr.toml"
    config.write_text("[schedule]\ntask_timeout_minutes = 45\nrun_timeout_minutes = 300\n")
    probe = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location('d', sys.argv[1]); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); d = m.daily_dag; "
        "print(d.dagrun_timeout.total_seconds(), "
        "d.get_task('seller.run_seller').execution_timeout.total_seconds())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(DAG_FILE)],
        env={**os.environ, "VTR_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split()[-2:] == ["18000.0", "2700.0"], done.stderr[-2000:]


def test_the_test_session_runs_airflow_in_a_temporary_home_with_sqlite():
    from airflow import settings

    home = Path(os.environ["AIRFLOW_HOME"])
    assert home != Path.home() / "airflow" and home.name.startswith("vtr_airflow_")
    assert f"sqlite:///{home / 'airflow.db'}" == settings.SQL_ALCHEMY_CONN
    assert Path(settings.DAGS_FOLDER) == DAGS_FOLDER
