"""Model runner: the SQL files under sql/, each declaring its kind, grain, batching and upstream models.

A seller's build runs in the connection's private scratch database (`memory`), over views of that seller's rows of
the lake's raw layer: staging, intermediate and `fct_*` models (kind `table`) are rebuilt there for the run and never
shared; `snapshot` models are the published marts, written to the lake for the run's dates in one short transaction
(delete the seller's dates, insert), so sellers build side by side and analysts see the new rows at that commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

from pipeline import contract
from pipeline.lake import LAKE, SCRATCH, write
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
LAYERS = ("staging", "intermediate", "marts")
RAW_TABLES = ("files", "orders", "confirmations", "scans", "catalog")
KINDS = ("table", "snapshot")
# named value sets an `accepted:` declaration may use: the one definition of each lives in pipeline/contract.py
VALUE_SETS = {
    "reasons": contract.REASONS,
    "statuses": contract.STATUSES,
    "scopes": contract.SCOPES,
    "package_statuses": contract.PACKAGE_STATUSES,
}
DECLARATIONS = ("kind", "grain", "upstream", "batch", "not null", "accepted")
# a header line `key: value` with a lower-case key of a few words is a declaration: one the runner does not know
# (a misspelt `not_null:`) is an error, never read as description; description lines are sentences
_DECLARATION = re.compile(r"([a-z][a-z_ -]{0,24}):\s*(.*)")
_COLUMN = re.compile(r"\s{2,}([a-z_][a-z0-9_]*):\s*(\S.*)")
_ACCEPTED = re.compile(r"(\w+) in (\w+)")
_READS = re.compile(r"\b(raw|config|staging|intermediate|marts)\.(\w+)")


class ModelHeaderError(ValueError):
    """A model file whose header the runner cannot hold to: the message names the file and line."""


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    sql: str
    description: str
    kind: str  # table: rebuilt in scratch for each run; snapshot: published to the lake, kept per snapshot date
    grain: tuple[str, ...]  # the key: unique, checked on every build
    upstream: tuple[str, ...]  # what it reads, as declared (a test holds it to the SQL: `reads`)
    batch: int | None = None  # snapshot dates per statement, for a model reading $start_date..$end_date
    not_null: tuple[str, ...] = ()
    accepted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    column_docs: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    def reads(self) -> set[str]:
        """The tables its SQL reads (schema.table), comments left out, for the test of its declared upstream."""
        code = re.sub(r"--[^\n]*", "", self.sql)
        return {f"{s}.{t}" for s, t in _READS.findall(code)} - {self.table}


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse(path: Path, layer: str) -> Model:
    """A model file: description lines, then `key: value` declarations (DECLARATIONS), then `columns:` with one
    indented `name: doc` line per column. Anything else in the header is a ModelHeaderError naming file and line."""
    text = path.read_text()
    description: list[str] = []
    declared: dict[str, str] = {}
    docs: dict[str, str] = {}
    in_columns = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("--"):
            break
        body = line[2:]
        where = f"{path}:{number}"
        if body.strip() == "columns:":
            in_columns = True
            continue
        if in_columns:
            column = _COLUMN.fullmatch(body)
            if not column:
                raise ModelHeaderError(f"{where}: after 'columns:' each line is '--   column_name: what it holds'")
            docs[column.group(1)] = column.group(2).strip()
            continue
        match = _DECLARATION.fullmatch(body.strip())
        if match is None:
            description.append(body.strip())
            continue
        key, value = match.group(1), match.group(2).strip()
        if key not in DECLARATIONS:
            raise ModelHeaderError(f"{where}: unknown declaration '{key}:' (known: {', '.join(DECLARATIONS)})")
        if key in declared:
            raise ModelHeaderError(f"{where}: '{key}:' declared twice")
        declared[key] = value
    kind = declared.get("kind")
    if kind not in KINDS or "grain" not in declared or "upstream" not in declared:
        raise ModelHeaderError(f"{path}: declare kind ({' or '.join(KINDS)}), grain and upstream in the header")
    if "batch" in declared and not declared["batch"].isdigit():
        raise ModelHeaderError(f"{path}: 'batch:' must be a number of snapshot dates, got {declared['batch']!r}")
    accepted = {}
    for clause in _split(declared.get("accepted", "").replace(";", ",")):
        check = _ACCEPTED.fullmatch(clause)
        if not check or check.group(2) not in VALUE_SETS:
            raise ModelHeaderError(
                f"{path}: 'accepted:' takes '<column> in <{' | '.join(VALUE_SETS)}>', got {clause!r}"
            )
        accepted[check.group(1)] = VALUE_SETS[check.group(2)]
    grain, not_null = _split(declared["grain"]), _split(declared.get("not null", ""))
    undocumented = [c for c in (*grain, *not_null, *accepted) if docs and c not in docs]
    if undocumented:
        raise ModelHeaderError(f"{path}: checks name column(s) not under 'columns:': {', '.join(undocumented)}")
    return Model(
        path.stem,
        layer,
        text,
        " ".join(description),
        kind,
        grain,
        _split(declared["upstream"]),
        int(declared["batch"]) if "batch" in declared else None,
        not_null,
        accepted,
        docs,
    )


def load_models() -> list[Model]:
    """Every model under sql/, in an order where each comes after the models it reads."""
    models = {p.stem: parse(p, layer) for layer in LAYERS for p in sorted((SQL_DIR / layer).glob("*.sql"))}
    graph = {name: {u.split(".")[1] for u in m.upstream} & models.keys() for name, m in models.items()}
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def published_models() -> list[Model]:
    return [m for m in load_models() if m.kind == "snapshot"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def prepare_scratch(
    con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, start: dt.date, end: dt.date
) -> None:
    """The scratch database of one seller's build: its raw rows (views on the lake), the settings and the run.
    Whatever an earlier seller's build left in it (a worker's connection is reused) goes first."""
    schemas = [
        f"drop schema if exists {SCRATCH}.{s} cascade; create schema {SCRATCH}.{s}" for s in ("raw", "config", *LAYERS)
    ]
    views = [  # one seller's files: the lake prunes the others' by partition
        f"create view raw.{table} as select * from {LAKE}.raw.{table} where seller_id = {_literal(seller_id)}"
        for table in RAW_TABLES
    ]
    con.execute(";".join([f"use {SCRATCH}", *schemas, *views]))
    write_config(con, settings, start, end)


def write_config(con: duckdb.DuckDBPyConnection, settings: Settings, start: dt.date, end: dt.date) -> None:
    """The settings the models read, and the run's dates, as small tables in the `config` schema."""
    # [metric] (marketplace NULL) and each marketplace's profile over it, keyed by the lower-cased sales channel;
    # staging.stg_marketplace_profiles gives every account's marketplace its row
    profiles = [(None, settings)] + [(p.marketplace.lower(), p) for p in settings.profiles]
    con.execute(
        """create or replace table config.profiles (
            marketplace varchar, target double, lag_days integer, scan_grace_days integer,
            at_risk_after_days integer, windows integer[], integrated_carriers varchar[])"""
    )
    con.executemany(
        "insert into config.profiles values (?, ?, ?, ?, ?, ?, ?)",
        [
            (m, p.target, p.lag_days, p.scan_grace_days, p.at_risk_after_days, list(p.windows),
             list(p.integrated_carriers))
            for m, p in profiles
        ],
    )  # fmt: skip
    con.execute(
        """create or replace table config.exemptions (
            marketplace varchar, ship_methods varchar[], max_order_value double, carriers varchar[])"""
    )
    exemptions = [
        (
            p.marketplace.lower(),
            list(e.ship_methods),
            e.max_order_value,
            None if e.carriers is None else list(e.carriers),
        )
        for p in settings.profiles
        for e in p.exemptions
    ]
    if exemptions:
        con.executemany("insert into config.exemptions values (?, ?, ?, ?)", exemptions)
    con.execute(
        """create or replace table config.carrier_aliases as
        select unnest(?::varchar[]) as alias, unnest(?::varchar[]) as carrier_code""",
        [list(settings.carrier_aliases), list(settings.carrier_aliases.values())],
    )
    # staging holds only the orders the run's dates need (promised on or after the first day of the largest window
    # of the first date, over every profile), so a day's work does not grow with history
    earliest = min(start - dt.timedelta(days=p.lag_days + max(p.windows) - 1) for _, p in profiles)
    con.execute(
        "create or replace table config.run as select ?::date as start_date, ?::date as end_date, "
        "?::date as earliest_promised_date",
        [start, end, earliest],
    )


