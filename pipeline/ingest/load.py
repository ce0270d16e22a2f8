"""Loading: a seller's new files, feed by feed, into the lake's raw tables, in name order.

New files go in batches of consecutive names (up to BATCH_BYTES of content). A batch is parsed in scratch (DuckDB's
own readers for the files they map line for line, Python's streaming reader for the others), then written to the
lake in one short transaction with its rejects and manifest rows. A file's id (its place in the seller's load order)
is given at that commit: the next number after every file loaded before, in name order. So a run killed between
two batches has committed a prefix of its files in name order, and the re-run adds the rest after it: the same
order as an uninterrupted run (spec section 7).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.contract import FEEDS, FileStatus
from pipeline.ingest.adapters import JSON_EVENTS, NOT_TRACKING_OBJECT
from pipeline.ingest.errors import FileError
from pipeline.ingest.files import NewFile, feed_files, inspect, iter_lines, not_read, records, refused, shown
from pipeline.ingest.formats import TYPED, canonical_header, checked_sql, delimited_lines_sql, fields_sql
from pipeline.lake import LAKE, write
from pipeline.settings import Settings, SettingsError, seller_id_problem

log = logging.getLogger(__name__)

BATCH_BYTES = 256 * 2**20  # a batch's rows are held in scratch until it commits: memory stays bounded by the backlog
LINES_PER_INSERT = 100_000


@dataclass
class FileResult:
    seller_id: str
    feed: str
    file: str
    status: FileStatus
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    message: str = ""


# Lines of JSON files read by DuckDB's CSV reader with one column and no quoting (NUL bytes were refused before);
# a line is its ordinality minus that of its file's first line (the reader keeps file and line order).
FILE_LINES = """
with r as (
    select filename, ordinality as o, text
    from read_csv(?, columns = {'text': 'VARCHAR'}, delim = chr(0), quote = '', escape = '', header = false,
                  auto_detect = false, max_line_size = 16777216, buffer_size = 33554432, filename = true)
         with ordinality
),
firsts as (select filename, min(o) as first from r group by filename)
select b.file_id, r.o - firsts.first + 1 as line, r.text
from r join firsts using (filename) join batch_files as b on b.path = r.filename
where r.text is not null and not regexp_full_match(r.text, '[\\s,]*')"""
# Files of a batch to load line by line instead: a delimited file whose rows are not its lines one to one (the reader
# skipped a line, or read a blank one: an empty fields map with a reason), a JSON file with no JSON object line
LINE_BY_LINE = """
select b.file_id
from batch_files as b
left join parsed as p using (file_id)
group by b.file_id, b.fmt, b.lines
having case
    when b.fmt = 'json' then bool_and(p.n_fields in (-1, -2))
    else count(p.line) <> b.lines - 1 or count(p.line) filter (p.reason is not null and cardinality(p.fields) = 0) > 0
end"""


def _parse_together(con: duckdb.DuckDBPyConnection, feed: str, files: list[NewFile]) -> list[int]:
    """Parse the batch's direct files with DuckDB's readers into `parsed`, one statement per format and header;
    returns the ids of the files to parse line by line instead (all of them when a statement fails)."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for f in files:
        if f.direct:
            groups.setdefault((f.fmt, tuple(f.header or ())), []).append(str(f.path))
    try:
        for (fmt, header), paths in groups.items():
            if fmt == "json":
                con.execute(f"create or replace temp table lines as {FILE_LINES}", [paths])
                sql = checked_sql(feed, JSON_EVENTS, NOT_TRACKING_OBJECT)
                con.execute(f"insert into parsed by name {sql}")
            else:
                con.execute(f"insert into parsed by name {fields_sql(feed, list(header), fmt)}", [paths])
        again = {row[0] for row in con.execute(LINE_BY_LINE).fetchall()}
    except duckdb.Error as exc:
        log.warning(
            "reading %d files together failed (%s); loading them one by one",
            sum(len(paths) for paths in groups.values()),
            shown(str(exc).splitlines()[0]),
        )
        con.execute("delete from parsed")
        again = {n for n, _ in enumerate(files, 1)}
    return sorted(again | {n for n, f in enumerate(files, 1) if not f.direct})


