"""A seller's files: found inside its landing folder only, and read as streams, so that memory stays flat whatever a
file (or a small archive expanding to gigabytes) holds. Inspection hashes the decompressed content, counts its
lines, tells its encoding and format and reads its header, in one pass; `iter_lines` yields its lines for a load
line by line, an overlong line as None (one rejected row, not a failed file)."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.ingest.errors import FileError
from pipeline.ingest.formats import header_of
from pipeline.settings import Settings

CHUNK = 1 << 20
MAX_LINE = 16 * 2**20  # characters; DuckDB's reader is given the same limit in bytes
MAX_HEADER = 1 << 20
BINARY_PROBE = 65536
BINARY_SHARE = 0.05  # of control bytes in the first 64 KiB: a text file may hold a few (rejected rows), not more
BLANK = re.compile(r"[\s,]*")  # whitespace and separators only: a spreadsheet's empty row, not a row
# C0 and C1 controls, Unicode's line and paragraph separators, and the bytes of a name that is not UTF-8
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
_CONTROL_BYTES = bytes([*range(9), 11, *range(14, 32), 127])  # not tab, line feed, form feed or carriage return


def shown(text: str) -> str:
    """A file name as it may be printed: control characters (and bytes that are not UTF-8) escaped, so a newline
    in a name forges no line."""
    return _CONTROL.sub(
        lambda m: f"\\u{ord(m.group()):04x}" if m.group() in "\u2028\u2029" else f"\\x{ord(m.group()) & 0xFF:02x}", text
    )


@dataclass
class NewFile:
    """A file not loaded before, read once: what the manifest records and how it is loaded."""

    path: Path
    rel: str
    size: int
    modified_ns: int
    sha256: str
    fmt: str  # tsv | csv | json
    header: list[str] | None
    lines: int  # physical lines, header included
    content_size: int  # bytes after decompression
    encoding: str  # utf-8 | utf-8-sig | utf-16 | cp1252
    direct: bool  # UTF-8 without a BOM or NUL bytes, plain or .gz: DuckDB's reader reads the file itself


def feed_files(settings: Settings, seller_id: str, feed: str) -> list[tuple[Path, str | None]]:
    """Every file in the feed folder in name order, with the reason it is refused (None: it may be read). A file
    whose real location is outside the seller's landing folder (a symbolic link) is refused; hidden and partial
    files are not files yet."""
    root = (settings.landing / seller_id).resolve()
    folder = settings.landing / seller_id / feed
    if not folder.is_dir():
        return []
    if refusal := refused(folder, root):
        return [(folder, refusal.replace("a symbolic link", "the feed folder is a link"))]
    found = []
    for path in sorted(folder.rglob("*"), key=str):  # the order of the names as strings, as the manifest sorts them
        if path.name.startswith(".") or path.name.endswith((".part", ".tmp")):
            continue
        if refusal := refused(path, root):
            found.append((path, refusal))
        elif path.is_file():
            found.append((path, None))
    return found


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


def _open(path: Path) -> tuple[BinaryIO, bool]:
    """The file's content as a stream, decompressed when it is gzip (and whether it was)."""
    handle = open(path, "rb")  # noqa: SIM115 - returned open: the caller closes the stream
    compressed = path.suffix.lower() == ".gz" or handle.read(2) == b"\x1f\x8b"
    handle.seek(0)
    return (gzip.GzipFile(fileobj=handle) if compressed else handle), compressed


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
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


def _encoding(head: bytes, valid: bool) -> str:
    """UTF-8; else UTF-16 with a BOM (a spreadsheet's "Unicode text") or Windows-1252 (some regions' reports).
    `valid`: the content decoded as UTF-16 (BOM) or UTF-8."""
    if _is_utf16(head):
        if not valid:
            raise FileError("not readable as the UTF-16 text its byte-order mark announces")
        return "utf-16"
    if valid:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    return "cp1252"


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
    stat = path.stat()
    stream, compressed = _open(path)
    digest, lines, size, head, checker, valid, nul = hashlib.sha256(), 0, 0, b"", None, True, False
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
            if valid:
                try:
                    checker.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
        last = chunk[-1:] if size else b""
    if size == 0:
        raise FileError("empty file: nothing to load")
    encoding = _encoding(head, valid)
    with contextlib.closing(iter_lines(path, encoding, skip_blank=False)) as first_lines:
        first = next(first_lines, (1, ""))[1]
    if first is None:
        raise FileError("the first line is longer than 1 MiB: not a header or a tracking object")
    fmt = _format(path, first)
    return NewFile(
        path=path,
        rel=rel,
        size=stat.st_size,
        modified_ns=stat.st_mtime_ns,
        sha256=digest.hexdigest(),
        fmt=fmt,
        header=header_of(feed, fmt, first),
        lines=lines + (last != b"\n"),
        content_size=size,
        encoding=encoding,
        # DuckDB's readers split JSON lines on NUL bytes: a file holding one is read line by line
        direct=encoding == "utf-8" and not nul and (not compressed or path.suffix.lower() == ".gz"),
    )


def iter_lines(
    path: Path, encoding: str, *, skip_blank: bool = True, max_line: int = MAX_LINE
) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each line, 1-based, CR LF or LF ends; a line over max_line characters is None."""
    stream, _ = _open(path)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    number, pending, overlong = 0, "", False
    limit = min(max_line, MAX_HEADER) if not skip_blank else max_line

    def emit(text: str) -> Iterator[tuple[int, str | None]]:
        nonlocal number, overlong
        number += 1
        if overlong:
            overlong = False
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
