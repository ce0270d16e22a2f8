"""Planning: which notifications a run sends and what they say, as plain `Alert` values (spec sections 4 and 5).

VTR alerts and early warnings read the marts (`marts.py`); stale-feed notices, data-quality warnings and run
failures are built from what the run found. Nothing here sends anything or writes anywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from pipeline.alerts import marts
from pipeline.formatting import percent
from pipeline.settings import Settings

MAX_ERROR_CHARS = 2000


def alert_key(
    kind: str, seller_id: str | None, marketplace: str | None, snapshot_date: dt.date | str | None, detail: str = ""
) -> str:
    """A notification's stable id, the one place its layout is written: `kind|seller|marketplace|date[|detail]`,
    "-" for a part that does not apply. The alert log is keyed by it; receivers see it (delivery.py)."""
    parts = [kind, seller_id or "-", marketplace or "-", str(snapshot_date or "-")]
    return "|".join(parts + ([detail] if detail else []))


# the data-quality warnings' keys as a DuckDB format() template, for the check that reads them back from the alert log
QUALITY_KEY_TEMPLATE = alert_key("data_quality", "{}", None, None, "{}")


@dataclass(frozen=True)
class Alert:
    kind: str  # vtr, early_warning, stale_feed, data_quality, run_failed
    seller_id: str | None
    marketplace: str | None
    snapshot_date: dt.date | None
    title: str
    body: str
    notify_type: str = "warning"  # Apprise's info, success, warning or failure
    detail: str = ""  # extra key part (run_failed: the run; data_quality: the file's sha256)

    @property
    def key(self) -> str:
        """Kind, seller, marketplace, snapshot date (what "already sent" is checked against)."""
        return alert_key(self.kind, self.seller_id, self.marketplace, self.snapshot_date, self.detail)


def _as_date(value: dt.date | str) -> dt.date:
    """A snapshot date from a date, a datetime (Airflow's logical date) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def invalid_packages_path(settings: Settings, snapshot_date: dt.date, seller_id: str) -> str:
    """The seller's own list of invalid packages for the date (one Parquet file per seller and date)."""
    day = f"snapshot_date={_as_date(snapshot_date).isoformat()}"
    return str(settings.output / "invalid_packages" / day / f"{seller_id}.parquet")


def _scope_name(row: dict[str, Any]) -> str:
    return "overall" if row["scope"] == "overall" else f"{row['scope']} {row['scope_value']}"


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["scope"] != "overall", row["scope_value"] or "", row["window_days"])


