"""A seller's files: found inside its landing folder only, and read as streams, so that memory stays flat whatever a
file (or a small archive expanding to gigabytes) holds. Inspection hashes the decompressed content, counts its
lines, tells its encoding and format and reads its header, in one pass; `iter_lines` yields its lines for a load
line by line, an overlong line as None (one rejected row, not a failed file), and `records` joins a CSV's lines
into records where a quoted field holds a line break (RFC 4180).

Nothing in the landing folder is ignored silently (spec section 7): a feed folder that cannot be listed is a failed
file, a file still being written is left for the next run, and what is neither a seller's folder nor a feed folder
is named as not read. Only names that mark an unfinished copy or a system's own file are passed over."""

from __future__ import annotations

import codecs
import collections
import contextlib
import gzip
import hashlib
import os
import re
import stat
import time
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path

from pipeline.contract import FEEDS
from pipeline.ingest.errors import FileError
from pipeline.ingest.formats import header_of
from pipeline.settings import Settings, seller_id_problem

CHUNK = 1 << 20
MAX_LINE = 16 * 2**20  # characters; DuckDB's reader is given the same limit in bytes
MAX_HEADER = 1 << 20
BINARY_PROBE = 65536
BINARY_SHARE = 0.05  # of control bytes in the first 64 KiB: a text file may hold a few (rejected rows), not more
BLANK = re.compile(r"[\s,]*")  # whitespace and separators only: a spreadsheet's empty row, not a row
# C0 and C1 controls, Unicode's line and paragraph separators, and the bytes of a name that is not UTF-8
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
_CONTROL_BYTES = bytes([*range(9), 11, *range(14, 32), 127])  # not tab, line feed, form feed or carriage return
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, decoded with surrogateescape
_MULTIBYTE = re.compile("[^\x00-\x7f\udc80-\udcff]")  # a character UTF-8 writes in several bytes (not one read
# as a byte that is not UTF-8)
# names of a copy still being made, and hidden names; a system's own files (case does not matter on their systems)
_UNFINISHED = re.compile(r"(?:\.|~\$).*|.*\.(?:part|tmp|crdownload)", re.IGNORECASE | re.DOTALL)
_JUNK = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})
# a CSV line that ends inside a quoted field (RFC 4180: quotes in it are doubled): the record goes on on the next line
_OPEN_QUOTE = re.compile(r'(?:(?:"(?:[^"]|"")*"|[^,"]*),)*"(?:[^"]|"")*', re.DOTALL)
QUOTED_LINES = 1000  # a quote still open after this many lines is a stray one, not a field


def shown(text: str) -> str:
    """A file name as it may be printed: control characters (and bytes that are not UTF-8) escaped, so a newline
    in a name forges no line."""
    return _CONTROL.sub(
        lambda m: f"\\u{ord(m.group()):04x}" if m.group() in "\u2028\u2029" else f"\\x{ord(m.group()) & 0xFF:02x}", text
    )


def never_read(name: str) -> bool:
    """A name marking an unfinished copy (`*.part`, `*.tmp`, `*.crdownload`, `~$*`, a dot-name) or a system's own
    file (`Thumbs.db`, `desktop.ini`, `.DS_Store`): never read, never a feed's delivery."""
    return name.lower() in _JUNK or bool(_UNFINISHED.fullmatch(name))


@dataclass
class Found:
    """What a feed folder holds, as listed: a file to read, or one refused (a link leading outside, a folder that
    cannot be listed: a failed file), or one still being written (settling: left for the next run)."""

    path: Path
    refusal: str | None = None
    settling: bool = False


@dataclass
class NewFile:
    """A file not loaded before, read once: what the manifest records and how it is loaded."""

    path: Path
    rel: str
    size: int
    modified_ns: int
    changed_ns: int  # the inode's change time: `touch -r` restores a modification time, never this
    inode: int
    sha256: str
    fmt: str  # tsv | csv | json
    header: list[str] | None
    lines: int  # physical lines, header included
    content_size: int  # bytes after decompression
    encoding: str  # utf-8 | utf-8-sig | utf-16 | cp1252
    invalid_lines: bool  # UTF-8 with lines that are not: each such line is a rejected row
    direct: bool  # UTF-8 without a BOM or NUL bytes, plain or .gz: DuckDB's reader reads the file itself


