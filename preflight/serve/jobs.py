"""The server's jobs: each a private folder (its uploads and outputs), a state, progress and a result.

A job's work runs elsewhere: checks, fixes and prepares on the batch pool's worker processes
(:class:`~preflight.batch.executors.LocalExecutor`), submits on a small thread pool (they wait on the
network, not the CPU). The event loop only starts work and answers polls.

Files are served by name from the job's own list (``sheet.png``, ``video.mp4``): the name in a URL is a
key in that dict, never joined to a path. Finished jobs older than ``max_age`` are swept with their
folders; :meth:`JobStore.close` removes the whole private folder at exit. The private folder's name
records this process (:mod:`preflight.tempdirs`), so a server killed outright (``kill -9``, the OOM
killer) has its folder removed by the next one that starts, and never a live server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PreflightError
from ..tempdirs import make_owned_tempdir, remove_orphaned_tempdirs
from .wording import error_text
from .work import read_progress

__all__ = ["Job", "JobNotFound", "JobStore"]

log = logging.getLogger("preflight")

JOB_ID = re.compile(r"^[0-9a-f]{16}$")
FOLDER_PREFIX = "preflight-serve-"
"""The private folder's name starts so (``$TMPDIR/preflight-serve-<pid>-<start>-<host>-<random>``)."""


class JobNotFound(PreflightError):
    default_code = "job.not_found"


@dataclass
class Job:
    id: str
    kind: str
    """check, fix, prepare or submit."""
    folder: Path
    created: float = field(default_factory=time.time)
    state: str = "queued"
    """queued -> running -> done | failed."""
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    files: dict[str, str] = field(default_factory=dict)
    """Downloadable name -> server path (never shown)."""
    bundle: str | None = None
    """A prepare's bundle folder (server side), for submit."""
    labels: dict[str, str] = field(default_factory=dict)
    """field -> the client's file name."""
    uploads: list[tuple[str, str, str]] = field(default_factory=list)
    """(field, server path, label) of the files this job holds as its inputs: a later job names this one as
    its ``source`` to use them again without a new upload (a re-check under other settings, fix, prepare)."""
    settings: dict[str, str | None] = field(default_factory=dict)
    """What it was checked against: profile, model, provider, orientation (the page shows these with it)."""
    future: Any = field(default=None, repr=False)
    work: Any = field(default=None, repr=False)
    """The pool's own future of a job on a worker (the executor stops that worker on DELETE)."""

    def progress(self) -> dict[str, Any] | None:
        if self.state in ("done", "failed"):
            return None
        found = read_progress(self.folder)
        if found is not None and self.state == "queued":
            self.state = "running"
        return found

    def relabel(self, text: str) -> str:
        """``text`` with the server paths of this job's uploads replaced by the client's names for them."""
        for _, path, label in sorted(self.uploads, key=lambda u: -len(u[1])):
            text = text.replace(path, label)
        return text.replace(str(self.folder), "the job's folder")

    def public(self) -> dict[str, Any]:
        """What ``GET /v1/jobs/{id}`` says (no server path)."""
        progress = self.progress()
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "created": round(self.created, 3),
            "elapsed": round((self.finished or time.time()) - self.created, 3),
            "progress": progress,
            "inputs": dict(self.labels),
            "settings": dict(self.settings),
            "status_url": f"/v1/jobs/{self.id}",
        }
        if self.result is not None:
            data["result"] = {k: v for k, v in self.result.items() if k not in ("files", "bundle")}
            data["files"] = [{"name": n, "url": f"/v1/jobs/{self.id}/files/{n}"} for n in self.files]
        if self.error is not None:
            data["error"] = self.error
        return data


