-- Every invalid package in the largest window: the list a seller works through (the invalid_packages dataset).
-- Grain: one row per snapshot date and invalid package. Key: snapshot_date, package_id. Upstream: marts.fct_window_packages.
-- columns:
--   snapshot_date: the snapshot date D
--   seller_id: the seller's landing folder name
--   marketplace: the sales channel
--   package_id: the package
--   order_id: the marketplace's order id
--   tracking_number: normalised tracking number; NULL when missing
--   carrier: the package's carrier code
--   ship_date: earliest ship date of its items
--   promised_delivery_date: latest promised delivery date of its items
--   categories: its items' categories
--   reason: why it is invalid (the first that applies)
select
    snapshot_date,
    seller_id,
    marketplace,
    package_id,
    order_id,
    tracking_number,
    carrier_code as carrier,
    ship_date,
    promised_delivery_date,
    categories,
    invalid_reason as reason,
from marts.fct_window_packages
where not is_valid
    and window_days = (select max(window_days) from config.windows)
