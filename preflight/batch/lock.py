"""One batch at a time per output folder: ``OUTDIR/.preflight-batch.lock``, held with ``flock``.

Two runs into one ``-o`` folder would each fix every file (two outputs per input, ``clip.mp4`` and
``clip-1.mp4``) and interleave their resume state. The second run refuses at once (``batch.locked``,
exit 1, naming the other run's pid) rather than waiting: a batch can run for hours, a wait would look
like a hang, and once the first run is done ``--resume`` takes over its results without redoing them.

The kernel drops an ``flock`` when its holder dies, however it dies, so a run killed with ``kill -9``
never blocks the next one; the file it leaves is reused. The holder writes its pid, host and start
time into the file for the message. The descriptor is close-on-exec, so no worker process keeps the
lock alive after the batch is gone. Where ``flock`` is unavailable (no ``fcntl``, a network file system
without locks) the run goes on unlocked, with a note in the log.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ..errors import PreflightError
from ..outfiles import output_error

__all__ = ["LOCK_NAME", "OutputLock"]

log = logging.getLogger("preflight")

LOCK_NAME = ".preflight-batch.lock"
"""The lock file's name inside the output folder (hidden: a walk skips it)."""

_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


class OutputLock:
    """``with OutputLock(outdir):`` holds the folder's lock for the block; PreflightError if another run has it."""

    def __init__(self, folder: str | os.PathLike[str], named: str | None = None) -> None:
        self.folder = Path(folder)
        self.named = named or str(self.folder)  # what a refusal names: the folder, or the URL it stands for
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None
        self._created = False

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Create the folder if needed and take the lock, or raise ``batch.locked`` at once.

        A folder that cannot be written is ``output.not_writable`` (``output.no_space`` on a full
        disk), before any file is looked at.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            log.info("%s: no flock on this system: the output folder is not locked", self.folder)
            return
        try:
            self._created = not self.folder.is_dir()
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(exc, self.folder, creating=True) from exc
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            except OSError as exc:
                raise _unwritable(exc, self.folder) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise PreflightError(
                    f"{self.named}: another preflight batch is writing into this folder ({holder}); "
                    "wait for it to finish (then --resume keeps its results) or choose another -o folder",
                    "batch.locked",
                ) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in _UNSUPPORTED:
                    log.info("%s: locks are not supported here (%s): the folder is not locked", self.folder, exc)
                    return
                raise
            if _same_file(fd, self.path):
                self._fd = fd
                _write_holder(fd)
                return
            os.close(fd)  # the file was removed by the run releasing it, after we opened it: again
        raise PreflightError(f"{self.path}: could not take the batch lock", "batch.locked")

    def release(self) -> None:
        """Remove the lock file and let go (removed while still held, so no other run locks a name
        that is about to vanish); the folder too when the lock made it and nothing was written there.
        Safe to call more than once."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):  # a read-only folder now: the lock still goes with the descriptor
            self.path.unlink(missing_ok=True)
        if self._created:
            with contextlib.suppress(OSError):  # it holds outputs (or the state): kept
                self.folder.rmdir()
        os.close(fd)


def _unwritable(exc: OSError, folder: Path, creating: bool = False) -> PreflightError:
    mapped = output_error(exc, folder, creating=creating)
    if mapped is not None:
        return mapped
    return PreflightError(f"{folder}: cannot use this output folder: {exc.strerror or exc}", "fix.output")


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def _write_holder(fd: int) -> None:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    except OSError as exc:  # a full disk: the lock holds without the note
        log.debug("%s: lock holder not written: %s", fd, exc)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "its pid is not recorded yet"
    where = f" on {info['host']}" if info.get("host") and info.get("host") != socket.gethostname() else ""
    since = f", started {info['started']}" if info.get("started") else ""
    return f"pid {info['pid']}{where}{since}"
