"""
# vtr_daily

One run per snapshot date D (the run's logical date; on the schedule, the start of the day-long interval, so the
run for D starts once D is over): wait for the day's files, ingest each seller's feeds, build the models, check
data quality, publish the Parquet datasets, alert.

Task graph (every edge; every later task reads `plan_run`'s plan):

    plan_run >> list_sellers >> wait_for_files >> ingest_seller >> build_models
    build_models >> check_quality >> publish_snapshots >> alert_below_target
    list_sellers >> ingest_seller
    plan_run >> wait_for_files, ingest_seller, build_models, check_quality, publish_snapshots, alert_below_target
    wait_for_files >> alert_below_target

`wait_for_files` and `ingest_seller` are mapped, one task per seller. `wait_for_files` never fails the run: past
its deadline (D + 1 day + `wait_for_files_minutes`; a re-run of an old date is past it) it reports the feeds still
missing as stale, and `alert_below_target` sends the stale-feed alert. A failed quality check leaves the date's
Parquet partitions unpublished; any failed task sends a run-failed alert naming the step and the error.

Params (all optional): `snapshot_date` / `end_date` to run another date or a range, `sellers` to limit
the run, `full_rebuild` to recompute every mart from the raw layer.
Settings file: environment variable `VTR_CONFIG`, else Airflow Variable `vtr_config`.
Tasks that open the warehouse run in the one-slot pool `vtr_warehouse` (DuckDB allows one writer per file).
Tasks retry with back-off (`VTR_TASK_RETRIES`, default 2; in-process runs set 0); an alert channel that is down is
retried inside the alert step (`VTR_ALERT_BACKOFF_SECONDS`, default 2, doubling).
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, PokeReturnValue, dag, task

# pipeline.outputs.DATASETS, spelled out: the DAG file imports nothing of pipeline/ at parse time
DATASETS = ("vtr_snapshots", "category_report", "invalid_packages", "at_risk_packages", "projected_vtr",
            "carrier_performance")
WAREHOUSE_POOL = "vtr_warehouse"


def _alert_run_failed(context) -> None:
    from pipeline.steps import on_task_failure

    on_task_failure(context)


@dag(
    dag_id="vtr_daily",
    doc_md=__doc__,
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
        "snapshot_date": Param(None, type=["null", "string"], format="date", description="default: the logical date"),
        "end_date": Param(None, type=["null", "string"], format="date", description="last date of a range"),
        "sellers": Param([], type="array", items={"type": "string"}, description="sellers to run (default: all)"),
        "full_rebuild": Param(False, type="boolean", description="recompute every mart from the raw layer"),
    },
    tags=["vtr"],
)
def vtr_daily():
    @task(pool=WAREHOUSE_POOL)  # retried: an analyst's reader or another run may hold the warehouse a while
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
    def alert_below_target(plan: dict, waits) -> int:
        from pipeline import steps

        return steps.alert(plan, list(waits[:]))  # one request for every seller's result

    plan = plan_run()
    sellers = list_sellers(plan)
    waits = wait_for_files.partial(plan=plan).expand(seller_id=sellers)
    ingested = ingest_seller.partial(plan=plan).expand(seller_id=sellers)
    published = publish_snapshots(plan)
    waits >> ingested >> build_models(plan) >> check_quality(plan) >> published
    published >> alert_below_target(plan, waits)


daily_dag = vtr_daily()
