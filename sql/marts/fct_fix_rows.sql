-- The fix file's rows (pipeline/fixfile.py writes them): per account, the packages to fix on the run's last date as
-- rows of the marketplace's shipping-confirmation upload template, prefilled with what the data knows, one row per
-- part so that uploading the file never merges or moves a split item's boxes. The packages already measured invalid
-- come first (overdue), then the at-risk ones by fix-by date. The carrier is written as the seller last confirmed it,
-- except where it must change: a carrier the marketplace does not integrate, corrected to an integrated code when its
-- name, an alias or the carrier that scanned the number says which. The tracking number is kept where the data does
-- not contradict it (carrier_not_integrated, no_carrier_events, pre_transit_only: docs/decisions.md).
-- One row per part of each package to fix.
-- kind: table
-- grain: package_id, order_item_id, part_number
-- upstream: marts.mart_invalid_packages, marts.mart_at_risk_packages, marts.fct_fix_parts, marts.fct_packages, raw.scans, staging.stg_marketplace_profiles, config.carrier_aliases, config.run
-- not null: seller_id, marketplace, row_in_file, package_id, order_id, order_item_id, part_number, ship_date
-- columns:
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel: one fix file per account
--   row_in_file: the row's place in the account's file, from 1
--   package_id: the package to fix
--   order_id: order-id
--   order_item_id: order-item-id
--   part_number: the part of the item (1 unless the item was split)
--   quantity: quantity: the part's units
--   ship_date: ship-date (the package's)
--   carrier_code: carrier-code: as last confirmed, or the integrated code the carrier must change to
--   carrier_name: carrier-name: as last confirmed; blank when the carrier is changed to an integrated code
--   tracking_number: tracking-number: kept when the data does not contradict it, else blank for the seller to fill
--   ship_method: ship-method as last confirmed for the part
with integrated as (
    select marketplace, unnest(integrated_carriers) as carrier_code,
    from staging.stg_marketplace_profiles
),

-- per marketplace, the integrated codes and the aliases leading to them, keyed without case, spaces and punctuation;
-- a key that leads to two carriers corrects nothing
known_names as (
    select marketplace, carrier_key(carrier_code) as name_key, carrier_code from integrated
    union
    select i.marketplace, carrier_key(a.alias) as name_key, a.carrier_code
    from config.carrier_aliases as a
    inner join integrated as i
        on i.carrier_code = a.carrier_code
),

name_lookup as (
    select marketplace, name_key, min(carrier_code) as carrier_code
    from known_names
    where name_key is not null
    group by marketplace, name_key
    having count(distinct carrier_code) = 1
),

to_fix as (
    select
        true as is_measured, i.package_id, i.seller_id, i.marketplace, i.order_id, i.tracking_number, i.carrier,
        i.ship_date, i.reason, i.promised_delivery_date as sort_date,
    from marts.mart_invalid_packages as i
    where i.snapshot_date = (select end_date from config.run)
    union all
    select
        false as is_measured, a.package_id, a.seller_id, a.marketplace, a.order_id, a.tracking_number, a.carrier,
        a.ship_date, a.reason, a.fix_by_date as sort_date,
    from marts.mart_at_risk_packages as a
    where a.snapshot_date = (select end_date from config.run)
),

-- the carrier must change: not on the marketplace's integrated list (or none confirmed)
to_change as (
    select f.*,
    from to_fix as f
    left join integrated as i
        on i.marketplace = f.marketplace and i.carrier_code = f.carrier
    where i.carrier_code is null
),

-- the integrated carrier that scanned the number of such a package, from the grace bound to the end of D (older
-- events belong to an earlier parcel with a recycled number); one carrier only
scanned_by as (
    select f.package_id, min(n.carrier_code) as carrier_code,
    from to_change as f
    inner join staging.stg_marketplace_profiles as m
        on m.marketplace = f.marketplace
    cross join config.run as r
    inner join raw.scans as s
        on s.seller_id = f.seller_id and s.tracking_key = f.tracking_number
    inner join name_lookup as n
        on n.marketplace = f.marketplace and n.name_key = carrier_key(s.carrier)
    where s.event_at >= to_timestamp(epoch(f.ship_date - m.scan_grace_days))
        and s.event_at < to_timestamp(epoch(r.end_date + 1))
    group by f.package_id
    having count(distinct n.carrier_code) = 1
),

-- the integrated code a package must change to, when its name, an alias or the scanning carrier says which
changed as (
    select f.package_id, coalesce(n.carrier_code, s.carrier_code) as carrier_code,
    from to_change as f
    left join name_lookup as n
        on n.marketplace = f.marketplace and n.name_key = carrier_key(f.carrier)
    left join scanned_by as s
        on s.package_id = f.package_id
    where coalesce(n.carrier_code, s.carrier_code) is not null
)

select
    f.seller_id,
    f.marketplace,
    row_number() over (
        partition by f.seller_id, f.marketplace
        order by
            f.is_measured desc, f.sort_date asc, f.order_id asc, f.tracking_number asc nulls first,
            f.package_id asc, i.order_item_id asc, i.part_number asc
    ) as row_in_file,
    f.package_id,
    f.order_id,
    i.order_item_id,
    i.part_number,
    i.quantity,
    f.ship_date,
    coalesce(c.carrier_code, p.carrier_code_as_confirmed) as carrier_code,
    case when c.carrier_code is null then p.carrier_name_as_confirmed end as carrier_name,
    -- numbers the data does not contradict: the carrier is the problem, the carrier does not know the number yet
    -- (to check against the label), or knows it (a label was created) and the parcel is not scanned yet; missing
    -- or recycled numbers are left blank
    case
        when f.reason in ('carrier_not_integrated', 'no_carrier_events', 'pre_transit_only') then f.tracking_number
    end as tracking_number,
    i.ship_method,
from to_fix as f
inner join marts.fct_fix_parts as i
    on i.package_id = f.package_id
inner join marts.fct_packages as p
    on p.package_id = f.package_id
left join changed as c
    on c.package_id = f.package_id
