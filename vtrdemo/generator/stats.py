"""What a generate() call wrote, and what the pipeline should find in it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from pipeline.contract import REASONS


@dataclass
class GenerationStats:
    """What was written, and what the pipeline should find (assuming every scan has arrived)."""

    seller_id: str
    start: dt.date
    end: dt.date
    orders: int = 0  # orders placed (one package each once shipped)
    order_items: int = 0
    packages: int = 0  # packages confirmed within the period (a split order's second box is one more)
    split_orders: int = 0  # orders whose first item ships in two boxes
    files: int = 0
    order_lines: int = 0  # data lines in the order files (items + continuation lines)
    continuation_lines: int = 0
    confirmation_lines: int = 0
    scan_events: int = 0  # distinct events written (duplicates and repeated histories not counted)
    held_confirmations: int = 0  # confirmations written a day before their order line
    corrections: dict[str, int] = field(default_factory=dict)  # fixed / kept (blank) / removed (NULL)
    late_first_scans: int = 0
    invalid_expected: dict[str, int] = field(default_factory=dict)
    invalid_by_promised_date: dict[dt.date, dict[str, int]] = field(default_factory=dict, repr=False)
    uncategorized_items: int = 0
    dip_category: str = ""
    dip_start: dt.date | None = None  # purchase dates of the dip, inclusive
    dip_end: dt.date | None = None

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid_expected.values())


def fill_stats(con, stats: GenerationStats, start: dt.date) -> None:
    """Count what the built tables hold into `stats`, and the invalid packages the pipeline should find."""
    q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
    (stats.orders,) = q("select count(*) from orders")
    (stats.order_items,) = q("select count(*) from items")
    (stats.packages,) = q("select count(distinct p) + count(distinct p) filter (where box = 2) from conf")
    (stats.split_orders,) = q("select count(distinct p) filter (where box = 2) from conf")
    (stats.confirmation_lines,) = q("select count(*) from conf")
    stats.order_lines, stats.continuation_lines = q("select count(*), count(*) filter (where cont = 1) from out_orders")
    (stats.held_confirmations,) = q("select count(*) from conf where is_held and rev = 0")
    (stats.scan_events,) = q("select count(*) from events")
    (stats.late_first_scans,) = q("select count(distinct p) from conf where mode = 'late'")
    (stats.uncategorized_items,) = q("""select count(*) from items as i join skus as s on s.c = i.c and s.i = i.sku_i
                                      where not s.in_catalog""")
    stats.corrections = dict(
        con.execute("""
        select case mode when 'fixed' then 'fixed' when 'keep' then 'kept' else 'removed' end, count(distinct p)
        from conf where rev = 1 group by all order by 1""").fetchall()
    )
    # the final state per package, judged in the pipeline's order of reasons
    rows = con.execute("""
    with final as (
        select p, any_value(mode) as mode, any_value(integrated) as integrated, any_value(promise_d) as promise_d,
            arg_max(tracking_kind, rev) filter (where tracking_kind is distinct from 'blank' and box = 1) as kind,
        from conf group by p
    ),
    judged as (
        select promise_d, case
                when kind is null or kind = 'NULL' then 'missing_tracking'
                when not integrated then 'carrier_not_integrated'
                when kind = 'typo' then 'no_carrier_events'
                when mode = 'pre_transit' then 'pre_transit_only'
                when mode = 'recycled' then 'scan_before_ship_date'
            end as reason,
        from final
    )
    select promise_d, reason, count(*) from judged where reason is not null group by 1, 2 order by 1, 2
    """).fetchall()
    by_reason: Counter = Counter()
    for promise_d, reason, n in rows:
        day = start + dt.timedelta(days=promise_d)
        stats.invalid_by_promised_date.setdefault(day, {})[reason] = n
        by_reason[reason] += n
    stats.invalid_expected = {r: by_reason.get(r, 0) for r in REASONS}
