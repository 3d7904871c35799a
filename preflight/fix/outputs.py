"""Where fix writes: ``OUTDIR/<stem>.<ext>``, never over an input, never half-written.

A free name is chosen (``stem.mp4``, then ``stem-1.mp4``, ``stem-2.mp4``...), the output is written
to a hidden temporary file in the same folder and moved into place atomically (a hard link, which
unlike ``os.replace`` refuses to replace a file that appeared meanwhile; ``os.replace`` where links
are not supported), so a reader never sees a partial file and an interrupted run leaves no debris.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import FixError

__all__ = ["OutputNamer", "Staged", "written_atomically"]


class OutputNamer:
    """Hands out output paths for one batch: no clash with inputs, existing files or each other."""

    def __init__(self, outdir: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.outdir = Path(outdir)
        self._protected = {_identity(Path(p)) for p in inputs}
        self._taken: set[Path] = set()
        self._lock = threading.Lock()

    def protect(self, path: str | os.PathLike[str]) -> None:
        self._protected.add(_identity(Path(path)))

    def reserve(self, stem: str, ext: str) -> Path:
        """The first free ``stem[-N].ext`` in the output folder (creating the folder)."""
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FixError(f"{self.outdir}: cannot create the output folder: {exc.strerror}", "fix.output") from exc
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


class Staged:
    """A file being written: ``tmp`` while it is written, ``target`` once it is in place."""

    def __init__(self, tmp: Path, target: Path) -> None:
        self.tmp, self.target = tmp, target


@contextlib.contextmanager
def written_atomically(target: Path, next_name: Callable[[], Path] | None = None) -> Iterator[Staged]:
    """Yield a :class:`Staged` whose ``tmp`` path sits next to ``target``; on success it is renamed
    into place and ``staged.target`` says where.

    The temporary name keeps the extension (muxers and Pillow pick formats by it). On any error the
    temporary file is removed and nothing else is touched. A file is never replaced: when ``target``
    appeared meanwhile (another process chose the same free name), ``next_name()`` gives another one.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    staged = Staged(Path(tmp_name), target)
    try:
        yield staged
        staged.target = _publish(staged.tmp, target, next_name)
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
    except OSError:
        return p.absolute()
