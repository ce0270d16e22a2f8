"""The `vtr` command line: ingest, run, backfill and demo, without a scheduler."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

EXIT_FAILED = 1
EXIT_USAGE = 2


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vtr", description="Valid Tracking Rate pipeline")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log progress: every file loaded and every model built, with its time")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help="load every new file of every seller's feeds into the warehouse")
    p.add_argument("--config", required=True, help="settings file (TOML)")
    p = sub.add_parser("run", help="one snapshot date, end to end: ingest, models, outputs")
    p.add_argument("--config", required=True, help="settings file (TOML)")
    p.add_argument("--date", required=True, type=_date, help="snapshot date YYYY-MM-DD")
    p = sub.add_parser("backfill", help="every snapshot date in a range, computed together")
    p.add_argument("--config", required=True, help="settings file (TOML)")
    p.add_argument("--start", required=True, type=_date, help="first snapshot date YYYY-MM-DD")
    p.add_argument("--end", required=True, type=_date, help="last snapshot date YYYY-MM-DD")
    p = sub.add_parser("demo", help="make a sample data set, run the pipeline over weeks of it, show the outputs")
    p.add_argument("--dir", default="demo", help="folder for the demo's data and outputs (default: ./demo)")
    p.add_argument("--packages", type=int, default=20_000, help="about how many packages to generate")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    import duckdb

    from pipeline.settings import SettingsError, load_settings

    try:
        if args.command == "demo":
            from pipeline.demo import run_demo

            return run_demo(args.dir, args.packages)
        settings = load_settings(args.config)
        if args.command == "ingest":
            return _ingest(settings)
        start, end = (args.date, args.date) if args.command == "run" else (args.start, args.end)
        if end < start:
            print(f"vtr: --end {end} is before --start {start}", file=sys.stderr)
            return EXIT_USAGE
        from pipeline.run import run

        summary = run(settings, start, end)
        print(summary.render())
        print(f"\noutputs: {settings.output}\nwarehouse: {settings.warehouse}")
        if summary.report:
            print(f"report: {summary.report}")
        if summary.failed_files:
            print(f"vtr: {len(summary.failed_files)} file(s) could not be read; see FAILED above", file=sys.stderr)
            return EXIT_FAILED
        if summary.failed_checks:
            print("vtr: a data-quality check failed; outputs not published (see CHECK FAILED above)", file=sys.stderr)
            return EXIT_FAILED
        return 0
    except SettingsError as exc:
        print(f"vtr: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except duckdb.IOException as exc:  # a lock held by another process, a full disk
        print(f"vtr: warehouse I/O failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    except duckdb.Error as exc:
        print(f"vtr: run failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED


def _ingest(settings) -> int:
    from pipeline.db import connect
    from pipeline.ingest import ingest

    con = connect(settings)
    try:
        results = ingest(con, settings)
    finally:
        con.close()
    print(render_ingest(results))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        print(f"vtr: {len(failed)} file(s) could not be read", file=sys.stderr)
        return EXIT_FAILED
    return 0


def render_ingest(results) -> str:
    """Per seller and feed: files loaded, skipped (already loaded) and failed, rows loaded and rejected;
    then each file that failed, and each file skipped because the same content came under another name."""
    totals: dict[tuple[str, str], list[int]] = {}
    for r in results:
        t = totals.setdefault((r.seller_id, r.feed), [0, 0, 0, 0, 0])
        t[("loaded", "skipped", "failed").index(r.status)] += 1
        t[3] += r.rows_loaded
        t[4] += r.rows_rejected
    lines = [f"{'seller':<16} {'feed':<14} {'loaded':>7} {'skipped':>8} {'failed':>7} {'rows':>10} {'rejected':>9}"]
    for (seller, feed), (loaded, skipped, failed, rows, rejected) in sorted(totals.items()):
        lines.append(f"{seller:<16} {feed:<14} {loaded:>7} {skipped:>8} {failed:>7} {rows:>10} {rejected:>9}")
    for r in results:
        if r.status == "failed":
            lines.append(f"FAILED {r.seller_id} {r.file}: {r.message}")
        elif r.status == "skipped" and f"as {r.file}," not in r.message:
            lines.append(f"skipped {r.seller_id} {r.file}: {r.message}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
