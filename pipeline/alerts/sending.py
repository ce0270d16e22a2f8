"""Sending: deliver alerts through Apprise to every channel, bounded in time and in repeats, and keep the alert log.

Each send has a total deadline (`[alert_policy] timeout_seconds`, delivery.py). Per notification and channel, over
all runs (ledger.py: the lake's `main.alert_log`, or a file under paths.output while the lake is unavailable): a
notification delivered is never sent again; a send that reached the channel without a confirmation (an error answer,
or no answer in time: the receiver may have it) counts, and after `[alert_policy] max_attempts` sends it is given up
and reported undelivered. Within one run a send that did not reach the channel, or got an error answer, is tried
again with back-off; one without an answer in time is not (and that channel gets nothing more in this run). A
channel that is down never makes `send` raise. Secrets of the URLs are scrubbed from every log record of Apprise and
the HTTP stack while sending.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from pipeline.alerts import delivery
from pipeline.alerts.channels import Channel, channels, redact, secret_parts
from pipeline.alerts.ledger import History, Ledger
from pipeline.alerts.planning import Alert
from pipeline.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_ENV = "VTR_ALERT_BACKOFF_SECONDS"
DEFAULT_BACKOFF_SECONDS = 2.0
_SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.util.retry", "requests")


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"  # the channel confirmed it
    FAILED = "failed"  # not delivered (not reached, or refused): tried again by the next run
    UNKNOWN = "unknown"  # sent, no complete answer in time: the next run may send it again, up to max_attempts
    ALREADY_SENT = "already_sent"  # the alert log says this channel has it: not sent again
    UNDELIVERED = "undelivered"  # sent max_attempts times in all without a confirmation: never sent again


@dataclass(frozen=True)
class Delivery:
    alert_key: str
    channel: str  # the channel's label
    status: DeliveryStatus
    attempts: int = 0  # sends that reached the channel in this call
    error: str | None = None


class Deliveries(list[Any]):
    """What `send` did, one Delivery per alert and channel; `log_unavailable` says why the lake's alert log could not
    be used (the outcomes went to the fallback file instead), None when it was."""

    log_unavailable: str | None = None


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
def _scrubbed_logs(secrets: set[str]) -> Iterator[None]:
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


def _deliver(
    channel: Channel,
    alert: Alert,
    secrets: set[str],
    settings: Settings,
    tries: int,
    backoff: float,
    sent_before: int,
) -> tuple[Delivery, bool]:
    """Up to `tries` tries, waiting backoff, 2 x backoff, ... between them; a try that timed out ends them (and the
    second value is True), and so does reaching `max_attempts` sends in all."""
    if channel.url is None:
        failed = Delivery(alert.key, channel.label, DeliveryStatus.FAILED, 0, channel.error or "channel not resolved")
        return failed, False
    sends, status, timed_out = 0, DeliveryStatus.FAILED, False
    for n in range(1, tries + 1):
        tried = delivery.notify(channel, alert, secrets, settings.alert_timeout_seconds)
        sends += tried.reached
        error = tried.error
        if error is None:
            return Delivery(alert.key, channel.label, DeliveryStatus.SENT, sends), False
        if tried.timed_out:
            status = DeliveryStatus.UNKNOWN if tried.reached else DeliveryStatus.FAILED
            timed_out = True
            break
        if sent_before + sends >= settings.alert_max_attempts:
            break
        if n < tries:
            time.sleep(backoff * 2 ** (n - 1))
    if sent_before + sends >= settings.alert_max_attempts:
        status = DeliveryStatus.UNDELIVERED
        error = f"{error}; sent {sent_before + sends} time(s) in all without a confirmation: not sent again"
    return Delivery(alert.key, channel.label, status, sends, error), timed_out


def _skipped(alert: Alert, channel: Channel, past: History, settings: Settings, slow: set[str]) -> Delivery | None:
    """Why the alert is not sent to the channel in this call, or None to send it."""
    if past.delivered:
        return Delivery(alert.key, channel.label, DeliveryStatus.ALREADY_SENT)
    if past.sends >= settings.alert_max_attempts:
        reason = f"sent {past.sends} time(s) in all without a confirmation: not sent again"
        return Delivery(alert.key, channel.label, DeliveryStatus.UNDELIVERED, 0, reason)
    if channel.label in slow:
        reason = f"not sent: the channel gave no answer within {settings.alert_timeout_seconds} s earlier in this run"
        return Delivery(alert.key, channel.label, DeliveryStatus.FAILED, 0, reason)
    return None


def send(
    con: duckdb.DuckDBPyConnection | None,
    settings: Settings,
    alerts: list[Alert],
    *,
    tries: int = 3,
    backoff_seconds: float | None = None,
    log_unavailable: str | None = None,
) -> Deliveries:
    """Deliver each alert to each channel that has not got it (per the alert log), and log each alert's outcomes
    right after it was tried. `con` None: the lake is unavailable (`log_unavailable` says why) and the fallback file
    is the log. Failed deliveries are returned and logged as warnings, never raised.

    A channel that failed every try of one alert gets a single try for each later alert of the same call; one that
    gave no answer in time gets none (so a silent channel costs a run one deadline, not one per alert)."""
    result = Deliveries()
    if not alerts:
        return result
    chans = channels(settings)
    if not chans:
        log.warning("no alert channels configured: %d alert(s) not sent", len(alerts))
        return result
    ledger = Ledger(con, settings, log_unavailable or "the warehouse could not be opened")
    backoff = _backoff(backoff_seconds)
    secrets = set().union(*(secret_parts(c.url) for c in chans if c.url))
    down: set[str] = set()  # failed every try in this call: one try each for the other alerts
    slow: set[str] = set()  # no answer in time in this call: nothing more for it in this call
    with _scrubbed_logs(secrets):
        delivery.prepare([c.url for c in chans if c.url])
        for alert in alerts:
            history = ledger.history(alert.key)
            tried = []
            for channel in chans:
                past = history.get(channel.label, History())
                skipped = _skipped(alert, channel, past, settings, slow)
                if skipped:
                    log.log(
                        logging.INFO if skipped.status is DeliveryStatus.ALREADY_SENT else logging.WARNING,
                        "alert %s -> %s: %s",
                        alert.key,
                        channel.label,
                        skipped.error or "already delivered, not sent again",
                    )
                    result.append(skipped)
                    continue
                allowed = 1 if channel.label in down else max(tries, 1)
                outcome, timed_out = _deliver(channel, alert, secrets, settings, allowed, backoff, past.sends)
                (down.discard if outcome.status is DeliveryStatus.SENT else down.add)(channel.label)
                if timed_out:
                    slow.add(channel.label)
                log.log(
                    logging.INFO if outcome.error is None else logging.WARNING,
                    "alert %s -> %s: %s, %d send(s)%s",
                    alert.key,
                    channel.label,
                    outcome.status.value,
                    outcome.attempts,
                    f": {outcome.error}" if outcome.error else "",
                )
                tried.append(outcome)
            ledger.record(alert, redact(alert.title, secrets), tried)
            result += tried
    result.log_unavailable = ledger.unavailable
    return result
