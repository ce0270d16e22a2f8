"""The `vtr` command line: run, backfill, ingest, sql, maintain and demo, without a scheduler.

Every error an operator can cause is one line on stderr: exit 2 for settings and arguments, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports what a command needs when it runs
    from pipeline.ingest.load import FileResult
    from pipeline.settings import Settings

EXIT_FAILED = 1
EXIT_USAGE = 2


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _sellers(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vtr", description="Valid Tracking Rate pipeline")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log progress: every file loaded and every model built, with its time",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, *, sellers: bool = False, runs: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", required=True, help="settings file (TOML)")
        if sellers:
            p.add_argument("--sellers", type=_sellers, default=[], help="comma-separated sellers (default: all)")
        if runs:
            p.add_argument("--no-alerts", action="store_true", help="send no notifications for this run")
            p.add_argument(
                "--full-rebuild",
                action="store_true",
                help="replace every snapshot date of the sellers' marts, not only this run's",
            )
        return p

    command(
        "run", "one snapshot date, end to end: ingest, models, checks, outputs, notifications", sellers=True, runs=True
    ).add_argument("--date", required=True, type=_date, help="snapshot date YYYY-MM-DD")
    p = command(
        "backfill",
        "every snapshot date in a range, computed together (notifies for the last date)",
        sellers=True,
        runs=True,
    )
    p.add_argument("--start", required=True, type=_date, help="first snapshot date YYYY-MM-DD")
    p.add_argument("--end", required=True, type=_date, help="last snapshot date YYYY-MM-DD")
    command("ingest", "load every new file of the sellers' feeds into the warehouse", sellers=True)
    p = command("sql", "a read-only SQL session on the warehouse, usable while runs write")
    p.add_argument("query", nargs="?", help="a query to print (default: read statements from standard input)")
    p.add_argument(
        "--print-attach",
        action="store_true",
        help="print the statements that open the warehouse in another DuckDB client, and exit",
    )
    command(
        "maintain",
        "merge small files, expire snapshots past the retention, delete unused files and killed writers' leftovers",
    )
    p = sub.add_parser("demo", help="make a sample data set, run the pipeline over weeks of it, show the outputs")
    p.add_argument("--dir", default="demo", help="folder for the demo's data and outputs (default: ./demo)")
    p.add_argument("--packages", type=int, default=20_000, help="about how many packages to generate")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    import duckdb

    from pipeline.lake import WarehouseError
    from pipeline.preflight import check_paths
    from pipeline.settings import SettingsError, load_settings
    from pipeline.steps import PlanError

    try:
        if args.command == "demo":
            from vtrdemo.demo import run_demo

            return run_demo(args.dir, args.packages)
        settings = load_settings(args.config)
        if args.command == "sql":
            from pipeline import analyst

            if args.print_attach:
                print(analyst.attach_sql(settings), end="")
                return 0
            return analyst.session(settings, args.query)
        if args.command in ("run", "backfill"):
            _dates(args)  # checked before check_paths makes a folder
        check_paths(settings)
        return _COMMANDS[args.command](settings, args)
    except (SettingsError, PlanError) as exc:
        print(f"vtr: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WarehouseError as exc:
        print(f"vtr: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # a full disk, a file that became unreadable: what and where, in one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"vtr: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        return EXIT_FAILED
    except duckdb.Error as exc:
        print(f"vtr: run failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED


def _dates(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    """The run's first and last snapshot dates, refused (PlanError) when this business cannot have them."""
    from pipeline.steps import check_dates

    start, end = (args.date, args.date) if args.command == "run" else (args.start, args.end)
    check_dates(start, end, ("--date", "--date") if args.command == "run" else ("--start", "--end"))
    return start, end


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.run import run

    start, end = _dates(args)
    summary = run(settings, start, end, sellers=args.sellers, full_rebuild=args.full_rebuild, notify=not args.no_alerts)
    print(summary.render())
    print(f"\noutputs: {settings.output}\nwarehouse: {settings.warehouse if not settings.catalog else 'PostgreSQL'}")
    for s in summary.sellers:
        for report in s.get("reports", []):
            print(f"report: {report}")
        for fix in s.get("fix_files", []):
            print(f"fix file: {fix}")
    if summary.index:
        print(f"all reports: {summary.index}")
    if summary.failures():
        print(f"vtr: the run failed: {'; '.join(summary.failures())}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.contract import FileStatus
    from pipeline.ingest.files import landing_not_read
    from pipeline.run import ingest

    results = ingest(settings, args.sellers)
    print(render_ingest(results))
    for entry in landing_not_read(settings):
        print(f"not read: landing folder {entry}")
    failed = [r for r in results if r.status is FileStatus.FAILED]
    if failed:
        print(f"vtr: {len(failed)} file(s) could not be read", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _maintain(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.maintain import maintain

    done = maintain(settings)
    print(
        f"data files: {done['before']['data_files']} -> {done['after']['data_files']}; snapshots:"
        f" {done['before']['snapshots']} -> {done['after']['snapshots']} (expired before {done['expired_before']});"
        f" temporary files left by killed writers removed: {done['temporary_files_removed']}"
    )
    return 0


_COMMANDS = {"run": _run, "backfill": _run, "ingest": _ingest, "maintain": _maintain}


def render_ingest(results: list[FileResult]) -> str:
    """Per seller and feed: files loaded, skipped (loaded before) and failed, rows loaded and rejected; then each
    file that failed, each new name whose content was loaded before under another name, each file not yet complete
    and each entry of a seller's folder that is not read."""
    from pipeline.contract import FileStatus
    from pipeline.ingest.files import shown

    column = {FileStatus.LOADED: 0, FileStatus.UNCHANGED: 1, FileStatus.DUPLICATE: 1, FileStatus.FAILED: 2}
    totals: dict[tuple[str, str], list[int]] = {}
    for r in results:
        if r.status not in column or not r.feed:  # not yet complete, not read, a seller folder: listed below
            continue
        t = totals.setdefault((r.seller_id, r.feed), [0, 0, 0, 0, 0])
        t[column[r.status]] += 1
        t[3] += r.rows_loaded
        t[4] += r.rows_rejected
    lines = [f"{'seller':<16} {'feed':<14} {'loaded':>7} {'skipped':>8} {'failed':>7} {'rows':>10} {'rejected':>9}"]
    for (seller, feed), (loaded, skipped, failed, rows, rejected) in sorted(totals.items()):
        lines.append(f"{seller:<16} {feed:<14} {loaded:>7} {skipped:>8} {failed:>7} {rows:>10} {rejected:>9}")
    for r in results:
        if r.status not in (FileStatus.LOADED, FileStatus.UNCHANGED):
            lines.append(f"{r.status.value} {r.seller_id} {shown(r.file)}: {r.message}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
