-- Invalid packages per reason, each package counted once (the reason_summary dataset): summing the category
-- report's invalid_<reason> columns over categories counts a package with items in two categories twice.
-- One row per snapshot date, account, window and reason (a reason with no package has no row).
-- kind: snapshot
-- grain: snapshot_date, seller_id, marketplace, window_days, reason
-- upstream: marts.fct_window_counts
-- not null: snapshot_date, seller_id, marketplace, window_days, reason, packages
-- accepted: reason in reasons
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   window_days: window length in days
--   reason: why the packages are invalid (the first that applies)
--   packages: invalid packages promised in the window with this reason, each counted once
select
    snapshot_date,
    seller_id,
    marketplace,
    window_days,
    invalid_reason as reason,
    sum(packages)::bigint as packages,
from marts.fct_window_counts
where invalid_reason is not null
group by all
