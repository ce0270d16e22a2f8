"""The rows of the order reports (with invented buyer data) and of the shipping-confirmation files, as text."""

from __future__ import annotations

import random

from vtrdemo.generator.carriers import typo_sql
from vtrdemo.generator.files import ORDER_HEADER
from vtrdemo.generator.rates import RATE_CONTINUATION
from vtrdemo.generator.sql import digits, iso_local, per_market, perm, pick, sql_list, ts

VAT = {"SE": 0.25, "DE": 0.19, "GB": 0.20, "US": 0.0}


def build_order_rows(con, profiles, seed: int, days: int) -> None:
    """Tables out_orders and out_confirmations: text columns in header order, the day of their file, a total order."""
    market_pick = lambda values, key, salt: per_market(profiles, values, key, salt, "o.m")  # noqa: E731
    first = market_pick(lambda p: p.first_names, "o.p", 50)
    last = market_pick(lambda p: p.last_names, "o.p", 51)
    r_first = market_pick(lambda p: p.first_names, "o.p", 52)
    street = market_pick(lambda p: p.streets, "o.p", 53)
    city_i = "1 + floor(u(o.p, 54) * 10)::int"
    city = (
        "(case o.m "
        + " ".join(f"when {i} then {sql_list([c for c, _ in p.cities])}[{city_i}]" for i, p in enumerate(profiles))
        + " end)"
    )
    zip_prefix = (
        "(case o.m "
        + " ".join(f"when {i} then {sql_list([z for _, z in p.cities])}[{city_i}]" for i, p in enumerate(profiles))
        + " end)"
    )
    fmt = "(case o.m " + " ".join(f"when {i} then '{p.postal}'" for i, p in enumerate(profiles)) + " end)"
    phone_prefix = "(case o.m " + " ".join(f"when {i} then '{p.phone}'" for i, p in enumerate(profiles)) + " end)"
    vat = "(case o.country " + " ".join(f"when '{k}' then {v}" for k, v in VAT.items()) + " else 0.2 end)"
    n7 = "lpad(floor(u(o.p, 55) * 1e7)::bigint::varchar, 7, '0')"
    letters = list("ABDEFGHJLNPQRSTUWXYZ")
    postal = f"""case {fmt}
            when 'se' then {zip_prefix} || floor(u(o.p, 56) * 10)::int::varchar || ' '
                           || lpad(floor(u(o.p, 57) * 100)::int::varchar, 2, '0')
            when '5' then {zip_prefix} || lpad(floor(u(o.p, 56) * 1000)::int::varchar, 3, '0')
            when 'uk' then {zip_prefix} || ' ' || floor(u(o.p, 56) * 10)::int::varchar
                           || {pick(letters, "o.p", 57)} || {pick(letters, "o.p", 58)}
            else {zip_prefix} || lpad(floor(u(o.p, 56) * 100)::int::varchar, 2, '0')
        end"""
    purchase_local = ts("o.day", "o.purchase_sec")
    tld = "lower(regexp_extract(o.marketplace, '\\.([A-Za-z.]+)$', 1))"
    price = (
        "case when o.price_scale >= 5 then round(s.base_price * o.price_scale / 10) * 10 - 1 "
        "else round(s.base_price * o.price_scale, 0) - 0.01 end"
    )
    # narrow rows sorted by file day first (cheap), then rendered in that order: the wide table stays clustered
    con.execute(f"""
    create temp table order_lines as
    select o.p, o.m, o.d, o.day, o.purchase_sec, o.order_id, o.off_text, o.marketplace, o.currency, o.country,
        o.promise_day, i.k, i.item_key, i.quantity, s.sku, s.product_name, {price} as unit_price,
        {digits(perm("i.item_key", 14, random.Random(seed * 31 + 1)), 14)} as item_id,
        o.d + case when o.is_held then 1 else 0 end as file_d,
        -- a few items are followed by a continuation line: same order item, every other column blank
        unnest(case when u(i.p * 3 + i.k, 70) < {RATE_CONTINUATION} then [0, 1] else [0] end) as cont,
    from orders as o
    join items as i on i.p = o.p
    join skus as s on s.c = i.c and s.i = i.sku_i
    where o.d + case when o.is_held then 1 else 0 end < {days}
    order by file_d
    """)
    con.execute(f"""
    create table out_orders as
    with full_lines as (
        select o.file_d, o.purchase_sec, o.p, o.k, o.cont,
            o.order_id as "order-id",
            o.item_id as "order-item-id",
            {iso_local(purchase_local, "o.off_text")} as "purchase-date",
            {iso_local(purchase_local + " + to_seconds(60 + floor(u(o.p, 59) * 1800)::bigint)", "o.off_text")}
                as "payments-date",
            substr(md5('{seed}' || o.order_id), 1, 15) || '@marketplace.amazon.' || {tld} as "buyer-email",
            {first} || ' ' || {last} as "buyer-name",
            case when u(o.p, 60) < 0.85 then {phone_prefix} || floor(u(o.p, 61) * 10)::int::varchar || ' '
                || substr({n7}, 1, 3) || ' ' || substr({n7}, 4, 2) || ' ' || substr({n7}, 6, 2) end
                as "buyer-phone-number",
            o.sku as "sku",
            o.product_name as "product-name",
            o.quantity::varchar as "quantity-purchased",
            o.currency as "currency",
            printf('%.2f', o.unit_price * o.quantity) as "item-price",
            printf('%.2f', o.unit_price * o.quantity * (1 - 1 / (1 + {vat}))) as "item-tax",
            '0.00' as "shipping-price",
            '0.00' as "shipping-tax",
            case when u(o.p, 62) < 0.08 then 'Expedited' else 'Standard' end as "ship-service-level",
            case when u(o.p, 63) < 0.8 then {first} else {r_first} end || ' ' || {last} as "recipient-name",
            case when o.country in ('GB', 'US') then (1 + floor(u(o.p, 64) * 120)::int)::varchar || ' ' || {street}
                 else {street} || ' ' || (1 + floor(u(o.p, 64) * 120)::int)::varchar end as "ship-address-1",
            case when u(o.p, 65) < 0.15 then 'lgh ' || (1001 + floor(u(o.p, 66) * 400)::int)::varchar end
                as "ship-address-2",
            null::varchar as "ship-address-3",
            {city} as "ship-city",
            null::varchar as "ship-state",
            {postal} as "ship-postal-code",
            o.country as "ship-country",
            case when u(o.p, 60) < 0.85 and u(o.p, 67) < 0.5 then {phone_prefix}
                || floor(u(o.p, 61) * 10)::int::varchar || ' ' || substr({n7}, 1, 3) || ' ' || substr({n7}, 4, 2)
                || ' ' || substr({n7}, 6, 2) end as "ship-phone-number",
            null::varchar as "delivery-start-date",
            null::varchar as "delivery-end-date",
            null::varchar as "delivery-time-zone",
            case when u(o.p, 68) < 0.04 then 'Please leave the parcel at the back door' end as "delivery-Instructions",
            o.marketplace as "sales-channel",
            strftime(o.day, '%Y-%m-%d') || 'T00:00:00' || o.off_text
                as "earliest-ship-date",
            strftime(o.day + 2, '%Y-%m-%d') || 'T23:59:59' || o.off_text
                as "latest-ship-date",
            strftime(o.day + 2, '%Y-%m-%d') || 'T00:00:00' || o.off_text
                as "earliest-delivery-date",
            strftime(o.promise_day, '%Y-%m-%d') || 'T23:59:59' || o.off_text
                as "latest-delivery-date",
            case when u(o.p, 69) < 0.03 then 'true' else 'false' end as "is-business-order",
            null::varchar as "purchase-order-number",
            null::varchar as "price-designation",
            'false' as "is-prime",
        from order_lines as o
    )
    select file_d, purchase_sec, p, k, cont, "order-id", "order-item-id",
        {", ".join(f'case when cont = 0 then "{c}" end as "{c}"' for c in ORDER_HEADER[2:])}
    from full_lines
    """)
    con.execute("drop table order_lines")  # the wide tables are what costs memory at a million packages
    item_id = digits(perm("c.item_key", 14, random.Random(seed * 31 + 1)), 14)
    typo = typo_sql("c.tracking_true", "c.shape", "floor(u(c.p, 19) * 1000)::int")
    typo_box2 = typo_sql("c.tracking_box2", "c.shape", "floor(u(c.p, 44) * 1000)::int")
    ship_local = ts("c.ship_day", "13 * 3600 + floor(u(c.p, 21) * 4 * 3600)")
    con.execute(f"""
    create table out_confirmations as
    select c.file_d, c.p, c.rev, c.k, c.box, c.ship_d,
        c.order_id as "order-id",
        case when not c.whole_order then {item_id} end as "order-item-id",
        case when not c.whole_order then c.quantity::varchar end as "quantity",
        case when u(c.p * 2 + c.rev, 71) < 0.8 then strftime(c.ship_day, '%Y-%m-%d')
             else {iso_local(ship_local, "c.off_text")} end as "ship-date",
        c.carrier_code as "carrier-code",
        c.carrier_name as "carrier-name",
        case c.tracking_kind when 'true' then c.tracking_true when 'typo' then {typo} when 'NULL' then 'NULL'
            when 'box2' then c.tracking_box2 when 'box2_typo' then {typo_box2} end as "tracking-number",
        c.ship_method as "ship-method",
    from conf as c
    order by c.file_d
    """)
