"""What each feed's files hold: the whitelisted columns, their types, the row checks, and the SQL that turns a
file's lines (delimited or JSON lines) into checked rows. Only these columns are ever extracted, so buyers' and
recipients' personal data never reaches the warehouse, the rejects or a log (spec sections 2, 5 and 7)."""

from __future__ import annotations

from pipeline.ingest.errors import FileError

# Delimited feeds: canonical column -> accepted header names (normalised: lower case, '_' and ' ' as '-').
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": ("order-id", "amazon-order-id"),
        "order_item_id": ("order-item-id",),
        "purchase_date": ("purchase-date",),
        "sku": ("sku",),
        "quantity": ("quantity-purchased", "quantity"),
        "item_price": ("item-price",),
        "currency": ("currency",),
        "latest_delivery_date": ("latest-delivery-date",),
        "sales_channel": ("sales-channel",),
        "shipping_price": ("shipping-price",),
    },
    "confirmations": {
        "order_id": ("order-id", "amazon-order-id"),
        "order_item_id": ("order-item-id",),
        "quantity": ("quantity",),
        "ship_date": ("ship-date",),
        "carrier_code": ("carrier-code",),
        "carrier_name": ("carrier-name",),
        "tracking_number": ("tracking-number",),
        "ship_method": ("ship-method",),
    },
    "scans": {
        "tracking_number": ("tracking-number",),
        "carrier": ("carrier",),
        "event_time": ("event-time",),
        "status": ("status",),
    },
    "catalog": {"sku": ("sku",), "category": ("category",)},
}
REQUIRED = {
    "orders": ("order_id", "order_item_id", "latest_delivery_date"),
    "confirmations": ("order_id", "ship_date"),
    "scans": ("tracking_number", "event_time", "status"),
    "catalog": ("sku", "category"),
}
SCAN_STATUSES = (
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "available_for_pickup",
    "delivered",
    "failure",
    "returned",
    "unknown",
)

# Per feed: the typed raw columns (from the whitelisted text fields f.<col>), and the row checks (first failing wins)
# over the text fields and the typed values f.typed_<col>, so that each value is parsed once.
TYPED: dict[str, dict[str, str]] = {
    "orders": {
        "order_id": "f.order_id",
        "order_item_id": "f.order_item_id",
        "purchase_at": "parse_instant(f.purchase_date)",
        "sku": "f.sku",
        "quantity": "try_cast(f.quantity as integer)",
        "item_price": "parse_amount(f.item_price)",
        "currency": "f.currency",
        "latest_delivery_date": "parse_calendar_date(f.latest_delivery_date)",
        "sales_channel": "f.sales_channel",
        "shipping_price": "parse_amount(f.shipping_price)",
    },
    "confirmations": {
        "order_id": "f.order_id",
        "order_item_id": "f.order_item_id",
        "quantity": "try_cast(f.quantity as integer)",
        "ship_date": "parse_calendar_date(f.ship_date)",
        "carrier_code": "f.carrier_code",
        "carrier_name": "f.carrier_name",
        "tracking_number": "f.tracking_number",
        "ship_method": "f.ship_method",
        "tracking_key": "normalize_tracking(f.tracking_number)",
    },
    "scans": {
        "tracking_number": "f.tracking_number",
        "tracking_key": "normalize_tracking(f.tracking_number)",
        "carrier": "f.carrier",
        "event_at": "parse_instant(f.event_time)",
        "status": "lower(f.status)",
    },
    "catalog": {"sku": "f.sku", "category": "f.category"},
}


def _date_checks(text: str, typed: str, label: str, instant: bool = False) -> list[tuple[str, str]]:
    """A date that does not parse, has an impossible offset, or cannot be real for this business is malformed."""
    checks = [(f"f.{text} is not null and f.typed_{typed} is null", f"'unparseable {label}'")]
    if instant:
        checks.insert(
            0,
            (f"f.{text} is not null and offset_beyond_14h(f.{text})", f"'time zone offset beyond +/-14:00 in {label}'"),
        )
    checks.append(
        (
            f"not is_plausible_date(f.typed_{typed}::date)",
            f"'implausible {label} (before 2000 or more than a year ahead)'",
        )
    )
    return checks


