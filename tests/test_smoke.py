"""The command line's first contact: a settings error is one line and exit code 2; the installed `vtr` loads files."""

import subprocess
import sys
from pathlib import Path

from pipeline.cli import main


def test_unknown_settings_key_is_one_line_and_exit_2(project, capsys):
    project.write_config("[metric]\ntargt = 0.9\n")
    assert main(["run", "--config", str(project.config), "--date", "2026-11-20"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "metric.targt" in err and str(project.config) in err


def test_the_installed_vtr_command_ingests_a_file_and_says_so(project):
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nSKU-A,Toys\nSKU-B,\n")
    vtr = Path(sys.executable).with_name("vtr")
    done = subprocess.run(
        [str(vtr), "ingest", "--config", str(project.config)], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert [line.split() for line in done.stdout.splitlines()][1:] == [["acme", "catalog", "1", "0", "0", "1", "1"]]
