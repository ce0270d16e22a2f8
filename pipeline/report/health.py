"""The data health box of an account's report: what the figures rest on. The seller's last file per feed and when
it was loaded (raw.files), the daily feeds with no file for D (`stale`), its rejected rows (main.rejects) and the
SKUs of the account's confirmed items that are not in its catalog (raw.orders, raw.confirmations, raw.catalog)."""

from __future__ import annotations

import datetime as dt
from html import escape

import duckdb

from pipeline.contract import DAILY_FEEDS, FEEDS
from pipeline.report.data import Figures, rows
from pipeline.report.html import badge, count, table, td, th
from pipeline.report.notes import ref

LATEST_REJECT_FILES = 5


def _feeds(con: duckdb.DuckDBPyConnection, f: Figures, stale: list[str]) -> str:
    last = {
        r["feed"]: r
        for r in rows(
            con,
            """
        select feed, count(*) as files, arg_max(path, file_id) as path, arg_max(loaded_at, file_id) as loaded_at,
               arg_max(rows_loaded, file_id) as rows_loaded, arg_max(rows_rejected, file_id) as rows_rejected
        from raw.files where seller_id = ? group by feed""",
            [f.seller_id],
        )
    }
    body = []
    for feed in FEEDS:
        r = last.get(feed)
        if feed in stale:
            state = badge("overdue", f"stale: no file for {f.day}", "this daily feed delivered no file for the date")
        elif feed not in DAILY_FEEDS:
            state = badge("no_packages", "not daily", "the catalog changes rarely: it is never stale")
        else:
            state = badge("ok", "file for the date")
        body.append(
            [
                td(escape(feed)),
                td(escape(r["path"]) if r else "<i>no file loaded</i>"),
                td(f"{r['loaded_at']:%Y-%m-%d %H:%M} UTC" if r else "–"),
                td(count(r["files"] if r else None), num=True),
                td(f"{r['rows_loaded']:,} / {r['rows_rejected']:,}" if r else "–", num=True),
                td(state),
            ]
        )
    loaded = max((r["loaded_at"] for r in last.values()), default=None)
    lead = (
        f"<p class='note'>Scans up to the end of {f.day} (UTC) count. The last file was loaded "
        f"{loaded:%Y-%m-%d %H:%M} UTC. "
        if loaded
        else "<p class='note'>No file loaded yet. "
    )
    lead += (
        f"<span class='warn'>Stale{ref('stale')}: {escape(', '.join(stale))}: no file for {f.day}.</span></p>"
        if stale
        else f"Every daily feed delivered a file for {f.day}.</p>"
    )
    return (
        "<h3>Feeds</h3>"
        + lead
        + table(
            [
                th("Feed"),
                th("Last file loaded", "the seller's last file in load order (name order)"),
                th("Loaded at"),
                th("Files", num=True),
                th("Rows loaded / rejected", "of the last file", num=True),
                th("For the date"),
            ],
            body,
            table_id="feeds",
        )
    )


def _rejects(con: duckdb.DuckDBPyConnection, f: Figures) -> str:
    per_feed = dict(
        con.execute(
            "select feed, count(*) from main.rejects where seller_id = ? group by feed", [f.seller_id]
        ).fetchall()
    )
    head = f"<h3>Rejected rows{ref('rejects')}</h3>"
    if not per_feed:
        return head + "<p class='note'>No row of the seller's files was rejected.</p>"
    files = rows(
        con,
        """
        select file, feed, count(*) as rejected, mode(reason) as reason, list(line order by line)[:5] as lines
        from main.rejects where seller_id = ? group by file, feed order by max(file_id) desc, file limit ?""",
        [f.seller_id, LATEST_REJECT_FILES],
    )
    summary = ", ".join(f"{escape(feed)} {per_feed[feed]:,}" for feed in FEEDS if feed in per_feed)
    return (
        head
        + (
            f"<p class='note'>{sum(per_feed.values()):,} rejected row(s) in the seller's files (all "
            f"marketplaces): {summary}. The latest files with rejected rows:</p>"
        )
        + table(
            [th("File"), th("Feed"), th("Rejected rows", num=True), th("Most frequent reason"), th("First lines")],
            [
                [
                    td(escape(r["file"])),
                    td(escape(r["feed"])),
                    td(f"{r['rejected']:,}", num=True),
                    td(escape(r["reason"])),
                    td(", ".join(map(str, r["lines"]))),
                ]
                for r in files
            ],
        )
    )


def _not_in_catalog(con: duckdb.DuckDBPyConnection, f: Figures) -> str:
    since = f.day - dt.timedelta(days=f.settings.lag_days + f.largest - 1)
    skus = rows(
        con,
        """
        with items as (
            select order_id, order_item_id,
                   arg_max(sku, load_seq(file_id, line)) as sku,
                   coalesce(arg_max(sales_channel, load_seq(file_id, line)), 'Unknown') as marketplace,
                   arg_max(latest_delivery_date, load_seq(file_id, line)) as promised,
            from raw.orders
            where seller_id = $seller and order_id in (
                select order_id from raw.orders where seller_id = $seller and latest_delivery_date >= $since)
            group by order_id, order_item_id
        )
        select coalesce(i.sku, '(no SKU)') as sku, count(*) as items, min(i.order_id) as example_order,
        from items as i
        where i.marketplace = $marketplace and i.promised >= $since
            and i.order_id in (select order_id from raw.confirmations where seller_id = $seller)
            and (i.sku is null or i.sku not in (select sku from raw.catalog where seller_id = $seller))
        group by all order by items desc, sku""",
        {"seller": f.seller_id, "marketplace": f.marketplace, "since": since},
    )
    head = f"<h3>Items not in the catalog{ref('uncategorized')}</h3>"
    scope = f"confirmed items of {escape(f.marketplace)} promised from {since} on"
    if not skus:
        return head + f"<p class='note'>Every SKU of the {scope} is in the catalog.</p>"
    return (
        head
        + (
            f"<p class='note'>{sum(r['items'] for r in skus):,} {scope} have a SKU missing from the catalog "
            f"feed ({len(skus):,} SKU(s)): they count as <i>Uncategorized</i>.</p>"
        )
        + table(
            [th("SKU"), th("Items", num=True), th("An order with it")],
            [[td(escape(r["sku"])), td(f"{r['items']:,}", num=True), td(escape(r["example_order"]))] for r in skus],
            table_id="not-in-catalog",
            tall=len(skus) > 12,
        )
    )


def section(con: duckdb.DuckDBPyConnection, f: Figures, stale: list[str]) -> str:
    return (
        f"<h2 id='health'>Data health</h2><div class='health'>{_feeds(con, f, stale)}{_rejects(con, f)}"
        f"{_not_in_catalog(con, f)}</div>"
    )
