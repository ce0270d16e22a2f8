"""Alerts: plan VTR, early-warning, stale-feed, data-quality and run-failed notifications and send them through
Apprise (spec sections 4 and 5).

channels: the notification URLs and their safe labels; marts: what the alerts read from the lake; planning: the
`Alert` values and their text; delivery: one send with a deadline; ledger: the alert log (in the lake, or a file
while the lake is unavailable); sending: every alert to every channel, bounded in time and repeats. Callers use
this package's names: `from pipeline import alerts; alerts.send(con, settings, alerts.plan_vtr_alerts(...))`.
"""

from pipeline.alerts.channels import Channel, channels, redact, url_label
from pipeline.alerts.planning import (
    Alert,
    plan_early_warnings,
    plan_quality_warnings,
    plan_stale_feed_alerts,
    plan_vtr_alerts,
    run_failed_alert,
)
from pipeline.alerts.sending import Deliveries, Delivery, DeliveryStatus, send

__all__ = [
    "Alert",
    "Channel",
    "Deliveries",
    "Delivery",
    "DeliveryStatus",
    "channels",
    "plan_early_warnings",
    "plan_quality_warnings",
    "plan_stale_feed_alerts",
    "plan_vtr_alerts",
    "redact",
    "run_failed_alert",
    "send",
    "url_label",
]
