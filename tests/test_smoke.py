"""The command line's first contact: a settings error is one line and exit code 2."""

from pipeline.cli import main


def test_unknown_settings_key_is_one_line_and_exit_2(project, capsys):
    project.write_config("[metric]\ntargt = 0.9\n")
    assert main(["run", "--config", str(project.config), "--date", "2026-11-20"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "metric.targt" in err and str(project.config) in err
