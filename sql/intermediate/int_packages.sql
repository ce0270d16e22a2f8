-- Packages: confirmed order items grouped by order and tracking number, or by order, ship date and carrier when untracked.
-- One row per package.
-- kind: table
-- grain: package_id
-- upstream: intermediate.int_order_items_confirmed, staging.stg_orders, staging.stg_catalog
-- not null: package_id, seller_id, marketplace, order_id, ship_date, promised_delivery_date, categories
-- columns:
--   package_id: hash of seller, order and tracking number (or ship date and carrier when untracked)
--   seller_id: the seller's landing folder name
--   marketplace: the order's sales channel
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when the package has none
--   carrier_code: carrier of the last confirmation line applied to any of its items
--   ship_date: earliest ship date of its items
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories ('Uncategorized' for a sku not in the catalog), sorted
--   item_count: number of order items in it
--   uncategorized_item_count: items whose sku is not in the catalog
--   order_item_ids: its order items' ids, sorted
--   skus: its items' skus, distinct, sorted
with items as (
    select
        i.*,
        o.marketplace,
        o.latest_delivery_date,
        o.sku,
        c.category,
    from intermediate.int_order_items_confirmed as i
    inner join staging.stg_orders as o
        on o.seller_id = i.seller_id and o.order_id = i.order_id and o.order_item_id = i.order_item_id
    left join staging.stg_catalog as c
        on c.seller_id = o.seller_id and c.sku = o.sku
)

select
    md5(concat_ws(
        '|', seller_id, order_id,
        coalesce(tracking_number, '~' || min(ship_date)::varchar || '|' || coalesce(min(carrier_code), ''))
    )) as package_id,
    seller_id,
    min(marketplace) as marketplace,
    order_id,
    tracking_number,
    arg_max(carrier_code, last_load_seq) as carrier_code,
    min(ship_date) as ship_date,
    max(latest_delivery_date) as promised_delivery_date,
    list_sort(list_distinct(list(coalesce(category, 'Uncategorized')))) as categories,
    count(*) as item_count,
    count(*) filter (where category is null) as uncategorized_item_count,
    list_sort(list(order_item_id)) as order_item_ids,
    list_sort(list_distinct(list(sku))) as skus,
from items
group by
    seller_id,
    order_id,
    tracking_number,
    case when tracking_number is null then ship_date end,
    case when tracking_number is null then carrier_code end
