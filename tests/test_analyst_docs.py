"""docs/analysts.md works as written (issue 12): every SQL block, the DuckDB Python blocks and the `vtr sql` and
`duckdb` commands run on a generated data set. The documented demo folder (/tmp/analyst_demo) stands for the
generated one; the SQL and Python blocks run from inside it (their Parquet paths are relative to it), the commands
from another folder (they name everything by its absolute path)."""

from __future__ import annotations

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
DEMO = "/tmp/analyst_demo"


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


def test_the_skus_missing_from_the_catalog_one_row_each_and_no_row_of_blanks(published_outputs):
    """Continuation lines of the order report leave the SKU blank: the query counts order items, not raw rows, so
    no row of blanks (seller, marketplace and SKU all NULL) appears."""
    [code] = [code for kind, code in BLOCKS if kind == "sql" and "anti join raw.catalog" in code]
    con = connect(published_outputs[0], read_only=True)
    try:
        rows = con.execute(code).fetchall()
        blank_lines = con.execute("select count(*) from raw.orders where sku is null").fetchone()[0]
    finally:
        con.close()
    assert rows and blank_lines > 0  # the data set has continuation lines, and SKUs missing from the catalog
    assert all(None not in row for row in rows)
    assert len({row[:3] for row in rows}) == len(rows)


def test_the_duckdb_python_blocks_run(in_outputs, capsys):
    blocks = [
        code.replace(DEMO, str(in_outputs))
        for kind, code in BLOCKS
        if kind == "python" and "import pandas" not in code and "import polars" not in code
    ]
    assert len(blocks) == 3  # the project's environment, a plain DuckDB 1.5.5 with its wheels, the Parquet files
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - the documentation's own example
    out = capsys.readouterr()
    assert "mart_vtr_snapshots" not in out.err and out.out.count("\n") > 20, out


def test_the_command_lines_run_from_any_folder(published_outputs, tmp_path):
    """The shell blocks, in order, as one script run from an unrelated folder, with VTR set to the project's
    environment and CONFIG to the generated data set's settings; the `duckdb` command line, interactive in the
    documentation, is given one query to answer."""
    root = published_outputs[2]
    script = "\n".join(code for kind, code in BLOCKS if kind == "sh")
    assert not re.search(r"(^|[\s\"'])\.venv/", script)  # no path relative to the project's folder
    script = re.sub(r"^VTR=.*$", f"VTR={BIN}", script, flags=re.M)
    script = re.sub(r"^CONFIG=.*$", f"CONFIG={root / 'vtr.toml'}", script, flags=re.M)
    script = re.sub(
        r'^("\$VTR/duckdb" -cmd .*)$',
        r'\1 -c "select count(*) > 0 as lake_read from marts.mart_vtr_snapshots"',
        script,
        flags=re.M,
    )
    assert script.count("$VTR/vtr") >= 3
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=elsewhere, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "mart_vtr_snapshots" in done.stdout and "overall" in done.stdout  # vtr sql, argument and stdin
    assert re.search(r"lake_read.*\n.*\n.*\n.*true", done.stdout, re.S), done.stdout  # the duckdb command line