def feed_files(settings: Settings, seller_id: str, feed: str) -> list[Found]:
    """Every file in the feed folder (and its sub-folders) in name order. A file whose real location is outside the
    seller's landing folder (a symbolic link) is refused, and so is a folder that cannot be listed; a file written
    less than settle_seconds ago (its modification or change time, whichever is later) is settling."""
    root = (settings.landing / seller_id).resolve()
    folder = settings.landing / seller_id / feed
    try:
        if not stat.S_ISDIR(folder.stat().st_mode):
            return []
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:  # the seller's folder cannot be entered
        return [Found(folder, f"the feed folder cannot be reached ({exc.strerror})")]
    if refusal := refused(folder, root):
        return [Found(folder, refusal.replace("a symbolic link", "the feed folder is a link"))]
    errors: list[OSError] = []
    found = [Found(path, refused(path, root)) for path in _walk(folder, errors)]
    found += [Found(Path(e.filename), f"the folder cannot be listed ({e.strerror})") for e in errors]
    now = time.time()
    for f in found if settings.settle_seconds else []:
        with contextlib.suppress(OSError):  # gone or unreadable since it was listed: inspecting it says so
            written = f.path.stat()
            # the change time is the system's own; a modification time set ahead of it (touch -d) tells nothing
            last = max(written.st_ctime, written.st_mtime if written.st_mtime <= now else 0)
            f.settling = f.refusal is None and last > now - settings.settle_seconds
    # the order of the names as strings, as the manifest sorts them; a link to a folder inside is not followed
    return sorted((f for f in found if f.refusal or f.path.is_file()), key=lambda f: str(f.path))


def _walk(folder: Path, errors: list[OSError]) -> Iterator[Path]:
    """The files under a folder, and its links to folders (never followed: refused() judges them), passing over
    the names never read; a folder that cannot be listed is added to `errors`."""
    for top, folders, files in os.walk(folder, onerror=errors.append):
        folders[:] = [d for d in folders if not never_read(d)]
        for name in folders:
            if (Path(top) / name).is_symlink():
                yield Path(top) / name
        yield from (Path(top) / name for name in files if not never_read(name))


def not_read(settings: Settings, seller_id: str) -> list[tuple[str, str]]:
    """What a seller's folder holds besides its feed folders, each (name, why it is not read): a folder that is not
    a feed (one in another case included) or a file directly in the seller's folder. OSError when the folder cannot
    be listed."""
    with os.scandir(settings.landing / seller_id) as entries:
        names = sorted((e.name, e.is_dir()) for e in entries if e.name not in FEEDS and not never_read(e.name))
    feeds = ", ".join(FEEDS)
    return [
        (f"{name}/", f"not a feed folder (the feeds: {feeds}, in lower case)")
        if folder
        else (name, "a file directly in the seller's folder: put it in its feed's folder")
        for name, folder in names
    ]


def landing_not_read(settings: Settings) -> list[str]:
    """Entries of the landing folder that are not sellers' folders, each with the rule it breaks."""
    lines = []
    with os.scandir(settings.landing) as entries:
        for e in sorted(entries, key=lambda e: e.name):
            if e.is_symlink() and e.is_dir():
                lines.append(f"{shown(e.name)}/: a link; a seller's folder must be a folder of the landing folder")
            elif e.is_dir(follow_symlinks=False):
                if problem := seller_id_problem(e.name):
                    lines.append(f"{shown(e.name)}/: not a seller id: {problem}")
            elif not never_read(e.name):
                lines.append(f"{shown(e.name)}: a file directly in the landing folder (landing/<seller>/<feed>/)")
    return lines


def refused(path: Path, root: Path) -> str | None:
    """Why a path found in a feed folder is not read (None: it may be)."""
    try:
        inside = path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of symbolic links
        return "refused: a symbolic link that leads nowhere (a loop)"
    if not inside:
        return "refused: a symbolic link leading outside the landing folder"
    try:
        str(path).encode()
    except UnicodeEncodeError:
        return "refused: the name is not UTF-8 text; rename the file"
    return None