def sql_params(sql: str, values: dict[str, Any]) -> dict[str, Any]:
    """The named parameters ($name) a statement uses, from values: DuckDB refuses values it does not use."""
    return {k: v for k, v in values.items() if f"${k}" in sql}


def build_models(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    seller_id: str,
    start: dt.date,
    end: dt.date,
    *,
    on_built: Callable[[Model], object] | None = None,
    keep: frozenset[str] | None = None,
) -> None:
    """Build every model of one seller for the snapshot dates start..end in scratch (nothing is shared yet), calling
    on_built after each. With `keep`, a table (not a published mart, nor in keep) is dropped once every model reading
    it is built: a backfill's memory then holds the models being built, not every model of the run."""
    prepare_scratch(con, settings, seller_id, start, end)
    models = load_models()
    readers = {m.table: {r.name for r in models if m.table in r.upstream} for m in models}
    built: set[str] = set()
    for model in models:
        started = time.perf_counter()
        try:
            run_model(con, model, start, end)
        except duckdb.Error as exc:  # the error alone does not say which model: an operator needs both
            log.error("building %s for %s failed: %s", model.table, seller_id, str(exc).splitlines()[0])
            raise
        log.info("built %s for %s in %.1f s", model.table, seller_id, time.perf_counter() - started)
        if on_built:
            on_built(model)
        built.add(model.name)
        for done in models if keep is not None else ():
            if (
                done.name in built
                and done.kind == "table"
                and keep is not None  # narrowed for mypy: the loop runs only with `keep`
                and done.table not in keep
                and readers[done.table]
                and readers[done.table] <= built
            ):
                con.execute(f"drop table if exists {done.table}")


