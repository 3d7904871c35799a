"""Pool workers die with the process that owns the pool, and so do the fork server and the resource tracker.

Without this a ``kill -9`` of ``batch`` or ``serve`` (or the OOM killer) left every worker, the fork
server and the resource tracker running for good: each worker waits for its next task on a queue whose
other writers are the other workers; the fork server exits only when every holder of its "alive" pipe
has gone, and CPython hands that pipe to every worker it forks; the resource tracker exits only when
every holder of its pipe (the owner, the fork server, the workers) has gone.

What :func:`follow_owner` does, first thing in each worker (the pool initializer):

1. A fork server's child closes its copy of the fork server's alive pipe: the owner then holds the only
   one, so the fork server exits the moment the owner dies (CPython's own check: EOF on that pipe).
2. Linux, fork server's child: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. The parent of such a worker is the
   fork server, a single-threaded process (the death signal follows the parent *thread*; the fork
   server forks from its only thread), so the kernel kills the worker when the fork server exits, even
   while the worker is deep in native code that holds the GIL (a pose call, an encode).
3. Everywhere: a daemon thread waits on the pipe CPython keeps open from the owner to each child
   (``multiprocessing.parent_process().sentinel``) and ends the worker when it reads EOF: this covers
   the ``spawn`` start method (whose parent is whichever owner thread submitted, so no death signal),
   macOS (no ``prctl``), and a death of the owner before step 2 ran.

When the workers are gone the resource tracker reads EOF, removes what they leaked and exits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading

__all__ = ["follow_owner"]

log = logging.getLogger("preflight")

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""
ORPHAN_EXIT = 70
"""The status a worker exits with when its owner has gone (nobody reads it: the owner is dead)."""


def follow_owner(via_fork_server: bool) -> None:
    """Make this pool worker end when the process that owns the pool ends (see the module docstring)."""
    if via_fork_server:
        _drop_fork_server_alive_pipe()
        _die_with_parent()
    _watch_owner_pipe()


def _drop_fork_server_alive_pipe() -> None:
    """Close this worker's copy of the fork server's alive pipe (so only the owner keeps it open)."""
    from multiprocessing import forkserver

    server = forkserver._forkserver  # CPython keeps it here for a child that would start its own workers
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.close(fd)
    server._forkserver_alive_fd = None


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the fork server) exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as exc:  # no prctl (a libc without it): the watcher thread still works
        log.debug("worker %d: no parent-death signal: %s", os.getpid(), exc)


def _watch_owner_pipe() -> None:
    """A daemon thread that ends this process once the owner's end of the spawn pipe closes."""
    owner = multiprocessing.parent_process()
    sentinel = getattr(owner, "sentinel", None)
    if sentinel is None:  # not started by multiprocessing: nothing to follow
        return
    threading.Thread(target=_exit_when_readable, args=(sentinel,), name="preflight-owner-watch", daemon=True).start()


def _exit_when_readable(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])  # EOF: the owner has gone (nothing is ever written on this pipe)
    os._exit(ORPHAN_EXIT)
