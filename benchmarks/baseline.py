"""Run benchmarks/baseline.sql for one snapshot date: the hand-written DuckDB script the benchmark compares
`vtr run` against. Parameters become DuckDB variables (SET VARIABLE); the script writes one Parquet file.

    python benchmarks/baseline.py --landing DIR --date YYYY-MM-DD --out FILE.parquet [--memory-limit 1.5GB --threads 2]

It reads the metric settings from --config (the same settings file `vtr run` gets) when given, else the
spec's defaults; paths.landing of that file is used unless --landing is given. It uses nothing of pipeline/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import tomllib
from pathlib import Path

import duckdb

SQL = Path(__file__).resolve().parent / "baseline.sql"
# the spec's default list (section 6); the benchmark's settings files do not override it
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


def _read_settings(path: Path) -> dict:
    """The settings file's tables, read as the product documents them (relative paths against its folder);
    read here with tomllib rather than through the product's own code, which the baseline must not use."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    landing = raw.get("paths", {}).get("landing", "data/landing")
    raw["landing"] = (path.resolve().parent / landing).resolve()
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="settings file (TOML): metric, aliases, duckdb and paths.landing")
    parser.add_argument("--landing", help="landing folder (overrides the settings file's)")
    parser.add_argument("--date", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--out", required=True, help="Parquet file to write")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit (default: the settings file's, else 1.5GB)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: the settings file's, else 2)")
    args = parser.parse_args(argv)

    cfg = _read_settings(Path(args.config)) if args.config else {}
    metric, duck = cfg.get("metric", {}), cfg.get("duckdb", {})
    landing = Path(args.landing) if args.landing else cfg.get("landing")
    if landing is None:
        parser.error("--landing or --config is required")
    target = float(metric.get("target", 0.95))
    lag = int(metric.get("lag_days", 14))
    windows = sorted(set(metric.get("windows", [7, 30])))
    grace = int(metric.get("scan_grace_days", 2))
    carriers = [c.strip().upper() for c in metric.get("integrated_carriers", DEFAULT_CARRIERS)]
    aliases = {k.strip().lower(): v.strip().upper() for k, v in cfg.get("carrier_aliases", {}).items()}
    memory_limit = args.memory_limit or duck.get("memory_limit", "1.5GB")
    threads = args.threads or duck.get("threads", 2)

    spill = tempfile.TemporaryDirectory(prefix="vtr-baseline-")
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads, "temp_directory": spill.name})
    try:
        con.execute("set enable_progress_bar = false")
        variables = {
            "landing": (str(landing.resolve()), "varchar"),
            "snapshot_date": (args.date, "date"),
            "target": (target, "double"),
            "lag_days": (lag, "integer"),
            "windows": (windows, "integer[]"),
            "scan_grace_days": (grace, "integer"),
            "integrated_carriers": (carriers, "varchar[]"),
            "out_path": (str(Path(args.out).resolve()), "varchar"),
        }
        for name, (value, kind) in variables.items():
            con.execute(f"set variable {name} = ?::{kind}", [value])
        con.execute(
            "set variable carrier_aliases = map(?::varchar[], ?::varchar[])", [list(aliases), list(aliases.values())]
        )
        con.execute(SQL.read_text(encoding="utf-8"))
    finally:
        con.close()
        spill.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
