"""Which files a batch works on: folders walked, globs expanded, every file kept or counted as skipped.

- A folder is walked by :func:`preflight.inputs.walk_folder`: every file below it is checked, media
  or not (its check says what it is); hidden files and folders, sidecars (``.DS_Store``, ``._*``,
  ``.AAE``...), links out of the tree and links to folders are skipped and counted with a reason.
- An argument with ``*``, ``?`` or ``[`` that is not an existing path is a glob (``**`` recurses);
  what it matches must lie inside its fixed leading folder, links resolved (a link leading out is
  skipped as ``link_outside``); hidden names and sidecars it matches are skipped as in folders.
- ``--glob`` patterns filter the files found in folders by their path relative to the folder
  (``*.mp4``, ``takes/**``); what they leave out is counted (``glob``), not listed. A plain file
  argument is always kept, media or not: its check says why.
- ``exclude`` folders (the batch's output folder) are never entered (``output_folder``), so a run
  never eats its own outputs; an output URL excludes what a URL walk finds below it (a ``file://``
  one also the local folder it names).
- The same file reached twice (a link, overlapping arguments) is checked once (``duplicate``).
- A ``scheme://`` argument is an fsspec URL (``memory://``, ``s3://``...), walked by
  :func:`.remote.scan_url` with the same rules; it stays a URL string (a Path would mangle ``//``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..inputs import GLOB_CHARS, as_paths, expand_glob, no_files_error, resolved, walk_folder
from ..models import Skipped

__all__ = ["InputFile", "Inputs", "find_inputs", "scan_inputs"]

InputFile = tuple[Path | str, str]
"""A file to work on (a Path, or a URL string) and its folder relative to the input folder it was found
in ("" for files given directly or by a glob): fixed outputs go to the same relative folder under the
output folder."""


@dataclass(frozen=True)
class Inputs:
    """The files a batch checks, in a stable order, and what the walk skipped (with reasons)."""

    files: tuple[InputFile, ...]
    skipped: tuple[Skipped, ...]


def find_inputs(
    args: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    patterns: Sequence[str] = (),
    exclude: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = (),
) -> list[InputFile]:
    """The files a batch over ``args`` checks, each once, in a stable order (see :func:`scan_inputs`)."""
    return list(scan_inputs(args, patterns, exclude).files)


def scan_inputs(
    args: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    patterns: Sequence[str] = (),
    exclude: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = (),
) -> Inputs:
    """The files a batch over ``args`` checks, each once, and what was skipped on the way."""
    from .remote import is_url, scan_url

    args, exclude = as_paths(args), as_paths(exclude)

    excluded = {resolved(Path(p)) for p in exclude if not is_url(os.fspath(p))}
    excluded_urls = [os.fspath(p).rstrip("/") for p in exclude if is_url(os.fspath(p))]
    excluded |= {resolved(local) for local in map(_local_path, excluded_urls) if local is not None}
    seen: dict[Path | str, str] = {}
    out: list[InputFile] = []
    skipped: list[Skipped] = []

    def keep(path: Path, root: Path | None = None) -> None:
        key = resolved(path) if os.path.exists(path) else path.absolute()
        if key in seen:
            skipped.append(Skipped(str(path), "duplicate", f"same file as {seen[key]}"))
            return
        seen[key] = str(path)
        sub = path.parent.relative_to(root).as_posix() if root is not None else ""
        out.append((path, "" if sub == "." else sub))

    for raw in args:
        text = os.fspath(raw)
        path = Path(text)
        if is_url(text) and not path.exists():
            urls, url_skipped = scan_url(text, patterns)
            skipped.extend(url_skipped)
            for url, sub in urls:
                below = next((x for x in excluded_urls if url.startswith(x + "/")), None)
                if below is not None:  # a URL output folder below a URL input: never its own outputs
                    if below not in seen:
                        seen[below] = below
                        skipped.append(Skipped(below, "output_folder", "folder: nothing below it was looked at"))
                elif url in seen:
                    skipped.append(Skipped(url, "duplicate", "given twice"))
                else:
                    seen[url] = url
                    out.append((url, sub))
        elif path.is_dir():
            scan = walk_folder(path, patterns, excluded)
            if not scan.files:
                raise no_files_error(str(path), scan.skipped)
            skipped.extend(scan.skipped)
            for p in scan.files:
                keep(p, path)
        elif not path.exists() and not path.is_symlink() and GLOB_CHARS & set(text):
            files, glob_skipped = expand_glob(text)
            if not files:
                raise no_files_error(text, glob_skipped, "match")
            skipped.extend(glob_skipped)
            for p in files:
                keep(p)
        else:
            keep(path)  # missing or not media: the check reports it, the batch goes on
    return Inputs(tuple(out), tuple(skipped))


def _local_path(url: str) -> str | None:
    """The local path a ``file://`` URL names (None for any other URL)."""
    from .remote import _filesystem, _is_local

    fs, path = _filesystem(url)
    return path if _is_local(fs) else None
