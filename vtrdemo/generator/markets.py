"""Marketplace profiles: time zone, currency, carrier mix and invented buyer data (the data is in markets.toml)."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Profile:
    tz: str
    country: str
    currency: str
    price_scale: float  # sku base price (about 10-150) times this
    carriers: tuple[tuple[str, float], ...]  # integrated mix; the profile's `other` gets RATE_OTHER
    other: str
    phone: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]  # (city, postal code prefix)
    postal: str  # se: 'ddd dd', 5: five digits, uk, us


@functools.cache
def profiles() -> dict[str, Profile]:
    """The profiles of markets.toml by key (se, de, uk, us), read once."""
    data = tomllib.loads(Path(__file__).with_name("markets.toml").read_text(encoding="utf-8"))
    names = data["names"]
    return {
        key: Profile(
            tz=p["tz"],
            country=p["country"],
            currency=p["currency"],
            price_scale=p["price_scale"],
            carriers=tuple((carrier, weight) for carrier, weight in p["carriers"]),
            other=p["other"],
            phone=p["phone"],
            first_names=tuple(names[p["names"]]["first"]),
            last_names=tuple(names[p["names"]]["last"]),
            streets=tuple(p["streets"]),
            cities=tuple((city, prefix) for city, prefix in p["cities"]),
            postal=p["postal"],
        )
        for key, p in data["profiles"].items()
    }


def profile_of(marketplace: str) -> Profile:
    host = marketplace.lower()
    if host.endswith((".se", ".dk", ".no", ".fi")):
        return profiles()["se"]
    if host.endswith(".co.uk"):
        return profiles()["uk"]
    if host.endswith(".com"):
        return profiles()["us"]
    return profiles()["de"]
