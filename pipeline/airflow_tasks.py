"""The DAG's task bodies: the steps of pipeline/steps.py, with what only Airflow has (its context, its run types,
its exceptions). An error no retry can fix (settings, dates, sellers, a failed check) fails the task at once.

A seller's work runs in a forked child that the task process kills at the task's timeout (pipeline/watchdog.py):
Airflow's execution_timeout is a SIGALRM inside the task process, which ends nothing stopped or blocked in C code.
The deadline is read from the settings when the task runs, whichever way they are given (VTR_CONFIG or the Airflow
Variable)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowTaskTimeout

from pipeline import steps, watchdog
from pipeline.lake import WarehouseError
from pipeline.settings import SettingsError, load_settings
from pipeline.summary import RunSummary
from pipeline.values import Plan, SellerResult, Wait

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context
    from airflow.sdk.types import DagRunProtocol, OutletEventAccessorsProtocol, RuntimeTaskInstanceProtocol

log = logging.getLogger(__name__)


def plan_run(
    params: Mapping[str, Any] | None, logical_date: dt.datetime | None, dag_run: DagRunProtocol | None
) -> Plan:
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


def wait_for_files(plan: Plan, seller_id: str) -> tuple[bool, Wait]:
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


def run_seller(
    plan: Plan, seller_id: str, wait: Wait | None, ti: RuntimeTaskInstanceProtocol | None = None
) -> SellerResult:
    """The seller's chain in a child killed at its deadline. A seller that failed (a file or folder it could not
    read, a failed check) fails its task, after publishing what it could and handing its result to finish_run, so
    the grid shows which seller failed and finish_run still reports the whole run."""
    what = f"seller {seller_id}'s work"
    try:
        settings = load_settings(plan["config"])
        seconds = settings.task_timeout_minutes * 60
        result = watchdog.call(
            steps.run_seller,
            plan,
            seller_id,
            wait["stale"] if wait else [],
            seconds=seconds,
            name=f"vtr {seller_id}",
            what=what,
        )
    except SettingsError as exc:
        raise AirflowFailException(str(exc)) from None
    except (WarehouseError, watchdog.DeadlineExceeded, watchdog.ChildDied, AirflowTaskTimeout) as exc:
        # retried: it may pass next time. Airflow's SIGALRM at the same deadline may come first: the watchdog killed
        # the child all the same (on its way out), and the reason is the same
        reason = str(watchdog.DeadlineExceeded(what, seconds) if isinstance(exc, AirflowTaskTimeout) else exc)
        _hand_over(ti, SellerResult(seller_id=seller_id, error=reason))
        raise RuntimeError(reason) from None
    failures = RunSummary(plan["start"], plan["end"], [result]).failures()
    if failures:
        _hand_over(ti, result)
        raise AirflowFailException("; ".join(failures))
    return result


def _hand_over(ti: RuntimeTaskInstanceProtocol | None, result: SellerResult) -> None:
    """A failing seller's task still hands its result to finish_run, as a successful one does by returning it."""
    if ti is not None:
        ti.xcom_push("return_value", result)


def finish_run(
    plan: Plan,
    results: list[SellerResult],
    outlet_events: OutletEventAccessorsProtocol | None,
    outlets: Sequence[Asset],
) -> dict[str, Any]:
    """Notifications and the summary; the summary's figures (each account's verdict first) are the task's return
    value and each dataset's asset event's extra; a run with a failed seller fails here, after the other sellers'
    notifications went out."""
    summary = steps.finish(plan, [r for r in results if r])
    log.info("run summary\n%s", summary.render())
    figures = summary.figures()
    for asset in outlets:
        if outlet_events is not None:
            outlet_events[asset].extra = {
                k: figures[k]
                for k in ("snapshot_date", "start_date", "verdicts", "accounts", "reports", "fix_files", "index")
            }
    if figures["failures"]:
        raise AirflowFailException("the run failed: " + "; ".join(figures["failures"]))
    return figures


def _dates(context: Context) -> str:
    """The snapshot date(s) of the run: its plan's, else its params' or logical date."""
    plan = None
    try:
        plan = context["ti"].xcom_pull(task_ids="plan_run")
    except Exception:  # noqa: BLE001 - the plan may not exist (plan_run itself failed), or no task instance
        log.debug("no plan to name the dates from")
    if plan:
        return plan["start"] if plan["start"] == plan["end"] else f"{plan['start']} .. {plan['end']}"
    params, logical = context.get("params") or {}, context.get("logical_date")
    return params.get("snapshot_date") or (logical.date().isoformat() if logical else "the last complete day")


def on_task_failure(context: Context) -> None:
    """plan_run's and finish_run's failure callback: tell the channels which run and step failed, for which snapshot
    date(s), and why. A seller's failed task tells nothing itself: finish_run reports it with the whole run."""
    ti = context["ti"]
    steps.notify_run_failed(steps.config_path(), ti.task_id, context.get("exception"), ti.run_id, _dates(context))


def on_run_failure(context: Context) -> None:
    """The DAG's failure callback (run by the dag-processor): a run past its timeout has its unfinished tasks marked
    skipped and no task callback runs, so this tells the channels. Other failures are told by the tasks' callbacks."""
    if context.get("reason") != "timed_out":
        return
    config = steps.config_path()
    minutes = load_settings(config, require_landing=False).run_timeout_minutes
    error = f"the run did not finish within {minutes} min ([schedule] run_timeout_minutes); its unfinished tasks"
    steps.notify_run_failed(config, "run timeout", error + " were skipped", context["run_id"], _dates(context))
