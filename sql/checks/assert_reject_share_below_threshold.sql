-- Fails when a file loaded by this run had more than quality.max_reject_share of its rows rejected (a format change?).
select f.seller_id, f.feed, f.path, f.rows_read, f.rows_rejected,
    round(f.rows_rejected / f.rows_read, 4) as reject_share
from raw.files as f
where f.file_id > $loaded_after_file_id
    and f.rows_read > 0
    and f.rows_rejected / f.rows_read > $max_reject_share
