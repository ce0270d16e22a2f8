-- The current confirmation of each order item as parts (spec sections 2, 3 and 7, split shipments): its confirmation
-- lines (its own and the whole order's) folded in load order by apply_confirmation (sql/macros.sql), each line
-- updating the part carrying its number, making a new part when its quantity fits beside the others, or correcting
-- the latest part. An item of quantity 0 is cancelled: it has no part, whatever lines arrive for it.
-- One row per part of a confirmed, not cancelled order item whose order line has arrived.
-- kind: table
-- grain: seller_id, order_id, order_item_id, part_number
-- upstream: staging.stg_confirmations, staging.stg_orders
-- not null: package_id, seller_id, order_id, order_item_id, part_number, quantity, ship_date, last_load_seq
-- columns:
--   package_id: the package the part travels in: hash of seller, order and tracking number (or ship date and carrier when untracked)
--   seller_id: the seller's landing folder name
--   order_id: the marketplace's order id
--   order_item_id: the order item
--   part_number: the part's place among the item's parts, in the order they were made (1 unless the item was split)
--   quantity: units of the item in the part (the last quantity confirmed for it; the item's quantity when none was)
--   tracking_number: the part's normalised tracking number; NULL when none or removed
--   carrier_code: the part's carrier after aliases: the last one confirmed for it
--   carrier_code_as_confirmed: carrier-code as the seller last wrote it for the part
--   carrier_name_as_confirmed: carrier-name as the seller last wrote it for the part
--   ship_method: the last non-blank ship-method confirmed for the part; NULL when no line gave one
--   ship_date: ship date of the last line applied to the part
--   last_load_seq: load order of the last line applied to the part
with item_lines as (
    select
        c.seller_id, c.order_id, c.order_item_id, c.load_seq, c.quantity, c.ship_date, c.carrier_code,
        c.tracking_action, c.tracking_number, c.ship_method, c.carrier_code_as_confirmed, c.carrier_name_as_confirmed,
    from staging.stg_confirmations as c
    where c.order_item_id is not null
    union all
    -- a whole-order line applies to every item of the order, also items whose line arrives later; its quantity is
    -- ignored (it applies to each item as a line without quantity)
    select
        c.seller_id, c.order_id, o.order_item_id, c.load_seq, null::integer as quantity, c.ship_date, c.carrier_code,
        c.tracking_action, c.tracking_number, c.ship_method, c.carrier_code_as_confirmed, c.carrier_name_as_confirmed,
    from staging.stg_confirmations as c
    inner join staging.stg_orders as o
        on o.seller_id = c.seller_id and o.order_id = c.order_id
    where c.order_item_id is null
),

confirmation_lines as (
    select
        l.seller_id,
        l.order_id,
        l.order_item_id,
        {
            'load_seq': l.load_seq,
            'quantity': l.quantity,
            'ship_date': l.ship_date,
            'carrier_code': l.carrier_code,
            'tracking_action': l.tracking_action,
            'tracking_number': l.tracking_number,
            'ship_method': l.ship_method,
            'carrier_code_as_confirmed': l.carrier_code_as_confirmed,
            'carrier_name_as_confirmed': l.carrier_name_as_confirmed,
            'item_quantity': coalesce(o.quantity, 1)
        } as confirmation_line,
    from item_lines as l
    inner join staging.stg_orders as o
        on o.seller_id = l.seller_id and o.order_id = l.order_id and o.order_item_id = l.order_item_id
    where coalesce(o.quantity, 1) > 0
),

-- most items are confirmed by one line: their one part is made from it, without gathering lines into a list (a list
-- per item of every item of a backfill's range did not fit in 1.5 GB at a million packages)
items_of_several_lines as (
    select seller_id, order_id, order_item_id,
    from confirmation_lines
    group by seller_id, order_id, order_item_id
    having count(*) > 1
),

lines_by_item as (
    select
        l.*,
        s.order_id is not null as is_one_of_several,
    from confirmation_lines as l
    left join items_of_several_lines as s
        on s.seller_id = l.seller_id and s.order_id = l.order_id and s.order_item_id = l.order_item_id
),

folded as (
    select
        seller_id,
        order_id,
        order_item_id,
        -- the lines sorted by load_seq, their first field: the order they apply in
        confirmed_parts(list_sort(list(confirmation_line))) as parts,
    from lines_by_item
    where is_one_of_several
    group by seller_id, order_id, order_item_id
),

parts as (
    select
        seller_id,
        order_id,
        order_item_id,
        unnest(parts) as part,
        generate_subscripts(parts, 1) as part_number,
    from folded
    union all
    select
        seller_id,
        order_id,
        order_item_id,
        confirmed_part(no_parts()[1], confirmation_line, confirmation_line.item_quantity) as part,
        1 as part_number,
    from lines_by_item
    where not is_one_of_several
)

select
    md5(concat_ws(
        '|', p.seller_id, p.order_id,
        coalesce(p.part.tracking_number, '~' || p.part.ship_date::varchar || '|' || coalesce(p.part.carrier_code, ''))
    )) as package_id,
    p.seller_id,
    p.order_id,
    p.order_item_id,
    p.part_number,
    p.part.quantity,
    p.part.tracking_number,
    p.part.carrier_code,
    p.part.carrier_code_as_confirmed,
    p.part.carrier_name_as_confirmed,
    p.part.ship_method,
    p.part.ship_date,
    p.part.last_load_seq,
from parts as p
