-- Per carrier, in the largest measured window: its share of the invalid packages and how long its first physical
-- scan takes after the ship date (the carrier_performance dataset; scans up to the end of D count).
-- Built for a few snapshot dates at a time ($start_date..$end_date, see pipeline/models.py): the quantiles hold
-- every value of a group in memory, which a backfill of many dates at millions of packages does not have.
-- One row per snapshot date, account and carrier.
-- kind: snapshot
-- grain: snapshot_date, seller_id, marketplace, carrier
-- upstream: marts.fct_packages, marts.fct_snapshot_windows
-- batch: 15
-- not null: snapshot_date, seller_id, marketplace, carrier, packages_total, packages_invalid
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   carrier: carrier code ('UNKNOWN' when none was confirmed)
--   window_days: the largest window's length
--   packages_total: packages promised in the window sent with this carrier
--   packages_invalid: of those, not validly tracked
--   share_of_invalid: packages_invalid / all invalid packages of the account in the window
--   packages_scanned: packages with a physical scan that counts (within the grace bound) by the end of D
--   median_days_to_first_scan: median days from 00:00 UTC of the ship date to the first physical scan that counts
--   p90_days_to_first_scan: 90th percentile of the same
with scanned as (
    -- per package, once: how long its first scan that counts (within the grace bound) took after the ship date; a
    -- recycled number's old scans say nothing of this parcel
    select
        *,
        (epoch(first_valid_scan_at) - epoch(ship_date)) / 86400.0 as days_to_valid_scan,
    from marts.fct_packages
),

packages as (
    select
        w.snapshot_date,
        p.seller_id,
        p.marketplace,
        coalesce(p.carrier_code, 'UNKNOWN') as carrier,
        w.window_days,
        package_invalid_reason(
            p.tracking_number, p.is_carrier_integrated, p.carrier_code,
            p.first_event_at, p.first_physical_scan_at, p.first_valid_scan_at, w.scans_until
        ) is null as is_valid,
        case when p.first_valid_scan_at < w.scans_until then p.days_to_valid_scan end as days_to_first_scan,
    from marts.fct_snapshot_windows as w
    inner join scanned as p
        on p.marketplace = w.marketplace and p.promised_delivery_date between w.window_start and w.window_end
    where w.is_largest
        and not p.is_exempt
        and w.snapshot_date between $start_date and $end_date
),

by_carrier as (
    select
        snapshot_date, seller_id, marketplace, carrier, window_days,
        count(*) as packages_total,
        count(*) filter (where not is_valid) as packages_invalid,
        count(days_to_first_scan) as packages_scanned,
        quantile_cont(days_to_first_scan, [0.5, 0.9]) as days_to_first_scan_quantiles,
    from packages
    group by all
)

select
    snapshot_date, seller_id, marketplace, carrier, window_days, packages_total, packages_invalid,
    coalesce(
        packages_invalid / nullif(sum(packages_invalid) over (partition by snapshot_date, seller_id, marketplace), 0), 0
    ) as share_of_invalid,
    packages_scanned,
    round(days_to_first_scan_quantiles[1], 2) as median_days_to_first_scan,
    round(days_to_first_scan_quantiles[2], 2) as p90_days_to_first_scan,
from by_carrier
