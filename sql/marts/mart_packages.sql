-- Every package of the largest window, valid, invalid or exempt: the list an analyst reconciles, package by package,
-- with the marketplace's own VTR report (the packages dataset). Its invalid rows are the invalid_packages dataset.
-- One row per snapshot date and package promised in the marketplace's largest window.
-- kind: snapshot
-- grain: snapshot_date, package_id
-- upstream: marts.fct_packages, marts.fct_snapshot_windows
-- not null: snapshot_date, seller_id, marketplace, package_id, order_id, ship_date, promised_delivery_date, categories, status
-- accepted: status in package_statuses; reason in reasons
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when missing
--   carrier: the package's carrier code
--   ship_method: ship-method of the last confirmation line applied to any of its parts
--   ship_date: earliest ship date of its parts
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories
--   status: valid, invalid, or exempt (an exemption of the marketplace leaves it out of the VTR)
--   reason: why it is invalid (the first that applies); NULL unless invalid
--   package_id: the package
--   order_item_ids: its order items' ids, sorted
--   skus: its items' skus, distinct, sorted
with judged as (
    select
        w.snapshot_date,
        p.seller_id,
        p.marketplace,
        p.order_id,
        p.tracking_number,
        p.carrier_code as carrier,
        p.ship_method,
        p.ship_date,
        p.promised_delivery_date,
        p.categories,
        p.is_exempt,
        package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code, p.first_event_at,
            p.first_physical_scan_at, p.first_valid_scan_at, w.scans_until
        ) as invalid_reason,
        p.package_id,
        p.order_item_ids,
        p.skus,
    from marts.fct_snapshot_windows as w
    inner join marts.fct_packages as p
        on p.marketplace = w.marketplace and p.promised_delivery_date between w.window_start and w.window_end
    where w.is_largest
)

select
    snapshot_date,
    seller_id,
    marketplace,
    order_id,
    tracking_number,
    carrier,
    ship_method,
    ship_date,
    promised_delivery_date,
    categories,
    case
        when is_exempt then 'exempt'
        when invalid_reason is null then 'valid'
        else 'invalid'
    end as status,
    case when not is_exempt then invalid_reason end as reason,
    package_id,
    order_item_ids,
    skus,
from judged
