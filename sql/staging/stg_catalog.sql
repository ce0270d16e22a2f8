-- Current catalog: the category of each sku, later rows winning.
-- One row per seller and sku.
-- kind: table
-- grain: seller_id, sku
-- upstream: raw.catalog
-- not null: seller_id, sku, category
-- columns:
--   seller_id: the seller's landing folder name
--   sku: the seller's sku
--   category: the sku's category
select
    seller_id,
    sku,
    arg_max(category, load_seq(file_id, line)) as category,
from raw.catalog
group by seller_id, sku
