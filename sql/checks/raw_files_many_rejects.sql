-- A file with many rejected rows (a format change?): more than quality.max_reject_share of its rows and at least
-- quality.min_rejected_rows. Named in the summary and notified once per file, until a notification is delivered
-- ($quality_alert_key: the warning's alert key as a format() template, from pipeline/alerts/planning.py).
-- level: warn
select
    f.seller_id, f.feed, f.path, f.sha256, f.rows_read, f.rows_rejected,
    round(f.rows_rejected / f.rows_read, 4) as reject_share
from raw.files as f
where f.rows_read > 0
    and f.rows_rejected / f.rows_read > $max_reject_share
    and f.rows_rejected >= $min_rejected_rows
    and not exists (
        select 1
        from lake.main.alert_log as a
        where a.delivered and a.alert_key = format($quality_alert_key, f.seller_id, f.sha256)
    )
order by f.file_id
