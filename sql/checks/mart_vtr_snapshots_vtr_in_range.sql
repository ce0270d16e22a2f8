-- Fails when a published VTR is outside [0, 1] or valid packages exceed the total.
-- level: fail
select snapshot_date, seller_id, marketplace, window_days, scope, scope_value, packages_valid, packages_total, vtr
from marts.mart_vtr_snapshots
where snapshot_date between $start_date and $end_date
    and (
        vtr < 0 or vtr > 1 or packages_valid > packages_total or packages_valid < 0
        or (packages_total = 0) <> (vtr is null)
    )
