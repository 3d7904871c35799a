"""A process pool in which a dead worker costs only the task it was running.

A ``ProcessPoolExecutor`` whose worker dies (``kill -9``, the kernel's out-of-memory killer, a crash in
native code) is *broken*: every pending future fails with ``BrokenProcessPool`` and every later submit
raises it. :class:`WorkerPool` wraps one and keeps going:

- Each worker claims a slot on a shared *board* (pid, task id) and writes there the task it starts, so
  after a break the pool knows which task each dead worker was running.
- A supervisor thread restarts a broken pool at once (the fork server stays; the workers are new) and
  settles the tasks of the old one: a task whose worker died fails with :class:`WorkerDied` (the signal
  or exit status in its message); every other task, including those that were running on the workers
  the break took down with it, runs again on the new pool.
- Not forever: a task that was running during two breaks nobody could be blamed for (the dying worker
  was idle, or SIGTERMed from outside) fails with :class:`WorkerDied` too, and after
  :data:`MAX_FRUITLESS_BREAKS` breaks in a row without one finished task (workers dying as they start)
  the pending tasks fail with the pool's own ``BrokenProcessPool``.
- :meth:`WorkerPool.cancel` with ``stop_running`` stops a task that is already running: its worker gets
  SIGTERM (the task unwinds, ``finally`` blocks remove temporary files) and SIGKILL :data:`STOP_GRACE`
  seconds later if still alive, since a Python signal handler waits for native code (a pose call on a
  huge image, an encode) to return; the others' tasks are re-run on the restarted pool. A cooperative
  flag checked between frames would not stop a single long native call, which is what takes the time.

Worker processes ignore SIGINT (Ctrl-C is the owner's to handle) and end with their owner
(:mod:`.lifeline`). SIGTERM while a task runs unwinds it and then ends the process (``os._exit``):
the executor's worker loop would otherwise catch the ``SystemExit`` and wait for more work.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..errors import PreflightError
from .lifeline import follow_owner

__all__ = ["MAX_FRUITLESS_BREAKS", "STOP_GRACE", "WORKER_DIED", "WorkerDied", "WorkerPool", "death_cause"]

log = logging.getLogger("preflight")

_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has none: terminating is all there is
_CRASHES = {getattr(signal, n) for n in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL", "SIGFPE") if hasattr(signal, n)}
WORKER_DIED = "worker.died"
STOP_GRACE = 1.0
"""Seconds a worker stopped for a cancelled task gets to unwind after SIGTERM before SIGKILL."""
MAX_TASK_BREAKS = 2
"""Unexplained breaks a task may be running during before it counts as the one that kills workers."""
MAX_FRUITLESS_BREAKS = 3
"""Breaks in a row with no task finished and nobody to blame before pending tasks fail."""
SUPERVISE_EVERY = 0.25
"""Seconds between the supervisor's looks at the pool (a break also wakes it at once)."""
MANAGER_JOIN = 3.0
"""Seconds a broken executor gets to terminate and reap its workers before the rest are SIGKILLed."""


class WorkerDied(PreflightError):
    """The worker process running a task died (killed by a signal, or exited) before it finished."""

    default_code = WORKER_DIED


def death_cause(exitcode: int | None) -> str | None:
    """How a worker ended, in words, when that is a death (None: alive, a clean exit, or a SIGTERM the
    broken executor itself sends every worker)."""
    if exitcode is None or exitcode == 0 or exitcode in (-signal.SIGTERM, 128 + signal.SIGTERM):
        return None
    if exitcode > 0:
        return f"exited unexpectedly (status {exitcode})"
    number = -exitcode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    cause = f"was killed by {name} (signal {number})"
    if number == getattr(signal, "SIGKILL", None):
        return f"{cause}; often the kernel's out-of-memory killer: try fewer --jobs or a smaller input"
    if number in _CRASHES:
        return f"{cause}: a crash in native code (FFmpeg, OpenCV or MediaPipe) on this input"
    return cause


# ---- in the worker processes -------------------------------------------------------------------------

_board: Any = None
_slot: int | None = None
_in_task = False
_terminating = False


