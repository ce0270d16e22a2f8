-- Shared expressions, created in every connection (temp macros: nothing is written to the lake), so that ingest,
-- models and analysts use the same rules.
-- LT02 is off for this file: the duckdb dialect of sqlfluff gives a macro body after `as` no indent
-- noqa: disable=LT02

-- Tracking numbers compare trimmed, upper-cased, without spaces or hyphens (spec section 3).
create or replace temp macro normalize_tracking(t) as
    nullif(upper(regexp_replace(trim(t), '[\s-]+', '', 'g')), '');

-- A carrier name as a key, without case, spaces and punctuation ('Royal Mail', 'royal-mail' and 'ROYAL_MAIL' are one
-- key): the fix file matches what a seller typed to the integrated carriers and their aliases with it.
create or replace temp macro carrier_key(name) as
    nullif(regexp_replace(upper(name), '[^\p{L}\p{N}]+', '', 'g'), '');

-- A date, or a date written with a time: the calendar date as written (spec section 7).
create or replace temp macro parse_calendar_date(x) as
    case
        when regexp_full_match(x, '\d{4}-\d{2}-\d{2}') then try_cast(x as date)
        when regexp_matches(x, '^\d{4}-\d{2}-\d{2}[T ]') and try_cast(x as timestamptz) is not null
            then try_cast(left(x, 10) as date)
    end;

-- An amount of money as the order report writes it: a point or a comma as decimal separator, no thousands separator
-- ('12.50', '12,50', '12'); NULL for anything else (spec section 7).
create or replace temp macro parse_amount(x) as
    case when regexp_full_match(x, '-?\d+([.,]\d+)?') then try_cast(replace(x, ',', '.') as decimal(18, 2)) end;

-- An instant in ISO 8601; without an offset it is UTC (the connection's time zone is UTC).
create or replace temp macro parse_instant(x) as
    case when regexp_matches(x, '^\d{4}-\d{2}-\d{2}') then try_cast(x as timestamptz) end;

-- Scan statuses that are physical scans; pre_transit and unknown are not (spec section 2).
create or replace temp macro is_physical_scan(status) as
    status in ('in_transit', 'out_for_delivery', 'available_for_pickup', 'delivered', 'failure', 'returned');

-- Load order of a raw row: files in load order (file_id), then lines; later wins.
create or replace temp macro load_seq(file_id, line) as
    file_id * 10000000000 + line;

-- The one validity rule (spec sections 1 and 3): NULL when the package is validly tracked by scans_until,
-- else the first reason that applies.
create or replace temp macro package_invalid_reason(
    tracking_number, is_carrier_integrated, carrier_code,
    first_event_at, first_physical_scan_at, first_valid_scan_at, scans_until
) as
    case
        when tracking_number is null then 'missing_tracking'
        when not is_carrier_integrated or carrier_code is null then 'carrier_not_integrated'
        when first_event_at is null or first_event_at >= scans_until then 'no_carrier_events'
        when first_physical_scan_at is null or first_physical_scan_at >= scans_until then 'pre_transit_only'
        when first_valid_scan_at is null or first_valid_scan_at >= scans_until then 'scan_before_ship_date'
    end;

-- Early warning: an invalid package that stays invalid unless someone acts. A wrong or missing number or carrier
-- never fixes itself; a missing scan is given at_risk_after_days from the ship date to arrive.
create or replace temp macro is_at_risk(invalid_reason, ship_date, snapshot_date, at_risk_after_days) as
    invalid_reason in ('missing_tracking', 'carrier_not_integrated')
    or (invalid_reason is not null and ship_date <= snapshot_date - at_risk_after_days);

-- 00:00 UTC of an instant's UTC day, whatever the session's time zone (epoch arithmetic: DuckDB 1.5's time-zone
-- functions cost seconds per million rows). Snapshot cut-offs are UTC midnights, so an instant and the start of its
-- day fall on the same side of every cut-off.
create or replace temp macro utc_day_start(t) as
    to_timestamp(floor(epoch(t) / 86400) * 86400);

-- A date this business cannot have: before 2000, or more than a year after today (spec section 5).
create or replace temp macro is_plausible_date(d) as
    d is null or d between date '2000-01-01' and current_date + 366;

-- An ISO 8601 instant whose UTC offset is beyond +/-14:00 (no real time zone has one).
create or replace temp macro offset_beyond_14h(x) as
    regexp_matches(x, '[+-](1[5-9]|[2-9]\d):?\d{2}$') or regexp_matches(x, '[+-]14:?(0[1-9]|[1-5]\d)$');
