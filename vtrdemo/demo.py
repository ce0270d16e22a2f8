"""`vtr demo`: sample data for one seller on two marketplaces, the real DAG run over weeks of it, the report.

Everything lives in one folder (default ./demo), made anew on every run:
    landing/           the generated feeds
    vtr.toml           the settings
    warehouse.sqlite   the lake's SQLite catalog (its data files in warehouse_data/ beside it)
    output/            Parquet datasets and reports/
    airflow/           Airflow's home (SQLite metadata) and the log of the in-process DAG runs
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import time
from pathlib import Path

from pipeline.formatting import percent
from pipeline.verdict import describe, verdict

DAYS = 90  # days of generated orders, ending on the latest snapshot date
HISTORY_FROM = 30  # the backfill starts this many days into the data (the dip shows up after it)
SELLER = "nordic-home"
SPLIT_SHARE = 0.1


def _cancel_one_item(orders: Path) -> None:
    """A later order report line cancels one item of a two-item order (quantity-purchased 0): that item is in no
    package, whatever its confirmations say."""
    first = sorted(orders.glob("orders_*.txt"))[0]
    lines = first.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    order, item = header.index("order-id"), header.index("order-item-id")
    seen: dict[str, str] = {}
    for line in lines[1:]:
        fields = line.split("\t")
        if fields[order] in seen and fields[item] and fields[item] != seen[fields[order]]:
            (orders / "orders_zz_cancellation.txt").write_text(  # blanks keep the item's other values
                "order-id\torder-item-id\tquantity-purchased\tlatest-delivery-date\n"
                f"{fields[order]}\t{fields[item]}\t0\t\n",
                encoding="utf-8",
            )
            return
        seen.setdefault(fields[order], fields[item])


class _Progress:
    def __init__(self, steps: int):
        self.steps, self.step, self.started = steps, 0, time.monotonic()

    def __call__(self, text: str) -> None:
        self.step += 1
        self.step_started = time.monotonic()
        print(f"[{self.step}/{self.steps}] {text}", flush=True)

    def done(self, detail: str = "") -> None:
        now = time.monotonic()
        print(f"      done in {now - self.step_started:.1f} s (total {now - self.started:.1f} s){detail}", flush=True)


def _settings_text() -> str:
    from vtrdemo.generator import CARRIER_ALIASES

    aliases = "\n".join(f'"{k}" = "{v}"' for k, v in CARRIER_ALIASES.items())
    return (
        '[paths]\nlanding = "landing"\nwarehouse = "warehouse.sqlite"\noutput = "output"\n\n'
        "# the demo drops its files and runs at once: no waiting for a copy to complete\n"
        "[ingest]\nsettle_seconds = 0\n\n"
        f"[carrier_aliases]\n{aliases}\n\n"
        "# Amazon.de's own rule: GO! counts as integrated there, and cheap DHL Paket parcels (orders below 20 EUR)\n"
        "# are exempt from VTR, as the marketplace leaves its listed low-value ship methods out\n"
        '[marketplaces."Amazon.de"]\n'
        'integrated_carriers = ["DHL", "DPD", "GLS", "HERMES", "UPS", "GO!", "DEUTSCHE POST", "AMZL"]\n'
        '[[marketplaces."Amazon.de".exemptions]]\nship_methods = ["DHL Paket"]\nmax_order_value = 20\n'
        'carriers = ["DHL"]\n\n'
        '# add a channel to receive the alerts, e.g.\n# [[alerts]]\n# url = "json://localhost:8099/hook"\n'
    )


def run_demo(folder: str | Path, packages: int = 20_000, latest: dt.date | None = None) -> int:
    """Make the demo folder, run the DAG for the history in one pass and then for the latest date; 0 on success."""
    root = Path(folder).resolve()
    latest = latest or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = latest - dt.timedelta(days=DAYS - 1)
    history_start = start + dt.timedelta(days=HISTORY_FROM)
    progress = _Progress(3)

    # the lake's catalog and data files, and an older demo's single DuckDB file
    for part in (
        "landing",
        "output",
        "airflow",
        "warehouse.sqlite",
        "warehouse.sqlite-wal",
        "warehouse.sqlite-shm",
        "warehouse_data",
        "warehouse.duckdb",
        "warehouse.duckdb.wal",
        "vtr.toml",
    ):
        target = root / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    root.mkdir(parents=True, exist_ok=True)

    progress(f"generating {packages:,} packages over {DAYS} days ({start} .. {latest}) in {root / 'landing'}")
    from vtrdemo.generator import generate

    # about one order in ten ships an item of 2-4 units in two boxes (a few correct the second box's number)
    stats = generate(
        root / "landing", seller_id=SELLER, start=start, days=DAYS, packages=packages, split_share=SPLIT_SHARE
    )
    _cancel_one_item(root / "landing" / SELLER / "orders")
    config = root / "vtr.toml"
    config.write_text(_settings_text())
    progress.done(
        f": {stats.files} files, {stats.packages:,} packages, dip in {stats.dip_category} "
        f"for purchases {stats.dip_start} .. {stats.dip_end}"
    )

    from vtrdemo.airflow_local import prepare, run_dag

    prepare(root / "airflow")
    log_file = root / "airflow" / "dag_runs.log"
    days_back = (latest - history_start).days
    progress(
        f"running the vtr_daily DAG in-process: history {history_start} .. {latest - dt.timedelta(days=1)} "
        f"({days_back} snapshot dates in one pass)"
    )
    yesterday = latest - dt.timedelta(days=1)
    history = run_dag(
        config,
        [yesterday],
        log_file=log_file,
        conf={"snapshot_date": history_start.isoformat(), "end_date": yesterday.isoformat()},
    )
    progress.done()
    progress(f"running the vtr_daily DAG for the latest date {latest} (it writes the report too)")
    daily = run_dag(config, [latest], log_file=log_file)
    progress.done()
    failed = [r for r in history + daily if r.state != "success"]
    if failed:
        for r in failed:
            print(f"DAG run {r.logical_date} {r.state}: failed tasks {r.failed_tasks}; see {log_file}")
        return 1

    from pipeline.settings import load_settings

    settings = load_settings(config)
    from pipeline.contract import DATASETS
    from pipeline.fixfile import fix_file
    from pipeline.report.assets import reports_dir

    print()
    print(_summary(settings, latest))
    print()
    for report in sorted((reports_dir(settings) / SELLER).glob(f"vtr_report_{latest.isoformat()}_*.html")):
        print(f"report:     {report}")
    for fixes in sorted(fix_file(settings, latest, SELLER, "x").parent.glob(f"{SELLER}_*.xlsx")):
        print(f"fix file:   {fixes}  (and .txt beside it; README: 'The fix file')")
    datasets = ", ".join(DATASETS)
    vtr = Path(sys.executable).parent / "vtr"  # the project environment's command, by its absolute path
    print(f"""all dates:  {reports_dir(settings) / "index.html"}
