"""No staging or intermediate model plans more rows than its inputs hold: joins go by hash, not row by row.

A subquery under an OR once made DuckDB pair every confirmation with every order (a cross product): tens of
GB spilled to disk at a million packages while small tests passed. The planner's row estimates show it at any
size, so this test reads them on a small generated data set.
"""

from __future__ import annotations

import datetime as dt
import json

from pipeline.db import connect
from pipeline.generator import CARRIER_ALIASES, generate
from pipeline.models import load_models
from pipeline.run import run

START = dt.date(2026, 5, 1)


def _nodes(node):
    yield node
    for child in node.get("children", []):
        yield from _nodes(child)


def test_no_view_plans_more_rows_than_ten_times_its_largest_input(project):
    generate(project.landing, seller_id="acme", start=START, days=40, packages=3000, seed=3)
    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    project.write_config(f"[carrier_aliases]\n{aliases}")
    day = START + dt.timedelta(days=39)
    run(project.settings(), day)

    con = connect(project.settings(), read_only=True)
    try:
        largest_input = max(con.execute(f"select count(*) from raw.{t}").fetchone()[0]
                            for t in ("orders", "confirmations", "scans"))
        estimates = {}
        for model in load_models():
            if model.kind != "view":
                continue
            plan = json.loads(con.execute(f"explain (format json) select * from {model.table}").fetchall()[0][1])
            estimates[model.name] = max(
                int(n.get("extra_info", {}).get("Estimated Cardinality", 0)) for root in plan for n in _nodes(root))
    finally:
        con.close()
    assert largest_input > 10_000 and len(estimates) >= 8
    assert {name: e for name, e in estimates.items() if e > 10 * largest_input} == {}
