-- Early warning: the VTR the marketplace will measure on D + lag for packages promised up to D, if nothing is fixed.
-- Valid now counts as valid; an at-risk package (see mart_at_risk_packages) as invalid; a package shipped too
-- recently to judge is given the benefit of the doubt. Not the marketplace's final number.
-- One row per snapshot date, account, window and scope value (overall, category).
-- kind: snapshot
-- grain: snapshot_date, seller_id, marketplace, window_days, scope, scope_value
-- upstream: marts.fct_package_groups, marts.fct_snapshot_windows, staging.stg_marketplace_profiles
-- not null: snapshot_date, seller_id, marketplace, window_days, scope, packages_total, projected_vtr, status
-- accepted: scope in scopes; status in statuses
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   window_days: window length in days
--   scope: overall or category
--   scope_value: the category; NULL for overall
--   window_start: first promised delivery date in the projected window, D - W + 1
--   window_end: last promised delivery date in the projected window, D
--   final_on: the snapshot date on which the marketplace measures this window, D + lag
--   packages_total: shipped and confirmed packages promised in the window
--   packages_valid_now: of those, validly tracked by the end of D
--   packages_at_risk: of those, invalid and not expected to become valid without a fix (includes packages already measured, which are listed in invalid_packages rather than at_risk_packages)
--   projected_vtr: (packages_total - packages_at_risk) / packages_total; NULL when the window holds no package
--   target: the VTR target of the marketplace's profile
--   status: ok, or below_target when projected_vtr < target (a window with no package has no row)
with projected_windows as (
    select
        w.snapshot_date,
        w.marketplace,
        w.window_days,
        w.window_start + w.lag_days as window_start,
        w.window_end + w.lag_days as window_end,
        w.snapshot_date + w.lag_days as final_on,
        w.scans_until,
    from marts.fct_snapshot_windows as w
),

judged as (
    select
        w.snapshot_date, w.window_days, w.window_start, w.window_end, w.final_on,
        p.seller_id, p.marketplace, p.categories, p.ship_date, p.packages,
        package_invalid_reason(
            case when p.has_tracking_number then 'present' end, p.is_carrier_integrated, p.carrier_code,
            p.first_event_day, p.first_physical_scan_day, p.first_valid_scan_day, w.scans_until
        ) as invalid_reason,
    from projected_windows as w
    inner join marts.fct_package_groups as p
        on p.marketplace = w.marketplace and p.promised_delivery_date between w.window_start and w.window_end
    where not p.is_exempt
),

flagged as (
    select
        j.*,
        j.invalid_reason is null as is_valid,
        is_at_risk(j.invalid_reason, j.ship_date, j.snapshot_date, m.at_risk_after_days) as is_at_risk,
    from judged as j
    inner join staging.stg_marketplace_profiles as m
        on m.marketplace = j.marketplace
),

scoped as (
    select *, 'overall' as scope, null::varchar as scope_value from flagged
    union all
    select *, 'category' as scope, unnest(categories) as scope_value from flagged
),

counted as (
    select
        snapshot_date, seller_id, marketplace, window_days, scope, scope_value, window_start, window_end, final_on,
        sum(packages)::bigint as packages_total,
        coalesce(sum(packages) filter (where is_valid), 0)::bigint as packages_valid_now,
        coalesce(sum(packages) filter (where is_at_risk), 0)::bigint as packages_at_risk,
    from scoped
    group by all
)

select
    c.snapshot_date,
    c.seller_id,
    c.marketplace,
    c.window_days,
    c.scope,
    c.scope_value,
    c.window_start,
    c.window_end,
    c.final_on,
    c.packages_total,
    c.packages_valid_now,
    c.packages_at_risk,
    (c.packages_total - c.packages_at_risk) / c.packages_total as projected_vtr,
    m.target,
    case
        when (c.packages_total - c.packages_at_risk) / c.packages_total < m.target then 'below_target'
        else 'ok'
    end as status,
from counted as c
inner join staging.stg_marketplace_profiles as m
    on m.marketplace = c.marketplace
