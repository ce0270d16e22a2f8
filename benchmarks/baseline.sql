-- Baseline for the benchmark: vtr_snapshots for one snapshot date, straight from the landing files, in one
-- hand-written DuckDB script (what an expert would write once by hand; no warehouse, no layers, no history).
-- It applies the spec's rules (sections 1-3 and 7) to the files the generator writes; it does not do what only a
-- pipeline needs (rejects, load-once by content hash, held confirmations, other outputs, alerts).
--
-- Variables, set by benchmarks/baseline.py with SET VARIABLE before this script runs:
--   landing             landing folder (landing/<seller_id>/{orders,confirmations,scans,catalog}/)
--   snapshot_date       D (DATE)
--   target, lag_days, scan_grace_days, windows (INTEGER[]), integrated_carriers (VARCHAR[])
--   carrier_aliases     MAP(VARCHAR, VARCHAR): lower-case alias -> carrier code
--   out_path            Parquet file written at the end
--
-- Load order ("later files and lines win"): files in name order within a feed (file_index of the sorted glob),
-- then lines; `seq` orders them.

set TimeZone = 'UTC';

-- Current order items: per (seller, order, item), the last non-blank value of each column.
create temp table orders as
with lines as (
    select
        regexp_extract(filename, '([^/]+)/orders/[^/]+$', 1) as seller_id,
        file_index::bigint * 10000000000 + ordinality as seq,
        nullif(trim("order-id"), '') as order_id,
        nullif(trim("order-item-id"), '') as order_item_id,
        nullif(trim(sku), '') as sku,
        nullif(trim("sales-channel"), '') as sales_channel,
        try_cast(left(nullif(trim("latest-delivery-date"), ''), 10) as date) as latest_delivery_date,
    from read_csv(getvariable('landing') || '/*/orders/*', delim = '\t', header = true, all_varchar = true,
                  quote = '', escape = '') with ordinality
)
select
    seller_id, order_id, order_item_id,
    coalesce(arg_max(sales_channel, seq), 'Unknown') as marketplace,
    arg_max(sku, seq) as sku,
    arg_max(latest_delivery_date, seq) as latest_delivery_date,
from lines
where order_id is not null and order_item_id is not null
group by seller_id, order_id, order_item_id;

-- Confirmation lines: carrier resolved through the aliases, tracking number normalised, action set/keep/remove.
create temp table confirmations as
with lines as (
    select
        regexp_extract(filename, '([^/]+)/confirmations/[^/]+$', 1) as seller_id,
        file_index::bigint * 10000000000 + ordinality as seq,
        nullif(trim("order-id"), '') as order_id,
        nullif(trim("order-item-id"), '') as order_item_id,
        try_cast(left(nullif(trim("ship-date"), ''), 10) as date) as ship_date,
        nullif(trim("carrier-code"), '') as code,
        nullif(trim("carrier-name"), '') as name,
        trim("tracking-number") as tracking_raw,
    from read_csv(getvariable('landing') || '/*/confirmations/*', delim = '\t', header = true, all_varchar = true,
                  quote = '', escape = '') with ordinality
),
resolved as (
    select *,
        case when upper(code) = 'OTHER' then coalesce(name, code) else coalesce(code, name) end as carrier_text,
        nullif(upper(regexp_replace(tracking_raw, '[\s-]+', '', 'g')), '') as tracking_norm,
    from lines
    where order_id is not null and ship_date is not null
)
select
    seller_id, seq, order_id, order_item_id, ship_date,
    coalesce(getvariable('carrier_aliases')[lower(carrier_text)], upper(carrier_text)) as carrier_code,
    case
        when upper(tracking_raw) = 'NULL' then 'remove'
        when tracking_norm is null then 'keep'
        else 'set'
    end as action,
    case when upper(tracking_raw) = 'NULL' then null else tracking_norm end as tracking_number,
from resolved;

create temp table catalog as
select
    regexp_extract(filename, '([^/]+)/catalog/[^/]+$', 1) as seller_id,
    trim(sku) as sku,
    arg_max(trim(category), file_index::bigint * 10000000000 + ordinality) as category,
from read_csv(getvariable('landing') || '/*/catalog/*', header = true, all_varchar = true) with ordinality
where nullif(trim(sku), '') is not null and nullif(trim(category), '') is not null
group by all;

