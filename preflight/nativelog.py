"""Keep native libraries' log lines off the user's terminal.

MediaPipe, LiteRT/TFLite and glog write straight to file descriptor 2 from C++ (``INFO: [accelerator_
registry.cc:43] DestroyAccelerator ...`` each time a model closes, ``W0000 ... landmark_projection_
calculator.cc:81] Using NORM_RECT without IMAGE_DIMENSIONS`` at a first inference), from any thread and
even during interpreter teardown, where Python's logging cannot filter them. Swapping fd 2 for
/dev/null around each call (what :func:`preflight.analyze.people.quiet_native_logs` does for library
users) misses the lines printed at close and at exit, and silences other threads meanwhile.

:func:`filter_native_logs` instead puts a pipe on fd 2 for the life of the process: a thread drops the
lines that have a native logger's shape and passes every other byte on to the real stderr. Python's
own ``sys.stderr`` is pointed straight at the real stderr, so tracebacks, progress bars (which ask
``isatty()``) and the CLI's error line never wait on the thread. Child processes (batch workers, the
fork server, Dask workers) inherit the pipe as their fd 2; a batch worker puts a filter of its own on
top (:func:`filter_in_worker`), because C++ loggers write a line in pieces ("INFO: " then the rest)
and two processes writing into one pipe interleave those pieces into lines no pattern recognises.
``PREFLIGHT_DEBUG=1`` leaves stderr alone.

Python's own noise is kept off too: library warnings (Pillow's ``UserWarning`` on a damaged EXIF block,
``DecompressionBombWarning``...) become debug lines of the ``preflight`` logger
(:func:`route_python_warnings`), and every log line goes out escaped as the reports escape names
(:class:`PrintableFormatter`), so a file name holding ESC or a newline cannot reach the terminal raw.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from typing import Any

from .errors import printable

__all__ = ["NATIVE_LINE", "PrintableFormatter", "add_log_handler", "filter_in_worker", "filter_native_logs",
           "is_filtering", "route_python_warnings"]  # fmt: skip

NATIVE_LINE = re.compile(
    rb"^(?:"
    rb"[IWEF]\d{4} [\d:.]+\s+\d+ [\w./+-]+:\d+\]"  # glog/absl: W0000 00:00:17... 123 file.cc:81]
    rb"|.*\[[\w./+-]+\.(?:cc|cpp|c|h):\d+\]"  # LiteRT/TFLite: INFO: [model_load.cc:402] ..., anywhere
    rb"|INFO: Created TensorFlow Lite"  # TFLite's delegate notice
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|WARNING: Logging before InitGoogle\(\)"
    rb"|\[[\w.-]+ @ 0x[0-9a-f]+\]"  # FFmpeg's av_log: [h264 @ 0x55d0...] error while decoding MB
    rb")"
)
"""A line written by a native logger, never by preflight (whose own lines start ``preflight:``)."""

_state: dict[str, object] = {}
_lock = threading.Lock()


_MARK = "_PREFLIGHT_STDERR_PIPE"
"""Set to the filter pipe's identity for child processes, which inherit it as their fd 2."""


def is_filtering() -> bool:
    """True when this process's fd 2 goes through the filter (set up here or inherited)."""
    return _installed_here() or _inherited()


def _installed_here() -> bool:
    return _state.get("pid") == os.getpid()


def _inherited() -> bool:
    return os.environ.get(_MARK) == _fd2_identity()


def filter_in_worker() -> bool:
    """In a worker process whose fd 2 is its parent's filter pipe: a filter of its own on top, so only
    whole lines reach the parent (see the module docstring). Elsewhere nothing changes."""
    return filter_native_logs() if _inherited() and not _installed_here() else False


def _fd2_identity() -> str | None:
    try:
        st = os.fstat(2)
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}"


