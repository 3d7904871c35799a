"""The per-file job every executor runs: check one file (and fix it when there is an output folder).

:func:`process_file` is a plain top-level function of picklable arguments returning a picklable
:class:`FileResult`, so the same code runs in-process, in a process pool and on Dask workers. It never
raises for a bad input: whatever goes wrong becomes a failing item, so one broken file never stops
a batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..errors import PreflightError, UsageError, memory_exhausted, out_of_memory
from ..fix.options import DEFAULT_MAX_SIDE, STABILIZE_NEEDS_CONTENT
from ..inputs import file_digest  # re-exported: it lived here first
from ..models import Finding, Item, Severity, to_dict

__all__ = ["BatchSettings", "FileResult", "RanOn", "died_result", "file_digest", "prepare_worker", "process_file"]

log = logging.getLogger("preflight")

FIX_ASPECTS = ("pad", "crop")
FIX_FILLS = ("blur", "solid")
FIX_WINDOWS = ("best", "start")
SHEET_PREFIX = "preflight-sheet-"
"""A clip's contact sheet is drawn in a temporary folder so named (a dead worker's is swept: see run_batch)."""


@dataclass(frozen=True)
class BatchSettings:
    """Everything that decides a file's result besides its content (so: the resume key)."""

    profile: str | None = None
    """Profile name or TOML path (None: the default profile)."""
    orientation: str = "video"
    content: bool = True
    """False: limits only (``--no-content``)."""
    strict: bool = False
    outdir: str | None = None
    """Where fixed files go; None for ``--check-only``."""
    previews: bool = False
    """Also render the HTML report's preview (frames with the pose skeleton drawn)."""
    start: float | None = None
    """The fix options (``preflight fix --start/--end/--aspect/--fill/--window``); used with ``outdir``."""
    end: float | None = None
    aspect: str = "pad"
    fill: str = "blur"
    window: str = "best"
    max_side: int = DEFAULT_MAX_SIDE
    """The long side a re-encoded clip is scaled down to (``--max-side``; 0 keeps the size)."""
    reframe: str | None = None
    """``fixed``: crop each clip to one window around one person (``--reframe``); None: no reframing."""
    person: str = "largest"
    """Whom ``reframe`` frames (``--person``)."""
    stabilize: bool = False
    """Take the shake out of clips the check finds shaky (``--stabilize``)."""

    def fix_options(self) -> Any:
        """The :class:`preflight.fix.FixOptions` every file is fixed with."""
        from ..fix import FixOptions

        return FixOptions(start=self.start, end=self.end, aspect=self.aspect, window=self.window, fill=self.fill,
                          max_side=self.max_side, reframe=self.reframe, person=self.person,
                          stabilize=self.stabilize)  # fmt: skip

    def validate(self) -> None:
        """Refuse impossible fix options before any file is walked (UsageError, exit 2)."""
        for name, allowed in (("aspect", FIX_ASPECTS), ("fill", FIX_FILLS), ("window", FIX_WINDOWS)):
            if getattr(self, name) not in allowed:
                raise UsageError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.start is not None and self.start < 0:
            raise UsageError(f"--start must be >= 0, not {self.start:g}")
        if self.end is not None and self.end <= (self.start or 0.0):
            raise UsageError(f"--end ({self.end:g}) must be after --start ({self.start or 0:g})")
        options = self.fix_options()  # FixOptions refuses the rest (a max_side of nan or -1) with usage.invalid
        if self.reframe and self.outdir and not self.content:
            raise UsageError("--reframe frames the person the content check finds: it cannot run with --no-content")
        if options.stabilize and not self.content and self.outdir:
            raise UsageError(STABILIZE_NEEDS_CONTENT)

    def _outdir_key(self) -> str | None:
        from .remote import is_url

        if not self.outdir:
            return None
        return self.outdir.rstrip("/") if is_url(self.outdir) else os.path.abspath(self.outdir)

    def fingerprint(self) -> str:
        """A short hash of the settings and the profile's contents (an edited profile redoes work)."""
        from .._version import __version__
        from ..api import resolve_profile

        profile = resolve_profile(self.profile)
        data = {
            "version": __version__,
            "profile": to_dict(profile),
            "orientation": self.orientation,
            "content": self.content,
            "strict": self.strict,
            "outdir": self._outdir_key(),
        }
        if self.outdir:  # the fix options change outputs only: a check-only state keeps its keys
            data["fix"] = {"start": self.start, "end": self.end, "aspect": self.aspect, "fill": self.fill,
                           "window": self.window, "max_side": self.max_side}  # fmt: skip
            if self.reframe:  # only when asked, so the states of earlier runs keep their keys
                data["fix"].update(reframe=self.reframe, person=self.person)
            if self.stabilize:
                data["fix"].update(stabilize=True)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RanOn:
    """The process a file was checked in: on a cluster, proof of which worker did it and where."""

    pid: int
    host: str
    cwd: str | None
    """Its working folder (None when that folder was removed)."""
    worker: str | None = None
    """The Dask worker's address (``tcp://10.0.0.5:40123``) when it ran on one."""

    @classmethod
    def here(cls) -> RanOn:
        try:
            cwd: str | None = os.getcwd()
        except OSError:
            cwd = None
        return cls(pid=os.getpid(), host=socket.gethostname(), cwd=cwd, worker=_dask_worker_address())


