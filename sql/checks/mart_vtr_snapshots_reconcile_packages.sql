-- Fails when the packages dataset disagrees with the overall row of the account's largest window: its valid, invalid
-- and exempt rows must be that row's packages_valid, packages_total - packages_valid and packages_exempt.
-- level: fail
with listed as (
    select
        snapshot_date, seller_id, marketplace,
        count(*) filter (where status = 'valid') as valid_listed,
        count(*) filter (where status = 'invalid') as invalid_listed,
        count(*) filter (where status = 'exempt') as exempt_listed,
    from marts.mart_packages
    where snapshot_date between $start_date and $end_date
    group by all
),

largest as (
    select
        s.*,
        max(s.window_days) over (partition by s.snapshot_date, s.seller_id, s.marketplace) as largest_window,
    from marts.mart_vtr_snapshots as s
    where s.snapshot_date between $start_date and $end_date and s.scope = 'overall'
)

select
    s.snapshot_date, s.seller_id, s.marketplace, s.packages_valid, s.packages_total - s.packages_valid as invalid,
    s.packages_exempt, l.valid_listed, l.invalid_listed, l.exempt_listed
from largest as s
left join listed as l
    on l.snapshot_date = s.snapshot_date and l.seller_id = s.seller_id and l.marketplace = s.marketplace
where s.window_days = s.largest_window
    and (
        s.packages_valid <> coalesce(l.valid_listed, 0)
        or s.packages_total - s.packages_valid <> coalesce(l.invalid_listed, 0)
        or s.packages_exempt <> coalesce(l.exempt_listed, 0)
    )
