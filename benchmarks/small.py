"""The `small` scenario (benchmarks/run.py --only small): many small sellers, where fixed costs decide.

100 sellers (`--small-sellers`) of 200 packages over 30 days each, loaded and built once (untimed, but recorded:
the first run). Then, timed, the same date again for every seller (no new file: a small seller's fixed cost):
one `vtr run` process over all of them, and one warm worker process (this file run as a script) that runs the
first seller untimed and then every other seller through pipeline.steps.run_seller, as a worker that has already
run a seller does. Seconds per seller are wall and CPU (user + system, DuckDB's threads included); the machine is
shared, so CPU seconds are the steadier figure.

    python benchmarks/small.py --config vtr.toml --date YYYY-MM-DD --result out.json   # the worker, alone
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

DAYS = 30
PACKAGES = 200


def landing(data_dir: Path, sellers: int, seed: int, last_day: dt.date, log) -> Path:
    """The sellers' landing folders, generated once per (sellers, seed) and reused."""
    folder = data_dir / f"small-{sellers}x{PACKAGES}-{DAYS}d-seed{seed}"
    done = folder / ".complete"
    if not done.exists():
        from vtrdemo.generator import generate

        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        for n in range(sellers):
            generate(
                folder / "landing",
                seller_id=f"small-{n + 1:03d}",
                start=last_day - dt.timedelta(days=DAYS - 1),
                days=DAYS,
                packages=PACKAGES,
                seed=seed + n,
                memory_limit="1GB",
            )
            if (n + 1) % 20 == 0:
                log(f"small: generated seller {n + 1}/{sellers} ({time.perf_counter() - started:.0f} s)")
        done.touch()
    return folder / "landing"


def run(bench, sellers: int, run_timed, write_settings, log) -> dict:
    """Load and build the sellers once, then time the re-run of the date: one `vtr run`, one warm worker. The
    harness's helpers come from benchmarks/run.py (`bench`: its Bench)."""
    work = bench.work / "small"
    settings = write_settings(
        work / "vtr.toml",
        landing(bench.args.data_dir, sellers, bench.args.seed, bench.day, log),
        work / "warehouse.sqlite",
        work / "output",
        bench.args,
    )
    first_wall = run_timed(bench.vtr_run(settings, bench.day), bench.logs / "small.log", "small: first vtr run")[0]
    log(f"small: first vtr run of {sellers} sellers (every file loaded) {first_wall:.1f} s")
    runs = []
    for i in range(bench.args.repeats):
        wall, rss, cpu = run_timed(bench.vtr_run(settings, bench.day), bench.logs / "small.log", "small: vtr run")
        runs.append({"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss})
        log(f"small: vtr run {i + 1}/{bench.args.repeats}: {wall:.1f} s ({cpu:.1f} CPU s) for {sellers} sellers")
    result = work / "worker.json"
    workers = []
    for i in range(bench.args.repeats):
        cmd = [sys.executable, Path(__file__).resolve(), "--config", settings, "--date", bench.day, "--result", result]
        run_timed(cmd, bench.logs / "small.log", "small: warm worker")
        workers.append(json.loads(result.read_text()))
        w = workers[-1]
        log(
            f"small: warm worker {i + 1}/{bench.args.repeats}: median {w['median_wall_s']:.2f} s"
            f" ({w['median_cpu_s']:.2f} CPU s) per seller after the first"
        )
    return {
        "sellers": sellers,
        "packages_per_seller": PACKAGES,
        "days": DAYS,
        "first_run_s": round(first_wall, 2),
        "vtr_run": runs,
        "vtr_run_s_per_seller": round(statistics.median(r["wall_s"] for r in runs) / sellers, 3),
        "vtr_run_cpu_s_per_seller": round(statistics.median(r["cpu_s"] for r in runs) / sellers, 3),
        "worker": workers,
        "worker_s_per_seller": round(statistics.median(w["median_wall_s"] for w in workers), 3),
        "worker_cpu_s_per_seller": round(statistics.median(w["median_cpu_s"] for w in workers), 3),
    }


def render(result: dict) -> list[str]:
    return [
        f"small: {result['sellers']} sellers x {result['packages_per_seller']} packages over {result['days']} days; "
        f"first vtr run (every file loaded) {result['first_run_s']} s",
        f"  vtr run of the same date, all sellers: {result['vtr_run_s_per_seller']} s per seller "
        f"({result['vtr_run_cpu_s_per_seller']} CPU s)",
        f"  warm worker (one seller run first): {result['worker_s_per_seller']} s per seller "
        f"({result['worker_cpu_s_per_seller']} CPU s), median over the sellers",
    ]


def worker(argv: list[str] | None = None) -> int:
    """One worker process: the first seller untimed, then each other seller timed (wall and this process's CPU)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--date", required=True)
    parser.add_argument("--result", required=True, type=Path)
    args = parser.parse_args(argv)
    from pipeline import steps

    plan = steps.plan(args.config, {"snapshot_date": args.date}, notify=False)
    first, *others = plan["sellers"]
    steps.run_seller(plan, first)
    walls, cpus = [], []
    for seller in others:
        wall, cpu = time.perf_counter(), time.process_time()
        result = steps.run_seller(plan, seller)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        if not result["published"]:
            print(f"{seller} did not publish: {result['failed_checks']}", file=sys.stderr)
            return 1
    args.result.write_text(
        json.dumps(
            {
                "sellers_timed": len(others),
                "median_wall_s": statistics.median(walls),
                "median_cpu_s": statistics.median(cpus),
                "mean_wall_s": statistics.fmean(walls),
                "mean_cpu_s": statistics.fmean(cpus),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(worker())
