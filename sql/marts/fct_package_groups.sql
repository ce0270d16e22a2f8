-- Packages that the validity rule judges alike on every snapshot date, counted once. Snapshot cut-offs are 00:00 UTC,
-- so a scan time matters only by its UTC day, and a tracking number only by being there: about one row per 6 packages,
-- which is what a backfill joins to each of its dates (the counts of mart_vtr_snapshots, mart_category_report and
-- mart_projected_vtr). The per-package lists (invalid, at risk) judge fct_packages themselves, with the same macro.
-- One row per distinct combination of the columns below.
-- kind: table
-- grain: seller_id, marketplace, carrier_code, is_carrier_integrated, categories, ship_date, promised_delivery_date, has_tracking_number, first_event_day, first_physical_scan_day, first_valid_scan_day, is_exempt
-- upstream: marts.fct_packages
-- not null: seller_id, marketplace, categories, is_exempt, packages
-- columns:
--   seller_id: the seller's landing folder name
--   marketplace: the order's sales channel
--   carrier_code: the packages' carrier
--   is_carrier_integrated: the carrier is on the marketplace's integrated list (settings)
--   categories: their items' categories, sorted
--   ship_date: earliest ship date of their items
--   promised_delivery_date: latest promised delivery date of their items
--   has_tracking_number: confirmed with a tracking number
--   first_event_day: 00:00 UTC of the day of the first carrier event
--   first_physical_scan_day: 00:00 UTC of the day of the first physical scan
--   first_valid_scan_day: 00:00 UTC of the day of the first physical scan within the grace bound
--   is_exempt: an exemption of the marketplace applies: counted apart, in no VTR
--   packages: number of packages
select
    seller_id,
    marketplace,
    carrier_code,
    is_carrier_integrated,
    categories,
    ship_date,
    promised_delivery_date,
    tracking_number is not null as has_tracking_number,
    utc_day_start(first_event_at) as first_event_day,
    utc_day_start(first_physical_scan_at) as first_physical_scan_day,
    utc_day_start(first_valid_scan_at) as first_valid_scan_day,
    is_exempt,
    count(*) as packages,
from marts.fct_packages
group by all
