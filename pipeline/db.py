"""The warehouse connection and the raw layer's tables (spec sections 2, 5 and 7)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.settings import Settings

MACROS = Path(__file__).resolve().parent.parent / "sql" / "macros.sql"

RAW_DDL = """
create schema if not exists raw;
create schema if not exists config;
create sequence if not exists raw.file_seq;

create table if not exists raw.files (
    file_id bigint primary key,
    seller_id varchar not null,
    feed varchar not null,
    path varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    loaded_at timestamptz not null,
    modified_ns bigint,
    unique (seller_id, feed, sha256)
);
comment on table raw.files is 'Load manifest: one row per file loaded, in load order (file_id). A file is known by the sha256 of its decompressed content; path, size and modification time (modified_ns) let a run skip re-reading a file it has loaded.';

create table if not exists raw.orders (
    seller_id varchar not null,
    file_id bigint not null,
    line bigint not null,
    order_id varchar not null,
    order_item_id varchar not null,
    purchase_at timestamptz,
    sku varchar,
    quantity integer,
    item_price decimal(18, 2),
    currency varchar,
    latest_delivery_date date,
    sales_channel varchar
);
comment on table raw.orders is 'Order report lines as loaded (whitelisted columns only; blanks are NULL and keep the earlier value).';

create table if not exists raw.confirmations (
    seller_id varchar not null,
    file_id bigint not null,
    line bigint not null,
    order_id varchar not null,
    order_item_id varchar,
    quantity integer,
    ship_date date not null,
    carrier_code varchar,
    carrier_name varchar,
    tracking_number varchar,
    ship_method varchar,
    tracking_key varchar
);
-- a warehouse loaded before tracking_key existed gets the column; staging normalises its old rows itself
alter table raw.confirmations add column if not exists tracking_key varchar;
comment on table raw.confirmations is 'Shipping-confirmation lines as loaded; tracking_number keeps the literal NULL (remove) and NULL for blank (keep); tracking_key is the normalised number, computed once at load.';

create table if not exists raw.scans (
    seller_id varchar not null,
    file_id bigint not null,
    line bigint not null,
    tracking_number varchar not null,
    tracking_key varchar,
    carrier varchar,
    event_at timestamptz not null,
    status varchar not null
);
comment on table raw.scans is 'Carrier tracking events, canonical form, from CSV and from EasyPost / AfterShip JSON lines (an export''s repeats are kept: they change no first scan); only what the rule uses: an event''s free text can name the person who signed for the parcel; tracking_key is the normalised number, so a run finds a package''s events without normalising history.';

create table if not exists raw.catalog (
    seller_id varchar not null,
    file_id bigint not null,
    line bigint not null,
    sku varchar not null,
    category varchar not null
);
comment on table raw.catalog is 'Catalog lines: sku to category, per seller; later rows win.';

create table if not exists main.rejects (
    seller_id varchar not null,
    feed varchar not null,
    file varchar not null,
    line bigint not null,
    reason varchar not null,
    fields map(varchar, varchar),
    file_id bigint not null
);
comment on table main.rejects is 'Malformed input lines, one per line: file relative to the seller folder, 1-based line (header is line 1), reason, and the line''s whitelisted fields only.';
"""


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with the memory, thread and spill settings; writers make sure the raw tables exist."""
    config = {"memory_limit": settings.memory_limit, "threads": settings.threads}
    if settings.temp_directory:
        config["temp_directory"] = str(settings.temp_directory)
    if not read_only:
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse), read_only=read_only, config=config)
    con.execute("set TimeZone = 'UTC'")  # instants without an offset are UTC (spec section 2)
    con.execute("set enable_progress_bar = false")  # it would be garbage in task logs and piped output
    if not read_only:
        con.execute(RAW_DDL)
        con.execute(MACROS.read_text())
    return con


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failed statement; DuckDB may have ended the transaction already (out of memory or disk),
    and that must not hide the error that caused it."""
    try:
        con.execute("rollback")
    except duckdb.TransactionException:
        pass