def _dask_worker_address() -> str | None:
    """This Dask worker's address; None outside one (distributed is never imported for the question)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return str(distributed.get_worker().address)
    except ValueError:  # "No worker found": not in a Dask task
        return None


@dataclass(frozen=True)
class FileResult:
    """What the batch learned about one file."""

    path: str
    item: Item
    """The check of the input."""
    digest: str | None
    """SHA-256 of the file's bytes (None when it could not be read)."""
    seconds: float
    """Wall time spent on this file in its worker."""
    output: str | None = None
    """The fixed file (None with --check-only, or when it could not be fixed)."""
    actions: tuple[str, ...] = ()
    after: Item | None = None
    """The re-check of ``output``."""
    reason: str | None = None
    """Why there is no output, when fixing was asked for."""
    preview: str | None = field(default=None, repr=False)
    """data: URI of the preview image for the HTML report."""
    reframe_preview: str | None = field(default=None, repr=False)
    """data: URI of the before/after frames of a ``--reframe`` crop (with the skeleton), for the HTML report."""
    resumed: bool = False
    """True when the result came from the state file of an earlier run."""
    ran_on: RanOn | None = field(default=None, compare=False)
    """Where the file was checked (a pool or Dask worker, or this process); None for a result resumed
    from the state file. Shown in ``--jsonl`` and ``--json``, never kept in the state."""

    @property
    def final_verdict(self) -> str:
        """The verdict that decides the exit code: the output's when a fix ran, else the input's."""
        return self.after.verdict if self.after is not None else self.item.verdict

    @property
    def passed(self) -> bool:
        return self.final_verdict == "pass"

    def fix_extra(self) -> dict[str, Any]:
        """The keys ``fix --json`` adds to an item (output, actions, after)."""
        from ..report import item_to_dict

        return {
            "output": self.output,
            "actions": list(self.actions),
            "after": item_to_dict(self.after) if self.after is not None else None,
            "reason": self.reason,
        }

    def html_fix(self) -> dict[str, Any]:
        """What the HTML report's Output cell shows (:func:`preflight.html_report.render_html`'s ``fixes``)."""
        return {**self.fix_extra(), "after": self.after, "reframe_preview": self.reframe_preview}


@lru_cache(maxsize=8)
def _profile(ref: str | None) -> Any:
    from ..api import resolve_profile

    return resolve_profile(ref)


def prepare_worker(settings: BatchSettings) -> None:
    """Load once per worker process what every file needs: the profile and the pose model.

    Called by the process pool's initializer and on each Dask worker. A missing pose model is not an
    error here: the checks say pose was skipped, as ``check`` does.
    """
    from ..nativelog import add_log_handler, filter_in_worker, is_filtering, route_python_warnings

    filter_in_worker()  # under the CLI's filter: whole lines only, or MediaPipe's pieces interleave
    if not log.handlers and not logging.getLogger().handlers:
        add_log_handler(log)  # else Python's last resort prints a worker's warning with the file name raw
    if is_filtering():  # under the CLI (not --debug): its warnings go to the debug log, as the CLI's own do
        route_python_warnings()
    _profile(settings.profile)
    if not settings.content:
        return
    try:
        from ..analyze.pose import PoseEstimator

        PoseEstimator.shared("image")
    except (PreflightError, ImportError) as exc:
        log.info("pose model not loaded in worker %d: %s", os.getpid(), exc)


def process_file(path: str, settings: BatchSettings, subdir: str = "") -> FileResult:
    """Check (and with ``settings.outdir`` fix) one file; never raises for a bad input.

    ``subdir`` is the file's folder relative to the input folder it was found in: its output goes to
    ``outdir/subdir`` so the output tree mirrors the input tree (and same-named files do not meet).
    """
    started = time.perf_counter()
    from .remote import is_url

    if is_url(path):
        result = _process_url(path, settings, subdir)
    else:
        result = _process_local(path, settings, subdir, file_digest(path))
    return replace(result, seconds=round(time.perf_counter() - started, 4), ran_on=RanOn.here())


def _process_local(path: str, settings: BatchSettings, subdir: str, digest: str | None) -> FileResult:
    try:
        result = _work(path, settings, digest, subdir)
    except KeyboardInterrupt:
        raise
    except PreflightError as exc:
        result = _failed(path, digest, exc.code, exc.message)
    except Exception as exc:  # one broken file must never stop the batch
        if out_of_memory(exc):  # the machine, not a bug: memory.exhausted, and the next file goes on
            error = memory_exhausted(exc, path)
            result = _failed(path, digest, error.code, error.message)
        else:
            log.debug("internal error on %s", path, exc_info=True)
            result = _failed(path, digest, "internal.error", f"{type(exc).__name__}: {exc}")
    if settings.previews and result.preview is None:
        result = replace(result, preview=_preview(result, settings))
    return result


