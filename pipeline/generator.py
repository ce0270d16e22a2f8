"""Sample data: a seeded, realistic landing folder for one seller (used by `vtr demo`, the tests and benchmarks).

`generate()` writes, under landing/<seller_id>/, one file per day per feed, named by date so that name order
is time order:

    orders/orders_YYYY-MM-DD.txt                  the marketplace's order report (TSV, with buyer PII columns)
    confirmations/confirmations_YYYY-MM-DD.txt    the shipping-confirmation upload file (TSV)
    scans/scans_YYYY-MM-DD.csv                    canonical carrier events (the seller's own carrier integrations)
    scans/scans_YYYY-MM-DD_easypost.jsonl         EasyPost Tracker export (UPS, FedEx, USPS), full history daily
    scans/scans_YYYY-MM-DD_aftership.jsonl.gz     AfterShip tracking export (DPD, GLS, Hermes), full history daily
    catalog/catalog.csv                           sku,category

All rows are built set-based in an in-memory DuckDB; randomness is `hash(key, salt, seed)`, so the same
arguments give the same bytes and no Python loop touches a row (only days). Failure modes are injected at
realistic rates and counted in the returned `GenerationStats`; the buyer data is invented.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from pipeline.settings import DEFAULT_CARRIERS

# Aliases a settings file needs for every carrier this generator writes to count as integrated
# (Amazon's carrier code for Royal Mail is "Royal Mail"; the integrated list spells it ROYAL_MAIL).
CARRIER_ALIASES = {"royal mail": "ROYAL_MAIL"}

REASONS = ("missing_tracking", "carrier_not_integrated", "no_carrier_events", "pre_transit_only",
           "scan_before_ship_date")

# Rates per package (baseline). Modes are exclusive; see _MODE_SQL.
RATE_MISSING = 0.004        # confirmed without a tracking number
RATE_TYPO = 0.004           # a wrong digit in the confirmed number: its scans never match
RATE_PRE_TRANSIT = 0.006    # label printed, parcel never handed over (only "information received")
RATE_RECYCLED = 0.002       # the number's only scans are from a parcel months ago
RATE_FIXED = 0.008          # first confirmation wrong (typo or blank), a later file gives the right number
RATE_KEEP = 0.005           # a later confirmation row with a blank tracking number (keeps it)
RATE_REMOVE = 0.001         # a later confirmation row with the literal NULL (removes it)
RATE_LATE = 0.03            # first physical scan 2-8 days after the ship date
RATE_HELD = 0.005           # confirmation uploaded the day before its order line shows up in the report
RATE_CONTINUATION = 0.003   # order items followed by a continuation line
RATE_DUPLICATE = 0.03       # canonical scan events sent again in the next day's file
RATE_FAILED_ATTEMPT = 0.01  # a failed delivery attempt before delivery
DIP_OTHER_CARRIER = 0.08    # in the dip: the category's bulky parcels go with a carrier outside the list
DIP_PRE_TRANSIT = 0.03      # in the dip: labels printed, parcels left behind


@dataclass(frozen=True)
class Carrier:
    key: str
    code: str              # carrier-code as the seller writes it
    name: str | None       # carrier-name (written only when code is Other)
    shape: str             # tracking number shape, see _tracking_sql
    channel: str           # csv | easypost | aftership: how its events reach the landing folder
    label: str             # the carrier as named in scan files (EasyPost carrier / AfterShip slug / canonical)
    methods: tuple[str, ...]


CARRIERS = {c.key: c for c in (
    Carrier("postnord", "PostNord", None, "s10:UA:SE", "csv", "PostNord",
            ("PostNord MyPack Collect", "PostNord MyPack Home", "PostNord Varubrev")),
    Carrier("bring", "Bring", None, "s10:CP:NO", "csv", "Bring", ("Bring PickUp Parcel", "Bring Home Delivery")),
    Carrier("dhl", "DHL", None, "dhl10", "csv", "DHL", ("DHL Paket", "DHL Service Point", "DHL Parcel Connect")),
    Carrier("ups", "UPS", None, "ups", "easypost", "UPS", ("UPS Standard", "UPS Express Saver")),
    Carrier("fedex", "FedEx", None, "fedex12", "easypost", "FedEx", ("FedEx International Economy",)),
    Carrier("usps", "USPS", None, "usps22", "easypost", "USPS", ("USPS Ground Advantage", "USPS Priority Mail")),
    Carrier("dpd", "DPD", None, "dpd14", "aftership", "dpd-de", ("DPD Classic", "DPD Predict")),
    Carrier("gls", "GLS", None, "gls12", "aftership", "gls", ("GLS BusinessParcel", "GLS ShopDeliveryService")),
    Carrier("hermes", "Hermes", None, "hermes20", "aftership", "hermes-de", ("Hermes Paket",)),
    Carrier("amzl", "AMZL", None, "tba", "csv", "AMZL", ("Amazon Shipping Standard",)),
    Carrier("royalmail", "Royal Mail", None, "s10:TT:GB", "csv", "Royal Mail",
            ("Royal Mail Tracked 48", "Royal Mail Tracked 24")),
    # outside the integrated list: carrier-code Other with a free-text name
    Carrier("budbee", "Other", "Budbee", "alnum:BB", "csv", "Budbee", ("Budbee Home", "Budbee Box")),
    Carrier("goexpress", "Other", "GO! Express", "alnum:GO", "csv", "GO!", ("GO! Overnight",)),
    Carrier("yodel", "Other", "Yodel", "alnum:JJD", "csv", "Yodel", ("Yodel Xpect 48",)),
    Carrier("ontrac", "Other", "OnTrac", "alnum:D10", "csv", "OnTrac", ("OnTrac Ground",)),
)}


@dataclass(frozen=True)
class Profile:
    tz: str
    country: str
    currency: str
    price_scale: float        # sku base price (about 10-150) times this
    carriers: tuple[tuple[str, float], ...]  # integrated mix; the profile's `other` gets RATE_OTHER
    other: str
    phone: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]   # (city, postal code prefix)
    postal: str               # se: 'ddd dd', 5: five digits, uk, us


RATE_OTHER = 0.005  # the marketplace's carrier outside the integrated list
_SE_FIRST = ("Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Mikael", "Emma", "Per",
             "Elin", "Nils", "Ingrid", "Oskar", "Linnea", "Gustav", "Frida", "Henrik")
_SE_LAST = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
            "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist", "Berg", "Holm",
            "Sjöberg", "Ekström", "Åberg", "Lundgren")
_DE_FIRST = ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Hannah", "Maximilian", "Sophie", "Paul", "Laura", "Leon",
             "Marie", "Jürgen", "Sabine", "Thomas", "Katrin", "Stefan", "Julia", "Michael", "Birgit")
_DE_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
            "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
            "Schwarz", "Zimmermann")
_EN_FIRST = ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "James", "Emily", "William",
             "Olivia", "Thomas", "Grace", "Charlie", "Sophia", "Daniel", "Lily", "Samuel", "Ella")
_EN_LAST = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
            "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke")
PROFILES = {
    "se": Profile("Europe/Stockholm", "SE", "SEK", 10.0,
                  (("postnord", 0.50), ("dhl", 0.18), ("bring", 0.12), ("ups", 0.08), ("amzl", 0.06),
                   ("dpd", 0.03), ("gls", 0.02), ("fedex", 0.01)), "budbee", "+46 7",
                  _SE_FIRST, _SE_LAST,
                  ("Storgatan", "Drottninggatan", "Kungsgatan", "Vasagatan", "Sveavägen", "Hantverkargatan",
                   "Östra Långgatan", "Skolgatan", "Björkvägen", "Ringvägen", "Tallvägen", "Parkgatan"),
                  (("Stockholm", "11"), ("Göteborg", "41"), ("Malmö", "21"), ("Uppsala", "75"), ("Västerås", "72"),
                   ("Örebro", "70"), ("Linköping", "58"), ("Jönköping", "55"), ("Umeå", "90"), ("Lund", "22")),
                  "se"),
    "de": Profile("Europe/Berlin", "DE", "EUR", 1.0,
                  (("dhl", 0.48), ("dpd", 0.15), ("hermes", 0.12), ("gls", 0.09), ("ups", 0.08), ("amzl", 0.06),
                   ("fedex", 0.01), ("postnord", 0.01)), "goexpress", "+49 15",
                  _DE_FIRST, _DE_LAST,
                  ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee", "Goethestraße",
                   "Bergstraße", "Kirchweg", "Am Markt", "Rosenstraße", "Birkenweg", "Dorfstraße"),
                  (("Berlin", "10"), ("Hamburg", "20"), ("München", "80"), ("Köln", "50"), ("Frankfurt am Main", "60"),
                   ("Stuttgart", "70"), ("Düsseldorf", "40"), ("Leipzig", "04"), ("Dortmund", "44"), ("Bremen", "28")),
                  "5"),
    "uk": Profile("Europe/London", "GB", "GBP", 0.9,
                  (("royalmail", 0.45), ("dpd", 0.20), ("hermes", 0.12), ("ups", 0.10), ("amzl", 0.10),
                   ("dhl", 0.02), ("fedex", 0.01)), "yodel", "+44 7",
                  _EN_FIRST, _EN_LAST,
                  ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane",
                   "Queens Road", "Green Lane", "Manor Road", "King Street", "The Crescent", "New Road"),
                  (("London", "SW1"), ("Manchester", "M1"), ("Birmingham", "B1"), ("Leeds", "LS1"), ("Bristol", "BS1"),
                   ("Glasgow", "G1"), ("Liverpool", "L1"), ("Sheffield", "S1"), ("Cardiff", "CF1"),
                   ("Leicester", "LE1")),
                  "uk"),
    "us": Profile("America/New_York", "US", "USD", 1.1,
                  (("usps", 0.45), ("ups", 0.25), ("fedex", 0.15), ("amzl", 0.15)), "ontrac", "+1 ",
                  _EN_FIRST, _EN_LAST,
                  ("Main St", "Oak St", "Maple Ave", "Cedar Ln", "Elm St", "Pine St", "Washington Ave",
                   "Lake Dr", "Hill Rd", "Park Pl", "2nd St", "Sunset Blvd"),
                  (("New York", "100"), ("Boston", "021"), ("Philadelphia", "191"), ("Chicago", "606"),
                   ("Atlanta", "303"), ("Miami", "331"), ("Seattle", "981"), ("Denver", "802"), ("Austin", "787"),
                   ("Portland", "972")),
                  "us"),
}


def _profile_of(marketplace: str) -> Profile:
    host = marketplace.lower()
    if host.endswith((".se", ".dk", ".no", ".fi")):
        return PROFILES["se"]
    if host.endswith(".co.uk"):
        return PROFILES["uk"]
    if host.endswith(".com"):
        return PROFILES["us"]
    return PROFILES["de"]


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
ADJECTIVES = ("Nordic", "Classic", "Oak", "Matte Black", "Linen", "Compact", "Large", "Birch", "Stone Grey",
              "Brass", "Walnut", "Sage Green")

ORDER_HEADER = (
    "order-id", "order-item-id", "purchase-date", "payments-date", "buyer-email", "buyer-name", "buyer-phone-number",
    "sku", "product-name", "quantity-purchased", "currency", "item-price", "item-tax", "shipping-price",
    "shipping-tax", "ship-service-level", "recipient-name", "ship-address-1", "ship-address-2", "ship-address-3",
    "ship-city", "ship-state", "ship-postal-code", "ship-country", "ship-phone-number", "delivery-start-date",
    "delivery-end-date", "delivery-time-zone", "delivery-Instructions", "sales-channel", "earliest-ship-date",
    "latest-ship-date", "earliest-delivery-date", "latest-delivery-date", "is-business-order",
    "purchase-order-number", "price-designation", "is-prime",
)
PII_COLUMNS = ("buyer-email", "buyer-name", "buyer-phone-number", "recipient-name", "ship-address-1",
               "ship-address-2", "ship-address-3", "ship-phone-number")
CONFIRMATION_HEADER = ("order-id", "order-item-id", "quantity", "ship-date", "carrier-code", "carrier-name",
                       "tracking-number", "ship-method")
SCAN_HEADER = ("tracking_number", "carrier", "event_time", "status", "event_code", "description", "location")


@dataclass
class GenerationStats:
    """What was written, and what the pipeline should find (assuming every scan has arrived)."""

    seller_id: str
    start: dt.date
    end: dt.date
    orders: int = 0                 # orders placed (one package each once shipped)
    order_items: int = 0
    packages: int = 0               # packages confirmed within the period
    files: int = 0
    order_lines: int = 0            # data lines in the order files (items + continuation lines)
    continuation_lines: int = 0
    confirmation_lines: int = 0
    scan_events: int = 0            # distinct events written (duplicates and repeated histories not counted)
    held_confirmations: int = 0     # confirmations written a day before their order line
    corrections: dict[str, int] = field(default_factory=dict)   # fixed / kept (blank) / removed (NULL)
    late_first_scans: int = 0
    invalid_expected: dict[str, int] = field(default_factory=dict)
    invalid_by_promised_date: dict[dt.date, dict[str, int]] = field(default_factory=dict, repr=False)
    uncategorized_items: int = 0
    dip_category: str = ""
    dip_start: dt.date | None = None   # purchase dates of the dip, inclusive
    dip_end: dt.date | None = None

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid_expected.values())


def _seller_prefix(seller_id: str) -> str:
    parts = [p for p in seller_id.replace("_", "-").split("-") if p]
    return "".join(p[0] for p in parts).upper()[:3] or "SKU"


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def _pick(values, key: str, salt: int) -> str:
    """SQL: one of `values`, chosen by u(key, salt)."""
    return f"{_sql_list(values)}[1 + floor(u({key}, {salt}) * {len(values)})::int]"


def _per_market(profiles: list[Profile], values, key: str, salt: int, m: str = "m") -> str:
    """SQL: one of values(profile) for the row's marketplace `m`, chosen by u(key, salt)."""
    whens = " ".join(f"when {i} then {_pick(values(p), key, salt)}" for i, p in enumerate(profiles))
    return f"(case {m} {whens} end)"


