"""Batch: check (and fix) whole folders, in parallel, resumably, on one machine or a Dask cluster.

    >>> from preflight.batch import run_batch
    >>> result = run_batch(["incoming/"], outdir="ready/", jobs=4, profile="kie", resume=True)
    >>> result.summary, result.ok

Each file is handled on its own by :func:`~preflight.batch.work.process_file` (check, and with an
output folder fix); an executor runs that function (in-process, process pool, Dask); finished files
are appended to a state file at once, so Ctrl-C or a crash keeps them and ``resume=True`` skips
every file whose content hash and settings are already recorded.

With an output folder, the run holds its lock (:mod:`.lock`) from before the state is read until the
state is closed: a second batch into the same folder refuses at once (``batch.locked``), and a folder
nothing can be written to is refused before any file is looked at (``output.not_writable``). Temporary
files a killed run left below the output folder are removed first (:mod:`preflight.outfiles`), and so
are the temporary folders of killed workers (:mod:`preflight.tempdirs`).

The output folder may be an fsspec URL (``-o s3://bucket/ready``): each worker copies its outputs there,
and the lock and the state stay on this machine (:mod:`.url_outputs`). On a Dask cluster, paths are made
absolute before they are sent and a path a worker cannot see is ``dask.not_shared`` (:mod:`.cluster`).

A worker process that dies (``kill -9``, the out-of-memory killer) costs only the file it was on: a
failing ``worker.died`` row, recorded for ``--resume`` like any other; the pool restarts and the batch
goes on (:mod:`.pool`). Workers and the fork server end with the batch however it ends (:mod:`.lifeline`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..fix.options import DEFAULT_MAX_SIDE
from ..inputs import as_paths
from ..models import Report, Skipped
from ..profiles import ORIENTATIONS
from .executors import Executor, make_executor
from .lock import OutputLock
from .progress import Progress, SilentProgress
from .state import BatchState
from .walk import scan_inputs
from .work import BatchSettings, FileResult, process_file

__all__ = ["STATE_NAME", "BatchResult", "BatchSettings", "FileResult", "default_state_path", "process_file",
           "run_batch"]  # fmt: skip

log = logging.getLogger("preflight")

STATE_NAME = ".preflight-batch.jsonl"
"""The state file's name inside the output folder."""


@dataclass(frozen=True)
class BatchResult:
    """Every file's result, in input order, and how the run ended."""

    settings: BatchSettings
    profile: str
    results: tuple[FileResult, ...]
    total: int
    """Files found (more than ``len(results)`` when the run was interrupted)."""
    interrupted: bool
    seconds: float
    state_path: str | None
    skipped: tuple[Skipped, ...] = ()
    """What the input folders held that was not looked at, with reasons (see :mod:`.walk`)."""
    model: str | None = None
    provider: str | None = None

    @property
    def report(self) -> Report:
        """The inputs' checks as a :class:`Report` (every writer takes it)."""
        return Report(
            profile=self.profile,
            orientation=self.settings.orientation,
            items=tuple(r.item for r in self.results),
            strict=self.settings.strict,
            skipped=self.skipped,
            model=self.model,
            provider=self.provider,
        )

    @property
    def ok(self) -> bool:
        """Every file passes (with an output folder: every output passes) and none is missing."""
        return not self.interrupted and len(self.results) == self.total and all(r.passed for r in self.results)

    @property
    def summary(self) -> dict[str, int]:
        counts = dict(self.report.summary)
        counts["fixed"] = sum(1 for r in self.results if r.output and r.passed and r.item.verdict != "pass")
        counts["not_passing"] = sum(1 for r in self.results if not r.passed)
        counts["resumed"] = sum(1 for r in self.results if r.resumed)
        counts["not_done"] = self.total - len(self.results)
        return counts

    def fixes(self) -> dict[str, dict[str, Any]]:
        """Per input path, the keys ``fix --json`` adds (output, actions, after, reason)."""
        return {r.path: r.fix_extra() for r in self.results}

    def previews(self) -> dict[str, str | None]:
        return {r.path: r.preview for r in self.results}