def filter_native_logs() -> bool:
    """Filter native log lines out of fd 2 from now on (idempotent); False when it could not or
    should not (``PREFLIGHT_DEBUG=1``, no fd 2). On a parent's filter pipe it stacks: this process's
    lines reach the parent whole."""
    if os.environ.get("PREFLIGHT_DEBUG") == "1":
        return False
    with _lock:
        if _installed_here():
            return True
        try:
            real = os.dup(2)
            read_end, write_end = os.pipe()
        except OSError:
            return False
        _flush_python_stderr()
        os.dup2(write_end, 2)
        os.close(write_end)
        _point_python_stderr_at(real)
        pump = threading.Thread(target=_pump, args=(read_end, real), name="preflight-stderr", daemon=True)
        pump.start()
        _state.update(pid=os.getpid(), real=real, pump=pump)
        # Children (pool workers, Dask) inherit the filtered fd 2: they must not stack a second filter
        # on it (a child whose fd 2 was redirected elsewhere sees another identity and filters its own).
        identity = _fd2_identity()
        if identity:
            os.environ[_MARK] = identity
        atexit.register(_drain)
        return True


def _pump(read_end: int, real: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_end, 65536)
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not NATIVE_LINE.match(line))
        if kept:
            _write_all(real, kept)
    if pending and not NATIVE_LINE.match(pending):
        _write_all(real, pending)
    os.close(read_end)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except OSError:  # the real stderr is gone (closed terminal): nothing more to show
            return


def _flush_python_stderr() -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()


def _point_python_stderr_at(fd: int) -> None:
    """Python's writes skip the pipe: nothing of ours waits on the thread or is lost at exit."""
    current = sys.stderr
    if current is None or getattr(current, "fileno", None) is None:
        return
    try:
        if current.fileno() != 2:
            return  # already redirected by the embedding program (pytest, a notebook): leave it
    except (OSError, ValueError):
        return
    sys.stderr = os.fdopen(os.dup(fd), "w", buffering=1, encoding=current.encoding, errors=current.errors)


def _drain() -> None:
    """At exit (after MediaPipe's close-at-exit callbacks, which print): let the last lines through."""
    if _state.get("pid") != os.getpid():
        return
    _flush_python_stderr()
    real = _state["real"]
    try:
        os.dup2(real, 2)  # type: ignore[arg-type]  # closes our write end of the pipe: the pump sees EOF
    except OSError:
        return
    pump = _state["pump"]
    # Children still holding the pipe keep it open: wait a moment, never hang the exit on them.
    pump.join(timeout=0.5)  # type: ignore[attr-defined]


# --- Python's side: log lines and warnings ------------------------------------------------------


class PrintableFormatter(logging.Formatter):
    """``preflight: LEVEL: message`` with the message escaped as the reports escape names
    (:func:`~preflight.errors.printable`): a file name holding ESC or a newline reaches the terminal
    spelt out, on one line. A traceback (``--debug``) keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's name for it
        record.message = printable(record.message)
        return super().formatMessage(record)


LOG_FORMAT = "preflight: %(levelname)s: %(message)s"


def add_log_handler(logger: logging.Logger) -> None:
    """Give ``logger`` (the ``preflight`` one) a stderr handler with :class:`PrintableFormatter`, once."""
    if not any(getattr(h, "_preflight", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(PrintableFormatter(LOG_FORMAT))
        handler._preflight = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def route_python_warnings() -> bool:
    """From now on a Python warning (any library's) is a debug line of the ``preflight`` logger, not
    two lines on stderr (``PIL/TiffImagePlugin.py:946: UserWarning: Tag data larger than file...``):
    the user cannot act on them, and what matters (a decompression bomb) has a finding of its own.
    ``PREFLIGHT_DEBUG=1`` leaves Python's default; False then."""
    if os.environ.get("PREFLIGHT_DEBUG") == "1":
        return False
    warnings.showwarning = _warning_to_debug_log
    return True


def _warning_to_debug_log(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                          file: Any = None, line: str | None = None) -> None:  # fmt: skip
    where = f"{os.path.basename(filename)}:{lineno}"
    logging.getLogger("preflight").debug("%s (%s, %s)", message, category.__name__, where)