-- Replay: per order item, the last ship date and carrier, and the tracking number after set/keep/remove;
-- a whole-order line applies to every item of the order. Items whose order line is missing are left out.
create temp table packages as
with item_lines as (
    select seller_id, order_id, order_item_id, seq, ship_date, carrier_code, action, tracking_number
    from confirmations
    where order_item_id is not null
    union all
    select c.seller_id, c.order_id, o.order_item_id, c.seq, c.ship_date, c.carrier_code, c.action, c.tracking_number
    from confirmations as c
    join orders as o on o.seller_id = c.seller_id and o.order_id = c.order_id
    where c.order_item_id is null
),
items as (
    select
        l.seller_id, l.order_id, l.order_item_id,
        arg_max(l.ship_date, l.seq) as ship_date,
        arg_max(l.carrier_code, l.seq) as carrier_code,
        arg_max_null(l.tracking_number, l.seq) filter (where l.action <> 'keep') as tracking_number,
        max(l.seq) as last_seq,
    from item_lines as l
    group by all
),
placed as (
    select i.*, o.marketplace, o.latest_delivery_date, coalesce(k.category, 'Uncategorized') as category
    from items as i
    join orders as o
        on o.seller_id = i.seller_id and o.order_id = i.order_id and o.order_item_id = i.order_item_id
    left join catalog as k on k.seller_id = o.seller_id and k.sku = o.sku
)
select
    seller_id, order_id, tracking_number,
    min(marketplace) as marketplace,
    arg_max(carrier_code, last_seq) as carrier_code,
    min(ship_date) as ship_date,
    max(latest_delivery_date) as promised_delivery_date,
    list(distinct category) as categories,
    row_number() over () as package_no,
from placed
group by seller_id, order_id, tracking_number,
    case when tracking_number is null then ship_date end,
    case when tracking_number is null then carrier_code end
-- only packages some window of D can hold
having max(latest_delivery_date)
    between getvariable('snapshot_date') - getvariable('lag_days') - list_max(getvariable('windows')) + 1
        and getvariable('snapshot_date') - getvariable('lag_days');

-- Carrier events up to the end of D, only for tracking numbers of those packages:
-- the canonical CSV, EasyPost trackers and AfterShip trackings (statuses mapped as in spec section 2 and 7).
create temp table scans as
with wanted as (
    select distinct seller_id, tracking_number from packages where tracking_number is not null
),
csv as (
    select
        regexp_extract(filename, '([^/]+)/scans/[^/]+$', 1) as seller_id,
        tracking_number as tracking_raw,
        event_time,
        lower(trim(status)) as status,
    from read_csv(getvariable('landing') || '/*/scans/*.csv*', header = true, all_varchar = true)
),
exports as (
    select
        regexp_extract(filename, '([^/]+)/scans/[^/]+$', 1) as seller_id,
        coalesce(tracking_code, tracking_number) as tracking_raw,
        tracking_details, checkpoints,
    from read_json(getvariable('landing') || '/*/scans/*.json*', format = 'newline_delimited', columns = {
        tracking_code: 'varchar', tracking_number: 'varchar',
        tracking_details: 'struct(status varchar, datetime varchar)[]',
        checkpoints: 'struct(tag varchar, subtag varchar, checkpoint_time varchar)[]'})
),
easypost as (
    select seller_id, tracking_raw, d.datetime as event_time,
        case lower(d.status)
            when 'return_to_sender' then 'returned'
            when 'cancelled' then 'unknown'
            when 'error' then 'unknown'
            else lower(d.status)
        end as status,
    from (select seller_id, tracking_raw, unnest(tracking_details) as d from exports where tracking_details is not null)
),
aftership as (
    select seller_id, tracking_raw, c.checkpoint_time as event_time,
        case c.tag
            when 'Pending' then 'pre_transit'
            when 'InfoReceived' then 'pre_transit'
            when 'Expired' then 'unknown'
            when 'InTransit' then 'in_transit'
            when 'OutForDelivery' then 'out_for_delivery'
            when 'AvailableForPickup' then 'available_for_pickup'
            when 'Delivered' then 'delivered'
            when 'AttemptFail' then 'failure'
            when 'Exception' then
                case when c.subtag in ('Exception_010', 'Exception_011') then 'returned' else 'failure' end
        end as status,
    from (select seller_id, tracking_raw, unnest(checkpoints) as c from exports where checkpoints is not null)
),
events as (
    select * from csv
    union all
    select * from easypost
    union all
    select * from aftership
),
typed as (
    select
        seller_id,
        nullif(upper(regexp_replace(trim(tracking_raw), '[\s-]+', '', 'g')), '') as tracking_number,
        case when regexp_matches(trim(event_time), '^\d{4}-\d{2}-\d{2}') then try_cast(trim(event_time) as timestamptz) end
            as event_at,
        status,
    from events
)
select t.seller_id, t.tracking_number, t.event_at,
    t.status in ('in_transit', 'out_for_delivery', 'available_for_pickup', 'delivered', 'failure', 'returned')
        as is_physical,
