"""The benchmark still works: `benchmarks/run.py --size tiny` end to end (about a minute, Airflow included).

CI runs it at this size only, to show the command, every scenario and the baseline comparison work; the
figures themselves come from runs at M and L by hand (benchmarks/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmark at a tiny size

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("cold", "baseline", "warm", "history_short", "history_long", "run_loaded", "backfill", "dag")
TARGET_PREFIXES = (
    "cold/baseline at M:",
    "warm/cold at M:",
    "warm 90d history / 30d:",
    "backfill 60 dates / one date:",
    "DAG in-process / vtr run same day:",
    "cold run peak memory at L:",
)


def test_tiny_benchmark_measures_every_scenario_and_matches_the_baseline(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--size",
            "tiny",
            "--repeats",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    [result_file] = (tmp_path / "results").glob("tiny-*.json")
    result = json.loads(result_file.read_text())
    for name in SCENARIOS:
        scenario = result["scenarios"][name]
        assert scenario["median_s"] > 0 and scenario["peak_rss_mib"] > 0, name
    assert result["scenarios"]["dag"]["run_dag_median_s"] > 0
    # the hand-written baseline gives exactly the product's vtr_snapshots rows, and so do the other paths
    checks = {c["check"]: c for c in result["checks"]}
    assert checks["baseline rows = vtr run rows"]["match"]
    assert checks["baseline rows = vtr run rows"]["rows_got"] > 0
    assert all(c["match"] for c in checks.values()), checks
    assert len(checks) == 4

    # the last lines are the targets, one each, met or not, naming the size they were measured at
    last = done.stdout.strip().splitlines()[-len(TARGET_PREFIXES) :]
    for line, prefix in zip(last, TARGET_PREFIXES, strict=True):
        assert line.startswith(prefix), (line, prefix)
        assert line.endswith(
            (
                "met (measured at tiny)",
                "met (measured at tiny; target is for M)",
                "met (measured at tiny; target is for L)",
            )
        ), line
    assert "cold/baseline" in [t["name"] for t in result["targets"]]
