-- VTR per account, window and scope on each snapshot date: the published vtr_snapshots dataset.
-- One row per snapshot date, account (seller_id, marketplace), window, scope and scope value.
-- kind: snapshot
-- grain: snapshot_date, seller_id, marketplace, window_days, scope, scope_value
-- upstream: marts.fct_window_counts, marts.fct_snapshot_windows, staging.stg_accounts, staging.stg_marketplace_profiles
-- not null: snapshot_date, seller_id, marketplace, window_days, scope, window_start, window_end, packages_total, packages_valid, target, status, packages_exempt
-- accepted: scope in scopes; status in statuses
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel (e.g. Amazon.se)
--   window_days: window length in days
--   scope: overall, category or carrier
--   scope_value: the category or carrier code; NULL for overall
--   window_start: first promised delivery date in the window
--   window_end: last promised delivery date in the window
--   packages_total: shipped and confirmed packages promised in the window, exempt ones left out
--   packages_valid: of those, validly tracked
--   vtr: packages_valid / packages_total; NULL when the window holds no package
--   target: the VTR target of the marketplace's profile
--   status: ok, below_target (vtr < target) or no_packages
--   packages_exempt: packages promised in the window that an exemption of the marketplace leaves out of the VTR
with scoped as (
    select
        snapshot_date, seller_id, marketplace, window_days, 'overall' as scope, null::varchar as scope_value,
        is_exempt, invalid_reason, packages
    from marts.fct_window_counts
    union all
    select
        snapshot_date, seller_id, marketplace, window_days, 'category' as scope, unnest(categories) as scope_value,
        is_exempt, invalid_reason, packages
    from marts.fct_window_counts
    union all
    select
        snapshot_date, seller_id, marketplace, window_days, 'carrier' as scope,
        coalesce(carrier_code, 'UNKNOWN') as scope_value, is_exempt, invalid_reason, packages
    from marts.fct_window_counts
),

counted as (
    select
        snapshot_date, seller_id, marketplace, window_days, scope, scope_value,
        coalesce(sum(packages) filter (where not is_exempt), 0)::bigint as packages_total,
        coalesce(sum(packages) filter (where not is_exempt and invalid_reason is null), 0)::bigint as packages_valid,
        coalesce(sum(packages) filter (where is_exempt), 0)::bigint as packages_exempt,
    from scoped
    group by all
),

accounts as (
    select seller_id, marketplace from staging.stg_accounts
),

-- every account has an overall row for every window, with no package too
overall as (
    select
        w.snapshot_date, a.seller_id, a.marketplace, w.window_days, 'overall' as scope, null::varchar as scope_value,
        coalesce(c.packages_total, 0) as packages_total,
        coalesce(c.packages_valid, 0) as packages_valid,
        coalesce(c.packages_exempt, 0) as packages_exempt,
    from accounts as a
    inner join marts.fct_snapshot_windows as w
        on w.marketplace = a.marketplace
    left join counted as c
        on c.scope = 'overall' and c.snapshot_date = w.snapshot_date and c.window_days = w.window_days
            and c.seller_id = a.seller_id and c.marketplace = a.marketplace
),

all_scopes as (
    select * from overall
    union all
    select * from counted
    where scope <> 'overall'
)

select
    s.snapshot_date,
    s.seller_id,
    s.marketplace,
    s.window_days,
    s.scope,
    s.scope_value,
    w.window_start,
    w.window_end,
    s.packages_total,
    s.packages_valid,
    case when s.packages_total > 0 then s.packages_valid / s.packages_total end as vtr,
    m.target,
    case
        when s.packages_total = 0 then 'no_packages'
        when s.packages_valid / s.packages_total < m.target then 'below_target'
        else 'ok'
    end as status,
    s.packages_exempt,
from all_scopes as s
inner join marts.fct_snapshot_windows as w
    on w.snapshot_date = s.snapshot_date and w.marketplace = s.marketplace and w.window_days = s.window_days
inner join staging.stg_marketplace_profiles as m
    on m.marketplace = s.marketplace
