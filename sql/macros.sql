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

-- Split shipments (spec section 7): the part of an order item that a confirmation row applies to, as an index into
-- the item's parts in the order they were made; len(parts) + 1 is a new part. 1: the part already carrying the row's
-- number; 2: a new part when the item has none yet, or when the row's quantity fits beside the parts' quantities;
-- 3: else the latest part (a correction). A blank or NULL number never makes a part once the item has one.
create or replace temp macro confirmation_part(parts, r, item_quantity) as
    case
        when r.tracking_action = 'set'
            and list_contains(list_transform(parts, lambda part: part.tracking_number), r.tracking_number)
            then list_position(list_transform(parts, lambda part: part.tracking_number), r.tracking_number)
        when len(parts) = 0 then 1
        when r.tracking_action = 'set' and r.quantity is not null
            and list_sum(list_transform(parts, lambda part: part.quantity)) + r.quantity <= item_quantity
            then len(parts) + 1
        else len(parts)
    end;

-- A part after a confirmation row: every row sets the ship date; a carrier or ship method given overwrites, a blank one
-- keeps; the number follows tracking_action; a quantity given becomes the part's, and a part made without one holds
-- the whole item. The carrier as confirmed is the raw carrier-code and carrier-name of the last row that gave one.
create or replace temp macro confirmed_part(part, r, item_quantity) as
    {
        'tracking_number': case r.tracking_action
            when 'set' then r.tracking_number
            when 'keep' then part.tracking_number
        end,
        'carrier_code': coalesce(r.carrier_code, part.carrier_code),
        'carrier_code_as_confirmed': case
            when r.carrier_code is not null then r.carrier_code_as_confirmed else part.carrier_code_as_confirmed
        end,
        'carrier_name_as_confirmed': case
            when r.carrier_code is not null then r.carrier_name_as_confirmed else part.carrier_name_as_confirmed
        end,
        'ship_method': coalesce(r.ship_method, part.ship_method),
        'ship_date': r.ship_date,
        'quantity': coalesce(r.quantity, part.quantity, item_quantity),
        'last_load_seq': r.load_seq
    };

-- An order item's parts after one more confirmation row (the step of the fold over its rows in load order). A new
-- part starts from the latest part's carrier and ship method (none for the item's first part); it is made only by a
-- row with a new number, and with a quantity unless it is the first.
create or replace temp macro apply_confirmation(parts, r, item_quantity) as
    case
        when confirmation_part(parts, r, item_quantity) > len(parts)
            then list_append(parts, confirmed_part(parts[-1], r, item_quantity))
        else list_transform(
            range(1, len(parts) + 1),
            lambda i: case
                when i = confirmation_part(parts, r, item_quantity) then confirmed_part(parts[i], r, item_quantity)
                else parts[i]
            end
        )
    end;

-- An order item's parts: its confirmation lines (structs as stg_confirmations' columns, in load order, each with the
-- item's quantity) folded by apply_confirmation from no part. list_reduce folds elements of one type: each element
-- carries a line, the accumulator the parts so far. The item's quantity travels in the line: a lambda here that
-- read it as a column of the row (a capture) got another row's value in DuckDB 1.5.5 once many rows were folded.
-- An item confirmed by one line (most items) has one part, confirmed_part(no_parts()[1], line, ...): the models
-- make it without a list.
create or replace temp macro no_parts() as
    []::struct(
        tracking_number varchar,
        carrier_code varchar,
        carrier_code_as_confirmed varchar,
        carrier_name_as_confirmed varchar,
        ship_method varchar,
        ship_date date,
        quantity integer,
        last_load_seq bigint
    )[];

-- the duckdb dialect of sqlfluff cannot parse a lambda of two parameters
-- noqa: disable=PRS
create or replace temp macro confirmed_parts(confirmation_lines) as
    list_reduce(
        list_transform(confirmation_lines, lambda line: {'parts': null, 'line': line}),
        lambda acc, x: {'parts': apply_confirmation(acc.parts, x.line, x.line.item_quantity), 'line': null},
        {'parts': no_parts(), 'line': null}
    ).parts;
-- noqa: enable=PRS
