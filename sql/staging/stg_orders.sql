-- Current order items: every order-report line replayed in load order; a non-blank value overwrites, a blank one keeps.
-- One row per order item.
-- Holds the orders the latest run needs: those with a promised delivery date on or after config.run's earliest date.
-- kind: table
-- grain: seller_id, order_id, order_item_id
-- upstream: raw.orders, config.run
-- not null: seller_id, order_id, order_item_id, marketplace
-- columns:
--   seller_id: the seller's landing folder name
--   order_id: the marketplace's order id
--   order_item_id: the marketplace's order item id
--   marketplace: the order's sales channel (e.g. Amazon.se); 'Unknown' when the report never gave one
--   sku: the seller's sku
--   quantity: quantity purchased
--   latest_delivery_date: the promised delivery date (calendar date as written)
--   purchase_at: when the order was placed
--   item_price: the item's price, for its whole quantity; NULL when never given
--   shipping_price: the item's shipping price, for its whole quantity; NULL when never given
select
    seller_id,
    order_id,
    order_item_id,
    coalesce(arg_max(sales_channel, load_seq(file_id, line)), 'Unknown') as marketplace,
    arg_max(sku, load_seq(file_id, line)) as sku,
    arg_max(quantity, load_seq(file_id, line)) as quantity,
    arg_max(latest_delivery_date, load_seq(file_id, line)) as latest_delivery_date,
    arg_max(purchase_at, load_seq(file_id, line)) as purchase_at,
    arg_max(item_price, load_seq(file_id, line)) as item_price,
    arg_max(shipping_price, load_seq(file_id, line)) as shipping_price,
from raw.orders
where
    (seller_id, order_id) in (
        -- rows load in time order, so this filter skips most of the history without reading it
        select recent.seller_id, recent.order_id
        from raw.orders as recent
        where recent.latest_delivery_date >= (select earliest_promised_date from config.run)
    )
group by seller_id, order_id, order_item_id