def _init_worker(board: Any, via_fork_server: bool, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's: it decides to let files finish
    follow_owner(via_fork_server)
    global _board, _slot
    _board, _slot = board, _claim_slot(board)
    if initializer is not None:
        initializer(*initargs)
    # Only now: a SIGTERM during the set-up simply ends the worker (no traceback from the executor).
    signal.signal(signal.SIGTERM, _on_sigterm)


def _claim_slot(board: Any) -> int | None:
    """The first free (pid, task) pair on the board, now this worker's."""
    lock = board.get_lock()
    if not lock.acquire(timeout=5):  # a worker killed holding it: run untracked rather than not at all
        return None
    try:
        for slot in range(len(board) // 2):
            if board[2 * slot] == 0:
                board[2 * slot] = os.getpid()
                return slot
        return None
    finally:
        lock.release()


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM: unwind the running task (its ``finally`` blocks remove temporary files), then exit."""
    global _terminating
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills
    if not _in_task:
        os._exit(128 + signum)
    _terminating = True
    raise SystemExit(128 + signum)


def _run_task(task_id: int, fn: Callable[..., Any], *args: Any) -> Any:
    global _in_task
    raw = _board.get_obj() if _board is not None and _slot is not None else None
    if raw is not None:
        raw[2 * _slot + 1] = task_id  # type: ignore[operator]
    _in_task = True
    try:
        return fn(*args)
    except SystemExit:
        if _terminating:  # the task unwound; the executor's loop would catch this and wait for more work
            os._exit(128 + signal.SIGTERM)
        raise
    finally:
        _in_task = False
        if raw is not None:
            raw[2 * _slot + 1] = 0  # type: ignore[operator]


# ---- in the owner ------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Task:
    id: int
    fn: Callable[..., Any]
    args: tuple
    doing: str
    """What the worker was doing, for the message: "checking this file", "running this check"."""
    outer: Future = field(default_factory=Future)
    """The caller's future: it outlives pool restarts."""
    stopped: Future = field(default_factory=Future)
    """Done once no worker runs this task any more (finished, failed, or stopped)."""
    inner: Future | None = None
    generation: int = -1
    breaks: int = 0
    cancelled: bool = False
    stop_running: bool = False


class WorkerPool:
    """``jobs`` worker processes from ``context``; each runs ``initializer(*make_initargs())`` once.

    ``make_initargs`` is called for each (re)start, so per-start resources (a queue of cores) are fresh.
    """

    def __init__(self, jobs: int, context: Any, initializer: Callable[..., None] | None = None,
                 make_initargs: Callable[[], tuple] = tuple) -> None:  # fmt: skip
        self.jobs = jobs
        self._context = context
        self._initializer = initializer
        self._make_initargs = make_initargs
        self._via_fork_server = context.get_start_method() == "forkserver"
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._ids = itertools.count(1)
        self._tasks: dict[int, _Task] = {}
        self._by_future: dict[Future, _Task] = {}
        self._stopping: dict[int, float] = {}
        """pid -> when it was sent SIGTERM to stop a cancelled task."""
        self._closed = False
        self._broken = False
        self._fruitless = 0
        self._generation = 0
        self.restarts = 0
        self._executor, self._board, self.warming = self._start()
        self._supervisor = threading.Thread(target=self._supervise, name="preflight-pool", daemon=True)
        self._supervisor.start()

    # ---- the caller's side ----------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any, doing: str = "checking this file") -> Future:
        """Run ``fn(*args)`` on a worker; the future survives restarts (see the module docstring)."""
        task = _Task(next(self._ids), fn, args, doing)
        task.outer.add_done_callback(partial(self._outer_done, task))
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            self._tasks[task.id] = task
            self._by_future[task.outer] = task
            self._launch(task)
        return task.outer

    def cancel(self, future: Future, *, stop_running: bool = True) -> Future:
        """Cancel ``future`` (from :meth:`submit`); with ``stop_running`` a running task's worker is stopped.

        Returns a future that is done once no worker runs the task any more.
        """
        with self._lock:
            task = self._by_future.get(future)
            if task is None:
                done: Future = Future()
                done.set_result(None)
                return done
            task.cancelled = True
            task.stop_running = task.stop_running or stop_running
            if task.inner is None or task.inner.cancel():
                self._forget(task)
            elif task.stop_running:
                self._wake.set()
        future.cancel()
        return task.stopped

    def worker_pids(self) -> list[int]:
        """The current workers' process ids."""
        return list(getattr(self._executor, "_processes", None) or {})

    def running(self) -> dict[int, int]:
        """task id -> the pid of the worker running it, read from the board."""
        board = list(self._board.get_obj())
        return {board[i + 1]: board[i] for i in range(0, len(board), 2) if board[i] and board[i + 1]}

    def terminate(self) -> None:
        """Stop every worker now (SIGTERM: running tasks unwind) and restart nothing.

        Waits (up to :data:`MANAGER_JOIN` seconds) for them to end: an owner that exits at once would take
        its workers down mid-unwind (:mod:`.lifeline`), leaving the temporary files they were removing.
        """
        with self._lock:
            self._closed = True
            processes = list((getattr(self._executor, "_processes", None) or {}).values())
            waiting = [task for task in self._tasks.values() if task.inner is None]
        self._wake.set()
        for task in waiting:  # left for a restart that will not come; the running ones fail as the pool breaks
            task.outer.cancel()
        for process in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                process.terminate()
        _wait_ended(processes, MANAGER_JOIN)

    def close(self, wait: bool = True) -> None:
        """Shut the workers down (``wait``: let them exit first); pending futures are cancelled."""
        with self._lock:
            self._closed = True
            tasks = list(self._tasks.values())
            executor = self._executor
        self._wake.set()
        executor.shutdown(wait=wait, cancel_futures=True)
        for task in tasks:
            task.outer.cancel()
            self._forget(task)
        if threading.current_thread() is not self._supervisor:
            self._supervisor.join(timeout=MANAGER_JOIN)

    # ---- starting and launching -----------------------------------------------------------------------
    def _start(self) -> tuple[Any, Any, list[Future]]:
        from concurrent.futures import ProcessPoolExecutor

        board = self._context.Array("q", 2 * self.jobs)
        executor = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(board, self._via_fork_server, self._initializer, self._make_initargs()),
        )
        # A pool starts a process per submit while none is idle: one no-op each starts them all now, so
        # the pose model loads while the caller walks (or, after a restart, before the next request).
        warming = [executor.submit(os.getpid) for _ in range(self.jobs)]
        return executor, board, warming

    def _launch(self, task: _Task) -> None:
        """Send ``task`` to the current executor (lock held); a broken one leaves it for the restart."""
        task.inner = None
        if self._broken or self._closed:
            return
        try:
            inner = self._executor.submit(_run_task, task.id, task.fn, *task.args)
        except BrokenProcessPool:
            self._broken = True
            self._wake.set()
            return
        task.inner, task.generation = inner, self._generation
        inner.add_done_callback(partial(self._inner_done, task, self._generation))

    # ---- results ----------------------------------------------------------------------------------
    def _inner_done(self, task: _Task, generation: int, inner: Future) -> None:
        if inner.cancelled():
            self._forget(task)
            return
        exc = inner.exception()
        with self._lock:
            if generation != task.generation:
                return  # a restart already sent it to the new pool
            if isinstance(exc, BrokenProcessPool) and not self._closed:
                self._broken = True  # the supervisor settles it with the others
                self._wake.set()
                return
            self._fruitless = 0
            self._forget(task)
        if exc is not None:
            _settle(task.outer, exception=exc)
        else:
            _settle(task.outer, result=inner.result())

    def _outer_done(self, task: _Task, outer: Future) -> None:
        if outer.cancelled() and not task.cancelled:
            self.cancel(outer, stop_running=False)

    def _forget(self, task: _Task) -> None:
        with self._lock:
            self._tasks.pop(task.id, None)
            self._by_future.pop(task.outer, None)
        if not task.stopped.done():
            _settle(task.stopped, result=None)

    # ---- the supervisor ---------------------------------------------------------------------------
    def _supervise(self) -> None:
        while True:
            self._wake.wait(SUPERVISE_EVERY)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                broken = self._broken or bool(getattr(self._executor, "_broken", False))
            try:
                if broken:
                    self._recover()
                self._stop_cancelled()
            except Exception:  # the supervisor must outlive any surprise, or nothing ever restarts
                log.warning("worker pool supervisor: unexpected error", exc_info=True)

    def _stop_cancelled(self) -> None:
        with self._lock:
            wanted = [t.id for t in self._tasks.values() if t.cancelled and t.stop_running and t.inner is not None]
        if not wanted:
            return
        running = self.running()
        now = time.monotonic()
        for task_id in wanted:
            pid = running.get(task_id)
            if pid is None:
                continue
            sent = self._stopping.setdefault(pid, now)
            how = signal.SIGTERM if sent == now else _KILL if now - sent >= STOP_GRACE else None
            if how is not None:
                log.debug("stopping worker %d (cancelled task %d) with %s", pid, task_id, how.name)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, how)

    def _recover(self) -> None:
        """Restart the broken executor and settle every task it held (see the module docstring)."""
        with self._lock:
            old, board, generation = self._executor, self._board, self._generation
            processes = dict(getattr(old, "_processes", None) or {})
        _reap(old, processes)
        exits = {pid: process.exitcode for pid, process in processes.items()}
        with self._lock:
            if self._closed:
                return
            what = _Break.read(exits, board, stopped_on_purpose=set(self._stopping))
            self._stopping = {}
            self._fruitless = 0 if what.explained else self._fruitless + 1
            log.info("worker pool broke (exit codes %s); restarting it", sorted(exits.values(), key=str))
            self._generation = generation + 1
            self._executor, self._board, self.warming = self._start()
            self._broken = False
            self.restarts += 1
            give_up = self._fruitless >= MAX_FRUITLESS_BREAKS
            settle = [self._settle_after_break(task, what, give_up) for task in list(self._tasks.values())]
        for outer, exc in settle:
            if outer is not None:
                _settle(outer, exception=exc)
        old.shutdown(wait=False)

    def _settle_after_break(
        self, task: _Task, what: _Break, give_up: bool
    ) -> tuple[Future | None, BaseException | None]:
        """What becomes of ``task`` after a break (lock held): relaunched, or (its future, its error)."""
        if task.cancelled:
            self._forget(task)
            return None, None
        if task.id in what.blamed:
            error: BaseException = WorkerDied(f"the worker {task.doing} {what.blamed[task.id]}")
        else:
            if task.id in what.started and not what.explained:
                task.breaks += 1
            if task.breaks >= MAX_TASK_BREAKS:
                error = WorkerDied(f"the worker pool broke {task.breaks} times while {task.doing}, and the worker that "
                                   "died could not be told apart")  # fmt: skip
            elif give_up:
                error = BrokenProcessPool(f"the worker processes keep dying ({MAX_FRUITLESS_BREAKS} restarts in a "
                                          "row with nothing finished)")  # fmt: skip
            else:
                self._launch(task)
                return None, None
        self._forget(task)
        return task.outer, error


