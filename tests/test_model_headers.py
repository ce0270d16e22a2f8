"""Model headers are contracts the runner holds: every key known, every check well formed, and the declared
`upstream` equal to the tables the SQL reads, so a header cannot drift from its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import SQL_DIR, Model, ModelHeaderError, load_models, parse

GOOD = """-- Packages per day, for the header tests.
-- One row per day.
-- kind: table
-- grain: day
-- upstream: marts.fct_packages, config.metric
-- not null: day
-- columns:
--   day: the ship date
--   packages: how many
select p.ship_date as day, count(*) as packages
from marts.fct_packages as p  -- the facts
cross join config.metric as m
group by all
"""


def header_drift(model: Model) -> dict[str, set[str]]:
    """What the header declares but the SQL does not read, and what the SQL reads but the header does not declare."""
    declared, read = set(model.upstream), model.reads()
    return {k: v for k, v in (("declared, not read", declared - read), ("read, not declared", read - declared)) if v}


def write_model(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fct_daily.sql"
    path.write_text(text)
    return path


def test_every_models_declared_upstream_is_exactly_what_its_sql_reads():
    models = load_models()
    assert len(models) == len(list(SQL_DIR.glob("*/*_*.sql"))) - len(list((SQL_DIR / "checks").glob("*.sql")))
    assert {m.name: header_drift(m) for m in models if header_drift(m)} == {}


def test_a_dropped_upstream_or_a_table_read_without_declaring_it_is_found(tmp_path):
    assert header_drift(parse(write_model(tmp_path, GOOD), "marts")) == {}
    dropped = parse(write_model(tmp_path, GOOD.replace(", config.metric", "")), "marts")
    assert header_drift(dropped) == {"read, not declared": {"config.metric"}}
    extra = parse(
        write_model(tmp_path, GOOD.replace("config.metric\n", "config.metric, staging.stg_orders\n")), "marts"
    )
    assert header_drift(extra) == {"declared, not read": {"staging.stg_orders"}}


def test_a_table_named_only_in_a_comment_is_not_read(tmp_path):
    model = parse(write_model(tmp_path, GOOD.replace("-- the facts", "-- unlike raw.orders")), "marts")
    assert "raw.orders" not in model.reads()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("-- not null: day", "-- not_null: day"), ":6: unknown declaration 'not_null:'"),
        (("-- grain: day", "-- grian: day"), ":4: unknown declaration 'grian:'"),
        (("-- not null: day", "-- not null: day\n-- accepted: day in weekdays"), "'accepted:' takes"),
        (("-- not null: day", "-- not null: day\n-- accepted: day = reasons"), "'accepted:' takes"),
        (("-- not null: day", "-- not null: day\n-- batch: some"), "'batch:' must be a number"),
        (("-- kind: table", "-- kind: table\n-- kind: snapshot"), ":4: 'kind:' declared twice"),
        (("--   packages: how many", "--   packages how many"), ":9: after 'columns:'"),
        (("-- not null: day", "-- not null: days"), "not under 'columns:': days"),
        (("-- upstream: marts.fct_packages, config.metric\n", ""), "declare kind (table or snapshot), grain and"),
    ],
)
def test_a_misspelt_key_or_malformed_check_is_an_error_naming_the_file_and_line(tmp_path, change, message):
    path = write_model(tmp_path, GOOD.replace(*change))
    with pytest.raises(ModelHeaderError) as error:
        parse(path, "marts")
    assert str(path) in str(error.value)
    assert message in str(error.value)
