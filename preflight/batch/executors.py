"""Where the per-file function runs: in this process, a local process pool, or a Dask cluster.

Each executor is an iterator factory: ``run(files, settings)`` (``(path, subdir)`` pairs) yields
:class:`FileResult` objects as files finish (in completion order) and ``stop()`` asks it to start
nothing new. Only a bounded number of files is handed out at a time (twice the workers), so
stopping is immediate and memory stays flat for a million files.

- ``serial``: in this process (``--jobs 1``); no start-up cost, the easiest to debug.
- ``local``: a ``ProcessPoolExecutor`` whose initializer loads the profile and the pose model once
  per worker process; workers ignore SIGINT so Ctrl-C reaches only the batch, which then lets the
  running files finish (a second Ctrl-C terminates the workers). Workers come from a fork server
  (``spawn`` where there is none): forking the parent itself, which runs a progress thread, can
  deadlock and mediapipe is not fork-safe; the fork server is a clean single-threaded process that
  imports numpy/PyAV/OpenCV/MediaPipe once, and its children exit without tearing the interpreter
  down. With no more workers than cores, each worker is pinned to its own core.
  Measured on 2 cores, 20 clips, 2 workers (bench/bench_batch.py): pinning 7.3 -> 6.4 s (every file
  19% slower unpinned: MediaPipe's graph thread and Python's hand off across both workers' cores);
  the fork server saves the 0.2 s workers took to tear down at the end.
  A worker that dies (``kill -9``, the out-of-memory killer) costs only its file, a failing
  ``worker.died`` row: the pool restarts and the files the others were running run again
  (:mod:`.pool`); workers and the fork server end with the batch however it ends (:mod:`.lifeline`).
- ``dask``: ``dask.distributed`` (the optional extra ``preflight-motion[dask]``), imported only
  here; the same function on a cluster (``--scheduler tcp://host:8786``) or a LocalCluster. Paths
  are made absolute before they are sent and a worker that cannot see a file or the output folder
  says so (``dask.not_shared``): see :mod:`.cluster`. Dask handles its own workers' deaths.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import PreflightError, UsageError
from .pool import WorkerDied, WorkerPool
from .work import BatchSettings, FileResult, died_result, prepare_worker, process_file

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "SerialExecutor", "default_jobs", "make_executor"]

log = logging.getLogger("preflight")

START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
"""How pool workers start (see the module docstring)."""
FORKSERVER_PRELOAD = ("numpy", "av", "cv2", "PIL.Image", "preflight.batch.forkserver_preload", "preflight.api",
                      "preflight.analyze", "preflight.batch.work")  # fmt: skip
"""Imported once by the fork server (not per worker) when ``start_method="forkserver"``; no model is
loaded there: MediaPipe's graphs start threads, which a fork must not copy."""
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

    def warm(self, settings: BatchSettings) -> None:
        """Get workers ready (model loaded) before files arrive; ``run`` does it too if not called."""

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


def _init_pool_worker(settings: BatchSettings, log_level: int, cores: Any = None) -> None:
    # SIGINT, SIGTERM and the owner's death are the pool's (see .pool and .lifeline).
    logging.getLogger("preflight").setLevel(log_level)
    if cores is not None:
        _pin_to_a_core(cores)  # before the model: MediaPipe's threads inherit the core
    prepare_worker(settings)


