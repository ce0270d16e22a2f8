-- Fails when the overall totals of the account's largest window disagree with the list of invalid packages.
-- level: fail
with invalid as (
    select snapshot_date, seller_id, marketplace, count(*) as invalid_listed
    from marts.mart_invalid_packages
    where snapshot_date between $start_date and $end_date
    group by all
)

select
    s.snapshot_date, s.seller_id, s.marketplace, s.packages_total - s.packages_valid as invalid_counted,
    coalesce(i.invalid_listed, 0) as invalid_listed
from marts.mart_vtr_snapshots as s
left join invalid as i
    on i.snapshot_date = s.snapshot_date and i.seller_id = s.seller_id and i.marketplace = s.marketplace
where s.snapshot_date between $start_date and $end_date
    and s.scope = 'overall'
    and s.window_days = (
        select max(x.window_days) from marts.mart_vtr_snapshots as x
        where x.snapshot_date = s.snapshot_date and x.seller_id = s.seller_id and x.marketplace = s.marketplace
    )
    and s.packages_total - s.packages_valid <> coalesce(i.invalid_listed, 0)
