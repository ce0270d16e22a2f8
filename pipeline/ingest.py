"""Ingest: every new file of every seller's feed folders into the raw tables, one transaction a file.

DuckDB reads and splits the files (read_text, set-based; no Python loop over rows); Python only hashes,
decompresses, decodes what is not UTF-8 (Windows-1252, UTF-16) and reads the header line. Only whitelisted
columns are ever extracted, so buyers' personal data never reaches the warehouse, the rejects or a log
(spec sections 2, 5 and 7). A JSON lines file counts one row per tracking event (a line that is not a
tracking object is one rejected row), so rows loaded + rows rejected = rows read holds for every file.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.db import rollback
from pipeline.settings import Settings

log = logging.getLogger(__name__)

FEEDS = ("catalog", "orders", "confirmations", "scans")
SCAN_STATUSES = (
    "pre_transit", "in_transit", "out_for_delivery", "available_for_pickup",
    "delivered", "failure", "returned", "unknown",
)


class FileError(Exception):
    """A file that cannot be read as what it claims; nothing of it is loaded."""


@dataclass
class FileResult:
    seller_id: str
    feed: str
    file: str
    status: str  # loaded | skipped | failed
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str = ""


# Delimited feeds: canonical column -> accepted header names (normalised: lower case, '_' and ' ' as '-').
COLUMNS = {
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
        "event_code": ("event-code",),
        "description": ("description",),
        "location": ("location",),
    },
    "catalog": {"sku": ("sku",), "category": ("category",)},
}
REQUIRED = {
    "orders": ("order_id", "order_item_id", "latest_delivery_date"),
    "confirmations": ("order_id", "ship_date"),
    "scans": ("tracking_number", "event_time", "status"),
    "catalog": ("sku", "category"),
}

# Per feed: the typed raw columns (from the whitelisted text fields f.<col>) and the row checks, first failing wins.
TYPED = {
    "orders": {
        "order_id": "f.order_id",
        "order_item_id": "f.order_item_id",
        "purchase_at": "parse_instant(f.purchase_date)",
        "sku": "f.sku",
        "quantity": "cast(f.quantity as integer)",
        "item_price": "try_cast(f.item_price as decimal(18, 2))",
        "currency": "f.currency",
        "latest_delivery_date": "parse_calendar_date(f.latest_delivery_date)",
        "sales_channel": "f.sales_channel",
    },
    "confirmations": {
        "order_id": "f.order_id",
        "order_item_id": "f.order_item_id",
        "quantity": "cast(f.quantity as integer)",
        "ship_date": "parse_calendar_date(f.ship_date)",
        "carrier_code": "f.carrier_code",
        "carrier_name": "f.carrier_name",
        "tracking_number": "f.tracking_number",
        "ship_method": "f.ship_method",
    },
    "scans": {
        "tracking_number": "f.tracking_number",
        "tracking_key": "normalize_tracking(f.tracking_number)",
        "carrier": "f.carrier",
        "event_at": "parse_instant(f.event_time)",
        "status": "lower(f.status)",
        "event_code": "f.event_code",
        "description": "f.description",
        "location": "f.location",
    },
    "catalog": {"sku": "f.sku", "category": "f.category"},
}
_STATUS_LIST = ", ".join(f"'{s}'" for s in SCAN_STATUSES)
CHECKS = {
    "orders": [
        ("f.order_id is null", "'missing order-id'"),
        ("f.order_item_id is null", "'missing order-item-id'"),
        ("f.purchase_date is not null and parse_instant(f.purchase_date) is null", "'unparseable purchase-date'"),
        ("f.latest_delivery_date is not null and parse_calendar_date(f.latest_delivery_date) is null",
         "'unparseable latest-delivery-date'"),
        ("f.quantity is not null and not regexp_full_match(f.quantity, '\\d{1,9}')", "'unparseable quantity-purchased'"),
        ("f.item_price is not null and try_cast(f.item_price as decimal(18, 2)) is null", "'unparseable item-price'"),
    ],
    "confirmations": [
        ("f.order_id is null", "'missing order-id'"),
        ("f.ship_date is null", "'missing ship-date'"),
        ("parse_calendar_date(f.ship_date) is null", "'unparseable ship-date'"),
        ("f.quantity is not null and not regexp_full_match(f.quantity, '\\d{1,9}')", "'unparseable quantity'"),
    ],
    "scans": [
        ("f.tracking_number is null", "'missing tracking_number'"),
        ("f.event_time is null", "'missing event_time'"),
        ("parse_instant(f.event_time) is null", "'unparseable event_time'"),
        ("f.status is null", "'missing status'"),
        (f"lower(f.status) not in ({_STATUS_LIST})", "'unknown status ' || f.status"),
    ],
    "catalog": [
        ("f.sku is null", "'missing sku'"),
        ("f.category is null", "'missing category'"),
    ],
}

# JSON adapters: each yields the canonical scan fields as text, one row per event, from the table `lines`.
EASYPOST_STATUS = """case lower(d.status)
    when 'return_to_sender' then 'returned'
    when 'cancelled' then 'unknown'
    when 'error' then 'unknown'
    else lower(d.status) end"""
AFTERSHIP_STATUS = """case c.tag
    when 'Pending' then 'pre_transit'
    when 'InfoReceived' then 'pre_transit'
    when 'Expired' then 'unknown'
    when 'InTransit' then 'in_transit'
    when 'OutForDelivery' then 'out_for_delivery'
    when 'AvailableForPickup' then 'available_for_pickup'
    when 'Delivered' then 'delivered'
    when 'AttemptFail' then 'failure'
    when 'Exception' then case when c.subtag in ('Exception_010', 'Exception_011') then 'returned' else 'failure' end
    else c.tag end"""
# The fields both adapters read, parsed once per line (from_json is lenient: a missing or mistyped key is NULL);
# AfterShip's API wraps a tracking in {"tracking": {...}}.
_CHECKPOINTS = ('[{"tag": "VARCHAR", "subtag": "VARCHAR", "checkpoint_time": "VARCHAR", "message": "VARCHAR", '
                '"location": "VARCHAR", "city": "VARCHAR", "state": "VARCHAR", "country_iso3": "VARCHAR"}]')
_AFTERSHIP = f'"tracking_number": "VARCHAR", "slug": "VARCHAR", "checkpoints": {_CHECKPOINTS}'
TRACKING_SCHEMA = (
    '{"tracking_code": "VARCHAR", "carrier": "VARCHAR", "tracking_details": [{"status": "VARCHAR", '
    '"status_detail": "VARCHAR", "datetime": "VARCHAR", "message": "VARCHAR", '
    '"tracking_location": {"city": "VARCHAR", "state": "VARCHAR", "country": "VARCHAR"}}], '
    f'{_AFTERSHIP}, "tracking": {{{_AFTERSHIP}}}}}'
)
JSON_EVENTS = f"""
with json_lines as (
    select line, try_cast(text as json) as parsed,
        case when json_type(parsed) = 'OBJECT' then from_json(parsed, '{TRACKING_SCHEMA}') end as obj
    from lines
),
objects as (
    select
        line,
        obj.tracking_code,
        obj.carrier,
        obj.tracking_details,
        coalesce(obj.tracking.tracking_number, obj.tracking_number) as aftership_number,
        coalesce(obj.tracking.slug, obj.slug) as slug,
        coalesce(obj.tracking.checkpoints, obj.checkpoints) as checkpoints,
    from json_lines
    where obj is not null
),
easypost as (
    select
        o.line, 1 as n_fields,
        nullif(trim(o.tracking_code), '') as tracking_number,
        nullif(trim(o.carrier), '') as carrier,
        nullif(trim(d.datetime), '') as event_time,
        {EASYPOST_STATUS} as status,
        coalesce(d.status_detail, d.status) as event_code,
        d.message as description,
        nullif(concat_ws(', ', d.tracking_location.city, d.tracking_location.state, d.tracking_location.country), '')
            as location
    from (select line, tracking_code, carrier, unnest(tracking_details) as d from objects) as o
),
aftership as (
    select
        o.line, 1 as n_fields,
        nullif(trim(o.aftership_number), '') as tracking_number,
        nullif(trim(o.slug), '') as carrier,
        nullif(trim(c.checkpoint_time), '') as event_time,
        {AFTERSHIP_STATUS} as status,
        coalesce(c.subtag, c.tag) as event_code,
        c.message as description,
        coalesce(c.location, nullif(concat_ws(', ', c.city, c.state, c.country_iso3), '')) as location
    from (select line, aftership_number, slug, unnest(checkpoints) as c from objects) as o
)
select * from easypost
union all
select * from aftership
union all
-- a line that is not JSON (n_fields -1), or JSON in neither format (0), is one rejected row
select line, case when parsed is null then -1 else 0 end, null, null, null, null, null, null, null
from json_lines
where obj is null
   or (obj.tracking_details is null and obj.checkpoints is null and obj.tracking.checkpoints is null)