_STATUS_LIST = ", ".join(f"'{s}'" for s in SCAN_STATUSES)
CHECKS: dict[str, list[tuple[str, str]]] = {
    "orders": [
        ("f.order_id is null", "'missing order-id'"),
        ("f.order_item_id is null", "'missing order-item-id'"),
        *_date_checks("purchase_date", "purchase_at", "purchase-date", instant=True),
        *_date_checks("latest_delivery_date", "latest_delivery_date", "latest-delivery-date"),
        (
            "f.quantity is not null and not regexp_full_match(f.quantity, '\\d{1,9}')",
            "'quantity-purchased must be a whole number of at least 0'",
        ),
        ("f.item_price is not null and f.typed_item_price is null", "'unparseable item-price'"),
        ("f.shipping_price is not null and f.typed_shipping_price is null", "'unparseable shipping-price'"),
    ],
    "confirmations": [
        ("f.order_id is null", "'missing order-id'"),
        ("f.ship_date is null", "'missing ship-date'"),
        *_date_checks("ship_date", "ship_date", "ship-date"),
        (
            "f.quantity is not null and not (regexp_full_match(f.quantity, '\\d{1,9}') and f.typed_quantity >= 1)",
            "'quantity must be a whole number of at least 1'",
        ),
    ],
    "scans": [
        ("f.tracking_number is null", "'missing tracking_number'"),
        ("f.event_time is null", "'missing event_time'"),
        *_date_checks("event_time", "event_at", "event_time", instant=True),
        ("f.status is null", "'missing status'"),
        (f"f.typed_status not in ({_STATUS_LIST})", "'unknown status ' || f.status"),
    ],
    "catalog": [
        ("f.sku is null", "'missing sku'"),
        ("f.category is null", "'missing category'"),
    ],
}
# A control character inside a value (a NUL, an escape, C1's CSI) is never data: the row is malformed. Tab is a
# separator.
CONTROL_CHARACTER = "[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f]"
# A rejected value as kept: its control characters written \xNN (the catalog cannot hold a NUL, a reader would
# see an escape sequence act on the terminal)
ESCAPED = (
    f"case when regexp_matches({{0}}, '{CONTROL_CHARACTER}') then array_to_string(list_transform("
    f"string_split({{0}}, ''), lambda ch: case when regexp_matches(ch, '{CONTROL_CHARACTER}') "
    "then printf('\\x%02x', ord(ch)) else ch end), '') else {0} end"
)

CSV_FIELD = """'(?:^|,)("(?:[^"]|"")*"|[^,]*)'"""


