"""Notification channels: the Apprise URLs of the settings and of Airflow connections, and their safe labels.

A URL usually carries a secret (a webhook token, a password). Only its label (service and host) is ever printed,
logged or stored; `secret_parts` lists the pieces of a URL that `redact` removes from any text that could quote it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from pipeline.settings import Settings

_HOSTNAME = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Channel:
    label: str  # service and host only: safe to print, log and store
    url: str | None = field(default=None, repr=False)  # the secret; None when it could not be resolved
    error: str | None = None  # why the URL could not be resolved (an Airflow connection that is missing)


def _split_url(url: str) -> tuple[str, str, str, str | None, list[str]]:
    """(scheme, userinfo, host, port, other parts: path segments, query values, fragment) without trusting urllib."""
    scheme, _, rest = url.partition("://")
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    tail = rest[len(netloc) :]
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


def secret_parts(url: str) -> set[str]:
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
    # apprise declares no types for parse_urls: a list of URL strings
    return [url for entry in entries for url in parse_urls(entry["path"])]  # type: ignore[no-untyped-call]


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