def default_state_path(inputs: Sequence[str | os.PathLike[str]], outdir: str | os.PathLike[str] | None) -> Path:
    """``OUTDIR/.preflight-batch.jsonl``; for ``--check-only`` a file in the user cache named after the inputs,
    for an output URL one in the user cache named after the URL."""
    from .remote import is_url

    if outdir is not None and is_url(os.fspath(outdir)):
        from .url_outputs import local_home

        return local_home(os.fspath(outdir)) / STATE_NAME  # a bucket cannot take appends
    if outdir is not None:
        return Path(outdir) / STATE_NAME
    from platformdirs import user_cache_dir

    names = sorted(str(p) if is_url(p) else os.path.abspath(p) for p in inputs)
    key = hashlib.sha256("\0".join(names).encode()).hexdigest()[:16]
    return Path(user_cache_dir("preflight")) / "batch" / f"check-{key}.jsonl"


def run_batch(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    outdir: str | os.PathLike[str] | None = None,
    profile: str | os.PathLike[str] | None = None,
    orientation: str = "video",
    content: bool = True,
    strict: bool = False,
    jobs: int | None = None,
    executor: str | Executor = "local",
    scheduler: str | None = None,
    resume: bool = False,
    state_path: str | os.PathLike[str] | None = None,
    previews: bool = False,
    patterns: Sequence[str] = (),
    progress: Progress | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    start: float | None = None,
    end: float | None = None,
    aspect: str = "pad",
    fill: str = "blur",
    window: str = "best",
    max_side: int = DEFAULT_MAX_SIDE,
    reframe: str | None = None,
    person: str = "largest",
    stabilize: bool = False,
) -> BatchResult:
    """Check every file below ``inputs`` (and fix it into ``outdir``); see the module docstring.

    ``start``, ``end``, ``aspect``, ``fill``, ``window``, ``max_side``, ``reframe``, ``person`` and
    ``stabilize`` are :func:`preflight.fix.fix`'s options,
    applied to every file fixed (they are part of the resume key).

    ``on_result`` is called in this process as each file finishes (resumed ones first). The first
    Ctrl-C lets the running files finish and returns (``interrupted``); a second one stops at once.
    """
    from ..api import resolve_profile

    if orientation not in ORIENTATIONS:
        raise UsageError(f"orientation must be one of {', '.join(ORIENTATIONS)}, not {orientation!r}")
    inputs = [os.fspath(p) for p in as_paths(inputs)]
    prof = resolve_profile(profile)
    settings = BatchSettings(
        profile=None if profile is None else os.fspath(profile),
        orientation=orientation,
        content=content,
        strict=strict,
        outdir=os.fspath(outdir) if outdir is not None else None,
        previews=previews,
        start=start,
        end=end,
        aspect=aspect,
        fill=fill,
        window=window,
        max_side=max_side,
        reframe=reframe,
        person=person,
        stabilize=stabilize,
    )
    settings.validate()
    lock = _output_lock(settings.outdir)
    if lock is not None:
        lock.acquire()  # before the state is read: another run's state must not be mixed with ours
    try:
        return _run_locked(inputs, settings, prof, outdir, executor, jobs, scheduler, resume, state_path,
                           previews, patterns, progress, on_result, content)  # fmt: skip
    finally:
        if lock is not None:
            lock.release()


def _output_lock(outdir: str | None) -> OutputLock | None:
    """The output folder's lock; for an output URL a lock on this machine named after it, the store
    being checked for writing at once (see :mod:`.url_outputs`)."""
    from .remote import is_url

    if outdir is None:
        return None
    if not is_url(outdir):
        return OutputLock(outdir)
    from .url_outputs import check_writable, local_home

    check_writable(outdir)
    return OutputLock(local_home(outdir), named=outdir)


