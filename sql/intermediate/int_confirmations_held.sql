-- Confirmation lines held because their order (or order item) has not arrived yet; placed on the run after it does.
-- Grain: one row per held confirmation line. Key: seller_id, load_seq. Upstream: staging.stg_confirmations, staging.stg_orders.
-- columns:
--   seller_id: the seller's landing folder name
--   load_seq: load order of the line
--   file_id: the file the line came from (raw.files)
--   line: line number in that file
--   order_id: the order the line confirms
--   order_item_id: the item it confirms; NULL for the whole order
--   ship_date: ship date as written
select
    c.seller_id, c.load_seq, c.file_id, c.line, c.order_id, c.order_item_id, c.ship_date,
from staging.stg_confirmations as c
where not exists (
    select 1
    from staging.stg_orders as o
    where o.seller_id = c.seller_id
        and o.order_id = c.order_id
        and (c.order_item_id is null or o.order_item_id = c.order_item_id)
)
