"""Fault injection for the worker-pool tests: per-file and per-job functions that hold a marked input long
enough for a test to kill the worker running it, and tell the test which worker that is.

Pool workers import this module by name (the tests folder is on the ``sys.path`` they are started
with), so it is a module of its own rather than part of a test file.

Markers are appended to, one pid per line: a file run twice (re-run after a break) has two lines.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

HOLD_SECONDS = 60.0
"""How long a held input is held: far longer than a test waits, so only a kill ends it early."""
SLOW_SECONDS = 3.0
"""How long a slow input takes more than usual: long enough to be running when another worker dies."""


def marker_of(path: str | os.PathLike[str]) -> Path:
    """Where the worker on ``path`` notes its pid (hidden, beside the input: a walk skips it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.pid")


def note_pid(marker: Path) -> None:
    with open(marker, "a", encoding="ascii") as fh:  # one short append: never seen half-written
        fh.write(f"{os.getpid()}\n")


def pids_in(marker: Path) -> list[int]:
    try:
        return [int(line) for line in marker.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def wait_for_pid(marker: Path, timeout: float = 60.0) -> int:
    """The first pid noted in ``marker``, once there is one."""
    deadline = time.monotonic() + timeout
    while not pids_in(marker):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no worker noted its pid in {marker} within {timeout:g} s")
        time.sleep(0.02)
    return pids_in(marker)[0]


def process_file_holding(path: str, settings: Any, subdir: str = "") -> Any:
    """:func:`preflight.batch.work.process_file`, except that a file named ``*hold*`` is held until its
    worker is killed and one named ``*slow*`` takes :data:`SLOW_SECONDS` longer (both note their pid)."""
    from preflight.batch.work import process_file

    name = Path(path).name
    if "hold" in name or "slow" in name:
        note_pid(marker_of(path))
        time.sleep(HOLD_SECONDS if "hold" in name else SLOW_SECONDS)
    return process_file(path, settings, subdir)


def run_check_holding(files: list[tuple[str, str, str]], *args: Any) -> dict[str, Any]:
    """``preflight serve``'s check job (:func:`preflight.serve.work.run_check`), except that an upload whose
    name holds ``hold`` is held (pid noted in ``worker.pid`` in the job's folder, the last argument) until
    its worker is killed; with ``stubborn`` in the name too the worker also blocks SIGTERM, as a worker deep
    in native code does not run a Python signal handler."""
    from preflight.serve.work import run_check

    labels = " ".join(label for _, _, label in files)
    if "hold" in labels:
        if "stubborn" in labels:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        note_pid(Path(args[-1]) / "worker.pid")
        time.sleep(HOLD_SECONDS)
    return run_check(files, *args)


# ---- plain tasks for the pool itself ----------------------------------------------------------------


def sigterm_myself(marker: str) -> None:
    """Note the pid, then end this worker with SIGTERM (as a stranger's ``kill`` would): nothing tells
    the pool which worker started the break."""
    note_pid(Path(marker))
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(HOLD_SECONDS)


def hold_and_note_unwinding(marker: str, unwound: str) -> None:
    """Hold; when stopped, the ``finally`` writes ``unwound`` (as fix's temporary files are removed)."""
    try:
        note_pid(Path(marker))
        time.sleep(HOLD_SECONDS)
    finally:
        Path(unwound).write_text("unwound")


def stubborn_hold(marker: str) -> None:
    """Hold with SIGTERM blocked (a worker in native code): only SIGKILL ends it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    note_pid(Path(marker))
    time.sleep(HOLD_SECONDS)


def exit_now(status: int) -> None:
    """A worker initializer that ends the worker at once (workers dying as they start)."""
    os._exit(status)


SLOW_JOB_SECONDS = 5.0
"""How long a serve job on an upload named ``*slow*`` waits before its work: long enough for a browser test to
double-click, reload or cancel while it runs, short enough to wait out."""


def run_fix_slow(files: list[tuple[str, str, str]], *args: Any) -> dict[str, Any]:
    """``preflight serve``'s fix job (:func:`preflight.serve.work.run_fix`), except that with an upload whose
    name holds ``slow`` it first spends :data:`SLOW_JOB_SECONDS` reporting progress, as a long 4K fix does."""
    from preflight.serve.work import _Progress, run_fix

    if any("slow" in label for _, _, label in files):
        progress = _Progress(args[-1])
        steps = 20
        for step in range(steps):
            progress("writing the fixed clip (slowly: a test)", step, steps)
            time.sleep(SLOW_JOB_SECONDS / steps)
    return run_fix(files, *args)
