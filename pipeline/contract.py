"""Names that other tools, the SQL, the DAG and both drivers share (spec sections 3, 4 and 7): one place for each.

Kept free of imports beyond the standard library: the DAG file reads it at parse time.
"""

from __future__ import annotations

import enum
import re

# Invalid reasons, in the order the rule checks them (sql/macros.sql `package_invalid_reason` returns these; a test
# holds the two together, and the models' accepted-values checks read this tuple).
REASONS = (
    "missing_tracking",
    "carrier_not_integrated",
    "no_carrier_events",
    "pre_transit_only",
    "scan_before_ship_date",
)
STATUSES = ("ok", "below_target", "no_packages")
PACKAGE_STATUSES = ("valid", "invalid", "exempt")  # a package in the packages dataset
SCOPES = ("overall", "category", "carrier")

FEEDS = ("catalog", "orders", "confirmations", "scans")  # load order within a seller
DAILY_FEEDS = ("orders", "confirmations", "scans")  # the catalog changes rarely: it is never stale

# Published datasets: Parquet under <output>/<dataset>/snapshot_date=D/<seller_id>.parquet; the first three and
# `packages` are the spec's (section 7), the others the early warning, the carrier figures and the per-reason counts.
DATASETS = (
    "vtr_snapshots",
    "category_report",
    "invalid_packages",
    "at_risk_packages",
    "projected_vtr",
    "carrier_performance",
    "reason_summary",
    "packages",
)

# A seller id or a marketplace as part of a file name: letters (of any alphabet), digits, '.', '-' and '_' as they
# are, anything else (a space, a slash, '%' itself, a leading dot) as %XX of its UTF-8 bytes, so that two names never
# collapse into one file ('Amazon se' is Amazon%20se, 'Amazon_se' stays) and none leads out of its folder
_NOT_IN_FILE_NAMES = re.compile(r"[^\w.-]|^\.")


def file_part(text: str, also: str = "") -> str:
    """`text` encoded for a file name; `also`: characters encoded too (the separator the name puts after it)."""
    pattern = re.compile(f"[{re.escape(also)}]|{_NOT_IN_FILE_NAMES.pattern}") if also else _NOT_IN_FILE_NAMES
    encoded = pattern.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogatepass")), text)
    return encoded or "%"  # no name: a file name no other text encodes to


# Airflow pool bounding how many sellers' chains run at once (the launcher sizes it; the lake allows many writers)
SELLER_POOL = "vtr_sellers"


class FileStatus(enum.StrEnum):
    """What ingest did with a file found in a feed folder."""

    LOADED = "loaded"  # new content, loaded now
    UNCHANGED = "unchanged"  # same path, size and time as a file loaded before: not read again
    DUPLICATE = "duplicate"  # new path, but the content of a file loaded before
    FAILED = "failed"  # cannot be read as what it claims (or refused): nothing of it loaded
    WAITING = "not yet complete"  # written less than settle_seconds ago (or after such a file): the next run reads it
    NOT_READ = "not read"  # not in a feed folder (an unknown folder, a file in the seller's folder): named, never read


class CheckLevel(enum.StrEnum):
    FAIL = "fail"  # withholds the seller's publication, on every retry, while the cause is there
    WARN = "warn"  # reported in the summary and, for files, notified once
