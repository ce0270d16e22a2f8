-- The windows of each snapshot date of the latest run: which promised delivery dates they hold and the scan cut-off.
-- One row per snapshot date and window.
-- kind: table
-- grain: snapshot_date, window_days
-- upstream: config.metric, config.windows
-- not null: snapshot_date, window_days, window_start, window_end, scans_until
-- columns:
--   snapshot_date: the snapshot date D
--   window_days: window length W
--   window_start: first promised delivery date in the window, D - lag - W + 1
--   window_end: last promised delivery date in the window, D - lag
--   scans_until: scans count when their event time is before this instant (00:00 UTC of D + 1)
select
    cast(d.snapshot_date as date) as snapshot_date,
    w.window_days,
    cast(d.snapshot_date as date) - m.lag_days - w.window_days + 1 as window_start,
    cast(d.snapshot_date as date) - m.lag_days as window_end,
    to_timestamp(epoch(cast(d.snapshot_date as date) + 1)) as scans_until,
from range(cast($start_date as date), cast($end_date as date) + interval 1 day, interval 1 day) as d (snapshot_date)
cross join config.windows as w
cross join config.metric as m