def _digits(n_expr: str, k: int) -> str:
    return f"lpad(({n_expr})::varchar, {k}, '0')"


def _perm(p_expr: str, k: int, rng: random.Random) -> str:
    """SQL: a k-digit number that is a bijection of p (p < 10**k): unique and scattered."""
    mod = 10 ** k
    a = rng.randrange(mod // 7, mod // 3) | 1
    while a % 5 == 0:
        a += 2
    b = rng.randrange(mod)
    return f"((({p_expr})::hugeint * {a} + {b}) % {mod})::bigint"


def _tracking_sql(shape: str, rng: random.Random, p: str = "p") -> str:
    """SQL for a carrier's tracking number, shaped as the carrier issues it, unique per package p."""
    if shape.startswith("s10:"):  # UPU S10: 2 letters, 8 digit serial, check digit, country
        _, prefix, country = shape.split(":")
        n = _perm(p, 8, rng)
        digit = [f"(({n}) // {10 ** (7 - i)} % 10)" for i in range(8)]
        total = " + ".join(f"{w} * {d}" for w, d in zip((8, 6, 4, 2, 3, 5, 9, 7), digit))
        check = f"(case 11 - ({total}) % 11 when 10 then 0 when 11 then 5 else 11 - ({total}) % 11 end)"
        return f"'{prefix}' || {_digits(n, 8)} || ({check})::varchar || '{country}'"
    if shape == "ups":  # 1Z + shipper account (6) + service (2) + package (7) + check digit
        shipper = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXY0123456789") for _ in range(6))
        service = "68"
        values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in shipper + service]
        fixed = sum(v * (2 if (i + 1) % 2 == 0 else 1) for i, v in enumerate(values))
        n = _perm(p, 7, rng)
        terms = " + ".join(f"{2 if (9 + i) % 2 == 0 else 1} * (({n}) // {10 ** (6 - i)} % 10)" for i in range(7))
        return f"'1Z{shipper}{service}' || {_digits(n, 7)} || ((10 - ({fixed} + {terms}) % 10) % 10)::varchar"
    if shape == "dhl10":  # DHL Express waybill: 9 digits + mod 7 check digit
        n = _perm(p, 9, rng)
        return f"{_digits(n, 9)} || (({n}) % 7)::varchar"
    if shape == "dpd14":
        return f"'0' || {_digits(_perm(p, 13, rng), 13)}"
    if shape == "gls12":  # 11 digits + check digit (weights 3,1 from the right, +1)
        n = _perm(p, 11, rng)
        terms = " + ".join(f"{3 if i % 2 == 0 else 1} * (({n}) // {10 ** i} % 10)" for i in range(11))
        return f"{_digits(n, 11)} || ((10 - ({terms} + 1) % 10) % 10)::varchar"
    if shape == "usps22":  # 94 + service and mailer id + serial + mod 10 check
        n = _perm(p, 13, rng)
        lead = "940011189922"[:8]
        return f"'{lead}' || {_digits(n, 13)} || ((({n}) * 3 + 7) % 10)::varchar"
    if shape == "fedex12":
        return f"'7' || {_digits(_perm(p, 11, rng), 11)}"
    if shape == "hermes20":
        return f"'H10' || {_digits(_perm(p, 17, rng), 17)}"
    if shape == "tba":  # Amazon Logistics: TBA + 12 digits
        return f"'TBA3' || {_digits(_perm(p, 11, rng), 11)}"
    if shape.startswith("alnum:"):
        prefix = shape.split(":")[1]
        return f"'{prefix}' || upper(substr(md5('{rng.random()}' || ({p})::varchar), 1, {16 - len(prefix)}))"
    raise ValueError(f"unknown tracking shape {shape}")


