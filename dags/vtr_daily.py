"""
# vtr_daily

One run per snapshot date (the run's logical date): wait for the day's files, ingest each seller's feeds,
build the models, check data quality, publish the Parquet datasets, alert.

Params (all optional): `snapshot_date` / `end_date` to run another date or a range, `sellers` to limit
the run, `full_rebuild` to recompute every mart from the raw layer.
Settings file: environment variable `VTR_CONFIG`, else Airflow Variable `vtr_config`.
Writes to the warehouse run in the one-slot pool `vtr_warehouse` (DuckDB allows one writer per file).
Tasks retry with back-off (`VTR_TASK_RETRIES`, default 2; in-process runs set 0).
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, PokeReturnValue, dag, task

DATASETS = ("vtr_snapshots", "category_report", "invalid_packages", "at_risk_packages")
WAREHOUSE_POOL = "vtr_warehouse"


def _alert_run_failed(context) -> None:
    from pipeline.steps import on_task_failure

    on_task_failure(context)


@dag(
    dag_id="vtr_daily",
    doc_md=__doc__,
    # the interval's start is the snapshot date: the run for D starts once D is over
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    # far in the past: Airflow marks runs before start_date successful without running them
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": int(os.environ.get("VTR_TASK_RETRIES", "2")),
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "on_failure_callback": _alert_run_failed,
    },
    params={
        "snapshot_date": Param(None, type=["null", "string"], format="date", description="snapshot date (default: the logical date)"),
        "end_date": Param(None, type=["null", "string"], format="date", description="last date of a range"),
        "sellers": Param([], type="array", items={"type": "string"}, description="sellers to run (default: all)"),
        "full_rebuild": Param(False, type="boolean", description="recompute every mart from the raw layer"),
    },
    tags=["vtr"],
)
def vtr_daily():
    @task(retries=0)
    def plan_run(params=None, logical_date=None) -> dict:
        from pipeline import steps

        return steps.plan(steps.config_path(), logical_date.date(), params)

    @task
    def list_sellers(plan: dict) -> list[str]:
        return plan["sellers"]

    @task.sensor(poke_interval=300, timeout=dt.timedelta(hours=12), mode="reschedule")
    def wait_for_files(seller_id: str, plan: dict) -> PokeReturnValue:
        from pipeline import steps

        return PokeReturnValue(*steps.wait_for_files(plan, seller_id))

    @task(pool=WAREHOUSE_POOL)
    def ingest_seller(seller_id: str, plan: dict) -> dict:
        from pipeline import steps

        return steps.ingest_seller(plan["config"], seller_id)

    @task(pool=WAREHOUSE_POOL)
    def build_models(plan: dict) -> None:
        from pipeline import steps

        steps.build(plan)

    @task(pool=WAREHOUSE_POOL, retries=0)
    def check_quality(plan: dict) -> None:
        from pipeline import steps

        steps.check(plan)

    @task(pool=WAREHOUSE_POOL, outlets=[Asset(f"vtr://{name}") for name in DATASETS])
    def publish_snapshots(plan: dict) -> int:
        from pipeline import steps

        return steps.publish(plan)

    @task(pool=WAREHOUSE_POOL)
    def alert_below_target(plan: dict, stale: list[dict]) -> int:
        from pipeline import steps

        return steps.alert(plan, stale)

    plan = plan_run()
    sellers = list_sellers(plan)
    stale = wait_for_files.partial(plan=plan).expand(seller_id=sellers)
    ingested = ingest_seller.partial(plan=plan).expand(seller_id=sellers)
    stale >> ingested
    built = build_models(plan)
    ingested >> built
    checked = check_quality(plan)
    built >> checked
    published = publish_snapshots(plan)
    checked >> published
    published >> alert_below_target(plan, stale)


daily_dag = vtr_daily()