def _parse_alone(con: duckdb.DuckDBPyConnection, feed: str, file_id: int, f: NewFile) -> None:
    """Parse one file line by line into `parsed` (FileError when it cannot be read as what it claims)."""
    con.execute("delete from parsed where file_id = ?", [file_id])
    con.execute("create or replace temp table lines (file_id bigint, line bigint, text varchar)")
    numbers, texts = [], []
    invalid: set[int] = set()
    lines = iter_lines(f.path, f.encoding, invalid=invalid if f.invalid_lines else None)
    for number, text in records(lines) if f.fmt == "csv" else lines:
        numbers.append(number)
        texts.append(text)
        if len(numbers) == LINES_PER_INSERT:
            _append_lines(con, file_id, numbers, texts)
    _append_lines(con, file_id, numbers, texts)
    if f.fmt == "json":
        con.execute(f"insert into parsed by name {checked_sql(feed, JSON_EVENTS, NOT_TRACKING_OBJECT)}")
        objects = "select bool_and(n_fields in (-1, -2)) from parsed where file_id = ?"
        if con.execute(objects, [file_id]).fetchall()[0][0]:
            raise FileError("no line is a JSON object: not a JSON lines export (one tracking object a line)")
    else:
        con.execute(f"insert into parsed by name {delimited_lines_sql(feed, f.fmt, f.header or [])}")
    if invalid:  # read as lines without text, like an overlong one: say why
        con.execute(
            "update parsed set reason = 'not valid UTF-8 (the file''s other lines are)' "
            "where file_id = ? and list_contains(?, line)",
            [file_id, sorted(invalid)],
        )


def _append_lines(con: duckdb.DuckDBPyConnection, file_id: int, numbers: list[int], texts: list[Any]) -> None:
    if numbers:
        con.from_arrow(
            pa.table(
                {
                    "file_id": pa.array([file_id] * len(numbers), pa.int64()),
                    "line": pa.array(numbers, pa.int64()),
                    "text": pa.array(texts, pa.string()),
                }
            )
        ).insert_into("lines")
        numbers.clear()
        texts.clear()


def _store(c: duckdb.DuckDBPyConnection, seller_id: str, feed: str) -> None:
    """Append `parsed` to the lake: raw rows, rejects and a manifest row per file of `batch_files`, each file given
    the next id of the seller's load order (its place among the batch's names)."""
    base = c.execute(
        f"select coalesce(max(file_id), 0) from {LAKE}.raw.files where seller_id = ?", [seller_id]
    ).fetchall()[0][0]
    c.execute(
        "create or replace temp table ids as select file_id as n, ? + row_number() over (order by rel) as "
        "file_id from batch_files",
        [base],
    )
    columns = ", ".join(TYPED[feed])
    c.execute(
        f"insert into {LAKE}.raw.{feed} (seller_id, file_id, line, {columns}) "
        f"select ?, i.file_id, p.line, {columns} from parsed as p join ids as i on i.n = p.file_id "
        "where p.reason is null",
        [seller_id],
    )
    c.execute(
        f"insert into {LAKE}.main.rejects select ?, i.file_id, ?, b.rel, p.line, p.reason, p.fields "
        "from parsed as p join ids as i on i.n = p.file_id join batch_files as b on b.file_id = p.file_id "
        "where p.reason is not null",
        [seller_id, feed],
    )
    c.execute(
        f"""insert into {LAKE}.raw.files (seller_id, file_id, feed, path, sha256, size_bytes, modified_ns, rows_read,
            rows_loaded, rows_rejected, loaded_at, changed_ns, inode)
        select ?, i.file_id, ?, b.rel, b.sha256, b.size_bytes, b.modified_ns, coalesce(n.read, 0),
            coalesce(n.read - n.rejected, 0), coalesce(n.rejected, 0), now(), b.changed_ns, b.inode
        from batch_files as b
        join ids as i on i.n = b.file_id
        left join (select file_id, count(*) as read, count(reason) as rejected from parsed group by file_id) as n
            on n.file_id = b.file_id""",
        [seller_id, feed],
    )


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    seller_id: str,
    feed: str,
    files: list[NewFile],
    results: dict[str, FileResult],
) -> None:
    """Parse a batch in scratch, then commit it to the lake at once (files that cannot be read are left out)."""
    # one statement for the batch's files (executemany ran one statement a file: 14 ms each)
    con.register(
        "listed",
        pa.table(
            {
                "file_id": pa.array(range(1, len(files) + 1), pa.int64()),
                "path": [str(f.path) for f in files],
                "rel": [f.rel for f in files],
                "sha256": [f.sha256 for f in files],
                "size_bytes": pa.array([f.size for f in files], pa.int64()),
                "modified_ns": pa.array([f.modified_ns for f in files], pa.int64()),
                "changed_ns": pa.array([f.changed_ns for f in files], pa.int64()),
                "inode": pa.array([f.inode for f in files], pa.int64()),
                "fmt": [f.fmt for f in files],
                "lines": pa.array([f.lines for f in files], pa.int64()),
            }
        ),
    )
    con.execute("create or replace temp table batch_files as from listed")
    con.unregister("listed")
    con.execute("create or replace temp table lines (file_id bigint, line bigint, text varchar)")
    con.execute(
        f"create or replace temp table parsed as {delimited_lines_sql(feed, 'tsv', canonical_header(feed))} limit 0"
    )
    try:
        for n in _parse_together(con, feed, files):
            f = files[n - 1]
            try:
                _parse_alone(con, feed, n, f)
            except (FileError, OSError, duckdb.Error) as exc:  # OSError: gone or unreadable since it was hashed
                results[f.rel] = FileResult(seller_id, feed, f.rel, FileStatus.FAILED, message=str(_failure(exc)))
                con.execute("delete from parsed where file_id = ?", [n])
                con.execute("delete from batch_files where file_id = ?", [n])
        write(con, settings, lambda c: _store(c, seller_id, feed), what=f"load {seller_id} {feed}")
        counts = con.execute(
            "select b.rel, count(p.line), count(p.reason) from batch_files as b "
            "left join parsed as p using (file_id) group by all"
        ).fetchall()
    finally:
        con.execute("drop table if exists lines; drop table if exists ids")
    for rel, read, rejected in counts:
        results[rel] = FileResult(seller_id, feed, rel, FileStatus.LOADED, read, read - rejected, rejected)


