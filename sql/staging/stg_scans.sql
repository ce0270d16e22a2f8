-- Carrier tracking events, normalised and counted once however often an export repeats them.
-- Grain: one row per distinct event. Key: seller_id, tracking_number, event_at, status. Upstream: raw.scans.
-- columns:
--   seller_id: the seller whose landing folder held the event
--   tracking_number: normalised tracking number
--   event_at: event time (UTC)
--   status: canonical status (pre_transit, in_transit, out_for_delivery, available_for_pickup, delivered, failure, returned, unknown)
--   is_physical_scan: true when the carrier physically scanned the package (not pre_transit, not unknown)
select
    seller_id,
    normalize_tracking(tracking_number) as tracking_number,
    event_at,
    status,
    is_physical_scan(status) as is_physical_scan,
from raw.scans
where normalize_tracking(tracking_number) is not null
group by all
