"""Where fix writes: ``OUTDIR/<stem>.<ext>``, never over an input, never half-written.

A free name is chosen (``stem.mp4``, then ``stem-1.mp4``, ``stem-2.mp4``...), the output is written
to a hidden temporary file in the same folder and moved into place atomically (a hard link, which
unlike ``os.replace`` refuses to replace a file that appeared meanwhile; ``os.replace`` where links
are not supported), so a reader never sees a partial file and an interrupted run leaves no debris.
The temporary file is private while it is written; the output gets the umask's mode. A full disk or
a folder that cannot be written is ``output.no_space`` / ``output.not_writable`` (see
:mod:`preflight.outfiles`, which also removes what a killed run left).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import FixError
from ..outfiles import create_temp, output_error, share

__all__ = ["OutputNamer", "Staged", "written_atomically"]


class OutputNamer:
    """Hands out output paths for one batch: no clash with inputs, existing files or each other.

    It also remembers whether it created the output folder (and which missing parents with it) and
    what was written through it (:meth:`written`), so a caller that fails can take back exactly
    that (:meth:`discard`) and nothing that was there before.
    """

    def __init__(self, outdir: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.outdir = Path(outdir)
        self._protected = {_identity(Path(p)) for p in inputs}
        self._taken: set[Path] = set()
        self._lock = threading.Lock()
        self._created_top: Path | None = None
        """The highest folder this namer created (``outdir`` or one of its parents), if any."""
        self._written: list[Path] = []

    def protect(self, path: str | os.PathLike[str]) -> None:
        self._protected.add(_identity(Path(path)))

    @property
    def created(self) -> bool:
        """True when the output folder did not exist before this namer made it."""
        return self._created_top is not None

    def make_folder(self) -> None:
        """Create the output folder if missing; FixError (``output.*`` or ``fix.output``) if it cannot be."""
        if self.outdir.is_dir():
            return
        top = _first_missing(self.outdir)
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            mapped = output_error(exc, self.outdir, creating=True)
            if mapped is not None:
                raise mapped from exc
            raise FixError(f"{self.outdir}: cannot create the output folder: {exc.strerror}", "fix.output") from exc
        with self._lock:
            if self._created_top is None and top is not None:
                self._created_top = top

    def check_writable(self) -> None:
        """Create the folder and one empty file in it (removed at once): raise before any work is done
        when nothing can be written there."""
        self.make_folder()
        try:
            create_temp(self.outdir / ".preflight-write-check").unlink()
        except OSError as exc:
            mapped = output_error(exc, self.outdir)
            if mapped is not None:
                raise mapped from exc
            raise FixError(f"{self.outdir}: cannot write in the output folder: {exc.strerror}", "fix.output") from exc

    def reserve(self, stem: str, ext: str) -> Path:
        """The first free ``stem[-N].ext`` in the output folder (creating the folder)."""
        self.make_folder()
        with self._lock:
            for n in range(10_000):
                name = f"{stem}.{ext}" if n == 0 else f"{stem}-{n}.{ext}"
                candidate = self.outdir / name
                key = _identity(candidate)
                if key in self._protected or key in self._taken or candidate.exists() or candidate.is_symlink():
                    continue
                self._taken.add(key)
                return candidate
        raise FixError(f"{self.outdir}: no free name for {stem}.{ext}", "fix.output")

    def wrote(self, path: Path) -> None:
        """Record an output written through this namer."""
        with self._lock:
            self._written.append(path)

    def written(self) -> tuple[Path, ...]:
        with self._lock:
            return tuple(self._written)

    def discard(self) -> None:
        """Remove every output written through this namer, then the folders it created if they are
        empty. Nothing else is removed: a folder that existed before stays, with what it held."""
        for path in self.written():
            with contextlib.suppress(OSError):
                path.unlink()
        with self._lock:
            self._written.clear()
        self.remove_if_empty()

    def remove_if_empty(self) -> None:
        """Remove the output folder, and the parents created with it, when this namer created them and
        they are empty."""
        top = self._created_top
        if top is None:
            return
        folder = Path(os.path.abspath(self.outdir))
        while True:
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): what it holds is kept
                return
            if folder == top or folder.parent == folder:
                break
            folder = folder.parent
        with self._lock:
            self._created_top = None


def _first_missing(folder: Path) -> Path | None:
    """The highest missing folder on the way to ``folder`` (absolute), or None when it exists."""
    top = None
    path = Path(os.path.abspath(folder))
    while not os.path.lexists(path):
        top = path
        if path.parent == path:
            break
        path = path.parent
    return top


class Staged:
    """A file being written: ``tmp`` while it is written, ``target`` once it is in place."""

    def __init__(self, tmp: Path, target: Path) -> None:
        self.tmp, self.target = tmp, target


@contextlib.contextmanager
def written_atomically(
    target: Path, next_name: Callable[[], Path] | None = None, *, needed: int | None = None
) -> Iterator[Staged]:
    """Yield a :class:`Staged` whose ``tmp`` path sits next to ``target``; on success it is renamed
    into place and ``staged.target`` says where.

    The temporary name keeps the extension (muxers and Pillow pick formats by it). On any error, and on
    KeyboardInterrupt or any other BaseException, the temporary file is removed and nothing else is
    touched; a full disk or an unwritable folder becomes ``output.no_space`` / ``output.not_writable``
    (``needed``: the bytes the output should take, when known, for the message). A file is never
    replaced: when ``target`` appeared meanwhile (another process chose the same free name),
    ``next_name()`` gives another one.
    """
    folder = target.parent
    try:
        tmp = create_temp(target)
    except OSError as exc:
        mapped = output_error(exc, folder, needed)
        if mapped is None:
            raise
        raise mapped from exc
    staged = Staged(tmp, target)
    try:
        yield staged
        share(staged.tmp)
        staged.target = _publish(staged.tmp, target, next_name)
    except OSError as exc:
        staged.tmp.unlink(missing_ok=True)  # first: the message says what is free without it
        mapped = output_error(exc, folder, needed)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        staged.tmp.unlink(missing_ok=True)


def _publish(tmp: Path, target: Path, next_name: Callable[[], Path] | None) -> Path:
    for _ in range(100):
        try:
            os.link(tmp, target)  # a rename that refuses to replace an existing file
            return target
        except FileExistsError:
            pass
        except OSError:  # no hard links here (some network and FAT filesystems): check, then rename
            if not target.exists():
                os.replace(tmp, target)
                return target
        if next_name is None:
            raise FixError(f"{target}: appeared while it was being written; not replaced", "fix.output")
        target = next_name()
    raise FixError(f"{target}: no free output name", "fix.output")


def _identity(p: Path) -> Path:
    """One key per file, however it is spelled (relative, symlinked, ../)."""
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13): its check says so
        return p.absolute()