def _by_account(rows: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(seller, marketplace, that account's rows in scope order), accounts in name order."""
    accounts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        accounts.setdefault((row["seller_id"], row["marketplace"]), []).append(row)
    return [
        (seller, marketplace, sorted(found, key=_order)) for (seller, marketplace), found in sorted(accounts.items())
    ]


def _notes(
    seller: str,
    snapshot_date: dt.date,
    stale_feeds: dict[str, list[str]] | None,
    incomplete: dict[str, list[str]] | None,
) -> list[str]:
    """What a reader must know before trusting the figures: stale scans, files that could not be read."""
    notes = []
    files = sorted((incomplete or {}).get(seller, []))
    if files:
        notes.append(
            f"Note: figures are incomplete: {len(files)} file(s) of {seller} could not be read, so nothing "
            f"of them is counted: {', '.join(files)}."
        )
    if "scans" in (stale_feeds or {}).get(seller, []):
        notes.append(
            f"Note: computed on stale scans: no scans file arrived for {snapshot_date}, "
            "so packages scanned since may still count as invalid."
        )
    return notes


def _breach_line(row: dict[str, Any]) -> str:
    line = (
        f"{_scope_name(row)}, {row['window_days']} days: VTR {percent(row['vtr'])} < target "
        f"{percent(row['target'])} ({row['packages_valid']}/{row['packages_total']} valid)"
    )
    return line + (f"; top reasons: {row['reasons']}" if row["reasons"] else "")


def _recovery_line(row: dict[str, Any]) -> str:
    return (
        f"recovered: {_scope_name(row)}, {row['window_days']} days: VTR {percent(row['vtr'])} >= "
        f"{percent(row['target'])} ({row['packages_valid']}/{row['packages_total']} valid)"
    )


def plan_vtr_alerts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    snapshot_date: dt.date,
    sellers: list[str],
    stale_feeds: dict[str, list[str]] | None = None,
    incomplete: dict[str, list[str]] | None = None,
) -> list[Alert]:
    """One alert per account of `sellers` with a breach (overall or category scope, any window) or a recovery since
    the account's previous snapshot; reads marts.mart_vtr_snapshots, mart_category_report and mart_invalid_packages.
    `incomplete` names, per seller, the files that could not be read (the body says the figures are incomplete)."""
    snapshot_date = _as_date(snapshot_date)
    changes = marts.vtr_changes(con, snapshot_date, sellers, settings.min_alert_packages)
    alerts = []
    for seller, marketplace, rows in _by_account(changes):
        breaches = [r for r in rows if r["change"] == "breach"]
        recoveries = [r for r in rows if r["change"] == "recovery"]
        lines = [
            f"{seller} on {marketplace}, snapshot {snapshot_date}: "
            f"{len(breaches)} below target, {len(recoveries)} back on target."
        ]
        lines += _notes(seller, snapshot_date, stale_feeds, incomplete)
        lines += [_breach_line(r) for r in breaches] + [_recovery_line(r) for r in recoveries]
        lines.append(f"Windows select packages by promised delivery date, ending {max(r['window_end'] for r in rows)}.")
        if breaches:
            lines.append(f"Invalid packages to fix: {invalid_packages_path(settings, snapshot_date, seller)}")
        title = ("VTR below target" if breaches else "VTR back on target") + f": {seller} {marketplace}"
        alerts.append(
            Alert(
                "vtr",
                seller,
                marketplace,
                snapshot_date,
                title,
                "\n".join(lines),
                notify_type="failure" if breaches else "success",
            )
        )
    return alerts


def plan_early_warnings(
    con: duckdb.DuckDBPyConnection, settings: Settings, snapshot_date: dt.date, sellers: list[str]
) -> list[Alert]:
    """One early warning per account of `sellers` whose projected VTR (marts.mart_projected_vtr) is below target.
    Returns [] while that mart does not exist."""
    snapshot_date = _as_date(snapshot_date)
    rows = marts.projected_below_target(con, snapshot_date, sellers, settings.min_alert_packages)
    alerts = []
    for seller, marketplace, found in _by_account(rows):
        lines = [
            f"{seller} on {marketplace}, snapshot {snapshot_date}: projected VTR below target in windows not yet "
            "final. This is a projection, not the marketplace's figure."
        ]
        lines += [
            f"{_scope_name(r)}, {r['window_days']} days (promised {r['window_start']} to {r['window_end']}): "
            f"projected VTR {percent(r['projected_vtr'])} < target {percent(r['target'])} "
            f"({r['packages_valid_now']}/{r['packages_total']} valid so far)"
            for r in found
        ]
        title = f"Early warning: projected VTR below target: {seller} {marketplace}"
        alerts.append(Alert("early_warning", seller, marketplace, snapshot_date, title, "\n".join(lines)))
    return alerts


def plan_stale_feed_alerts(
    settings: Settings, snapshot_date: dt.date, stale_feeds: dict[str, list[str]]
) -> list[Alert]:
    """One alert per seller whose feeds delivered no file for the day."""
    snapshot_date = _as_date(snapshot_date)
    alerts = []
    for seller, feeds in sorted(stale_feeds.items()):
        if not feeds:
            continue
        names = ", ".join(sorted(feeds))
        body = (
            f"No file arrived for {snapshot_date} in seller {seller}'s feed(s): {names}. "
            f"The run used the data loaded so far (landing folder: {settings.landing / seller})."
        )
        if "scans" in feeds:
            body += " VTR computed on stale scans may undercount valid packages."
        alerts.append(Alert("stale_feed", seller, None, snapshot_date, f"Stale feed: {seller} ({names})", body))
    return alerts


def plan_quality_warnings(rows: list[list[Any]]) -> list[Alert]:
    """One data-quality warning per file with many rejected rows; a row is the raw_files_many_rejects check's
    [seller_id, feed, path, sha256, rows_read, rows_rejected, reject_share]. Keyed by the file's content (sha256),
    so it is sent once whichever run loaded the file (the check reads this key back from main.alert_log)."""
    alerts = []
    for seller, feed, path, sha256, rows_read, rows_rejected, share in rows:
        body = (
            f"{rows_rejected} of {rows_read} rows ({percent(float(share))}) of seller {seller}'s {feed} file "
            f"{path} were rejected as malformed; the other rows were loaded and the run still publishes.\n"
            "The rejected rows are in the rejects table (main.rejects) with their file, line and reason."
        )
        title = f"Data quality: many rejected rows in {seller}'s file {path}"
        alerts.append(Alert("data_quality", seller, None, None, title, body, detail=sha256))
    return alerts


def run_failed_alert(run: str, step: str, error: object, dates: str, *, warehouse_down: bool = False) -> Alert:
    """A failed run: its step, the snapshot date(s) asked for ("2026-11-20" or "2026-11-01 .. 2026-11-20") and the
    error (secrets are scrubbed when sent). One per run; while the warehouse cannot be opened or written
    (`warehouse_down`), one per date(s) whatever the run, so retries of a run that cannot reach it send it once."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    text = text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."
    body = f"Run {run}: step {step} failed for {dates}.\nError: {text}"
    if warehouse_down:
        body += "\nThe warehouse could not be opened or written: this notice is sent once for these dates."
    return Alert(
        "run_failed",
        None,
        None,
        None,
        f"VTR run failed: {run} / {step} for {dates}",
        body,
        notify_type="failure",
        detail=f"{dates} warehouse unavailable" if warehouse_down else run,
    )
