"""Which files a folder holds: every one is checked or counted as skipped with a reason, none vanishes.

Used by :func:`preflight.api.collect_inputs` (``check``, ``fix``) and :mod:`preflight.batch.walk`
(``batch``, globs); :mod:`preflight.batch.remote` applies the same names to fsspec URLs.

- Every file below a folder is checked, media or not: the check says what it is (``format.unrecognized``
  for a text file named ``.mp4``, ``file.empty``, ``file.unreadable``, ``file.not_found`` for a broken
  link and where it points, ``file.link_loop`` for a link in a loop of links, ``file.special`` for a
  FIFO, socket or device).
- Walking never opens a file (a FIFO opened for reading waits for a writer forever); the check opens
  regular files only (:func:`open_regular`), and so does :func:`file_digest` (batch's resume key).
- A glob (:func:`expand_glob`) keeps what it matches inside its fixed leading folder, with the same
  skip rules.
- Skipped, and counted with a reason (:data:`preflight.models.SKIP_REASONS`):
  ``sidecar``  metadata a system or an editor writes beside media (:data:`SIDECAR_NAMES`,
               :data:`SIDECAR_SUFFIXES`, AppleDouble ``._*``), by name;
  ``hidden``   other dot-names; a hidden folder counts once and is not entered;
  ``link_outside``  a symbolic link whose target lies outside the folder walked (never followed);
  ``folder_link``   a link to a folder inside it (not followed: its files are found through the folder);
  ``duplicate``     another name (a link) of a file already listed;
  ``output_folder`` batch's own ``-o`` folder inside an input folder;
  ``glob``     a file ``--glob`` left out: counted, not listed one by one.
- A folder below that cannot be listed is checked as a path of its own: ``file.unreadable``.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import PreflightError, ProbeError, UsageError
from .models import Skipped, describe_skipped

__all__ = ["GLOB_CHARS", "SIDECAR_NAMES", "SIDECAR_SUFFIXES", "FolderScan", "as_paths", "expand_glob", "file_digest",
           "matches", "name_skip_reason", "no_files_error", "open_regular", "resolved", "walk_folder"]  # fmt: skip

SIDECAR_NAMES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".directory", "icon\r"})
"""File names (any case) systems write into every folder they show: macOS Finder, Windows Explorer,
KDE Dolphin, the macOS custom-icon file ``Icon\\r``."""
SIDECAR_SUFFIXES = frozenset({".aae", ".xmp"})
"""Edit sidecars beside photos and clips: the iPhone's ``IMG_0001.AAE`` (an XML list of the edits
Photos applied; an export from an iPhone has one per edited picture) and XMP (Lightroom, darktable,
Premiere, Resolve). They are text about media, never media: reporting each as
``format.unrecognized`` would fail every phone export and every editor's folder for nothing. Matched
by name, so a walk opens no file to decide."""
GLOB_CHARS = frozenset("*?[")
"""An argument with one of these that is not an existing path is a glob (a URL: after its scheme)."""
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class FolderScan:
    """What a walk found: the files to check (sorted) and what it skipped, with reasons."""

    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...]


def name_skip_reason(name: str) -> str | None:
    """``sidecar``, ``hidden`` or None for a file or folder name."""
    lower = name.lower()
    if lower in SIDECAR_NAMES or name.startswith("._") or os.path.splitext(lower)[1] in SIDECAR_SUFFIXES:
        return "sidecar"
    if name.startswith("."):
        return "hidden"
    return None


def matches(relative: str, patterns: Sequence[str]) -> bool:
    """True when a ``--glob`` pattern matches the path below the folder or the bare name."""
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns)


def as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    """One path or several, as a list: a lone string (or Path) is one path. Iterated, a string is its
    characters, and the "." or "/" among them a whole folder or the whole disk (seen: a notebook's
    ``check("clip.mp4")`` ran over every file of the project)."""
    if isinstance(paths, str | os.PathLike):
        return [paths]
    return list(paths)


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` with its links resolved; for a loop of links (or a path the system refuses to
    resolve) the path made absolute: the check of that file then says what is wrong with it."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # a link loop: RuntimeError before Python 3.13, OSError after
        return Path(path).absolute()


def _inside(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


def walk_folder(folder: str | os.PathLike[str], patterns: Sequence[str] = (),
                exclude: Iterable[Path] = ()) -> FolderScan:  # fmt: skip
    """Every file below ``folder`` to check, and what was skipped (see the module docstring).

    ``exclude``: resolved folders never entered (``output_folder``). An unreadable ``folder`` itself
    is a UsageError (nothing to check); an empty result is the caller's to judge.
    """
    top = Path(folder)
    root = resolved(top)
    excluded = set(exclude)
    skipped: list[Skipped] = []
    found: list[tuple[Path, bool]] = []  # (path, is a link)

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else top
        if resolved(where) == root:
            reason = exc.strerror or str(exc)
            raise UsageError(f"{top}: cannot list this folder: {reason}", "file.unreadable") from exc
        found.append((where, False))  # its check says it cannot be listed (file.unreadable)

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=False):
        here = Path(dirpath)
        entered = []
        for name in sorted(dirnames):
            sub = here / name
            reason = name_skip_reason(name)
            if reason is None and os.path.islink(sub):
                target = resolved(sub)
                reason = "folder_link" if _inside(root, target) else "link_outside"
                skipped.append(Skipped(str(sub), reason, f"link to {target}"))
                continue
            if reason is None and resolved(sub) in excluded:
                reason = "output_folder"
            if reason is not None:
                skipped.append(Skipped(str(sub), reason, "folder: nothing below it was looked at"))
                continue
            entered.append(name)
        dirnames[:] = entered
        for name in sorted(filenames):
            path = here / name
            reason = name_skip_reason(name)
            if reason is not None:
                skipped.append(Skipped(str(path), reason))
                continue
            if patterns and not matches(path.relative_to(top).as_posix(), patterns):
                skipped.append(Skipped(str(path), "glob"))
                continue
            link = os.path.islink(path)
            if link and os.path.exists(path) and not _inside(root, resolved(path)):
                skipped.append(Skipped(str(path), "link_outside", f"link to {resolved(path)}"))
                continue
            found.append((path, link))  # a broken link too: its check says where it points
    files, dupes = _unique(found)
    return FolderScan(tuple(sorted(files, key=str)), tuple(sorted(skipped + dupes, key=lambda s: s.path)))


def _unique(found: list[tuple[Path, bool]]) -> tuple[list[Path], list[Skipped]]:
    """One name per file: the file itself rather than a link to it; the other names are ``duplicate``."""
    chosen: dict[Path, Path] = {}
    others: list[tuple[Path, Path]] = []
    for path, link in sorted(found, key=lambda pl: (pl[1], str(pl[0]))):  # real files first
        key = resolved(path) if not link or os.path.exists(path) else path.absolute()
        if key in chosen:
            others.append((path, key))
        else:
            chosen[key] = path
    dupes = [Skipped(str(p), "duplicate", f"same file as {chosen[key]}") for p, key in others]
    return list(chosen.values()), dupes


def expand_glob(pattern: str) -> tuple[list[Path], list[Skipped]]:
    """The files a glob matches inside its fixed leading folder, and what it matched but skipped."""
    root = resolved(_glob_root(pattern))
    files: list[Path] = []
    skipped: list[Skipped] = []
    for match in sorted(Path(m) for m in glob.glob(pattern, recursive=True)):
        link = match.is_symlink()
        if match.is_dir() and not link:
            continue  # a folder: the pattern matches its files itself, or means not to
        reason = name_skip_reason(match.name)
        target = resolved(match)
        if reason is None and match.exists() and root not in target.parents:  # a link, or a file below one
            skipped.append(Skipped(str(match), "link_outside", f"lies outside {root}: {target}"))
        elif reason is None and match.is_dir():
            skipped.append(Skipped(str(match), "folder_link", f"link to {target}"))
        elif reason is not None:
            skipped.append(Skipped(str(match), reason))
        else:
            files.append(match)
    return files, skipped


def _glob_root(pattern: str) -> Path:
    """The folder a glob cannot leave: its leading parts without wildcards (``a/b/**/*.mp4`` -> ``a/b``)."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def no_files_error(where: str, skipped: Sequence[Skipped], what: str = "in this folder") -> UsageError:
    """The usage error for a folder (or glob) with nothing to check, saying what was skipped."""
    why = describe_skipped(tuple(skipped))
    return UsageError(f"{where}: no files to check {what}" + (f"; {why}" if why else ""), "file.not_found")