def _pin_to_a_core(cores: Any) -> None:
    """Keep this worker and every thread it has or starts on one core taken from the ``cores`` queue.

    Why: MediaPipe runs each pose call on its own graph thread while Python waits. Alone, a process
    gets that hand-off for free on an idle core; with a worker per core, the two workers' threads
    chase each other across cores and every file takes 19% longer (bench/bench_batch.py).
    """
    try:
        cpu = cores.get(timeout=5)
        for task in os.listdir("/proc/self/task"):
            os.sched_setaffinity(int(task), {cpu})
    except Exception as exc:  # no affinity API, a thread gone meanwhile: unpinned is only slower
        log.debug("worker %d not pinned: %s", os.getpid(), exc)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs: int | None = None, start_method: str = START_METHOD, pin: bool = True) -> None:
        super().__init__()
        self.jobs = jobs or default_jobs()
        self.start_method = start_method
        self.pin = pin
        self._pool: WorkerPool | None = None
        self._settings: BatchSettings | None = None

    def warm(self, settings: BatchSettings) -> None:
        """Start every worker now (each loads the profile and pose model) while the caller walks."""
        if self._pool is not None and self._settings == settings:
            return
        self.close()
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        level = logging.getLogger("preflight").getEffectiveLevel()
        self._pool = WorkerPool(self.jobs, context, _init_pool_worker,
                                lambda: (settings, level, self._core_queue(context)))  # fmt: skip
        self._settings = settings

    def _core_queue(self, context: Any) -> Any:
        """A core id per worker when there are no more workers than cores (else None: no pinning)."""
        if not self.pin or not hasattr(os, "sched_getaffinity") or not os.path.isdir("/proc/self/task"):
            return None
        cores = sorted(os.sched_getaffinity(0))
        if self.jobs > len(cores):
            return None
        queue = context.Queue()
        for cpu in cores[: self.jobs]:
            queue.put(cpu)
        return queue

    @property
    def pool(self) -> WorkerPool:
        """The worker pool (started by :meth:`warm`, with the settings last given, if not yet)."""
        if self._pool is None:
            self.warm(self._settings or BatchSettings())
        assert self._pool is not None
        return self._pool

    def wait_warm(self) -> set[int]:
        """Block until the warming no-ops ran; the pids of the workers that ran them."""
        return {f.result() for f in self.pool.warming}

    def worker_pids(self) -> list[int]:
        """The pool's worker processes (started by :meth:`warm`)."""
        return self._pool.worker_pids() if self._pool is not None else []

    def submit(self, fn: Any, *args: Any, doing: str = "checking this file") -> Any:
        """Run ``fn(*args)`` on one of these workers (a Future): ``preflight serve`` sends its checks and fixes
        here, so they share batch's warm workers. Starts the pool first (:meth:`warm`) if needed.

        If the worker dies meanwhile the future fails with :class:`~.pool.WorkerDied` ("the worker
        ``doing`` was killed by ..."); the pool restarts for the next call (see :mod:`.pool`).
        """
        return self.pool.submit(fn, *args, doing=doing)

    def cancel(self, future: Any) -> Any:
        """Cancel a :meth:`submit` future and stop its worker if it is running it (the pool restarts);
        a future that is done once no worker runs it."""
        return self.pool.cancel(future, stop_running=True)

    def run(self, files: Sequence[tuple[str, str]], settings: BatchSettings) -> Iterator[FileResult]:
        from concurrent.futures import FIRST_COMPLETED, wait

        self.warm(settings)
        todo = iter(files)
        running: dict[Any, str] = {}
        window = 2 * self.jobs
        try:
            while True:
                while not self._stopping and len(running) < window:
                    job = next(todo, None)
                    if job is None:
                        break
                    running[self.pool.submit(process_file, job[0], settings, job[1])] = job[0]
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    path = running.pop(future)
                    if not future.cancelled():
                        yield _result_of(future, path)
        finally:
            for future in running:
                future.cancel()

    def abort(self) -> None:
        super().abort()
        if self._pool is not None:
            self._pool.terminate()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close(wait=not self._stopping)
            self._pool = None
            self._settings = None


def _result_of(future: Any, path: str) -> FileResult:
    """A finished file's result; a file whose worker died is a failing ``worker.died`` row."""
    error = future.exception()
    if isinstance(error, WorkerDied):
        log.info("%s: %s", path, error.message)
        return died_result(path, error.message)
    if error is not None:
        raise error
    return future.result()


class DaskExecutor(Executor):
    """Runs :func:`process_file` on a Dask cluster; files must be readable where the workers run, and a
    local ``-o`` folder be theirs too (or ``-o`` a URL they write to): see :mod:`.cluster`."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, jobs: int | None = None, client: Any = None) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.jobs = jobs or default_jobs()
        self._client = client
        self._owns_client = client is None
        self._cluster: Any = None
        self._marker: Any = None

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
            # ":0", not None: this distributed version still binds 8787 for None and warns on stderr
            # when another cluster (a second batch) holds it; nobody opens this dashboard anyway.
            self._cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, dashboard_address=":0")
            self._client = Client(self._cluster)
        return self._client

    def run(self, files: Sequence[tuple[str, str]], settings: BatchSettings) -> Iterator[FileResult]:
        client = self._connect()
        from dask.distributed import as_completed

        from .cluster import OutputMarker, answered, check_on_worker, for_workers, sent_path
        from .remote import is_url

        sent = for_workers(settings)  # nothing relative: the workers have their own working folder
        self._prepare_workers(client, sent)
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        todo = iter(files)
        pending = as_completed()
        self._outstanding: dict[Any, str] = {}
        marker = OutputMarker(sent.outdir) if sent.outdir is not None and not is_url(sent.outdir) else None
        self._marker = marker

        def feed() -> None:
            while not self._stopping and len(self._outstanding) < 2 * workers:
                job = next(todo, None)
                if job is None:
                    return
                future = client.submit(check_on_worker, sent_path(job[0]), sent, job[1],
                                       marker.path if marker else None, pure=False)  # fmt: skip
                self._outstanding[future] = job[0]
                pending.add(future)

        try:
            feed()
            for future in pending:
                path = self._outstanding.pop(future)
                if not future.cancelled():
                    yield answered(future.result(), path, settings, sent)
                feed()
        finally:
            self._remove_marker()

    @staticmethod
    def _prepare_workers(client: Any, sent: BatchSettings) -> None:
        """The profile and the pose model, once per worker; a profile file a worker cannot read is said so."""
        try:
            client.run(prepare_worker, sent)
        except PreflightError as exc:
            raise type(exc)(f"on a Dask worker: {exc.message} (a --profile file must be on storage the "
                            "workers share)", exc.code) from exc  # fmt: skip

    def _remove_marker(self) -> None:
        marker, self._marker = self._marker, None
        if marker is not None:
            marker.remove()

    def abort(self) -> None:
        super().abort()
        outstanding = list(getattr(self, "_outstanding", ()))
        if self._client is not None and outstanding:
            self._client.cancel(outstanding, force=True)

    def close(self) -> None:
        self._remove_marker()
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
        raise UsageError("--scheduler needs --executor dask")
    jobs = jobs or default_jobs()
    return SerialExecutor() if jobs == 1 else LocalExecutor(jobs)
