"""Settings: one TOML file, every key defaulted, validated when loaded (spec section 6)."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CARRIERS = (
    "UPS",
    "USPS",
    "FEDEX",
    "DHL",
    "POSTNORD",
    "BRING",
    "DB_SCHENKER",
    "GLS",
    "DPD",
    "ROYAL_MAIL",
    "HERMES",
    "AMZL",
)
MAX_THREADS = 256  # more threads than any machine has cores hangs DuckDB in thread start-up (100000 did)
MIN_MEMORY_BYTES = 64 * 2**20
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
MAX_SELLER_ID = 128
# what a seller id cannot hold: control characters (C0, C1, Unicode's line separators), bytes that are not UTF-8 (a
# file system name decoded with surrogateescape), slashes, and the comma that separates ids in --sellers
_NOT_IN_SELLER_ID = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff/\\\\,]")


def seller_id_problem(name: str) -> str | None:
    """Why a folder name cannot be a seller id (None: it can). A seller id is the name of its folder under the
    landing folder, never a path: letters of any alphabet, digits, spaces and punctuation."""
    if name.startswith("."):
        return "a name starting with a dot is hidden, not a seller's folder"
    if bad := _NOT_IN_SELLER_ID.search(name):
        if "\udc80" <= bad.group() <= "\udcff":
            return "the name is not UTF-8 text"
        named = {"/": "a slash", "\\": "a backslash", ",": "a comma"}
        return f"the name holds {named.get(bad.group(), 'a control character')}"
    if not name or name != name.strip():
        return "the name is blank or starts or ends with a space"
    if len(name) > MAX_SELLER_ID:
        return f"the name is longer than {MAX_SELLER_ID} characters"
    return None


class SettingsError(Exception):
    """A settings file that cannot be used; the message is one line naming the key and the file."""


@dataclass(frozen=True)
class Exemption:
    """Untracked low-value shipments a marketplace leaves out of VTR (spec section 7): a package is exempt when its
    ship method is one of ship_methods (exactly, after trimming), its carrier one of carriers (when given; without
    regard to case) and its order's value below max_order_value."""

    ship_methods: tuple[str, ...]
    max_order_value: float
    carriers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Profile:
    """One marketplace's rule: `[metric]` with the keys of `[marketplaces."<sales-channel>"]` over it."""

    marketplace: str  # as written in the settings; sales channels match it without regard to case
    target: float
    lag_days: int
    windows: tuple[int, ...]
    scan_grace_days: int
    integrated_carriers: tuple[str, ...]
    at_risk_after_days: int
    exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class Settings:
    config_file: Path | None
    landing: Path
    warehouse: Path
    output: Path
    catalog: str = ""  # a PostgreSQL connection string; empty = the SQLite catalog file at `warehouse`
    data_path: str = ""  # where the lake's Parquet files go; empty = a folder beside the catalog
    retention_days: int = 30
    sellers: tuple[str, ...] = ()
    target: float = 0.95
    lag_days: int = 14
    windows: tuple[int, ...] = (7, 30)
    scan_grace_days: int = 2
    integrated_carriers: tuple[str, ...] = DEFAULT_CARRIERS
    carrier_aliases: dict[str, str] = field(default_factory=dict)
    alert_urls: tuple[str, ...] = ()
    alert_connection_ids: tuple[str, ...] = ()
    min_alert_packages: int = 1
    alert_timeout_seconds: int = 30
    alert_max_attempts: int = 3
    wait_for_files_minutes: int = 360
    task_timeout_minutes: int = 120
    run_timeout_minutes: int = 720
    max_reject_share: float = 0.05
    min_rejected_rows: int = 10
    at_risk_after_days: int = 2
    settle_seconds: int = 60  # a file younger than this (mtime or ctime) is left for the next run
    memory_limit: str = "1.5GB"
    threads: int = 2
    temp_directory: Path | None = None
    profiles: tuple[Profile, ...] = ()  # [marketplaces."<sales-channel>"], each resolved over [metric]

    @property
    def max_window(self) -> int:
        return max(self.windows)

    def profile(self, marketplace: str) -> Profile | None:
        """The marketplace's own profile, matched without regard to case; None when [metric] applies as it is."""
        return next((p for p in self.profiles if p.marketplace.lower() == marketplace.lower()), None)

    def for_marketplace(self, marketplace: str) -> Settings:
        """These settings with the marketplace's profile in place of [metric]: what an account is measured with."""
        p = self.profile(marketplace)
        if p is None:
            return self
        return dataclasses.replace(
            self,
            target=p.target,
            lag_days=p.lag_days,
            windows=p.windows,
            scan_grace_days=p.scan_grace_days,
            integrated_carriers=p.integrated_carriers,
            at_risk_after_days=p.at_risk_after_days,
        )

    @property
    def lake_data_path(self) -> str:
        """The lake's data files: `[warehouse] data_path`, else a folder beside the catalog file."""
        if self.data_path:
            return self.data_path
        return str(self.warehouse.with_name(self.warehouse.stem + "_data")) + "/"

    def seller_ids(self) -> list[str]:
        """Sellers named in the settings, else every folder under the landing folder."""
        if self.sellers:
            return list(self.sellers)
        return sorted(
            p.name
            for p in self.landing.iterdir()
            if p.is_dir() and not p.is_symlink() and not seller_id_problem(p.name)
        )


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take, both ends included (None: no bound; `above`: low itself excluded)."""

    low: float | None = None
    high: float | None = None
    above: bool = False

    def holds(self, value: float) -> bool:
        if self.low is not None and not (value > self.low if self.above else value >= self.low):
            return False
        return self.high is None or value <= self.high  # NaN fails every comparison: refused

    def __str__(self) -> str:
        low = None if self.low is None else f"{'above' if self.above else 'at least'} {self.low:g}"
        if self.low is not None and self.high is not None and not self.above:
            return f"between {self.low:g} and {self.high:g}"
        return " and ".join(t for t in (low, None if self.high is None else f"at most {self.high:g}") if t)


DAY_SECONDS = 86_400
# the defaults are the Settings dataclass's, written once there; the schema takes them from this instance (the paths,
# which Settings leaves to the caller, and the tables that are lists in TOML have theirs here)
DEFAULTS = Settings(None, Path(), Path(), Path())
# key -> (type, default) or (type, default, Range); a nested dict is a TOML table. A range is checked before anything
# runs (for a list, each of its values): adding a bounded key is one line here.
_SCHEMA: dict[str, Any] = {
    "sellers": (list, list(DEFAULTS.sellers)),
    "paths": {
        "landing": (str, "data/landing"),
        "warehouse": (str, "data/warehouse.sqlite"),
        "output": (str, "data/output"),
    },
    "warehouse": {
        "catalog": (str, DEFAULTS.catalog),
        "data_path": (str, DEFAULTS.data_path),
        "retention_days": (int, DEFAULTS.retention_days, Range(1, 3650)),
    },
    "metric": {
        "target": (float, DEFAULTS.target, Range(0, 1, above=True)),
        "lag_days": (int, DEFAULTS.lag_days, Range(0, 365)),
        "windows": (list, list(DEFAULTS.windows), Range(1, 365)),
        "scan_grace_days": (int, DEFAULTS.scan_grace_days, Range(0, 30)),
        "integrated_carriers": (list, list(DEFAULTS.integrated_carriers)),
        "at_risk_after_days": (int, DEFAULTS.at_risk_after_days, Range(0, 365)),
    },
    "ingest": {"settle_seconds": (int, DEFAULTS.settle_seconds, Range(0, DAY_SECONDS))},
    "marketplaces": (dict, {}),
    "carrier_aliases": (dict, dict(DEFAULTS.carrier_aliases)),
    "alerts": (list, []),
    "alert_policy": {
        "min_packages": (int, DEFAULTS.min_alert_packages, Range(0, 10**9)),
        "timeout_seconds": (int, DEFAULTS.alert_timeout_seconds, Range(1, 600)),
        "max_attempts": (int, DEFAULTS.alert_max_attempts, Range(1, 20)),
    },
    "schedule": {
        "wait_for_files_minutes": (int, DEFAULTS.wait_for_files_minutes, Range(0, 7 * 24 * 60)),
        "task_timeout_minutes": (int, DEFAULTS.task_timeout_minutes, Range(1, 7 * 24 * 60)),
        "run_timeout_minutes": (int, DEFAULTS.run_timeout_minutes, Range(1, 7 * 24 * 60)),
    },
    "quality": {
        "max_reject_share": (float, DEFAULTS.max_reject_share, Range(0, 1)),
        "min_rejected_rows": (int, DEFAULTS.min_rejected_rows, Range(0, 10**12)),
    },
    "duckdb": {
        "memory_limit": (str, DEFAULTS.memory_limit),
        "threads": (int, DEFAULTS.threads, Range(1, MAX_THREADS)),
        "temp_directory": (str, ""),  # Settings' None: DuckDB's own choice
    },
}


def _check(values: dict[str, Any], schema: dict[str, Any], prefix: str, source: str) -> dict[str, Any]:
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
        kind, default, *bounds = spec
        value = values.get(key, default)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SettingsError(f"{source}: '{name}' must be {kind.__name__}, got {type(value).__name__}")
        for bound in bounds:
            check_range(name, value, bound, source)
        out[key] = value
    return out


def check_range(name: str, value: object, bound: Range, source: str) -> None:
    """A number (or each number of a list) inside its range, else a SettingsError naming key, value and range."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float) or not bound.holds(item):
            each = "each of " if items is value else ""
            raise SettingsError(f"{source}: {each}'{name}' must be {bound}, got {item!r}")


