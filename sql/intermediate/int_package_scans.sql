-- Each tracked package's first carrier event, first physical scan, and first physical scan within the grace bound.
-- Events match by seller and normalised number (raw.scans.tracking_key); an event an aggregator export repeats
-- every day changes none of these firsts, so repeats need no removing.
-- One row per package with at least one event.
-- kind: table
-- grain: package_id
-- upstream: intermediate.int_packages, raw.scans, staging.stg_marketplace_profiles
-- not null: package_id, first_event_at
-- columns:
--   package_id: the package
--   first_event_at: earliest event of any status
--   first_physical_scan_at: earliest physical scan
--   first_valid_scan_at: earliest physical scan at or after 00:00 UTC of ship date minus scan_grace_days (recycled numbers)
with packages as (
    -- the grace bound once per package: time zone arithmetic per event costs more than the rest of the join
    select
        p.package_id, p.seller_id, p.tracking_number,
        -- 00:00 UTC from the epoch: the same in any session time zone, and no time-zone arithmetic per row
        to_timestamp(epoch(p.ship_date - m.scan_grace_days)) as grace_bound,
    from intermediate.int_packages as p
    inner join staging.stg_marketplace_profiles as m
        on m.marketplace = p.marketplace
    where p.tracking_number is not null
)

select
    p.package_id,
    min(s.event_at) as first_event_at,
    min(s.event_at) filter (where is_physical_scan(s.status)) as first_physical_scan_at,
    min(s.event_at) filter (where is_physical_scan(s.status) and s.event_at >= p.grace_bound) as first_valid_scan_at,
from packages as p
inner join raw.scans as s
    on s.seller_id = p.seller_id and s.tracking_key = p.tracking_number
group by p.package_id
