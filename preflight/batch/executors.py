"""Where the per-file function runs: in this process, a local process pool, or a Dask cluster.

Each executor is an iterator factory: ``run(files, settings)`` (``(path, subdir)`` pairs) yields
:class:`FileResult` objects as files finish (in completion order) and ``stop()`` asks it to start
nothing new. Only a bounded number of files is handed out at a time (twice the workers), so
stopping is immediate and memory stays flat for a million files.

- ``serial``: in this process (``--jobs 1``); no start-up cost, the easiest to debug.
- ``local``: a ``ProcessPoolExecutor`` whose initializer loads the profile and the pose model once
  per worker process; workers ignore SIGINT so Ctrl-C reaches only the batch, which then lets the
  running files finish (a second Ctrl-C terminates the workers). ``spawn`` start method: forking a
  parent that runs a progress thread can deadlock, and mediapipe is not fork-safe.
- ``dask``: ``dask.distributed`` (the optional extra ``preflight-motion[dask]``), imported only
  here; the same function on a cluster (``--scheduler tcp://host:8786``) or a LocalCluster.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import PreflightError, UsageError
from .work import BatchSettings, FileResult, prepare_worker, process_file

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "SerialExecutor", "default_jobs", "make_executor"]

log = logging.getLogger("preflight")

DASK_INSTALL = 'pip install "preflight-motion[dask]"  (or: pip install "dask[distributed]")'


def default_jobs() -> int:
    """The cores this process may use (cgroup/affinity aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


class Executor:
    name = "executor"

    def __init__(self) -> None:
        self._stopping = False

    def run(self, files: Sequence[tuple[str, str]], settings: BatchSettings) -> Iterator[FileResult]:
        raise NotImplementedError

    def stop(self) -> None:
        """Start no new file; the running ones finish and are still yielded."""
        self._stopping = True

    def abort(self) -> None:
        """Stop now, abandoning running files (second Ctrl-C)."""
        self._stopping = True

    def close(self) -> None:
        """Release workers; safe to call more than once."""


class SerialExecutor(Executor):
    name = "serial"

    def run(self, files: Sequence[tuple[str, str]], settings: BatchSettings) -> Iterator[FileResult]:
        prepare_worker(settings)
        for path, subdir in files:
            if self._stopping:
                return
            yield process_file(path, settings, subdir)


def _init_pool_worker(settings: BatchSettings, log_level: int) -> None:
    # Ctrl-C is the parent's to handle: it decides to let running files finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("preflight").setLevel(log_level)
    prepare_worker(settings)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        super().__init__()
        self.jobs = jobs or default_jobs()
        self._pool: Any = None

    def run(self, files: Sequence[tuple[str, str]], settings: BatchSettings) -> Iterator[FileResult]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        level = logging.getLogger("preflight").getEffectiveLevel()
        self._pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_pool_worker,
            initargs=(settings, level),
        )
        todo = iter(files)
        running: set[Any] = set()
        window = 2 * self.jobs
        try:
            while True:
                while not self._stopping and len(running) < window:
                    job = next(todo, None)
                    if job is None:
                        break
                    running.add(self._pool.submit(process_file, job[0], settings, job[1]))
                if not running:
                    return
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    if not future.cancelled():
                        yield future.result()
        finally:
            for future in running:
                future.cancel()

    def abort(self) -> None:
        super().abort()
        pool = self._pool
        if pool is not None:
            # The executor has no public "kill the workers": its processes are the only handle.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not self._stopping, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Runs :func:`process_file` on a Dask cluster; files must be readable where the workers run."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, jobs: int | None = None, client: Any = None) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.jobs = jobs or default_jobs()
        self._client = client
        self._owns_client = client is None
        self._cluster: Any = None

    def _connect(self) -> Any:
        _require_dask()
        from dask.distributed import Client, LocalCluster

        if self._client is not None:
            return self._client
        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except OSError as exc:
                why = f"cannot reach the Dask scheduler {self.scheduler}: {exc}"
                raise PreflightError(why, "dask.unreachable") from exc
        else:
            self._cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, dashboard_address=None)
            self._client = Client(self._cluster)
        return self._client

    def run(self, files: Sequence[tuple[str, str]], settings: BatchSettings) -> Iterator[FileResult]:
        client = self._connect()
        from dask.distributed import as_completed

        client.run(prepare_worker, settings)  # the pose model, once per worker
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        todo = iter(files)
        pending = as_completed()
        self._outstanding: set[Any] = set()

        def feed() -> None:
            while not self._stopping and len(self._outstanding) < 2 * workers:
                job = next(todo, None)
                if job is None:
                    return
                future = client.submit(process_file, job[0], settings, job[1], pure=False)
                self._outstanding.add(future)
                pending.add(future)

        feed()
        for future in pending:
            self._outstanding.discard(future)
            if not future.cancelled():
                yield future.result()
            feed()

    def abort(self) -> None:
        super().abort()
        outstanding = list(getattr(self, "_outstanding", ()))
        if self._client is not None and outstanding:
            self._client.cancel(outstanding, force=True)

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _require_dask() -> None:
    try:
        import dask.distributed  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--executor dask needs dask.distributed: {DASK_INSTALL}", "dask.missing") from exc


def make_executor(name: str, jobs: int | None = None, scheduler: str | None = None) -> Executor:
    """``local`` (serial when one job), or ``dask``."""
    if name == "dask":
        _require_dask()  # say so before any folder is walked
        return DaskExecutor(scheduler, jobs)
    if scheduler:
        raise UsageError("--scheduler needs --executor dask", "usage.error")
    jobs = jobs or default_jobs()
    return SerialExecutor() if jobs == 1 else LocalExecutor(jobs)
