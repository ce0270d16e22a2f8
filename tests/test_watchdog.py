"""pipeline/watchdog.py: work in a forked child with a hard deadline, as the seller's task and every alert send use it.
What a caller sees: the value, the exception, the child's log records, the deadline kept whatever the child does,
and nothing of the child left behind."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipeline import watchdog


def _stop_myself():
    os.kill(os.getpid(), signal.SIGSTOP)


def test_the_value_the_exception_and_the_log_records_come_back(caplog):
    caplog.set_level(logging.INFO)

    def work(n):
        logging.getLogger("pipeline.steps").info("working on %s", n)
        return {"seller_id": "acme", "rows": n}

    assert watchdog.call(work, 3, seconds=30, name="vtr acme") == {"seller_id": "acme", "rows": 3}
    assert ("pipeline.steps", logging.INFO, "working on 3") in caplog.record_tuples

    with pytest.raises(duckdb.CatalogException, match="nope") as err:
        watchdog.call(lambda: duckdb.connect().execute("from nope"), seconds=30, name="vtr acme")
    assert "in the child process of vtr acme" in "".join(err.value.__notes__)


def test_a_stopped_child_is_killed_at_the_deadline():
    started = time.monotonic()
    with pytest.raises(watchdog.DeadlineExceeded, match=r"^seller acme's work: not finished within 2 s; stopped$"):
        watchdog.call(_stop_myself, seconds=2, name="vtr acme", what="seller acme's work")
    assert 2 <= time.monotonic() - started < 2 + 3
    assert Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split() == []  # killed and reaped


def test_the_child_runs_its_own_exit_handlers_never_the_parents(tmp_path):
    parents = tmp_path / "parent's"
    parents.mkdir()
    atexit.register(parents.rmdir)  # what a parent's DuckDB spill folder registers
    try:

        def work():
            mine = tmp_path / "child's"
            mine.mkdir()
            atexit.register(mine.rmdir)
            return str(mine)

        mine = Path(watchdog.call(work, seconds=30, name="vtr acme"))
        assert not mine.exists() and parents.exists()
    finally:
        atexit.unregister(parents.rmdir)


def test_a_child_dies_with_its_parent(tmp_path):
    """A task process killed (SIGKILL: no handler runs) takes its child with it: no work goes on without its owner."""
    script = (
        "import time; from pipeline import watchdog; watchdog.call(time.sleep, 600, seconds=None, name='vtr orphan')"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline, child = time.monotonic() + 60, None
        while child is None and time.monotonic() < deadline:
            found = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
            child = int(found[0]) if found else None
            time.sleep(0.1)
        assert child and Path(f"/proc/{child}/comm").read_text().strip() == "vtr orphan"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and "Z" not in Path(f"/proc/{child}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the child outlived its parent"
        time.sleep(0.1)