def _open(path: Path) -> tuple[BufferedIOBase, bool]:
    """The file's content as a stream, decompressed when it is gzip (and whether it was)."""
    handle = open(path, "rb")  # noqa: SIM115 - returned open: the caller closes the stream
    compressed = path.suffix.lower() == ".gz" or handle.read(2) == b"\x1f\x8b"
    handle.seek(0)
    return (gzip.GzipFile(fileobj=handle) if compressed else handle), compressed


def _chunks(stream: BufferedIOBase) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise FileError(f"not a readable gzip archive ({exc})") from None


def _is_utf16(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def _check_text(head: bytes) -> None:
    """Many control bytes near the start mean not text (an image, an archive, zeros); a few are values of rows
    that will be rejected. UTF-16 text is half NUL bytes: its byte-order mark says so."""
    if not _is_utf16(head) and len(head.translate(None, delete=_CONTROL_BYTES)) < len(head) * (1 - BINARY_SHARE):
        raise FileError("binary content, not a text file")


def _encoding(head: bytes, undecoded: bool, multibyte: bool) -> tuple[str, bool]:
    """(encoding, whether some lines are not in it): UTF-8 (its lines that are not UTF-8 rejected, when others hold
    UTF-8's multi-byte characters); else UTF-16 with a BOM (a spreadsheet's "Unicode text") or Windows-1252 (some
    regions' reports: bytes above 0x7F, never one UTF-8 character). `undecoded`: bytes the encoding cannot read."""
    if _is_utf16(head):
        if undecoded:
            raise FileError("not readable as the UTF-16 text its byte-order mark announces")
        return "utf-16", False
    if undecoded and not multibyte:
        return "cp1252", False
    return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), undecoded


def _format(path: Path, first_line: str) -> str:
    suffix = Path(path.name.lower().removesuffix(".gz")).suffix
    formats = {".txt": "tsv", ".tsv": "tsv", ".csv": "csv", ".jsonl": "json", ".json": "json", ".ndjson": "json"}
    if suffix in formats:
        return formats[suffix]
    if first_line.lstrip()[:1] in ("{", "["):
        return "json"
    return "tsv" if "\t" in first_line else "csv"


def inspect(feed: str, path: Path, rel: str) -> NewFile:
    """Hash, count and classify a file in one streaming pass; a file that is not what it claims is a FileError."""
    written = path.stat()
    stream, compressed = _open(path)
    digest, lines, size, head, checker, nul = hashlib.sha256(), 0, 0, b"", None, False
    lenient = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    undecoded = multibyte = False
    with stream:
        for chunk in _chunks(stream):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            size += len(chunk)
            nul = nul or b"\x00" in chunk
            if checker is None:  # the first chunk: a binary file fails before the rest is decompressed
                head = chunk[:BINARY_PROBE]
                _check_text(head)
                checker = codecs.getincrementaldecoder("utf-16" if _is_utf16(head) else "utf-8")()
            if not undecoded:  # C's strict decoder, as long as it reads: a file's usual path
                try:
                    checker.decode(chunk)
                    multibyte = multibyte or not chunk.isascii()  # it decoded: its bytes above 0x7F are UTF-8's
                    continue
                except UnicodeDecodeError:
                    undecoded = True
            if not multibyte:  # bytes that are not UTF-8: does any other character of the file look like UTF-8?
                multibyte = bool(_MULTIBYTE.search(lenient.decode(chunk)))
        last = chunk[-1:] if size else b""
    if size == 0:
        raise FileError("empty file: nothing to load")
    if not undecoded and checker is not None:  # a file of any size has its checker
        try:
            checker.decode(b"", final=True)
        except UnicodeDecodeError:  # a character cut off at the end
            undecoded = True
    encoding, invalid_lines = _encoding(head, undecoded, multibyte)
    invalid: set[int] = set()
    lines_read = iter_lines(path, encoding, skip_blank=False, invalid=invalid if invalid_lines else None)
    with contextlib.closing(lines_read) as first_lines:
        first = next(first_lines, (1, ""))[1]
    if invalid:
        raise FileError("the first line is not UTF-8 text (the file's other lines are): not a header")
    if first is None:
        raise FileError("the first line is longer than 1 MiB: not a header or a tracking object")
    fmt = _format(path, first)
    return NewFile(
        path=path,
        rel=rel,
        size=written.st_size,
        modified_ns=written.st_mtime_ns,
        changed_ns=written.st_ctime_ns,
        inode=written.st_ino,
        sha256=digest.hexdigest(),
        fmt=fmt,
        header=header_of(feed, fmt, first),
        lines=lines + (last != b"\n"),
        content_size=size,
        encoding=encoding,
        invalid_lines=invalid_lines,
        # DuckDB's readers split JSON lines on NUL bytes: a file holding one is read line by line
        direct=encoding == "utf-8"
        and not invalid_lines
        and not nul
        and (not compressed or path.suffix.lower() == ".gz"),
    )


