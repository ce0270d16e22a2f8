"""Work with a hard deadline: `call(fn, *args, seconds=...)` runs fn in a forked child of this process and kills it
(SIGKILL) when the deadline passes, whatever it is doing: blocked in C code, waiting on a socket that trickles, or
stopped (SIGSTOP). A signal handler inside the process (Airflow's execution_timeout is a SIGALRM) ends none of those.

The child is a fork, not a new interpreter: it starts with every module this process imported, so it costs a few
milliseconds, not seconds of imports. Its log records come back to this process's handlers (the task log, pytest's
caplog), its return value and its exception come back through a pipe, it runs the exit handlers it registered itself
(never this process's), and it dies with this process (a parent killed mid-wait leaves no orphan working on). The
child may send progress marks with `mark()` (an alert's "bytes went out").
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import pickle
import select
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG, _PR_SET_NAME = 1, 15
_HEADER = struct.Struct("!I")
Args = TypeVarTuple("Args")
Result = TypeVar("Result")
_pipe: int | None = None  # in a child: the write end of its pipe to the parent


class DeadlineExceeded(Exception):
    """The work did not finish in time and was killed; the message is one line naming it and the deadline."""

    def __init__(self, what: str, seconds: float):
        super().__init__(f"{what}: not finished within {_duration(seconds)}; stopped")


class ChildDied(Exception):
    """The child ended without an answer (killed from outside, out of memory)."""


def _send(message: tuple[Any, ...]) -> None:
    assert _pipe is not None, "_send runs in a child of call only"
    try:
        data = pickle.dumps(message)
    except Exception:  # noqa: BLE001 - an unpicklable value or exception: its text still crosses
        data = pickle.dumps((message[0], RuntimeError(repr(message[1])[:2000])) + message[2:])
    frame = _HEADER.pack(len(data)) + data
    while frame:
        frame = frame[os.write(_pipe, frame) :]


def mark(value: object) -> None:
    """In a child of `call`: tell the parent `value` now (its `on_mark` gets it); elsewhere nothing."""
    if _pipe is not None:
        _send(("mark", value))


class _Forward(logging.Handler):
    """The child's only log handler: each record goes to the parent, which hands it to its own handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = dict(record.__dict__, msg=record.getMessage(), args=None, exc_info=None)
        if record.exc_info:
            fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
        try:
            pickle.dumps(fields)
        except Exception:  # noqa: BLE001 - an extra attribute that does not pickle: keep the plain fields
            plain = ("name", "levelno", "levelname", "msg", "created", "pathname", "lineno", "funcName", "exc_text")
            fields = {k: fields.get(k) for k in plain}
        with contextlib.suppress(OSError):
            _send(("log", fields))


def _prctl(option: int, value: object) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _child(fn: Callable[[*Args], object], args: tuple[*Args], name: str, parent: int) -> None:
    """In the child: die with the parent, answer once, never return into the parent's code. It runs the exit
    handlers it registered itself (a DuckDB spill folder's removal), never the parent's."""
    global _pipe
    atexit._clear()  # the parent's exit handlers are the parent's to run
    try:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)
        _prctl(_PR_SET_NAME, name.encode()[:15])  # `ps -o comm` and /proc/<pid>/comm show what the child does
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(sig, signal.SIG_DFL)  # the parent's handlers (Airflow's) are not this process's
        root = logging.getLogger()
        root.handlers[:] = [_Forward()]
        answer: tuple[Any, ...]
        try:
            answer = ("result", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - every failure is the parent's to raise
            answer = ("error", exc, "".join(traceback.format_exception(exc)))
        with contextlib.suppress(BaseException):  # before answering: the parent kills the child once answered
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        _send(answer)
    finally:
        os._exit(0)  # not back into the parent's code, whatever happened


def call(
    fn: Callable[[*Args], Result],
    *args: *Args,
    seconds: float | None,
    name: str,
    what: str = "",
    on_mark: Callable[[object], None] | None = None,
) -> Result:
    """fn(*args) in a forked child (named `name`, up to 15 characters, in `ps`), killed after `seconds` (None: no
    deadline). Returns its value or raises its exception (with its traceback as a note); raises DeadlineExceeded when
    killed at the deadline, ChildDied when it ended without answering. `what` names the work in those messages."""
    global _pipe
    read, write = os.pipe()
    parent = os.getpid()
    sys.stdout.flush()  # else the child would write what this process had buffered a second time
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _pipe = write
        _child(fn, args, name, parent)
    os.close(write)
    deadline = None if seconds is None else time.monotonic() + seconds
    buffer, answer = b"", None
    try:
        while answer is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise DeadlineExceeded(what or name, seconds or 0)  # a deadline: seconds is not None
            ready, _, _ = select.select([read], [], [], left)
            if not ready:
                continue
            chunk = os.read(read, 1 << 16)
            if not chunk:
                break  # the child ended
            buffer += chunk
            while len(buffer) >= _HEADER.size and len(buffer) >= _HEADER.size + _HEADER.unpack_from(buffer)[0]:
                size = _HEADER.unpack_from(buffer)[0]
                message = pickle.loads(buffer[_HEADER.size : _HEADER.size + size])
                buffer = buffer[_HEADER.size + size :]
                if message[0] == "log":
                    record = logging.makeLogRecord(message[1])
                    logging.getLogger(record.name).handle(record)
                elif message[0] == "mark":
                    if on_mark:
                        on_mark(message[1])
                else:
                    answer = message
    finally:
        os.close(read)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # at the deadline, on any error here (Airflow's SIGTERM), or done anyway
        _, status = os.waitpid(pid, 0)
    if answer is None:
        ended = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}"
        raise ChildDied(f"{what or name}: its process ended ({ended}) without an answer")
    if answer[0] == "error":
        exc = answer[1]
        exc.add_note(f"in the child process of {what or name}:\n{answer[2]}")
        raise exc
    result: Result = answer[1]
    return result


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} s"
