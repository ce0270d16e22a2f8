-- Packages: the parts of an order carrying one tracking number, or, untracked, one ship date and carrier (spec
-- section 3). Packages are counted, not units: quantities only decided how lines became parts.
-- One row per package.
-- kind: table
-- grain: package_id
-- upstream: intermediate.int_order_item_parts, staging.stg_orders, staging.stg_catalog
-- not null: package_id, seller_id, marketplace, order_id, ship_date, promised_delivery_date, categories
-- columns:
--   package_id: hash of seller, order and tracking number (or ship date and carrier when untracked)
--   seller_id: the seller's landing folder name
--   marketplace: the order's sales channel
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when the package has none
--   carrier_code: carrier of the last confirmation line applied to any of its parts
--   ship_date: earliest ship date of its parts
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories ('Uncategorized' for a sku not in the catalog), sorted
--   item_count: number of order items with a part in it
--   uncategorized_item_count: of those, items whose sku is not in the catalog
--   order_item_ids: its order items' ids, distinct, sorted
--   skus: its items' skus, distinct, sorted
--   ship_method: ship-method of the last confirmation line applied to any of its parts (a blank one keeps)
--   carrier_code_as_confirmed: carrier-code as the seller last wrote it for any of its parts
--   carrier_name_as_confirmed: carrier-name as the seller last wrote it for any of its parts
--   part_count: number of parts in it (more than item_count when untracked parts of one item share it)
--   order_value: the order's value: item-price plus shipping-price over all its items, cancelled ones included (blank is 0)
with order_values as (
    select seller_id, order_id, sum(coalesce(item_price, 0) + coalesce(shipping_price, 0)) as order_value,
    from staging.stg_orders
    group by seller_id, order_id
),

parts as (
    select
        p.*,
        o.marketplace,
        o.latest_delivery_date,
        o.sku,
        c.category,
        -- the carrier as written travels with the resolved code it gave
        case
            when p.carrier_code is not null
                then { 'code': p.carrier_code_as_confirmed, 'name': p.carrier_name_as_confirmed }
        end as carrier_as_confirmed,
    from intermediate.int_order_item_parts as p
    inner join staging.stg_orders as o
        on o.seller_id = p.seller_id and o.order_id = p.order_id and o.order_item_id = p.order_item_id
    left join staging.stg_catalog as c
        on c.seller_id = o.seller_id and c.sku = o.sku
)

select
    p.package_id,
    p.seller_id,
    min(p.marketplace) as marketplace,
    p.order_id,
    p.tracking_number,
    arg_max(p.carrier_code, p.last_load_seq) as carrier_code,
    min(p.ship_date) as ship_date,
    max(p.latest_delivery_date) as promised_delivery_date,
    list_sort(list_distinct(list(coalesce(p.category, 'Uncategorized')))) as categories,
    count(distinct p.order_item_id) as item_count,
    count(distinct p.order_item_id) filter (where p.category is null) as uncategorized_item_count,
    list_sort(list_distinct(list(p.order_item_id))) as order_item_ids,
    list_sort(list_distinct(list(p.sku))) as skus,
    arg_max(p.ship_method, p.last_load_seq) as ship_method,
    arg_max(p.carrier_as_confirmed, p.last_load_seq).code as carrier_code_as_confirmed,
    arg_max(p.carrier_as_confirmed, p.last_load_seq).name as carrier_name_as_confirmed,
    count(*) as part_count,
    any_value(v.order_value) as order_value,
from parts as p
inner join order_values as v
    on v.seller_id = p.seller_id and v.order_id = p.order_id
group by p.package_id, p.seller_id, p.order_id, p.tracking_number
