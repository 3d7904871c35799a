"""Batch on a Dask cluster: what the client settles before it sends a file, and checks when the answer comes.

Workers run in their own working folder, often on other machines, so nothing relative may be sent
(issue 21: with ``dask worker`` started in its own folder, every relative input was ``file.not_found``):

- Input paths, ``-o`` and a ``--profile`` file are made absolute on the client before dispatch; the
  results name them back as the user gave them, so the report is the one a local run gives.
- Without ``--profile`` the client's default (``PREFLIGHT_PROFILE``, ``PREFLIGHT_MODEL``) is named
  explicitly: a worker's own environment would otherwise choose.
- An input the client reads but a worker does not find is ``dask.not_shared`` (naming the worker),
  not ``file.not_found``: the file exists, only not where that worker looks.
- A local ``-o``: the client leaves a marker file in it (a temporary name, so a killed run's is swept
  by the next run into the folder). A worker that does not see the marker writes nothing and fails the
  file with ``dask.not_shared``: otherwise its outputs would land in a folder of the same name on its
  own disk, where nobody looks.
- ``-o`` as an fsspec URL needs none of this: every worker writes there itself (:mod:`.url_outputs`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path

from ..models import Finding, Item, Severity
from .remote import is_url
from .work import BatchSettings, FileResult, RanOn, process_file

__all__ = ["NOT_SHARED", "OutputMarker", "answered", "check_on_worker", "for_workers", "sent_path"]

NOT_SHARED = "dask.not_shared"
SHARED_STORAGE = ("must be on storage the Dask workers share, under the same path, "
                  "or be an fsspec URL they reach (s3://...)")  # fmt: skip


def sent_path(path: str) -> str:
    """An input as a worker must be given it: absolute (a URL as it is)."""
    return path if is_url(path) else os.path.abspath(path)


def for_workers(settings: BatchSettings) -> BatchSettings:
    """``settings`` with nothing left for a worker's working folder or environment to decide."""
    from ..profiles import default_profile_name
    from ..profiles.contracts import is_file

    outdir = settings.outdir
    if outdir is not None and not is_url(outdir):
        outdir = os.path.abspath(outdir)
    profile = settings.profile if settings.profile is not None else default_profile_name()
    if is_file(profile):
        profile = os.path.abspath(profile)
    return replace(settings, outdir=outdir, profile=profile)


class OutputMarker:
    """A file the client puts into a local ``-o`` folder for the workers to find (see the module docstring)."""

    def __init__(self, outdir: str) -> None:
        from ..outfiles import create_temp

        self.path = str(create_temp(Path(outdir) / "dask-workers-see-this"))

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def check_on_worker(path: str, settings: BatchSettings, subdir: str, marker: str | None) -> FileResult:
    """:func:`.work.process_file` on a Dask worker, once the worker has shown it sees the output folder."""
    if marker is not None and not os.path.exists(marker):
        here = RanOn.here()
        message = (f"{settings.outdir}: the Dask worker {here.worker} on {here.host} does not see this output "
                   f"folder, so nothing was written; -o {SHARED_STORAGE}")  # fmt: skip
        return replace(_not_shared(path, message), ran_on=here)
    return process_file(path, settings, subdir)


def answered(result: FileResult, path: str, given: BatchSettings, sent: BatchSettings) -> FileResult:
    """A worker's ``result`` for ``path`` named as the user gave it; a file this machine reads but the worker
    did not find is ``dask.not_shared``."""
    renames = [(sent_path(path), path)]
    if sent.outdir is not None and given.outdir is not None and sent.outdir != given.outdir:
        renames.append((sent.outdir, str(Path(given.outdir))))
    result = _renamed(result, [(old, new) for old, new in renames if old != new])
    if _worker_missed(result, path):
        where = result.ran_on
        worker = f"the Dask worker {where.worker} on {where.host}" if where is not None else "a Dask worker"
        message = (f"{path}: {worker} finds no file at {sent_path(path)}, which this machine reads; "
                   f"inputs {SHARED_STORAGE}")  # fmt: skip
        return replace(_not_shared(path, message), ran_on=result.ran_on, seconds=result.seconds)
    return result


def _worker_missed(result: FileResult, path: str) -> bool:
    first = next(iter(result.item.findings), None)
    return (result.digest is None and first is not None and first.code == "file.not_found" and not is_url(path)
            and os.path.exists(path))  # fmt: skip


def _renamed(result: FileResult, renames: list[tuple[str, str]]) -> FileResult:
    """Every path and message of ``result`` with each ``old`` prefix replaced by its ``new`` one."""
    if not renames:
        return result
    renames.sort(key=lambda pair: len(pair[0]), reverse=True)  # the longer (a file below a folder) first

    def text(value: str) -> str:
        for old, new in renames:
            value = value.replace(old, new)
        return value

    def item(it: Item) -> Item:
        media = replace(it.media, path=text(it.media.path)) if it.media is not None else None
        findings = tuple(replace(f, message=text(f.message)) for f in it.findings)
        return replace(it, path=text(it.path), media=media, findings=findings)

    return replace(result, path=text(result.path), item=item(result.item),
                   after=item(result.after) if result.after is not None else None,
                   output=text(result.output) if result.output else result.output,
                   reason=text(result.reason) if result.reason else result.reason)  # fmt: skip


def _not_shared(path: str, message: str) -> FileResult:
    finding = Finding(NOT_SHARED, Severity.ERROR, message)
    item = Item(path=path, role="unknown", verdict="fail", findings=(finding,))
    return FileResult(path=path, item=item, digest=None, seconds=0.0)
