"""`vtr sql` is read-only (spec section 6, issue 19): on a published warehouse, the statements a reliability and
security tester tried (an attach of the lake read-write, a raw attach or scan of the catalog, COPY over a published
Parquet, reading the machine's files, loading an extension, lifting the settings) are refused with one line each and
change or reveal nothing, while the session goes on and reads as before; several statements in one query print
every result in order, and an error names its statement."""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline import analyst, lake
from pipeline.cli import main
from pipeline.outputs import partition_file
from pipeline.settings import load_settings


def vtr_sql(capsys, monkeypatch, settings, query: str | None = None, stdin: str = "") -> tuple[int, str, str]:
    """`vtr sql` in this process, from the folder holding vtr.toml and output/: (exit code, stdout, stderr)."""
    monkeypatch.chdir(settings.config_file.parent)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["sql", "--config", str(settings.config_file), *([query] if query else [])])
    out = capsys.readouterr()
    return code, out.out, out.err


def published_rows(settings) -> int:
    con = lake.connect(settings, read_only=True)
    try:
        return con.execute("select count(*) from marts.mart_vtr_snapshots").fetchone()[0]
    finally:
        con.close()


def test_several_statements_in_one_query_print_every_result_in_order(published_outputs, capsys, monkeypatch):
    code, out, err = vtr_sql(
        capsys, monkeypatch, published_outputs[0], "select 1 as first; select 2 as second; select 3 as third"
    )
    assert code == 0 and err == ""
    assert out.index("first") < out.index("second") < out.index("third")

    code, out, err = vtr_sql(
        capsys, monkeypatch, published_outputs[0], "select 'a;b' as one; selec 2; select 3 as three"
    )
    assert code == 1 and "one" in out and "three" in out  # the others still run
    assert err.count("\n") == 1 and "statement 2 (selec 2)" in err and "syntax error" in err


def test_an_attach_of_the_lake_read_write_or_of_its_catalog_changes_nothing(published_outputs, capsys, monkeypatch):
    settings = published_outputs[0]
    before = published_rows(settings)
    catalog = settings.warehouse
    statements = [
        f"attach 'ducklake:sqlite:{catalog}' as rw;",
        "delete from rw.marts.mart_vtr_snapshots;",
        "delete from marts.mart_vtr_snapshots;",
        f"attach '{catalog}' as raw_catalog (type sqlite);",
        "delete from raw_catalog.ducklake_snapshot;",
        f"select count(*) from sqlite_scan('{catalog}', 'ducklake_snapshot');",
        f"attach '{settings.output}/new.sqlite' as made (type sqlite);",
        "select count(*) as still_there from marts.mart_vtr_snapshots;",
    ]
    code, out, err = vtr_sql(capsys, monkeypatch, settings, stdin="\n".join(statements) + "\n")
    assert code == 1
    assert err.count("\n") == 7 and err.count("Refused statement") == 7, err  # one line each, then it goes on
    assert "still_there" in out and str(before) in out
    assert published_rows(settings) == before
    assert not (settings.output / "new.sqlite").exists()


def test_copy_over_a_published_parquet_is_refused(published_outputs, capsys, monkeypatch):
    settings, summary = published_outputs[:2]
    target = partition_file(settings, "vtr_snapshots", dt.date.fromisoformat(summary.end), "tiny-shop")
    before = target.read_bytes()
    forged = f"copy (select * replace ('ok' as status) from read_parquet('{target}')) to '{target}' (format parquet)"
    code, _, err = vtr_sql(capsys, monkeypatch, settings, forged)
    assert code == 1 and "Refused statement 1" in err and "COPY" in err
    assert target.read_bytes() == before


@pytest.mark.parametrize(
    "query",
    [
        "select * from read_csv('/etc/passwd')",
        "select * from read_text('/etc/hostname')",
        "select * from '/etc/passwd'",
        "select * from glob('/etc/*')",
        "select * from read_text('../../../../../../etc/hostname')",
        "select * from read_csv(['output/vtr_snapshots/x.csv', '/etc/passwd'])",
        "select * from read_text('/et' || 'c/hostname')",  # not a literal: DuckDB's own allowed_directories refuse it
        "select * from query('select * from read_text(''/etc/hostname'')')",
        "set variable leak = (select content from read_text('/etc/hostname'))",
        "explain analyze select * from read_text('/etc/hostname')",
    ],
)
def test_no_file_outside_the_warehouse_data_and_the_outputs_is_read(published_outputs, capsys, monkeypatch, query):
    code, out, err = vtr_sql(capsys, monkeypatch, published_outputs[0], query)
    hostname = Path("/etc/hostname").read_text().strip()
    assert code == 1 and err.count("\n") == 1 and "statement 1" in err
    assert "root:" not in out and (not hostname or hostname not in out)