"""

CSV_FIELD = """'(?:^|,)("(?:[^"]|"")*"|[^,]*)'"""


def _normalise_header(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace("_", "-").replace(" ", "-")


def _read_content(path: Path) -> tuple[bytes, bool]:
    """The file's bytes, decompressed when it is gzip (and whether it was); a broken archive is a FileError."""
    data = path.read_bytes()
    if path.suffix.lower() == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data), True
        except (OSError, EOFError, zlib.error) as exc:
            raise FileError(f"not a readable gzip archive ({exc})") from None
    return data, False


def _decode(data: bytes) -> tuple[str, bool]:
    """The text and whether it was UTF-8; else UTF-16 with a BOM (a spreadsheet's "Unicode text") or
    Windows-1252 (some regions' reports). Other NUL bytes mean not text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), False
        except UnicodeDecodeError:
            raise FileError("not readable as the UTF-16 text its byte-order mark announces") from None
    if b"\x00" in data[:65536]:
        raise FileError("binary content, not a text file")
    try:
        return data.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), False


def _first_line(text: str) -> str:
    end = text.find("\n")
    return (text if end < 0 else text[:end]).rstrip("\r")


def _format_of(path: Path, text: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in (".txt", ".tsv"):
        return "tsv"
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "json"
    first_line = _first_line(text)
    if first_line.lstrip()[:1] in ("{", "["):
        return "json"
    return "tsv" if "\t" in first_line else "csv"


def _delimited_sql(feed: str, fmt: str, header: list[str]) -> str:
    """SQL over table `lines` giving one row per data line: line, reason, typed columns, fields map."""
    positions = {}
    for col, names in COLUMNS[feed].items():
        for name in names:
            if name in header:
                positions[col] = header.index(name) + 1
                break
    missing = [c for c in REQUIRED[feed] if c not in positions]
    if missing:
        wanted = ", ".join(COLUMNS[feed][c][0] for c in missing)
        raise FileError(f"missing required column(s): {wanted}")
    if fmt == "tsv":
        split = "string_split(l.text, chr(9))"
    else:
        # the quote-aware regex is slow: only lines holding a quote need it
        split = (f"case when contains(l.text, '\"') then list_transform(regexp_extract_all(l.text, {CSV_FIELD}, 1), "
                 "lambda x: case when x like '\"%\"' then replace(x[2:-2], '\"\"', '\"') else x end) "
                 "else string_split(l.text, ',') end")
    fields = ",\n        ".join(
        f"nullif(trim(fields[{positions[c]}]), '') as {c}" if c in positions else f"null::varchar as {c}"
        for c in COLUMNS[feed]
    )
    source = f"""
    select f.line, len(f.fields) as n_fields,
        {fields}
    from (select l.line, {split} as fields from lines as l where l.line > 1) as f"""
    # A line with the wrong number of columns keeps no fields: shifted values could be personal data.
    wrong_count = (f"f.n_fields <> {len(header)}",
                   f"'wrong column count: ' || f.n_fields || ' instead of {len(header)}'")
    return _checked_sql(feed, source, wrong_count)


def _checked_sql(feed: str, source: str, first_check: tuple[str, str]) -> str:
    """Row checks and typed columns over `source` (line, n_fields, whitelisted text columns).

    `first_check` rejects the whole line before any field is looked at; such a line keeps no fields.
    """
    checks = "\n        ".join(f"when {cond} then {reason}" for cond, reason in CHECKS[feed])
    typed = ",\n    ".join(f"case when f.reason is null then {expr} end as {col}" for col, expr in TYPED[feed].items())
    entries = ", ".join(f"{{'key': '{COLUMNS[feed][c][0]}', 'value': f.{c}}}" for c in COLUMNS[feed])
    whole_line, whole_reason = first_check
    return f"""
