"""`make backfill FROM=2026-10-01 TO=2026-10-31`: `airflow backfill create` for vtr_daily, run again while Airflow's
SQLite metadata database is busy.

On SQLite, `backfill create` fails with "database is locked" while the scheduler writes (Airflow creates the runs
inside a SAVEPOINT, which SQLite cannot turn into a write once another process wrote): the failed attempt creates
nothing, so running it again is safe. PostgreSQL metadata (the cluster's) does not have this. The deployment is the
one AIRFLOW_HOME names (default: make airflow's .airflow).

    python -m ops.backfill --from 2026-10-01 --to 2026-10-31 [--home .airflow] [--attempts 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ops import deployment

LOCKED = "database is locked"
WAIT_SECONDS = 10


def backfill(home: Path, first: str, last: str, attempts: int) -> int:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "PATH": f"{deployment.BIN}{os.pathsep}{os.environ['PATH']}"}
    args = ("backfill", "create", "--dag-id", "vtr_daily", "--from-date", first, "--to-date", last)
    for attempt in range(1, attempts + 1):
        done = deployment.airflow(env, *args, check=False)
        if done.returncode == 0:
            print(done.stdout.strip())
            return 0
        if LOCKED not in done.stderr or attempt == attempts:
            break
        print(
            f"backfill: Airflow's SQLite metadata database is busy ({LOCKED}; nothing was created): trying again in"
            f" {WAIT_SECONDS} s ({attempt}/{attempts}); PostgreSQL metadata does not have this",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(WAIT_SECONDS)
    last_line = (done.stderr.strip().splitlines() or ["?"])[-1]
    print(f"backfill: airflow backfill create failed: {last_line}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="first", required=True, help="first logical date YYYY-MM-DD")
    parser.add_argument("--to", dest="last", required=True, help="last logical date YYYY-MM-DD")
    parser.add_argument("--home", default=os.environ.get("AIRFLOW_HOME") or str(deployment.ROOT / ".airflow"))
    parser.add_argument("--attempts", type=int, default=10)
    args = parser.parse_args(argv)
    return backfill(Path(args.home).resolve(), args.first, args.last, args.attempts)


if __name__ == "__main__":
    sys.exit(main())