def ingest_feed(con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, feed: str) -> list[FileResult]:
    """Load every new file of one seller's feed, in name order; a file that cannot be read fails alone. A file still
    being written, and every new file after it in name order, waits for the next run: loaded then together, they
    keep the order they would have had had it arrived whole."""
    known = con.execute(
        f"select path, size_bytes, modified_ns, changed_ns, inode, sha256 from {LAKE}.raw.files "
        "where seller_id = ? and feed = ? order by file_id",
        [seller_id, feed],
    ).fetchall()
    # a file with the path, size, modification and change time and inode of one loaded before is that file: not read
    # again, so a daily run's work grows with the day's new files, not with every file ever dropped (a manifest row
    # of an earlier release has no change time or inode: size and modification time decide)
    loaded = {(path, size, modified): (changed, inode) for path, size, modified, changed, inode, _ in known}
    latest = {path: digest for path, *_, digest in known}  # what each path held when it was last loaded
    seen = {digest: path for path, *_, digest in known}
    results: dict[str, FileResult] = {}
    todo, waiting_for = [], None
    for found in feed_files(settings, seller_id, feed):
        rel = found.path.relative_to(settings.landing / seller_id).as_posix()
        try:
            stat = found.path.stat()
        except OSError:  # gone since it was listed: inspecting it says so
            stat = None
        recorded = loaded.get((rel, stat.st_size, stat.st_mtime_ns)) if stat else None
        if found.refusal:
            results[rel] = FileResult(seller_id, feed, rel, FileStatus.FAILED, message=found.refusal)
        elif stat and recorded and recorded[0] in (None, stat.st_ctime_ns) and recorded[1] in (None, stat.st_ino):
            results[rel] = FileResult(seller_id, feed, rel, FileStatus.UNCHANGED)
        elif found.settling or waiting_for:
            waiting_for = waiting_for or rel
            why = (
                f"written less than {settings.settle_seconds} s ago (ingest.settle_seconds): read on a later run"
                if found.settling
                else f"after {waiting_for} in name order, which is not yet complete: loaded with it"
            )
            results[rel] = FileResult(seller_id, feed, rel, FileStatus.WAITING, message=why)
        else:
            todo.append((found.path, rel))
    batch: list[NewFile] = []
    same_again: list[NewFile] = []  # loaded before under its name, its times or inode changed since (a copy, a chmod)
    # reading, decompressing and hashing release the GIL: two files at a time, ahead of DuckDB loading a batch
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (_, rel), f in zip(todo, pool.map(lambda item: _try_inspect(feed, *item), todo), strict=True):
            if isinstance(f, FileError):
                results[rel] = FileResult(seller_id, feed, rel, FileStatus.FAILED, message=str(f))
            elif latest.get(rel) == f.sha256:
                results[rel] = FileResult(seller_id, feed, rel, FileStatus.UNCHANGED)
                same_again.append(f)
            elif f.sha256 in seen:
                results[rel] = FileResult(
                    seller_id,
                    feed,
                    rel,
                    FileStatus.DUPLICATE,
                    message=f"same content as {seen[f.sha256]}, loaded before",
                )
            else:
                seen[f.sha256] = rel
                if batch and sum(b.content_size for b in batch) + f.content_size > BATCH_BYTES:
                    _load_batch(con, settings, seller_id, feed, batch, results)
                    batch = []
                batch.append(f)
        if batch:
            _load_batch(con, settings, seller_id, feed, batch, results)
    if same_again:
        _remember_stat(con, settings, seller_id, feed, same_again)
    for result in results.values():
        result.message = shown(result.message)  # it may quote a file name: printed, it forges no line
        if result.status is not FileStatus.UNCHANGED:  # the log names what happened today, not every old file
            log.info(
                "%s %s %s: %s %s",
                seller_id,
                feed,
                shown(result.file),
                result.status.value,
                result.message or f"{result.rows_loaded} loaded, {result.rows_rejected} rejected",
            )
    return [results[rel] for rel in sorted(results)]


