"""The pipeline's steps as the `vtr_daily` DAG calls them: small values in (paths, dates, names), small values out.

Each step opens and closes its own warehouse connection; DuckDB allows one writing process per file,
so the DAG runs the writing steps in the one-slot pool `vtr_warehouse`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from pipeline.settings import Settings, load_settings

DAILY_FEEDS = ("orders", "confirmations", "scans")  # the catalog changes rarely: it is never stale
POOL = "vtr_warehouse"


def alert_backoff_seconds() -> float:
    """First wait before re-sending to a channel that is down (doubles per try): VTR_ALERT_BACKOFF_SECONDS, default 2."""
    return float(os.environ.get("VTR_ALERT_BACKOFF_SECONDS", "2"))


def config_path() -> str:
    """The settings file: VTR_CONFIG, else the Airflow Variable `vtr_config`."""
    path = os.environ.get("VTR_CONFIG")
    if not path:
        from airflow.sdk import Variable

        path = Variable.get("vtr_config", default=None)
    if not path:
        raise RuntimeError("no settings file: set VTR_CONFIG or the Airflow Variable vtr_config")
    return path


def plan(config: str, logical_date: dt.date, params: dict) -> dict:
    """Resolve the run: snapshot dates, sellers, the file id the run's ingest starts after."""
    from pipeline.checks import last_file_id
    from pipeline.db import connect

    settings = load_settings(config)
    start = dt.date.fromisoformat(params["snapshot_date"]) if params.get("snapshot_date") else logical_date
    end = dt.date.fromisoformat(params["end_date"]) if params.get("end_date") else start
    if end < start:
        raise ValueError(f"end_date {end} is before snapshot_date {start}")
    known = settings.seller_ids()
    sellers = params.get("sellers") or known
    unknown = sorted(set(sellers) - set(known))
    if unknown:
        raise ValueError(f"unknown seller(s) {unknown}; landing folders: {known}")
    after = 0
    if settings.warehouse.exists():  # read-only: an analyst's open reader must not fail the run's first step
        con = connect(settings, read_only=True)
        try:
            after = last_file_id(con)
        finally:
            con.close()
    return {"config": config, "start": start.isoformat(), "end": end.isoformat(), "sellers": sorted(sellers),
            "loaded_after_file_id": after, "full_rebuild": bool(params.get("full_rebuild"))}


_DATE_IN_NAME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def _file_day(path: Path) -> dt.date:
    """The day a file is for: the date in its name, else the day it was written (UTC)."""
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).date()


def stale_feeds(settings: Settings, seller_id: str, snapshot_date: dt.date) -> list[str]:
    """The seller's daily feeds with no file for the snapshot date (named for it, or written on or after it)."""
    from pipeline.ingest import feed_files

    return [
        feed for feed in DAILY_FEEDS
        if not any(_file_day(p) >= snapshot_date for p in feed_files(settings, seller_id, feed))
    ]


