-- Accounts: a seller on a marketplace exists once any of its order lines is loaded (spec section 7), over all history.
-- One row per account.
-- kind: table
-- grain: seller_id, marketplace
-- upstream: raw.orders, staging.stg_orders
-- not null: seller_id, marketplace
-- columns:
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel (e.g. Amazon.se); 'Unknown' for orders whose report never gave one
select distinct seller_id, sales_channel as marketplace
from raw.orders
where sales_channel is not null
union
select distinct seller_id, marketplace
from staging.stg_orders
