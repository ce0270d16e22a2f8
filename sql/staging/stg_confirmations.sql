-- Shipping-confirmation lines with carrier codes resolved and tracking numbers normalised, in load order.
-- One row per confirmation line.
-- Holds the lines of the orders in staging.stg_orders, and recent lines (shipped on or after config.run's earliest
-- date) whose order has not arrived at all (held).
-- kind: table
-- grain: seller_id, load_seq
-- upstream: raw.confirmations, raw.orders, staging.stg_orders, config.carrier_aliases, config.run
-- not null: seller_id, load_seq, order_id, ship_date, tracking_action
-- columns:
--   seller_id: the seller's landing folder name
--   load_seq: load order of the line (file, then line); later wins
--   file_id: the file the line came from (raw.files)
--   line: line number in that file
--   order_id: the marketplace's order id
--   order_item_id: the order item; NULL when the line confirms the whole order
--   quantity: units of the item in the line's package; NULL when blank
--   ship_date: ship date as written
--   carrier_code: carrier code after aliases; NULL when the line gives none (keeps the earlier one)
--   tracking_action: set (new number), remove (the literal NULL, any case) or keep (blank)
--   tracking_number: the normalised tracking number when tracking_action is set
--   ship_method: the line's ship-method; NULL when blank (keeps the earlier one)
--   carrier_code_as_confirmed: carrier-code as the seller wrote it (trimmed); NULL when blank
--   carrier_name_as_confirmed: carrier-name as the seller wrote it (trimmed); NULL when blank
with run_orders as (
    select distinct seller_id, order_id from staging.stg_orders
),

loaded_orders as (
    select distinct seller_id, order_id from raw.orders
),

resolved as (
    select
        c.*,
        -- carrier-name counts only when carrier-code is Other (or blank)
        case
            when upper(trim(c.carrier_code)) = 'OTHER' then coalesce(c.carrier_name, c.carrier_code)
            else coalesce(c.carrier_code, c.carrier_name)
        end as carrier_text,
        upper(trim(c.tracking_number)) = 'NULL' as is_tracking_removed,
        coalesce(c.tracking_key, normalize_tracking(c.tracking_number)) as normalized_tracking_number,
    from raw.confirmations as c
    -- joins, not subqueries under an OR: DuckDB cannot turn those into hash joins
    left join run_orders as r
        on r.seller_id = c.seller_id and r.order_id = c.order_id
    left join loaded_orders as l
        on l.seller_id = c.seller_id and l.order_id = c.order_id
    where r.order_id is not null
        or (l.order_id is null and c.ship_date >= (select earliest_promised_date from config.run))
)

select
    r.seller_id,
    load_seq(r.file_id, r.line) as load_seq,
    r.file_id,
    r.line,
    r.order_id,
    r.order_item_id,
    r.quantity,
    r.ship_date,
    coalesce(a.carrier_code, upper(trim(r.carrier_text))) as carrier_code,
    case
        when r.is_tracking_removed then 'remove'
        when r.normalized_tracking_number is null then 'keep'
        else 'set'
    end as tracking_action,
    case when not r.is_tracking_removed then r.normalized_tracking_number end as tracking_number,
    nullif(trim(r.ship_method), '') as ship_method,
    r.carrier_code as carrier_code_as_confirmed,
    r.carrier_name as carrier_name_as_confirmed,
from resolved as r
left join config.carrier_aliases as a
    on a.alias = lower(trim(r.carrier_text))
