"""
# vtr_maintenance

Keeps the shared warehouse (a DuckLake) small and fast, on its own schedule: merge the small files every seller's
runs add, expire snapshots older than `[warehouse] retention_days` (default 30: until then, what was published for a
date stays readable as published), and delete the files nothing reads any more. Readers go on meanwhile; writers
retry a commit that meets it. The same as `vtr maintain --config FILE`.

    maintain_warehouse
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="vtr_maintenance",
    doc_md=__doc__,
    schedule="30 3 * * *",  # daily, after the night's runs
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["vtr"],
)
def vtr_maintenance():
    @task
    def maintain_warehouse() -> dict:
        from pipeline.maintain import maintain
        from pipeline.settings import load_settings
        from pipeline.steps import config_path

        return maintain(load_settings(config_path()))

    maintain_warehouse()


maintenance_dag = vtr_maintenance()
