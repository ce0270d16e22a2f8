"""Sending: deliver alerts through Apprise to every channel, retry a channel that is down, and keep the alert log.

With a connection, each alert's outcomes go to `main.alert_log` (a lake write) right after that alert is tried, and
a re-run sends nothing already delivered to a channel; without one (the warehouse is unreachable) alerts are sent
without the log. A channel that is down never makes `send` raise: its deliveries come back with status "failed".
Secrets of the URLs are scrubbed from every log record of Apprise and the HTTP stack while sending.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import time
from dataclasses import dataclass

import duckdb

from pipeline import lake
from pipeline.alerts.channels import Channel, channels, redact, secret_parts
from pipeline.alerts.planning import Alert
from pipeline.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_ENV = "VTR_ALERT_BACKOFF_SECONDS"
DEFAULT_BACKOFF_SECONDS = 2.0
_SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.util.retry", "requests")


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"  # every allowed try failed: retried by the next run
    ALREADY_SENT = "already_sent"  # main.alert_log says this channel has it: not sent again


@dataclass(frozen=True)
class Delivery:
    alert_key: str
    channel: str  # the channel's label
    status: DeliveryStatus
    attempts: int = 0
    error: str | None = None


class _Scrub(logging.Filter):
    """Rewrites log records of Apprise and the HTTP stack so no secret URL part reaches any handler (they log paths)."""

    def __init__(self, secrets: set[str]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


@contextlib.contextmanager
def _scrubbed_logs(secrets: set[str]):
    scrub = _Scrub(secrets)
    loggers = [logging.getLogger(name) for name in _SCRUBBED_LOGGERS]
    for lg in loggers:
        lg.addFilter(scrub)
    # a failed delivery's reason ("error=500") comes from Apprise's WARNING records, which a quiet
    # deployment (root level ERROR) would not create; handlers still decide what is shown
    apprise_log = logging.getLogger("apprise")
    level = apprise_log.level
    if apprise_log.getEffectiveLevel() > logging.WARNING:
        apprise_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        apprise_log.setLevel(level)
        for lg in loggers:
            lg.removeFilter(scrub)


def _backoff(seconds: float | None) -> float:
    """The first retry's wait: as given, else VTR_ALERT_BACKOFF_SECONDS, else 2 seconds."""
    if seconds is not None:
        return seconds
    text = os.environ.get(BACKOFF_ENV, "")
    try:
        return float(text) if text else DEFAULT_BACKOFF_SECONDS
    except ValueError:
        log.warning("%s=%r is not a number of seconds: using %s", BACKOFF_ENV, text, DEFAULT_BACKOFF_SECONDS)
        return DEFAULT_BACKOFF_SECONDS


def _delivered_channels(con: duckdb.DuckDBPyConnection | None, alert: Alert) -> set[str]:
    """Labels of the channels main.alert_log says the alert reached; none without a log or for a repeatable alert."""
    if con is None or not alert.once:
        return set()
    found = con.execute("select distinct channel from main.alert_log where alert_key = ? and delivered", [alert.key])
    return {row[0] for row in found.fetchall()}


def _log_deliveries(
    con: duckdb.DuckDBPyConnection | None, settings: Settings, alert: Alert, title: str, tried: list[Delivery]
) -> None:
    """One main.alert_log row per channel tried for the alert, committed at once: a crash loses one alert's rows."""
    if con is None or not tried:
        return
    rows = [
        [
            alert.key,
            alert.kind,
            alert.seller_id,
            alert.marketplace,
            alert.snapshot_date,
            d.channel,
            title,
            d.status is DeliveryStatus.SENT,
            d.attempts,
            d.error,
        ]
        for d in tried
    ]
    insert = "insert into main.alert_log values (?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?)"
    lake.write(con, settings, lambda c: c.executemany(insert, rows), what="log alert deliveries")


def _notify_once(channel: Channel, alert: Alert, secrets: set[str]) -> str | None:
    """Send once; None when the channel accepted it, else the (scrubbed) reason."""
    import apprise

    if channel.url is None:
        return channel.error or "channel could not be resolved"
    obj = apprise.Apprise()
    if not obj.add(channel.url):
        return "not a notification URL Apprise understands"
    try:
        result = obj.notify(
            title=redact(alert.title, secrets),
            body=redact(alert.body, secrets),
            notify_type=apprise.NotifyType(alert.notify_type),
            body_format=apprise.NotifyFormat.TEXT,
        )
    except Exception as exc:  # noqa: BLE001 - a broken channel is a failed delivery, reported with the rest
        return redact(f"{type(exc).__name__}: {exc}", secrets)
    if result:
        return None
    # Apprise 2 returns a result holding the service's log lines (e.g. "Failed to send ...: error=500").
    messages = [e.message for e in getattr(result, "logs", lambda: [])() if e.level in ("WARNING", "ERROR")]
    return redact(messages[-1], secrets) if messages else "the service did not accept the notification"


def _deliver(channel: Channel, alert: Alert, secrets: set[str], attempts: int, backoff: float) -> Delivery:
    """Up to `attempts` tries, waiting backoff, 2 x backoff, ... between them."""
    error, tries = None, 0
    for tries in range(1, attempts + 1):
        error = _notify_once(channel, alert, secrets)
        if error is None:
            break
        if tries < attempts:
            time.sleep(backoff * 2 ** (tries - 1))
    status = DeliveryStatus.SENT if error is None else DeliveryStatus.FAILED
    return Delivery(alert.key, channel.label, status, tries, error)


def send(
    con: duckdb.DuckDBPyConnection | None,
    settings: Settings,
    alerts: list[Alert],
    *,
    attempts: int = 3,
    backoff_seconds: float | None = None,
) -> list[Delivery]:
    """Deliver each alert to each channel it has not reached yet (per main.alert_log), retrying with exponential
    back-off, and log each alert's outcomes in main.alert_log; with con None, deliver without the log. Failed
    deliveries are returned (status "failed") and logged as warnings, never raised.

    A channel that failed all `attempts` for one alert gets a single try for each later alert of the same call, so a
    channel that is down costs one back-off sequence, not one per alert."""
    if not alerts:
        return []
    chans = channels(settings)
    if not chans:
        log.warning("no alert channels configured: %d alert(s) not sent", len(alerts))
        return []
    backoff = _backoff(backoff_seconds)
    secrets = set().union(*(secret_parts(c.url) for c in chans if c.url))
    deliveries: list[Delivery] = []
    down: set[str] = set()  # channels that failed every attempt in this call: one try each for the other alerts
    with _scrubbed_logs(secrets):
        for alert in alerts:
            delivered = _delivered_channels(con, alert)
            tried = []
            for channel in chans:
                if channel.label in delivered:
                    log.info("alert %s -> %s: already delivered, not sent again", alert.key, channel.label)
                    deliveries.append(Delivery(alert.key, channel.label, DeliveryStatus.ALREADY_SENT))
                    continue
                allowed = 1 if channel.label in down or channel.url is None else max(attempts, 1)
                outcome = _deliver(channel, alert, secrets, allowed, backoff)
                (down.discard if outcome.status is DeliveryStatus.SENT else down.add)(channel.label)
                log.log(
                    logging.INFO if outcome.error is None else logging.WARNING,
                    "alert %s -> %s: %s after %d attempt(s)%s",
                    alert.key,
                    channel.label,
                    outcome.status.value,
                    outcome.attempts,
                    f": {outcome.error}" if outcome.error else "",
                )
                tried.append(outcome)
            _log_deliveries(con, settings, alert, redact(alert.title, secrets), tried)
            deliveries += tried
    return deliveries
