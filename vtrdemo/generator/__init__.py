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
realistic rates (rates.py) and counted in the returned `GenerationStats`; the buyer data is invented.

Modules, in the order `generate` (landing.py) uses them: reference (days, marketplaces from markets.py, carriers
from carriers.py, catalog), orders, confirmations, scans, order_rows and carrier_formats (the files' rows as
text), stats, files (writing).
"""

from vtrdemo.generator.carriers import CARRIER_ALIASES
from vtrdemo.generator.files import PII_COLUMNS
from vtrdemo.generator.landing import generate
from vtrdemo.generator.stats import GenerationStats

__all__ = ["CARRIER_ALIASES", "PII_COLUMNS", "GenerationStats", "generate"]