with checked as (
    select f.*,
        case when {whole_line} then {whole_reason}
        {checks}
        end as reason
    from ({source}) as f
)
select f.line, f.reason,
    {typed},
    case when f.reason is not null and not ({whole_line})
        then map_from_entries(list_filter([{entries}], lambda x: x.value is not null))
    end as fields
from checked as f
"""


NOT_TRACKING_OBJECT = (
    "f.n_fields <= 0",
    "case when f.n_fields < 0 then 'invalid JSON' "
    "else 'not a tracking object (EasyPost tracking_details[] or AfterShip checkpoints[])' end",
)


def _parse_sql(feed: str, fmt: str, text: str) -> str:
    if fmt == "json":
        if feed != "scans":
            raise FileError(f"JSON is read for the scans feed only, not for {feed}")
        return _checked_sql(feed, JSON_EVENTS, NOT_TRACKING_OBJECT)
    header_line = _first_line(text)
    if not header_line.strip():
        raise FileError("no header line (empty file, or a blank first line)")
    sep = "\t" if fmt == "tsv" else ","
    header = [_normalise_header(h) for h in header_line.split(sep)]
    return _delimited_sql(feed, fmt, header)


def load_file(con: duckdb.DuckDBPyConnection, seller_id: str, feed: str, path: Path, rel: str) -> FileResult:
    """Load one file and its manifest row in one transaction; a file seen before (by content) is skipped."""
    result = FileResult(seller_id, feed, rel, "failed")
    stat = path.stat()
    try:
        data, was_compressed = _read_content(path)
        digest = hashlib.sha256(data).hexdigest()
        seen = con.execute(
            "select path from raw.files where seller_id = ? and feed = ? and sha256 = ?", [seller_id, feed, digest]
        ).fetchone()
        if seen:
            result.status = "skipped"
            result.message = f"same content as {seen[0]}, loaded before"
            return result
        text, was_utf8 = _decode(data)
        fmt = _format_of(path, text)
        parse_sql = _parse_sql(feed, fmt, text)
        # DuckDB's CSV reader splits a UTF-8 file (plain or .gz) into numbered lines, in parallel; anything
        # re-encoded or with a BOM is handed over as text (no temporary copy on disk, where a killed run would
        # leave buyers' data behind)
        if was_utf8 and not data.startswith(codecs.BOM_UTF8) and (not was_compressed or path.suffix.lower() == ".gz"):
            lines_sql, arg = FILE_LINES, str(path)
        else:
            lines_sql, arg = TEXT_LINES, text
        counts = _load_parsed(con, seller_id, feed, rel, stat.st_size, digest, fmt, parse_sql, lines_sql, arg,
                              stat.st_mtime_ns)
    except FileError as exc:
        result.message = str(exc)
        return result
    except duckdb.Error as exc:
        result.message = f"could not be read: {str(exc).splitlines()[0]}"
        return result
    result.status = "loaded"
    result.rows_read, result.rows_loaded, result.rows_rejected = counts
    return result


# Numbered lines of a file, blank lines (whitespace and separators only, as spreadsheets export empty rows) left out.
# A file: the CSV reader with one column and no quoting (NUL bytes were refused before) splits it in parallel.
FILE_LINES = """
select ordinality as line, text
from read_csv(?, columns = {'text': 'VARCHAR'}, delim = chr(0), quote = '', escape = '', header = false,
              auto_detect = false, max_line_size = 104857600) with ordinality
