"""Benchmark of the VTR pipeline against a hand-written DuckDB baseline, on the generator's data.

    make bench SIZE=M                       # = .venv/bin/python benchmarks/run.py --size M
    .venv/bin/python benchmarks/run.py --size S --repeats 3 --only cold,baseline,warm

Every measured step is a separate process (`vtr ...`, benchmarks/baseline.py, benchmarks/dag_run.py); its wall
time and its own peak RSS (os.wait4 in a small launcher process) are recorded. The product is only called through
its command line, the generator and pipeline.airflow_local. See benchmarks/README.md for what each scenario does
and how to read the output; the last lines printed are the targets, each `met` or `not met`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
VTR = BIN / "vtr"

SELLER = "nordic-home"
LAST_DAY = dt.date(2026, 6, 30)  # every data set ends here: a past date, so the DAG never waits for files
SPLIT_ELIGIBLE = 0.96  # orders that split when drawn (at 0.33 of a million orders: 1,307,791 vs 992,141 packages)
# size -> (packages, days of data, history growth (short, long) in days)
SIZES = {
    "tiny": (2_000, 60, (30, 90)),
    "S": (100_000, 120, (45, 365)),
    "M": (1_000_000, 120, (45, 365)),
    "L": (5_000_000, 120, (45, 365)),
}
GROUPS = ("cold", "baseline", "warm", "history", "backfill", "dag", "demo", "scale", "small")
OWN_DATA = ("scale", "small")  # scenarios with their own data sets, run only when named
DEFAULT_GROUPS = {"L": ("cold", "baseline")}  # at L the target is the cold run's memory; --only all for the rest
BACKFILL_DATES = 60


@dataclass
class Scenario:
    name: str
    what: str
    walls: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "what": self.what,
            "wall_s": self.walls,
            "median_s": statistics.median(self.walls) if self.walls else None,
            "min_s": min(self.walls) if self.walls else None,
            "max_s": max(self.walls) if self.walls else None,
            "peak_rss_mib": max(self.rss_mib) if self.rss_mib else None,
            **self.extra,
        }


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------- processes

# The measured command runs under a small launcher process. A child forked from the harness would report the
# harness's own peak RSS as its floor (Linux keeps the parent's high-water mark across fork and exec), and the
# harness holds the generator's DuckDB tables; the launcher is a fresh small interpreter.
LAUNCHER = """
import json, os, sys, time
result, cmd = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(result, "w") as f:
    json.dump({"wall_s": wall, "maxrss_kib": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status),
               "cpu_s": usage.ru_utime + usage.ru_stime}, f)
"""


def measure(cmd: list, log_file: Path) -> tuple[float, float, int, float]:
    """Run cmd as a child process; its wall time (s), its own peak RSS (MiB), exit code and CPU time (user + system,
    its children's included, s). Output goes to log_file."""
    result = log_file.with_suffix(".measure.json")
    with open(log_file, "ab") as out:
        out.write(("$ " + " ".join(map(str, cmd)) + "\n").encode())
        out.flush()
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(result), *map(str, cmd)],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    m = json.loads(result.read_text())
    result.unlink()
    return m["wall_s"], m["maxrss_kib"] / 1024, m["code"], m["cpu_s"]  # ru_maxrss is in KiB on Linux


def run_timed(cmd: list, log_file: Path, what: str) -> tuple[float, float, float]:
    """measure, and a BenchError when the command failed; (wall s, peak RSS MiB, CPU s)."""
    wall, rss, code, cpu = measure(cmd, log_file)
    if code != 0:
        tail = log_file.read_text(errors="replace").splitlines()[-15:]
        raise BenchError(f"{what} failed (exit {code}); last lines of {log_file}:\n" + "\n".join(tail))
    return wall, rss, cpu


def run_checked(cmd: list, log_file: Path, what: str) -> tuple[float, float]:
    return run_timed(cmd, log_file, what)[:2]


