"""No staging or intermediate model plans more rows than its inputs hold: joins go by hash, not row by row.

A subquery under an OR once made DuckDB pair every confirmation with every order (a cross product): tens of
GB spilled to disk at a million packages while small tests passed. The planner's row estimates show it at any
size, so this test reads them on a small generated data set, with each model's upstream models written into
its SQL (as views would be), so a bad pattern shows wherever it ends up.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from pipeline.lake import connect
from pipeline.models import build_models, load_models
from pipeline.run import run
from vtrdemo.generator import CARRIER_ALIASES, generate

START = dt.date(2026, 5, 1)


def _nodes(node):
    yield node
    for child in node.get("children", []):
        yield from _nodes(child)


def _inlined(sql: str, models: dict) -> str:
    """The SQL (comments left out) with every staging and intermediate model it reads written in as a subquery."""
    return re.sub(
        r"\b(?:staging|intermediate)\.(\w+)\b",
        lambda m: f"(\n{_inlined(models[m.group(1)].sql, models)}\n)",
        re.sub(r"--[^\n]*", "", sql),
    )


def test_no_staging_or_intermediate_model_plans_more_rows_than_ten_times_its_largest_input(project):
    generate(project.landing, seller_id="acme", start=START, days=40, packages=3000, seed=3)
    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    project.write_config(f"[carrier_aliases]\n{aliases}")
    day = START + dt.timedelta(days=39)
    run(project.settings(), day)

    settings = project.settings()
    con = connect(settings, read_only=True)
    try:
        build_models(con, settings, "acme", day, day)  # the scratch database the models read and plan in
        largest_input = max(
            con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in ("orders", "confirmations", "scans")
        )
        estimates = {}
        models = {m.name: m for m in load_models()}
        for model in models.values():
            if model.layer == "marts":
                continue
            sql = _inlined(model.sql, models)
            plan = json.loads(con.execute(f"explain (format json) {sql}").fetchall()[0][1])
            estimates[model.name] = max(
                int(n.get("extra_info", {}).get("Estimated Cardinality", 0)) for root in plan for n in _nodes(root)
            )
    finally:
        con.close()
    assert largest_input > 10_000 and len(estimates) >= 8
    assert {name: e for name, e in estimates.items() if e > 10 * largest_input} == {}
