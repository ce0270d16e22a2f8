"""The small tables every later step joins: days (weights, offsets), marketplaces, carrier mixes, categories, skus."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pipeline.settings import DEFAULT_CARRIERS
from vtrdemo.generator.carriers import CARRIERS
from vtrdemo.generator.rates import RATE_OTHER
from vtrdemo.generator.sql import insert

# Category, share of order items, sku code, product nouns (sizes of the catalog stay small and believable).
CATEGORIES = (
    ("Kitchen", 0.16, "KIT", ("Chef's Knife", "Cutting Board", "Cast Iron Pan", "Spice Rack", "Coffee Grinder")),
    ("Home Decor", 0.14, "DEC", ("Wall Mirror", "Vase", "Picture Frame", "Candle Holder", "Wall Clock")),
    ("Textiles", 0.12, "TEX", ("Linen Duvet Cover", "Wool Throw", "Cushion Cover", "Bath Towel Set", "Table Runner")),
    ("Garden", 0.10, "GAR", ("Hose Reel", "Planter Box", "Pruning Shears", "Solar Lantern", "Bird Feeder")),
    ("Storage", 0.10, "STO", ("Storage Basket", "Shoe Rack", "Drawer Organiser", "Wall Shelf", "Laundry Bin")),
    ("Lighting", 0.09, "LIG", ("Table Lamp", "Pendant Light", "LED Strip", "Floor Lamp", "Reading Light")),
    ("Bathroom", 0.08, "BAT", ("Shower Caddy", "Soap Dispenser", "Bath Mat", "Towel Rail", "Toothbrush Holder")),
    ("Pets", 0.08, "PET", ("Dog Bed", "Cat Scratcher", "Pet Bowl Set", "Dog Leash", "Cat Tunnel")),
    ("Tools", 0.07, "TOO", ("Cordless Screwdriver", "Tool Box", "Spirit Level", "Tape Measure", "Stud Finder")),
    ("Furniture", 0.06, "FUR", ("Bar Stool", "Side Table", "Bookcase", "Bench", "Folding Chair")),
)
ADJECTIVES = (
    "Nordic",
    "Classic",
    "Oak",
    "Matte Black",
    "Linen",
    "Compact",
    "Large",
    "Birch",
    "Stone Grey",
    "Brass",
    "Walnut",
    "Sage Green",
)


def _seller_prefix(seller_id: str) -> str:
    parts = [p for p in seller_id.replace("_", "-").split("-") if p]
    return "".join(p[0] for p in parts).upper()[:3] or "SKU"


def _offsets(tz: str, start: dt.date, days: int) -> list[int]:
    zone = ZoneInfo(tz)
    return [
        int(dt.datetime.combine(start + dt.timedelta(days=d), dt.time(12), zone).utcoffset().total_seconds() // 60)
        for d in range(days)
    ]


def build_reference(con, rng, profiles, marketplaces, start, days, seller_id) -> None:
    """Small tables: days (weights, offsets), marketplaces, carrier mixes, categories and skus."""
    weekday = (1.10, 1.05, 1.00, 1.00, 0.95, 0.80, 1.00)  # Monday first; Sunday evening shopping
    weights = [weekday[(start + dt.timedelta(days=d)).weekday()] * (1 + 0.15 * d / max(days, 1)) for d in range(days)]
    total, cum = sum(weights), 0.0
    rows = []
    for d, w in enumerate(weights):
        rows.append((d, start + dt.timedelta(days=d), cum / total))
        cum += w
    con.execute("create table days (d integer, day date, cum_lo double)")
    insert(con, "days", rows)
    offsets = []
    for m, profile in enumerate(profiles):
        offs = _offsets(profile.tz, start, days)
        offsets.extend((m, d, offs[d]) for d in range(days))
    con.execute("create table offsets (m integer, d integer, off_min integer)")
    insert(con, "offsets", offsets)

    share = [0.55, 0.45] if len(marketplaces) == 2 else [1 / len(marketplaces)] * len(marketplaces)
    con.execute(
        "create table markets (m integer, marketplace varchar, cum_lo double, currency varchar, "
        "country varchar, price_scale double)"
    )
    cum = 0.0
    for m, (name, p) in enumerate(zip(marketplaces, profiles, strict=True)):
        insert(con, "markets", [(m, name, cum, p.currency, p.country, p.price_scale)])
        cum += share[m]

    con.execute(
        "create table carriers (key varchar, code varchar, name varchar, shape varchar, channel varchar, "
        "label varchar, methods varchar[], integrated boolean)"
    )
    for c in CARRIERS.values():
        canonical = (c.name if c.code == "Other" else c.code).upper().replace(" ", "_")
        insert(
            con,
            "carriers",
            [(c.key, c.code, c.name, c.shape, c.channel, c.label, list(c.methods), canonical in DEFAULT_CARRIERS)],
        )
    con.execute("create table mix (m integer, cum_lo double, carrier varchar)")
    for m, p in enumerate(profiles):
        cum = RATE_OTHER
        insert(con, "mix", [(m, 0.0, p.other)])
        scale = (1 - RATE_OTHER) / sum(w for _, w in p.carriers)
        for key, w in p.carriers:
            insert(con, "mix", [(m, cum, key)])
            cum += w * scale
    con.execute("create table other_carrier (m integer, carrier varchar)")
    insert(con, "other_carrier", [(m, p.other) for m, p in enumerate(profiles)])
    _build_catalog(con, rng, seller_id)


def _build_catalog(con, rng, seller_id) -> None:
    """Categories with their share of items, and their skus (a few newly listed ones not in the catalog yet)."""
    prefix = _seller_prefix(seller_id)
    con.execute(
        "create table categories (c integer, category varchar, cum_lo double, n_skus integer, has_extra boolean)"
    )
    con.execute(
        "create table skus (c integer, i integer, sku varchar, product_name varchar, base_price double, "
        "in_catalog boolean)"
    )
    cum = 0.0
    total_share = sum(s for _, s, _, _ in CATEGORIES)
    for c, (name, s, code, nouns) in enumerate(CATEGORIES):
        n = rng.randrange(25, 46)
        has_extra = c % 3 == 1  # a few newly listed skus the catalog does not have yet
        insert(con, "categories", [(c, name, cum, n, has_extra)])
        cum += s / total_share
        rows = []
        for i in range(n + (1 if has_extra else 0)):
            noun = nouns[i % len(nouns)]
            adjective = ADJECTIVES[(i * 7 + c) % len(ADJECTIVES)]
            size = ("", " 2-pack", " XL", " 40 cm", " 60 cm")[i // len(nouns) % 5]
            price = round(rng.uniform(8, 150), 2)
            rows.append((c, i, f"{prefix}-{code}-{1000 + i * 7 + c}", f"{adjective} {noun}{size}", price, i < n))
        insert(con, "skus", rows)
