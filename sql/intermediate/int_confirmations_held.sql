-- Confirmation lines held because their order (or order item) has not arrived yet; placed on the run after it does.
-- One row per held confirmation line.
-- kind: table
-- grain: seller_id, load_seq
-- upstream: staging.stg_confirmations, staging.stg_orders
-- not null: seller_id, load_seq
-- columns:
--   seller_id: the seller's landing folder name
--   load_seq: load order of the line
--   file_id: the file the line came from (raw.files)
--   line: line number in that file
--   order_id: the order the line confirms
--   order_item_id: the item it confirms; NULL for the whole order
--   ship_date: ship date as written
with run_orders as (
    select distinct seller_id, order_id from staging.stg_orders
)

select
    c.seller_id, c.load_seq, c.file_id, c.line, c.order_id, c.order_item_id, c.ship_date,
from staging.stg_confirmations as c
-- joins, not a correlated subquery with an OR: DuckDB cannot turn that into a hash join
left join run_orders as o
    on o.seller_id = c.seller_id and o.order_id = c.order_id
left join staging.stg_orders as i
    on i.seller_id = c.seller_id and i.order_id = c.order_id and i.order_item_id = c.order_item_id
where o.order_id is null
    or (c.order_item_id is not null and i.order_item_id is null)
