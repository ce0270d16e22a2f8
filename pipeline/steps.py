"""The pipeline's steps, the one sequence both drivers run: `plan`, then per seller `wait_for_files` and
`run_seller` (ingest, build, check, publish: a seller's whole chain, so its scratch state never crosses machines),
then `finish` (notifications and the run's summary). The DAG's tasks call these functions; `vtr run` and
`vtr backfill` call them in the same order in-process (pipeline/run.py). Small values in and out: paths, dates,
names, counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pipeline.contract import CheckLevel, FileStatus
from pipeline.settings import Settings, load_settings
from pipeline.summary import RunSummary
from pipeline.values import FileRecord, Plan, SellerResult, Wait
from pipeline.verdict import verdict

if TYPE_CHECKING:  # imported where they run: the DAG's tasks import this module
    import duckdb

    from pipeline.checks import CheckResult
    from pipeline.ingest.load import FileResult

log = logging.getLogger(__name__)


# scratch tables the summary reads after the build (the others go as soon as no model needs them)
SUMMARY_TABLES = frozenset({"intermediate.int_confirmations_held", "marts.fct_packages"})


class PlanError(ValueError):
    """A run that cannot be planned as asked (dates, sellers): no retry can fix it."""


def config_path() -> str:
    """The settings file: VTR_CONFIG, else the Airflow Variable `vtr_config`."""
    path = os.environ.get("VTR_CONFIG")
    if not path:
        from airflow.sdk import Variable

        path = Variable.get("vtr_config", default=None)
    if not path:
        raise PlanError("no settings file: set VTR_CONFIG or the Airflow Variable vtr_config")
    return path


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PlanError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


# the snapshot dates this business can have, as for a row's dates (sql/macros.sql is_plausible_date)
EARLIEST_DATE = dt.date(2000, 1, 1)
AHEAD_DAYS = 366


def check_dates(start: dt.date, end: dt.date, names: tuple[str, str] = ("snapshot_date", "end_date")) -> None:
    """A snapshot date this business cannot have (before 2000, more than a year ahead) is refused before anything
    is written; so is a range that ends before it starts."""
    latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=AHEAD_DAYS)
    for day, name in zip((start, end), names, strict=True):
        if not EARLIEST_DATE <= day <= latest:
            raise PlanError(f"{name} {day} is outside {EARLIEST_DATE} .. {latest} (a year ahead of today)")
    if end < start:
        raise PlanError(f"{names[1]} {end} is before {names[0]} {start}")


def plan(
    config: str,
    params: dict[str, Any],
    *,
    logical_date: dt.date | None = None,
    triggered_at: dt.datetime | None = None,
    notify: bool = True,
) -> Plan:
    """Resolve a run: its snapshot dates (the `snapshot_date` param, else the logical date, else the last complete
    UTC day before it was triggered), its sellers, and whether it notifies (a muted or backfill run does not)."""
    settings = load_settings(config)
    if params.get("snapshot_date"):
        start = _date(params["snapshot_date"], "snapshot_date")
    elif logical_date:
        start = logical_date
    else:
        start = (triggered_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date() - dt.timedelta(1)
    end = _date(params["end_date"], "end_date") if params.get("end_date") else start
    check_dates(start, end)
    return {
        "config": str(config),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "sellers": resolve_sellers(settings, params.get("sellers")),
        "full_rebuild": bool(params.get("full_rebuild")),
        "notify": notify and not params.get("mute_notifications"),
    }


def resolve_sellers(settings: Settings, requested: list[str] | None) -> list[str]:
    """The sellers asked for (default: every landing folder), each a landing folder of the settings."""
    known = settings.seller_ids()
    sellers = sorted(requested or known)
    unknown = sorted(set(sellers) - set(known))
    if unknown:
        raise PlanError(f"sellers: unknown seller(s) {unknown}; landing folders: {known}")
    return sellers


def _dates(plan: Plan) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(plan["start"]), dt.date.fromisoformat(plan["end"])


def wait_for_files(plan: Plan, seller_id: str, now: dt.datetime | None = None) -> tuple[bool, Wait]:
    """One look at a seller's feeds: done when every daily feed has its file for the last date or the waiting time
    is over (a run of an old date never waits). Returns (done, {"seller_id", "stale", "deadline"})."""
    from pipeline.freshness import stale_feeds, wait_deadline

    settings = load_settings(plan["config"])
    snapshot_date = _dates(plan)[1]
    missing = stale_feeds(settings, seller_id, snapshot_date)
    deadline = wait_deadline(settings, snapshot_date)
    done = not missing or (now or dt.datetime.now(dt.UTC)) >= deadline
    return done, {"seller_id": seller_id, "stale": missing, "deadline": deadline.isoformat(timespec="minutes")}


def _figures(con: duckdb.DuckDBPyConnection, seller_id: str, end: dt.date) -> SellerResult:
    """A seller's result, begun with the summary's figures of its build (scratch): overall VTR of the last date
    and each account's verdict (pipeline/verdict.py), held and uncategorized."""
    cur = con.execute(
        """select marketplace, window_days, packages_total, packages_valid, vtr, status, scope, scope_value
        from marts.mart_vtr_snapshots where snapshot_date = ? and scope in ('overall', 'category')
        order by marketplace, window_days, scope, scope_value""",
        [end],
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {
        "seller_id": seller_id,
        "overall": [[r[k] for k in names[:6]] for r in rows if r["scope"] == "overall"],
        "verdicts": {m: verdict([r for r in rows if r["marketplace"] == m]) for m in {r["marketplace"] for r in rows}},
        "held_confirmations": con.execute("select count(*) from intermediate.int_confirmations_held").fetchall()[0][0],
        "uncategorized_items": con.execute(
            "select coalesce(sum(uncategorized_item_count), 0)::bigint from marts.fct_packages"
        ).fetchall()[0][0],
    }


def run_seller(plan: Plan, seller_id: str, stale: list[str] | None = None) -> SellerResult:
    """A seller's chain for the run's dates, under its lock: ingest its new files, build its models in scratch,
    check them, and (unless a `fail` check found rows) publish its marts to the lake, its Parquet files and its
    reports. A file that cannot be read fails alone: the seller publishes from what loaded, marked incomplete.
    `stale`: the seller's daily feeds with no file for the last date (wait_for_files), which its reports show."""
    from pipeline import lake, outputs
    from pipeline.checks import check_model, run_assertions
    from pipeline.fixfile import write_fix_files
    from pipeline.ingest import ingest_seller
    from pipeline.models import build_models, publish_marts
    from pipeline.report import write_reports

    settings = load_settings(plan["config"])
    start, end = _dates(plan)
    with lake.seller_lock(settings, seller_id):  # noqa: SIM117 - nested, the body keeps its lines (fewer conflicts)
        with lake.worker_connection(settings) as con:
            files = ingest_seller(con, settings, seller_id)
            found: list[CheckResult] = []
            build_models(
                con,
                settings,
                seller_id,
                start,
                end,
                keep=SUMMARY_TABLES,
                on_built=lambda model: found.extend(check_model(con, model)),
            )
            checks = [c for c in found + run_assertions(con, settings, start, end) if not c.passed]
            result: SellerResult = {
                **_figures(con, seller_id, end),
                "stale": stale or [],
                "files": [_file_record(f) for f in files if f.status is not FileStatus.UNCHANGED],
                "failed_checks": [c.describe() for c in checks if c.level is CheckLevel.FAIL],
                "warnings": [c.describe() for c in checks if c.level is CheckLevel.WARN],
                "quality_files": [list(row) for c in checks if c.name == "raw_files_many_rejects" for row in c.sample],
                "incomplete": [f.file for f in files if f.status is FileStatus.FAILED],
                "published": False,
            }
            if not result["failed_checks"]:
                with _timed(f"{seller_id}: marts published to the lake"):
                    publish_marts(con, settings, seller_id, start, end, full_rebuild=plan["full_rebuild"])
                with _timed(f"{seller_id}: Parquet files written"):
                    result["files_written"] = len(outputs.publish(con, settings, seller_id, start, end))
                with _timed(f"{seller_id}: fix files and reports written"):
                    result["fix_files"] = [str(p) for p in write_fix_files(con, settings, seller_id, end)]
                    result["reports"] = [str(p) for p in write_reports(con, settings, seller_id, end, stale or [])]
                result["published"] = True
    log.info("%s: %s", seller_id, "published" if result["published"] else "NOT published (a check failed)")
    return result


@contextlib.contextmanager
def _timed(what: str) -> Iterator[None]:
    """`vtr -v` shows how long each step of a seller took (a backfill's steps take minutes)."""
    started = time.perf_counter()
    yield
    log.info("%s in %.1f s", what, time.perf_counter() - started)


def _file_record(f: FileResult) -> FileRecord:
    return FileRecord(
        seller_id=f.seller_id,
        feed=f.feed,
        file=f.file,
        status=f.status.value,
        rows_read=f.rows_read,
        rows_loaded=f.rows_loaded,
        rows_rejected=f.rows_rejected,
        message=f.message,
    )


def finish(plan: Plan, results: list[SellerResult]) -> RunSummary:
    """After every seller's chain: the run's notifications (VTR, early warning and stale feeds for its last date
    when it notifies; data-quality warnings always) and its summary. A channel that is down fails nothing; a
    warehouse that cannot be opened costs the notifications that read it, and the summary says so. Each result
    carries its seller's stale feeds (`stale`, from wait_for_files)."""
    import duckdb

    from pipeline import alerts, lake
    from pipeline.ingest.files import landing_not_read

    settings = load_settings(plan["config"])
    end = _dates(plan)[1]
    done = {r["seller_id"] for r in results}
    results = results + [
        {"seller_id": s, "error": "its chain failed (see its task log)"} for s in plan["sellers"] if s not in done
    ]
    summary = RunSummary(
        plan["start"],
        plan["end"],
        sorted(results, key=lambda r: r["seller_id"]),
        {r["seller_id"]: r["stale"] for r in results if r.get("stale")},
        not_read=landing_not_read(settings),
    )
    published = [r["seller_id"] for r in summary.sellers if r.get("published")]
    planned = alerts.plan_quality_warnings([f for r in summary.sellers for f in r.get("quality_files", [])])
    con, unavailable = None, None
    try:
        con = lake.connect(settings)
        if plan["notify"] and published:  # figures only of sellers that published them
            incomplete = {r["seller_id"]: r["incomplete"] for r in summary.sellers if r.get("incomplete")}
            planned += alerts.plan_vtr_alerts(
                con, settings, end, published, summary.stale, incomplete
            ) + alerts.plan_early_warnings(con, settings, end, published)
    except (lake.WarehouseError, duckdb.Error) as exc:  # told without the warehouse: what needs no mart still goes
        unavailable = one_line(exc)
        log.warning("the warehouse is unavailable: no VTR alert or early warning (%s)", unavailable)
        if con is not None:
            con.close()
            con = None
    try:
        if plan["notify"]:
            planned += alerts.plan_stale_feed_alerts(settings, end, summary.stale)
        deliveries = alerts.send(con, settings, planned, log_unavailable=unavailable)
    finally:
        if con is not None:
            con.close()
    if any(r.get("reports") for r in summary.sellers):
        from pipeline.report import write_index

        summary.index = str(write_index(settings))
    status = alerts.DeliveryStatus
    retried = (status.FAILED, status.UNKNOWN)  # a re-run of the date tries these again
    summary.alerts_sent = sum(d.status is status.SENT for d in deliveries)
    summary.alerts_failed = [f"{d.alert_key} -> {d.channel}: {d.error}" for d in deliveries if d.status in retried]
    summary.alerts_undelivered = [
        f"{d.alert_key} -> {d.channel}: {d.error}" for d in deliveries if d.status is status.UNDELIVERED
    ]
    summary.alert_log_unavailable = deliveries.log_unavailable or unavailable
    if planned and not deliveries:
        log.info("nothing new to notify: %d notification(s) planned, none configured or all sent before", len(planned))
    return summary


def one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}"


def notify_run_failed(config: str, step: str, error: object, run: str, dates: str) -> None:
    """Tell the channels which run and step failed and why, once per run; while the warehouse cannot be opened,
    once per date(s), remembered in a file under paths.output. Never raises (it runs while something else failed)."""
    import duckdb

    from pipeline import alerts, lake

    try:
        settings = load_settings(config)
    except Exception:  # noqa: BLE001 - no settings, no channels to tell
        log.exception("could not send the run-failed notification: the settings cannot be read")
        return
    if not alerts.channels(settings):  # nobody to tell: the failure itself is the one line the operator reads
        log.info("run failed; no alert channels configured to tell")
        return
    con, unavailable = None, None
    try:
        con = lake.connect(settings)
    except (lake.WarehouseError, duckdb.Error) as exc:
        unavailable = one_line(exc)
        log.info("run-failed notification without the warehouse (%s)", unavailable)
    try:
        failure = alerts.run_failed_alert(run, step, error, dates, warehouse_down=con is None)
        alerts.send(con, settings, [failure], log_unavailable=unavailable)
    except Exception:  # noqa: BLE001
        log.exception("could not send the run-failed notification")
    finally:
        if con is not None:
            con.close()
