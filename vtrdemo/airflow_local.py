"""Run the real `vtr_daily` DAG in this process (dag.test) on Airflow's own SQLite metadata database.

Used by `vtr demo`, the end-to-end tests and the benchmark. Airflow reads its configuration when first
imported, so `prepare` must run before anything imports airflow in the process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"


@dataclass
class DagRunResult:
    logical_date: dt.date
    state: str
    tasks: dict[str, str]  # task id (with map index) -> state
    run_id: str = ""
    figures: dict | None = None  # what finish_run returned: the run's summary figures

    @property
    def failed_tasks(self) -> list[str]:
        return [t for t, s in self.tasks.items() if s not in ("success", "skipped")]


def prepare(airflow_home: Path, *, quiet: bool = True) -> None:
    """Point Airflow at a local home with SQLite metadata; no example DAGs, no task retries, quiet logs."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(airflow_home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{airflow_home / 'airflow.db'}"
    os.environ["VTR_TASK_RETRIES"] = "0"  # an in-process run reports a failure at once instead of sleeping on retries
    if quiet:
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"


def run_dag(
    config: Path, logical_dates: list[dt.date], *, conf: dict | None = None, log_file: Path | None = None
) -> list[DagRunResult]:
    """Run vtr_daily once per logical date, in order; Airflow's own output goes to log_file when given."""
    previous = os.environ.get("VTR_CONFIG")
    os.environ["VTR_CONFIG"] = str(Path(config).resolve())  # tasks and failure callbacks run in this process
    try:
        with contextlib.ExitStack() as stack:
            if log_file:
                stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(log_file, "a"))))
            return _run(logical_dates, conf)
    finally:
        if previous is None:
            os.environ.pop("VTR_CONFIG", None)
        else:
            os.environ["VTR_CONFIG"] = previous


def _run(logical_dates: list[dt.date], conf: dict | None) -> list[DagRunResult]:
    import importlib.util

    import pendulum
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb

    from pipeline.contract import SELLER_POOL

    initdb()
    Pool.create_or_update_pool(
        SELLER_POOL, slots=2, description="sellers' chains that run at once", include_deferred=False
    )
    spec = importlib.util.spec_from_file_location("vtr_daily_dag", DAGS_FOLDER / "vtr_daily.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = []
    for day in logical_dates:
        run = module.daily_dag.test(
            logical_date=pendulum.datetime(day.year, day.month, day.day, tz="UTC"), run_conf=conf
        )
        tasks = {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
            for ti in run.get_task_instances()
        }
        results.append(DagRunResult(day, str(run.state), tasks, run.run_id, _returned(run.run_id, "finish_run")))
    return results


def _returned(run_id: str, task_id: str):
    """What a task of the run returned (its XCom), or None."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(run_id=run_id, key="return_value", task_ids=task_id)).first()
        return XComModel.deserialize_value(row) if row else None