def memory_bytes(text: str) -> int | None:
    """A DuckDB memory size ('1.5GB', '512 MiB') in bytes; None when it is not one."""
    match = _SIZE.fullmatch(text.strip())
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()]) if match else None


def _alerts(entries: list[Any], source: str) -> tuple[list[str], list[str]]:
    urls: list[str] = []
    conn_ids: list[str] = []
    for i, alert in enumerate(entries):
        if not isinstance(alert, dict) or set(alert) - {"url", "connection_id"} or len(alert) != 1:
            raise SettingsError(f"{source}: 'alerts[{i}]' must hold exactly one of 'url' or 'connection_id'")
        value = next(iter(alert.values()))
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{source}: 'alerts[{i}]' must be a non-empty string")
        (urls if "url" in alert else conn_ids).append(value)
    return urls, conn_ids


def _validate_metric(m: dict[str, Any], prefix: str, source: str) -> None:
    """What a range cannot say of the [metric] keys; a marketplace profile's (prefix `marketplaces."X".`) too."""
    if not m["windows"] or not all(isinstance(w, int) and not isinstance(w, bool) for w in m["windows"]):
        raise SettingsError(f"{source}: '{prefix}windows' must be a non-empty list of whole numbers of days")
    if not all(isinstance(c, str) for c in m["integrated_carriers"]):
        raise SettingsError(f"{source}: '{prefix}integrated_carriers' must be a list of strings")


