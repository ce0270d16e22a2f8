"""Orders: one per package, with its marketplace, dates, carrier, failure mode and tracking number; then its items."""

from __future__ import annotations

import random

from vtrdemo.generator.carriers import CARRIERS, tracking_sql
from vtrdemo.generator.rates import BANDS, DIP_OTHER_CARRIER, DIP_PRE_TRANSIT, RATE_HELD
from vtrdemo.generator.sql import digits, offset_text, perm, pick


def _mode_sql() -> str:
    """SQL: a package's failure mode from u(p, 20), in exclusive bands."""
    whens, cum = [], 0.0
    for mode, rate in BANDS:
        cum += rate
        whens.append(f"when u(p, 20) < {cum!r} then '{mode}'")
    return "case " + " ".join(whens) + " else 'ok' end"


def build_orders(con, rng, profiles, packages, days, dip_category, dip_lo, dip_hi, split_share=0.0) -> None:
    """One order per package: marketplace, dates, carrier, failure mode, tracking number; then its items."""
    con.execute(f"""
    create table base as
    with raw as (
        select range as p, u(range, 1) as u_day, u(range, 2) as u_mkt, u(range, 3) as u_carrier
        from range({int(packages)})
    ),
    placed as (
        select r.*, d.d, d.day
        from raw as r asof join days as d on r.u_day >= d.cum_lo
    )
    select x.p, x.d, x.day, mk.m, mk.marketplace, mk.currency, mk.country, mk.price_scale,
        mx.carrier as mix_carrier
    from placed as x
    asof join markets as mk on x.u_mkt >= mk.cum_lo
    asof join mix as mx on mk.m = mx.m and x.u_carrier >= mx.cum_lo
    """)
    _build_items(con)
    dip = "false" if dip_category is None else f"(pc.category = '{dip_category}' and b.d between {dip_lo} and {dip_hi})"
    con.execute(f"""
    create table orders as
    with primary_cat as (
        select p, category from items where k = 0
    ),
    flagged as (
        select b.*, {dip} as in_dip,
            u(b.p, 30) as u_dip
        from base as b join primary_cat as pc on pc.p = b.p
    ),
    timed as (
        select f.*,
            6 * 3600 + floor(u(f.p, 10) * 18 * 3600)::int as purchase_sec,
            case when u(f.p, 11) < 0.55 then 0 when u(f.p, 11) < 0.90 then 1 else 2 end as delay0,
            3 + floor(u(f.p, 12) * 3)::int as promise_days,
            case when f.in_dip and f.u_dip < {DIP_OTHER_CARRIER} then oc.carrier else f.mix_carrier end as carrier,
            case when f.in_dip and f.u_dip >= {DIP_OTHER_CARRIER}
                      and f.u_dip < {DIP_OTHER_CARRIER + DIP_PRE_TRANSIT} then 'pre_transit'
                 else {_mode_sql()} end as mode,
        from flagged as f join other_carrier as oc on oc.m = f.m
    ),
    shipped as (
        select t.*,
            -- no same-day shipping after 15:00, no shipping on Sundays
            case when t.delay0 = 0 and t.purchase_sec >= 15 * 3600 then 1 else t.delay0 end as delay1,
        from timed as t
    )
    select s.*,
        s.d + s.delay1 + case when isodow(s.day + s.delay1) = 7 then 1 else 0 end as ship_d,
        s.d + s.promise_days + case when isodow(s.day + s.promise_days) = 7 then 1 else 0 end as promise_d,
    from shipped as s
    """)
    # tracking numbers: one expression per carrier shape (the draws are replayed for split boxes' numbers)
    tracking_draws = rng.getstate()
    whens = " ".join(f"when '{c.key}' then {tracking_sql(c.shape, rng)}" for c in CARRIERS.values())
    order_prefix = ("402", "403", "405", "406", "407", "408", "302", "303", "304", "305", "028")
    con.execute(f"""
    create or replace table orders as
    select o.*,
        {pick(order_prefix, "o.p", 13)} || '-' || substr(n, 1, 7) || '-' || substr(n, 8, 7) as order_id,
        case o.carrier {whens} end as tracking_true,
        c.code as carrier_code, c.name as carrier_name, c.shape, c.channel, c.label as carrier_label,
        c.integrated, c.methods[1 + floor(u(o.p, 14) * len(c.methods))::int] as ship_method,
        o.ship_d = o.d and o.d + 1 < {days} and u(o.p, 15) < {RATE_HELD} as is_held,
        offs.off_min,
        {offset_text("offs.off_min")} as off_text,
        o.day + (o.ship_d - o.d) as ship_day,
        o.day + (o.promise_d - o.d) as promise_day,
    from (select *, {digits(perm("p", 14, rng), 14)} as n from orders) as o
    join carriers as c on c.key = o.carrier
    join offsets as offs on offs.m = o.m and offs.d = least(o.d, {days - 1})
    """)
    con.execute("drop table base")
    _split_orders(con, packages, split_share, tracking_draws)


