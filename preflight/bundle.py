"""The bundle: a folder holding a checked image + clip and the ``manifest.json`` that describes them.

``preflight prepare`` writes one; ``preflight submit BUNDLE_DIR`` reads it. The manifest
(schema ``preflight.bundle/1``) names both files relative to the folder, with their sha256 and size,
the profile and orientation they were checked against, and when it was written. Reading re-hashes the
files, so a clip edited after the check is caught before it costs credits.

    {"schema": "preflight.bundle/1", "created": "2026-11-23T10:00:00+00:00",
     "profile": "kling-v2.6", "orientation": "video",
     "image": {"name": "image.jpg", "sha256": "...", "size": 123},
     "video": {"name": "video.mp4", "sha256": "...", "size": 456},
     "settings": {}}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import PreflightError, ProbeError, UsageError
from .inputs import open_regular
from .outfiles import create_temp, output_error, share

__all__ = ["MANIFEST", "SCHEMA", "Bundle", "BundleFile", "read_bundle", "sha256_file", "write_bundle"]

SCHEMA = "preflight.bundle/1"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BundleFile:
    name: str
    """File name relative to the bundle folder."""
    sha256: str
    size: int
    """Bytes."""


@dataclass(frozen=True)
class Bundle:
    directory: Path
    image: BundleFile
    video: BundleFile
    profile: str
    orientation: str
    created: str
    """ISO 8601 UTC time the manifest was written."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Anything else ``prepare`` wants ``submit`` to know (free form)."""
    schema: str = SCHEMA
    model: str | None = None
    """The model contract it was prepared for (``submit`` sends to that model unless told otherwise)."""
    provider: str | None = None

    @property
    def image_path(self) -> Path:
        return self.directory / self.image.name

    @property
    def video_path(self) -> Path:
        return self.directory / self.video.name

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "profile": self.profile,
            "orientation": self.orientation,
            **({"model": self.model} if self.model else {}),
            **({"provider": self.provider} if self.provider else {}),
            "image": {"name": self.image.name, "sha256": self.image.sha256, "size": self.image.size},
            "video": {"name": self.video.name, "sha256": self.video.sha256, "size": self.video.size},
            "settings": dict(self.settings),
        }


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry(directory: Path, path: Path) -> BundleFile:
    """Describe ``path``, copying it into ``directory`` first when it lives elsewhere."""
    path = Path(path)
    if path.resolve().parent != directory.resolve():
        target = directory / path.name
        _write_atomically(target, lambda tmp: shutil.copyfile(path, tmp), needed=path.stat().st_size)
        path = target
    return BundleFile(path.name, sha256_file(path), path.stat().st_size)


def _write_atomically(target: Path, write: Any, needed: int | None = None) -> None:
    """``write(tmp)`` into a temporary file beside ``target``, then replace ``target`` with it. On any
    error or interruption the temporary file is removed; a full disk or an unwritable folder is
    ``output.no_space`` / ``output.not_writable`` (see :mod:`preflight.outfiles`)."""
    tmp: Path | None = None
    try:
        tmp = create_temp(target)
        write(tmp)
        share(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        mapped = output_error(exc, target.parent, needed)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bundle(
    directory: str | os.PathLike[str],
    image: str | os.PathLike[str],
    video: str | os.PathLike[str],
    *,
    profile: str,
    orientation: str = "video",
    settings: Mapping[str, Any] | None = None,
    model: str | None = None,
    provider: str | None = None,
) -> Bundle:
    """Write ``manifest.json`` for ``image`` and ``video`` (copied into ``directory`` if elsewhere)."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        mapped = output_error(exc, folder, creating=True)
        if mapped is None:
            raise
        raise mapped from exc
    image_entry, video_entry = _entry(folder, Path(image)), _entry(folder, Path(video))
    if image_entry.name == video_entry.name:
        raise UsageError("the image and the clip have the same file name", "usage.invalid")
    bundle = Bundle(
        directory=folder,
        image=image_entry,
        video=video_entry,
        profile=profile,
        orientation=orientation,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        settings=dict(settings or {}),
        model=model,
        provider=provider,
    )
    text = json.dumps(bundle.to_json(), indent=2) + "\n"
    _write_atomically(folder / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"), needed=len(text))
    return bundle


def read_bundle(directory: str | os.PathLike[str], *, verify: bool = True) -> Bundle:
    """Read a bundle's manifest and (by default) check both files' sizes and hashes."""
    folder = Path(directory)
    manifest = folder / MANIFEST
    if not os.path.lexists(manifest):
        raise UsageError(f"{folder} is not a bundle: no {MANIFEST} (make one with preflight prepare)", "bundle.invalid")
    try:
        with open_regular(manifest) as fh:  # a FIFO named manifest.json is refused, never read
            data = json.loads(fh.read().decode("utf-8"))
    except ProbeError as exc:
        code = exc.code if exc.code == "file.special" else "bundle.invalid"
        raise PreflightError(f"unreadable manifest: {exc.message}", code) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PreflightError(f"{manifest}: unreadable manifest: {exc}", "bundle.invalid") from exc
    except RecursionError:  # arrays or objects nested thousands deep
        raise PreflightError(f"{manifest}: unreadable manifest: nested too deep", "bundle.invalid") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise PreflightError(f"{manifest}: not a {SCHEMA} manifest", "bundle.invalid")
    try:
        bundle = Bundle(
            directory=folder,
            image=_file(data["image"], manifest),
            video=_file(data["video"], manifest),
            profile=str(data["profile"]),
            orientation=str(data.get("orientation", "video")),
            created=str(data.get("created", "")),
            settings=dict(data.get("settings") or {}),
            model=str(data["model"]) if data.get("model") else None,
            provider=str(data["provider"]) if data.get("provider") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PreflightError(f"{manifest}: malformed manifest ({exc})", "bundle.invalid") from exc
    if verify:
        for entry in (bundle.image, bundle.video):
            _verify(folder / entry.name, entry)
    return bundle


def _file(entry: Mapping[str, Any], manifest: Path) -> BundleFile:
    name = str(entry["name"])
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise PreflightError(f"{manifest}: file name {name!r} leaves the bundle folder", "bundle.invalid")
    return BundleFile(name, str(entry["sha256"]), int(entry["size"]))


def _verify(path: Path, entry: BundleFile) -> None:
    if not path.is_file():
        raise PreflightError(f"{path}: listed in the bundle but missing", "file.not_found")
    size = path.stat().st_size
    if size != entry.size or sha256_file(path) != entry.sha256:
        raise PreflightError(
            f"{path} changed after the bundle was written ({size} bytes, manifest says {entry.size}); "
            "run preflight prepare again",
            "bundle.modified",
        )