# ---------------------------------------------------------------------------------------------- data


def dataset(data_dir: Path, size: str, packages: int, days: int, seed: int, split_share: float = 0.0) -> Path:
    """The generator's landing folder for (size, days, seed, split share), generated once and reused
    (benchmarks/data/)."""
    folder = data_dir / (f"{size}-{days}d-seed{seed}" + (f"-split{split_share:g}" if split_share else ""))
    marker = folder / "dataset.json"
    # the generator makes one package per order, two for a split one; about 96 % of the orders may split (tracked by
    # an integrated carrier, nothing else wrong): fewer orders, so that a set with splits holds as many packages as
    # the set without, and the two runs compare the cost of the rules, not of more packages
    orders = round(packages / (1 + SPLIT_ELIGIBLE * split_share))
    wanted = {
        "packages": packages,
        "days": days,
        "seed": seed,
        **({"split_share": split_share, "orders": orders} if split_share else {}),
        "seller_id": SELLER,
        "start": (LAST_DAY - dt.timedelta(days=days - 1)).isoformat(),
        "end": LAST_DAY.isoformat(),
    }
    if marker.exists():
        try:
            if {k: v for k, v in json.loads(marker.read_text()).items() if k in wanted} == wanted:
                return folder / "landing"
        except ValueError:
            pass
    from vtrdemo.generator import generate

    if folder.exists():
        shutil.rmtree(folder)
    log(f"generating {packages:,} packages ({orders:,} orders) over {days} days (seed {seed}) into {folder} ...")
    started = time.perf_counter()
    stats = generate(
        folder / "landing",
        seller_id=SELLER,
        start=LAST_DAY - dt.timedelta(days=days - 1),
        days=days,
        packages=orders,
        seed=seed,
        split_share=split_share,
    )
    size_bytes = sum(p.stat().st_size for p in (folder / "landing").rglob("*") if p.is_file())
    marker.write_text(
        json.dumps(
            {
                **wanted,
                "files": stats.files,
                "packages_written": stats.packages,
                "bytes": size_bytes,
                "generated_in_s": round(time.perf_counter() - started, 1),
            }
        )
    )
    log(f"  {stats.files} files, {size_bytes / 2**20:.0f} MiB in {time.perf_counter() - started:.0f} s")
    return folder / "landing"


