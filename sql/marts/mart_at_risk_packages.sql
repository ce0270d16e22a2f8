-- Early warning: packages not yet measured by the marketplace that will count as invalid unless the seller acts
-- (the at_risk_packages dataset). Shipped at least at_risk_after_days ago with no valid scan yet, or with a
-- missing tracking number or a carrier outside the integrated list (the marketplace's profile); never an exempt one.
-- One row per snapshot date and at-risk package.
-- kind: snapshot
-- grain: snapshot_date, package_id
-- upstream: marts.fct_packages, marts.fct_snapshot_windows, staging.stg_marketplace_profiles
-- not null: snapshot_date, seller_id, marketplace, package_id, order_id, reason, fix_by_date
-- accepted: reason in reasons
-- columns:
--   snapshot_date: the snapshot date D; scans count up to the end of D (UTC)
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   package_id: the package
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when missing
--   carrier: the package's carrier code
--   ship_date: earliest ship date of its items
--   promised_delivery_date: latest promised delivery date of its items; the package is first measured on this date + lag
--   categories: its items' categories
--   reason: why it would be invalid if measured now
--   days_since_ship: D - ship_date
--   fix_by_date: the last day a corrected tracking number still reaches the first measurement (72 hours before promised_delivery_date + lag)
--   order_item_ids: its order items' ids, sorted
--   skus: its items' skus, distinct, sorted
with snapshot_dates as (
    select distinct w.snapshot_date, w.marketplace, w.scans_until, w.snapshot_date - w.lag_days as measured_until,
    from marts.fct_snapshot_windows as w
),

judged as (
    select
        d.snapshot_date,
        p.*,
        package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code,
            p.first_event_at, p.first_physical_scan_at, p.first_valid_scan_at, d.scans_until
        ) as invalid_reason,
    from snapshot_dates as d
    inner join marts.fct_packages as p
        -- not yet measured: its first snapshot, promised date + lag, is after D; and shipped by D
        on p.marketplace = d.marketplace
            and p.promised_delivery_date > d.measured_until
            and p.ship_date <= d.snapshot_date
    where not p.is_exempt
)

select
    j.snapshot_date,
    j.seller_id,
    j.marketplace,
    j.package_id,
    j.order_id,
    j.tracking_number,
    j.carrier_code as carrier,
    j.ship_date,
    j.promised_delivery_date,
    j.categories,
    j.invalid_reason as reason,
    j.snapshot_date - j.ship_date as days_since_ship,
    j.promised_delivery_date + m.lag_days - 3 as fix_by_date,
    j.order_item_ids,
    j.skus,
from judged as j
inner join staging.stg_marketplace_profiles as m
    on m.marketplace = j.marketplace
where is_at_risk(j.invalid_reason, j.ship_date, j.snapshot_date, m.at_risk_after_days)
