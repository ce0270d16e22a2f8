"""Shipping confirmations: a package's first confirmation and its later corrections, each with the day of its file."""

from __future__ import annotations


def build_confirmations(con, days) -> None:
    """Table conf: one row per confirmation line (per item, or one for a whole order; a split item's two boxes one
    each, `box` 1 and 2), revision and file day."""
    con.execute(
        """
    create table conf as
    select * from (
    with items_o as (
        select o.*, i.k, i.item_key, i.quantity, count(*) over (partition by o.p) as n_items
        from orders as o join items as i on i.p = o.p
        where o.ship_d < """
        + str(days)
        + """
    ),
    whole as (
        -- some sellers confirm a multi-item order with one line without order-item-id
        select *, n_items > 1 and u(p, 16) < 0.10 and not is_split as whole_order from items_o
    ),
    initial as (
        select w.* replace (case when w.is_split and w.k = 0 then 1 else w.quantity end as quantity),
            1 as box, 0 as rev, w.ship_d as file_d,
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
        select w.*, 1 as box, 1 as rev, w.ship_d + 1 + floor(u(w.p, 18) * 3)::int as file_d,
            case w.mode when 'fixed' then 'true' when 'keep' then 'blank' else 'NULL' end as tracking_kind
        from whole as w
        where w.mode in ('fixed', 'keep', 'remove') and (not w.whole_order or w.k = 0)
    ),
    -- a split item's second box: the rest of its units, its own number (a fifth mistyped first, then corrected)
    box2 as (
        select w.* replace (w.quantity - 1 as quantity), 2 as box, 0 as rev, w.ship_d as file_d,
            case when u(w.p, 42) < 0.2 then 'box2_typo' else 'box2' end as tracking_kind
        from whole as w
        where w.is_split and w.k = 0
    ),
    box2_corrected as (
        select b.* replace (1 as rev, b.ship_d + 1 + floor(u(b.p, 43) * 2)::int as file_d, 'box2' as tracking_kind)
        from box2 as b
        where b.tracking_kind = 'box2_typo'
    )
    select * from initial
    union all by name
    select * from corrected
    union all by name
    select * from box2
    union all by name
    select * from box2_corrected
    ) where file_d < """
        + str(days)
        + """
    """
    )
