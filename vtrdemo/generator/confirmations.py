"""Shipping confirmations: a package's first confirmation and its later corrections, each with the day of its file."""

from __future__ import annotations


def build_confirmations(con, days) -> None:
    """Table conf: one row per confirmation line (per item, or one for a whole order), revision and file day."""
    con.execute(
        """
    create table conf as
    with items_o as (
        select o.*, i.k, i.item_key, i.quantity, count(*) over (partition by o.p) as n_items
        from orders as o join items as i on i.p = o.p
        where o.ship_d < """
        + str(days)
        + """
    ),
    whole as (
        -- some sellers confirm a multi-item order with one line without order-item-id
        select *, n_items > 1 and u(p, 16) < 0.10 as whole_order from items_o
    ),
    initial as (
        select w.*, 0 as rev, w.ship_d as file_d,
            case
                when w.mode = 'missing' then null
                when w.mode = 'typo' then 'typo'
                when w.mode = 'fixed' then case when u(w.p, 17) < 0.6 then 'typo' end
                else 'true'
            end as tracking_kind
        from whole as w
        where not w.whole_order or w.k = 0
    ),
    corrected as (
        select w.*, 1 as rev, w.ship_d + 1 + floor(u(w.p, 18) * 3)::int as file_d,
            case w.mode when 'fixed' then 'true' when 'keep' then 'blank' else 'NULL' end as tracking_kind
        from whole as w
        where w.mode in ('fixed', 'keep', 'remove') and (not w.whole_order or w.k = 0)
    )
    select * from initial
    union all
    select * from corrected where file_d < """
        + str(days)
        + """
    """
    )
