"""Batch inputs named by fsspec URLs (``memory://``, ``file://``, ``s3://``, ``gs://``...).

fsspec is optional (``pip install "preflight-motion[remote]"``; the ``dask`` extra brings it too) and
is imported only when an input looks like a URL. Each filesystem's own package (s3fs, gcsfs...) is
the user's to install; fsspec's message says which.

- Walking: a URL naming a folder is listed recursively; a URL with ``*``/``?``/``[`` is a glob. As
  for local folders (:mod:`preflight.inputs`), every file is kept, media or not (its check says what
  it is), and hidden names, sidecars and ``--glob`` exclusions are counted as skipped with a reason.
- Reading: PyAV and Pillow want paths, so :func:`fetched` copies a remote file once into a private
  temporary folder under its own name (fix names outputs after it), hashing it on the way (the
  resume key stays the content's SHA-256), and removes the folder afterwards (or the next batch does,
  when the worker was killed: the folder names its process). ``file://`` URLs are read in place.
- Reports show the URL, never the temporary copy (:func:`relabel`).

Workers must reach the URL themselves: ``memory://`` lives in one process, so it works with
``--jobs 1`` (or a threaded Dask cluster) only; object stores work from any worker or cluster.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import PreflightError, UsageError
from ..inputs import GLOB_CHARS
from ..models import Skipped

__all__ = ["FSSPEC_INSTALL", "Fetched", "fetched", "is_url", "relabel", "relabel_item", "remote_digest",
           "remote_stat", "scan_url", "walk_url"]  # fmt: skip

FSSPEC_INSTALL = 'pip install "preflight-motion[remote]"  (or: pip install fsspec)'
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
FETCH_PREFIX = "preflight-fetch-"
"""The temporary copy's folder is named so, after the process making it (a dead worker's is swept: see
run_batch and :mod:`preflight.tempdirs`)."""
COPY_CHUNK = 1 << 20


def is_url(text: str | os.PathLike[str]) -> bool:
    """``scheme://...`` (two letters at least, so a Windows drive ``C:\\`` never counts)."""
    return isinstance(text, str) and bool(_URL.match(text))


