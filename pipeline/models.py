"""Model runner: the SQL files under sql/ run in dependency order inside one transaction.

Folder = layer = schema. staging, intermediate and `fct_*` models are tables rebuilt on every run (as
views, DuckDB inlined a staging model into each model reading it and computed it three or four times);
`mart_*` marts keep every snapshot date and have the run's dates replaced (delete, then insert), so a
re-run of a date gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from pipeline.db import rollback
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
LAYERS = ("staging", "intermediate", "marts")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    sql: str
    description: str
    column_docs: dict[str, str]

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def kind(self) -> str:
        return "snapshot" if self.name.startswith("mart_") else "table"


def _parse(path: Path, layer: str) -> Model:
    text = path.read_text()
    header, docs, in_columns = [], {}, False
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        if body == "columns:":
            in_columns = True
        elif in_columns and ":" in body:
            column, doc = body.split(":", 1)
            docs[column.strip()] = doc.strip()
        elif not in_columns:
            header.append(body)
    return Model(path.stem, layer, text, " ".join(header), docs)


def load_models() -> list[Model]:
    """Every model under sql/, in an order where each comes after the models it reads."""
    models = {
        p.stem: _parse(p, layer)
        for layer in LAYERS
        for p in sorted((SQL_DIR / layer).glob("*.sql"))
    }
    graph = {
        name: {dep for dep in re.findall(r"\b(?:staging|intermediate|marts)\.(\w+)", m.sql) if dep != name}
        for name, m in models.items()
    }
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def write_config(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The settings the models read, as small tables in the `config` schema (analysts see what produced a number)."""
    con.execute(
        """create or replace table config.metric as
        select ?::double as target, ?::integer as lag_days, ?::integer as scan_grace_days,
               ?::integer as at_risk_after_days""",
        [settings.target, settings.lag_days, settings.scan_grace_days, settings.at_risk_after_days],
    )
    con.execute("create or replace table config.windows as select unnest(?::integer[]) as window_days",
                [list(settings.windows)])
    con.execute("create or replace table config.integrated_carriers as select unnest(?::varchar[]) as carrier_code",
                [list(settings.integrated_carriers)])
    con.execute(
        """create or replace table config.carrier_aliases as
        select unnest(?::varchar[]) as alias, unnest(?::varchar[]) as carrier_code""",
        [list(settings.carrier_aliases), list(settings.carrier_aliases.values())],
    )


def sql_params(sql: str, values: dict) -> dict:
    """The named parameters ($name) a statement uses, from values: DuckDB refuses values it does not use."""
    return {k: v for k, v in values.items() if f"${k}" in sql}


def build_models(con: duckdb.DuckDBPyConnection, settings: Settings, start: dt.date, end: dt.date) -> None:
    """Run every model for the snapshot dates start..end, all or nothing."""
    values = {"start_date": start, "end_date": end}
    con.execute("begin transaction")
    try:
        write_config(con, settings)
        # the run's dates; staging holds only the orders they need (promised on or after earliest_promised_date:
        # the first date of the largest window of the first snapshot), so a day's work does not grow with history
        con.execute(
            """create or replace table config.run as
            select $start_date::date as start_date, $end_date::date as end_date,
                   $start_date::date - m.lag_days - (select max(window_days) from config.windows) + 1
                       as earliest_promised_date
            from config.metric as m""", values)
        for layer in LAYERS:
            con.execute(f"create schema if not exists {layer}")
        for model in load_models():
            started = time.perf_counter()
            try:
                _run(con, model, values)
            except duckdb.Error as exc:  # the error alone does not say which model: an operator needs both
                log.error("building %s failed: %s", model.table, str(exc).splitlines()[0])
                raise
            log.info("built %s in %.1f s", model.table, time.perf_counter() - started)
        con.execute("commit")
    except BaseException:
        rollback(con)
        raise


def _run(con: duckdb.DuckDBPyConnection, model: Model, values: dict) -> None:
    if model.kind == "table":
        # a warehouse built before staging became tables holds views of the same names
        if con.execute("select 1 from duckdb_views() where schema_name = ? and view_name = ?",
                       [model.layer, model.name]).fetchone():
            con.execute(f"drop view {model.table}")
        con.execute(f"create or replace table {model.table} as {model.sql}", sql_params(model.sql, values))
    else:
        # a mart that reads $start_date..$end_date is built a few dates at a time: its memory does not grow with
        # the number of dates of a backfill
        whole = [(values["start_date"], values["end_date"])]
        for n, (first, last) in enumerate(date_ranges(*whole[0]) if "$start_date" in model.sql else whole):
            into = "create or replace temp table _new_rows as" if n == 0 else "insert into _new_rows"
            con.execute(f"{into} {model.sql}", sql_params(model.sql, {**values, "start_date": first, "end_date": last}))
        new_cols = [r[0] for r in con.execute("describe _new_rows").fetchall()]
        old_cols = [r[0] for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
            [model.layer, model.name]).fetchall()]
        if old_cols != new_cols:  # first run, or the model's columns changed: start its history afresh
            con.execute(f"create or replace table {model.table} as select * from _new_rows limit 0")
        con.execute(f"delete from {model.table} where snapshot_date between $start_date and $end_date", values)
        con.execute(f"insert into {model.table} select * from _new_rows order by all")
        con.execute("drop table _new_rows")
    _document(con, model)


DATES_PER_STATEMENT = 15


def date_ranges(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """start..end cut into consecutive ranges of at most DATES_PER_STATEMENT dates."""
    ranges = []
    while start <= end:
        last = min(start + dt.timedelta(days=DATES_PER_STATEMENT - 1), end)
        ranges.append((start, last))
        start = last + dt.timedelta(days=1)
    return ranges


def _document(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    con.execute(f"comment on table {model.table} is {_quote(model.description)}")
    for column, doc in model.column_docs.items():
        con.execute(f"comment on column {model.table}.{column} is {_quote(doc)}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
