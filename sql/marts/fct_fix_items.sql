-- The order items of every package not validly tracked by the end of the run's last date, with what the fix file
-- (pipeline/fixfile.py) writes per item: the quantity ordered and the ship method confirmed. It holds the items of
-- that date's invalid and at-risk packages (and of other invalid ones outside their windows), a small table that
-- outlives the build, so the item-level staging and intermediate tables can go as soon as the packages are built.
-- One row per order item of such a package.
-- kind: table
-- grain: seller_id, order_id, order_item_id
-- upstream: marts.fct_packages, intermediate.int_order_items_confirmed, staging.stg_orders, config.run
-- not null: package_id, seller_id, order_id, order_item_id
-- columns:
--   package_id: the package the item travels in
--   seller_id: the seller's landing folder name
--   order_id: the marketplace's order id
--   order_item_id: the order item
--   quantity: quantity purchased (the order report)
--   ship_method: the last non-blank ship-method confirmed for the item; NULL when no line gave one
with unresolved_packages as (
    select p.package_id, p.seller_id, p.order_id, unnest(p.order_item_ids) as order_item_id,
    from marts.fct_packages as p
    cross join config.run as r
    where package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code,
            p.first_event_at, p.first_physical_scan_at, p.first_valid_scan_at, to_timestamp(epoch(r.end_date + 1))
        ) is not null
)

select
    u.package_id,
    u.seller_id,
    u.order_id,
    u.order_item_id,
    o.quantity,
    i.ship_method,
from unresolved_packages as u
inner join intermediate.int_order_items_confirmed as i
    on i.seller_id = u.seller_id and i.order_id = u.order_id and i.order_item_id = u.order_item_id
inner join staging.stg_orders as o
    on o.seller_id = u.seller_id and o.order_id = u.order_id and o.order_item_id = u.order_item_id
