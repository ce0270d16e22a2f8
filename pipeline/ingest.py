"""Ingest: every new file of every seller's feed folders into the raw tables.

DuckDB reads the files: a feed's new files together, in batches, with its own CSV reader, or line by line (a
file whose lines the reader does not map one to one: blank lines, a wrong column count); Python only hashes,
decompresses, decodes what is not UTF-8 (Windows-1252, UTF-16) and reads the header line. A batch, or a file
read alone, loads in one transaction with its manifest rows. Only whitelisted columns are ever extracted, the
ones the product uses, so buyers' personal data never reaches the warehouse, the rejects or a log (spec sections
2, 5 and 7); a scan's free text (who signed for the parcel) is not among them. A JSON lines file counts one row
per tracking event (a line that is not a tracking object is one rejected row), so rows loaded + rows rejected =
rows read holds for every file."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
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
    },
    "catalog": {"sku": ("sku",), "category": ("category",)},
}
REQUIRED = {
    "orders": ("order_id", "order_item_id", "latest_delivery_date"),
    "confirmations": ("order_id", "ship_date"),
    "scans": ("tracking_number", "event_time", "status"),
    "catalog": ("sku", "category"),
}

# Per feed: the typed raw columns (from the whitelisted text fields f.<col>), and the row checks (first failing wins)
# over the text fields and the typed values f.typed_<col>, so that each value is parsed once.
TYPED = {
    "orders": {
        "order_id": "f.order_id",
        "order_item_id": "f.order_item_id",
        "purchase_at": "parse_instant(f.purchase_date)",
        "sku": "f.sku",
        "quantity": "try_cast(f.quantity as integer)",
        "item_price": "try_cast(f.item_price as decimal(18, 2))",
        "currency": "f.currency",
        "latest_delivery_date": "parse_calendar_date(f.latest_delivery_date)",
        "sales_channel": "f.sales_channel",
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
_STATUS_LIST = ", ".join(f"'{s}'" for s in SCAN_STATUSES)
CHECKS = {
    "orders": [
        ("f.order_id is null", "'missing order-id'"),
        ("f.order_item_id is null", "'missing order-item-id'"),
        ("f.purchase_date is not null and f.typed_purchase_at is null", "'unparseable purchase-date'"),
        ("f.latest_delivery_date is not null and f.typed_latest_delivery_date is null",
         "'unparseable latest-delivery-date'"),
        ("f.quantity is not null and not regexp_full_match(f.quantity, '\\d{1,9}')", "'unparseable quantity-purchased'"),
        ("f.item_price is not null and f.typed_item_price is null", "'unparseable item-price'"),
    ],
    "confirmations": [
        ("f.order_id is null", "'missing order-id'"),
        ("f.ship_date is null", "'missing ship-date'"),
        ("f.typed_ship_date is null", "'unparseable ship-date'"),
        ("f.quantity is not null and not regexp_full_match(f.quantity, '\\d{1,9}')", "'unparseable quantity'"),
    ],
    "scans": [
        ("f.tracking_number is null", "'missing tracking_number'"),
        ("f.event_time is null", "'missing event_time'"),
        ("f.typed_event_at is null", "'unparseable event_time'"),
        ("f.status is null", "'missing status'"),
        (f"f.typed_status not in ({_STATUS_LIST})", "'unknown status ' || f.status"),
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
_CHECKPOINTS = '[{"tag": "VARCHAR", "subtag": "VARCHAR", "checkpoint_time": "VARCHAR"}]'
_AFTERSHIP = f'"tracking_number": "VARCHAR", "slug": "VARCHAR", "checkpoints": {_CHECKPOINTS}'
TRACKING_SCHEMA = (
    '{"tracking_code": "VARCHAR", "carrier": "VARCHAR", "tracking_details": [{"status": "VARCHAR", '
    '"datetime": "VARCHAR"}], '
    f'{_AFTERSHIP}, "tracking": {{{_AFTERSHIP}}}}}'
)
JSON_EVENTS = f"""
with json_lines as (
    select file_id, line, json_valid(text) as parsed,
        starts_with(ltrim(text, ' ' || chr(9) || chr(13)), '{{') as is_object,
        case when parsed and is_object then from_json(text, '{TRACKING_SCHEMA}') end as obj
    from lines
),
objects as (
    select
        file_id,
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
        o.file_id, o.line, 1 as n_fields,
        nullif(trim(o.tracking_code), '') as tracking_number,
        nullif(trim(o.carrier), '') as carrier,
        nullif(trim(d.datetime), '') as event_time,
        {EASYPOST_STATUS} as status,
    from (select file_id, line, tracking_code, carrier, unnest(tracking_details) as d from objects) as o
),
aftership as (
    select
        o.file_id, o.line, 1 as n_fields,
        nullif(trim(o.aftership_number), '') as tracking_number,
        nullif(trim(o.slug), '') as carrier,
        nullif(trim(c.checkpoint_time), '') as event_time,
        {AFTERSHIP_STATUS} as status,
    from (select file_id, line, aftership_number, slug, unnest(checkpoints) as c from objects) as o
)
select * from easypost
union all
select * from aftership
union all
-- a line that is not JSON (n_fields -1), JSON but not an object (-2), or an object in neither format (0), is one
-- rejected row
select file_id, line, case when not parsed then -1 when not is_object then -2 else 0 end, null, null, null, null
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


