"""`generate`: a seeded landing folder for one seller, built table by table in an in-memory DuckDB."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

import duckdb

from vtrdemo.generator.carrier_formats import build_scan_rows
from vtrdemo.generator.confirmations import build_confirmations
from vtrdemo.generator.files import write_files
from vtrdemo.generator.markets import profile_of
from vtrdemo.generator.order_rows import build_order_rows
from vtrdemo.generator.orders import build_orders
from vtrdemo.generator.reference import CATEGORIES, build_reference
from vtrdemo.generator.scans import build_scans
from vtrdemo.generator.stats import GenerationStats, fill_stats


def generate(
    landing: Path,
    *,
    seller_id: str = "nordic-home",
    start: dt.date,
    days: int,
    packages: int,
    seed: int = 7,
    marketplaces: tuple[str, ...] = ("Amazon.se", "Amazon.de"),
    dip_category: str | None = "Garden",
    aggregator_exports: bool = True,
    memory_limit: str = "4GB",
    split_share: float = 0.0,
) -> GenerationStats:
    """Write `days` days of orders, confirmations and scans for about `packages` orders under landing/<seller_id>/.

    Files of an earlier call for the same seller are replaced. `dip_category` (None for no dip) loses about a
    tenth of its packages for ten days of purchases from `days // 2 - 14` on (GenerationStats.dip_start/dip_end),
    so that with the default 14-day lag its 7-day VTR falls below target and recovers within the period.
    `aggregator_exports` adds the EasyPost and AfterShip JSON files (else those carriers' events go to the
    canonical CSV too). `memory_limit` caps DuckDB's memory (the rest spills to a temporary folder; a million
    packages peak at about 4 GB). `split_share` of the orders (about) ship their first item, of 2 to 4 units, in
    two boxes, each confirmed with its quantity and scanned (split shipments; a fifth correct box 2's number).
    Marketplaces ending .se/.dk/.no/.fi get Nordic carriers, .co.uk British (Royal Mail
    needs CARRIER_ALIASES in the settings to count as integrated), .com American, any other German ones.
    """
    if days < 1 or packages < 1:
        raise ValueError("days and packages must be positive")
    names = [c[0] for c in CATEGORIES]
    if dip_category is not None and dip_category not in names:
        raise ValueError(f"dip_category must be one of {names}")
    root = Path(landing) / seller_id
    for feed in ("orders", "confirmations", "scans", "catalog"):
        (root / feed).mkdir(parents=True, exist_ok=True)
        for old in (root / feed).iterdir():
            if old.is_file() and old.name.startswith((feed, "catalog")):
                old.unlink()

    rng = random.Random(f"{seed}:{seller_id}")
    profiles = [profile_of(m) for m in marketplaces]
    end = start + dt.timedelta(days=days - 1)
    # ten days of purchases, early enough that the 7-day VTR (lag 14) shows the dip and the recovery
    dip_lo = max(0, days // 2 - 14)
    dip_hi = dip_lo + 9
    stats = GenerationStats(seller_id, start, end, dip_category=dip_category or "")
    if dip_category is not None and days >= 20:
        stats.dip_start, stats.dip_end = start + dt.timedelta(days=dip_lo), start + dt.timedelta(days=dip_hi)
    else:
        dip_lo, dip_hi = days + 1, days + 1

    spill = tempfile.TemporaryDirectory(prefix="vtr-generator-")
    # a million packages make a few GB of text tables: cap memory, let DuckDB spill the rest to disk
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill.name})
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        con.execute(f"create macro u(k, salt) as ((hash(k, salt, {int(seed)}) >> 11)::double / 9007199254740992.0)")
        build_reference(con, rng, profiles, marketplaces, start, days, seller_id)
        build_orders(con, rng, profiles, packages, days, dip_category, dip_lo, dip_hi, split_share)
        build_confirmations(con, days)
        build_scans(con, profiles, days, aggregator_exports)
        build_order_rows(con, profiles, int(seed), days)
        build_scan_rows(con, int(seed), days)
        fill_stats(con, stats, start)
        stats.files = write_files(con, root, start, days, aggregator_exports)
    finally:
        con.close()
        spill.cleanup()
    return stats
