-- The rule each account's marketplace is measured with (spec section 7, marketplace profiles): [metric], with the
-- keys of [marketplaces."<sales-channel>"] over it (the sales channel matched without regard to case).
-- One row per marketplace of the seller's accounts.
-- kind: table
-- grain: marketplace
-- upstream: staging.stg_accounts, config.profiles
-- not null: marketplace, target, lag_days, scan_grace_days, at_risk_after_days, windows, largest_window, integrated_carriers
-- columns:
--   marketplace: the sales channel (e.g. Amazon.de)
--   target: the VTR target
--   lag_days: days between the end of a window and the snapshot date that measures it
--   scan_grace_days: a scan may precede the ship date by this much
--   at_risk_after_days: days after shipping without a valid scan before a package is at risk
--   windows: the window lengths in days, ascending
--   largest_window: the largest window (invalid_packages, packages and the carrier figures use it)
--   integrated_carriers: the carrier codes the marketplace integrates with
with marketplaces as (
    select distinct marketplace from staging.stg_accounts
),

metric_defaults as (
    select * from config.profiles
    where marketplace is null
)

select
    a.marketplace,
    coalesce(p.target, m.target) as target,  -- noqa: RF04
    coalesce(p.lag_days, m.lag_days) as lag_days,
    coalesce(p.scan_grace_days, m.scan_grace_days) as scan_grace_days,
    coalesce(p.at_risk_after_days, m.at_risk_after_days) as at_risk_after_days,
    list_sort(coalesce(p.windows, m.windows)) as windows,
    list_max(coalesce(p.windows, m.windows)) as largest_window,
    coalesce(p.integrated_carriers, m.integrated_carriers) as integrated_carriers,
from marketplaces as a
cross join metric_defaults as m
left join config.profiles as p
    on p.marketplace = lower(a.marketplace)
