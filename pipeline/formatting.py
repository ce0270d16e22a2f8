"""How a rate reads wherever a person sees it: the run summary, the demo, the report and the alerts."""

from __future__ import annotations

import math


def percent(value: float | None, *, none: str = "-") -> str:
    """A fraction as a percentage with two decimals, truncated: 94.996 % reads 94.99 %, never the 95 % target
    it is below (the status says below_target; the number must agree)."""
    if value is None:
        return none
    return f"{math.floor(round(value * 10000, 6)) / 100:.2f}%"  # round first: 0.57 * 10000 is 5699.999...