def _typo_sql(t: str, shape_expr: str, r: str) -> str:
    """SQL: tracking number `t` with one digit mistyped (a digit of the serial, never a letter)."""
    pos = f"(case when {shape_expr} like 's10:%' then 3 + {r} % 8 else length({t}) - {r} % 8 end)"
    char = f"substr({t}, {pos}, 1)"
    new = (f"coalesce(((try_cast({char} as int) + 1 + ({r} // 8) % 9) % 10)::varchar, "
           f"case when {char} = 'A' then 'B' else 'A' end)")
    return f"left({t}, {pos} - 1) || {new} || substr({t}, {pos} + 1)"


def _offsets(tz: str, start: dt.date, days: int) -> list[int]:
    zone = ZoneInfo(tz)
    return [
        int(dt.datetime.combine(start + dt.timedelta(days=d), dt.time(12), zone).utcoffset().total_seconds() // 60)
        for d in range(days)
    ]


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
) -> GenerationStats:
    """Write `days` days of orders, confirmations and scans for about `packages` orders under landing/<seller_id>/.

    Files of an earlier call for the same seller are replaced. `dip_category` (None for no dip) loses about a
    tenth of its packages for ten days of purchases from `days // 2 - 14` on (GenerationStats.dip_start/dip_end),
    so that with the default 14-day lag its 7-day VTR falls below target and recovers within the period.
    `aggregator_exports` adds the EasyPost and AfterShip JSON files (else those carriers' events go to the
    canonical CSV too). `memory_limit` caps DuckDB's memory (the rest spills to a temporary folder; a million
    packages peak at about 4 GB). Marketplaces ending .se/.dk/.no/.fi get Nordic carriers, .co.uk British (Royal Mail
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
    profiles = [_profile_of(m) for m in marketplaces]
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
        _build_reference(con, rng, profiles, marketplaces, start, days, seller_id)
        _build_orders(con, rng, profiles, packages, days, dip_category, dip_lo, dip_hi)
        _build_confirmations(con, days)
        _build_scans(con, profiles, days, aggregator_exports)
        _build_outputs(con, profiles, int(seed), days)
        _fill_stats(con, stats, start)
        stats.files = _write_files(con, root, start, days, aggregator_exports)
    finally:
        con.close()
        spill.cleanup()
    return stats


def _literal(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dt.date):
        return f"date '{v.isoformat()}'"
    if isinstance(v, (list, tuple)):
        return _sql_list(v)
    return "'" + str(v).replace("'", "''") + "'"


def _insert(con, table: str, rows) -> None:
    """Insert Python rows in one statement (executemany is slow for hundreds of small rows)."""
    rows = list(rows)
    if rows:
        con.execute(f"insert into {table} values " + ", ".join(
            "(" + ", ".join(_literal(v) for v in row) + ")" for row in rows))


def _build_reference(con, rng, profiles, marketplaces, start, days, seller_id) -> None:
    """Small tables: days (weights, offsets), marketplaces, carrier mixes, categories and skus."""
    weekday = (1.10, 1.05, 1.00, 1.00, 0.95, 0.80, 1.00)  # Monday first; Sunday evening shopping
    weights = [weekday[(start + dt.timedelta(days=d)).weekday()] * (1 + 0.15 * d / max(days, 1)) for d in range(days)]
    total, cum = sum(weights), 0.0
    rows = []
    for d, w in enumerate(weights):
        rows.append((d, start + dt.timedelta(days=d), cum / total))
        cum += w
    con.execute("create table days (d integer, day date, cum_lo double)")
    _insert(con, "days", rows)
    offsets = []
    for m, profile in enumerate(profiles):
        offs = _offsets(profile.tz, start, days)
        offsets.extend((m, d, offs[d]) for d in range(days))
    con.execute("create table offsets (m integer, d integer, off_min integer)")
    _insert(con, "offsets", offsets)

    share = [0.55, 0.45] if len(marketplaces) == 2 else [1 / len(marketplaces)] * len(marketplaces)
    con.execute("create table markets (m integer, marketplace varchar, cum_lo double, currency varchar, "
                "country varchar, price_scale double)")
    cum = 0.0
    for m, (name, p) in enumerate(zip(marketplaces, profiles)):
        _insert(con, "markets", [(m, name, cum, p.currency, p.country, p.price_scale)])
        cum += share[m]

    con.execute("create table carriers (key varchar, code varchar, name varchar, shape varchar, channel varchar, "
                "label varchar, methods varchar[], integrated boolean)")
    for c in CARRIERS.values():
        canonical = (c.name if c.code == "Other" else c.code).upper().replace(" ", "_")
        _insert(con, "carriers", [(c.key, c.code, c.name, c.shape, c.channel, c.label, list(c.methods),
                     canonical in DEFAULT_CARRIERS)])
    con.execute("create table mix (m integer, cum_lo double, carrier varchar)")
    for m, p in enumerate(profiles):
        cum = RATE_OTHER
        _insert(con, "mix", [(m, 0.0, p.other)])
        scale = (1 - RATE_OTHER) / sum(w for _, w in p.carriers)
        for key, w in p.carriers:
            _insert(con, "mix", [(m, cum, key)])
            cum += w * scale
    con.execute("create table other_carrier (m integer, carrier varchar)")
    _insert(con, "other_carrier", [(m, p.other) for m, p in enumerate(profiles)])

    prefix = _seller_prefix(seller_id)
    con.execute("create table categories (c integer, category varchar, cum_lo double, n_skus integer, "
                "has_extra boolean)")
    con.execute("create table skus (c integer, i integer, sku varchar, product_name varchar, base_price double, "
                "in_catalog boolean)")
    cum = 0.0
    total_share = sum(s for _, s, _, _ in CATEGORIES)
    for c, (name, s, code, nouns) in enumerate(CATEGORIES):
        n = rng.randrange(25, 46)
        has_extra = c % 3 == 1  # a few newly listed skus the catalog does not have yet
        _insert(con, "categories", [(c, name, cum, n, has_extra)])
        cum += s / total_share
        rows = []
        for i in range(n + (1 if has_extra else 0)):
            noun = nouns[i % len(nouns)]
            adjective = ADJECTIVES[(i * 7 + c) % len(ADJECTIVES)]
            size = ("", " 2-pack", " XL", " 40 cm", " 60 cm")[i // len(nouns) % 5]
            price = round(rng.uniform(8, 150), 2)
            rows.append((c, i, f"{prefix}-{code}-{1000 + i * 7 + c}", f"{adjective} {noun}{size}", price, i < n))
        _insert(con, "skus", rows)


# A package's failure mode from u(p, 20): exclusive bands, baseline rates.
_BANDS = (("missing", RATE_MISSING), ("typo", RATE_TYPO), ("pre_transit", RATE_PRE_TRANSIT),
          ("recycled", RATE_RECYCLED), ("fixed", RATE_FIXED), ("keep", RATE_KEEP), ("remove", RATE_REMOVE),
          ("late", RATE_LATE))


def _mode_sql() -> str:
    whens, cum = [], 0.0
    for mode, rate in _BANDS:
        cum += rate
        whens.append(f"when u(p, 20) < {cum!r} then '{mode}'")
    return "case " + " ".join(whens) + " else 'ok' end"


def _build_orders(con, rng, profiles, packages, days, dip_category, dip_lo, dip_hi) -> None:
    """One order per package: marketplace, dates, carrier, failure mode, tracking number; then its items."""
    con.execute(f"""
    create table base as
    with raw as (
        select range as p, u(range, 1) as u_day, u(range, 2) as u_mkt, u(range, 3) as u_carrier
        from range({int(packages)})
    ),
    placed as (
        select r.*, d.d, d.day
        from raw as r asof join days as d on r.u_day >= d.cum_lo
    )
    select x.p, x.d, x.day, mk.m, mk.marketplace, mk.currency, mk.country, mk.price_scale,
        mx.carrier as mix_carrier
    from placed as x
    asof join markets as mk on x.u_mkt >= mk.cum_lo
    asof join mix as mx on mk.m = mx.m and x.u_carrier >= mx.cum_lo
    """)
    # items first: the order's primary category decides whether the dip hits it
    con.execute("""
    create table items as
    with expanded as (
        select b.p, k.k,
            case when u(b.p, 4) < 0.80 then 1 when u(b.p, 4) < 0.95 then 2 else 3 end as n_items
        from base as b, range(3) as k(k)
    ),
    kept as (
        select p, k, p * 3 + k as item_key from expanded where k < n_items
    ),
    chosen as (
        select kept.*, u(item_key, 5) as u_cat, u(item_key, 6) as u_sku, u(item_key, 7) as u_extra,
            u(p * 3, 5) as u_first_cat
        from kept
    ),
    with_cat as (
        select ch.*, cat.c as own_c
        from chosen as ch asof join categories as cat on ch.u_cat >= cat.cum_lo
    ),
    first_cat as (
        select wc.*, cat.c as first_c
        from with_cat as wc asof join categories as cat on wc.u_first_cat >= cat.cum_lo
    )
    select f.p, f.k, f.item_key,
        case when f.k = 0 or u(f.item_key, 8) < 0.6 then f.first_c else f.own_c end as c,
    from first_cat as f
    """)
    con.execute("""
    create or replace table items as
    select i.p, i.k, i.item_key, i.c, cat.category,
        case when cat.has_extra and u(i.item_key, 7) < 0.004 then cat.n_skus
             else floor(u(i.item_key, 6) * cat.n_skus)::int end as sku_i,
        case when u(i.item_key, 9) < 0.90 then 1 when u(i.item_key, 9) < 0.98 then 2 else 3 end as quantity,
    from items as i
    join categories as cat on cat.c = i.c
    """)
    dip = ("false" if dip_category is None else
           f"(pc.category = '{dip_category}' and b.d between {dip_lo} and {dip_hi})")
    con.execute(f"""
    create table orders as
    with primary_cat as (
        select p, category from items where k = 0
    ),
    flagged as (
        select b.*, {dip} as in_dip,
            u(b.p, 30) as u_dip
        from base as b join primary_cat as pc on pc.p = b.p
    ),
    timed as (
        select f.*,
            6 * 3600 + floor(u(f.p, 10) * 18 * 3600)::int as purchase_sec,
            case when u(f.p, 11) < 0.55 then 0 when u(f.p, 11) < 0.90 then 1 else 2 end as delay0,
            3 + floor(u(f.p, 12) * 3)::int as promise_days,
            case when f.in_dip and f.u_dip < {DIP_OTHER_CARRIER} then oc.carrier else f.mix_carrier end as carrier,
            case when f.in_dip and f.u_dip >= {DIP_OTHER_CARRIER}
                      and f.u_dip < {DIP_OTHER_CARRIER + DIP_PRE_TRANSIT} then 'pre_transit'
                 else {_mode_sql()} end as mode,
        from flagged as f join other_carrier as oc on oc.m = f.m
    ),
    shipped as (
        select t.*,
            -- no same-day shipping after 15:00, no shipping on Sundays
            case when t.delay0 = 0 and t.purchase_sec >= 15 * 3600 then 1 else t.delay0 end as delay1,
        from timed as t
    )
    select s.*,
        s.d + s.delay1 + case when isodow(s.day + s.delay1) = 7 then 1 else 0 end as ship_d,
        s.d + s.promise_days + case when isodow(s.day + s.promise_days) = 7 then 1 else 0 end as promise_d,
    from shipped as s
    """)
    # tracking numbers: one expression per carrier shape
    whens = " ".join(f"when '{c.key}' then {_tracking_sql(c.shape, rng)}" for c in CARRIERS.values())
    order_prefix = ("402", "403", "405", "406", "407", "408", "302", "303", "304", "305", "028")
    con.execute(f"""
    create or replace table orders as
    select o.*,
        {_pick(order_prefix, 'o.p', 13)} || '-' || substr(n, 1, 7) || '-' || substr(n, 8, 7) as order_id,
        case o.carrier {whens} end as tracking_true,
        c.code as carrier_code, c.name as carrier_name, c.shape, c.channel, c.label as carrier_label,
        c.integrated, c.methods[1 + floor(u(o.p, 14) * len(c.methods))::int] as ship_method,
        o.ship_d = o.d and o.d + 1 < {days} and u(o.p, 15) < {RATE_HELD} as is_held,
        offs.off_min,
        {_offset_text('offs.off_min')} as off_text,
        o.day + (o.ship_d - o.d) as ship_day,
        o.day + (o.promise_d - o.d) as promise_day,
    from (select *, {_digits(_perm('p', 14, rng), 14)} as n from orders) as o
    join carriers as c on c.key = o.carrier
    join offsets as offs on offs.m = o.m and offs.d = least(o.d, {days - 1})
    """)
    con.execute("drop table base")


def _ts(day_expr: str, sec_expr: str) -> str:
    return f"(({day_expr})::timestamp + to_seconds(({sec_expr})::bigint))"


def _offset_text(off_expr: str) -> str:
    """SQL: an offset in minutes as ISO 8601 text, e.g. +01:00."""
    sign = f"case when {off_expr} < 0 then '-' else '+' end"
    hh = f"lpad((abs({off_expr}) // 60)::varchar, 2, '0')"
    mm = f"lpad((abs({off_expr}) % 60)::varchar, 2, '0')"
    return f"({sign} || {hh} || ':' || {mm})"


def _iso_local(ts_expr: str, off_text: str) -> str:
    """SQL: local timestamp as ISO 8601 with its offset (a text column), e.g. 2026-03-01T10:15:32+01:00."""
    return f"strftime({ts_expr}, '%Y-%m-%dT%H:%M:%S') || {off_text}"


def _build_confirmations(con, days) -> None:
    """The order report lines (with PII) and the shipping-confirmation lines, each with the day of its file."""
    con.execute("""
    create table conf as
    with items_o as (
        select o.*, i.k, i.item_key, i.quantity, count(*) over (partition by o.p) as n_items
        from orders as o join items as i on i.p = o.p
        where o.ship_d < """ + str(days) + """
    ),
    whole as (
        -- some sellers confirm a multi-item order with one line without order-item-id
        select *, n_items > 1 and u(p, 16) < 0.10 as whole_order from items_o
    ),
    initial as (
        select w.*, 0 as rev, w.ship_d as file_d,
            case
                when w.mode = 'missing' then null
                when w.mode = 'typo' then 'typo'
                when w.mode = 'fixed' then case when u(w.p, 17) < 0.6 then 'typo' end
                else 'true'
            end as tracking_kind
        from whole as w
        where not w.whole_order or w.k = 0
    ),
    corrected as (
        select w.*, 1 as rev, w.ship_d + 1 + floor(u(w.p, 18) * 3)::int as file_d,
            case w.mode when 'fixed' then 'true' when 'keep' then 'blank' else 'NULL' end as tracking_kind
        from whole as w
        where w.mode in ('fixed', 'keep', 'remove') and (not w.whole_order or w.k = 0)
    )
    select * from initial
    union all
    select * from corrected where file_d < """ + str(days) + """
    """)


def _build_scans(con, profiles, days, aggregator_exports) -> None:
    """Carrier events per package (true tracking number), with the day each is exported."""
    cities = _per_market(profiles, lambda p: [c for c, _ in p.cities], "p * 10 + step", 40)
    con.execute(f"""
    create table events as
    with pk as (
        select o.p, o.m, o.tracking_true as tracking_number, o.carrier_label, o.channel, o.mode, o.carrier,
            o.off_min, o.off_text, o.ship_d, o.d,
            o.ship_day, {_ts('o.ship_day', '13 * 3600 + floor(u(o.p, 21) * 4 * 3600)')} as ship_local,
            case when o.mode = 'late' then 2 + floor(u(o.p, 22) * 7)::int else 0 end as late_days,
            1 + floor(u(o.p, 23) * 2.5)::int as transit_days,
            o.carrier in ('postnord', 'bring', 'dhl') and u(o.p, 24) < 0.25 as to_pickup_point,
            u(o.p, 25) < {RATE_FAILED_ATTEMPT} and not to_pickup_point as failed_attempt,
            60 + floor(u(o.p, 26) * 140)::int as recycled_days_ago,
        from orders as o
        where o.ship_d < {days} and o.integrated
    ),
    timeline as (
        select pk.*,
            ship_local - to_seconds(3600 + floor(u(p, 27) * 3 * 3600)::bigint) as t_label,
            ship_local + to_seconds((late_days * 86400 + 3600 + floor(u(p, 28) * 3 * 3600))::bigint) as t_pickup,
        from pk
    ),
    timeline2 as (
        select t.*,
            t.t_pickup + to_seconds((2 * 3600 + floor(u(p, 29) * 4 * 3600))::bigint) as t_hub,
            {_ts("t.t_pickup::date + t.transit_days", "7 * 3600 + 1800 + floor(u(t.p, 31) * 2.5 * 3600)")} as t_ofd,
        from timeline as t
    ),
    steps as (
        select t.*, s.step,
        from timeline2 as t, range(7) as s(step)
    ),
    evented as (
        select s.*,
            case s.step
                when 0 then s.t_label
                when 1 then s.t_pickup
                when 2 then s.t_hub
                when 3 then s.t_ofd
                when 4 then s.t_ofd + to_seconds(((case when s.to_pickup_point then 86400 else 3600 end)
                                                   + floor(u(s.p, 32) * 8 * 3600))::bigint)
                when 5 then s.t_ofd + to_seconds((86400 - 1800)::bigint)
                when 6 then s.t_ofd + to_seconds((86400 + 3 * 3600 + floor(u(s.p, 33) * 5 * 3600))::bigint)
            end + case when s.mode = 'recycled' then -to_days(s.recycled_days_ago) else interval 0 day end
                as local_at,
            case s.step
                when 0 then 'pre_transit'
                when 1 then 'in_transit'
                when 2 then 'in_transit'
                when 3 then case when s.to_pickup_point then 'available_for_pickup' else 'out_for_delivery' end
                when 4 then case when s.failed_attempt then 'failure' else 'delivered' end
                when 5 then 'out_for_delivery'
                when 6 then 'delivered'
            end as status,
        from steps as s
        where case
            when s.mode = 'pre_transit' then s.step = 0
            when s.mode = 'recycled' then s.step between 1 and 4
            when s.step >= 5 then s.failed_attempt
            else true
        end
    ),
    described as (
        select e.*,
            case e.status
                when 'pre_transit' then 'Shipment information received'
                when 'in_transit' then case when e.step = 1 then 'Parcel picked up by carrier'
                                            else 'Parcel sorted at terminal' end
                when 'out_for_delivery' then 'Out for delivery'
                when 'available_for_pickup' then 'Ready for pickup at service point'
                when 'failure' then 'Delivery attempt failed, recipient not at home'
                when 'delivered' then case when e.to_pickup_point then 'Collected by recipient' else 'Delivered' end
            end as description,
            case e.status
                when 'pre_transit' then 'INFO' when 'in_transit' then case when e.step = 1 then 'PU' else 'AR' end
                when 'out_for_delivery' then 'OD' when 'available_for_pickup' then 'PP' when 'failure' then 'NA'
                when 'delivered' then 'DL'
            end as event_code,
            {cities} as city,
        from evented as e
    )
    select d.p, d.step, d.tracking_number, d.carrier_label, d.carrier, d.channel, d.status, d.description,
        d.event_code, d.city, mk.country, d.off_min, d.off_text, d.local_at,
        d.local_at - to_minutes(d.off_min) as utc_at,
        -- the export day: the local date of the event; a recycled number's old history is looked up on ship day
        case when d.mode = 'recycled' then d.ship_d + 1
             else d.ship_d + date_diff('day', d.ship_day, d.local_at::date) end as file_d,
    from described as d
    join markets as mk on mk.m = d.m
    """)
    if not aggregator_exports:
        con.execute("update events set channel = 'csv'")
    con.execute(f"delete from events where file_d >= {days} or file_d < 0")


def _fill_stats(con, stats: GenerationStats, start: dt.date) -> None:
    q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
    stats.orders, = q("select count(*) from orders")
    stats.order_items, = q("select count(*) from items")
    stats.packages, = q("select count(distinct p) from conf")
    stats.confirmation_lines, = q("select count(*) from conf")
    stats.order_lines, stats.continuation_lines = q("select count(*), count(*) filter (where cont = 1) from out_orders")
    stats.held_confirmations, = q("select count(*) from conf where is_held and rev = 0")
    stats.scan_events, = q("select count(*) from events")
    stats.late_first_scans, = q("select count(distinct p) from conf where mode = 'late'")
    stats.uncategorized_items, = q("""select count(*) from items as i join skus as s on s.c = i.c and s.i = i.sku_i
                                      where not s.in_catalog""")
    stats.corrections = dict(con.execute("""
        select case mode when 'fixed' then 'fixed' when 'keep' then 'kept' else 'removed' end, count(distinct p)
        from conf where rev = 1 group by all order by 1""").fetchall())
    # the final state per package, judged in the pipeline's order of reasons
    rows = con.execute("""
    with final as (
        select p, any_value(mode) as mode, any_value(integrated) as integrated, any_value(promise_d) as promise_d,
            arg_max(tracking_kind, rev) filter (where tracking_kind is distinct from 'blank') as kind,
        from conf group by p
    ),
    judged as (
        select promise_d, case
                when kind is null or kind = 'NULL' then 'missing_tracking'
                when not integrated then 'carrier_not_integrated'
                when kind = 'typo' then 'no_carrier_events'
                when mode = 'pre_transit' then 'pre_transit_only'
                when mode = 'recycled' then 'scan_before_ship_date'
            end as reason,
        from final
    )
    select promise_d, reason, count(*) from judged where reason is not null group by 1, 2 order by 1, 2
    """).fetchall()
    by_reason: Counter = Counter()
    for promise_d, reason, n in rows:
        day = start + dt.timedelta(days=promise_d)
        stats.invalid_by_promised_date.setdefault(day, {})[reason] = n
        by_reason[reason] += n
    stats.invalid_expected = {r: by_reason.get(r, 0) for r in REASONS}


VAT = {"SE": 0.25, "DE": 0.19, "GB": 0.20, "US": 0.0}
ISO3 = {"SE": "SWE", "DE": "DEU", "GB": "GBR", "US": "USA"}


def _build_outputs(con, profiles, seed: int, days: int) -> None:
    """The rows of every file, as text columns in header order, with the day of their file and a total order."""
    pick = lambda values, key, salt: _per_market(profiles, values, key, salt, "o.m")  # noqa: E731
    first = pick(lambda p: p.first_names, "o.p", 50)
    last = pick(lambda p: p.last_names, "o.p", 51)
    r_first = pick(lambda p: p.first_names, "o.p", 52)
    street = pick(lambda p: p.streets, "o.p", 53)
    city_i = "1 + floor(u(o.p, 54) * 10)::int"
    city = "(case o.m " + " ".join(
        f"when {i} then {_sql_list([c for c, _ in p.cities])}[{city_i}]" for i, p in enumerate(profiles)) + " end)"
    zip_prefix = "(case o.m " + " ".join(
        f"when {i} then {_sql_list([z for _, z in p.cities])}[{city_i}]" for i, p in enumerate(profiles)) + " end)"
    fmt = "(case o.m " + " ".join(f"when {i} then '{p.postal}'" for i, p in enumerate(profiles)) + " end)"
    phone_prefix = "(case o.m " + " ".join(f"when {i} then '{p.phone}'" for i, p in enumerate(profiles)) + " end)"
    vat = "(case o.country " + " ".join(f"when '{k}' then {v}" for k, v in VAT.items()) + " else 0.2 end)"
    n7 = "lpad(floor(u(o.p, 55) * 1e7)::bigint::varchar, 7, '0')"
    letters = list("ABDEFGHJLNPQRSTUWXYZ")
    postal = f"""case {fmt}
            when 'se' then {zip_prefix} || floor(u(o.p, 56) * 10)::int::varchar || ' '
                           || lpad(floor(u(o.p, 57) * 100)::int::varchar, 2, '0')
            when '5' then {zip_prefix} || lpad(floor(u(o.p, 56) * 1000)::int::varchar, 3, '0')
            when 'uk' then {zip_prefix} || ' ' || floor(u(o.p, 56) * 10)::int::varchar
                           || {_pick(letters, "o.p", 57)} || {_pick(letters, "o.p", 58)}
            else {zip_prefix} || lpad(floor(u(o.p, 56) * 100)::int::varchar, 2, '0')
        end"""
    purchase_local = _ts("o.day", "o.purchase_sec")
    tld = "lower(regexp_extract(o.marketplace, '\\.([A-Za-z.]+)$', 1))"
    price = ("case when o.price_scale >= 5 then round(s.base_price * o.price_scale / 10) * 10 - 1 "
             "else round(s.base_price * o.price_scale, 0) - 0.01 end")
    # narrow rows sorted by file day first (cheap), then rendered in that order: the wide table stays clustered
    con.execute(f"""
    create temp table order_lines as
    select o.p, o.m, o.d, o.day, o.purchase_sec, o.order_id, o.off_text, o.marketplace, o.currency, o.country,
        o.promise_day, i.k, i.item_key, i.quantity, s.sku, s.product_name, {price} as unit_price,
        {_digits(_perm("i.item_key", 14, random.Random(seed * 31 + 1)), 14)} as item_id,
        o.d + case when o.is_held then 1 else 0 end as file_d,
        -- a few items are followed by a continuation line: same order item, every other column blank
        unnest(case when u(i.p * 3 + i.k, 70) < {RATE_CONTINUATION} then [0, 1] else [0] end) as cont,
    from orders as o
    join items as i on i.p = o.p
    join skus as s on s.c = i.c and s.i = i.sku_i
    where o.d + case when o.is_held then 1 else 0 end < {days}
    order by file_d
    """)
    con.execute(f"""
    create table out_orders as
    with full_lines as (
        select o.file_d, o.purchase_sec, o.p, o.k, o.cont,
            o.order_id as "order-id",
            o.item_id as "order-item-id",
            {_iso_local(purchase_local, "o.off_text")} as "purchase-date",
            {_iso_local(purchase_local + " + to_seconds(60 + floor(u(o.p, 59) * 1800)::bigint)", "o.off_text")}
                as "payments-date",
            substr(md5('{seed}' || o.order_id), 1, 15) || '@marketplace.amazon.' || {tld} as "buyer-email",
            {first} || ' ' || {last} as "buyer-name",
            case when u(o.p, 60) < 0.85 then {phone_prefix} || floor(u(o.p, 61) * 10)::int::varchar || ' '
                || substr({n7}, 1, 3) || ' ' || substr({n7}, 4, 2) || ' ' || substr({n7}, 6, 2) end
                as "buyer-phone-number",
            o.sku as "sku",
            o.product_name as "product-name",
            o.quantity::varchar as "quantity-purchased",
            o.currency as "currency",
            printf('%.2f', o.unit_price * o.quantity) as "item-price",
            printf('%.2f', o.unit_price * o.quantity * (1 - 1 / (1 + {vat}))) as "item-tax",
            '0.00' as "shipping-price",
            '0.00' as "shipping-tax",
            case when u(o.p, 62) < 0.08 then 'Expedited' else 'Standard' end as "ship-service-level",
            case when u(o.p, 63) < 0.8 then {first} else {r_first} end || ' ' || {last} as "recipient-name",
            case when o.country in ('GB', 'US') then (1 + floor(u(o.p, 64) * 120)::int)::varchar || ' ' || {street}
                 else {street} || ' ' || (1 + floor(u(o.p, 64) * 120)::int)::varchar end as "ship-address-1",
            case when u(o.p, 65) < 0.15 then 'lgh ' || (1001 + floor(u(o.p, 66) * 400)::int)::varchar end
                as "ship-address-2",
            null::varchar as "ship-address-3",
            {city} as "ship-city",
            null::varchar as "ship-state",
            {postal} as "ship-postal-code",
            o.country as "ship-country",
            case when u(o.p, 60) < 0.85 and u(o.p, 67) < 0.5 then {phone_prefix}
                || floor(u(o.p, 61) * 10)::int::varchar || ' ' || substr({n7}, 1, 3) || ' ' || substr({n7}, 4, 2)
                || ' ' || substr({n7}, 6, 2) end as "ship-phone-number",
            null::varchar as "delivery-start-date",
            null::varchar as "delivery-end-date",
            null::varchar as "delivery-time-zone",
            case when u(o.p, 68) < 0.04 then 'Please leave the parcel at the back door' end as "delivery-Instructions",
            o.marketplace as "sales-channel",
            strftime(o.day, '%Y-%m-%d') || 'T00:00:00' || o.off_text
                as "earliest-ship-date",
            strftime(o.day + 2, '%Y-%m-%d') || 'T23:59:59' || o.off_text
                as "latest-ship-date",
            strftime(o.day + 2, '%Y-%m-%d') || 'T00:00:00' || o.off_text
                as "earliest-delivery-date",
            strftime(o.promise_day, '%Y-%m-%d') || 'T23:59:59' || o.off_text
                as "latest-delivery-date",
            case when u(o.p, 69) < 0.03 then 'true' else 'false' end as "is-business-order",
            null::varchar as "purchase-order-number",
            null::varchar as "price-designation",
            'false' as "is-prime",
        from order_lines as o
    )
    select file_d, purchase_sec, p, k, cont, "order-id", "order-item-id",
        {", ".join(f'case when cont = 0 then "{c}" end as "{c}"' for c in ORDER_HEADER[2:])}
    from full_lines
    """)
    con.execute("drop table order_lines")  # the wide tables are what costs memory at a million packages
    item_id = _digits(_perm("c.item_key", 14, random.Random(seed * 31 + 1)), 14)
    typo = _typo_sql("c.tracking_true", "c.shape", "floor(u(c.p, 19) * 1000)::int")
    ship_local = _ts("c.ship_day", "13 * 3600 + floor(u(c.p, 21) * 4 * 3600)")
    con.execute(f"""
    create table out_confirmations as
    select c.file_d, c.p, c.rev, c.k, c.ship_d,
        c.order_id as "order-id",
        case when not c.whole_order then {item_id} end as "order-item-id",
        case when not c.whole_order then c.quantity::varchar end as "quantity",
        case when u(c.p * 2 + c.rev, 71) < 0.8 then strftime(c.ship_day, '%Y-%m-%d')
             else {_iso_local(ship_local, "c.off_text")} end as "ship-date",
        c.carrier_code as "carrier-code",
        c.carrier_name as "carrier-name",
        case c.tracking_kind when 'true' then c.tracking_true when 'typo' then {typo} when 'NULL' then 'NULL' end
            as "tracking-number",
        c.ship_method as "ship-method",
    from conf as c
    order by c.file_d
    """)
    event_time = _iso_local("e.local_at", "e.off_text")
    con.execute(f"""
    create table out_scans as
    with written as (
        select e.*, e.file_d as out_d from events as e where e.channel = 'csv'
        union all
        -- carriers resend some events in the next day's file
        select e.*, e.file_d + 1 from events as e
        where e.channel = 'csv' and u(e.p * 10 + e.step, 72) < {RATE_DUPLICATE} and e.file_d + 1 < {days}
    )
    select e.out_d as file_d, e.utc_at, e.p, e.step,
        e.tracking_number as "tracking_number",
        e.carrier_label as "carrier",
        {event_time} as "event_time",
        e.status as "status",
        e.event_code as "event_code",
        e.description as "description",
        e.city || ', ' || e.country as "location",
    from written as e
    order by e.out_d
    """)
    ep_status = ("case e.status when 'pre_transit' then 'label_created' when 'in_transit' then "
                 "case when e.step = 1 then 'arrived_at_facility' else 'departed_facility' end "
                 "when 'out_for_delivery' then 'out_for_delivery' when 'available_for_pickup' then "
                 "'arrived_at_pickup_location' when 'failure' then 'delivery_exception' else 'delivered' end")
    tag = ("case e.status when 'pre_transit' then 'InfoReceived' when 'in_transit' then 'InTransit' "
           "when 'out_for_delivery' then 'OutForDelivery' when 'available_for_pickup' then 'AvailableForPickup' "
           "when 'failure' then 'AttemptFail' else 'Delivered' end")
    iso3 = "(case e.country " + " ".join(f"when '{k}' then '{v}'" for k, v in ISO3.items()) + " end)"
    utc = "strftime(e.utc_at, '%Y-%m-%dT%H:%M:%SZ')"
    # each event rendered to JSON once; steps are in time order, so an export day's history is a prefix
    con.execute(f"""
    create table agg_events as
    select e.p, e.file_d, e.channel, e.step, e.tracking_number, e.carrier_label, e.country,
        case when e.channel = 'easypost' then e.status else {tag} end as status,
        case when e.channel = 'easypost' then {ep_status} else {tag} || '_001' end as status_detail,
        {utc} as utc_text,
        case when e.channel = 'easypost' then
            to_json({{'object': 'TrackingDetail', 'message': e.description, 'description': null::varchar,
              'status': e.status, 'status_detail': {ep_status}, 'datetime': {utc},
              'source': e.carrier_label,
              'tracking_location': {{'object': 'TrackingLocation', 'city': e.city, 'state': null::varchar,
                                     'country': e.country, 'zip': null::varchar}}}})::varchar
        else
            to_json({{'slug': e.carrier_label, 'location': e.city || ', ' || {iso3},
              'country_iso3': {iso3}, 'message': e.description, 'tag': {tag}, 'subtag': {tag} || '_001',
              'checkpoint_time': {_iso_local("e.local_at", "e.off_text")}}})::varchar
        end as event_json,
    from events as e
    where e.channel in ('easypost', 'aftership')
    """)
    steps = range(7)
    pivot = ",\n            ".join(
        f"max({col}) filter (where step = {k}) as {col}_{k}"
        for k in steps for col in ("file_d", "status", "status_detail", "utc_text", "event_json"))
    upto = lambda col, k: f"case when x.file_d_{k} <= x.file_d then x.{col}_{k} end"  # noqa: E731
    con.execute(f"""
    create table exports as
    with histories as (
        select p, any_value(channel) as channel, any_value(tracking_number) as tracking_number,
            any_value(carrier_label) as carrier_label, any_value(country) as country,
            min(file_d) as lo, max(file_d) as hi,
            {pivot},
        from agg_events
        group by p
    ),
    export_days as (
        -- an aggregator export repeats a tracking's whole history every day while it is moving
        select h.*, unnest(range(h.lo, least(h.hi + 1, {days}))) as file_d from histories as h
    )
    select x.file_d, x.p, x.channel, x.tracking_number, x.carrier_label, x.country,
        coalesce({", ".join(upto("status", k) for k in reversed(steps))}) as status,
        coalesce({", ".join(upto("status_detail", k) for k in reversed(steps))}) as status_detail,
        coalesce({", ".join(upto("utc_text", k) for k in steps)}) as created_at,
        coalesce({", ".join(upto("utc_text", k) for k in reversed(steps))}) as updated_at,
        ('[' || concat_ws(',', {", ".join(upto("event_json", k) for k in steps)}) || ']')::json as history,
    from export_days as x
    """)
    con.execute(f"""
    create table out_easypost as
    select e.file_d, e.p,
        'trk_' || substr(md5('{seed}ep' || e.tracking_number), 1, 32) as id,
        'Tracker' as object,
        'production' as mode,
        e.tracking_number as tracking_code,
        e.status, e.status_detail, e.created_at, e.updated_at,
        null::varchar as signed_by,
        null::double as weight,
        null::varchar as est_delivery_date,
        null::varchar as shipment_id,
        e.carrier_label as carrier,
        e.history as tracking_details,
    from exports as e
    where e.channel = 'easypost'
    order by e.file_d
    """)
    con.execute(f"""
    create table out_aftership as
    select e.file_d, e.p,
        substr(md5('{seed}as' || e.tracking_number), 1, 32) as id,
        e.carrier_label as slug,
        e.tracking_number,
        e.status as tag,
        e.status_detail as subtag,
        {iso3} as origin_country_iso3,
        {iso3} as destination_country_iso3,
        e.history as checkpoints,
    from exports as e
    where e.channel = 'aftership'
    order by e.file_d
    """)
    con.execute("drop table exports; drop table agg_events")


ORDER_KEYS = {
    "out_orders": "purchase_sec, p, k, cont",
    "out_confirmations": "rev, ship_d, p, k",
    "out_scans": "utc_at, p, step",
    "out_easypost": "p",
    "out_aftership": "p",
}


def _copy(con, table: str, columns, day: int, path: Path, options: str) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    con.execute(f"copy (select {cols} from {table} where file_d = {day} order by {ORDER_KEYS[table]}) "
                f"to '{path}' ({options})")


def _write_files(con, root: Path, start: dt.date, days: int, aggregator_exports: bool) -> int:
    """One file per day and feed (the aggregator exports only on days with something to export), and the catalog."""
    written = 0
    con.execute(f"""copy (select s.sku, c.category from skus as s join categories as c on c.c = s.c
                where s.in_catalog order by c.c, s.i) to '{root / "catalog" / "catalog.csv"}' (header)""")
    written += 1
    ep_cols = [r[0] for r in con.execute("describe out_easypost").fetchall()][2:]
    as_cols = [r[0] for r in con.execute("describe out_aftership").fetchall()][2:]
    ep_days = {r[0] for r in con.execute("select distinct file_d from out_easypost").fetchall()}
    as_days = {r[0] for r in con.execute("select distinct file_d from out_aftership").fetchall()}
    tsv = "header, delimiter '\t'"
    pending = []
    gzipper = ThreadPoolExecutor(max_workers=1)
    for d in range(days):
        name = (start + dt.timedelta(days=d)).isoformat()
        _copy(con, "out_orders", ORDER_HEADER, d, root / "orders" / f"orders_{name}.txt", tsv)
        _copy(con, "out_confirmations", CONFIRMATION_HEADER, d,
              root / "confirmations" / f"confirmations_{name}.txt", tsv)
        _copy(con, "out_scans", SCAN_HEADER, d, root / "scans" / f"scans_{name}.csv", "header")
        written += 3
        if aggregator_exports and d in ep_days:
            _copy(con, "out_easypost", ep_cols, d, root / "scans" / f"scans_{name}_easypost.jsonl", "format json")
            written += 1
        if aggregator_exports and d in as_days:
            plain = root / "scans" / f".scans_{name}_aftership.jsonl.tmp"
            _copy(con, "out_aftership", as_cols, d, plain, "format json")
            pending.append(gzipper.submit(_gzip, plain, root / "scans" / f"scans_{name}_aftership.jsonl.gz"))
            written += 1
    try:
        for job in pending:
            job.result()
    finally:
        gzipper.shutdown()
    return written


def _gzip(plain: Path, target: Path) -> None:
    """Gzip in a worker thread while DuckDB writes the next files (zlib releases the GIL); mtime 0: stable bytes."""
    target.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=6, mtime=0))
    plain.unlink()
