"""docs/analysts.md works as written (issue 12): every SQL block, the DuckDB Python blocks and the `vtr sql` and
`duckdb` commands run, from the folder holding `vtr.toml` and `output/`, on a generated data set, and return rows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.lake import connect

DOC = Path(__file__).resolve().parent.parent / "docs" / "analysts.md"
BIN = Path(sys.executable).parent
BLOCKS = re.findall(r"```(sql|python|sh)\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture
def in_outputs(published_outputs, monkeypatch):
    root = published_outputs[2]
    monkeypatch.chdir(root)
    return root


def _sql(lang: str):
    return [pytest.param(code, id=f"sql{n}") for n, (kind, code) in enumerate(BLOCKS) if kind == lang]


@pytest.mark.parametrize("code", _sql("sql"))
def test_each_sql_block_runs_and_returns_rows(in_outputs, published_outputs, code):
    # a block reads the Parquet datasets in plain DuckDB, or the warehouse (as `vtr sql` does)
    con = duckdb.connect() if "read_parquet" in code else connect(published_outputs[0], read_only=True)
    try:
        rows = con.execute(code).fetchall()  # every statement runs; the last one's rows
    finally:
        con.close()
    assert rows, code


def test_the_duckdb_python_blocks_run(in_outputs, capsys):
    blocks = [
        code
        for kind, code in BLOCKS
        if kind == "python" and "import pandas" not in code and "import polars" not in code
    ]
    assert len(blocks) == 2
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - the documentation's own example
    assert "mart_vtr_snapshots" not in capsys.readouterr().err


def test_the_command_lines_run(in_outputs):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    commands = [
        line.replace(".venv/bin/", "")
        for kind, code in BLOCKS
        if kind == "sh"
        for line in code.replace("\\\n", "").splitlines()
        if "vtr sql" in line and "duckdb -cmd" not in line
    ]
    assert len(commands) == 2
    for command in commands:
        done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.count("\n") > 3, done.stderr
    attach = subprocess.run(
        [BIN / "vtr", "sql", "--config", "vtr.toml", "--print-attach"], capture_output=True, text=True, check=True
    ).stdout
    done = subprocess.run(
        [BIN / "duckdb", "-cmd", attach, "-c", "select count(*) > 0 from marts.mart_vtr_snapshots"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "true" in done.stdout, done.stderr