def _positions(feed: str, header: list[str]) -> dict[str, int]:
    """Canonical column -> 1-based position in the header; a missing required column is a FileError."""
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
    return positions


def _whitelisted(feed: str, positions: dict[str, int], field: str) -> str:
    """The whitelisted text columns, trimmed, blank as NULL; `field` formats a 1-based position as SQL."""
    return ",\n        ".join(
        f"nullif(trim({field.format(positions[c])}), '') as {c}" if c in positions else f"null::varchar as {c}"
        for c in COLUMNS[feed]
    )


def _delimited_sql(feed: str, fmt: str, header: list[str]) -> str:
    """SQL over table `lines` giving one row per data line: file_id, line, reason, typed columns, fields map."""
    if fmt == "tsv":
        split = "string_split(l.text, chr(9))"
    else:
        # the quote-aware regex is slow: only lines holding a quote need it
        split = (f"case when contains(l.text, '\"') then list_transform(regexp_extract_all(l.text, {CSV_FIELD}, 1), "
                 "lambda x: case when x like '\"%\"' then replace(x[2:-2], '\"\"', '\"') else x end) "
                 "else string_split(l.text, ',') end")
    source = f"""
    select f.file_id, f.line, len(f.fields) as n_fields,
        {_whitelisted(feed, _positions(feed, header), "fields[{}]")}
    from (select l.file_id, l.line, {split} as fields from lines as l where l.line > 1) as f"""
    # A line with the wrong number of columns keeps no fields: shifted values could be personal data.
    wrong_count = (f"f.n_fields <> {len(header)}",
                   f"'wrong column count: ' || f.n_fields || ' instead of {len(header)}'")
    return _checked_sql(feed, source, wrong_count)


