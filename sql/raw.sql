-- The lake's own tables, created once: the raw layer (whitelisted columns only), the rejects and the alert log.
-- Each is partitioned by seller: a seller's run writes and reads its own files, and compaction never mixes sellers.
create schema if not exists raw;
create schema if not exists marts;

create table raw.files (
    seller_id varchar not null,
    file_id bigint not null,
    feed varchar not null,
    path varchar not null,
    sha256 varchar not null,
    size_bytes bigint not null,
    modified_ns bigint,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    loaded_at timestamptz not null,
    changed_ns bigint,
    inode bigint
);
comment on table raw.files is 'Load manifest: one row per file loaded. Key: seller_id, file_id (the seller''s load order: a run''s new files in name order, after every file loaded before). A file is known by the sha256 of its decompressed content; path, size, modification and change times and inode let a run skip a file it has loaded (changed_ns and inode are NULL in rows of lakes made before they were recorded).';

create table raw.orders (
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
    sales_channel varchar,
    shipping_price decimal(18, 2)
);
comment on table raw.orders is 'Order report lines as loaded (whitelisted columns only; blanks are NULL and keep the earlier value). Columns added by a later release come last (pipeline/lake.py adds them to an older lake).';

create table raw.confirmations (
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
comment on table raw.confirmations is 'Shipping-confirmation lines as loaded; tracking_number keeps the literal NULL (remove) and NULL for blank (keep); tracking_key is the normalised number.';

create table raw.scans (
    seller_id varchar not null,
    file_id bigint not null,
    line bigint not null,
    tracking_number varchar not null,
    tracking_key varchar,
    carrier varchar,
    event_at timestamptz not null,
    status varchar not null
);
comment on table raw.scans is 'Carrier tracking events in canonical form, from CSV and EasyPost / AfterShip JSON lines (an export''s repeats are kept: they change no first scan); only what the rule uses, since an event''s text can name who signed for the parcel.';

create table raw.catalog (
    seller_id varchar not null,
    file_id bigint not null,
    line bigint not null,
    sku varchar not null,
    category varchar not null
);
comment on table raw.catalog is 'Catalog lines: sku to category, per seller; later rows win.';

create table main.rejects (
    seller_id varchar not null,
    file_id bigint not null,
    feed varchar not null,
    file varchar not null,
    line bigint not null,
    reason varchar not null,
    fields map(varchar, varchar)
);
comment on table main.rejects is 'Malformed input lines, one per line: file relative to the seller folder, 1-based line (header is line 1), reason, and the line''s whitelisted fields only.';

create table main.alert_log (
    alert_key varchar not null,
    kind varchar not null,
    seller_id varchar,
    marketplace varchar,
    snapshot_date date,
    channel varchar not null,
    title varchar not null,
    sent_at timestamptz not null,
    delivered boolean not null,
    attempts integer not null,
    error varchar
);
comment on table main.alert_log is 'One row per alert and channel each time delivery was tried: channel is the service and host only, never the URL; delivered=false rows are retried on the next run.';

-- DuckLake's `set partitioned by` is not in sqlfluff's duckdb dialect
-- noqa: disable=PRS
alter table raw.files set partitioned by (seller_id);
alter table raw.orders set partitioned by (seller_id);
alter table raw.confirmations set partitioned by (seller_id);
alter table raw.scans set partitioned by (seller_id);
alter table raw.catalog set partitioned by (seller_id);
alter table main.rejects set partitioned by (seller_id);
