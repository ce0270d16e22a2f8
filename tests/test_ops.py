"""The operator's tools in ops/ that need no server: the cluster's settings file."""

from __future__ import annotations

from pathlib import Path

from ops.cluster import read_settings

ROOT = Path(__file__).resolve().parent.parent


def test_a_copy_of_the_cluster_settings_elsewhere_means_the_same_folders(tmp_path):
    """Relative paths are the repository's, never the copy's: the README's next commands (`.cluster/...`) hold."""
    copy = tmp_path / "elsewhere" / "cluster.toml"
    copy.parent.mkdir()
    copy.write_text((ROOT / "ops" / "cluster.toml").read_text().replace("port = 8080", "port = 8090"))
    cluster, vtr = read_settings(copy)
    original, original_vtr = read_settings(ROOT / "ops" / "cluster.toml")
    assert cluster["home"] == original["home"] == ROOT / ".cluster"
    assert (
        vtr["paths"]
        == original_vtr["paths"]
        == {
            "landing": str(ROOT / ".cluster" / "landing"),
            "output": str(ROOT / ".cluster" / "output"),
        }
    )
    assert (cluster["port"], original["port"]) == (8090, 8080)