def _build_items(con) -> None:
    """An order's 1-3 items, their category and sku; the order's primary category decides whether the dip hits it."""
    con.execute("""
    create table items as
    with expanded as (
        select b.p, k.k,
            case when u(b.p, 4) < 0.80 then 1 when u(b.p, 4) < 0.95 then 2 else 3 end as n_items
        from base as b, range(3) as k(k)
    ),
    kept as (
        select p, k, p * 3 + k as item_key from expanded where k < n_items
    ),
    chosen as (
        select kept.*, u(item_key, 5) as u_cat, u(item_key, 6) as u_sku, u(item_key, 7) as u_extra,
            u(p * 3, 5) as u_first_cat
        from kept
    ),
    with_cat as (
        select ch.*, cat.c as own_c
        from chosen as ch asof join categories as cat on ch.u_cat >= cat.cum_lo
    ),
    first_cat as (
        select wc.*, cat.c as first_c
        from with_cat as wc asof join categories as cat on wc.u_first_cat >= cat.cum_lo
    )
    select f.p, f.k, f.item_key,
        case when f.k = 0 or u(f.item_key, 8) < 0.6 then f.first_c else f.own_c end as c,
    from first_cat as f
    """)
    con.execute("""
    create or replace table items as
    select i.p, i.k, i.item_key, i.c, cat.category,
        case when cat.has_extra and u(i.item_key, 7) < 0.004 then cat.n_skus
             else floor(u(i.item_key, 6) * cat.n_skus)::int end as sku_i,
        case when u(i.item_key, 9) < 0.90 then 1 when u(i.item_key, 9) < 0.98 then 2 else 3 end as quantity,
    from items as i
    join categories as cat on cat.c = i.c
    """)


def _split_orders(con, packages: int, split_share: float, tracking_draws: tuple) -> None:
    """Split shipments: about `split_share` of the orders (tracked with an integrated carrier and nothing else wrong)
    send their first item, of quantity 2 to 4, in two boxes: box 1 of one unit with the order's number, box 2 with
    the rest and a number of its own (`tracking_box2`); a fifth of those confirm box 2 with a mistyped number first
    and correct it a day or two later. Box 2's number is the one the order's carrier would give package p + packages
    (the same draws, replayed: unique among all numbers). Without splits the tables are as before."""
    if split_share <= 0:
        con.execute("alter table orders add column is_split boolean default false")
        con.execute("alter table orders add column tracking_box2 varchar")
        return
    replay = random.Random()
    replay.setstate(tracking_draws)
    box2 = f"p + {int(packages)}"
    whens = " ".join(f"when '{c.key}' then {tracking_sql(c.shape, replay, box2)}" for c in CARRIERS.values())
    con.execute(f"""
    create or replace table orders as
    select o.*,
        o.integrated and o.mode in ('ok', 'late') and u(o.p, 40) < {float(split_share)!r} as is_split,
        case when is_split then case o.carrier {whens} end end as tracking_box2,
    from orders as o
    """)
    con.execute("""
    update items set quantity = 2 + floor(u(item_key, 41) * 3)::int
    where k = 0 and p in (select p from orders where is_split)
    """)
