"""The DAG's task bodies: the steps of pipeline/steps.py, with what only Airflow has (its context, its run types,
its exceptions). An error no retry can fix (settings, dates, sellers, a failed check) fails the task at once."""

from __future__ import annotations

import logging

from airflow.sdk.exceptions import AirflowFailException

from pipeline import steps
from pipeline.lake import WarehouseError
from pipeline.settings import SettingsError

log = logging.getLogger(__name__)


def plan_run(params: dict | None, logical_date, dag_run) -> dict:
    """The run's plan; a run without a logical date computes the last complete UTC day before it was triggered,
    and a run Airflow marks as a backfill sends no VTR notifications (spec sections 4 and 6)."""
    try:
        return steps.plan(
            steps.config_path(),
            dict(params or {}),
            logical_date=logical_date.date() if logical_date else None,
            triggered_at=getattr(dag_run, "run_after", None),
            notify=getattr(getattr(dag_run, "run_type", None), "value", None) != "backfill",
        )
    except (steps.PlanError, SettingsError) as exc:
        raise AirflowFailException(str(exc)) from None


def wait_for_files(plan: dict, seller_id: str) -> tuple[bool, dict]:
    done, info = steps.wait_for_files(plan, seller_id)
    if done and info["stale"]:
        log.warning(
            "%s: no file for %s in %s; going on without them (stale)", seller_id, plan["end"], ", ".join(info["stale"])
        )
    elif not done:
        log.info(
            "%s: waiting for the %s file(s) of %s until %s UTC",
            seller_id,
            ", ".join(info["stale"]),
            plan["end"],
            info["deadline"],
        )
    return done, info


def run_seller(plan: dict, seller_id: str, wait: dict | None) -> dict:
    try:
        result = steps.run_seller(plan, seller_id, (wait or {}).get("stale", []))
    except SettingsError as exc:
        raise AirflowFailException(str(exc)) from None
    except WarehouseError as exc:  # an old warehouse or a refused catalog: retried (a catalog may come back)
        raise RuntimeError(str(exc)) from None
    return result


def finish_run(plan: dict, results: list[dict], outlet_events, outlets) -> dict:
    """Notifications and the summary; the summary's figures (each account's verdict first) are the task's return
    value and each dataset's asset event's extra; a run with a failed seller fails here, after the other sellers'
    notifications went out."""
    summary = steps.finish(plan, [r for r in results if r])
    log.info("run summary\n%s", summary.render())
    figures = summary.figures()
    for asset in outlets if outlet_events is not None else ():
        outlet_events[asset].extra = {
            k: figures[k]
            for k in ("snapshot_date", "start_date", "verdicts", "accounts", "reports", "fix_files", "index")
        }
    if figures["failures"]:
        raise AirflowFailException("the run failed: " + "; ".join(figures["failures"]))
    return figures


def on_task_failure(context) -> None:
    """Failure callback: tell the channels which run and step failed, for which snapshot date(s), and why."""
    ti = context["ti"]
    plan = None
    try:
        plan = ti.xcom_pull(task_ids="plan_run")
    except Exception:  # noqa: BLE001 - the plan may not exist (plan_run itself failed)
        log.debug("no plan to name the dates from")
    params = context.get("params") or {}
    if plan:
        dates = plan["start"] if plan["start"] == plan["end"] else f"{plan['start']} .. {plan['end']}"
    else:
        logical = context.get("logical_date")
        dates = params.get("snapshot_date") or (logical.date().isoformat() if logical else "the last complete day")
    steps.notify_run_failed(steps.config_path(), ti.task_id, context.get("exception"), ti.run_id, dates)
