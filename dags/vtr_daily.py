"""
# vtr_daily

One run per snapshot date D (on the schedule, the start of the day-long interval: the run for D starts once D is
over). Per seller, in parallel: wait for the day's files, then the seller's whole chain (ingest its new files,
build its models, check them, publish its marts, Parquet files and report). Then one task for the run:
notifications and the summary.

    plan_run >> list_sellers >> seller.wait_for_files >> seller.run_seller >> finish_run
    plan_run >> seller.wait_for_files, seller.run_seller, finish_run
    list_sellers >> seller.run_seller

`seller` is a task group mapped over the run's sellers (every task reads `plan_run`'s plan); `run_seller` runs in the
pool `vtr_sellers`, whose size bounds how many sellers run at once. Runs of the same seller take turns (a lock in the
warehouse); other sellers, other dates and analysts' sessions go on.

`wait_for_files` never fails the run: past its deadline (D + 1 day + `wait_for_files_minutes`; a run of an old date
is past it) it reports the feeds still missing as stale. A seller whose file cannot be read still publishes from what
loaded, marked incomplete; a failed data-quality check withholds that seller's outputs; either way that seller's
`run_seller` fails (the grid shows which), `finish_run` sends what the others earned and then fails the run, and the
run sends one run-failed notification. A failed `plan_run` (a bad param) stops the run: nothing downstream runs.
A seller's work is killed at the task timeout (a watchdog outside it); a run past its run timeout is notified too.

Params (all optional): `snapshot_date` (default: the logical date; a run triggered without one computes the last
complete UTC day), `end_date` (a range computed in one pass; notifications for its last date only), `sellers`,
`full_rebuild` (replace every date of the sellers' marts), `mute_notifications`. Backfill runs do not notify.
Settings file: environment variable `VTR_CONFIG`, else Airflow Variable `vtr_config`. A seller's task timeout is
read when it runs, either way; the DAG's timeout attributes (the run's, the tasks' SIGALRM) are read when parsed,
from the environment only (`VTR_CONFIG`, or the Variable given as `AIRFLOW_VAR_VTR_CONFIG`): parsing reads no
database.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, PokeReturnValue, dag, task, task_group

from pipeline.contract import DATASETS, SELLER_POOL
from pipeline.settings import schedule_minutes

# timeouts are DAG attributes, fixed at parse time: read from the small settings file the environment names, if any
TASK_TIMEOUT, RUN_TIMEOUT = schedule_minutes(os.environ.get("VTR_CONFIG") or os.environ.get("AIRFLOW_VAR_VTR_CONFIG"))
OUTLETS = [Asset(f"vtr://{name}") for name in DATASETS]


def _failed(context) -> None:
    from pipeline import airflow_tasks

    airflow_tasks.on_task_failure(context)


def _run_failed(context) -> None:
    from pipeline import airflow_tasks

    airflow_tasks.on_run_failure(context)


@dag(
    dag_id="vtr_daily",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    # far in the past: Airflow marks runs before start_date successful without running them
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    dagrun_timeout=dt.timedelta(minutes=RUN_TIMEOUT),
    on_failure_callback=_run_failed,
    default_args={
        "retries": int(os.environ.get("VTR_TASK_RETRIES", "2")),
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": dt.timedelta(minutes=TASK_TIMEOUT),
    },
    params={
        "snapshot_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Snapshot date",
            description="Empty: the logical date, or the last complete UTC day",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="End date",
            description="Last date of a range computed in one pass (optional)",
        ),
        "sellers": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            title="Sellers",
            description="Landing folders to run (empty: all)",
        ),
        "full_rebuild": Param(
            False,
            type=["null", "boolean"],
            title="Full rebuild",
            description="Replace every snapshot date of the sellers' marts",
        ),
        "mute_notifications": Param(
            False,
            type=["null", "boolean"],
            title="Mute notifications",
            description="Publish without sending notifications",
        ),
    },
    tags=["vtr"],
)
def vtr_daily():
    @task(retries=0, on_failure_callback=_failed)
    def plan_run(params=None, logical_date=None, dag_run=None) -> dict:
        from pipeline import airflow_tasks

        return airflow_tasks.plan_run(params, logical_date, dag_run)

    @task
    def list_sellers(plan: dict) -> list[str]:
        return plan["sellers"]

    @task.sensor(poke_interval=300, timeout=dt.timedelta(hours=30), mode="reschedule")
    def wait_for_files(seller_id: str, plan: dict) -> PokeReturnValue:
        from pipeline import airflow_tasks

        return PokeReturnValue(*airflow_tasks.wait_for_files(plan, seller_id))

    @task(pool=SELLER_POOL)
    def run_seller(seller_id: str, plan: dict, wait: dict, ti=None) -> dict:
        from pipeline import airflow_tasks

        return airflow_tasks.run_seller(plan, seller_id, wait, ti)

    @task_group
    def seller(seller_id: str, plan: dict):
        return run_seller(seller_id, plan, wait_for_files(seller_id, plan))

    # every seller done, failed or not; but nothing when the plan failed (then no seller ran)
    @task(trigger_rule="all_done_min_one_success", outlets=OUTLETS, on_failure_callback=_failed)
    def finish_run(plan: dict, results, outlet_events=None) -> dict:
        from pipeline import airflow_tasks

        # a group mapped over one seller hands over that seller's dict, not a list of one (Airflow 3.3)
        values = [results] if isinstance(results, dict) else list(results or [])
        return airflow_tasks.finish_run(plan, values, outlet_events, OUTLETS)

    plan = plan_run()
    finish_run(plan, seller.partial(plan=plan).expand(seller_id=list_sellers(plan)))


daily_dag = vtr_daily()
