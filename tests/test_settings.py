"""Settings: a file of paths only works; a bad key, value or path is one line naming the key and the file, exit code
2, before anything is read or written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

from pipeline.cli import main
from pipeline.settings import DEFAULT_CARRIERS, DEFAULTS, Exemption, SettingsError, load_settings


def test_a_file_holding_only_paths_gets_every_default(project):
    s = project.settings()
    assert (s.target, s.lag_days, s.windows, s.scan_grace_days) == (0.95, 14, (7, 30), 2)
    assert s.integrated_carriers == DEFAULT_CARRIERS
    assert (s.carrier_aliases, s.alert_urls, s.wait_for_files_minutes) == ({}, (), 360)
    assert (s.alert_timeout_seconds, s.alert_max_attempts) == (30, 3)
    assert s.seller_ids() == ["acme"]
    # every default is the Settings dataclass's (written once): a file without the key gets it (paths and the
    # project's settle time of 0 aside)
    same = {f.name for f in dataclasses.fields(s)} - {"config_file", "landing", "warehouse", "output", "settle_seconds"}
    assert {k: getattr(s, k) for k in same} == {k: getattr(DEFAULTS, k) for k in same}


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
        "[metric]\ntarget = 0.95\nlag_days = 14\nwindows = [7, 30]\nscan_grace_days = 2\n"
        'integrated_carriers = ["UPS", "postnord"]\n'
        '[carrier_aliases]\n"United Parcel Service" = "ups"\n'
        '[[alerts]]\nurl = "json://localhost:8080/hook"\n'
    )
    s = project.settings()
    assert s.integrated_carriers == ("UPS", "POSTNORD")
    assert s.carrier_aliases == {"united parcel service": "UPS"}
    assert s.alert_urls == ("json://localhost:8080/hook",)


def test_a_marketplace_profile_overlays_metric_and_the_spec_example_loads(project):
    project.write_config(
        "[metric]\nlag_days = 10\n"
        '[marketplaces."Amazon.de"]\n'
        'integrated_carriers = ["DHL", "DPD", "GLS", "HERMES", "UPS", "GO!", "DEUTSCHE POST", "AMZL"]\n'
        '[[marketplaces."Amazon.de".exemptions]]\nship_methods = [" Warenpost "]\nmax_order_value = 20\n'
        'carriers = ["Deutsche Post"]\n'
        '[marketplaces."Walmart"]\ntarget = 0.99\nwindows = [30]\n'
    )
    s = project.settings()
    de, walmart = s.for_marketplace("amazon.de"), s.for_marketplace("Walmart")
    assert "GO!" in de.integrated_carriers and (de.target, de.lag_days, de.windows) == (0.95, 10, (7, 30))
    assert (walmart.target, walmart.lag_days, walmart.windows) == (0.99, 10, (30,))
    assert s.for_marketplace("Amazon.se") == s  # no profile: [metric] as it is
    assert s.profile("Amazon.de").exemptions[0] == Exemption(("Warenpost",), 20.0, ("DEUTSCHE POST",))


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
    "table given a value": ("metric = 5\n", "metric"),
    "missing landing folder": ('[paths]\nlanding = "nowhere"\n', "paths.landing"),
    "seller without folder": ('sellers = ["ghost"]\n[paths]\nlanding = "landing"\n', "sellers"),
    "not TOML": ("[metric\n", "not valid TOML"),
    "seller name leading outside": ('sellers = ["../../../../etc"]\n[paths]\nlanding = "landing"\n', "sellers"),
    "a hundred thousand threads": ("[duckdb]\nthreads = 100000\n", "duckdb.threads"),
    "no threads": ("[duckdb]\nthreads = 0\n", "duckdb.threads"),
    "memory limit not a size": ('[duckdb]\nmemory_limit = "lots"\n', "duckdb.memory_limit"),
    "memory limit too small": ('[duckdb]\nmemory_limit = "16MB"\n', "duckdb.memory_limit"),
    # issue 19: numbers a run cannot use, each refused before anything runs, naming key, value and range
    "lag of a billion days": ("[metric]\nlag_days = 1000000000\n", "'metric.lag_days' must be between 0 and 365"),
    "window of 1e8 days": ("[metric]\nwindows = [7, 1e8]\n", "'metric.windows' must be between 1 and 365"),
    "retention of a billion days": (
        "[warehouse]\nretention_days = 1000000000\n",
        "'warehouse.retention_days' must be between 1 and 3650, got 1000000000",
    ),
    "grace of a billion days": ("[metric]\nscan_grace_days = 1000000000\n", "'metric.scan_grace_days'"),
    "target not a number": ("[metric]\ntarget = nan\n", "'metric.target' must be above 0 and at most 1, got nan"),
    "negative settle time": ("[ingest]\nsettle_seconds = -1\n", "'ingest.settle_seconds' must be between 0"),
    "settle time over a day": ("[ingest]\nsettle_seconds = 86401\n", "'ingest.settle_seconds'"),
    "no alert deadline": ("[alert_policy]\ntimeout_seconds = 0\n", "alert_policy.timeout_seconds"),
    "an hour's alert deadline": ("[alert_policy]\ntimeout_seconds = 3600\n", "alert_policy.timeout_seconds"),
    "no alert attempt": ("[alert_policy]\nmax_attempts = 0\n", "alert_policy.max_attempts"),
    "a hundred alert attempts": ("[alert_policy]\nmax_attempts = 100\n", "alert_policy.max_attempts"),
    # marketplace profiles (issue 17): a [metric] key or exemptions, held to [metric]'s ranges
    "unknown profile key": ('[marketplaces."Amazon.de"]\ntargt = 0.9\n', 'marketplaces."Amazon.de".targt'),
    "profile target above one": ('[marketplaces."Walmart"]\ntarget = 99\n', 'marketplaces."Walmart".target'),
    "profile windows empty": ('[marketplaces."Walmart"]\nwindows = []\n', 'marketplaces."Walmart".windows'),
    "exemption bound zero": (
        '[[marketplaces."Amazon.de".exemptions]]\nship_methods = ["Warenpost"]\nmax_order_value = 0\n',
        'marketplaces."Amazon.de".exemptions[0].max_order_value',
    ),
    "exemption without ship methods": (
        '[[marketplaces."Amazon.de".exemptions]]\nmax_order_value = 20\n',
        'marketplaces."Amazon.de".exemptions[0]',
    ),
    "exemption unknown key": (
        '[[marketplaces."Amazon.de".exemptions]]\nship_methods = ["W"]\nmax_order_value = 20\nmethods = ["W"]\n',
        'marketplaces."Amazon.de".exemptions[0].methods',
    ),
}
REPLACES_PATHS = ("missing landing folder", "seller without folder", "seller name leading outside")


@pytest.mark.parametrize("case", BAD)
def test_a_bad_setting_is_one_line_naming_key_and_file_and_exit_2(project, capsys, case):
    text, key = BAD[case]
    if case in REPLACES_PATHS:
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


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "--date", "0001-01-01"], "--date 0001-01-01 is outside 2000-01-01"),
        (["run", "--date", "1999-12-31"], "--date 1999-12-31"),
        (["backfill", "--start", "2026-11-01", "--end", "9999-12-31"], "--end 9999-12-31"),
        (["backfill", "--start", "2026-11-02", "--end", "2026-11-01"], "--end 2026-11-01 is before --start"),
    ],
)
def test_a_snapshot_date_this_business_cannot_have_is_refused_before_anything_is_written(project, capsys, args, named):
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nSKU-A,Toys\n")
    assert main([*args, "--config", str(project.config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "Traceback" not in err
    assert not (project.root / "data").exists()  # no Parquet partition, no warehouse


def test_the_dags_snapshot_and_end_dates_are_bounded_too(project):
    from pipeline.steps import PlanError, plan

    for params, named in (
        ({"snapshot_date": "0001-01-01"}, "snapshot_date 0001-01-01"),
        ({"snapshot_date": "2026-11-20", "end_date": "3026-11-20"}, "end_date 3026-11-20"),
    ):
        with pytest.raises(PlanError, match=named):
            plan(str(project.config), params)
    with pytest.raises(PlanError, match="snapshot_date 1990-01-01"):
        plan(str(project.config), {}, logical_date=dt.date(1990, 1, 1))
    assert plan(str(project.config), {"snapshot_date": "2000-01-01"})["start"] == "2000-01-01"


def test_a_missing_or_unreadable_settings_file_is_exit_2(project, capsys):
    missing = project.root / "nope.toml"
    assert main(["ingest", "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "not found" in err

    project.config.write_bytes(b'[paths]\nlanding = "G\xf6teborg"\n')  # Windows-1252, not UTF-8
    assert main(["ingest", "--config", str(project.config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(project.config) in err and "Traceback" not in err


def test_a_named_seller_whose_folder_is_a_link_leading_outside_the_landing_folder_is_refused(project, tmp_path, capsys):
    outside = tmp_path / "outside"
    (outside / "scans").mkdir(parents=True)
    (project.landing / "evil").symlink_to(outside, target_is_directory=True)
    assert project.settings().seller_ids() == ["acme"]  # not named: a link is not a seller's folder

    project.config.write_text(
        'sellers = ["acme", "evil"]\n[paths]\nlanding = "landing"\nwarehouse = "data/warehouse.sqlite"\n'
    )
    with pytest.raises(SettingsError, match="'sellers' names 'evil', whose folder leads outside"):
        project.settings()
    for command in (["ingest"], ["run", "--date", "2026-11-20"]):
        assert main([*command, "--config", str(project.config)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "evil" in err and str(project.config) in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()


def _paths_config(project, **paths) -> None:
    paths = {"landing": "landing", "warehouse": "data/warehouse.sqlite", "output": "data/output"} | paths
    extra = paths.pop("extra", "")
    project.config.write_text("[paths]\n" + "".join(f'{k} = "{v}"\n' for k, v in paths.items()) + extra)


PATH_ERRORS = {  # settings -> what the one line says ({root}: the project's folder)
    "output is a file": ({"output": "afile"}, "'paths.output' is not a folder: {root}/afile"),
    "warehouse under a file": (
        {"warehouse": "afile/data/warehouse.sqlite"},
        "'paths.warehouse' folder cannot be created: {root}/afile/data ({root}/afile is not a folder)",
    ),
    "read-only warehouse folder": (
        {"warehouse": "readonly/warehouse.sqlite"},
        "'paths.warehouse' folder is not writable: {root}/readonly",
    ),
    "data path under a file": (
        {"extra": '[warehouse]\ndata_path = "afile/lake"\n'},
        "'warehouse.data_path' folder cannot be created: {root}/afile/lake",
    ),
    "spill folder under a file": (
        {"extra": '[duckdb]\ntemp_directory = "afile/tmp"\n'},
        "'duckdb.temp_directory' folder cannot be created: {root}/afile/tmp",
    ),
    "memory limit too small": (
        {"extra": '[duckdb]\nmemory_limit = "63MB"\n'},
        "'duckdb.memory_limit' must be a size of at least 64MB",
    ),
}


@pytest.mark.parametrize("case", PATH_ERRORS)
def test_a_path_that_cannot_be_written_is_one_line_exit_2_and_nothing_is_ingested(project, capsys, case):
    if case == "read-only warehouse folder" and os.geteuid() == 0:
        pytest.skip("root writes into a chmod 555 folder; 'warehouse under a file' covers a folder root cannot use")
    paths, message = PATH_ERRORS[case]
    project.drop("acme", "catalog", "catalog.csv", "sku,category\nSKU-A,Toys\n")
    (project.root / "afile").write_text("not a folder")
    (project.root / "readonly").mkdir(mode=0o555)
    _paths_config(project, **paths)
    before = sorted(project.root.rglob("*"))

    assert main(["run", "--config", str(project.config), "--date", "2026-11-20"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "Traceback" not in out.err
    assert message.format(root=project.root) in out.err and str(project.config) in out.err
    assert sorted(project.root.rglob("*")) == before  # no catalog, no data folder, no output: nothing at all
