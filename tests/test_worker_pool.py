"""The worker pool behind batch and serve: a dead worker costs only its task, a pool that keeps breaking is
not restarted forever, and a cancelled running task is stopped (SIGTERM to unwind, SIGKILL if need be)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from worker_faults import exit_now, hold_and_note_unwinding, pids_in, sigterm_myself, stubborn_hold, wait_for_pid

from preflight.batch.pool import MAX_FRUITLESS_BREAKS, STOP_GRACE, WorkerDied, WorkerPool, death_cause
from preflight.outfiles import process_alive

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")


def _context():
    """The fork server context as batch sets it up: the fork server is one per process, started with the
    preload of whoever starts it first, and later tests expect batch's."""
    from preflight.batch.executors import FORKSERVER_PRELOAD

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    return context


@pytest.fixture
def pool():
    started = WorkerPool(2, _context())
    yield started
    started.terminate()
    started.close(wait=False)


def _gone_within(pid: int, seconds: float) -> float | None:
    """Seconds until ``pid`` is no longer running (None: still running after ``seconds``)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if not process_alive(pid):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def test_death_cause_names_the_signal_and_leaves_the_pools_own_sigterm_alone() -> None:
    assert "SIGKILL (signal 9)" in death_cause(-9) and "out-of-memory" in death_cause(-9)
    assert "SIGSEGV (signal 11)" in death_cause(-11) and "native code" in death_cause(-11)
    assert death_cause(3) == "exited unexpectedly (status 3)"
    assert [death_cause(code) for code in (None, 0, -15, 143)] == [None] * 4


def test_a_killed_worker_fails_its_task_and_the_pool_goes_on(pool: WorkerPool, tmp_path: Path) -> None:
    marker = tmp_path / "held.pid"
    held = pool.submit(hold_and_note_unwinding, str(marker), str(tmp_path / "unwound"))
    victim = wait_for_pid(marker)
    os.kill(victim, signal.SIGKILL)
    error = held.exception(timeout=30)
    assert isinstance(error, WorkerDied) and error.code == "worker.died"
    assert error.message.startswith("the worker checking this file was killed by SIGKILL (signal 9)")
    assert pool.submit(os.getpid).result(timeout=60) not in (victim, os.getpid())  # a fresh worker answers
    assert pool.restarts == 1 and pids_in(marker) == [victim]  # the task was not run again


def test_a_task_whose_worker_dies_unexplained_twice_is_not_run_a_third_time(pool: WorkerPool, tmp_path: Path) -> None:
    """A SIGTERM from outside looks like the pool's own: nobody is blamed, so the task runs again, but
    only once more."""
    marker = tmp_path / "attempts.pid"
    error = pool.submit(sigterm_myself, str(marker)).exception(timeout=60)
    assert isinstance(error, WorkerDied) and "broke 2 times" in error.message
    assert len(pids_in(marker)) == 2 and pool.restarts == 2


def test_workers_dying_as_they_start_fail_the_pending_tasks_after_a_few_restarts() -> None:
    doomed = WorkerPool(1, _context(), exit_now, lambda: (3,))
    try:
        error = doomed.submit(os.getpid).exception(timeout=120)
    finally:
        doomed.close(wait=False)
    assert isinstance(error, BrokenProcessPool) and "keep dying" in str(error)
    assert doomed.restarts == MAX_FRUITLESS_BREAKS


def test_cancelling_a_running_task_unwinds_it_and_restarts_the_pool(pool: WorkerPool, tmp_path: Path) -> None:
    marker, unwound = tmp_path / "held.pid", tmp_path / "unwound"
    held = pool.submit(hold_and_note_unwinding, str(marker), str(unwound))
    worker = wait_for_pid(marker)
    stopped = pool.cancel(held)
    stopped.result(timeout=10)
    assert _gone_within(worker, 5) is not None
    assert unwound.read_text() == "unwound"  # SIGTERM first: its finally ran (temporary files go)
    assert held.cancelled()
    assert pool.submit(os.getpid).result(timeout=60) != worker


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace(pool: WorkerPool, tmp_path: Path) -> None:
    marker = tmp_path / "stubborn.pid"
    held = pool.submit(stubborn_hold, str(marker))
    worker = wait_for_pid(marker)
    pool.cancel(held)
    took = _gone_within(worker, STOP_GRACE + 3)
    assert took is not None and took >= STOP_GRACE * 0.9  # SIGTERM did nothing; SIGKILL after the grace
    other = pool.submit(os.getpid)
    assert other.result(timeout=60) != worker
