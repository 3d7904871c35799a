"""Which process this is, and whether another one is still alive: the owner of a ``pending`` row.

:class:`Owner` is what a ledger row records of the process that wrote it (:func:`current_owner`);
:func:`is_alive` tells whether that process still runs. :mod:`.owner` decides from them, and from the
row's heartbeat, whether ``jobs resume`` must leave the row alone.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

__all__ = ["Owner", "current_owner", "is_alive", "process_started"]


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    started: str | None
    """``<boot id>:<start ticks>`` from /proc on Linux (tells a recycled pid apart); None elsewhere."""

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def current_owner() -> Owner:
    """This process (not cached: a forked worker is a different owner)."""
    pid = os.getpid()
    return Owner(pid, socket.gethostname(), process_started(pid))


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_started(pid: int) -> str | None:
    fields = _proc_stat(pid)
    if not fields or len(fields) < 20:
        return None
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            boot_id = boot.read().strip()
    except OSError:
        boot_id = "?"
    return f"{boot_id}:{fields[19]}"  # field 22 of stat: start time in clock ticks since boot


def is_alive(owner: Owner) -> bool | None:
    """True/False for a process on this host; None when it cannot be told (another host, Windows)."""
    if owner.host != socket.gethostname() or os.name == "nt":
        # On Windows os.kill(pid, 0) would not probe: it terminates the process.
        return None
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    fields = _proc_stat(owner.pid)
    if fields is not None and fields[0] == "Z":
        return False  # exited, not yet reaped by its parent
    if owner.started is not None:
        started = process_started(owner.pid)
        if started is not None and started != owner.started:
            return False  # the pid now belongs to another process
    return True
