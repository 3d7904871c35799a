"""Batch outputs written to an fsspec URL (``-o s3://bucket/ready``, ``-o file:///shared/ready``).

Every worker writes its own outputs there, so a Dask cluster needs no shared disk for them; the local
executors take the same path. fsspec and the store's package (s3fs, gcsfs...) must be installed, and
the store reachable with credentials, wherever files are fixed.

- A file is fixed into a private temporary folder of its worker (named after its process, so a killed
  worker's is swept by the next batch), re-checked there, then copied to ``URL/<subdir>/<name>``. The
  name is the first free ``stem[-N].ext``, claimed by an exclusive create (S3's ``If-None-Match``,
  ``O_EXCL`` for ``file://``), so two workers never replace each other's output; a store that cannot
  create exclusively is asked whether the name exists first.
- A ``file://`` output is written under a temporary name beside its target and linked into place
  (:func:`preflight.fix.outputs.written_atomically`): a killed worker leaves no half file under a
  real name. An object store shows an object only once its upload completed.
- A store that refuses (no bucket, no permission, unreachable) fails that file's output
  (``output.not_writable`` or ``fix.output`` with the store's words): its ``after`` check fails, so
  the file is not ready and the batch exits 1. Before any file is looked at, the batch writes and
  removes one small object there (:func:`check_writable`).
- The lock and the resume state cannot live in a bucket (no ``flock``, no append): they are kept on
  this machine, in a folder of the user cache named after the URL (:func:`local_home`).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import FixError, PreflightError
from ..models import Finding, Item, Severity

__all__ = ["OUT_PREFIX", "check_writable", "join_url", "local_home", "output_exists", "publish", "published"]

OUT_PREFIX = "preflight-out-"
"""A worker's temporary folder for a file fixed before its copy to the URL (swept when its process is gone)."""
NAME_TRIES = 1000
COPY_CHUNK = 1 << 20


def join_url(url: str, *parts: str) -> str:
    """``url`` with ``parts`` appended as path segments (empty ones dropped)."""
    return "/".join([url.rstrip("/"), *(p.strip("/") for p in parts if p.strip("/"))])


def local_home(url: str) -> Path:
    """The folder on this machine that holds the lock and the resume state of a batch into ``url``."""
    from platformdirs import user_cache_dir

    key = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return Path(user_cache_dir("preflight")) / "batch" / f"out-{key}"


def check_writable(url: str) -> None:
    """Write and remove one small object below ``url``; the coded error if the store refuses."""
    from .remote import _filesystem

    fs, root = _filesystem(url)
    probe = f"{root.rstrip('/')}/.preflight-write-check-{secrets.token_hex(4)}"
    try:
        _make_folder(fs, root)
        with fs.open(probe, "wb") as fh:
            fh.write(b"preflight")
        fs.rm_file(probe)
    except (OSError, ValueError) as exc:  # s3fs: PermissionError, FileNotFoundError (no bucket), ValueError
        raise _store_error(exc, url, "cannot write in this output URL") from exc


def output_exists(output: str) -> bool:
    """Whether a recorded output (a local path or a URL) is still there."""
    from .remote import _filesystem, is_url

    if not is_url(output):
        return Path(output).exists()
    try:
        fs, path = _filesystem(output)
        return bool(fs.exists(path))
    except (OSError, PreflightError):
        return False


def published(result: Any, folder_url: str) -> Any:
    """``result`` (a FileResult fixed into a local temporary folder) with its output copied to
    ``folder_url`` and every path naming the copy; a copy the store refused fails the output."""
    from .remote import relabel_item

    if result.output is None:
        return result
    local = result.output
    try:
        url = publish(Path(local), folder_url)
    except PreflightError as exc:
        failing = Item(path=join_url(folder_url, Path(local).name), role=result.item.role, verdict="fail",
                       findings=(Finding(exc.code, Severity.ERROR, exc.message),))  # fmt: skip
        return replace(result, output=None, after=failing, reason=exc.one_line())
    after = relabel_item(result.after, local, url) if result.after is not None else None
    reason = result.reason.replace(local, url) if result.reason else result.reason
    return replace(result, output=url, after=after, reason=reason)


def publish(local: Path, folder_url: str) -> str:
    """Copy ``local`` into ``folder_url`` under the first free ``stem[-N].ext``; the URL it got."""
    from .remote import _filesystem, _is_local

    fs, folder = _filesystem(folder_url)
    names = _free_names(local.stem, local.suffix)
    if _is_local(fs):
        try:
            _make_folder(fs, folder)
        except OSError as exc:
            raise _store_error(exc, folder_url, "cannot create this output folder") from exc
        return Path(_link_into_place(local, Path(folder), names)).as_uri()
    for name in names:
        target = f"{folder.rstrip('/')}/{name}"
        try:
            _put_exclusive(fs, local, target)
        except FileExistsError:
            continue
        except (OSError, ValueError) as exc:
            raise _store_error(exc, join_url(folder_url, name), "cannot write this output") from exc
        return join_url(folder_url, name)
    raise FixError(f"{folder_url}: no free name for {local.name}", "fix.output")


def _make_folder(fs: Any, folder: str) -> None:
    """A local folder is made; an object store has no folders (and s3fs's makedirs would create a
    missing bucket, so a mistyped bucket name must not get that far)."""
    from .remote import _is_local

    if _is_local(fs):
        fs.makedirs(folder, exist_ok=True)


def _free_names(stem: str, suffix: str) -> Any:
    for n in range(NAME_TRIES):
        yield f"{stem}{suffix}" if n == 0 else f"{stem}-{n}{suffix}"


def _link_into_place(local: Path, folder: Path, names: Any) -> Path:
    """A ``file://`` output: copied beside its target under a temporary name, then linked into place
    (never replacing a file another worker put there first)."""
    from ..fix.outputs import written_atomically

    first = folder / next(names)
    with written_atomically(first, lambda: folder / next(names)) as staged:
        shutil.copyfile(local, staged.tmp)
    return staged.target


def _put_exclusive(fs: Any, local: Path, target: str) -> None:
    """Upload ``local`` to ``target`` only if nothing is there (FileExistsError otherwise)."""
    try:
        dst = fs.open(target, "xb")
    except (ValueError, NotImplementedError, TypeError):  # no exclusive create here: look, then write
        if fs.exists(target):
            raise FileExistsError(target) from None
        dst = fs.open(target, "wb")
    with open(local, "rb") as src, dst:
        while chunk := src.read(COPY_CHUNK):
            dst.write(chunk)


def _store_error(exc: BaseException, where: str, doing: str) -> PreflightError:
    """What the store said, coded: ``output.not_writable`` for a refusal or a missing bucket, ``fix.output``
    for anything else (the network)."""
    from ..outfiles import NOT_WRITABLE

    words = str(exc) or type(exc).__name__
    if isinstance(exc, PreflightError):
        return exc
    if isinstance(exc, PermissionError | FileNotFoundError):  # refused, or no such bucket
        return FixError(f"{where}: {doing}: {words}", NOT_WRITABLE)
    return FixError(f"{where}: {doing}: {words}", "fix.output")
