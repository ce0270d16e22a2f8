"""The carriers the generator ships with: how sellers name them, how their events arrive, their tracking numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from vtrdemo.generator.sql import digits, perm

# Aliases a settings file needs for every carrier this generator writes to count as integrated
# (Amazon's carrier code for Royal Mail is "Royal Mail"; the integrated list spells it ROYAL_MAIL).
CARRIER_ALIASES = {"royal mail": "ROYAL_MAIL"}


@dataclass(frozen=True)
class Carrier:
    key: str
    code: str  # carrier-code as the seller writes it
    name: str | None  # carrier-name (written only when code is Other)
    shape: str  # tracking number shape, see tracking_sql
    channel: str  # csv | easypost | aftership: how its events reach the landing folder
    label: str  # the carrier as named in scan files (EasyPost carrier / AfterShip slug / canonical)
    methods: tuple[str, ...]


CARRIERS = {
    c.key: c
    for c in (
        Carrier(
            "postnord",
            "PostNord",
            None,
            "s10:UA:SE",
            "csv",
            "PostNord",
            ("PostNord MyPack Collect", "PostNord MyPack Home", "PostNord Varubrev"),
        ),
        Carrier("bring", "Bring", None, "s10:CP:NO", "csv", "Bring", ("Bring PickUp Parcel", "Bring Home Delivery")),
        Carrier("dhl", "DHL", None, "dhl10", "csv", "DHL", ("DHL Paket", "DHL Service Point", "DHL Parcel Connect")),
        Carrier("ups", "UPS", None, "ups", "easypost", "UPS", ("UPS Standard", "UPS Express Saver")),
        Carrier("fedex", "FedEx", None, "fedex12", "easypost", "FedEx", ("FedEx International Economy",)),
        Carrier("usps", "USPS", None, "usps22", "easypost", "USPS", ("USPS Ground Advantage", "USPS Priority Mail")),
        Carrier("dpd", "DPD", None, "dpd14", "aftership", "dpd-de", ("DPD Classic", "DPD Predict")),
        Carrier("gls", "GLS", None, "gls12", "aftership", "gls", ("GLS BusinessParcel", "GLS ShopDeliveryService")),
        Carrier("hermes", "Hermes", None, "hermes20", "aftership", "hermes-de", ("Hermes Paket",)),
        Carrier("amzl", "AMZL", None, "tba", "csv", "AMZL", ("Amazon Shipping Standard",)),
        Carrier(
            "royalmail",
            "Royal Mail",
            None,
            "s10:TT:GB",
            "csv",
            "Royal Mail",
            ("Royal Mail Tracked 48", "Royal Mail Tracked 24"),
        ),
        # outside the integrated list: carrier-code Other with a free-text name
        Carrier("budbee", "Other", "Budbee", "alnum:BB", "csv", "Budbee", ("Budbee Home", "Budbee Box")),
        Carrier("goexpress", "Other", "GO! Express", "alnum:GO", "csv", "GO!", ("GO! Overnight",)),
        Carrier("yodel", "Other", "Yodel", "alnum:JJD", "csv", "Yodel", ("Yodel Xpect 48",)),
        Carrier("ontrac", "Other", "OnTrac", "alnum:D10", "csv", "OnTrac", ("OnTrac Ground",)),
    )
}


def tracking_sql(shape: str, rng: random.Random, p: str = "p") -> str:
    """SQL for a carrier's tracking number, shaped as the carrier issues it, unique per package p."""
    if shape.startswith("s10:"):  # UPU S10: 2 letters, 8 digit serial, check digit, country
        _, prefix, country = shape.split(":")
        n = perm(p, 8, rng)
        digit = [f"(({n}) // {10 ** (7 - i)} % 10)" for i in range(8)]
        total = " + ".join(f"{w} * {d}" for w, d in zip((8, 6, 4, 2, 3, 5, 9, 7), digit, strict=True))
        check = f"(case 11 - ({total}) % 11 when 10 then 0 when 11 then 5 else 11 - ({total}) % 11 end)"
        return f"'{prefix}' || {digits(n, 8)} || ({check})::varchar || '{country}'"
    if shape == "ups":  # 1Z + shipper account (6) + service (2) + package (7) + check digit
        shipper = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXY0123456789") for _ in range(6))
        service = "68"
        values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in shipper + service]
        fixed = sum(v * (2 if (i + 1) % 2 == 0 else 1) for i, v in enumerate(values))
        n = perm(p, 7, rng)
        terms = " + ".join(f"{2 if (9 + i) % 2 == 0 else 1} * (({n}) // {10 ** (6 - i)} % 10)" for i in range(7))
        return f"'1Z{shipper}{service}' || {digits(n, 7)} || ((10 - ({fixed} + {terms}) % 10) % 10)::varchar"
    if shape == "dhl10":  # DHL Express waybill: 9 digits + mod 7 check digit
        n = perm(p, 9, rng)
        return f"{digits(n, 9)} || (({n}) % 7)::varchar"
    if shape == "dpd14":
        return f"'0' || {digits(perm(p, 13, rng), 13)}"
    if shape == "gls12":  # 11 digits + check digit (weights 3,1 from the right, +1)
        n = perm(p, 11, rng)
        terms = " + ".join(f"{3 if i % 2 == 0 else 1} * (({n}) // {10**i} % 10)" for i in range(11))
        return f"{digits(n, 11)} || ((10 - ({terms} + 1) % 10) % 10)::varchar"
    if shape == "usps22":  # 94 + service and mailer id + serial + mod 10 check
        n = perm(p, 13, rng)
        lead = "940011189922"[:8]
        return f"'{lead}' || {digits(n, 13)} || ((({n}) * 3 + 7) % 10)::varchar"
    if shape == "fedex12":
        return f"'7' || {digits(perm(p, 11, rng), 11)}"
    if shape == "hermes20":
        return f"'H10' || {digits(perm(p, 17, rng), 17)}"
    if shape == "tba":  # Amazon Logistics: TBA + 12 digits
        return f"'TBA3' || {digits(perm(p, 11, rng), 11)}"
    if shape.startswith("alnum:"):
        prefix = shape.split(":")[1]
        return f"'{prefix}' || upper(substr(md5('{rng.random()}' || ({p})::varchar), 1, {16 - len(prefix)}))"
    raise ValueError(f"unknown tracking shape {shape}")


def typo_sql(t: str, shape_expr: str, r: str) -> str:
    """SQL: tracking number `t` with one digit mistyped (a digit of the serial, never a letter)."""
    pos = f"(case when {shape_expr} like 's10:%' then 3 + {r} % 8 else length({t}) - {r} % 8 end)"
    char = f"substr({t}, {pos}, 1)"
    new = (
        f"coalesce(((try_cast({char} as int) + 1 + ({r} // 8) % 9) % 10)::varchar, "
        f"case when {char} = 'A' then 'B' else 'A' end)"
    )
    return f"left({t}, {pos} - 1) || {new} || substr({t}, {pos} + 1)"
