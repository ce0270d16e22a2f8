"""The `scale` scenario: many sellers on the Celery cluster of `make cluster-up`, with 1 worker and with 2.

    .venv/bin/python benchmarks/run.py --only scale [--scale-sellers 8] [--packages 125000]

8 sellers x 125,000 packages (60 days of files each), two snapshot dates D-1 and D in one DAG run (`snapshot_date`
D-1, `end_date` D: each seller's task computes both, as `vtr backfill` does). For each of 1 and 2 workers (worker
concurrency 1, pool vtr_sellers = workers, DuckDB threads = 1 per task): a fresh cluster (ops/cluster.py) on free
ports, the run timed from the trigger to its success. Reported: sellers per minute, the ratio 2 workers / 1 worker
(target >= 1.5), the worker time per seller (run_seller's mean duration), and beside them the wall time of the
embedded serial `vtr backfill` of the same data and dates (one process, threads = 1).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
VTR = str(ROOT / ".venv" / "bin" / "vtr")
DAYS = 60
START = dt.date(2026, 5, 2)  # the data ends on 2026-06-30, as the other scenarios'
D2 = START + dt.timedelta(days=DAYS - 1)
D1 = D2 - dt.timedelta(days=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def landing(data_dir: Path, sellers: int, packages: int, seed: int, log) -> Path:
    """The sellers' landing folders, generated once per (sellers, packages, seed) and reused."""
    folder = data_dir / f"scale-{sellers}x{packages}-{DAYS}d-seed{seed}"
    done = folder / ".complete"
    if not done.exists():
        from vtrdemo.generator import generate

        shutil.rmtree(folder, ignore_errors=True)
        for n in range(sellers):
            started = time.perf_counter()
            generate(
                folder / "landing",
                seller_id=f"seller-{n + 1:02d}",
                start=START,
                days=DAYS,
                packages=packages,
                seed=seed + n,
                memory_limit="2GB",
            )
            log(f"scale: generated seller {n + 1}/{sellers} ({time.perf_counter() - started:.0f} s)")
        done.touch()
    return folder / "landing"


class _Api:
    def __init__(self, port: int, password: str):
        self.port = port
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": password})["access_token"]

    def call(self, method: str, path: str, body: dict | None = None):
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            json.dumps(body).encode() if body is not None else None,
            headers,
            method=method,
        )
        with urllib.request.urlopen(req, timeout=120) as answer:
            return json.loads(answer.read() or b"null")


def on_cluster(work: Path, landing_folder: Path, workers: int, aliases: str, log) -> dict:
    """One fresh cluster of `workers` workers: both dates triggered at once; wall time and worker time."""
    root = work / f"cluster-{workers}w"
    root.mkdir(parents=True)
    root.chmod(0o711)
    settings = root / "cluster.toml"
    settings.write_text(
        f'[cluster]\nhome = "{root / "home"}"\nport = {_free_port()}\npostgres_port = {_free_port()}\n'
        f"redis_port = {_free_port()}\nworkers = {workers}\nworker_concurrency = 1\npool_slots = {workers}\n"
        "parallelism = 8\ntask_heartbeat_timeout = 300\nschedule = false\n"
        f'[vtr.paths]\nlanding = "{landing_folder}"\noutput = "{root / "output"}"\n'
        "[vtr.schedule]\nwait_for_files_minutes = 0\n[vtr.ingest]\nsettle_seconds = 0\n"
        '[vtr.duckdb]\nmemory_limit = "1.5GB"\nthreads = 1\n'
        f"[vtr.carrier_aliases]\n{aliases}"
    )
    launcher = [PYTHON, "-m", "ops.cluster"]
    up = subprocess.run([*launcher, "up", "--settings", str(settings)], capture_output=True, text=True)
    try:
        if up.returncode != 0:
            raise RuntimeError(f"cluster-up failed: {up.stderr.strip()[-500:]}")
        port = int(re.search(r"ready at http://127\.0\.0\.1:(\d+)", up.stdout).group(1))
        api = _Api(port, re.search(r"login admin / (\S+)", up.stdout).group(1))
        started = time.perf_counter()
        runs = [
            api.call(
                "POST",
                "/api/v2/dags/vtr_daily/dagRuns",
                {
                    "logical_date": None,
                    "conf": {"snapshot_date": str(D1), "end_date": str(D2), "mute_notifications": True},
                },
            )["dag_run_id"]
        ]
        states = {}
        while len(states) < len(runs):
            time.sleep(2)
            for run in runs:
                state = api.call("GET", f"/api/v2/dags/vtr_daily/dagRuns/{run}")["state"]
                if state in ("success", "failed"):
                    states.setdefault(run, state)
        wall = time.perf_counter() - started
        if set(states.values()) != {"success"}:
            raise RuntimeError(f"a run failed on {workers} worker(s): {states} (logs: {root / 'home' / 'logs'})")
        tasks = [
            t
            for run in runs
            for t in api.call("GET", f"/api/v2/dags/vtr_daily/dagRuns/{run}/taskInstances?limit=100")["task_instances"]
            if t["task_id"] == "seller.run_seller"
        ]
        result = {
            "workers": workers,
            "wall_s": round(wall, 1),
            "sellers": len(tasks),
            "worker_s_per_seller": round(sum(t["duration"] for t in tasks) / len(tasks), 1),
            "hosts": sorted({t["hostname"].split("@")[0] for t in tasks}),
        }
        log(f"scale: {workers} worker(s): {len(tasks)} sellers in {wall:.1f} s on {result['hosts']}")
        return result
    finally:
        subprocess.run([*launcher, "down", "--settings", str(settings), "--purge"], capture_output=True)