class JobStore:
    def __init__(self, executor: Any, *, max_age: float, workdir: str | None = None, threads: int = 4) -> None:
        remove_orphaned_tempdirs(FOLDER_PREFIX, workdir)
        self.root = make_owned_tempdir(FOLDER_PREFIX, workdir)
        self.executor = executor
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix="preflight-serve")
        self.max_age = max_age
        self.jobs: dict[str, Job] = {}

    def new(self, kind: str) -> Job:
        job_id = secrets.token_hex(8)
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        job = Job(job_id, kind, folder)
        self.jobs[job_id] = job
        return job

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id) if JOB_ID.match(job_id) else None
        if job is None:
            raise JobNotFound(f"no job {job_id[:40]!r} on this server (finished jobs are kept {self.max_age:g} s)")
        return job

    def discard(self, job: Job) -> None:
        """Forget a job, stop its work and remove its folder (a refused upload, DELETE, the sweep).

        A job running on a pool worker is stopped by stopping that worker (:meth:`LocalExecutor.cancel`);
        its folder is removed now and once more when the worker is gone (it may write until then).
        """
        self.jobs.pop(job.id, None)
        stopped = None
        if job.work is not None and not job.work.done():
            stopped = self.executor.cancel(job.work)
        if job.future is not None and not job.future.done():
            job.future.cancel()
        shutil.rmtree(job.folder, ignore_errors=True)
        if stopped is not None:
            stopped.add_done_callback(lambda _: shutil.rmtree(job.folder, ignore_errors=True))

    def adopt(self, job: Job, source: Job, roles: tuple[str, ...]) -> None:
        """Give ``job`` the uploads of ``source`` for ``roles`` (hard links into its own folder, a copy where
        links cannot be made): each job owns its inputs, so the sweep or a DELETE of one never takes another's."""
        for field_name, path, label in source.uploads:
            if field_name not in roles:
                continue
            target = job.folder / Path(path).name
            try:
                os.link(path, target)
            except OSError:
                try:
                    shutil.copyfile(path, target)
                except FileNotFoundError as exc:  # swept or deleted while this request arrived
                    raise JobNotFound(f"job {source.id} no longer holds its {field_name}: send the file again") from exc
            job.uploads.append((field_name, str(target), label))

    def in_pool(self, job: Job, fn: Callable[..., dict[str, Any]], *args: Any) -> None:
        """Run ``fn(*args)`` on a pool worker; its dict becomes the job's result. A worker that dies fails
        the job with ``worker.died``; the pool restarts for the next one."""
        job.work = self.executor.submit(fn, *args, doing=f"running this {job.kind}")
        self._track(job, job.work)

    def in_thread(self, job: Job, fn: Callable[..., dict[str, Any]], *args: Any) -> None:
        job.state = "running"
        self._track(job, self.threads.submit(fn, *args))

    def _track(self, job: Job, done: Future[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        job.future = asyncio.wrap_future(done, loop=loop)
        job.future.add_done_callback(lambda fut: self._finish(job, fut))

    def _finish(self, job: Job, fut: Any) -> None:
        job.finished = time.time()
        if fut.cancelled():
            job.state, job.error = "failed", {"code": "interrupted", "message": "the job was cancelled",
                                              "text": "cancelled"}  # fmt: skip
            return
        exc = fut.exception()
        if exc is None:
            result = fut.result()
            job.files = dict(result.get("files") or {})
            job.bundle = result.get("bundle")
            job.result, job.state = result, "done"
            return
        job.state = "failed"
        if isinstance(exc, PreflightError):
            code, message = exc.code, exc.message
        else:
            log.warning("job %s (%s) failed: %s: %s", job.id, job.kind, type(exc).__name__, exc)
            code, message = "internal.error", f"{type(exc).__name__}: {exc}"
        message = job.relabel(message)
        job.error = {"code": code, "message": message, "text": error_text(code, message)}

    async def wait(self, job: Job, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``job``; True when it finished."""
        if job.future is None:
            return job.state in ("done", "failed")
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(job.future), timeout)
        return job.future.done()

    def sweep(self, now: float | None = None) -> int:
        """Remove finished jobs older than ``max_age`` (and unfinished ones four times that old)."""
        now = now or time.time()
        old = [
            job for job in self.jobs.values()
            if (job.finished is not None and now - job.finished > self.max_age) or now - job.created > 4 * self.max_age
        ]  # fmt: skip
        for job in old:
            self.discard(job)
        return len(old)

    def close(self) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)