def wait_deadline(settings: Settings, snapshot_date: dt.date) -> dt.datetime:
    """Files for D are awaited until D + 1 day 00:00 UTC plus wait_for_files_minutes."""
    day_end = dt.datetime.combine(snapshot_date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return day_end + dt.timedelta(minutes=settings.wait_for_files_minutes)


def ingest_seller(config: str, seller_id: str) -> dict:
    """Load every new file of one seller; a file that cannot be read fails the step after the others loaded."""
    from pipeline.db import connect
    from pipeline.ingest import ingest

    settings = load_settings(config)
    con = connect(settings)
    try:
        results = ingest(con, settings, [seller_id])
    finally:
        con.close()
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise RuntimeError("; ".join(f"{seller_id} {r.file}: {r.message}" for r in failed))
    return {
        "seller_id": seller_id,
        "files_loaded": sum(r.status == "loaded" for r in results),
        "files_skipped": sum(r.status == "skipped" for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
    }


def wait_for_files(plan: dict, seller_id: str, now: dt.datetime | None = None) -> tuple[bool, dict]:
    """One poke of the file sensor: done when every daily feed has its file or the waiting time is over.

    Returns (is_done, {"seller_id", "stale": feeds still missing}); a run past its deadline never waits.
    """
    settings = load_settings(plan["config"])
    snapshot_date = _dates(plan)[1]
    missing = stale_feeds(settings, seller_id, snapshot_date)
    now = now or dt.datetime.now(dt.timezone.utc)
    done = not missing or now >= wait_deadline(settings, snapshot_date)
    return done, {"seller_id": seller_id, "stale": missing}


def _dates(plan: dict) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(plan["start"]), dt.date.fromisoformat(plan["end"])


def build(plan: dict) -> None:
    """Build the models for the plan's dates; a full rebuild first drops every derived schema."""
    from pipeline.db import connect
    from pipeline.models import LAYERS, build_models

    settings = load_settings(plan["config"])
    con = connect(settings)
    try:
        if plan.get("full_rebuild"):
            for layer in LAYERS:
                con.execute(f"drop schema if exists {layer} cascade")
        build_models(con, settings, *_dates(plan))
    finally:
        con.close()


def check(plan: dict) -> list[str]:
    """Run the data-quality checks; raises QualityCheckFailed (outputs stay unpublished) when one finds rows."""
    from pipeline.checks import require_passing, run_checks
    from pipeline.db import connect

    settings = load_settings(plan["config"])
    con = connect(settings, read_only=True)
    try:
        results = run_checks(con, settings, *_dates(plan), plan["loaded_after_file_id"])
    finally:
        con.close()
    require_passing(results)
    return [r.name for r in results]


def publish(plan: dict) -> int:
    """Write the plan's dates' Parquet partitions and the last date's HTML report; returns the files written."""
    from pipeline.db import connect
    from pipeline.outputs import publish as write_partitions
    from pipeline.report import write_report

    settings = load_settings(plan["config"])
    start, end = _dates(plan)
    con = connect(settings, read_only=True)
    try:
        written = len(write_partitions(con, settings, start, end))
    finally:
        con.close()
    write_report(settings, end)
    return written + 1


def alert(plan: dict, waits: list[dict]) -> int:
    """Send the VTR, early-warning and stale-feed alerts of the plan's last date; returns how many were sent."""
    from pipeline import alerts
    from pipeline.db import connect

    settings = load_settings(plan["config"])
    snapshot_date = _dates(plan)[1]
    stale = {w["seller_id"]: w["stale"] for w in waits if w and w["stale"]}
    con = connect(settings)
    try:
        planned = (alerts.plan_vtr_alerts(con, settings, snapshot_date, stale)
                   + alerts.plan_early_warnings(con, settings, snapshot_date)
                   + alerts.plan_stale_feed_alerts(settings, snapshot_date, stale))
        sellers = set(plan["sellers"])
        planned = [a for a in planned if a.seller_id is None or a.seller_id in sellers]
        deliveries = alerts.send(con, settings, planned, backoff_seconds=alert_backoff_seconds())
    finally:
        con.close()
    return sum(d.status == "sent" for d in deliveries)


def on_task_failure(context) -> None:
    """Failure callback: tell the alert channels which run and step failed, and why."""
    import duckdb

    from pipeline import alerts
    from pipeline.db import connect

    ti = context["ti"]
    settings = load_settings(config_path())
    snapshot = context.get("logical_date")
    failure = alerts.run_failed_alert(settings, ti.dag_id, ti.run_id, ti.task_id, context.get("exception"),
                                      snapshot.date() if snapshot else None)
    try:
        con = connect(settings)
    except duckdb.Error:  # the warehouse is locked or broken: still tell people, without the log row
        con = duckdb.connect()
    try:
        alerts.send(con, settings, [failure], backoff_seconds=alert_backoff_seconds())
    finally:
        con.close()
