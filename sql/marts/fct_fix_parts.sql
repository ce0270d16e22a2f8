-- The parts of every package not validly tracked by the end of the run's last date, with what the fix file
-- (marts.fct_fix_rows) writes per part: its order item, quantity and ship method. It holds the parts of that date's
-- invalid and at-risk packages (and of other invalid ones outside their windows), a small table that outlives the
-- build, so the part-level intermediate table can go as soon as the packages are built.
-- One row per part of such a package.
-- kind: table
-- grain: seller_id, order_id, order_item_id, part_number
-- upstream: marts.fct_packages, intermediate.int_order_item_parts, config.run
-- not null: package_id, seller_id, order_id, order_item_id, part_number, quantity
-- columns:
--   package_id: the package the part travels in
--   seller_id: the seller's landing folder name
--   order_id: the marketplace's order id
--   order_item_id: the order item
--   part_number: the part's place among the item's parts (1 unless the item was split)
--   quantity: units of the item in the part
--   ship_method: the last non-blank ship-method confirmed for the part; NULL when no line gave one
with unresolved_packages as (
    select p.package_id,
    from marts.fct_packages as p
    cross join config.run as r
    where not p.is_exempt
        and package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code,
            p.first_event_at, p.first_physical_scan_at, p.first_valid_scan_at, to_timestamp(epoch(r.end_date + 1))
        ) is not null
)

select
    i.package_id,
    i.seller_id,
    i.order_id,
    i.order_item_id,
    i.part_number,
    i.quantity,
    i.ship_method,
from unresolved_packages as u
inner join intermediate.int_order_item_parts as i
    on i.package_id = u.package_id
