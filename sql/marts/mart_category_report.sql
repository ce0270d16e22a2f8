-- Per account, category and window: the totals and the invalid packages counted by reason (the category_report dataset).
-- One row per snapshot date, account, category and window.
-- kind: snapshot
-- grain: snapshot_date, seller_id, marketplace, category, window_days
-- upstream: marts.fct_window_counts
-- not null: snapshot_date, seller_id, marketplace, category, window_days, packages_total, packages_valid, vtr
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
    select snapshot_date, seller_id, marketplace, unnest(categories) as category, window_days, invalid_reason, packages
    from marts.fct_window_counts
    where not is_exempt
)

select
    snapshot_date,
    seller_id,
    marketplace,
    category,
    window_days,
    sum(packages)::bigint as packages_total,
    coalesce(sum(packages) filter (where invalid_reason is null), 0)::bigint as packages_valid,
    coalesce(sum(packages) filter (where invalid_reason is null), 0) / sum(packages) as vtr,
    coalesce(sum(packages) filter (where invalid_reason = 'missing_tracking'), 0)::bigint as invalid_missing_tracking,
    coalesce(sum(packages) filter (where invalid_reason = 'carrier_not_integrated'), 0)::bigint
        as invalid_carrier_not_integrated,
    coalesce(sum(packages) filter (where invalid_reason = 'no_carrier_events'), 0)::bigint as invalid_no_carrier_events,
    coalesce(sum(packages) filter (where invalid_reason = 'pre_transit_only'), 0)::bigint as invalid_pre_transit_only,
    coalesce(sum(packages) filter (where invalid_reason = 'scan_before_ship_date'), 0)::bigint
        as invalid_scan_before_ship_date,
from by_category
group by all
