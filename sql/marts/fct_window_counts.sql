-- Packages per snapshot date, window, account, carrier, categories and validity: what the VTR figures count.
-- One row per snapshot date, window, account, carrier, set of categories, exemption and invalid reason (NULL = valid or exempt), for the run's dates.
-- kind: table
-- grain: snapshot_date, window_days, seller_id, marketplace, carrier_code, categories, is_exempt, invalid_reason
-- upstream: marts.fct_package_groups, marts.fct_snapshot_windows
-- not null: snapshot_date, window_days, seller_id, marketplace, is_exempt, packages
-- accepted: invalid_reason in reasons
-- columns:
--   snapshot_date: the snapshot date D; scans count up to the end of D (UTC)
--   window_days: window length W
--   seller_id: the seller's landing folder name
--   marketplace: the order's sales channel
--   carrier_code: the packages' carrier
--   categories: their items' categories
--   is_exempt: exempt packages (counted apart: in no VTR)
--   invalid_reason: the first that applies of missing_tracking, carrier_not_integrated, no_carrier_events, pre_transit_only, scan_before_ship_date; NULL when valid or exempt
--   packages: number of packages promised in the window
with judged as (
    select
        w.snapshot_date,
        w.window_days,
        g.seller_id,
        g.marketplace,
        g.carrier_code,
        g.categories,
        g.is_exempt,
        package_invalid_reason(
            case when g.has_tracking_number then 'present' end, g.is_carrier_integrated, g.carrier_code,
            g.first_event_day, g.first_physical_scan_day, g.first_valid_scan_day, w.scans_until
        ) as rule_reason,
        g.packages,
    from marts.fct_snapshot_windows as w
    inner join marts.fct_package_groups as g
        on g.marketplace = w.marketplace and g.promised_delivery_date between w.window_start and w.window_end
)

select
    snapshot_date, window_days, seller_id, marketplace, carrier_code, categories, is_exempt,
    case when not is_exempt then rule_reason end as invalid_reason,
    sum(packages)::bigint as packages,
from judged
group by all
