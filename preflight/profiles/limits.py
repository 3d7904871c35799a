"""Limits on the image and the clip, read from TOML tables and combined stricter-wins.

A contract (a model's or a provider's) sets only the limits it knows; :func:`combine` takes the
stricter of each pair and remembers which contract set the winning number, so ``profiles show`` can
say where every effective limit comes from.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..aspects import parse_choices
from ..errors import ProfileError

__all__ = ["ContentGates", "ImageLimits", "VideoLimits", "check_pairs", "combine", "parse_limits"]


@dataclass(frozen=True)
class ImageLimits:
    formats: tuple[str, ...] = ("jpeg", "png")
    """Accepted formats by content (Pillow's names, lower case)."""
    max_bytes: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    min_aspect: float | None = None
    """Lowest width/height, e.g. 0.4 for 1:2.5."""
    max_aspect: float | None = None
    aspect_choices: tuple[str, ...] = ()
    """Exact shapes accepted (``"1280:720"``), when the model has a fixed set of output sizes."""


@dataclass(frozen=True)
class VideoLimits:
    containers: tuple[str, ...] = ("mp4", "mov")
    video_codecs: tuple[str, ...] = ("h264",)
    audio_codecs: tuple[str, ...] = ("aac",)
    max_bytes: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    min_aspect: float | None = None
    max_aspect: float | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    """Cap with ``character_orientation=video``."""
    max_duration_image_orientation: float | None = None
    """Cap with ``character_orientation=image``."""
    min_fps: float | None = None
    max_fps: float | None = None
    aspect_choices: tuple[str, ...] = ()

    def duration_cap(self, orientation: str) -> float | None:
        if orientation == "image" and self.max_duration_image_orientation is not None:
            return self.max_duration_image_orientation
        return self.max_duration


@dataclass(frozen=True)
class ContentGates:
    """Thresholds and severities of the content gates (pose, motion, quality).

    Defaults are calibrated in ``preflight/analyze``; a profile may override any of them.
    """

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


_SECTIONS: dict[str, type] = {"image": ImageLimits, "video": VideoLimits}
# (lower, upper) pairs: the lower must not exceed the upper once combined.
_PAIRS = (("min_side", "max_side"), ("min_aspect", "max_aspect"), ("min_duration", "max_duration"),
          ("min_fps", "max_fps"), ("min_duration", "max_duration_image_orientation"))  # fmt: skip


def _kind(cls: type, key: str) -> str:
    annotation = str(next(f.type for f in fields(cls) if f.name == key))
    return "names" if annotation.startswith("tuple") else "int" if annotation.startswith("int") else "number"


def parse_limits(section: str, table: Any, origin: str) -> dict[str, Any]:
    """The limits a TOML table sets, checked: known keys, right types, sane ranges."""
    if not isinstance(table, Mapping):
        raise ProfileError(f"{origin}: [{section}] must be a table")
    cls = _SECTIONS[section]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ProfileError(f"{origin}: unknown key(s) in [{section}]: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = _kind(cls, key)
        where = f"{origin}: [{section}] {key}"
        if kind == "names":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise ProfileError(f"{where} must be a non-empty list of names")
            values[key] = tuple(v.lower() for v in value)
            _check_names(key, values[key], where)
            if key == "aspect_choices":
                try:
                    values[key] = parse_choices(value)  # each W:H checked on load: a typo is a profile error
                except ValueError as exc:
                    raise ProfileError(f"{where}: {exc}") from None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ProfileError(f"{where} must be a number, not {value!r}")
        if value < 0 or (value == 0 and "aspect" in key):
            raise ProfileError(f"{where} must be positive, not {value!r}")
        if kind == "int" and value != int(value):
            raise ProfileError(f"{where} must be a whole number, not {value!r}")
        values[key] = int(value) if kind == "int" else float(value)
    check_pairs(values, f"{origin}: [{section}]")
    return values


IMAGE_FORMATS = ("jpeg", "png", "gif", "webp", "bmp", "tiff", "heic", "avif", "mpo")
"""The image format names probe gives (by content; Pillow's names, lower case)."""
CONTAINERS = ("mp4", "mov", "matroska", "webm", "avi", "flv", "mpeg", "mpegts", "asf", "ogg")
"""The container names probe gives by content (others fall back to FFmpeg's demuxer name)."""


def _known(key: str) -> set[str] | None:
    if key == "formats":
        return set(IMAGE_FORMATS)
    if key in ("containers", "video_codecs", "audio_codecs"):
        import av  # only for a profile that names containers or codecs; probe needs it anyway

        return set(CONTAINERS) | set(av.formats_available) if key == "containers" else set(av.codecs_available)
    return None


def _check_names(key: str, names: tuple[str, ...], where: str) -> None:
    """A misspelt name (``jpg``, ``h.264``) would refuse every file: refuse the profile instead."""
    known = _known(key)
    for name in names if known is not None else ():
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ProfileError(f"{where}: unknown name {name!r}{hint}")


def check_pairs(values: Mapping[str, Any], where: str) -> None:
    for low, high in _PAIRS:
        if values.get(low) is not None and values.get(high) is not None and values[low] > values[high]:
            raise ProfileError(f"{where} {low} = {values[low]} is above {high} = {values[high]}")


def _stricter(key: str, mine: Any, theirs: Any) -> tuple[Any, bool]:
    """The stricter value and whether it is ``theirs``."""
    if isinstance(mine, tuple):
        # Names (formats, codecs) are what the receiving API takes: the later layer (the provider,
        # which may convert) replaces the model's list. Fixed shapes must suit both: intersect.
        if key == "aspect_choices":
            common = tuple(v for v in mine if v in theirs)
            return common, common != mine
        return theirs, True
    if key.startswith("min"):
        return (theirs, True) if theirs > mine else (mine, False)
    return (theirs, True) if theirs < mine else (mine, False)


def combine(
    layers: list[tuple[str, Mapping[str, Any]]], section: str
) -> tuple[ImageLimits | VideoLimits, dict[str, str]]:
    """Stack ``(who, limits)`` layers stricter-wins; returns the limits and ``key -> who set it``."""
    merged: dict[str, Any] = {}
    setter: dict[str, str] = {}
    for who, values in layers:
        for key, value in values.items():
            if key not in merged:
                merged[key], setter[key] = value, who
                continue
            merged[key], theirs = _stricter(key, merged[key], value)
            if theirs:
                setter[key] = who
    for key, value in merged.items():
        if isinstance(value, tuple) and not value:
            who = " and ".join(w for w, _ in layers)
            raise ProfileError(f"[{section}] {key}: {who} have no value in common")
    check_pairs(merged, f"[{section}] (combined)")
    return _SECTIONS[section](**merged), setter