def _strings(value: object, name: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(x, str) and x.strip() for x in value):
        raise SettingsError(f"{source}: '{name}' must be a non-empty list of non-blank strings")
    return tuple(x.strip() for x in value)


MAX_ORDER_VALUE = Range(0, above=True)  # an exemption's bound: any amount above 0, in the order's currency


def _exemptions(entries: object, prefix: str, source: str) -> tuple[Exemption, ...]:
    """`[[marketplaces."X".exemptions]]`: ship_methods and max_order_value (> 0) required, carriers optional."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SettingsError(f"{source}: '{prefix}' must be an array of tables ([[{prefix}]])")
    out = []
    for i, entry in enumerate(entries):
        name = f"{prefix}[{i}]"
        unknown = sorted(set(entry) - {"ship_methods", "max_order_value", "carriers"})
        if unknown:
            raise SettingsError(f"{source}: unknown key '{name}.{unknown[0]}'")
        if "ship_methods" not in entry or "max_order_value" not in entry:
            raise SettingsError(f"{source}: '{name}' needs ship_methods and max_order_value")
        bound = entry["max_order_value"]
        check_range(f"{name}.max_order_value", bound, MAX_ORDER_VALUE, source)
        carriers = entry.get("carriers")
        out.append(
            Exemption(
                _strings(entry["ship_methods"], f"{name}.ship_methods", source),
                float(bound),
                None if carriers is None else tuple(c.upper() for c in _strings(carriers, f"{name}.carriers", source)),
            )
        )
    return tuple(out)


def _profiles(marketplaces: dict[str, Any], metric: dict[str, Any], source: str) -> tuple[Profile, ...]:
    """`[marketplaces."<sales-channel>"]`: any [metric] key over [metric], plus exemptions; any other key is an
    error naming it."""
    profiles = []
    for marketplace, table in marketplaces.items():
        prefix = f'marketplaces."{marketplace}".'
        if not isinstance(table, dict):
            raise SettingsError(f"{source}: '{prefix[:-1]}' must be a table")
        overrides = {k: v for k, v in table.items() if k != "exemptions"}
        m = _check({**metric, **overrides}, _SCHEMA["metric"], prefix, source)
        _validate_metric(m, prefix, source)
        profiles.append(
            Profile(
                marketplace,
                m["target"],
                m["lag_days"],
                tuple(sorted(set(m["windows"]))),
                m["scan_grace_days"],
                tuple(c.strip().upper() for c in m["integrated_carriers"]),
                m["at_risk_after_days"],
                _exemptions(table.get("exemptions", []), f"{prefix}exemptions", source),
            )
        )
    names = [p.marketplace.lower() for p in profiles]
    if len(set(names)) < len(names):
        raise SettingsError(f"{source}: 'marketplaces' names one marketplace twice (names match without case)")
    return tuple(profiles)


def _validate(v: dict[str, Any], source: str) -> None:
    _validate_metric(v["metric"], "metric.", source)
    for seller in v["sellers"]:
        problem = seller_id_problem(seller) if isinstance(seller, str) else "not a string"
        if problem:
            raise SettingsError(
                f"{source}: 'sellers' must name folders under the landing folder, got {seller!r}: {problem}"
            )
    if not all(isinstance(a, str) for a in v["carrier_aliases"].values()):
        raise SettingsError(f"{source}: 'carrier_aliases' values must be carrier codes (strings)")
    d = v["duckdb"]
    size = memory_bytes(d["memory_limit"])
    if size is None or size < MIN_MEMORY_BYTES:
        raise SettingsError(
            f"{source}: 'duckdb.memory_limit' must be a size of at least 64MB such as '1.5GB' or"
            f" '512MiB', got {d['memory_limit']!r}"
        )


def load_settings(path: str | os.PathLike[str] | None = None, *, require_landing: bool = True) -> Settings:
    """Read and validate the settings file; relative paths resolve against its folder."""
    source = str(path) if path else "<defaults>"
    raw: dict[str, Any] = {}
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
    _validate(v, source)
    base = Path(path).resolve().parent if path else Path.cwd()

    def resolve(p: str) -> Path:
        return (base / p).resolve()

    m, w = v["metric"], v["warehouse"]
    landing = resolve(v["paths"]["landing"])
    if require_landing and not landing.is_dir():
        raise SettingsError(f"{source}: 'paths.landing' folder does not exist: {landing}")
    for seller in v["sellers"]:
        if require_landing and not (landing / seller).is_dir():
            raise SettingsError(f"{source}: 'sellers' names '{seller}', which has no folder under {landing}")
        try:
            inside = (landing / seller).resolve().is_relative_to(landing)
        except (OSError, RuntimeError):  # a loop of symbolic links
            inside = False
        if not inside:  # a link: only files inside the landing folder are read (spec section 5)
            raise SettingsError(f"{source}: 'sellers' names '{seller}', whose folder leads outside {landing}: refused")
    data_path = w["data_path"]
    if data_path and "://" not in data_path:  # a folder: relative to the settings file, like every path
        data_path = str(resolve(data_path)) + "/"
    urls, conn_ids = _alerts(v["alerts"], source)
    temp = v["duckdb"]["temp_directory"]
    return Settings(
        config_file=Path(path).resolve() if path else None,
        landing=landing,
        warehouse=resolve(v["paths"]["warehouse"]),
        output=resolve(v["paths"]["output"]),
        catalog=w["catalog"],
        data_path=data_path,
        retention_days=w["retention_days"],
        sellers=tuple(v["sellers"]),
        target=m["target"],
        lag_days=m["lag_days"],
        windows=tuple(sorted(set(m["windows"]))),
        scan_grace_days=m["scan_grace_days"],
        integrated_carriers=tuple(c.strip().upper() for c in m["integrated_carriers"]),
        carrier_aliases={k.strip().lower(): val.strip().upper() for k, val in v["carrier_aliases"].items()},
        alert_urls=tuple(urls),
        alert_connection_ids=tuple(conn_ids),
        min_alert_packages=v["alert_policy"]["min_packages"],
        alert_timeout_seconds=v["alert_policy"]["timeout_seconds"],
        alert_max_attempts=v["alert_policy"]["max_attempts"],
        wait_for_files_minutes=v["schedule"]["wait_for_files_minutes"],
        task_timeout_minutes=v["schedule"]["task_timeout_minutes"],
        run_timeout_minutes=v["schedule"]["run_timeout_minutes"],
        max_reject_share=v["quality"]["max_reject_share"],
        min_rejected_rows=v["quality"]["min_rejected_rows"],
        at_risk_after_days=m["at_risk_after_days"],
        settle_seconds=v["ingest"]["settle_seconds"],
        memory_limit=v["duckdb"]["memory_limit"],
        threads=v["duckdb"]["threads"],
        temp_directory=resolve(temp) if temp else None,
        profiles=_profiles(v["marketplaces"], v["metric"], source),
    )


def schedule_minutes(path: str | None) -> tuple[int, int]:
    """(task timeout, run timeout) in minutes for the DAG file, which reads them when parsed: the defaults when no
    settings file is named or it cannot be read (the run's first task then reports the settings error)."""
    try:
        settings = load_settings(path, require_landing=False) if path else None
    except SettingsError:
        settings = None
    chosen = settings or DEFAULTS
    return chosen.task_timeout_minutes, chosen.run_timeout_minutes
