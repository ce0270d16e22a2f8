-- Per account, category and window: the totals and the invalid packages counted by reason (the category_report dataset).
-- Grain: one row per snapshot date, account, category and window. Key: snapshot_date, seller_id, marketplace, category, window_days.
-- Upstream: marts.fct_window_packages.
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   category: the category ('Uncategorized' for skus not in the catalog)
--   window_days: window length in days
--   packages_total: packages promised in the window with an item in the category
--   packages_valid: of those, validly tracked
--   vtr: packages_valid / packages_total
--   invalid_missing_tracking: invalid packages confirmed without a tracking number
--   invalid_carrier_not_integrated: invalid packages sent with a carrier outside the integrated list
--   invalid_no_carrier_events: invalid packages with no carrier event at all by the end of D
--   invalid_pre_transit_only: invalid packages with events but no physical scan
--   invalid_scan_before_ship_date: invalid packages whose physical scans all precede the grace bound (recycled number)
with by_category as (
    select snapshot_date, seller_id, marketplace, unnest(categories) as category, window_days, is_valid, invalid_reason
    from marts.fct_window_packages
)
select
    snapshot_date,
    seller_id,
    marketplace,
    category,
    window_days,
    count(*) as packages_total,
    count(*) filter (where is_valid) as packages_valid,
    count(*) filter (where is_valid) / count(*) as vtr,
    count(*) filter (where invalid_reason = 'missing_tracking') as invalid_missing_tracking,
    count(*) filter (where invalid_reason = 'carrier_not_integrated') as invalid_carrier_not_integrated,
    count(*) filter (where invalid_reason = 'no_carrier_events') as invalid_no_carrier_events,
    count(*) filter (where invalid_reason = 'pre_transit_only') as invalid_pre_transit_only,
    count(*) filter (where invalid_reason = 'scan_before_ship_date') as invalid_scan_before_ship_date,
from by_category
group by all