def _filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` for ``url``; UsageError saying what to install."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:
        raise UsageError(f"{url}: reading URLs needs fsspec: {FSSPEC_INSTALL}", "fsspec.missing") from exc
    try:
        return url_to_fs(url)
    except ImportError as exc:  # fsspec knows the protocol, its package is missing ("Install s3fs to access S3")
        raise UsageError(f"{url}: {exc}", "fsspec.missing") from exc
    except ValueError as exc:  # "Protocol not known: nope"
        raise UsageError(f"{url}: {exc}", "usage.invalid") from exc


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def walk_url(url: str, patterns: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(file URL, folder relative to the walked root)`` pairs below ``url`` (see :func:`scan_url`)."""
    return scan_url(url, patterns)[0]


def scan_url(url: str, patterns: Sequence[str] = ()) -> tuple[list[tuple[str, str]], list[Skipped]]:
    """Every file below ``url`` to check, as ``(file URL, folder relative to the walked root)``, sorted,
    and what was skipped with its reason: the rules of :mod:`preflight.inputs` (hidden names and
    sidecars skipped, a hidden folder counted once, ``--glob`` exclusions counted). No file is opened.

    A URL naming one file is returned as it is (missing or not media: its check says why).
    """
    from ..inputs import matches, name_skip_reason, no_files_error

    scheme_end = url.index("://") + 3
    wild = [i for i, c in enumerate(url) if c in GLOB_CHARS and i >= scheme_end]
    globbing = bool(wild)
    # A glob's root: the folder before its first wildcard (``s3://b/takes/*.mp4`` -> ``s3://b/takes``).
    root_url = url[: max(url.rfind("/", 0, wild[0]), scheme_end)] if wild else url
    fs, root = _filesystem(root_url)
    if _is_local(fs):  # file://: the local walk itself, so links and special files follow its rules
        return _scan_local(url, root_url, root, _filesystem(url)[1] if globbing else None, patterns)
    try:
        if globbing:
            _, pattern = _filesystem(url)
            listed = [p for p in fs.glob(pattern) if fs.isfile(p)]
        elif fs.isdir(root):
            listed = fs.find(root)
        else:
            return [(url, "")], []
    except OSError as exc:
        raise PreflightError(f"{url}: cannot list: {exc}", "file.unreadable") from exc
    out: list[tuple[str, str]] = []
    skipped: dict[str, Skipped] = {}
    base = root.rstrip("/")
    prefix = root_url.rstrip("/")
    for path in sorted(listed):
        relative = path[len(base) :].lstrip("/") if path.startswith(base) else path.rsplit("/", 1)[-1]
        parts = relative.split("/")
        reasons = [(i, name_skip_reason(part)) for i, part in enumerate(parts)]
        first = next(((i, r) for i, r in reasons if r is not None), None)
        if first is not None:  # a hidden folder counts once, as in a local walk
            i, reason = first
            where = prefix + "/" + "/".join(parts[: i + 1])
            detail = "folder: nothing below it was looked at" if i < len(parts) - 1 else ""
            skipped.setdefault(where, Skipped(where, reason, detail))
            continue
        if patterns and not globbing and not matches(relative, patterns):
            skipped[prefix + "/" + relative] = Skipped(prefix + "/" + relative, "glob")
            continue
        out.append((prefix + "/" + relative, "" if globbing else "/".join(parts[:-1])))
    if not out:
        raise no_files_error(url, list(skipped.values()), "match" if globbing else "in this folder")
    return out, sorted(skipped.values(), key=lambda s: s.path)


def _scan_local(url: str, root_url: str, root: str, pattern: str | None,
                patterns: Sequence[str]) -> tuple[list[tuple[str, str]], list[Skipped]]:  # fmt: skip
    """A ``file://`` folder or glob walked as the local path it is (links out of the tree not followed,
    links to folders and FIFOs as in a local walk), its files and skips named by URL."""
    from pathlib import Path

    from ..inputs import expand_glob, no_files_error, walk_folder

    prefix = root_url.rstrip("/")

    def as_url(path: str | os.PathLike[str]) -> str:
        try:
            return prefix + "/" + Path(path).relative_to(root).as_posix()
        except ValueError:
            return Path(path).absolute().as_uri()

    if pattern is not None:
        files, skips = expand_glob(pattern)
        if not files:
            raise no_files_error(url, skips, "match")
        found = [(as_url(p), "") for p in files]
    elif os.path.isdir(root):
        scan = walk_folder(root, patterns)
        if not scan.files:
            raise no_files_error(url, scan.skipped)
        files, skips = list(scan.files), list(scan.skipped)
        subs = [Path(p).parent.relative_to(root).as_posix() for p in files]
        found = [(as_url(p), "" if sub == "." else sub) for p, sub in zip(files, subs, strict=True)]
    else:
        return [(url, "")], []
    return found, [replace(s, path=as_url(s.path)) for s in skips]


@dataclass(frozen=True)
class Fetched:
    """A URL's bytes on local disk: ``local`` to read, ``digest`` of them (None when unreadable)."""

    url: str
    local: str
    digest: str | None
    error: PreflightError | None = None
    """Why the file could not be fetched (``local`` then does not exist)."""


@contextlib.contextmanager
def fetched(url: str) -> Iterator[Fetched]:
    """The file at ``url`` as a local path for the ``with`` block, hashed while copied; removed after."""
    fs, path = _filesystem(url)
    name = path.rstrip("/").rsplit("/", 1)[-1] or "input"
    if _is_local(fs):  # already a path: no copy
        from ..inputs import file_digest

        yield Fetched(url, path, file_digest(path))
        return
    from ..tempdirs import make_owned_tempdir

    folder = str(make_owned_tempdir(FETCH_PREFIX))
    local = os.path.join(folder, name)
    try:
        try:
            got = Fetched(url, local, _copy_hashing(fs, path, local))
        except FileNotFoundError:
            got = Fetched(url, local, None, PreflightError(f"{url}: no such file", "file.not_found"))
        except OSError as exc:
            got = Fetched(url, local, None, PreflightError(f"{url}: cannot read: {exc}", "file.unreadable"))
        yield got
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_hashing(fs: Any, path: str, local: str) -> str:
    sha = hashlib.sha256()
    with fs.open(path, "rb") as src, open(local, "wb") as dst:
        while chunk := src.read(COPY_CHUNK):
            sha.update(chunk)
            dst.write(chunk)
    return sha.hexdigest()


def remote_digest(url: str) -> str | None:
    """SHA-256 of the bytes at ``url``, streamed (nothing written), or None when unreadable."""
    try:
        fs, path = _filesystem(url)
        sha = hashlib.sha256()
        with fs.open(path, "rb") as src:
            while chunk := src.read(COPY_CHUNK):
                sha.update(chunk)
    except (OSError, PreflightError):
        return None
    return sha.hexdigest()


def remote_stat(url: str) -> list[Any] | None:
    """``[url, size, version]``: what says the bytes did not change without reading them.

    The version is the first of ETag, mtime, LastModified, created the filesystem reports; the
    state file reuses a recorded hash only when all three are equal.
    """
    try:
        fs, path = _filesystem(url)
        info = fs.info(path)
    except (OSError, PreflightError):
        return None
    version = next((info[k] for k in ("ETag", "etag", "mtime", "LastModified", "created") if info.get(k)), None)
    if version is None or info.get("size") is None:
        return None
    return [url, int(info["size"]), str(version)]


def relabel(result: Any, local: str, url: str) -> Any:
    """``result`` (a FileResult) as if it had been read from ``url``: paths and messages name the URL."""
    if local == url:
        return result

    reason = result.reason.replace(local, url) if result.reason else result.reason
    return replace(result, path=url, item=relabel_item(result.item, local, url), reason=reason)


def relabel_item(item: Any, local: str, url: str) -> Any:
    """``item`` (an Item checked at ``local``) naming ``url`` instead, in its paths and messages."""
    media = replace(item.media, path=url) if item.media is not None else None
    findings = tuple(replace(f, message=f.message.replace(local, url)) for f in item.findings)
    return replace(item, path=url, media=media, findings=findings)
