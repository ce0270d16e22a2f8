"""Alerts: plan VTR, early-warning, stale-feed and run-failed notifications; send them through Apprise (spec 4).

Planning reads the marts and returns plain `Alert` values; `send` delivers them to every channel (an Apprise URL from
the settings, or the URLs held in an Airflow Apprise connection), retries a channel that is down, and records each
outcome in `main.alert_log` so that re-running a date sends nothing already delivered. A notification URL carries a secret:
only its label (service and host) is ever printed, logged or stored, and log records and errors are scrubbed of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

import duckdb

from pipeline.formatting import percent
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# Reasons in the order the spec checks them; ties in "top reasons" keep this order.
REASONS = (
    "missing_tracking", "carrier_not_integrated", "no_carrier_events", "pre_transit_only", "scan_before_ship_date",
)
TOP_REASONS = 3

ALERT_LOG_DDL = """
create table if not exists main.alert_log (
    alert_key varchar not null,
    kind varchar not null,
    seller_id varchar,
    marketplace varchar,
    snapshot_date date,
    channel varchar not null,
    title varchar not null,
    sent_at timestamptz not null,
    delivered boolean not null,
    attempts integer not null,
    error varchar
);
comment on table main.alert_log is 'One row per alert and channel each time delivery was tried: channel is the service and host only, never the URL; delivered=false rows are retried on the next run.';
"""


class AlertDeliveryError(Exception):
    """Some alerts could not be delivered to some channel after every retry (the message holds labels, never URLs)."""

    def __init__(self, message: str, deliveries: list[Delivery]):
        super().__init__(message)
        self.deliveries = deliveries


@dataclass(frozen=True)
class Alert:
    kind: str  # vtr, early_warning, stale_feed, run_failed
    seller_id: str | None
    marketplace: str | None
    snapshot_date: dt.date | None
    title: str
    body: str
    notify_type: str = "warning"  # Apprise's info, success, warning or failure
    detail: str = ""  # extra key part (run_failed: dag/run/task)
    once: bool = True  # False: send every time (a failure callback is a new event each time)

    @property
    def key(self) -> str:
        """Stable identity: kind, seller, marketplace, snapshot date (what "already sent" is checked against)."""
        parts = [self.kind, self.seller_id or "-", self.marketplace or "-", str(self.snapshot_date or "-")]
        return "|".join(parts + ([self.detail] if self.detail else []))


@dataclass(frozen=True)
class Channel:
    label: str  # service and host only: safe to print, log and store
    url: str | None = field(default=None, repr=False)  # the secret; None when it could not be resolved
    error: str | None = None  # why the URL could not be resolved (an Airflow connection that is missing)


@dataclass(frozen=True)
class Delivery:
    alert_key: str
    channel: str  # the channel's label
    status: str  # sent, failed, already_sent
    attempts: int = 0
    error: str | None = None


# --- channels ---------------------------------------------------------------------------------------------------

_HOSTNAME = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def _split_url(url: str) -> tuple[str, str, str, str | None, list[str]]:
    """(scheme, userinfo, host, port, other parts: path segments, query values, fragment) without trusting urllib."""
    scheme, _, rest = url.partition("://")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    tail = rest[len(netloc):]
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = hostport, None
    m = re.fullmatch(r"(.*):(\d+)", hostport)
    if m:
        host, port = m.group(1), m.group(2)
    parts = [p for p in re.split(r"[/?#&=,;]", tail) if p]
    return scheme.lower(), userinfo, host, port, parts


def _is_network_host(host: str) -> bool:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return True
    return host.lower() == "localhost" or bool(_HOSTNAME.match(host))


def url_label(url: str) -> str:
    """`service://host[:port]`; the host is left out when it is not a network host (slack://TOKEN/... -> slack://)."""
    if "://" not in url:
        return "invalid-url"
    scheme, _, host, port, _ = _split_url(url)
    if not _is_network_host(host):
        return f"{scheme}://"
    return f"{scheme}://{host.lower()}" + (f":{port}" if port else "")


def _secret_parts(url: str) -> set[str]:
    """Pieces of a URL that may be a secret: the URL, the password, token-like path, query and host parts."""
    _, userinfo, host, _, parts = _split_url(url)
    secrets = {url, url.partition("://")[2]}
    _, _, password = userinfo.partition(":")
    if len(password) >= 3:
        secrets.add(password)
    candidates = parts + ([] if _is_network_host(host) else [host])
    for part in candidates:
        # A token has digits or capitals, or is long; short plain words ("hook", "alerts") are path names, not secrets.
        if len(part) >= 12 or (len(part) >= 6 and any(c.isdigit() or c.isupper() for c in part)):
            secrets.add(part)
    return {s for v in secrets for s in (v, unquote(v)) if len(s) >= 3}


def redact(text: str, secrets: set[str]) -> str:
    """Replace every secret piece in text with ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _connection_urls(conn_id: str) -> list[str]:
    """The URLs an Airflow Apprise connection holds (its extra 'config': {"path": ...} or a list of them)."""
    from airflow.providers.apprise.hooks.apprise import AppriseHook  # only when a connection id is configured
    from apprise.utils.parse import parse_urls

    hook = AppriseHook(apprise_conn_id=conn_id)
    config = hook.get_config_from_conn(hook.get_connection(conn_id))
    entries = config if isinstance(config, list) else [config]
    return [url for entry in entries for url in parse_urls(entry["path"])]


def channels(settings: Settings) -> list[Channel]:
    """Every notification channel: the [[alerts]] urls, then the URLs in the [[alerts]] Airflow connections."""
    found: list[Channel] = [Channel(url_label(u), u) for u in settings.alert_urls]
    for conn_id in settings.alert_connection_ids:
        try:
            found += [Channel(url_label(u), u) for u in _connection_urls(conn_id)]
        except Exception as exc:  # noqa: BLE001 - any failure is reported as an undelivered channel, never raised here
            # The exception text is not kept: it could quote the connection's content.
            reason = f"could not read Airflow connection '{conn_id}' ({type(exc).__name__})"
            found.append(Channel(f"airflow_connection:{conn_id}", None, reason))
    # Two channels of one service without a host (two Slack webhooks) get distinct labels: each is deduplicated alone.
    seen: dict[str, int] = {}
    unique = []
    for ch in found:
        seen[ch.label] = seen.get(ch.label, 0) + 1
        unique.append(ch if seen[ch.label] == 1 else Channel(f"{ch.label}#{seen[ch.label]}", ch.url, ch.error))
    return unique


# --- message formatting -------------------------------------------------------------------------------------------


def _scope_name(scope: str, scope_value: str | None) -> str:
    return "overall" if scope == "overall" else f"{scope} {scope_value}"


def _reasons_text(counts: dict[str, int]) -> str:
    order = {reason: i for i, reason in enumerate(REASONS)}
    ranked = sorted(((n, r) for r, n in counts.items() if n), key=lambda x: (-x[0], order.get(x[1], len(order))))
    return ", ".join(f"{r} {n}" for n, r in ranked[:TOP_REASONS])


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchone()
    return bool(row[0])


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _as_date(value: dt.date | str) -> dt.date:
    """A snapshot date from a date, a datetime (Airflow's logical date) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def invalid_packages_path(settings: Settings, snapshot_date: dt.date) -> str:
    return str(settings.output / "invalid_packages" / f"snapshot_date={_as_date(snapshot_date).isoformat()}")


# --- planning ---------------------------------------------------------------------------------------------------

_CHANGES_SQL = """
with current_rows as (
    select * from marts.mart_vtr_snapshots
    where snapshot_date = $d and scope in ('overall', 'category')
),
previous_dates as (
    select seller_id, marketplace, max(snapshot_date) as previous_date
    from marts.mart_vtr_snapshots
    where snapshot_date < $d
    group by all
),
previous_breaches as (
    select s.*
    from marts.mart_vtr_snapshots as s
    inner join previous_dates as p
        on p.seller_id = s.seller_id and p.marketplace = s.marketplace and p.previous_date = s.snapshot_date
    where s.scope in ('overall', 'category') and s.status = 'below_target'
)
select 'breach' as change, c.*
from current_rows as c
where c.status = 'below_target'
union all
select 'recovery' as change, c.*
from current_rows as c
inner join previous_breaches as p
    on p.seller_id = c.seller_id and p.marketplace = c.marketplace and p.window_days = c.window_days
    and p.scope = c.scope and p.scope_value is not distinct from c.scope_value
where c.status = 'ok'
"""


def _top_reasons(con, row: dict, has_report: bool, has_invalid: bool) -> str:
    """Top reasons of one breached scope: the category report for a category, the invalid-package list for overall."""
    key = [row["snapshot_date"], row["seller_id"], row["marketplace"]]
    if row["scope"] == "category" and has_report:
        found = _rows(
            con,
            "select * from marts.mart_category_report where snapshot_date = ? and seller_id = ? and marketplace = ?"
            " and category = ? and window_days = ?",
            key + [row["scope_value"], row["window_days"]],
        )
        row = found[0] if found else {}
        counts = {k.removeprefix("invalid_"): v for k, v in row.items() if k.startswith("invalid_")}
        return _reasons_text(counts)
    if row["scope"] == "overall" and has_invalid:
        # The list covers the largest window; every smaller window ends on the same day, so it is a subset.
        found = con.execute(
            "select reason, count(*) from marts.mart_invalid_packages where snapshot_date = ? and seller_id = ?"
            " and marketplace = ? and promised_delivery_date between ? and ? group by reason",
            key + [row["window_start"], row["window_end"]],
        ).fetchall()
        return _reasons_text(dict(found))
    return ""


def _order(row: dict) -> tuple:
    return (row["scope"] != "overall", row["scope_value"] or "", row["window_days"])


def plan_vtr_alerts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    snapshot_date: dt.date,
    stale_feeds: dict[str, list[str]] | None = None,
) -> list[Alert]:
    """One alert per account with a breach (overall or category scope, any window) or a recovery since the account's
    previous snapshot; reads marts.mart_vtr_snapshots, mart_category_report and mart_invalid_packages."""
    snapshot_date = _as_date(snapshot_date)
    changes = _rows(con, _CHANGES_SQL, {"d": snapshot_date})
    has_report = _table_exists(con, "marts", "mart_category_report")
    has_invalid = _table_exists(con, "marts", "mart_invalid_packages")
    accounts: dict[tuple[str, str], list[dict]] = {}
    for row in changes:
        accounts.setdefault((row["seller_id"], row["marketplace"]), []).append(row)

    alerts = []
    for (seller, marketplace), rows in sorted(accounts.items()):
        breaches = sorted((r for r in rows if r["change"] == "breach"), key=_order)
        recoveries = sorted((r for r in rows if r["change"] == "recovery"), key=_order)
        lines = [
            f"{seller} on {marketplace}, snapshot {snapshot_date}: "
            f"{len(breaches)} below target, {len(recoveries)} back on target."
        ]
        if "scans" in (stale_feeds or {}).get(seller, []):
            lines.append(
                f"Note: computed on stale scans: no scans file arrived for {snapshot_date}, "
                "so packages scanned since may still count as invalid."
            )
        for r in breaches:
            line = (
                f"{_scope_name(r['scope'], r['scope_value'])}, {r['window_days']} days: "
                f"VTR {percent(r['vtr'])} < target {percent(r['target'])} "
                f"({r['packages_valid']}/{r['packages_total']} valid)"
            )
            reasons = _top_reasons(con, r, has_report, has_invalid)
            lines.append(line + (f"; top reasons: {reasons}" if reasons else ""))
        for r in recoveries:
            lines.append(
                f"recovered: {_scope_name(r['scope'], r['scope_value'])}, {r['window_days']} days: "
                f"VTR {percent(r['vtr'])} >= {percent(r['target'])} ({r['packages_valid']}/{r['packages_total']} valid)"
            )
        lines.append(f"Windows select packages by promised delivery date, ending {max(r['window_end'] for r in rows)}.")
        if breaches:
            lines.append(f"Invalid packages to fix: {invalid_packages_path(settings, snapshot_date)}")
        title = ("VTR below target" if breaches else "VTR back on target") + f": {seller} {marketplace}"
        alerts.append(
            Alert("vtr", seller, marketplace, snapshot_date, title, "\n".join(lines),
                  notify_type="failure" if breaches else "success")
        )
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


def plan_early_warnings(con: duckdb.DuckDBPyConnection, settings: Settings, snapshot_date: dt.date) -> list[Alert]:
    """One early warning per account whose projected VTR (marts.mart_projected_vtr) is below target.
    Returns [] while that mart does not exist."""
    snapshot_date = _as_date(snapshot_date)
    if not _table_exists(con, "marts", "mart_projected_vtr"):
        return []
    rows = _rows(
        con,
        "select * from marts.mart_projected_vtr where snapshot_date = ? and scope in ('overall', 'category')"
        " and status = 'below_target'",
        [snapshot_date],
    )
    accounts: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        accounts.setdefault((row["seller_id"], row["marketplace"]), []).append(row)
    alerts = []
    for (seller, marketplace), found in sorted(accounts.items()):
        lines = [
            f"{seller} on {marketplace}, snapshot {snapshot_date}: projected VTR below target in windows not yet "
            "final. This is a projection, not the marketplace's figure."
        ]
        for r in sorted(found, key=_order):
            lines.append(
                f"{_scope_name(r['scope'], r['scope_value'])}, {r['window_days']} days "
                f"(promised {r['window_start']} to {r['window_end']}): "
                f"projected VTR {percent(r['projected_vtr'])} < target {percent(r['target'])} "
                f"({r['packages_valid_now']}/{r['packages_total']} valid so far)"
            )
        title = f"Early warning: projected VTR below target: {seller} {marketplace}"
        alerts.append(Alert("early_warning", seller, marketplace, snapshot_date, title, "\n".join(lines)))
    return alerts


def run_failed_alert(
    settings: Settings, dag_id: str, run_id: str, task_id: str, error: object, snapshot_date: dt.date | None = None
) -> Alert:
    """An alert for a failure callback: which run and step failed, and the error (secrets are scrubbed when sent)."""
    snapshot_date = _as_date(snapshot_date) if snapshot_date else None
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    text = text if len(text) <= 2000 else text[:2000] + " ..."
    when = f" for {snapshot_date}" if snapshot_date else ""
    body = f"DAG {dag_id}, run {run_id}: step {task_id} failed{when}.\nError: {text}"
    return Alert(
        "run_failed", None, None, snapshot_date, f"VTR run failed: {dag_id} / {task_id}{when}", body,
        notify_type="failure", detail=f"{dag_id}/{run_id}/{task_id}", once=False,
    )


# --- sending ----------------------------------------------------------------------------------------------------

_SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.util.retry", "requests")


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


def ensure_alert_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(ALERT_LOG_DDL)


def _already_delivered(con, alert: Alert, label: str) -> bool:
    row = con.execute(
        "select count(*) from main.alert_log where alert_key = ? and channel = ? and delivered", [alert.key, label]
    ).fetchone()
    return bool(row[0])


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
            title=alert.title,
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


def send(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    alerts: list[Alert],
    *,
    attempts: int = 3,
    backoff_seconds: float = 2.0,
) -> list[Delivery]:
    """Deliver each alert to each channel not yet delivered to, retrying with exponential back-off; log every outcome
    in main.alert_log. Raises AlertDeliveryError after trying everything if any delivery failed.

    A channel that failed all `attempts` for one alert gets a single try for each later alert of the same call, so a
    channel that is down costs one back-off sequence, not one per alert."""
    ensure_alert_log(con)
    if not alerts:
        return []
    chans = channels(settings)
    if not chans:
        log.warning("no alert channels configured: %d alert(s) not sent", len(alerts))
        return []
    secrets = set().union(*(_secret_parts(c.url) for c in chans if c.url))
    deliveries: list[Delivery] = []
    down: set[str] = set()  # channels that failed every attempt in this call: one try each for the other alerts
    with _scrubbed_logs(secrets):
        for alert in alerts:
            for channel in chans:
                if alert.once and _already_delivered(con, alert, channel.label):
                    deliveries.append(Delivery(alert.key, channel.label, "already_sent"))
                    continue
                allowed = 1 if channel.label in down or channel.url is None else max(attempts, 1)
                error, tries = None, 0
                for tries in range(1, allowed + 1):
                    error = _notify_once(channel, alert, secrets)
                    if error is None:
                        break
                    if tries < allowed:
                        time.sleep(backoff_seconds * 2 ** (tries - 1))
                (down.add if error else down.discard)(channel.label)
                con.execute(
                    "insert into main.alert_log values (?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?)",
                    [alert.key, alert.kind, alert.seller_id, alert.marketplace, alert.snapshot_date, channel.label,
                     alert.title, error is None, tries, error],
                )
                status = "sent" if error is None else "failed"
                deliveries.append(Delivery(alert.key, channel.label, status, tries, error))
                log.log(logging.INFO if error is None else logging.WARNING,
                        "alert %s -> %s: %s after %d attempt(s)%s", alert.key, channel.label, status, tries,
                        f": {error}" if error else "")
    failed = [d for d in deliveries if d.status == "failed"]
    if failed:
        detail = "; ".join(f"{d.alert_key} -> {d.channel}: {d.error}" for d in failed)
        raise AlertDeliveryError(f"{len(failed)} alert deliveries failed: {detail}", deliveries)
    return deliveries
