-- Current catalog: the category of each sku, later rows winning.
-- Grain: one row per seller and sku. Key: seller_id, sku. Upstream: raw.catalog.
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
