"""The command line's driver: the DAG's steps in the same order, in-process (`vtr run`, `vtr backfill`, `vtr ingest`).

The command line never waits for files (its waiting time has always passed): a feed still missing is reported
stale. A seller whose chain fails (a DuckDB error, a full disk) is reported with the others still published, and the
run ends failed with a run-failed notification, as the DAG does.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline import steps
from pipeline.lake import WarehouseError
from pipeline.settings import Settings, load_settings
from pipeline.summary import RunSummary
from pipeline.values import SellerResult

if TYPE_CHECKING:
    from pipeline.ingest.load import FileResult

log = logging.getLogger(__name__)


def _config(config: str | Path | Settings) -> str:
    return str(config.config_file if isinstance(config, Settings) else config)


def run(
    config: str | Path | Settings,
    start: dt.date,
    end: dt.date | None = None,
    *,
    sellers: list[str] | None = None,
    full_rebuild: bool = False,
    notify: bool = True,
) -> RunSummary:
    """Run the snapshot dates start..end for the sellers (default: all) end to end; returns the summary."""
    config = _config(config)
    params = {
        "snapshot_date": start.isoformat(),
        "end_date": (end or start).isoformat(),
        "sellers": sellers or [],
        "full_rebuild": full_rebuild,
    }
    plan = steps.plan(config, params, notify=notify)
    dates = plan["start"] if plan["start"] == plan["end"] else f"{plan['start']} .. {plan['end']}"
    run_id = f"vtr run {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"  # one run-failed notification per run
    results: list[SellerResult] = []
    for seller in plan["sellers"]:
        stale = steps.wait_for_files(plan, seller)[1]["stale"]
        try:
            result = steps.run_seller(plan, seller, stale)
        except (duckdb.Error, OSError) as exc:  # this seller's chain broke: the others still publish
            log.error("%s: %s", seller, str(exc).splitlines()[0])
            result = SellerResult(seller_id=seller, error=steps.one_line(exc))
        except WarehouseError as exc:  # no seller can run: tell the channels (once per date), then say it in one line
            steps.notify_run_failed(config, "run_seller", exc, run_id, dates)
            raise
        results.append(SellerResult(stale=stale, seller_id=seller) | result)
    summary = steps.finish(plan, results)
    failures = summary.failures()
    if failures:
        steps.notify_run_failed(config, "run_seller", "; ".join(failures), run_id, dates)
    return summary


def ingest(config: str | Path | Settings, sellers: list[str] | None = None) -> list[FileResult]:
    """Load every new file of the sellers (default: all), each under its lock; returns every file's result."""
    from pipeline import lake
    from pipeline.ingest import ingest_seller

    settings = load_settings(_config(config))
    results: list[FileResult] = []
    for seller in steps.resolve_sellers(settings, sellers):
        with lake.seller_lock(settings, seller):
            con = lake.connect(settings)
            try:
                results += ingest_seller(con, settings, seller)
            finally:
                con.close()
    return results
