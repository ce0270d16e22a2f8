"""Told without a warehouse (spec section 4): a run whose catalog cannot be opened still sends "run failed", once
per date over retries (remembered in a file under paths.output, since the alert log lives in the warehouse), and
says so in one line, exit code 1. A corrupted SQLite catalog here; a stopped PostgreSQL catalog (slow: it starts
one, tests/helpers/servers.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import servers
from pipeline.cli import main
from pipeline.lake import WarehouseError, connect
from pipeline.run import run

D = dt.date(2026, 11, 20)


def _retries_tell_once(project, hook, capsys) -> None:
    """Two retries of the date: the first a `vtr run` on the command line (one line, exit 1), then one in-process."""
    assert main(["run", "--config", str(project.config), "--date", str(D)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("vtr: ") and "catalog" in line and "Traceback" not in line, line  # what and where
    with pytest.raises(WarehouseError):
        run(project.settings(), D)
    failed = [m for m in hook.messages() if m["title"].startswith("VTR run failed")]
    assert len(failed) == 1, hook.messages()
    assert f"step run_seller failed for {D}" in failed[0]["message"]
    assert (
        "The warehouse could not be opened or written: this notice is sent once for these dates" in failed[0]["message"]
    )
    assert (project.settings().output / "alert_log_without_warehouse.jsonl").exists()


def test_a_corrupted_catalog_sends_one_run_failed_over_two_retries(project, hook, capsys):
    project.write_config(f'[[alerts]]\nurl = "{hook.url}"\n')
    catalog = project.settings().warehouse
    catalog.parent.mkdir(parents=True)
    catalog.write_bytes(b"SQLite format 3\x00" + b"\x00garbage" * 1000)  # a header, then nothing readable
    _retries_tell_once(project, hook, capsys)


@pytest.mark.slow
def test_a_stopped_postgresql_catalog_sends_one_run_failed_over_two_retries(project, hook, capsys):
    with servers.postgres_or_skip("the stopped PostgreSQL catalog's test is") as server:
        catalog = server.new_database()
        project.write_config(
            f'[warehouse]\ncatalog = "{catalog}"\ndata_path = "lake/data"\n[[alerts]]\nurl = "{hook.url}"\n'
        )
        connect(project.settings()).close()  # the lake exists, then its server stops
    _retries_tell_once(project, hook, capsys)
