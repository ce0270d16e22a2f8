-- Every invalid package in the largest window (exempt ones are never listed): the list a seller works through (the
-- invalid_packages dataset), the invalid rows of marts.mart_packages.
-- One row per snapshot date and invalid package.
-- kind: snapshot
-- grain: snapshot_date, package_id
-- upstream: marts.mart_packages
-- not null: snapshot_date, seller_id, marketplace, package_id, order_id, reason
-- accepted: reason in reasons
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
--   order_item_ids: its order items' ids, sorted
--   skus: its items' skus, distinct, sorted
select
    snapshot_date,
    seller_id,
    marketplace,
    package_id,
    order_id,
    tracking_number,
    carrier,
    ship_date,
    promised_delivery_date,
    categories,
    reason,
    order_item_ids,
    skus,
from marts.mart_packages
where status = 'invalid'
