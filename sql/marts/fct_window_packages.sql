-- The one place that decides whether a package is validly tracked on a snapshot date, and if not, why (spec sections 1 and 3).
-- Grain: one row per snapshot date, window and package promised in it. Key: snapshot_date, window_days, package_id.
-- Holds the snapshot dates of the latest run only. Upstream: marts.fct_packages, marts.fct_snapshot_windows.
-- columns:
--   snapshot_date: the snapshot date D; scans count up to the end of D (UTC)
--   window_days: window length W
--   window_start: D - lag - W + 1
--   window_end: D - lag
--   package_id: the package
--   seller_id: the seller's landing folder name
--   marketplace: the order's sales channel
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when missing
--   carrier_code: the package's carrier
--   ship_date: earliest ship date of its items
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories
--   is_valid: the carrier physically scanned it, within the grace bound, by the end of D
--   invalid_reason: the first that applies of missing_tracking, carrier_not_integrated, no_carrier_events, pre_transit_only, scan_before_ship_date; NULL when valid
with judged as (
    select
        w.snapshot_date,
        w.window_days,
        w.window_start,
        w.window_end,
        p.package_id,
        p.seller_id,
        p.marketplace,
        p.order_id,
        p.tracking_number,
        p.carrier_code,
        p.ship_date,
        p.promised_delivery_date,
        p.categories,
        package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code,
            p.first_event_at, p.first_physical_scan_at, p.first_valid_scan_at, w.scans_until
        ) as invalid_reason,
    from marts.fct_snapshot_windows as w
    inner join marts.fct_packages as p
        on p.promised_delivery_date between w.window_start and w.window_end
)
select
    snapshot_date, window_days, window_start, window_end, package_id, seller_id, marketplace, order_id,
    tracking_number, carrier_code, ship_date, promised_delivery_date, categories,
    invalid_reason is null as is_valid,
    invalid_reason,
from judged