def iter_lines(
    path: Path, encoding: str, *, skip_blank: bool = True, max_line: int = MAX_LINE, invalid: set[int] | None = None
) -> Generator[tuple[int, str | None]]:
    """(line number, text) of each line, 1-based, CR LF or LF ends; a line over max_line characters is None. With
    `invalid` given, a line that is not in the encoding is None too, its number added to `invalid`; else its bytes
    that are not are read as U+FFFD."""
    stream, _ = _open(path)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace" if invalid is None else "surrogateescape")
    number, pending, overlong = 0, "", False
    limit = min(max_line, MAX_HEADER) if not skip_blank else max_line

    def emit(text: str) -> Iterator[tuple[int, str | None]]:
        nonlocal number, overlong
        number += 1
        if overlong:
            overlong = False
            yield number, None
        elif invalid is not None and _UNDECODED.search(text):
            invalid.add(number)
            yield number, None
        elif not (skip_blank and BLANK.fullmatch(text)):
            yield number, text.removesuffix("\r")

    with stream:
        for chunk in _chunks(stream):
            parts = (pending + decoder.decode(chunk)).split("\n")
            pending = parts.pop()
            for part in parts:
                yield from emit(part)
            if len(pending) > limit:  # keep counting, drop the text: memory stays bounded by the limit
                overlong, pending = True, ""
        pending += decoder.decode(b"", final=True)
        if pending or overlong:
            yield from emit(pending)


def records(lines: Iterable[tuple[int, str | None]]) -> Iterator[tuple[int, str | None]]:
    """A CSV's records (RFC 4180) from its lines: a quoted field may hold line breaks, so a record may span lines; it
    keeps the number of its first line, and the lines after it keep theirs. A quote still open after QUOTED_LINES
    lines or MAX_LINE characters (or at the end) is a stray one: its line is a record alone and the lines after it
    are read again."""
    source = iter(lines)
    again: collections.deque[tuple[int, str | None]] = collections.deque()

    def take() -> tuple[int, str | None] | None:
        return again.popleft() if again else next(source, None)

    while (first := take()) is not None:
        number, text = first
        if text is None or '"' not in text or not _OPEN_QUOTE.fullmatch(text):
            yield first
            continue
        taken: list[tuple[int, str | None]] = []
        last, closed = number, False
        while not closed and len(taken) < QUOTED_LINES and (more := take()) is not None:
            if more[1] is None or len(text) + len(more[1]) > MAX_LINE:  # bounded like a line: memory stays flat
                again.appendleft(more)
                break
            taken.append(more)
            text += "\n" * (more[0] - last) + more[1]  # blank lines a load skips are line breaks of the field
            last = more[0]
            # inside quotes, an even number of quotes leaves the field open (each "" is one quote): no need to look
            closed = more[1].count('"') % 2 == 1 and not _OPEN_QUOTE.fullmatch(text)
        if closed:
            yield number, text
        else:
            again.extendleft(reversed(taken))
            yield first
