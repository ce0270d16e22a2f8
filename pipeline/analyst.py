"""`vtr sql`: a read-only session on the lake for analysts, usable while runs write.

Each statement reads the last committed state when it starts (snapshot isolation); with no query given, statements
are read from standard input, one after another as they end with ';', until it closes.
"""

from __future__ import annotations

import sys

import duckdb

from pipeline import lake
from pipeline.settings import Settings

MAX_ROWS = 10_000


def _show(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    relation = con.sql(statement)
    if relation is not None:
        relation.show(max_rows=MAX_ROWS, max_width=10_000)
    sys.stdout.flush()


def session(settings: Settings, query: str | None = None) -> int:
    """Run QUERY and print its result, or every statement read from standard input; exit code 0, or 1 when a
    statement failed (the session goes on after a failed statement read from standard input)."""
    con = lake.connect(settings, read_only=True)
    failed = False
    try:
        statements = [query] if query else _statements(sys.stdin)
        for statement in statements:
            try:
                _show(con, statement)
            except duckdb.Error as exc:
                print(f"Error: {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
                failed = True
    finally:
        con.close()
    return int(failed)


def attach_sql(settings: Settings) -> str:
    """The statements that open the lake read-only in any DuckDB 1.5.5 client (the `duckdb` command line:
    `duckdb -cmd "$(vtr sql --config FILE --print-attach)"`); a catalog password is left out: libpq reads it from
    PGPASSWORD or ~/.pgpass."""
    scanner = "postgres_scanner" if settings.catalog else "sqlite_scanner"
    catalog = (
        f"postgres:{lake.without_password(settings.catalog)}" if settings.catalog else f"sqlite:{settings.warehouse}"
    )
    return (
        "\n".join(
            [
                f"load '{lake.extension_path('ducklake')}';",
                f"load '{lake.extension_path(scanner)}';",
                f"attach 'ducklake:{catalog}' as lake (read_only);",
                "use lake;",
                "set TimeZone = 'UTC';",
            ]
        )
        + "\n"
    )


def _statements(lines):
    """Complete statements as they arrive: text up to a line ending with ';'."""
    pending = ""
    for line in lines:
        pending += line
        if pending.rstrip().endswith(";"):
            yield pending
            pending = ""
    if pending.strip():
        yield pending
