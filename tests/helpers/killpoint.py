"""Run the `vtr` command line and kill the process at a chosen point (fault injection for tests/test_kills.py).

    python killpoint.py KIND N vtr-arguments...

KIND `inside-commit`: the N-th lake transaction has done its work and not yet committed; `after-commit`: just
after the N-th commit; `parquet`: after the N-th Parquet file is written. N = 0 kills nothing and prints on stderr
the points it passed (`killpoint commits=C parquet=P commits_before_outputs=B`). KILLPOINT_BATCH_BYTES makes ingest
batches small, so a load commits many times.
"""

import os
import signal
import sys

from pipeline import lake

KIND, N = sys.argv[1], int(sys.argv[2])
seen = {"commit": 0, "parquet": 0, "commits_before_outputs": None}


def _die_if(kind: str, count: int) -> None:
    if kind == KIND and count == N:
        os.kill(os.getpid(), signal.SIGKILL)


original_write = lake.write


def write(con, settings, body, *, what):
    def body_then_maybe_die(c):
        result = body(c)
        _die_if("inside-commit", seen["commit"] + 1)
        return result

    original_write(con, settings, body_then_maybe_die, what=what)
    seen["commit"] += 1
    _die_if("after-commit", seen["commit"])


lake.write = write  # before anything imports it by name

from pipeline import outputs  # noqa: E402
from pipeline.cli import main  # noqa: E402
from pipeline.ingest import load  # noqa: E402

load.BATCH_BYTES = int(os.environ.get("KILLPOINT_BATCH_BYTES", load.BATCH_BYTES))
original_replace = outputs._replace


def replace(target, table):
    if seen["commits_before_outputs"] is None:
        seen["commits_before_outputs"] = seen["commit"]
    written = original_replace(target, table)
    seen["parquet"] += 1
    _die_if("parquet", seen["parquet"])
    return written


outputs._replace = replace
code = main(sys.argv[3:])
print(
    f"killpoint commits={seen['commit']} parquet={seen['parquet']} "
    f"commits_before_outputs={seen['commits_before_outputs']}",
    file=sys.stderr,
)
sys.exit(code)
