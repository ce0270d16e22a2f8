"""One run of the real `vtr_daily` DAG in this process (dag.test), timed in parts, for the benchmark.

    python benchmarks/dag_run.py --home AIRFLOW_HOME --config vtr.toml --date YYYY-MM-DD --result out.json [--init-only]

Writes {"startup_s": import airflow, "dag_s": pipeline.airflow_local.run_dag (metadata DB check, parse,
dag.test), "state", "failed"} to --result; exit 1 when the DAG run did not succeed. --init-only only creates the
metadata DB (untimed setup). Airflow's own output goes to --log. Kept outside dags/ (Airflow imports every
DAG-looking file there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--date", type=dt.date.fromisoformat)
    parser.add_argument("--result", type=Path)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--init-only", action="store_true")
    args = parser.parse_args(argv)

    from vtrdemo import airflow_local

    airflow_local.prepare(args.home)  # environment first: Airflow reads it when first imported
    from airflow.utils.db import initdb

    if args.init_only:
        initdb()
        return 0
    ready = time.perf_counter()  # run_dag checks the metadata DB itself: a second initdb here cost 3 CPU s
    results = airflow_local.run_dag(args.config, [args.date], log_file=args.log)
    done = time.perf_counter()
    failed = [t for r in results for t in r.failed_tasks]
    ok = all(r.state == "success" for r in results) and not failed
    args.result.write_text(
        json.dumps(
            {
                "startup_s": ready - started,
                "dag_s": done - ready,
                "state": results[-1].state if results else "none",
                "failed": failed,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
