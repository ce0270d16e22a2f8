-- Every package as it stands now, with the times of its first scans: the facts the validity rule is applied to.
-- One row per package.
-- kind: table
-- grain: package_id
-- upstream: intermediate.int_packages, intermediate.int_package_scans, staging.stg_marketplace_profiles, config.exemptions
-- not null: package_id, seller_id, marketplace, order_id, ship_date, promised_delivery_date
-- columns:
--   package_id: hash of seller, order and tracking number (or ship date and carrier when untracked)
--   seller_id: the seller's landing folder name
--   marketplace: the order's sales channel
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when the package has none
--   carrier_code: carrier of the last confirmation line applied to any of its parts
--   is_carrier_integrated: the carrier is on the integrated list of the marketplace's profile
--   ship_date: earliest ship date of its parts
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories, sorted
--   item_count: number of order items in it
--   uncategorized_item_count: items whose sku is not in the catalog
--   order_item_ids: its order items' ids, sorted
--   skus: its items' skus, distinct, sorted
--   first_event_at: earliest carrier event of any status
--   first_physical_scan_at: earliest physical scan
--   first_valid_scan_at: earliest physical scan within the grace bound of the ship date
--   ship_method: ship-method of the last confirmation line applied to any of its parts
--   carrier_code_as_confirmed: carrier-code as the seller last wrote it for the package
--   carrier_name_as_confirmed: carrier-name as the seller last wrote it for the package
--   part_count: number of parts (of one or more order items) in it
--   order_value: the order's value (item-price plus shipping-price over all its items)
--   is_exempt: an exemption of the marketplace's profile applies (ship method, carrier, order value): the package counts in no VTR
select
    p.package_id,
    p.seller_id,
    p.marketplace,
    p.order_id,
    p.tracking_number,
    p.carrier_code,
    coalesce(list_contains(m.integrated_carriers, p.carrier_code), false) as is_carrier_integrated,
    p.ship_date,
    p.promised_delivery_date,
    p.categories,
    p.item_count,
    p.uncategorized_item_count,
    p.order_item_ids,
    p.skus,
    s.first_event_at,
    s.first_physical_scan_at,
    s.first_valid_scan_at,
    p.ship_method,
    p.carrier_code_as_confirmed,
    p.carrier_name_as_confirmed,
    p.part_count,
    p.order_value,
    -- exempt: the ship method exactly (trimmed), the carrier without regard to case, the value below the bound
    exists(
        select 1
        from config.exemptions as e
        where e.marketplace = lower(p.marketplace)
            and list_contains(e.ship_methods, trim(p.ship_method))
            and (e.carriers is null or list_contains(e.carriers, upper(p.carrier_code)))
            and p.order_value < e.max_order_value
    ) as is_exempt,
from intermediate.int_packages as p
inner join staging.stg_marketplace_profiles as m
    on m.marketplace = p.marketplace
left join intermediate.int_package_scans as s
    on s.package_id = p.package_id
