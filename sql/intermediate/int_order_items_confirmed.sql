-- The current confirmation of each order item: every confirmation line replayed in load order (spec sections 2 and 7).
-- One row per confirmed order item whose order line has arrived.
-- kind: table
-- grain: seller_id, order_id, order_item_id
-- upstream: staging.stg_confirmations, staging.stg_orders
-- not null: seller_id, order_id, order_item_id, ship_date
-- columns:
--   seller_id: the seller's landing folder name
--   order_id: the marketplace's order id
--   order_item_id: the order item
--   ship_date: ship date of the last line applied (every line sets it)
--   carrier_code: the last non-blank carrier applied
--   tracking_number: the current normalised tracking number; NULL when none or removed
--   last_load_seq: load order of the last line applied to the item
--   ship_method: the last non-blank ship-method applied; NULL when no line gave one
with item_lines as (
    select
        c.seller_id, c.order_id, c.order_item_id, c.load_seq, c.ship_date, c.carrier_code,
        c.tracking_action, c.tracking_number, c.ship_method,
    from staging.stg_confirmations as c
    where c.order_item_id is not null
    union all
    -- a whole-order line applies to every item of the order, also items whose line arrives later
    select
        c.seller_id, c.order_id, o.order_item_id, c.load_seq, c.ship_date, c.carrier_code,
        c.tracking_action, c.tracking_number, c.ship_method,
    from staging.stg_confirmations as c
    inner join staging.stg_orders as o
        on o.seller_id = c.seller_id and o.order_id = c.order_id
    where c.order_item_id is null
)

select
    l.seller_id,
    l.order_id,
    l.order_item_id,
    arg_max(l.ship_date, l.load_seq) as ship_date,
    arg_max(l.carrier_code, l.load_seq) as carrier_code,
    arg_max_null(l.tracking_number, l.load_seq) filter (where l.tracking_action <> 'keep') as tracking_number,
    max(l.load_seq) as last_load_seq,
    arg_max(l.ship_method, l.load_seq) as ship_method,
from item_lines as l
inner join staging.stg_orders as o
    on o.seller_id = l.seller_id and o.order_id = l.order_id and o.order_item_id = l.order_item_id
group by l.seller_id, l.order_id, l.order_item_id
