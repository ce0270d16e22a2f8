"""What a run leaves for its users, read back whole so that two runs can be compared: the published marts, the raw
layer behind them and the bytes of every output file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.lake import connect
from pipeline.settings import load_settings


@dataclass
class Published:
    """What a run leaves for its users: the published marts, the raw layer behind them and the output files."""

    marts: dict[str, list[tuple]]  # every marts.mart_* table of the lake, ordered
    raw: dict[str, list[tuple]]  # the raw layer and the load manifest (without its load times), ordered
    files: dict[str, bytes]  # every file under the output folder: relative path -> bytes

    def of(self, seller: str) -> Published:
        """Only the seller's rows and files (a run of that seller alone publishes these)."""

        def rows(tables):
            return {t: [r for r in rs if r[0] == seller] for t, rs in tables.items()}

        def belongs(path: str) -> bool:  # <dataset>/.../<seller>.parquet, reports/<seller>/..., the shared plotly.js,
            parts = Path(path).parts  # fix_files/.../<seller>_<marketplace>.txt (not the index of all sellers)
            return (
                Path(path).stem == seller
                or parts[:2] == ("reports", seller)
                or path == "reports/plotly.min.js"
                or parts[0] == "fix_files"
                and parts[-1].startswith(f"{seller}_")
            )

        return Published(rows(self.marts), rows(self.raw), {p: b for p, b in self.files.items() if belongs(p)})


LOADED_AT = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
RAW = {  # seller_id first, so that `Published.of` can pick a seller's rows
    "raw.files": "seller_id, file_id, feed, path, sha256, size_bytes, rows_read, rows_loaded, rows_rejected",
    "raw.orders": "seller_id, * exclude (seller_id)",
    "raw.confirmations": "seller_id, * exclude (seller_id)",
    "raw.scans": "seller_id, * exclude (seller_id)",
    "raw.catalog": "seller_id, * exclude (seller_id)",
    "main.rejects": "seller_id, * exclude (seller_id)",
}


def published(config: Path) -> Published:
    """Read the lake (read-only, as an analyst would) and the output folder of a settings file."""
    settings = load_settings(config)
    con = connect(settings, read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'lake' and schema_name = 'marts'"
                " and table_name like 'mart\\_%' escape '\\' order by all"
            ).fetchall()
        ]
        # seller_id first, as in RAW
        rows = {
            m: con.execute(f"select seller_id, * exclude (seller_id) from marts.{m} order by all").fetchall()
            for m in marts
        }
        raw = {t: con.execute(f"select {cols} from {t} order by all").fetchall() for t, cols in RAW.items()}
    finally:
        con.close()
    out = settings.output
    # the output folder differs from lake to lake, and a report's data health shows when files were loaded
    files = {
        p.relative_to(out).as_posix(): LOADED_AT.sub(
            b"<time> UTC", p.read_bytes().replace(str(out).encode(), b"<output>")
        )
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }
    return Published(rows, raw, files)


def assert_same(got: Published, expected: Published) -> None:
    assert sorted(got.marts) == sorted(expected.marts)
    for table in expected.marts:
        assert got.marts[table] == expected.marts[table], f"marts.{table} differs"
    for table in expected.raw:
        assert got.raw[table] == expected.raw[table], f"{table} differs"
    assert sorted(got.files) == sorted(expected.files)
    assert [p for p in expected.files if got.files[p] != expected.files[p]] == [], "output files differ"
