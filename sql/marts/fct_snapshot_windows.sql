-- The windows of each snapshot date of the latest run, per marketplace (each measured with its profile's windows and
-- lag): which promised delivery dates they hold and the scan cut-off.
-- One row per snapshot date, marketplace and window.
-- kind: table
-- grain: snapshot_date, marketplace, window_days
-- upstream: staging.stg_marketplace_profiles
-- not null: snapshot_date, marketplace, window_days, window_start, window_end, scans_until, is_largest
-- columns:
--   snapshot_date: the snapshot date D
--   marketplace: the sales channel whose profile gives the windows
--   window_days: window length W
--   window_start: first promised delivery date in the window, D - lag - W + 1
--   window_end: last promised delivery date in the window, D - lag
--   scans_until: scans count when their event time is before this instant (00:00 UTC of D + 1)
--   is_largest: the marketplace's largest window (invalid_packages, packages, carrier figures)
--   lag_days: the marketplace's lag
with marketplace_windows as (
    select marketplace, lag_days, largest_window, unnest(windows) as window_days,
    from staging.stg_marketplace_profiles
)

select
    cast(d.snapshot_date as date) as snapshot_date,
    w.marketplace,
    w.window_days,
    cast(d.snapshot_date as date) - w.lag_days - w.window_days + 1 as window_start,
    cast(d.snapshot_date as date) - w.lag_days as window_end,
    to_timestamp(epoch(cast(d.snapshot_date as date) + 1)) as scans_until,
    w.window_days = w.largest_window as is_largest,
    w.lag_days,
from range(cast($start_date as date), cast($end_date as date) + interval 1 day, interval 1 day) as d (snapshot_date)
cross join marketplace_windows as w