def _checked_sql(feed: str, source: str, first_check: tuple[str, str]) -> str:
    """Row checks and typed columns over `source` (file_id, line, n_fields, whitelisted text columns).

    `first_check` rejects the whole line before any field is looked at; such a line keeps no fields.
    """
    checks = "\n        ".join(f"when {cond} then {reason}" for cond, reason in CHECKS[feed])
    typed = ",\n        ".join(f"{expr} as typed_{col}" for col, expr in TYPED[feed].items())
    kept = ",\n    ".join(f"case when f.reason is null then f.typed_{col} end as {col}" for col in TYPED[feed])
    entries = ", ".join(f"{{'key': '{COLUMNS[feed][c][0]}', 'value': f.{c}}}" for c in COLUMNS[feed])
    whole_line, whole_reason = first_check
    return f"""
with typed as (
    select f.*,
        {typed}
    from ({source}) as f
),
checked as (
    select f.*,
        case when {whole_line} then {whole_reason}
        {checks}
        end as reason
    from typed as f
)
select f.file_id, f.line, f.n_fields, f.reason,
    {kept},
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


def _header(feed: str, fmt: str, text: str) -> list[str] | None:
    """The normalised header of a delimited file (None for JSON lines), checked for the required columns."""
    if fmt == "json":
        if feed != "scans":
            raise FileError(f"JSON is read for the scans feed only, not for {feed}")
        return None
    header_line = _first_line(text)
    if not header_line.strip():
        raise FileError("no header line (empty file, or a blank first line)")
    header = [_normalise_header(h) for h in header_line.split("\t" if fmt == "tsv" else ",")]
    _positions(feed, header)
    return header


@dataclass
class NewFile:
    """A file not loaded before, read once by Python: what the manifest records and how DuckDB can read it."""
    path: Path
    rel: str
    size: int
    modified_ns: int
    sha256: str
    fmt: str  # tsv | csv | json
    header: list[str] | None
    lines: int  # physical lines, header included
    content_size: int  # bytes after decompression
    direct: bool  # UTF-8 without a BOM, plain or .gz: DuckDB reads the file itself
    file_id: int = 0


def _try_inspect(feed: str, path: Path, rel: str) -> NewFile | FileError:
    try:
        return _inspect(feed, path, rel)
    except FileError as exc:
        return exc


def _inspect(feed: str, path: Path, rel: str) -> NewFile:
    """Hash, decompress and decode a file once; a file that is not what it claims is a FileError."""
    stat = path.stat()
    data, was_compressed = _read_content(path)
    text, was_utf8 = _decode(data)
    fmt = _format_of(path, text)
    return NewFile(
        path=path, rel=rel, size=stat.st_size, modified_ns=stat.st_mtime_ns,
        sha256=hashlib.sha256(data).hexdigest(), fmt=fmt, header=_header(feed, fmt, text),
        lines=data.count(b"\n") + (0 if data.endswith(b"\n") else 1),
        content_size=len(data),
        # anything re-encoded or with a BOM is handed over as text (no temporary copy on disk, where a killed run
        # would leave buyers' data behind)
        direct=was_utf8 and not data.startswith(codecs.BOM_UTF8)
        and (not was_compressed or path.suffix.lower() == ".gz"),
    )


# The CSV reader's limits: a line up to 16 MiB (an aggregator's tracking object is a few KiB), read through 32 MiB
# buffers; the reader allocates its buffers whole, so a larger line limit costs memory on every compressed file.
# Numbered lines of files, blank lines (whitespace and separators only, as spreadsheets export empty rows) left out.
# The CSV reader with one column and no quoting (NUL bytes were refused before) splits them in parallel; a line is
# its ordinality minus the ordinality of its file's first line (the reader keeps file and line order).
FILE_LINES = """
with r as (
    select filename, ordinality as o, text
    from read_csv(?, columns = {'text': 'VARCHAR'}, delim = chr(0), quote = '', escape = '', header = false,
                  auto_detect = false, max_line_size = 16777216, buffer_size = 33554432, filename = true)
         with ordinality
),
firsts as (select filename, min(o) as first from r group by filename)
select b.file_id, r.o - firsts.first + 1 as line, r.text
from r join firsts using (filename) join batch_files as b on b.path = r.filename
where r.text is not null and not regexp_full_match(r.text, '[\\s,]*')"""
# Text from Python: unnest in the select list (a lateral unnest of a large file's lines runs out of memory);
# CRs go before the split (CRLF line ends), as an rtrim of every line is several times slower.
TEXT_LINES = """
select (select file_id from batch_files) as file_id, t.line, t.text
from (
    select unnest(s.lines) as text, generate_subscripts(s.lines, 1) as line
    from (select string_split(replace(?::varchar, chr(13), ''), chr(10)) as lines) as s
) as t
where not regexp_full_match(t.text, '[\\s,]*')"""
# Delimited files with one header, read by DuckDB's CSV reader (fields split natively, only the whitelisted
# columns kept). A line the reader skips (blank, wrong column count, a quoted line break) would shift the
# numbering, so the caller compares each file's rows with its physical lines and loads a file that differs
# line by line instead.
FIELDS = """
with r as (
    select filename, ordinality as o, *
    from read_csv(?, columns = {columns}, header = true, delim = {delim}, quote = '{quote}', escape = '{quote}',
                  auto_detect = false, max_line_size = 16777216, buffer_size = 33554432, filename = true,
                  ignore_errors = true)
         with ordinality
),
firsts as (select filename, min(o) as first from r group by filename)
select b.file_id, r.o - firsts.first + 2 as line, {n_fields} as n_fields,
        {fields}
from r join firsts using (filename) join batch_files as b on b.path = r.filename"""


# Files of a batch to load line by line instead: a delimited file whose rows are not its lines one to one (the
# reader skipped a line, or read a blank one: an empty fields map with a reason), a JSON lines file of which no
# line is a JSON object (it is not what it claims; loading it alone fails it)
LINE_BY_LINE = """
select b.file_id
from batch_files as b
left join parsed as p using (file_id)
group by b.file_id, b.fmt, b.lines
having case
    when b.fmt = 'json' then bool_and(p.n_fields in (-1, -2))
    else count(p.line) <> b.lines - 1 or count(p.line) filter (p.reason is not null and cardinality(p.fields) = 0) > 0