def test_no_extension_is_loaded_or_installed_and_no_setting_lifts_the_limits(published_outputs, capsys, monkeypatch):
    statements = [
        f"load '{lake.extension_path('sqlite_scanner')}';",
        "install httpfs;",
        "set enable_external_access = true;",
        "set lock_configuration = false;",
        "set allowed_directories = ['/'];",
        "pragma threads = 64;",
        "set TimeZone = 'Europe/Stockholm';",
        "select current_setting('TimeZone') as zone;",
    ]
    code, out, err = vtr_sql(capsys, monkeypatch, published_outputs[0], stdin="\n".join(statements) + "\n")
    assert code == 1 and err.count("Refused statement") == 6 and err.count("\n") == 6, err
    assert "Europe/Stockholm" in out  # a harmless setting an analyst may change


def test_duckdbs_settings_hold_on_their_own_after_the_lock(published_outputs, tmp_path):
    """The second layer: whatever got past the classifier, DuckDB itself keeps files and settings shut."""
    settings = published_outputs[0]
    con = analyst.open_session(settings)
    try:
        for statement in (
            "set enable_external_access = true",
            "set lock_configuration = false",
            "set allowed_directories = ['/']",
            "select * from read_text('/etc/hostname')",
            f"copy (select 1) to '{tmp_path}/x.csv'",
            "install httpfs",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
        con.execute("set TimeZone = 'Europe/Stockholm'")  # allowed_configs
        assert con.execute("select count(*) > 0 from marts.mart_vtr_snapshots").fetchone()[0]
    finally:
        con.close()


def test_reading_statements_still_run(published_outputs, capsys, monkeypatch):
    statements = [
        "from lake.snapshots() limit 1;",
        "describe marts.mart_vtr_snapshots;",
        "summarize select vtr from marts.mart_vtr_snapshots;",
        "pragma table_info('marts.mart_vtr_snapshots');",
        "show tables;",
        "explain select count(*) from raw.files;",
        "set variable latest = (select max(snapshot_date) from marts.mart_vtr_snapshots);",
        "begin; select count(*) from marts.mart_vtr_snapshots where snapshot_date = getvariable('latest'); commit;",
        "select count(*) as parquet_rows from read_parquet('output/vtr_snapshots/*/*.parquet');",
        "pivot (select scope, window_days from marts.mart_vtr_snapshots) on scope in ('overall') using count(*);",
    ]
    code, out, err = vtr_sql(capsys, monkeypatch, published_outputs[0], stdin="\n".join(statements) + "\n")
    assert (code, err) == (0, ""), err
    assert "parquet_rows" in out and "snapshot_id" in out and "column_name" in out


def test_print_attach_leaves_out_a_password_with_spaces_and_says_where_to_put_it(project, capsys):
    project.write_config(
        "[warehouse]\ncatalog = \"host=127.0.0.1 dbname=lake user=analyst password='s3cret words here'\"\n"
    )
    assert main(["sql", "--config", str(project.config), "--print-attach"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "words" not in out and "password=" not in out
    assert "PGPASSWORD or ~/.pgpass" in out and "user=analyst" in out


@pytest.mark.slow
def test_on_postgresql_the_session_connects_as_a_role_that_can_only_read_the_catalog(tmp_path, monkeypatch):
    """The scaled setup: the catalog in PostgreSQL, read by the role ops/services.py grants (as cluster-up does);
    even a client opened by hand with that role cannot change the catalog, and the session reveals no password."""
    import psycopg2

    from helpers import servers

    try:
        server = servers.PostgresServer()
    except servers.ServerUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        owner_dsn = server.new_database("lake")
        database = owner_dsn.split("dbname=")[1].split()[0]
        landing = tmp_path / "landing" / "acme" / "orders"
        landing.mkdir(parents=True)
        (landing / "orders.txt").write_text(
            "order-id\torder-item-id\tlatest-delivery-date\tsales-channel\nO-1\t1\t2026-11-01\tAmazon.de\n"
        )

        def config(name: str, catalog: str) -> Path:
            path = tmp_path / name
            path.write_text(
                f'[paths]\nlanding = "landing"\noutput = "output"\n[warehouse]\ncatalog = "{catalog}"\n'
                'data_path = "lake"\n[ingest]\nsettle_seconds = 0\n'
            )
            return path

        assert main(["ingest", "--config", str(config("vtr.toml", owner_dsn))]) == 0
        with server.connect(database) as pg, pg.cursor() as cur:
            cur.execute("create role analyst login password 'a reader of words'")
            servers.services.grant_reader(cur, database, servers.SUPERUSER, "analyst")
        reader_dsn = owner_dsn.replace("user=postgres", "user=analyst") + " password='a reader of words'"
        reader = load_settings(config("analyst.toml", reader_dsn))

        by_hand = psycopg2.connect(reader_dsn)  # a client an analyst opens with the role
        with by_hand, by_hand.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("delete from ducklake_snapshot")
        by_hand.close()
        monkeypatch.setenv("PGPASSWORD", "")  # the session sets it: restored after the test
        con = analyst.open_session(reader)
        try:
            assert con.execute("select count(*) from raw.orders").fetchone()[0] == 1
            shown = str(con.execute("from duckdb_databases()").fetchall())
            shown += str(con.execute("from duckdb_settings()").fetchall())
            assert "words" not in shown
        finally:
            con.close()
