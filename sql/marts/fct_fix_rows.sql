-- The fix file's rows (pipeline/fixfile.py writes them): per account, the packages to fix on the run's last date as
-- rows of the marketplace's shipping-confirmation upload template, prefilled with what the data knows. The packages
-- already measured invalid come first (overdue), then the at-risk ones by fix-by date; the carrier is corrected to an
-- integrated code where the name, an alias or the carrier that scanned the number says which; the tracking number is
-- kept where the data does not contradict it (carrier_not_integrated, pre_transit_only: docs/decisions.md).
-- One row per part of each package to fix (a split item's boxes stay apart when the file is uploaded).
-- kind: table
-- grain: package_id, order_item_id, part_number
-- upstream: marts.mart_invalid_packages, marts.mart_at_risk_packages, marts.fct_fix_parts, raw.scans, config.integrated_carriers, config.carrier_aliases, config.metric, config.run
-- not null: seller_id, marketplace, row_in_file, package_id, order_id, order_item_id, ship_date
-- columns:
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel: one fix file per account
--   row_in_file: the row's place in the account's file, from 1
--   package_id: the package to fix
--   order_id: order-id
--   order_item_id: order-item-id
--   part_number: the part of the item (1 unless the item was split)
--   quantity: quantity: the part's units
--   ship_date: ship-date (yyyy-mm-dd)
--   carrier_code: carrier-code: an integrated code, or Other
--   carrier_name: carrier-name: the carrier when carrier-code is Other
--   tracking_number: tracking-number: kept when the data does not contradict it, else blank for the seller to fill
--   ship_method: ship-method as last confirmed
with integrated as (
    select carrier_code from config.integrated_carriers
),

-- the integrated codes and the aliases leading to them, keyed without case, spaces and punctuation; a key that
-- leads to two carriers corrects nothing
known_names as (
    select carrier_key(carrier_code) as name_key, carrier_code from integrated
    union
    select carrier_key(alias) as name_key, carrier_code from config.carrier_aliases
    where carrier_code in (select carrier_code from integrated)
),

name_lookup as (
    select name_key, min(carrier_code) as carrier_code
    from known_names
    where name_key is not null
    group by name_key
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

-- the integrated carrier that scanned the number of a package confirmed with another carrier, from the grace bound
-- to the end of D (older events belong to an earlier parcel with a recycled number); one carrier only
scanned_by as (
    select f.package_id, min(n.carrier_code) as carrier_code,
    from to_fix as f
    cross join config.metric as m
    cross join config.run as r
    inner join raw.scans as s
        on s.seller_id = f.seller_id and s.tracking_key = f.tracking_number
    inner join name_lookup as n
        on n.name_key = carrier_key(s.carrier)
    where (f.carrier is null or f.carrier not in (select carrier_code from integrated))
        and s.event_at >= to_timestamp(epoch(f.ship_date - m.scan_grace_days))
        and s.event_at < to_timestamp(epoch(r.end_date + 1))
    group by f.package_id
    having count(distinct n.carrier_code) = 1
),

corrected as (
    select
        f.*,
        case
            when f.carrier in (select carrier_code from integrated) then f.carrier
            else coalesce(n.carrier_code, s.carrier_code, f.carrier)
        end as carrier_code,
    from to_fix as f
    left join name_lookup as n
        on n.name_key = carrier_key(f.carrier)
    left join scanned_by as s
        on s.package_id = f.package_id
)

select
    c.seller_id,
    c.marketplace,
    row_number() over (
        partition by c.seller_id, c.marketplace
        order by
            c.is_measured desc, c.sort_date asc, c.order_id asc, c.tracking_number asc nulls first,
            c.package_id asc, i.order_item_id asc, i.part_number asc
    ) as row_in_file,
    c.package_id,
    c.order_id,
    i.order_item_id,
    i.part_number,
    i.quantity,
    c.ship_date,
    case
        when c.carrier_code in (select carrier_code from integrated) then c.carrier_code
        when c.carrier_code is not null then 'Other'
    end as carrier_code,
    case
        when c.carrier_code not in (select carrier_code from integrated) then nullif(c.carrier_code, 'OTHER')
    end as carrier_name,
    -- numbers the data does not contradict: the carrier code is the problem, or the carrier knows the number (a
    -- label was created) and the parcel is not scanned yet; missing, unknown or recycled numbers are left blank
    case when c.reason in ('carrier_not_integrated', 'pre_transit_only') then c.tracking_number end as tracking_number,
    i.ship_method,
from corrected as c
inner join marts.fct_fix_parts as i
    on i.package_id = c.package_id