def _process_url(url: str, settings: BatchSettings, subdir: str) -> FileResult:
    """A URL's file, fetched once to a local copy (hashed on the way), processed, reported by URL."""
    from .remote import fetched, relabel

    try:
        with fetched(url) as got:
            if got.error is not None:
                return _failed(url, None, got.error.code, got.error.message)
            return relabel(_process_local(got.local, settings, subdir, got.digest), got.local, url)
    except PreflightError as exc:  # fsspec (or the filesystem's package) missing where this runs
        return _failed(url, None, exc.code, exc.message)


def _work(path: str, settings: BatchSettings, digest: str | None, subdir: str) -> FileResult:
    from ..api import check_one

    profile = _profile(settings.profile)
    if settings.outdir is None:
        if settings.previews and settings.content:
            return _check_with_sheet(path, settings, profile, digest)
        item = check_one(path, profile, settings.orientation, content=settings.content, strict=settings.strict)
        return FileResult(path=path, item=item, digest=digest, seconds=0.0)
    return _fix_one(path, settings, profile, digest, subdir)


def _check_with_sheet(path: str, settings: BatchSettings, profile: Any, digest: str | None) -> FileResult:
    """Check one file; a clip's preview is the contact sheet its one decode collected (pose drawn from
    the check's own observations), so no frame is decoded or posed twice. Images get none here."""
    from ..api import check_one
    from ..tempdirs import owned_tempdir
    from .preview import sheet_data_uri

    with owned_tempdir(SHEET_PREFIX) as folder:
        sheet = os.path.join(folder, "sheet.png")
        item = check_one(path, profile, settings.orientation, content=True, strict=settings.strict,
                         contact_sheet=sheet)  # fmt: skip
        preview = sheet_data_uri(sheet) if os.path.exists(sheet) else None
    return FileResult(path=path, item=item, digest=digest, seconds=0.0, preview=preview)


def _fix_one(path: str, settings: BatchSettings, profile: Any, digest: str | None, subdir: str) -> FileResult:
    from .remote import is_url

    assert settings.outdir is not None
    if not is_url(settings.outdir):
        outdir = os.path.join(settings.outdir, subdir) if subdir else settings.outdir
        return _fix_into(path, settings, profile, digest, outdir)
    from ..tempdirs import owned_tempdir
    from .url_outputs import OUT_PREFIX, join_url, published

    with owned_tempdir(OUT_PREFIX) as folder:  # fixed and re-checked here, then copied to the URL
        return published(_fix_into(path, settings, profile, digest, str(folder)), join_url(settings.outdir, subdir))


def _fix_into(path: str, settings: BatchSettings, profile: Any, digest: str | None, outdir: str) -> FileResult:
    from ..errors import FixError
    from ..fix import fix_one
    from ..fix.outputs import OutputNamer

    options = settings.fix_options()

    from ..tempdirs import owned_tempdir
    from .preview import sheet_data_uri

    with owned_tempdir(SHEET_PREFIX) as folder:
        # The HTML preview of a clip comes from the input check's own decode, as in --check-only.
        sheet = os.path.join(folder, "sheet.png") if settings.previews and settings.content else None

        def attempt() -> Any:
            return fix_one(path, OutputNamer(outdir, [path]), profile, settings.orientation, options,
                           content=settings.content, contact_sheet=sheet, strict=settings.strict)  # fmt: skip

        try:
            one = attempt()
        except FixError as exc:
            if exc.code != "fix.output":
                raise
            # Two workers picked the same free name at once (clip.mov and clip.mp4 -> clip.mp4): a fresh
            # namer now sees the other's file and picks the next name.
            log.info("%s: %s; choosing another output name", path, exc.one_line())
            one = attempt()
        preview = sheet_data_uri(sheet) if sheet is not None and os.path.exists(sheet) else None
    reframed = None
    if settings.previews and settings.reframe:
        from .preview import reframe_preview_for

        reframed = reframe_preview_for(one)
    return FileResult(
        path=path,
        item=one.before,
        digest=digest,
        seconds=0.0,
        output=one.output,
        actions=tuple(one.actions),
        after=one.after,
        reason=one.reason,
        preview=preview,
        reframe_preview=reframed,
    )


def died_result(path: str, message: str) -> FileResult:
    """The failing row of a file whose worker process died on it (``worker.died``), made in the batch's
    own process; hashed here (for a local file) so ``--resume`` records it like any other failing file."""
    from .remote import is_url

    digest = None if is_url(path) else file_digest(path)  # None for a URL: it would be fetched again
    return _failed(path, digest, "worker.died", message)


def _failed(path: str, digest: str | None, code: str, message: str) -> FileResult:
    finding = Finding(code, Severity.ERROR, message)
    item = Item(path=path, role="unknown", verdict="fail", findings=(finding,))
    return FileResult(path=path, item=item, digest=digest, seconds=0.0)


def _preview(result: FileResult, settings: BatchSettings) -> str | None:
    from .preview import preview_data_uri

    try:
        return preview_data_uri(result.item, pose=settings.content)
    except Exception as exc:  # a preview is a nicety: never lose the result for it
        log.info("no preview for %s: %s", result.path, exc)
        return None
