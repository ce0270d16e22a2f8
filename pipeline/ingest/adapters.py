"""The JSON adapters (spec section 2): EasyPost `Tracker` objects and AfterShip trackings, one object a line,
mapped onto canonical scan rows (as text; formats.checked_sql types and checks them like a CSV's)."""

# Each adapter yields the canonical scan fields as text, one row per event, from the table `lines`.
EASYPOST_STATUS = """case lower(d.status)
    when 'return_to_sender' then 'returned'
    when 'cancelled' then 'unknown'
    when 'error' then 'unknown'
    else lower(d.status) end"""
AFTERSHIP_STATUS = """case c.tag
    when 'Pending' then 'pre_transit'
    when 'InfoReceived' then 'pre_transit'
    when 'Expired' then 'unknown'
    when 'InTransit' then 'in_transit'
    when 'OutForDelivery' then 'out_for_delivery'
    when 'AvailableForPickup' then 'available_for_pickup'
    when 'Delivered' then 'delivered'
    when 'AttemptFail' then 'failure'
    when 'Exception' then case when c.subtag in ('Exception_010', 'Exception_011') then 'returned' else 'failure' end
    else c.tag end"""
# The fields both adapters read, parsed once per line (from_json is lenient: a missing or mistyped key is NULL);
# AfterShip's API wraps a tracking in {"tracking": {...}}.
_CHECKPOINTS = '[{"tag": "VARCHAR", "subtag": "VARCHAR", "checkpoint_time": "VARCHAR"}]'
_AFTERSHIP = f'"tracking_number": "VARCHAR", "slug": "VARCHAR", "checkpoints": {_CHECKPOINTS}'
TRACKING_SCHEMA = (
    '{"tracking_code": "VARCHAR", "carrier": "VARCHAR", "tracking_details": [{"status": "VARCHAR", '
    '"datetime": "VARCHAR"}], '
    f'{_AFTERSHIP}, "tracking": {{{_AFTERSHIP}}}}}'
)


def _events(number: str, carrier: str, events: str, event: str, time: str, status: str) -> str:
    """One row per event of a tracking object: its number and carrier, the event's time and canonical status."""
    return f"""
    select
        o.file_id, o.line, 1 as n_fields,
        nullif(trim(o.{number}), '') as tracking_number,
        nullif(trim(o.{carrier}), '') as carrier,
        nullif(trim({event}.{time}), '') as event_time,
        {status} as status,
    from (select file_id, line, {number}, {carrier}, unnest({events}) as {event} from objects) as o
"""


# A line that is not JSON (n_fields -1), JSON but not an object (-2), an object in neither format (0), or too long to
# read (-3, text NULL), is one rejected row.
JSON_EVENTS = f"""
with json_lines as (
    select file_id, line, text is not null and json_valid(text) as parsed, text is null as too_long,
        starts_with(ltrim(text, ' ' || chr(9) || chr(13)), '{{') as is_object,
        case when parsed and is_object then from_json(text, '{TRACKING_SCHEMA}') end as obj
    from lines
),
objects as (
    select
        file_id,
        line,
        obj.tracking_code,
        obj.carrier,
        obj.tracking_details,
        coalesce(obj.tracking.tracking_number, obj.tracking_number) as aftership_number,
        coalesce(obj.tracking.slug, obj.slug) as slug,
        coalesce(obj.tracking.checkpoints, obj.checkpoints) as checkpoints,
    from json_lines
    where obj is not null
),
easypost as ({_events("tracking_code", "carrier", "tracking_details", "d", "datetime", EASYPOST_STATUS)}),
aftership as ({_events("aftership_number", "slug", "checkpoints", "c", "checkpoint_time", AFTERSHIP_STATUS)})
select * from easypost
union all
select * from aftership
union all
select file_id, line,
    case when too_long then -3 when not parsed then -1 when not is_object then -2 else 0 end,
    null, null, null, null
from json_lines
where obj is null
   or (obj.tracking_details is null and obj.checkpoints is null and obj.tracking.checkpoints is null)
"""
NOT_TRACKING_OBJECT = (
    "f.n_fields <= 0",
    "case f.n_fields when -3 then 'line longer than 16 MiB' when -1 then 'invalid JSON' when -2 then 'invalid JSON' "
    "else 'not a tracking object (EasyPost tracking_details[] or AfterShip checkpoints[])' end",
)