def read_through(landing: Path) -> None:
    """Read every data file once, untimed: the first timed step (the cold run, before the baseline) would
    otherwise pay for the disk when the files are not in the page cache yet (after generating a larger size)."""
    started = time.perf_counter()
    total = 0
    for path in sorted(landing.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    total += len(chunk)
    log(f"read the {total / 2**20:.0f} MiB of files once (page cache) in {time.perf_counter() - started:.1f} s")


def link_tree(source: Path, target: Path, skip_date: dt.date | None = None) -> int:
    """A copy of the landing folder made of hard links (symlinks across file systems), without the files whose
    name carries skip_date. Returns how many files were left out."""
    skipped = 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        if skip_date and skip_date.isoformat() in path.name:
            skipped += 1
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            dest.symlink_to(path.resolve())
    return skipped


def write_settings(path: Path, landing: Path, warehouse: Path, output: Path, args) -> Path:
    from vtrdemo.generator import CARRIER_ALIASES

    lines = [
        "[paths]",
        f'landing = "{landing}"',
        f'warehouse = "{warehouse}"',
        f'output = "{output}"',
        "",
        "[carrier_aliases]",
        *(f'"{alias}" = "{code}"' for alias, code in CARRIER_ALIASES.items()),
        "",
        "[schedule]",
        "wait_for_files_minutes = 0",
        "",
        "[ingest]",
        "settle_seconds = 0  # files generated and run at once",
        "",
        "[duckdb]",
        f'memory_limit = "{args.memory_limit}"',
        f'temp_directory = "{path.parent / "spill"}"',
    ]
    if args.threads:
        lines.append(f"threads = {args.threads}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def lake_parts(warehouse: Path) -> list[Path]:
    """The lake's files: the SQLite catalog (with its WAL files, if a writer left them) and the data folder."""
    return [*warehouse.parent.glob(warehouse.name + "*"), warehouse.with_name(warehouse.stem + "_data")]


def save(warehouse: Path, saved: Path) -> Path:
    """Copy the lake aside (catalog and data folder) into the folder `saved`."""
    shutil.rmtree(saved, ignore_errors=True)
    saved.mkdir(parents=True)
    for part in lake_parts(warehouse):
        if part.is_dir():
            shutil.copytree(part, saved / part.name)
        elif part.exists():
            shutil.copyfile(part, saved / part.name)
    return saved


def restore(saved: Path | None, warehouse: Path, output: Path) -> None:
    """Put the saved lake back and empty the outputs: every repeat starts from the same state."""
    for part in lake_parts(warehouse):
        shutil.rmtree(part) if part.is_dir() else part.unlink(missing_ok=True)
    if saved is not None:
        for part in saved.iterdir():
            (shutil.copytree if part.is_dir() else shutil.copyfile)(part, warehouse.parent / part.name)
    shutil.rmtree(output, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- outputs


def snapshot_rows(parquet: Path) -> list[tuple]:
    """vtr_snapshots rows as sorted tuples, VTR rounded to 12 digits (the columns are the spec's, in order)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(parquet).to_pylist()
    return sorted((tuple(round(v, 12) if isinstance(v, float) else v for v in r.values()) for r in rows), key=repr)


def compare(name: str, expected: Path, got: Path) -> dict:
    a, b = snapshot_rows(expected), snapshot_rows(got)
    only_a = [r for r in a if r not in set(b)]
    only_b = [r for r in b if r not in set(a)]
    return {
        "check": name,
        "match": a == b,
        "rows_expected": len(a),
        "rows_got": len(b),
        "only_in_expected": len(only_a),
        "only_in_got": len(only_b),
        "examples": [repr(r) for r in (only_a[:3] + only_b[:3])],
    }


def partition(output: Path, day: dt.date) -> Path:
    """A date's vtr_snapshots partition: a folder holding one file per seller."""
    return output / "vtr_snapshots" / f"snapshot_date={day.isoformat()}"


# ---------------------------------------------------------------------------------------------- scenarios


class Bench:
    def __init__(self, args):
        self.args = args
        self.size = args.size
        packages, days, history = SIZES[args.size]
        self.packages = args.packages or packages
        self.days = args.days or days
        self.history_days = history
        self.day = LAST_DAY
        self.scenarios: dict[str, Scenario] = {}
        self.checks: list[dict] = []
        self.problems: list[str] = []  # product failures in untimed setup steps
        self.work = Path(tempfile.mkdtemp(prefix="work-", dir=args.work_dir))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.landing = None
        self.cold_warehouse = None  # after the last cold run: every file loaded, D built
        self.cold_output = None
        self.warm_snapshot = None  # D's vtr_snapshots of the last warm run
        self.scale = None  # the scale scenario's result (benchmarks/scale.py)
        self.small = None  # the small scenario's result (benchmarks/small.py)

    def scenario(self, name: str, what: str) -> Scenario:
        return self.scenarios.setdefault(name, Scenario(name, what))

    def vtr_run(self, settings: Path, day: dt.date) -> list[str]:
        return [VTR, "run", "--config", settings, "--date", day.isoformat()]

    # -- 1. cold
    def cold(self) -> None:
        s = self.scenario("cold", "vtr run for the last date on an empty warehouse (every file ingested)")
        folder = self.work / "cold"
        settings = write_settings(
            folder / "vtr.toml", self.landing, folder / "warehouse.sqlite", folder / "output", self.args
        )
        for i in range(self.args.repeats):
            restore(None, folder / "warehouse.sqlite", folder / "output")
            wall, rss = run_checked(self.vtr_run(settings, self.day), self.logs / "cold.log", "cold vtr run")
            s.walls.append(wall)
            s.rss_mib.append(rss)
            log(f"cold run {i + 1}/{self.args.repeats}: {wall:.2f} s, {rss:.0f} MiB")
        self.cold_warehouse, self.cold_output = folder / "warehouse.sqlite", folder / "output"

    def ensure_loaded(self) -> None:
        """A warehouse holding every file and D's marts (the cold run's, or built untimed)."""
        if self.cold_warehouse is None:
            folder = self.work / "cold"
            settings = write_settings(
                folder / "vtr.toml", self.landing, folder / "warehouse.sqlite", folder / "output", self.args
            )
            run_checked(self.vtr_run(settings, self.day), self.logs / "setup.log", "setup vtr run")
            self.cold_warehouse, self.cold_output = folder / "warehouse.sqlite", folder / "output"

    # -- 2. baseline
    def baseline(self) -> None:
        s = self.scenario("baseline", "benchmarks/baseline.sql: one hand-written DuckDB script, same files, same date")
        folder = self.work / "baseline"
        settings = write_settings(
            folder / "vtr.toml", self.landing, folder / "unused.sqlite", folder / "unused", self.args
        )
        out = folder / "vtr_snapshots.parquet"
        for i in range(self.args.repeats):
            out.unlink(missing_ok=True)
            cmd = [
                sys.executable,
                HERE / "baseline.py",
                "--config",
                settings,
                "--date",
                self.day.isoformat(),
                "--out",
                out,
            ]
            wall, rss = run_checked(cmd, self.logs / "baseline.log", "baseline")
            s.walls.append(wall)
            s.rss_mib.append(rss)
            log(f"baseline {i + 1}/{self.args.repeats}: {wall:.2f} s, {rss:.0f} MiB")
        self.ensure_loaded()
        check = compare("baseline rows = vtr run rows", partition(self.cold_output, self.day), out)
        self.checks.append(check)
        s.extra["rows"] = check["rows_got"]
        s.extra["rows_match_product"] = check["match"]

    # -- 3, 4, 6. warm
    def warm_state(self, name: str, landing: Path, days: int) -> tuple[Path, Path, Path, Path]:
        """Warehouse holding every day before D (files loaded, every earlier snapshot date built), saved aside;
        and the settings of the run for D, whose landing folder also holds D's files."""
        folder = self.work / name
        prev_landing = folder / "landing_before"
        if link_tree(landing, prev_landing, skip_date=self.day) == 0:
            raise BenchError(f"no file named for {self.day} under {landing}")
        warehouse, output = folder / "warehouse.sqlite", folder / "output"
        before = write_settings(folder / "before.toml", prev_landing, warehouse, folder / "output_before", self.args)
        first = self.day - dt.timedelta(days=days - 1)
        log(f"{name}: building the warehouse of the {days - 1} days before {self.day} (untimed) ...")
        started = time.perf_counter()
        try:
            run_checked(
                [
                    VTR,
                    "backfill",
                    "--config",
                    before,
                    "--start",
                    first.isoformat(),
                    "--end",
                    (self.day - dt.timedelta(days=1)).isoformat(),
                ],
                self.logs / f"{name}-setup.log",
                f"{name} setup: vtr backfill {first} .. {self.day - dt.timedelta(days=1)}",
            )
        except BenchError as exc:
            # a product failure, reported loudly; the warm run is still measured on the files loaded by
            # `vtr run` of the day before (earlier snapshot dates then not built)
            self.problems.append(str(exc))
            lines = str(exc).splitlines()  # "... failed (exit 1); last lines of <log>:", then the log's last lines
            error = " ".join(lines[:1] + lines[1:][-1:])  # the first, and the log's last (its error)
            log(f"  PROBLEM: {error}; falling back to vtr run --date {self.day - dt.timedelta(1)}")
            restore(None, warehouse, folder / "output_before")
            run_checked(
                self.vtr_run(before, self.day - dt.timedelta(days=1)),
                self.logs / f"{name}-setup.log",
                f"{name} setup: vtr run",
            )
        log(f"  done in {time.perf_counter() - started:.0f} s")
        saved = save(warehouse, folder / "saved")
        settings = write_settings(folder / "vtr.toml", landing, warehouse, output, self.args)
        return settings, saved, warehouse, output

    def warm_runs(self, s: Scenario, state, label: str) -> None:
        settings, saved, warehouse, output = state
        for i in range(self.args.repeats):
            restore(saved, warehouse, output)
            wall, rss = run_checked(self.vtr_run(settings, self.day), self.logs / f"{s.name}.log", f"{label} vtr run")
            s.walls.append(wall)
            s.rss_mib.append(rss)
            log(f"{label} {i + 1}/{self.args.repeats}: {wall:.2f} s, {rss:.0f} MiB")

    def warm(self, state) -> None:
        s = self.scenario("warm", "vtr run for the last date; every earlier day already in the warehouse")
        self.warm_runs(s, state, "warm")
        # kept aside: the DAG scenario writes to the same output folder
        self.warm_snapshot = self.work / "warm_vtr_snapshots"
        shutil.rmtree(self.warm_snapshot, ignore_errors=True)
        shutil.copytree(partition(state[3], self.day), self.warm_snapshot)

    def history(self) -> None:
        for key, days in zip(("history_short", "history_long"), self.history_days, strict=True):
            packages = max(1, round(self.packages * days / self.days))  # the same daily volume
            landing = dataset(self.args.data_dir, self.size, packages, days, self.args.seed, self.args.split_share)
            s = self.scenario(key, f"warm daily run with {days} days of history ({packages:,} packages)")
            s.extra.update({"history_days": days, "packages": packages})
            self.warm_runs(s, self.warm_state(key, landing, days), f"warm, {days} days of history,")
            if not self.args.keep_work:  # its warehouses can be large
                shutil.rmtree(self.work / key, ignore_errors=True)

    # -- 5. backfill
    def backfill(self) -> None:
        self.ensure_loaded()
        saved = save(self.cold_warehouse, self.work / "loaded")
        folder = self.work / "backfill"
        # the lake is restored where it was made: its catalog records its data folder's absolute path
        warehouse, output = self.cold_warehouse, folder / "output"
        settings = write_settings(folder / "vtr.toml", self.landing, warehouse, output, self.args)
        one = self.scenario("run_loaded", "vtr run of one date, every file already loaded")
        many = self.scenario("backfill", f"vtr backfill of {BACKFILL_DATES} dates, every file already loaded")
        start = self.day - dt.timedelta(days=BACKFILL_DATES - 1)
        for _ in range(self.args.repeats):
            restore(saved, warehouse, output)
            wall, rss = run_checked(self.vtr_run(settings, self.day), self.logs / "run_loaded.log", "vtr run (loaded)")
            one.walls.append(wall)
            one.rss_mib.append(rss)
            restore(saved, warehouse, output)
            cmd = [VTR, "backfill", "--config", settings, "--start", start.isoformat(), "--end", self.day.isoformat()]
            wall2, rss2 = run_checked(cmd, self.logs / "backfill.log", "vtr backfill")
            many.walls.append(wall2)
            many.rss_mib.append(rss2)
            log(f"loaded: run 1 date {wall:.2f} s, backfill {BACKFILL_DATES} dates {wall2:.2f} s")
        self.checks.append(
            compare(
                "backfill's last date = vtr run rows",
                partition(self.cold_output, self.day),
                partition(output, self.day),
            )
        )
        shutil.rmtree(saved)

    # -- 6. DAG
    def dag(self, state) -> None:
        settings, saved, warehouse, output = state
        s = self.scenario("dag", "the same warm daily run through the real DAG in-process (dag.test), whole process")
        home = self.work / "airflow"
        run_checked(
            [sys.executable, HERE / "dag_run.py", "--home", home, "--init-only"],
            self.logs / "dag.log",
            "Airflow metadata DB setup",
        )
        startups, dag_parts = [], []
        for i in range(self.args.repeats):
            restore(saved, warehouse, output)
            result = self.work / "dag_result.json"
            cmd = [
                sys.executable,
                HERE / "dag_run.py",
                "--home",
                home,
                "--config",
                settings,
                "--date",
                self.day.isoformat(),
                "--result",
                result,
                "--log",
                self.logs / "dag-airflow.log",
            ]
            wall, rss = run_checked(cmd, self.logs / "dag.log", "DAG run")
            parts = json.loads(result.read_text())
            s.walls.append(wall)
            s.rss_mib.append(rss)
            startups.append(parts["startup_s"])
            dag_parts.append(parts["dag_s"])
            log(
                f"DAG {i + 1}/{self.args.repeats}: {wall:.2f} s (Airflow import {parts['startup_s']:.2f} s,"
                f" run_dag {parts['dag_s']:.2f} s), {rss:.0f} MiB"
            )
        s.extra["airflow_startup_median_s"] = statistics.median(startups)
        s.extra["run_dag_median_s"] = statistics.median(dag_parts)
        if self.warm_snapshot is not None:
            self.checks.append(
                compare("DAG rows = vtr run rows (warm)", self.warm_snapshot, partition(output, self.day))
            )

    # -- demo
    def demo(self) -> None:
        """Once, whatever --repeats: the demo generates its own data and takes a minute or two."""
        s = self.scenario("demo", "vtr demo (sample data, the DAG in-process, report), run once")
        wall, rss = run_checked([VTR, "demo", "--dir", self.work / "demo"], self.logs / "demo.log", "vtr demo")
        s.walls.append(wall)
        s.rss_mib.append(rss)
        log(f"vtr demo: {wall:.2f} s, {rss:.0f} MiB")

    def run(self, groups: list[str]) -> None:
        if "scale" in groups:  # its own data (many sellers) and its own clusters: benchmarks/scale.py
            import scale

            self.scale = scale.run(
                self.work / "scale",
                self.args.data_dir,
                self.args.scale_sellers,
                self.args.packages or 125_000,
                self.args.seed,
                log,
            )
        if "small" in groups:  # its own data (many small sellers): benchmarks/small.py
            import small

            self.small = small.run(self, self.args.small_sellers, run_timed, write_settings, log)
        if not set(groups) - set(OWN_DATA):
            return
        self.landing = dataset(
            self.args.data_dir, self.size, self.packages, self.days, self.args.seed, self.args.split_share
        )
        read_through(self.landing)
        if "cold" in groups:
            self.cold()
        if "baseline" in groups:
            self.baseline()
        if "warm" in groups or "dag" in groups:
            state = self.warm_state("warm", self.landing, self.days)
            if "warm" in groups:
                self.warm(state)
                if self.cold_output is not None:
                    self.checks.append(
                        compare("warm rows = cold rows", partition(self.cold_output, self.day), self.warm_snapshot)
                    )
            if "dag" in groups:
                self.dag(state)
            shutil.rmtree(state[1])
        if "history" in groups:
            self.history()
        if "backfill" in groups:
            self.backfill()
        if "demo" in groups:
            self.demo()


# ---------------------------------------------------------------------------------------------- report


def median(scenarios: dict, name: str) -> float | None:
    s = scenarios.get(name)
    return statistics.median(s.walls) if s and s.walls else None


def targets(bench: Bench) -> list[dict]:
    sc, size = bench.scenarios, bench.size

    def ratio(a, b):
        x, y = median(sc, a), median(sc, b)
        return x / y if x is not None and y else None

    short, long_ = bench.history_days
    cold = sc.get("cold")
    rows = [
        {"name": "cold/baseline", "value": ratio("cold", "baseline"), "op": "<=", "target": 1.5, "size": "M"},
        {"name": "warm/cold", "value": ratio("warm", "cold"), "op": "<=", "target": 0.25, "size": "M"},
        {
            "name": f"warm {long_}d history / {short}d",
            "value": ratio("history_long", "history_short"),
            "op": "<=",
            "target": 1.3,
            "size": None,
        },
        {
            "name": f"backfill {BACKFILL_DATES} dates / one date",
            "value": ratio("backfill", "run_loaded"),
            "op": "<=",
            "target": 3.0,
            "size": None,
        },
        {
            "name": "DAG in-process / vtr run same day",
            "value": ratio("dag", "warm"),
            "op": "<=",
            "target": 1.3,
            "size": None,
        },
        {
            "name": "cold run peak memory",
            "value": max(cold.rss_mib) if cold and cold.rss_mib else None,
            "op": "<=",
            "target": 2048.0,
            "size": "L",
            "unit": "MiB",
        },
    ]
    if bench.args.with_demo or "demo" in sc:
        rows.append(
            {"name": "vtr demo", "value": median(sc, "demo"), "op": "<", "target": 120.0, "size": None, "unit": "s"}
        )
    for r in rows:
        v = r["value"]
        r["measured_at"] = size
        r["met"] = None if v is None else (v <= r["target"] if r["op"] == "<=" else v < r["target"])
    return rows


def target_line(r: dict) -> str:
    at = f" at {r['size']}" if r["size"] else ""
    unit = r.get("unit", "")
    if r["value"] is None:
        return f"{r['name']}{at}: not measured ({r['op']} {r['target']:g}{' ' + unit if unit else ''})"
    fmt = (
        (lambda x: f"{x:.0f} MiB")
        if unit == "MiB"
        else (lambda x: f"{x:.1f} s")
        if unit == "s"
        else (lambda x: f"{x:.2f}")
    )
    line = f"{r['name']}{at}: {fmt(r['value'])} {r['op']} {fmt(r['target'])} {'met' if r['met'] else 'NOT met'}"
    if r["size"] and r["size"] != r["measured_at"]:
        line += f" (measured at {r['measured_at']}; target is for {r['size']})"
    elif not r["size"]:
        line += f" (measured at {r['measured_at']})"
    return line


def render(bench: Bench) -> list[str]:
    lines = [f"{'scenario':<14} {'median s':>9} {'min s':>8} {'max s':>8} {'peak RSS MiB':>13}  what"]
    for s in bench.scenarios.values():
        d = s.as_dict()
        if not s.walls:
            continue
        lines.append(
            f"{s.name:<14} {d['median_s']:>9.2f} {d['min_s']:>8.2f} {d['max_s']:>8.2f}"
            f" {d['peak_rss_mib']:>13.0f}  {s.what}"
        )
    dag = bench.scenarios.get("dag")
    if dag and dag.walls:
        lines.append(
            f"{'':<14} DAG parts (median): Python + Airflow import "
            f"{dag.extra['airflow_startup_median_s']:.2f} s, run_dag (metadata DB check, parse, dag.test) "
            f"{dag.extra['run_dag_median_s']:.2f} s"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="VTR benchmark: vtr run, a hand-written baseline, warm runs, "
        "history growth, backfill and the DAG, side by side"
    )
    parser.add_argument(
        "--size",
        choices=list(SIZES),
        default="S",
        help="tiny (2k packages, 60 days; CI), S 100k, M 1M, L 5M packages over 120 days",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of {','.join(GROUPS)} (or 'all'); default: all but demo (at L: cold,baseline)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario; the median is reported")
    parser.add_argument("--with-demo", action="store_true", help="also time `vtr demo` (target < 120 s)")
    parser.add_argument("--memory-limit", default="1.5GB", help="DuckDB memory_limit for the product and baseline")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: the product's default)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--split-share",
        type=float,
        default=0.0,
        help="share of orders shipping an item in two boxes (split shipments); the baseline replays no splits, so "
        "its rows differ from the product's then",
    )
    parser.add_argument("--scale-sellers", type=int, default=8, help="scale: sellers (packages: --packages, 125000)")
    parser.add_argument("--small-sellers", type=int, default=100, help="small: sellers of 200 packages")
    parser.add_argument("--packages", type=int, help="override the size's package count")
    parser.add_argument("--days", type=int, help="override the size's number of days")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="cache of generated data")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--work-dir", type=Path, help="scratch space (default: under --data-dir)")
    parser.add_argument("--keep-work", action="store_true", help="keep warehouses, outputs and logs")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.only in (None, ""):
        groups = list(DEFAULT_GROUPS.get(args.size, [g for g in GROUPS if g not in ("demo", *OWN_DATA)]))
    elif args.only == "all":
        groups = [g for g in GROUPS if g not in ("demo", *OWN_DATA)]
    else:
        groups = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = set(groups) - set(GROUPS)
        if unknown:
            parser.error(f"--only: unknown {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    if args.with_demo and "demo" not in groups:
        groups.append("demo")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    args.work_dir = args.work_dir or args.data_dir
    args.work_dir.mkdir(parents=True, exist_ok=True)

    bench = Bench(args)
    log(
        f"VTR benchmark, size {args.size}: {bench.packages:,} packages over {bench.days} days ending {LAST_DAY}; "
        f"{args.repeats} repeat(s); scenarios {','.join(groups)}; work folder {bench.work}"
    )
    started = time.perf_counter()
    error = None
    try:
        bench.run(groups)
    except BenchError as exc:
        error = str(exc)
    finally:
        if not args.keep_work and error is None and not bench.problems:
            shutil.rmtree(bench.work, ignore_errors=True)
    rows = targets(bench)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    result_file = args.results_dir / f"{args.size}-{stamp}.json"
    result = {
        "size": args.size,
        "packages": bench.packages,
        "days": bench.days,
        "seed": args.seed,
        "split_share": args.split_share,
        "snapshot_date": LAST_DAY.isoformat(),
        "repeats": args.repeats,
        "memory_limit": args.memory_limit,
        "threads": args.threads,
        "scenarios_run": groups,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "git_commit": _git_commit(),
        "total_s": round(time.perf_counter() - started, 1),
        "scenarios": {name: s.as_dict() for name, s in bench.scenarios.items()},
        "checks": bench.checks,
        "targets": rows,
        "error": error,
        "problems": bench.problems,
        "scale": bench.scale,
        "small": bench.small,
    }
    result_file.write_text(json.dumps(result, indent=2, default=str))

    print()
    for line in render(bench):
        print(line)
    if bench.scale:
        import scale

        print("\n" + "\n".join(scale.render(bench.scale)))
    if bench.small:
        import small

        print("\n" + "\n".join(small.render(bench.small)))
    print()
    mismatches = [c for c in bench.checks if not c["match"]]
    for c in bench.checks:
        print(
            f"check {c['check']}: {'same rows' if c['match'] else 'MISMATCH'} ({c['rows_expected']} vs "
            f"{c['rows_got']} rows; {c['only_in_expected']} only in the first, {c['only_in_got']} only in the "
            "second)"
        )
        for example in c["examples"] if not c["match"] else []:
            print(f"    e.g. {example}")
    for problem in bench.problems:
        print(f"\nPROBLEM in a setup step (measured anyway, see the log): {problem}")
    if error:
        print(f"\nBENCHMARK FAILED: {error}\n(work folder kept: {bench.work})")
    if mismatches:
        print(f"\nMISMATCH: {len(mismatches)} check(s) found different vtr_snapshots rows (see above)")
    print(f"results: {result_file}  (total {result['total_s']:.0f} s)")
    print()
    for r in rows:
        print(target_line(r))
    return 1 if error or mismatches or bench.problems else 0


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    sys.exit(main())
