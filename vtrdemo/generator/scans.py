"""Carrier events: up to seven per package on its true tracking number, with the day each reaches a scan file."""

from __future__ import annotations

from vtrdemo.generator.rates import RATE_FAILED_ATTEMPT
from vtrdemo.generator.sql import per_market, ts


def build_scans(con, profiles, days, aggregator_exports) -> None:
    """Carrier events per package (true tracking number), with the day each is exported."""
    cities = per_market(profiles, lambda p: [c for c, _ in p.cities], "p * 10 + step", 40)
    con.execute(f"""
    create table events as
    with pk as (
        select o.p, o.m, o.tracking_true as tracking_number, o.carrier_label, o.channel, o.mode, o.carrier,
            o.off_min, o.off_text, o.ship_d, o.d,
            o.ship_day, {ts("o.ship_day", "13 * 3600 + floor(u(o.p, 21) * 4 * 3600)")} as ship_local,
            case when o.mode = 'late' then 2 + floor(u(o.p, 22) * 7)::int else 0 end as late_days,
            1 + floor(u(o.p, 23) * 2.5)::int as transit_days,
            o.carrier in ('postnord', 'bring', 'dhl') and u(o.p, 24) < 0.25 as to_pickup_point,
            u(o.p, 25) < {RATE_FAILED_ATTEMPT} and not to_pickup_point as failed_attempt,
            60 + floor(u(o.p, 26) * 140)::int as recycled_days_ago,
        from orders as o
        where o.ship_d < {days} and o.integrated
    ),
    timeline as (
        select pk.*,
            ship_local - to_seconds(3600 + floor(u(p, 27) * 3 * 3600)::bigint) as t_label,
            ship_local + to_seconds((late_days * 86400 + 3600 + floor(u(p, 28) * 3 * 3600))::bigint) as t_pickup,
        from pk
    ),
    timeline2 as (
        select t.*,
            t.t_pickup + to_seconds((2 * 3600 + floor(u(p, 29) * 4 * 3600))::bigint) as t_hub,
            {ts("t.t_pickup::date + t.transit_days", "7 * 3600 + 1800 + floor(u(t.p, 31) * 2.5 * 3600)")} as t_ofd,
        from timeline as t
    ),
    steps as (
        select t.*, s.step,
        from timeline2 as t, range(7) as s(step)
    ),
    evented as (
        select s.*,
            case s.step
                when 0 then s.t_label
                when 1 then s.t_pickup
                when 2 then s.t_hub
                when 3 then s.t_ofd
                when 4 then s.t_ofd + to_seconds(((case when s.to_pickup_point then 86400 else 3600 end)
                                                   + floor(u(s.p, 32) * 8 * 3600))::bigint)
                when 5 then s.t_ofd + to_seconds((86400 - 1800)::bigint)
                when 6 then s.t_ofd + to_seconds((86400 + 3 * 3600 + floor(u(s.p, 33) * 5 * 3600))::bigint)
            end + case when s.mode = 'recycled' then -to_days(s.recycled_days_ago) else interval 0 day end
                as local_at,
            case s.step
                when 0 then 'pre_transit'
                when 1 then 'in_transit'
                when 2 then 'in_transit'
                when 3 then case when s.to_pickup_point then 'available_for_pickup' else 'out_for_delivery' end
                when 4 then case when s.failed_attempt then 'failure' else 'delivered' end
                when 5 then 'out_for_delivery'
                when 6 then 'delivered'
            end as status,
        from steps as s
        where case
            when s.mode = 'pre_transit' then s.step = 0
            when s.mode = 'recycled' then s.step between 1 and 4
            when s.step >= 5 then s.failed_attempt
            else true
        end
    ),
    described as (
        select e.*,
            case e.status
                when 'pre_transit' then 'Shipment information received'
                when 'in_transit' then case when e.step = 1 then 'Parcel picked up by carrier'
                                            else 'Parcel sorted at terminal' end
                when 'out_for_delivery' then 'Out for delivery'
                when 'available_for_pickup' then 'Ready for pickup at service point'
                when 'failure' then 'Delivery attempt failed, recipient not at home'
                when 'delivered' then case when e.to_pickup_point then 'Collected by recipient' else 'Delivered' end
            end as description,
            case e.status
                when 'pre_transit' then 'INFO' when 'in_transit' then case when e.step = 1 then 'PU' else 'AR' end
                when 'out_for_delivery' then 'OD' when 'available_for_pickup' then 'PP' when 'failure' then 'NA'
                when 'delivered' then 'DL'
            end as event_code,
            {cities} as city,
        from evented as e
    )
    select d.p, d.step, d.tracking_number, d.carrier_label, d.carrier, d.channel, d.status, d.description,
        d.event_code, d.city, mk.country, d.off_min, d.off_text, d.local_at,
        d.local_at - to_minutes(d.off_min) as utc_at,
        -- the export day: the local date of the event; a recycled number's old history is looked up on ship day
        case when d.mode = 'recycled' then d.ship_d + 1
             else d.ship_d + date_diff('day', d.ship_day, d.local_at::date) end as file_d,
    from described as d
    join markets as mk on mk.m = d.m
    """)
    # a split order's second box travels the same way, under its own number
    con.execute("""
    insert into events by name
    select e.* replace (o.tracking_box2 as tracking_number)
    from events as e join orders as o on o.p = e.p
    where o.is_split
    """)
    if not aggregator_exports:
        con.execute("update events set channel = 'csv'")
    con.execute(f"delete from events where file_d >= {days} or file_d < 0")
