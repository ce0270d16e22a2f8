"""Settings: one TOML file, every key defaulted, validated when loaded (spec section 6)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CARRIERS = (
    "UPS", "USPS", "FEDEX", "DHL", "POSTNORD", "BRING", "DB_SCHENKER",
    "GLS", "DPD", "ROYAL_MAIL", "HERMES", "AMZL",
)


class SettingsError(Exception):
    """A settings file that cannot be used; the message is one line naming the key and the file."""


@dataclass(frozen=True)
class Settings:
    config_file: Path | None
    landing: Path
    warehouse: Path
    output: Path
    sellers: tuple[str, ...] = ()
    target: float = 0.95
    lag_days: int = 14
    windows: tuple[int, ...] = (7, 30)
    scan_grace_days: int = 2
    integrated_carriers: tuple[str, ...] = DEFAULT_CARRIERS
    carrier_aliases: dict[str, str] = field(default_factory=dict)
    alert_urls: tuple[str, ...] = ()
    alert_connection_ids: tuple[str, ...] = ()
    wait_for_files_minutes: int = 360
    max_reject_share: float = 0.05
    at_risk_after_days: int = 2
    memory_limit: str = "1.5GB"
    threads: int = 2
    temp_directory: Path | None = None

    @property
    def max_window(self) -> int:
        return max(self.windows)

    def seller_ids(self) -> list[str]:
        """Sellers named in the settings, else every folder under the landing folder."""
        if self.sellers:
            return list(self.sellers)
        return sorted(p.name for p in self.landing.iterdir() if p.is_dir() and not p.name.startswith("."))


# key -> (type, default); a nested dict is a TOML table.
_SCHEMA: dict = {
    "sellers": (list, []),
    "paths": {
        "landing": (str, "data/landing"),
        "warehouse": (str, "data/warehouse.duckdb"),
        "output": (str, "data/output"),
    },
    "metric": {
        "target": (float, 0.95),
        "lag_days": (int, 14),
        "windows": (list, [7, 30]),
        "scan_grace_days": (int, 2),
        "integrated_carriers": (list, list(DEFAULT_CARRIERS)),
        "at_risk_after_days": (int, 2),
    },
    "carrier_aliases": (dict, {}),
    "alerts": (list, []),
    "schedule": {"wait_for_files_minutes": (int, 360)},
    "quality": {"max_reject_share": (float, 0.05)},
    "duckdb": {
        "memory_limit": (str, "1.5GB"),
        "threads": (int, 2),
        "temp_directory": (str, ""),
    },
}


def _check(values: dict, schema: dict, prefix: str, source: str) -> dict:
    out = {}
    for key in values:
        if key not in schema:
            raise SettingsError(f"{source}: unknown key '{prefix}{key}'")
    for key, spec in schema.items():
        name = f"{prefix}{key}"
        if isinstance(spec, dict):
            sub = values.get(key, {})
            if not isinstance(sub, dict):
                raise SettingsError(f"{source}: '{name}' must be a table")
            out[key] = _check(sub, spec, f"{name}.", source)
            continue
        kind, default = spec
        value = values.get(key, default)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SettingsError(f"{source}: '{name}' must be {kind.__name__}, got {type(value).__name__}")
        out[key] = value
    return out


def load_settings(path: str | os.PathLike | None = None, *, require_landing: bool = True) -> Settings:
    """Read and validate the settings file; relative paths resolve against its folder."""
    source = str(path) if path else "<defaults>"
    raw: dict = {}
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{source}: settings file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{source}: cannot read the settings file ({exc.__class__.__name__})") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{source}: not valid TOML ({exc})") from None
    v = _check(raw, _SCHEMA, "", source)
    base = Path(path).resolve().parent if path else Path.cwd()

    def resolve(p: str) -> Path:
        return (base / p).resolve()

    m = v["metric"]
    if not 0 < m["target"] <= 1:
        raise SettingsError(f"{source}: 'metric.target' must be in (0, 1], got {m['target']}")
    for key in ("lag_days", "scan_grace_days", "at_risk_after_days"):
        if m[key] < 0:
            raise SettingsError(f"{source}: 'metric.{key}' must not be negative")
    if not m["windows"] or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in m["windows"]):
        raise SettingsError(f"{source}: 'metric.windows' must be a non-empty list of positive integers")
    if not all(isinstance(c, str) for c in m["integrated_carriers"]):
        raise SettingsError(f"{source}: 'metric.integrated_carriers' must be a list of strings")
    if not all(isinstance(s, str) and s for s in v["sellers"]):
        raise SettingsError(f"{source}: 'sellers' must be a list of folder names")
    aliases = v["carrier_aliases"]
    if not all(isinstance(a, str) for a in aliases.values()):
        raise SettingsError(f"{source}: 'carrier_aliases' values must be carrier codes (strings)")
    urls, conn_ids = [], []
    for i, alert in enumerate(v["alerts"]):
        if not isinstance(alert, dict) or set(alert) - {"url", "connection_id"} or len(alert) != 1:
            raise SettingsError(f"{source}: 'alerts[{i}]' must hold exactly one of 'url' or 'connection_id'")
        value = next(iter(alert.values()))
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{source}: 'alerts[{i}]' must be a non-empty string")
        (urls if "url" in alert else conn_ids).append(value)
    if not 0 <= v["quality"]["max_reject_share"] <= 1:
        raise SettingsError(f"{source}: 'quality.max_reject_share' must be in [0, 1]")
    if v["duckdb"]["threads"] < 1:
        raise SettingsError(f"{source}: 'duckdb.threads' must be at least 1")

    landing = resolve(v["paths"]["landing"])
    if require_landing and not landing.is_dir():
        raise SettingsError(f"{source}: 'paths.landing' folder does not exist: {landing}")
    for seller in v["sellers"]:
        if require_landing and not (landing / seller).is_dir():
            raise SettingsError(f"{source}: 'sellers' names '{seller}', which has no folder under {landing}")
    temp = v["duckdb"]["temp_directory"]
    return Settings(
        config_file=Path(path).resolve() if path else None,
        landing=landing,
        warehouse=resolve(v["paths"]["warehouse"]),
        output=resolve(v["paths"]["output"]),
        sellers=tuple(v["sellers"]),
        target=m["target"],
        lag_days=m["lag_days"],
        windows=tuple(sorted(set(m["windows"]))),
        scan_grace_days=m["scan_grace_days"],
        integrated_carriers=tuple(c.strip().upper() for c in m["integrated_carriers"]),
        carrier_aliases={k.strip().lower(): val.strip().upper() for k, val in aliases.items()},
        alert_urls=tuple(urls),
        alert_connection_ids=tuple(conn_ids),
        wait_for_files_minutes=v["schedule"]["wait_for_files_minutes"],
        max_reject_share=v["quality"]["max_reject_share"],
        at_risk_after_days=m["at_risk_after_days"],
        memory_limit=v["duckdb"]["memory_limit"],
        threads=v["duckdb"]["threads"],
        temp_directory=resolve(temp) if temp else None,
    )