outputs:    {settings.output}
            (Parquet, partitioned by snapshot_date=: {datasets})
warehouse:  {settings.warehouse}
            (read-only, from any folder: {vtr} sql --config {config} "from marts.mart_vtr_snapshots limit 5")
settings:   {config}
DAG log:    {log_file}
next:       {vtr} run --config {config} --date {latest}""")
    return 0


def _summary(settings, day: dt.date) -> str:
    from pipeline.lake import connect

    con = connect(settings, read_only=True)
    try:
        cur = con.execute(
            """select marketplace, window_days, scope, scope_value, packages_valid, packages_total, vtr, status
            from marts.mart_vtr_snapshots
            where snapshot_date = ? and scope in ('overall', 'category')
            order by marketplace, scope <> 'overall', window_days, scope_value""",
            [day],
        )
        names = [d[0] for d in cur.description]
        judged = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        dipped = con.execute(
            """select scope_value, window_days, min(vtr), arg_min(snapshot_date, vtr)
            from marts.mart_vtr_snapshots
            where scope = 'category' and status = 'below_target' and packages_total >= 50
            group by all order by 3, 1, 2 limit 3"""
        ).fetchall()  # ties (13/14 in two categories) by name
        at_risk = con.execute(
            "select count(*) from marts.mart_at_risk_packages where snapshot_date = ?", [day]
        ).fetchone()[0]
    finally:
        con.close()
    lines = [f"VTR on {day} for {SELLER}:"]
    for marketplace in sorted({r["marketplace"] for r in judged}):
        lines.append(
            f"  {marketplace:<10} verdict: {describe(verdict(r for r in judged if r['marketplace'] == marketplace))}"
        )
    for r in judged:
        if r["scope"] == "overall" or r["status"] == "below_target":
            lines.append(
                f"  {r['marketplace']:<10} {r['window_days']:>2}d {r['scope']:<9} {r['scope_value'] or '':<14} "
                f"{r['packages_valid']:>6}/{r['packages_total']:<6} {percent(r['vtr']):>8}  {r['status']}"
            )
    for category, window, vtr, when in dipped:
        lines.append(f"  among the lowest in the history: {category}, {window} days, {percent(vtr)} on {when}")
    lines.append(f"  packages at risk to fix before the marketplace measures them: {at_risk}")
    return "\n".join(lines)
