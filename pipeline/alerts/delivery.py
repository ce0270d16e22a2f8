"""One send of one notification to one channel, with a total deadline: connect, send and the whole answer.

Apprise's own timeouts are per socket operation (a webhook that trickles one byte every 3 s never trips its 4 s read
timeout) and its own call deadline leaves the sending thread running, which then keeps the process from exiting. So
each send runs in a forked child (pipeline.watchdog) that is killed at `[alert_policy] timeout_seconds`: nothing of
it outlives the deadline. The child says when the first bytes went out to the channel, which tells a send that never
reached the channel (nothing to repeat) from one whose outcome is unknown (the receiver may have it).

Every notification carries its stable id (its alert key: kind, account, date): the last line of its body, and the
header `X-VTR-Notification-Id` where the channel takes headers (webhooks, e-mail), so a receiver can drop a repeat.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline import watchdog
from pipeline.alerts.channels import Channel, redact
from pipeline.alerts.planning import Alert

ID_HEADER = "X-VTR-Notification-Id"
_SENT = "sent"


@dataclass(frozen=True)
class Try:
    reached: bool  # bytes of the notification went out to the channel
    error: str | None  # None: the channel confirmed it
    timed_out: bool = False  # no complete answer within the deadline: killed


def prepare(urls: list[str]) -> None:
    """Load Apprise and the plugins of these URLs here, once (0.7 s the first time): every forked send starts with
    them instead of paying for them inside its deadline."""
    import apprise

    apprise.Apprise().add(urls)


def body_with_id(alert: Alert) -> str:
    return f"{alert.body}\n\nNotification id: {alert.key}"


def notify(channel: Channel, alert: Alert, secrets: set[str], timeout: float) -> Try:
    """Send once, in a child killed after `timeout` seconds; the error is scrubbed of the URL's secrets."""
    assert channel.url is not None, "an unresolved channel is never sent to (sending._deliver)"
    reached: list[object] = []
    title, body = redact(alert.title, secrets), redact(body_with_id(alert), secrets)
    try:
        error = watchdog.call(
            _notify,
            channel.url,
            title,
            body,
            alert.notify_type,
            alert.key,
            timeout,
            seconds=timeout,
            name="vtr alert",
            what=f"alert {alert.key} -> {channel.label}",
            on_mark=reached.append,
        )
    except watchdog.DeadlineExceeded:
        answer = "no complete answer" if reached else "could not reach the channel"
        return Try(bool(reached), f"{answer} within {timeout:g} s (stopped)", timed_out=True)
    except Exception as exc:  # noqa: BLE001 - a broken channel is a failed send, reported with the rest
        return Try(bool(reached), redact(f"{type(exc).__name__}: {exc}", secrets).splitlines()[0])
    return Try(bool(reached), None if error is None else redact(error, secrets))


def _watch_sockets() -> None:
    """In the child: tell the parent once when the first bytes go out on any socket (plain or TLS)."""
    told: list[bool] = []

    def watching(original: Callable[..., Any]) -> Callable[..., Any]:
        def send(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if not told:
                told.append(True)
                watchdog.mark(_SENT)
            return original(self, *args, **kwargs)

        return send

    for cls in (socket.socket, ssl.SSLSocket):
        for name in ("send", "sendall"):
            setattr(cls, name, watching(getattr(cls, name)))


def _notify(url: str, title: str, body: str, notify_type: str, key: str, timeout: float) -> str | None:
    """In the child: one Apprise notification; None when the channel accepted it, else its reason."""
    import apprise

    _watch_sockets()
    obj = apprise.Apprise()
    if not obj.add(url):
        return "not a notification URL Apprise understands"
    for service in obj:
        # Apprise's own per-operation timeouts longer than the deadline: only the deadline ends a send
        service.socket_connect_timeout = service.socket_read_timeout = timeout + 1.0
        headers = getattr(service, "headers", None)
        if isinstance(headers, dict):
            headers[ID_HEADER] = key
    result = obj.notify(
        title=title,
        body=body,
        notify_type=apprise.NotifyType(notify_type),
        body_format=apprise.NotifyFormat.TEXT,
    )
    if result:
        return None
    # the result holds the service's log lines (e.g. "Failed to send ...: error=500")
    messages = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
    return messages[-1] if messages else "the service did not accept the notification"