def run_model(con: duckdb.DuckDBPyConnection, model: Model, start: dt.date, end: dt.date) -> None:
    """One model into scratch; a batched snapshot model a few dates a statement, so a backfill's memory stays flat."""
    ranges = date_ranges(start, end, model.batch) if model.batch else [(start, end)]
    for n, (first, last) in enumerate(ranges):
        into = f"create or replace table {model.table} as" if n == 0 else f"insert into {model.table}"
        con.execute(f"{into} {model.sql}", sql_params(model.sql, {"start_date": first, "end_date": last}))


# a backfill's marts are published and written out a few dates at a time: each statement sorts (and the Parquet
# outputs hold) a few dates' rows, not every package of every date of the range (a 119-date backfill at a million
# packages held 30 million rows of marts.mart_packages in one sort)
DATES_PER_STATEMENT = 15


def date_ranges(start: dt.date, end: dt.date, size: int) -> list[tuple[dt.date, dt.date]]:
    """start..end cut into consecutive ranges of at most `size` dates."""
    ranges = []
    while start <= end:
        last = min(start + dt.timedelta(days=size - 1), end)
        ranges.append((start, last))
        start = last + dt.timedelta(days=1)
    return ranges


def publish_marts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    seller_id: str,
    start: dt.date,
    end: dt.date,
    *,
    full_rebuild: bool = False,
) -> None:
    """Replace the seller's rows of every published mart for start..end (all its dates on a full rebuild) in one
    lake transaction; a mart whose columns changed in a new release starts its history afresh."""
    models = published_models()

    def replace(c: duckdb.DuckDBPyConnection) -> None:
        for model in models:
            target = f"{LAKE}.{model.table}"
            new_cols = [r[0] for r in c.execute(f"describe {SCRATCH}.{model.table}").fetchall()]
            old_cols = [
                r[0]
                for r in c.execute(
                    "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
                    "and table_name = ? order by column_index",
                    [LAKE, model.layer, model.name],
                ).fetchall()
            ]
            if old_cols != new_cols:
                c.execute(f"drop table if exists {target}")
                c.execute(f"create table {target} as from {SCRATCH}.{model.table} limit 0")
                c.execute(f"alter table {target} set partitioned by (seller_id)")
                _document(c, model, target)
            dates = "" if full_rebuild else " and snapshot_date between ? and ?"
            c.execute(
                f"delete from {target} where seller_id = ?{dates}", [seller_id] + ([] if full_rebuild else [start, end])
            )
            for first, last in date_ranges(start, end, DATES_PER_STATEMENT):
                rows = f"from {SCRATCH}.{model.table} where snapshot_date between ? and ?"
                c.execute(f"insert into {target} {rows} order by all", [first, last])

    write(con, settings, replace, what=f"publish the marts of {seller_id}")


def _document(con: duckdb.DuckDBPyConnection, model: Model, target: str) -> None:
    con.execute(f"comment on table {target} is {_literal(model.description)}")
    for column, doc in model.column_docs.items():
        con.execute(f"comment on column {target}.{column} is {_literal(doc)}")