from typed as t
semi join wanted as w on w.seller_id = t.seller_id and w.tracking_number = t.tracking_number
where t.event_at is not null
    and t.event_at < (getvariable('snapshot_date') + 1)::timestamp at time zone 'UTC'
    and t.status in ('pre_transit', 'in_transit', 'out_for_delivery', 'available_for_pickup', 'delivered',
                     'failure', 'returned', 'unknown');

-- Each package in each window of D, valid or the first reason that applies; then the counts per scope.
create temp table vtr_snapshots as
with windows as (
    select
        w as window_days,
        getvariable('snapshot_date') - getvariable('lag_days') - w + 1 as window_start,
        getvariable('snapshot_date') - getvariable('lag_days') as window_end,
    from unnest(getvariable('windows')) as t(w)
),
-- a package is validly tracked when one of its carrier's physical scans is at or after the grace bound
scanned as (
    select distinct p.package_no
    from packages as p
    join scans as s on s.seller_id = p.seller_id and s.tracking_number = p.tracking_number
    where s.is_physical
        and s.event_at >= (p.ship_date - getvariable('scan_grace_days'))::timestamp at time zone 'UTC'
),
judged as (
    select
        p.seller_id, p.marketplace, p.carrier_code, p.categories, p.promised_delivery_date,
        p.tracking_number is not null
            and coalesce(list_contains(getvariable('integrated_carriers'), p.carrier_code), false)
            and v.package_no is not null as is_valid,
    from packages as p
    left join scanned as v on v.package_no = p.package_no
),
in_window as (
    select w.window_days, j.*
    from judged as j
    join windows as w on j.promised_delivery_date between w.window_start and w.window_end
),
scoped as (
    select seller_id, marketplace, window_days, 'overall' as scope, null::varchar as scope_value, is_valid
    from in_window
    union all
    select seller_id, marketplace, window_days, 'category', unnest(categories), is_valid
    from in_window
    union all
    select seller_id, marketplace, window_days, 'carrier', coalesce(carrier_code, 'UNKNOWN'), is_valid
    from in_window
),
counted as (
    select seller_id, marketplace, window_days, scope, scope_value,
        count(*) as packages_total, count(*) filter (where is_valid) as packages_valid,
    from scoped
    group by all
),
-- every account (seller, marketplace with an order line) has an overall row in every window
overall as (
    select a.seller_id, a.marketplace, w.window_days, 'overall' as scope, null::varchar as scope_value,
        coalesce(c.packages_total, 0) as packages_total, coalesce(c.packages_valid, 0) as packages_valid,
    from (select distinct seller_id, marketplace from orders) as a
    cross join windows as w
    left join counted as c
        on c.scope = 'overall' and c.seller_id = a.seller_id and c.marketplace = a.marketplace
        and c.window_days = w.window_days
),
all_scopes as (
    select * from overall
    union all
    select * from counted where scope <> 'overall'
)
select
    s.seller_id, s.marketplace, s.window_days::integer as window_days, s.scope, s.scope_value,
    w.window_start, w.window_end, s.packages_total, s.packages_valid,
    case when s.packages_total > 0 then s.packages_valid / s.packages_total end as vtr,
    getvariable('target')::double as target,
    case
        when s.packages_total = 0 then 'no_packages'
        when s.packages_valid / s.packages_total < getvariable('target') then 'below_target'
        else 'ok'
    end as status,
    0::bigint as packages_exempt,  -- the benchmark's settings have no exemption
from all_scopes as s
join windows as w on w.window_days = s.window_days;

copy vtr_snapshots to (getvariable('out_path')) (format parquet);