# --- opening -------------------------------------------------------------------------------------

_SPECIAL = (
    (stat.S_ISFIFO, "fifo", "named pipe (FIFO)"),
    (stat.S_ISSOCK, "socket", "socket"),
    (stat.S_ISCHR, "char_device", "character device"),
    (stat.S_ISBLK, "block_device", "block device"),
)
"""Kinds of file that are not read: test, ``extra["file_type"]``, words in the message."""


def _special(path: str, mode: int) -> ProbeError:
    kind, words = next(((k, w) for test, k, w in _SPECIAL if test(mode)), ("special", "special file"))
    return ProbeError(
        f"{path}: is a {words}, not a regular file; not opened (reading it could wait forever)",
        "file.special",
        {"file_type": kind},
    )


def _broken_link(path: str, loop: bool = False) -> ProbeError:
    try:
        raw = os.readlink(path)
    except OSError:
        raw = "?"
    target = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), raw))
    shown = raw if raw == target else f"{raw} ({target})"
    if loop:  # its own code: the fix is to mend the links, not to find a missing file
        return ProbeError(
            f"{path}: symbolic link in a loop of links: it points to {shown}, which leads back to it",
            "file.link_loop",
            {"link_target": target, "broken_link": True},
        )
    return ProbeError(
        f"{path}: broken symbolic link: it points to {shown}, which does not exist",
        "file.not_found",
        {"link_target": target, "broken_link": True},
    )


