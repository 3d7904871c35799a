"""Process trees from /proc (Linux), for the tests that ``kill -9`` a batch or a server and assert that
nothing of it is left running: its pool workers, the fork server, the resource tracker."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from preflight.outfiles import process_alive


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, theirs...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    parent = int(fh.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


def kill_9_and_assert_nothing_left(root: subprocess.Popen, *, workers: int, within: float = 5.0) -> None:
    """Wait until ``root`` runs its pool (fork server, resource tracker, ``workers`` workers), SIGKILL it
    and assert that every process of its tree is gone within ``within`` seconds."""
    deadline = time.monotonic() + 60
    while True:
        tree = descendants(root.pid)
        commands = [command(p) for p in tree]
        pool = sum("multiprocessing.forkserver" in c for c in commands)  # the fork server and its children
        if pool >= 1 + workers and any("resource_tracker" in c for c in commands):
            break
        assert time.monotonic() < deadline, f"the pool did not start: {commands}"
        time.sleep(0.1)
    root.kill()
    root.wait()
    deadline = time.monotonic() + within
    while (left := [p for p in tree if process_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running after kill -9 of the owner: {[command(p) for p in left]}"
