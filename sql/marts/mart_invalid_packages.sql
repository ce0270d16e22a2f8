-- Every invalid package in the largest window: the list a seller works through (the invalid_packages dataset).
-- One row per snapshot date and invalid package.
-- kind: snapshot
-- grain: snapshot_date, package_id
-- upstream: marts.fct_packages, marts.fct_snapshot_windows, config.windows
-- not null: snapshot_date, seller_id, marketplace, package_id, order_id, reason
-- accepted: reason in reasons
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   package_id: the package
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when missing
--   carrier: the package's carrier code
--   ship_date: earliest ship date of its items
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories
--   reason: why it is invalid (the first that applies)
--   order_item_ids: its order items' ids, sorted
--   skus: its items' skus, distinct, sorted
with largest_windows as (
    select snapshot_date, window_start, window_end, scans_until,
    from marts.fct_snapshot_windows
    where window_days = (select max(window_days) from config.windows)
),

judged as (
    select
        w.snapshot_date,
        p.seller_id,
        p.marketplace,
        p.package_id,
        p.order_id,
        p.tracking_number,
        p.carrier_code as carrier,
        p.ship_date,
        p.promised_delivery_date,
        p.categories,
        package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code, p.first_event_at,
            p.first_physical_scan_at, p.first_valid_scan_at, w.scans_until
        ) as reason,
        p.order_item_ids,
        p.skus,
    from largest_windows as w
    inner join marts.fct_packages as p
        on p.promised_delivery_date between w.window_start and w.window_end
)

select *
from judged
where reason is not null
