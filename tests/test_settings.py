"""Settings: a file of paths only works; a bad key or value is one line naming the key and the file, exit code 2."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.settings import DEFAULT_CARRIERS, SettingsError, load_settings


def test_a_file_holding_only_paths_gets_every_default(project):
    s = project.settings()
    assert (s.target, s.lag_days, s.windows, s.scan_grace_days) == (0.95, 14, (7, 30), 2)
    assert s.integrated_carriers == DEFAULT_CARRIERS
    assert (s.carrier_aliases, s.alert_urls, s.wait_for_files_minutes) == ({}, (), 360)
    assert s.seller_ids() == ["acme"]


def test_relative_paths_resolve_against_the_settings_files_folder(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_settings("../vtr.toml")
    assert s.landing == project.landing.resolve()
    assert s.warehouse == (project.root / "data" / "warehouse.duckdb").resolve()
    assert s.output == (project.root / "data" / "output").resolve()


def test_the_settings_example_of_the_spec_loads(project):
    project.write_config(
        '[metric]\ntarget = 0.95\nlag_days = 14\nwindows = [7, 30]\nscan_grace_days = 2\n'
        'integrated_carriers = ["UPS", "postnord"]\n'
        '[carrier_aliases]\n"United Parcel Service" = "ups"\n'
        '[[alerts]]\nurl = "json://localhost:8080/hook"\n'
    )
    s = project.settings()
    assert s.integrated_carriers == ("UPS", "POSTNORD")
    assert s.carrier_aliases == {"united parcel service": "UPS"}
    assert s.alert_urls == ("json://localhost:8080/hook",)


def test_target_of_exactly_one_and_an_integer_target_are_accepted(project):
    project.write_config("[metric]\ntarget = 1\n")
    assert project.settings().target == 1.0


BAD = {
    "unknown key": ("[metric]\ntargt = 0.9\n", "metric.targt"),
    "unknown table": ("[metrics]\ntarget = 0.9\n", "metrics"),
    "wrong type": ('[metric]\nlag_days = "14"\n', "metric.lag_days"),
    "bool for a number": ("[metric]\ntarget = true\n", "metric.target"),
    "target zero": ("[metric]\ntarget = 0\n", "metric.target"),
    "target above one": ("[metric]\ntarget = 95\n", "metric.target"),
    "negative lag": ("[metric]\nlag_days = -1\n", "metric.lag_days"),
    "empty windows": ("[metric]\nwindows = []\n", "metric.windows"),
    "table given a value": ('metric = 5\n', "metric"),
    "missing landing folder": ('[paths]\nlanding = "nowhere"\n', "paths.landing"),
    "seller without folder": ('sellers = ["ghost"]\n[paths]\nlanding = "landing"\n', "sellers"),
    "not TOML": ("[metric\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_setting_is_one_line_naming_key_and_file_and_exit_2(project, capsys, case):
    text, key = BAD[case]
    if case in ("missing landing folder", "seller without folder"):
        project.config.write_text(text)  # replaces the paths the fixture wrote
    else:
        project.write_config(text)
    with pytest.raises(SettingsError) as err:
        project.settings()
    assert key in str(err.value) and str(project.config) in str(err.value)

    assert main(["run", "--config", str(project.config), "--date", "2026-11-20"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1 and key in out.err and str(project.config) in out.err
    assert "Traceback" not in out.err


def test_a_missing_or_unreadable_settings_file_is_exit_2(project, capsys):
    missing = project.root / "nope.toml"
    assert main(["ingest", "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "not found" in err

    project.config.write_bytes(b'[paths]\nlanding = "G\xf6teborg"\n')  # Windows-1252, not UTF-8
    assert main(["ingest", "--config", str(project.config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(project.config) in err and "Traceback" not in err