def _remember_stat(
    con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str, feed: str, files: list[NewFile]
) -> None:
    """Files read again only to find the content they held: their manifest rows take their times and inode now, so
    that the next run skips them without reading them (the row of the path's latest load)."""
    con.register(
        "restat",
        pa.table(
            {
                "path": [f.rel for f in files],
                "size_bytes": pa.array([f.size for f in files], pa.int64()),
                "modified_ns": pa.array([f.modified_ns for f in files], pa.int64()),
                "changed_ns": pa.array([f.changed_ns for f in files], pa.int64()),
                "inode": pa.array([f.inode for f in files], pa.int64()),
            }
        ),
    )
    con.execute("create or replace temp table restat_files as from restat")
    con.unregister("restat")

    def update(c: duckdb.DuckDBPyConnection) -> None:
        c.execute(
            f"""update {LAKE}.raw.files as f
            set size_bytes = r.size_bytes, modified_ns = r.modified_ns, changed_ns = r.changed_ns, inode = r.inode
            from restat_files as r
            where f.seller_id = ? and f.feed = ? and f.path = r.path
                and f.file_id = (select max(file_id) from {LAKE}.raw.files as g
                                 where g.seller_id = f.seller_id and g.path = f.path)""",
            [seller_id, feed],
        )

    write(con, settings, update, what=f"remember {seller_id} {feed} files")


def _try_inspect(feed: str, path: Path, rel: str) -> NewFile | FileError:
    try:
        return inspect(feed, path, rel)
    except (FileError, OSError) as exc:  # OSError: gone or unreadable since it was listed
        return _failure(exc)


def _failure(exc: Exception) -> FileError:
    """Why a file failed, in one line."""
    if isinstance(exc, OSError):
        return FileError(f"could not be read ({exc.strerror or type(exc).__name__})")
    return exc if isinstance(exc, FileError) else FileError(f"could not be read: {str(exc).splitlines()[0]}")


def ingest_seller(con: duckdb.DuckDBPyConnection, settings: Settings, seller_id: str) -> list[FileResult]:
    """Load every new file of every feed of one seller (the caller holds the seller's lock). A seller name that
    is not a folder of the landing folder (a path, a link leading outside) is a SettingsError: nothing is read."""
    if seller_id_problem(seller_id) or refused(settings.landing / seller_id, settings.landing.resolve()):
        raise SettingsError(
            f"seller {shown(seller_id)!r} is not a folder inside the landing folder {settings.landing}: refused"
        )
    try:
        results = [
            FileResult(seller_id, "", rel, FileStatus.NOT_READ, message=why)
            for rel, why in not_read(settings, seller_id)
        ]
    except OSError as exc:  # its feed folders may still be reached: each says whether it can be
        results = [
            FileResult(
                seller_id, "", ".", FileStatus.FAILED, message=f"the seller's folder cannot be listed ({exc.strerror})"
            )
        ]
    return results + [r for feed in FEEDS for r in ingest_feed(con, settings, seller_id, feed)]
