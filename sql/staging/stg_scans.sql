-- Carrier tracking events, normalised and counted once however often an export repeats them.
-- Holds the events of the tracking numbers confirmed in staging.stg_confirmations (the latest run's orders).
-- Grain: one row per distinct event. Key: seller_id, tracking_number, event_at, status.
-- Upstream: raw.scans, staging.stg_confirmations.
-- columns:
--   seller_id: the seller whose landing folder held the event
--   tracking_number: normalised tracking number
--   event_at: event time (UTC)
--   status: canonical status (pre_transit, in_transit, out_for_delivery, available_for_pickup, delivered, failure, returned, unknown)
--   is_physical_scan: true when the carrier physically scanned the package (not pre_transit, not unknown)
select
    seller_id,
    tracking_key as tracking_number,
    event_at,
    status,
    is_physical_scan(status) as is_physical_scan,
from raw.scans
where (seller_id, tracking_key) in (
    select seller_id, tracking_number from staging.stg_confirmations where tracking_action = 'set'
)
group by all