def _run_locked(
    inputs: list[str],
    settings: BatchSettings,
    prof: Any,
    outdir: str | os.PathLike[str] | None,
    executor: str | Executor,
    jobs: int | None,
    scheduler: str | None,
    resume: bool,
    state_path: str | os.PathLike[str] | None,
    previews: bool,
    patterns: Sequence[str],
    progress: Progress | None,
    on_result: Callable[[FileResult], None] | None,
    content: bool,
) -> BatchResult:
    from .remote import is_url

    if outdir is not None and not is_url(os.fspath(outdir)):
        _remove_stale_temps_below(Path(outdir))
    _remove_dead_workers_folders()
    state_file = Path(state_path) if state_path is not None else default_state_path(inputs, outdir)
    found = scan_inputs(inputs, patterns, exclude=[outdir] if outdir is not None else [])
    paths = [str(p) for p, _ in found.files]
    subdirs = {str(p): sub for p, sub in found.files}
    fingerprint = settings.fingerprint()
    state = BatchState(state_file)
    progress = progress or SilentProgress()
    engine = executor if isinstance(executor, Executor) else make_executor(executor, jobs, scheduler)
    started = time.monotonic()
    done: dict[str, FileResult] = {}
    todo = paths
    if resume:
        for path in paths:
            # A result stored without the pose model is checked again: the model may be there now.
            earlier = state.finished(path, fingerprint, need_preview=previews, need_pose=content)
            if earlier is not None:
                done[path] = earlier
        todo = [p for p in paths if p not in done]
    interrupted = False
    progress.start(len(paths), resumed=len(done))
    try:
        for result in done.values():
            if on_result is not None:
                on_result(result)
        with _stop_on_sigint(engine, progress) as stopped:
            try:
                for result in engine.run([(p, subdirs[p]) for p in todo], settings):
                    done[result.path] = result
                    state.record(result, fingerprint)
                    progress.advance(result)
                    if on_result is not None:
                        on_result(result)
            except KeyboardInterrupt:
                engine.abort()
                stopped.set()
        interrupted = stopped.is_set()
    finally:
        engine.close()
        state.close()
        progress.finish()
    ordered = tuple(done[p] for p in paths if p in done)
    return BatchResult(
        settings=settings,
        profile=prof.name,
        model=prof.model,
        provider=prof.provider,
        results=ordered,
        total=len(paths),
        interrupted=interrupted,
        seconds=round(time.monotonic() - started, 3),
        state_path=str(state_file),
        skipped=found.skipped,
    )


def _remove_stale_temps_below(outdir: Path) -> None:
    """What a killed run left in the output folder and its subfolders (outputs mirror the input tree)."""
    from ..outfiles import remove_stale_temps

    for folder, _, _ in os.walk(outdir):
        remove_stale_temps(Path(folder))


def _remove_dead_workers_folders() -> None:
    """Contact sheets, URL copies and outputs on their way to a URL of workers that were killed (each
    folder names its process)."""
    from ..tempdirs import remove_orphaned_tempdirs
    from .remote import FETCH_PREFIX
    from .url_outputs import OUT_PREFIX
    from .work import SHEET_PREFIX

    for prefix in (SHEET_PREFIX, FETCH_PREFIX, OUT_PREFIX):
        remove_orphaned_tempdirs(prefix)


@contextlib.contextmanager
def _stop_on_sigint(engine: Executor, progress: Progress) -> Iterator[threading.Event]:
    """First Ctrl-C: start nothing new, let the running files finish. Second: stop at once."""
    stopped = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stopped.is_set():
            raise KeyboardInterrupt
        stopped.set()
        engine.stop()
        progress.note("stopping after the files already running (Ctrl-C again to stop now)")

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Ctrl-C arrives as KeyboardInterrupt, handled by the caller
        yield stopped
        return
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)
