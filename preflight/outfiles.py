"""How preflight writes the files it is asked for: fix's outputs, a bundle's manifest, batch's state.

- A file is written under a temporary name beside its target, private (0600) while it is written,
  then given the mode any new file gets under the umask (``0o666 & ~umask``: 0644 under umask 022)
  and moved into place. The temporary name is ``.<stem>.pf-<pid>-<host>-<random>.part<ext>``: the
  extension is kept (muxers and Pillow pick formats by it), the process and host say whose it is.
- Any error or interruption while writing (KeyboardInterrupt, SIGTERM once it is turned into one)
  removes the temporary file: the callers' ``finally`` clauses do it.
- A run killed outright (``kill -9``) cannot clean up. The next run into that folder removes the
  temporary files that match that name exactly, made on this host by a process that no longer exists
  (:func:`remove_stale_temps`); a live run's files and anything else are left alone.
- A full disk and a folder that cannot be written become one coded error naming the folder
  (:func:`output_error`): ``output.no_space`` (with what the file needed, when known, and what is
  free) and ``output.not_writable`` (read-only file system, no permission).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
import socket
import threading
from functools import cache
from pathlib import Path

from .errors import FixError

__all__ = ["NOT_WRITABLE", "NO_SPACE", "OUTPUT_CODES", "create_temp", "host_name", "is_temp_name", "new_file_mode",
           "output_error", "process_alive", "remove_stale_temps", "share", "temp_path"]  # fmt: skip

log = logging.getLogger("preflight")

NO_SPACE = "output.no_space"
NOT_WRITABLE = "output.not_writable"
OUTPUT_CODES = frozenset({NO_SPACE, NOT_WRITABLE})

_NO_SPACE_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_TEMP_NAME = re.compile(r"\..*\.pf-(?P<pid>[0-9]+)-(?P<host>[0-9a-z]*)-[0-9a-f]{6}\.part(\.[^.]*)?", re.DOTALL)
_STEM_CHARS = 96
"""Characters of the target's stem kept in a temporary name (a long name must not make it too long)."""
_umask_lock = threading.Lock()


@cache
def host_name() -> str:
    """This machine's name as temporary names carry it: lower-case letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", socket.gethostname().lower())[:24]


def temp_path(target: Path) -> Path:
    """A fresh temporary name beside ``target`` (see the module docstring); nothing is created."""
    stem = target.stem[:_STEM_CHARS]
    return target.with_name(f".{stem}.pf-{os.getpid()}-{host_name()}-{secrets.token_hex(3)}.part{target.suffix}")


def is_temp_name(name: str) -> bool:
    """True for a name :func:`temp_path` makes."""
    return _TEMP_NAME.fullmatch(name) is not None


def create_temp(target: Path) -> Path:
    """Create an empty private (0600) temporary file beside ``target`` and return its path."""
    for _ in range(100):
        tmp = temp_path(target)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target))


def umask() -> int:
    """The process's umask, read without changing it where the system tells (Linux), else briefly set
    to 077 and back (a file another thread creates meanwhile is private, never world-writable)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open()`` gives a new file now: ``0o666 & ~umask``."""
    return 0o666 & ~umask()


def share(path: Path) -> None:
    """Give a finished temporary file the mode of a new file (it was created private)."""
    try:
        os.chmod(path, new_file_mode())
    except OSError as exc:  # a file system without modes (FAT, some network shares): nothing to do
        log.debug("%s: mode not set: %s", path, exc)


def output_error(
    exc: BaseException, folder: Path, needed: int | None = None, *, creating: bool = False
) -> FixError | None:
    """The coded error for an OSError raised while writing into ``folder``; None for any other error.

    ``needed``: the bytes the file was expected to take, when known (said in the message).
    EACCES and EPERM count only when the error names a path in ``folder`` (reading an input can
    raise them too) or when ``creating`` (the call that failed was making ``folder``, which only
    writes); ENOSPC, EDQUOT and EROFS only ever come from writing.
    """
    code = getattr(exc, "errno", None)
    if not isinstance(exc, OSError) or code is None:
        return None
    if code in _NO_SPACE_ERRNOS:
        what = "disk quota exceeded" if code != errno.ENOSPC else "no space left on the device"
        return FixError(f"{folder}: {what}{_space(folder, needed)}", NO_SPACE)
    if code == errno.EROFS or (code in _NOT_WRITABLE_ERRNOS and (creating or _names_a_path_in(exc, folder))):
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        verb = "cannot create this folder" if creating else "cannot write in this folder"
        return FixError(f"{folder}: {verb} ({why})", NOT_WRITABLE)
    return None


def _names_a_path_in(exc: OSError, folder: Path) -> bool:
    here = _absolute(folder)
    for name in (exc.filename, exc.filename2):
        if name is None or isinstance(name, int):
            continue
        path = _absolute(Path(os.fsdecode(name)))
        if path == here or path.parent == here:
            return True
    return False


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _space(folder: Path, needed: int | None) -> str:
    free = None
    probe = _absolute(folder)
    while True:
        try:
            free = shutil.disk_usage(probe).free
            break
        except OSError:
            if probe.parent == probe:
                break
            probe = probe.parent
    parts = []
    if needed:
        parts.append(f"the file needs about {_size(needed)}")
    if free is not None:
        parts.append(f"{_size(free)} free")
    return f" ({'; '.join(parts)})" if parts else ""


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(n, 0) / 1000:.0f} kB"


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files a killed run left in ``folder`` (not below it); return them.

    Only names :func:`temp_path` makes, made on this host by a process that is gone: a run still
    writing (in this process, another process, on another host sharing the folder) keeps its files.
    """
    removed: list[Path] = []
    try:
        entries = os.scandir(folder)
    except OSError:
        return removed
    with entries:
        for entry in entries:
            found = _TEMP_NAME.fullmatch(entry.name)
            if found is None or found["host"] != host_name() or process_alive(int(found["pid"])):
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError as exc:
                log.debug("%s: not removed: %s", entry.path, exc)
    if removed:
        log.info("%s: removed %d temporary file(s) an interrupted run left", folder, len(removed))
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host may still run (a zombie does not; someone else's does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process, alive
        return True
    except (OverflowError, ValueError):  # no such pid can exist: not a name this code made
        return True
    try:  # a killed process its parent has not reaped yet (a zombie) writes nothing more
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[:1] != ["Z"]
    except OSError:
        return True
