"""Which files a batch works on: folders walked, globs expanded, media recognised by content.

- A folder is walked recursively; hidden files and folders are skipped; symbolic links to folders are
  never followed (no loops, no escaping the tree) and a linked file counts only when its target lies
  inside the tree it was found in.
- An argument with ``*``, ``?`` or ``[`` that is not an existing path is a glob (``**`` recurses);
  what it matches must lie inside its fixed leading folder, links resolved.
- ``--glob`` patterns filter the files found in folders by their path relative to the folder
  (``*.mp4``, ``takes/**``); a plain file argument is always kept, media or not: its check says why.
- Files in folders are kept when their first bytes say image or video, whatever the extension.
- ``exclude`` folders (the batch's output folder) are never entered, so a run never eats its own outputs.
- A ``scheme://`` argument is an fsspec URL (``memory://``, ``s3://``...), walked by
  :func:`.remote.walk_url` with the same rules; it stays a URL string (a Path would mangle ``//``).
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import UsageError
from ..sniff import SNIFF_BYTES, sniff

__all__ = ["InputFile", "find_inputs", "looks_like_media"]

InputFile = tuple[Path | str, str]
"""A file to work on (a Path, or a URL string) and its folder relative to the input folder it was found
in ("" for files given directly or by a glob): fixed outputs go to the same relative folder under the
output folder."""

_GLOB_CHARS = set("*?[")


def find_inputs(
    args: Iterable[str | os.PathLike[str]],
    patterns: Sequence[str] = (),
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> list[InputFile]:
    """The files a batch over ``args`` checks, each once, in a stable order."""
    from .remote import is_url, walk_url

    excluded = {_resolved(Path(p)) for p in exclude}
    seen: set[Path | str] = set()
    out: list[InputFile] = []

    def keep(path: Path, root: Path | None = None) -> None:
        key = _resolved(path)
        if key not in seen:
            seen.add(key)
            sub = path.parent.relative_to(root).as_posix() if root is not None else ""
            out.append((path, "" if sub == "." else sub))

    for raw in args:
        text = os.fspath(raw)
        path = Path(text)
        if is_url(text) and not path.exists():
            for url, sub in walk_url(text, patterns):
                if url not in seen:
                    seen.add(url)
                    out.append((url, sub))
        elif path.is_dir():
            found = list(_media_below(path, patterns, excluded))
            if not found:
                raise UsageError(f"{path}: no image or video files in this folder", "file.not_found")
            for p in found:
                keep(p, path)
        elif not path.exists() and not path.is_symlink() and _GLOB_CHARS & set(text):
            root = _resolved(_glob_root(text))
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file() and root in _resolved(m).parents and looks_like_media(m)]
            if not files:
                raise UsageError(f"{text}: no image or video files match", "file.not_found")
            for p in files:
                keep(p)
        else:
            keep(path)  # missing or not media: the check reports it, the batch goes on
    return out


def _media_below(folder: Path, patterns: Sequence[str], excluded: set[Path]) -> Iterator[Path]:
    root = _resolved(folder)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and _resolved(here / d) not in excluded)
        for name in sorted(filenames):
            path = here / name
            if name.startswith(".") or not path.is_file():
                continue
            if path.is_symlink() and root not in _resolved(path).parents:
                continue  # a link out of the tree is not part of it
            if patterns and not _matches(path.relative_to(folder).as_posix(), patterns):
                continue
            if looks_like_media(path):
                yield path


def _glob_root(pattern: str) -> Path:
    """The folder a glob cannot leave: its leading parts without wildcards (``a/b/**/*.mp4`` -> ``a/b``)."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if _GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns)


def looks_like_media(path: Path) -> bool:
    """True when the first bytes say image or video (an unreadable file counts: its check says why)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return True
    return bool(head) and sniff(head).kind in ("image", "video")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()
