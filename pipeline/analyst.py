"""`vtr sql`: a read-only session on the lake for analysts, usable while runs write.

Each statement reads the last committed state when it starts (snapshot isolation); with no query given, statements
are read from standard input, one after another as they end with ';', until it closes. Several statements in one
query or line are run one by one, each result printed in order.

Read-only means the session can change nothing and reach nothing else (spec section 6), in two layers:
1. every statement is classified before it runs, with DuckDB's own parser (`extract_statements`, the statement's
   type, and `json_serialize_sql` for the functions and tables a query names): only statements that read run
   (SELECT and its kin: DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, the PRAGMAs that are queries; SET VARIABLE, USE,
   BEGIN/COMMIT, and SET of the harmless settings); a table function runs only when it reads the session's own
   catalogs or computes rows, or reads files under the warehouse's data and the outputs. Anything else is refused
   with one line and the session goes on;
2. DuckDB's settings, which alone do not stop an attach, a scanner or a COPY into an allowed folder (measured on
   1.5.5, docs/decisions.md): files are reachable only under the warehouse's data and the outputs
   (`allowed_directories`, set before `enable_external_access = false`), and the configuration is locked but for
   `ALLOWED_SETTINGS`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb

from pipeline import lake
from pipeline.settings import Settings

MAX_ROWS = 10_000
SNIPPET = 60

# Settings an analyst may still change: how values are shown, never what can be reached
ALLOWED_SETTINGS = ("TimeZone", "Calendar", "default_order", "default_null_order", "search_path")
# Table functions that read the session's own catalogs (the lake, read-only, and DuckDB's metadata) or compute rows
READING_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "json_each",
        "json_tree",
        "summary",
        "histogram",
        "histogram_values",
        "icu_calendar_names",
        "pg_timezone_names",
        "which_secret",
        "ducklake_current_snapshot",
        "ducklake_last_committed_snapshot",
        "ducklake_list_files",
        "ducklake_options",
        "ducklake_settings",
        "ducklake_snapshots",
        "ducklake_table_changes",
        "ducklake_table_deletions",
        "ducklake_table_info",
        "ducklake_table_insertions",
    }
)
READING_PREFIXES = ("duckdb_", "pragma_")  # DuckDB's metadata (duckdb_tables(), pragma_table_info(), ...)
# Table functions reading files: their paths must lie under the warehouse's data or the outputs
FILE_FUNCTIONS = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "parquet_schema",
        "read_text",
        "read_blob",
        "glob",
        "sniff_csv",
    }
)
REFUSED_SCALARS = frozenset({"getenv", "enable_profile", "disable_profile"})
_SETTING = re.compile(
    r"\s*(?:(?:re)?set\s+(?:(?:session|local|global)\s+)?|pragma\s+)(variable\s+)?(\"[^\"]+\"|[\w.]+)\s*(?:=|to\b)?"
    r"(.*)",
    re.IGNORECASE | re.DOTALL,
)
_EXPLAIN = re.compile(r"\s*explain\b(?:\s+analy[sz]e\b)?(?:\s*\([^)]*\))?(.*)", re.IGNORECASE | re.DOTALL)
_CALL = re.compile(r"\s*call\b(.*)", re.IGNORECASE | re.DOTALL)
_USE = re.compile(r"\s*use\s", re.IGNORECASE)


class Refused(Exception):
    """A statement the read-only session does not run; the message says why, in one line."""


def open_session(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only, then locked: files only under its data and the outputs, settings fixed. A
    catalog password goes to libpq through PGPASSWORD, so that nothing the session can query holds it (DuckDB shows
    an attached database's connection string in duckdb_databases() and allowed_paths)."""
    if settings.catalog:
        catalog, password = lake.split_password(settings.catalog)
        if password is not None:
            os.environ["PGPASSWORD"] = password
        settings = dataclasses.replace(settings, catalog=catalog)
    con = lake.connect(settings, read_only=True)
    try:
        con.execute("set allowed_directories = ?", [_allowed(settings)])  # before external access is switched off
        con.execute("set enable_external_access = false")
        con.execute("set allowed_configs = ?", [list(ALLOWED_SETTINGS)])
        con.execute("set lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _allowed(settings: Settings) -> list[str]:
    folders = [settings.lake_data_path, str(settings.output)]
    return [f if "://" in f else os.path.realpath(f).rstrip("/") + "/" for f in folders]


def session(settings: Settings, query: str | None = None) -> int:
    """Run QUERY's statements, or every statement read from standard input, printing each result in order; exit
    code 0, or 1 when a statement failed or was refused (the session goes on after either)."""
    con = open_session(settings)
    failed = False
    try:
        texts = _split(query) if query else (piece for chunk in _statements(sys.stdin) for piece in _split(chunk))
        for number, text in enumerate(texts, 1):
            failed |= not _run(con, settings, number, text)
    finally:
        con.close()
    return int(failed)


def _run(con: duckdb.DuckDBPyConnection, settings: Settings, number: int, text: str) -> bool:
    """Classify and run one statement's text (PIVOT may parse as two statements); False when it failed."""
    snippet = " ".join(text.split())
    snippet = snippet if len(snippet) <= SNIPPET else snippet[: SNIPPET - 3] + "..."
    try:
        for statement in duckdb.extract_statements(text):
            check(con, settings, statement.type, statement.query or text)
            relation = con.sql(statement)
            if relation is not None:
                relation.show(max_rows=MAX_ROWS, max_width=10_000)
            sys.stdout.flush()
    except Refused as exc:
        print(f"Refused statement {number} ({snippet}): {exc}", file=sys.stderr, flush=True)
        return False
    except duckdb.Error as exc:
        print(f"Error in statement {number} ({snippet}): {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
        return False
    return True


def check(con: duckdb.DuckDBPyConnection, settings: Settings, kind: duckdb.StatementType, text: str) -> None:
    """Raise Refused unless the statement only reads."""
    kinds = duckdb.StatementType
    if kind == kinds.SELECT:
        _check_query(con, settings, text)
    elif kind == kinds.EXPLAIN and (inner := _EXPLAIN.fullmatch(text)):  # EXPLAIN ANALYZE runs its statement
        for statement in duckdb.extract_statements(inner.group(1)):
            check(con, settings, statement.type, statement.query)
    elif kind == kinds.CALL and (called := _CALL.fullmatch(text)):
        _check_query(con, settings, f"select * from {called.group(1)}")
    elif kind == kinds.SET:
        _check_set(con, settings, text)
    elif kind != kinds.TRANSACTION:
        raise Refused(f"a read-only session runs queries only, not {kind.name}")


def _check_set(con: duckdb.DuckDBPyConnection, settings: Settings, text: str) -> None:
    if _USE.match(text):
        return
    match = _SETTING.match(text)
    if match and match.group(1):  # SET VARIABLE name = expression: the expression is a query's
        if match.group(3).strip():
            _check_query(con, settings, f"select {match.group(3)}")
        return
    name = match.group(2).strip('"') if match else "?"
    if name.lower() not in {s.lower() for s in ALLOWED_SETTINGS}:
        raise Refused(f"setting {name} cannot be changed here (only {', '.join(ALLOWED_SETTINGS)})")


def _check_query(con: duckdb.DuckDBPyConnection, settings: Settings, text: str) -> None:
    """Every table function, function and file a query names: refused unless it reads what the session may."""
    tree = json.loads(con.execute("select json_serialize_sql(?)", [text]).fetchall()[0][0])
    if tree.get("error"):
        raise Refused(f"cannot be checked as a query ({tree.get('error_message', 'not a query')})")
    allowed = _allowed(settings)
    for node in _nodes(tree):
        if node.get("class") == "FUNCTION" and node.get("function_name", "").lower() in REFUSED_SCALARS:
            raise Refused(f"function {node['function_name']}() is not available in a read-only session")
        if node.get("type") == "TABLE_FUNCTION":
            _check_table_function(node["function"], allowed)
        elif node.get("type") in ("BASE_TABLE", "SHOW_REF") and _looks_like_path(node.get("table_name") or ""):
            _check_path(node["table_name"], allowed)


def _check_table_function(function: dict[str, Any], allowed: list[str]) -> None:
    name = function["function_name"].lower()
    if function.get("schema") or function.get("catalog"):  # lake.snapshots() is ducklake_snapshots() of the lake
        name = f"ducklake_{name}"
    if name in FILE_FUNCTIONS:
        for path in _literal_paths(function.get("children", [])[:1]):
            _check_path(path, allowed)
    elif name not in READING_FUNCTIONS and not name.startswith(READING_PREFIXES):
        raise Refused(
            f"table function {function['function_name']}() is not available in a read-only session (it may reach"
            " another database or file, or change something)"
        )


def _literal_paths(children: list[dict[str, Any]]) -> Iterator[str]:
    """The paths written as text in a file function's first argument (a string or a list of strings); others are
    left to DuckDB's allowed_directories."""
    for child in children:
        if child.get("class") == "CONSTANT" and child["value"]["type"]["id"] == "VARCHAR":
            yield child["value"]["value"]
        elif child.get("class") == "FUNCTION" and child.get("function_name") == "list_value":
            yield from _literal_paths(child.get("children", []))


def _looks_like_path(name: str) -> bool:
    return any(c in name for c in "/.*?")  # a replacement scan: FROM 'file.csv'


def _check_path(path: str, allowed: list[str]) -> None:
    """A path (or glob) read by the query must lie under an allowed folder (relative paths: the current folder)."""
    if "://" in path:
        inside = any(path.startswith(a) for a in allowed)
    else:
        fixed = re.split(r"[*?\[{]", os.path.expanduser(path), maxsplit=1)[0] or "."
        real = os.path.realpath(fixed)
        inside = any(real.rstrip("/") + "/" == a or real.startswith(a) for a in allowed)
    if not inside:
        raise Refused(f"{path!r} is outside the warehouse's data and the outputs ({', '.join(allowed)})")


def _nodes(tree: object) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


def attach_sql(settings: Settings) -> str:
    """The statements that open the lake read-only in any DuckDB 1.5.5 client (the `duckdb` command line:
    `duckdb -cmd "$(vtr sql --config FILE --print-attach)"`); a catalog password is left out, and a comment says
    where libpq reads it from."""
    scanner = "postgres_scanner" if settings.catalog else "sqlite_scanner"
    catalog = (
        f"postgres:{lake.split_password(settings.catalog)[0]}" if settings.catalog else f"sqlite:{settings.warehouse}"
    )
    password = (
        ["-- the catalog's password is left out: put it in PGPASSWORD or ~/.pgpass (libpq reads them)"]
        if settings.catalog
        else []
    )
    return (
        "\n".join(
            [
                *password,
                f"load '{lake.extension_path('ducklake')}';",
                f"load '{lake.extension_path(scanner)}';",
                f"attach '{lake.quote(f'ducklake:{catalog}')}' as lake (read_only);",
                "use lake;",
                "set TimeZone = 'UTC';",
            ]
        )
        + "\n"
    )


def _statements(lines: Iterable[str]) -> Iterator[str]:
    """Complete statements as they arrive: text up to a line ending with ';'."""
    pending = ""
    for line in lines:
        pending += line
        if pending.rstrip().endswith(";"):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


def _split(text: str) -> list[str]:
    """The statements of a text, split at the semicolons DuckDB's tokenizer finds outside strings and comments, so
    that each can be named in an error even when another does not parse."""
    try:
        ends = [pos for pos, _ in duckdb.tokenize(text) if text[pos] == ";"]
    except duckdb.Error:
        ends = []
    pieces, start = [], 0
    for end in [*ends, len(text)]:
        piece = text[start:end]
        if duckdb.tokenize(piece) if piece.strip() else False:
            pieces.append(piece)
        start = end + 1
    return pieces
