"""Private temporary folders that name the process that made them, so a later start can remove the ones
a killed process left behind (a ``kill -9`` of ``preflight serve`` left hundreds of MB of uploads).

A folder's name is ``<prefix><pid>-<start>-<host>-<random>``: the owner's pid, its start time (clock ticks
since boot, from /proc; ``0`` where the system does not tell), and this machine's name. The owner is in
the name rather than in a file inside so the record exists the moment the folder does: a sweep never
meets a folder whose owner is not written yet. :func:`remove_orphaned_tempdirs` removes the folders of a
prefix whose owner is gone: made on this host by a pid that no longer runs, or that runs but started at
another time (a recycled pid). Left alone: a live owner's folder, another host's (a shared ``--workdir``),
another user's, a symbolic link, and any name it did not make (folders of older versions included).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .outfiles import host_name, process_alive

__all__ = ["make_owned_tempdir", "owned_tempdir", "remove_orphaned_tempdirs", "start_ticks"]

log = logging.getLogger("preflight")


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux); None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return int(fields[19])  # field 22 of stat; the fields after the command name start at field 3
    except (OSError, ValueError, IndexError):
        return None


def make_owned_tempdir(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new private (0700) folder in ``parent`` (default: the system's temporary folder) named after
    this process (see the module docstring)."""
    pid = os.getpid()
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{pid}-{start_ticks(pid) or 0}-{host_name()}-", dir=parent))
    os.chmod(folder, 0o700)
    return folder


@contextlib.contextmanager
def owned_tempdir(prefix: str, parent: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """:func:`make_owned_tempdir` for a ``with`` block, removed after it."""
    folder = make_owned_tempdir(prefix, parent)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_orphaned_tempdirs(prefix: str, parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the folders :func:`make_owned_tempdir` made with ``prefix`` in ``parent`` whose owner is gone."""
    where = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    pattern = re.compile(re.escape(prefix) + r"(?P<pid>[0-9]+)-(?P<start>[0-9]+)-(?P<host>[0-9a-z]*)-[0-9a-z_]+")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found is None or found["host"] != host_name() or not _mine(entry):
            continue
        if _owner_runs(int(found["pid"]), int(found["start"])):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    if removed:
        log.info("%s: removed %d folder(s) left by processes that are gone: %s", where, len(removed),
                 ", ".join(p.name for p in removed))  # fmt: skip
    return removed


def _mine(entry: os.DirEntry[str]) -> bool:
    """A real folder (not a link to one) this user owns."""
    try:
        if not entry.is_dir(follow_symlinks=False):
            return False
        return not hasattr(os, "getuid") or entry.stat(follow_symlinks=False).st_uid == os.getuid()
    except OSError:
        return False


def _owner_runs(pid: int, start: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would not probe there: it terminates the process
        return True
    if not process_alive(pid):
        return False
    now = start_ticks(pid)
    return not (start and now is not None and now != start)  # the pid was recycled by another process
