"""Provider profiles: what a provider accepts, as data.

One TOML file per provider contract ships in this folder; a user's own file is loaded by path.
A new provider is one new ``<name>.toml`` here: nothing else lists them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from ..aspects import parse_choices
from ..errors import ProfileError, UsageError

__all__ = [
    "DEFAULT_PROFILE",
    "ContentGates",
    "ImageLimits",
    "Profile",
    "VideoLimits",
    "available_profiles",
    "default_profile_name",
    "load_profile",
]

DEFAULT_PROFILE = "kling-v2.6"
ORIENTATIONS = ("image", "video")


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
    aspect_choices: tuple[str, ...] | None = None
    """Allowed ratios as the provider spells them (``"1280:720"``); see :mod:`preflight.aspects`."""


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
    aspect_choices: tuple[str, ...] | None = None
    """Allowed ratios as the provider spells them (``"1280:720"``); see :mod:`preflight.aspects`."""
    min_duration: float | None = None
    max_duration: float | None = None
    """Cap with ``character_orientation=video``."""
    max_duration_image_orientation: float | None = None
    """Cap with ``character_orientation=image``."""
    min_fps: float | None = None
    max_fps: float | None = None

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


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    provider: str | None
    """The ``submit`` provider this profile describes, if any."""
    image: ImageLimits
    video: VideoLimits
    content: ContentGates = field(default_factory=ContentGates)
    max_prompt_chars: int | None = 2500
    source: str = ""
    """Where the numbers come from."""
    path: str | None = None
    """The file it was loaded from."""


def default_profile_name() -> str:
    return os.environ.get("PREFLIGHT_PROFILE") or DEFAULT_PROFILE


def available_profiles() -> list[str]:
    """Names of the profiles shipped with preflight."""
    folder = resources.files(__package__)
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | os.PathLike[str] | None = None) -> Profile:
    """Load a shipped profile by name, or a user's TOML file by path."""
    ref = str(name_or_path) if name_or_path is not None else default_profile_name()
    if ref.endswith(".toml") or os.sep in ref or Path(ref).is_file():
        path = Path(ref)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"cannot read profile {ref}: {exc.strerror}", "profile.unknown") from exc
        return _parse(text, str(path), default_name=path.stem)
    if ref not in available_profiles():
        known = ", ".join(available_profiles())
        raise UsageError(f"unknown profile {ref!r}; known profiles: {known}", "profile.unknown")
    text = resources.files(__package__).joinpath(f"{ref}.toml").read_text(encoding="utf-8")
    return _parse(text, f"{ref}.toml", default_name=ref)


def _parse(text: str, origin: str, default_name: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return Profile(
            name=str(data.get("name", default_name)),
            description=str(data.get("description", "")),
            provider=data.get("provider"),
            image=_section(ImageLimits, data.get("image", {}), origin, "image"),
            video=_section(VideoLimits, data.get("video", {}), origin, "video"),
            content=ContentGates(dict(data.get("content", {}))),
            max_prompt_chars=data.get("max_prompt_chars", 2500),
            source=str(data.get("source", "")),
            path=origin,
        )
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{origin}: {exc}") from exc


def _section(cls: type, table: dict[str, Any], origin: str, section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ProfileError(f"{origin}: unknown key(s) in [{section}]: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, list):
            value = tuple(str(v).lower() for v in value)
            if key == "aspect_choices":
                value = parse_choices(value)  # each W:H checked on load: a typo is a profile error
        elif key == "aspect_choices":
            raise ProfileError(f'{origin}: [{section}] aspect_choices must be a list, like ["1280:720"]')
        elif value is not None and not isinstance(value, int | float | str):
            raise ProfileError(f"{origin}: [{section}] {key} has an unexpected type")
        values[key] = value
    return cls(**values)
