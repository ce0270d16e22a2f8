"""The rows of the scan files: canonical carrier events (CSV), and EasyPost and AfterShip tracking exports (JSON).

An aggregator export repeats each tracking's whole history so far on every day it moves.
"""

from __future__ import annotations

from vtrdemo.generator.rates import RATE_DUPLICATE
from vtrdemo.generator.sql import iso_local

ISO3 = {"SE": "SWE", "DE": "DEU", "GB": "GBR", "US": "USA"}


def build_scan_rows(con, seed: int, days: int) -> None:
    """Tables out_scans, out_easypost and out_aftership: the rows of each scan file, with the day of their file."""
    event_time = iso_local("e.local_at", "e.off_text")
    con.execute(f"""
    create table out_scans as
    with written as (
        select e.*, e.file_d as out_d from events as e where e.channel = 'csv'
        union all
        -- carriers resend some events in the next day's file
        select e.*, e.file_d + 1 from events as e
        where e.channel = 'csv' and u(e.p * 10 + e.step, 72) < {RATE_DUPLICATE} and e.file_d + 1 < {days}
    )
    select e.out_d as file_d, e.utc_at, e.p, e.step,
        e.tracking_number as "tracking_number",
        e.carrier_label as "carrier",
        {event_time} as "event_time",
        e.status as "status",
        e.event_code as "event_code",
        e.description as "description",
        e.city || ', ' || e.country as "location",
    from written as e
    order by e.out_d
    """)
    ep_status = (
        "case e.status when 'pre_transit' then 'label_created' when 'in_transit' then "
        "case when e.step = 1 then 'arrived_at_facility' else 'departed_facility' end "
        "when 'out_for_delivery' then 'out_for_delivery' when 'available_for_pickup' then "
        "'arrived_at_pickup_location' when 'failure' then 'delivery_exception' else 'delivered' end"
    )
    tag = (
        "case e.status when 'pre_transit' then 'InfoReceived' when 'in_transit' then 'InTransit' "
        "when 'out_for_delivery' then 'OutForDelivery' when 'available_for_pickup' then 'AvailableForPickup' "
        "when 'failure' then 'AttemptFail' else 'Delivered' end"
    )
    iso3 = "(case e.country " + " ".join(f"when '{k}' then '{v}'" for k, v in ISO3.items()) + " end)"
    utc = "strftime(e.utc_at, '%Y-%m-%dT%H:%M:%SZ')"
    # each event rendered to JSON once; steps are in time order, so an export day's history is a prefix
    con.execute(f"""
    create table agg_events as
    select e.p, e.file_d, e.channel, e.step, e.tracking_number, e.carrier_label, e.country,
        case when e.channel = 'easypost' then e.status else {tag} end as status,
        case when e.channel = 'easypost' then {ep_status} else {tag} || '_001' end as status_detail,
        {utc} as utc_text,
        case when e.channel = 'easypost' then
            to_json({{'object': 'TrackingDetail', 'message': e.description, 'description': null::varchar,
              'status': e.status, 'status_detail': {ep_status}, 'datetime': {utc},
              'source': e.carrier_label,
              'tracking_location': {{'object': 'TrackingLocation', 'city': e.city, 'state': null::varchar,
                                     'country': e.country, 'zip': null::varchar}}}})::varchar
        else
            to_json({{'slug': e.carrier_label, 'location': e.city || ', ' || {iso3},
              'country_iso3': {iso3}, 'message': e.description, 'tag': {tag}, 'subtag': {tag} || '_001',
              'checkpoint_time': {iso_local("e.local_at", "e.off_text")}}})::varchar
        end as event_json,
    from events as e
    where e.channel in ('easypost', 'aftership')
    """)
    steps = range(7)
    pivot = ",\n            ".join(
        f"max({col}) filter (where step = {k}) as {col}_{k}"
        for k in steps
        for col in ("file_d", "status", "status_detail", "utc_text", "event_json")
    )
    upto = lambda col, k: f"case when x.file_d_{k} <= x.file_d then x.{col}_{k} end"  # noqa: E731
    con.execute(f"""
    create table exports as
    with histories as (
        -- per tracking number: a split order's two boxes are two trackings
        select p, any_value(channel) as channel, tracking_number,
            any_value(carrier_label) as carrier_label, any_value(country) as country,
            min(file_d) as lo, max(file_d) as hi,
            {pivot},
        from agg_events
        group by p, tracking_number
    ),
    export_days as (
        -- an aggregator export repeats a tracking's whole history every day while it is moving
        select h.*, unnest(range(h.lo, least(h.hi + 1, {days}))) as file_d from histories as h
    )
    select x.file_d, x.p, x.channel, x.tracking_number, x.carrier_label, x.country,
        coalesce({", ".join(upto("status", k) for k in reversed(steps))}) as status,
        coalesce({", ".join(upto("status_detail", k) for k in reversed(steps))}) as status_detail,
        coalesce({", ".join(upto("utc_text", k) for k in steps)}) as created_at,
        coalesce({", ".join(upto("utc_text", k) for k in reversed(steps))}) as updated_at,
        ('[' || concat_ws(',', {", ".join(upto("event_json", k) for k in steps)}) || ']')::json as history,
    from export_days as x
    """)
    con.execute(f"""
    create table out_easypost as
    select e.file_d, e.p,
        'trk_' || substr(md5('{seed}ep' || e.tracking_number), 1, 32) as id,
        'Tracker' as object,
        'production' as mode,
        e.tracking_number as tracking_code,
        e.status, e.status_detail, e.created_at, e.updated_at,
        null::varchar as signed_by,
        null::double as weight,
        null::varchar as est_delivery_date,
        null::varchar as shipment_id,
        e.carrier_label as carrier,
        e.history as tracking_details,
    from exports as e
    where e.channel = 'easypost'
    order by e.file_d
    """)
    con.execute(f"""
    create table out_aftership as
    select e.file_d, e.p,
        substr(md5('{seed}as' || e.tracking_number), 1, 32) as id,
        e.carrier_label as slug,
        e.tracking_number,
        e.status as tag,
        e.status_detail as subtag,
        {iso3} as origin_country_iso3,
        {iso3} as destination_country_iso3,
        e.history as checkpoints,
    from exports as e
    where e.channel = 'aftership'
    order by e.file_d
    """)
    con.execute("drop table exports; drop table agg_events")