end"""


def _start_batch(con: duckdb.DuckDBPyConnection, files: list[NewFile]) -> None:
    con.execute("begin transaction")
    con.execute(
        "create or replace temp table batch_files (file_id bigint, path varchar, rel varchar, sha256 varchar, "
        "size_bytes bigint, modified_ns bigint, fmt varchar, lines bigint)"
    )
    con.executemany(
        "insert into batch_files values (?, ?, ?, ?, ?, ?, ?, ?)",
        [[f.file_id, str(f.path), f.rel, f.sha256, f.size, f.modified_ns, f.fmt, f.lines] for f in files],
    )


# A batch's rows are held until it commits: this bounds the memory of a load, whatever the backlog.
BATCH_BYTES = 256 * 2**20


def _load_bulk(con: duckdb.DuckDBPyConnection, seller_id: str, feed: str, files: list[NewFile]) -> dict[int, tuple]:
    """Load files DuckDB reads itself, one statement per format and header for all of them, in one transaction.

    Returns file_id -> (read, loaded, rejected) for the files loaded; the others are for `_load_one`, and all of them
    are when a statement fails.
    """
    if not files:
        return {}
    try:
        _start_batch(con, files)
        groups: dict[tuple, list[str]] = {}
        for f in files:
            groups.setdefault((f.fmt, tuple(f.header or ())), []).append(str(f.path))
        for n, ((fmt, header), paths) in enumerate(groups.items()):
            if fmt == "json":
                con.execute(f"create or replace temp table lines as {FILE_LINES}", [paths])
                sql = _checked_sql(feed, JSON_EVENTS, NOT_TRACKING_OBJECT)
            else:
                source = FIELDS.format(
                    columns="{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(1, len(header) + 1)) + "}",
                    delim="chr(9)" if fmt == "tsv" else "','", quote="" if fmt == "tsv" else '"',
                    n_fields=len(header), fields=_whitelisted(feed, _positions(feed, list(header)), "r.c{}"),
                )
                sql = _checked_sql(feed, source, ("false", "null"))  # the reader checked the column count
            into = "create or replace temp table parsed as" if n == 0 else "insert into parsed by name"
            con.execute(f"{into} {sql}", [] if fmt == "json" else [paths])
        line_by_line = [row[0] for row in con.execute(LINE_BY_LINE).fetchall()]
        if line_by_line:
            con.execute("delete from parsed where file_id in (select unnest(?))", [line_by_line])
            con.execute("delete from batch_files where file_id in (select unnest(?))", [line_by_line])
        counts = _store(con, seller_id, feed)
        con.execute("commit")
    except duckdb.Error as exc:
        rollback(con)
        log.warning("%s %s: reading %d files together failed (%s); loading them one by one",
                    seller_id, feed, len(files), str(exc).splitlines()[0])
        return {}
    except BaseException:
        rollback(con)
        raise
    return counts


def _load_one(con: duckdb.DuckDBPyConnection, seller_id: str, feed: str, f: NewFile) -> tuple[int, int, int]:
    """Load one file line by line, with its manifest row, in one transaction (FileError when it cannot be read)."""
    try:
        _start_batch(con, [f])
        if f.direct:
            con.execute(f"create or replace temp table lines as {FILE_LINES}", [[str(f.path)]])
        else:
            con.execute(f"create or replace temp table lines as {TEXT_LINES}", [_decode(_read_content(f.path)[0])[0]])
        if f.fmt == "json":
            parse_sql = _checked_sql(feed, JSON_EVENTS, NOT_TRACKING_OBJECT)
            con.execute(f"create or replace temp table parsed as {parse_sql}")
            if con.execute(LINE_BY_LINE).fetchall():
                raise FileError("no line is a JSON object: not a JSON lines export (one tracking object a line)")
        else:
            con.execute(f"create or replace temp table parsed as {_delimited_sql(feed, f.fmt, f.header)}")
        counts = _store(con, seller_id, feed)
        con.execute("commit")
    except BaseException:
        rollback(con)
        raise
    return counts[f.file_id]


def _store(con: duckdb.DuckDBPyConnection, seller_id: str, feed: str) -> dict[int, tuple]:
    """Append table `parsed` to the raw table and the rejects, with a manifest row per file of `batch_files`;
    returns file_id -> (rows read, loaded, rejected)."""
    columns = ", ".join(TYPED[feed])
    con.execute(
        f"insert into raw.{feed} (seller_id, file_id, line, {columns}) "
        f"select ?, file_id, line, {columns} from parsed where reason is null",
        [seller_id],
    )
    con.execute(
        "insert into main.rejects select ?, ?, b.rel, p.line, p.reason, p.fields, p.file_id "
        "from parsed as p join batch_files as b using (file_id) where p.reason is not null order by p.file_id, p.line",
        [seller_id, feed],
    )
    con.execute(
        """insert into raw.files
        select b.file_id, ?, ?, b.rel, b.sha256, b.size_bytes, coalesce(c.read, 0), coalesce(c.read - c.rejected, 0),
            coalesce(c.rejected, 0), now(), b.modified_ns
        from batch_files as b
        left join (select file_id, count(*) as read, count(reason) as rejected from parsed group by file_id) as c
            using (file_id)
        order by b.file_id""",
        [seller_id, feed],
    )
    rows = con.execute("select file_id, rows_read, rows_loaded, rows_rejected from raw.files "
                       "where file_id in (select file_id from batch_files)").fetchall()
    con.execute("drop table if exists lines; drop table parsed; drop table batch_files")
    return {file_id: tuple(counts) for file_id, *counts in rows}


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
    """Load every new file of one seller's feed; file ids (the load order) follow the names."""
    known = con.execute(
        "select path, size_bytes, modified_ns, sha256 from raw.files where seller_id = ? and feed = ?",
        [seller_id, feed],
    ).fetchall()
    # a file with the path, size and modification time of one loaded before is that file: not read again,
    # so a daily run's work grows with the day's new files, not with every file ever dropped
    unchanged = {(path, size, modified) for path, size, modified, _ in known}
    seen = {digest: path for path, _, _, digest in known}
    results: dict[str, FileResult] = {}
    todo: list[tuple[Path, str]] = []
    for path in feed_files(settings, seller_id, feed):
        rel = path.relative_to(settings.landing / seller_id).as_posix()
        stat = path.stat()
        if (rel, stat.st_size, stat.st_mtime_ns) in unchanged:
            results[rel] = FileResult(seller_id, feed, rel, "skipped", message="loaded before")
        else:
            todo.append((path, rel))
    new: list[NewFile] = []
    loaded: dict[int, tuple] = {}
    batch: list[NewFile] = []

    def load_batch() -> None:
        loaded.update(_load_bulk(con, seller_id, feed, batch))
        batch.clear()

    # reading, decompressing and hashing release the GIL: two files at a time, ahead of DuckDB loading the
    # batches already read
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (_, rel), f in zip(todo, pool.map(lambda item: _try_inspect(feed, *item), todo)):
            if isinstance(f, FileError):
                results[rel] = FileResult(seller_id, feed, rel, "failed", message=str(f))
                continue
            if f.sha256 in seen:
                results[rel] = FileResult(seller_id, feed, rel, "skipped",
                                          message=f"same content as {seen[f.sha256]}, loaded before")
                continue
            seen[f.sha256] = rel
            f.file_id = con.execute("select nextval('raw.file_seq')").fetchone()[0]  # load order = name order
            new.append(f)
            results[rel] = FileResult(seller_id, feed, rel, "loaded")
            if f.direct:
                if batch and sum(b.content_size for b in batch) + f.content_size > BATCH_BYTES:
                    load_batch()
                batch.append(f)
        if batch:
            load_batch()
    for f in new:
        result = results[f.rel]
        try:
            counts = loaded[f.file_id] if f.file_id in loaded else _load_one(con, seller_id, feed, f)
        except FileError as exc:
            result.status, result.message = "failed", str(exc)
            continue
        except duckdb.Error as exc:
            result.status, result.message = "failed", f"could not be read: {str(exc).splitlines()[0]}"
            continue
        result.rows_read, result.rows_loaded, result.rows_rejected = counts
    for result in results.values():
        if result.message != "loaded before":  # the log names what happened today, not every old file
            log.info("%s %s %s: %s %s", seller_id, feed, result.file, result.status,
                     result.message or f"{result.rows_loaded} loaded, {result.rows_rejected} rejected")
    return list(results.values())


def ingest(con: duckdb.DuckDBPyConnection, settings: Settings, sellers: list[str] | None = None) -> list[FileResult]:
    """Load every new file of every seller and feed; a failed file leaves the others loading."""
    results = []
    for seller_id in sellers or settings.seller_ids():
        for feed in FEEDS:
            results.extend(ingest_feed(con, settings, seller_id, feed))
    return results