def serial(work: Path, landing_folder: Path, aliases: str, log) -> float:
    folder = work / "serial"
    folder.mkdir(parents=True)
    config = folder / "vtr.toml"
    config.write_text(
        f'[paths]\nlanding = "{landing_folder}"\nwarehouse = "warehouse.sqlite"\noutput = "output"\n'
        "[schedule]\nwait_for_files_minutes = 0\n[ingest]\nsettle_seconds = 0\n"
        '[duckdb]\nmemory_limit = "1.5GB"\nthreads = 1\n'
        f"[carrier_aliases]\n{aliases}"
    )
    started = time.perf_counter()
    subprocess.run(
        [VTR, "backfill", "--config", str(config), "--start", str(D1), "--end", str(D2), "--no-alerts"],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    log(f"scale: embedded serial vtr backfill: {wall:.1f} s")
    return wall


def run(work: Path, data_dir: Path, sellers: int, packages: int, seed: int, log) -> dict:
    from vtrdemo.generator import CARRIER_ALIASES

    aliases = "".join(f'"{k}" = "{v}"\n' for k, v in CARRIER_ALIASES.items())
    folder = landing(data_dir, sellers, packages, seed, log)
    work.mkdir(parents=True, exist_ok=True)
    for each in (work, *work.parents):  # the postgres user (PostgreSQL refuses root) enters the clusters' folders
        if each.stat().st_mode & 0o001 == 0:
            each.chmod(each.stat().st_mode | 0o011)
    clusters = [on_cluster(work, folder, n, aliases, log) for n in (1, 2)]
    backfill = serial(work, folder, aliases, log)
    per_minute = [60 * c["sellers"] / c["wall_s"] for c in clusters]
    return {
        "sellers": sellers,
        "packages_per_seller": packages,
        "dates": [str(D1), str(D2)],
        "clusters": clusters,
        "sellers_per_minute": [round(p, 2) for p in per_minute],
        "ratio_2_to_1": round(per_minute[1] / per_minute[0], 2),
        "serial_backfill_s": round(backfill, 1),
    }


def render(result: dict) -> list[str]:
    lines = [
        f"scale: {result['sellers']} sellers x {result['packages_per_seller']:,} packages, dates "
        f"{' and '.join(result['dates'])}; worker concurrency 1, DuckDB threads 1 per task",
        "| setup | wall (s) | sellers (2 dates each) | sellers / min | worker s per seller |",
        "|---|---|---|---|---|",
    ]
    for c, per_minute in zip(result["clusters"], result["sellers_per_minute"], strict=True):
        lines.append(
            f"| cluster, {c['workers']} worker(s) | {c['wall_s']} | {c['sellers']} | {per_minute} |"
            f" {c['worker_s_per_seller']} |"
        )
    n = result["clusters"][0]["sellers"]
    lines.append(
        f"| embedded serial `vtr backfill` (one pass, both dates) | {result['serial_backfill_s']} | {n} |"
        f" {round(60 * n / result['serial_backfill_s'], 2)} | - |"
    )
    ratio = result["ratio_2_to_1"]
    lines.append(f"ratio 2 workers / 1 worker: {ratio} (target >= 1.5: {'met' if ratio >= 1.5 else 'NOT met'})")
    return lines


if __name__ == "__main__":
    print("run it through benchmarks/run.py --only scale", file=sys.stderr)
    sys.exit(2)