@dataclass(frozen=True)
class _Break:
    """What a broken pool's board and exit statuses say about the tasks it was running."""

    blamed: dict[int, str]
    """task id -> how the worker running it died."""
    started: frozenset[int]
    """The tasks a worker had started."""
    explained: bool
    """Someone is to blame (a task's worker died) or the break was ours (a cancelled task's worker stopped)."""

    @classmethod
    def read(cls, exits: dict[int, int | None], board: Any, stopped_on_purpose: set[int]) -> _Break:
        pairs = list(board.get_obj())
        running = {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2) if pairs[i] and pairs[i + 1]}
        deaths = {pid: cause for pid, code in exits.items()
                  if pid not in stopped_on_purpose and (cause := death_cause(code)) is not None}  # fmt: skip
        blamed = {running[pid]: deaths[pid] for pid in deaths if pid in running}
        ours = bool(stopped_on_purpose & set(exits))
        return cls(blamed, frozenset(running.values()), bool(blamed) or ours)


def _reap(executor: Any, processes: dict[int, Any]) -> None:
    """Wait for the broken executor to terminate and reap its workers; SIGKILL what outlives the wait.

    Only the executor's own thread reads the exit statuses (two readers of a fork server child's status
    pipe could each get half of it), so this waits for that thread rather than joining the processes.
    """
    thread = getattr(executor, "_executor_manager_thread", None)
    if thread is None:
        return
    thread.join(MANAGER_JOIN)
    if thread.is_alive():
        for pid in processes:
            with contextlib.suppress(OSError):
                os.kill(pid, _KILL)
        thread.join(MANAGER_JOIN)


def _wait_ended(processes: list[Any], timeout: float) -> None:
    """Wait until every process in ``processes`` has ended, or ``timeout`` seconds (reads no exit status)."""
    from multiprocessing.connection import wait

    pending = set()
    for process in processes:
        with contextlib.suppress(ValueError, AttributeError):  # closed, or never started
            pending.add(process.sentinel)
    deadline = time.monotonic() + timeout
    while pending and (left := deadline - time.monotonic()) > 0:
        pending -= set(wait(list(pending), left))


def _settle(future: Future, *, result: Any = None, exception: BaseException | None = None) -> None:
    """Set a future's outcome unless it is already done (cancelled meanwhile by its caller)."""
    with contextlib.suppress(InvalidStateError):
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)