def normalise_header(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace("_", "-").replace(" ", "-")


def positions(feed: str, header: list[str]) -> dict[str, int]:
    """Canonical column -> 1-based position in the header; a missing required column is a FileError."""
    found = {}
    for col, names in COLUMNS[feed].items():
        for name in names:
            if name in header:
                found[col] = header.index(name) + 1
                break
    missing = [c for c in REQUIRED[feed] if c not in found]
    if missing:
        raise FileError(f"missing required column(s): {', '.join(COLUMNS[feed][c][0] for c in missing)}")
    return found


def whitelisted(feed: str, header: list[str], field: str) -> str:
    """The whitelisted text columns, trimmed, blank as NULL; `field` formats a 1-based position as SQL."""
    found = positions(feed, header)
    return ",\n        ".join(
        f"nullif(trim({field.format(found[c])}), '') as {c}" if c in found else f"null::varchar as {c}"
        for c in COLUMNS[feed]
    )


def delimited_lines_sql(feed: str, fmt: str, header: list[str]) -> str:
    """SQL over table `lines` (a file read line by line) giving its checked rows; see checked_sql."""
    if fmt == "tsv":
        split = "string_split(l.text, chr(9))"
    else:
        # the quote-aware regex is slow: only lines holding a quote need it
        split = (
            f"case when contains(l.text, '\"') then list_transform(regexp_extract_all(l.text, {CSV_FIELD}, 1), "
            "lambda x: case when x like '\"%\"' then replace(x[2:-2], '\"\"', '\"') else x end) "
            "else string_split(l.text, ',') end"
        )
    source = f"""
    select f.file_id, f.line, case when f.fields is null then -3 else len(f.fields) end as n_fields,
        {whitelisted(feed, header, "fields[{}]")}
    from (select l.file_id, l.line, {split} as fields from lines as l where l.line > 1) as f"""
    # A line with the wrong number of columns keeps no fields: shifted values could be personal data.
    wrong_count = (
        f"f.n_fields <> {len(header)}",
        f"case when f.n_fields = -3 then 'line longer than 16 MiB' "
        f"else 'wrong column count: ' || f.n_fields || ' instead of {len(header)}' end",
    )
    return checked_sql(feed, source, wrong_count)


def checked_sql(feed: str, source: str, whole_line: tuple[str, str]) -> str:
    """Row checks and typed columns over `source` (file_id, line, n_fields, whitelisted text columns): file_id, line,
    n_fields, reason (NULL = loaded), the typed columns of a loaded row, the whitelisted fields of a rejected one.

    `whole_line` rejects the line before any field is looked at; such a line keeps no fields.
    """
    condition, reason = whole_line
    texts = ", ".join(f"f.{c}" for c in COLUMNS[feed])
    checks = "\n        ".join(f"when {cond} then {why}" for cond, why in CHECKS[feed])
    typed = ",\n        ".join(f"{expr} as typed_{col}" for col, expr in TYPED[feed].items())
    kept = ",\n    ".join(f"case when f.reason is null then f.typed_{col} end as {col}" for col in TYPED[feed])
    entries = ", ".join(
        f"{{'key': '{COLUMNS[feed][c][0]}', 'value': {ESCAPED.format(f'f.{c}')}}}" for c in COLUMNS[feed]
    )
    return f"""
with typed as (
    select f.*,
        {typed}
    from ({source}) as f
),
checked as (
    select f.*,
        case when {condition} then {reason}
        when regexp_matches(concat({texts}, ''), '{CONTROL_CHARACTER}') then 'control character in a value'
        {checks}
        end as reason
    from typed as f
)
select f.file_id, f.line, f.n_fields, f.reason,
    {kept},
    case when f.reason is not null and not ({condition})
        then map_from_entries(list_filter([{entries}], lambda x: x.value is not null))
    end as fields
from checked as f
"""


def fields_sql(feed: str, header: list[str], fmt: str) -> str:
    """SQL reading delimited files with DuckDB's CSV reader (parameter: the paths); the reader splits fields
    natively and keeps only the whitelisted columns. A line it skips (blank, wrong column count, too long, a
    quoted line break) would shift the numbering: the loader compares each file's rows with its lines."""
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(1, len(header) + 1)) + "}"
    quote = "" if fmt == "tsv" else '"'
    source = f"""
with r as (
    select filename, ordinality as o, *
    from read_csv(?, columns = {columns}, header = true, delim = {"chr(9)" if fmt == "tsv" else "','"},
                  quote = '{quote}', escape = '{quote}', auto_detect = false, max_line_size = 16777216,
                  buffer_size = 33554432, filename = true, ignore_errors = true)
         with ordinality
),
firsts as (select filename, min(o) as first from r group by filename)
select b.file_id, r.o - firsts.first + 2 as line, {len(header)} as n_fields,
        {whitelisted(feed, header, "r.c{}")}
from r join firsts using (filename) join batch_files as b on b.path = r.filename"""
    return checked_sql(feed, source, ("false", "null"))  # the reader checked the column count


def canonical_header(feed: str) -> list[str]:
    return [names[0] for names in COLUMNS[feed].values()]


def header_of(feed: str, fmt: str, first_line: str) -> list[str] | None:
    """The normalised header of a delimited file (None for JSON lines), checked for the required columns."""
    if fmt == "json":
        if feed != "scans":
            raise FileError(f"JSON is read for the scans feed only, not for {feed}")
        return None
    if not first_line.strip():
        raise FileError("no header line (a blank first line)")
    header = [normalise_header(h) for h in first_line.split("\t" if fmt == "tsv" else ",")]
    named = [h for h in header if h]
    if twice := next((h for i, h in enumerate(named) if h in named[:i]), None):
        raise FileError(f"the header names column {twice} twice: which one holds the values is unknown")
    positions(feed, header)
    return header