def _directory(path: str) -> ProbeError:
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return ProbeError(f"{path}: folder cannot be listed ({reason}); the files in it were not checked",
                          "file.unreadable")  # fmt: skip
    return ProbeError(f"{path}: is a directory, not a media file", "file.is_directory")


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading; a ProbeError with its finding code for anything else.

    A FIFO, socket or device is refused from its ``stat`` without being opened (opening a FIFO
    blocks until a writer comes; opening some devices has effects). The file is opened non-blocking
    and checked again, so one swapped in between is refused too.
    """
    p = os.fspath(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError as exc:
        if os.path.islink(p):
            raise _broken_link(p) from exc
        raise ProbeError(f"{p}: no such file", "file.not_found") from exc
    except PermissionError as exc:
        raise ProbeError(f"{p}: permission denied", "file.unreadable") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _broken_link(p, loop=True) from exc
        raise ProbeError(f"{p}: cannot read: {exc.strerror or exc}", "file.unreadable") from exc
    if stat.S_ISDIR(mode):
        raise _directory(p)
    if not stat.S_ISREG(mode):
        raise _special(p, mode)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(p, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as exc:
        raise ProbeError(f"{p}: no such file", "file.not_found") from exc
    except PermissionError as exc:
        raise ProbeError(f"{p}: permission denied", "file.unreadable") from exc
    except OSError as exc:
        raise ProbeError(f"{p}: cannot read: {exc.strerror or exc}", "file.unreadable") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _special(p, mode)
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_digest(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of the file's bytes, or None when it cannot be read (or is no regular file: a FIFO
    is never opened, reading it would wait forever)."""
    sha = hashlib.sha256()
    try:
        with open_regular(path) as fh:
            while chunk := fh.read(HASH_CHUNK):
                sha.update(chunk)
    except (OSError, PreflightError):
        return None
    return sha.hexdigest()