where text is not null and not regexp_full_match(text, '[\\s,]*')"""
# Text from Python: unnest in the select list (a lateral unnest of a large file's lines runs out of memory);
# CRs go before the split (CRLF line ends), as an rtrim of every line is several times slower.
TEXT_LINES = """
select t.line, t.text
from (
    select unnest(s.lines) as text, generate_subscripts(s.lines, 1) as line
    from (select string_split(replace(?::varchar, chr(13), ''), chr(10)) as lines) as s
) as t
where not regexp_full_match(t.text, '[\\s,]*')"""


def _load_parsed(con, seller_id, feed, rel, size, digest, fmt, parse_sql, lines_sql, arg,
                 modified_ns) -> tuple[int, int, int]:
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace temp table lines as {lines_sql}", [arg])
        if fmt == "json":
            lines, objects = con.execute(
                "select count(*), count(*) filter (json_type(try_cast(text as json)) = 'OBJECT') from lines").fetchone()
            if lines and not objects:
                raise FileError("no line is a JSON object: not a JSON lines export (one tracking object a line)")
        con.execute(f"create or replace temp table parsed as {parse_sql}")
        file_id = con.execute("select nextval('raw.file_seq')").fetchone()[0]
        columns = ", ".join(TYPED[feed])
        target = "raw." + feed
        con.execute(
            f"insert into {target} (seller_id, file_id, line, {columns}) "
            f"select ?, ?, line, {columns} from parsed where reason is null order by line",
            [seller_id, file_id],
        )
        con.execute(
            "insert into main.rejects select ?, ?, ?, line, reason, fields, ? from parsed "
            "where reason is not null order by line",
            [seller_id, feed, rel, file_id],
        )
        read, rejected = con.execute("select count(*), count(reason) from parsed").fetchone()
        con.execute(
            "insert into raw.files values (?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
            [file_id, seller_id, feed, rel, digest, size, read, read - rejected, rejected, modified_ns],
        )
        con.execute("drop table lines; drop table parsed")
        con.execute("commit")
    except BaseException:
        rollback(con)
        raise
    return read, read - rejected, rejected


def feed_files(settings: Settings, seller_id: str, feed: str) -> list[Path]:
    """Every file in the feed folder, in name order (hidden and partial files excluded)."""
    folder = settings.landing / seller_id / feed
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".part", ".tmp"))
    )


def ingest_feed(con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, feed: str) -> list[FileResult]:
    """Load every new file of one seller's feed, in name order."""
    # a file with the path, size and modification time of one loaded before is that file: not read again,
    # so a daily run's work grows with the day's new files, not with every file ever dropped
    loaded = set(con.execute(
        "select path, size_bytes, modified_ns from raw.files where seller_id = ? and feed = ?", [seller_id, feed],
    ).fetchall())
    results = []
    for path in feed_files(settings, seller_id, feed):
        rel = path.relative_to(settings.landing / seller_id).as_posix()
        stat = path.stat()
        if (rel, stat.st_size, stat.st_mtime_ns) in loaded:
            result = FileResult(seller_id, feed, rel, "skipped", message="loaded before")
        else:
            result = load_file(con, seller_id, feed, path, rel)
        if result.message != "loaded before":  # the log names what happened today, not every old file
            log.info("%s %s %s: %s %s", seller_id, feed, rel, result.status,
                     result.message or f"{result.rows_loaded} loaded, {result.rows_rejected} rejected")
        results.append(result)
    return results


def ingest(con: duckdb.DuckDBPyConnection, settings: Settings, sellers: list[str] | None = None) -> list[FileResult]:
    """Load every new file of every seller and feed; a failed file leaves the others loading."""
    results = []
    for seller_id in sellers or settings.seller_ids():
        for feed in FEEDS:
            results.extend(ingest_feed(con, settings, seller_id, feed))
    return results
