"""Result types: what a probe saw, what a rule found, what a check concluded.

All frozen dataclasses; :func:`to_dict` is their JSON serialization (the report schema in DESIGN.md).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Role = Literal["image", "video", "unknown"]
Verdict = Literal["pass", "fixable", "fail"]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class VideoStream:
    """The first video stream of a clip, as its headers (and first frame) describe it."""

    codec: str
    """FFmpeg codec name: ``h264``, ``hevc``, ``prores``..."""
    profile: str | None
    """Codec profile, e.g. ``High``, ``Main 10``."""
    pix_fmt: str | None
    """Pixel format, e.g. ``yuv420p``."""
    bit_depth: int | None
    """Bits per sample of the pixel format (8, 10, 12)."""
    coded_width: int
    coded_height: int
    width: int
    """Displayed width: coded size after the rotation in the display matrix."""
    height: int
    rotation: int
    """Clockwise display rotation in degrees (0, 90, 180, 270) the player applies."""
    fps: float | None
    """Average frame rate (frames / duration)."""
    base_fps: float | None
    """The stream's base (nominal) frame rate."""
    variable_fps: bool
    """True when the frame timing is not constant (average and base rates disagree)."""
    frames: int | None
    """Frame count from the container index, when it has one."""
    bitrate: int | None
    duration: float | None
    """Stream duration in seconds, when the container gives one."""
    sample_aspect: str | None = None
    """Pixel aspect ratio (``4:3``) when pixels are not square; ``width`` already accounts for it."""
    hdr: str | None = None
    """``HLG`` or ``PQ`` when the stream is tagged with an HDR transfer curve (phones record HLG)."""
    color_primaries: str | None = None
    """Colour primaries as FFmpeg names them: ``bt709``, ``bt2020``, ``smpte432`` (Display P3)...;
    None when the stream does not say."""
    color_transfer: str | None = None
    """Transfer curve: ``bt709``, ``arib-std-b67`` (HLG), ``smpte2084`` (PQ), ``bt2020-10``..."""
    color_matrix: str | None = None
    """YUV matrix: ``bt709``, ``bt2020nc``, ``smpte170m`` (BT.601)..."""
    color_range: str | None = None
    """``tv`` (limited, 16-235) or ``pc`` (full)."""
    peak_luminance: float | None = None
    """cd/m2 the content reaches at most (MaxCLL, else the mastering display's peak), when an HDR
    stream carries that metadata on its first frame."""

    @property
    def sdr_conversion(self) -> str | None:
        """What it takes to make this stream SDR BT.709: ``HLG`` or ``PQ`` (tone mapping), ``BT.2020 SDR``
        (a gamut conversion only), or None (already SDR BT.709, or untagged and taken as such)."""
        if self.hdr:
            return self.hdr
        if self.color_primaries == "bt2020":
            return "BT.2020 SDR"
        return None

    @property
    def square_width(self) -> int:
        """Coded width once pixels are made square, rounded to an even number for the encoder."""
        if not self.sample_aspect:
            return self.coded_width
        num, den = (int(x) for x in self.sample_aspect.split(":"))
        return max(2, 2 * round(self.coded_width * num / den / 2))


@dataclass(frozen=True)
class AudioStream:
    codec: str
    sample_rate: int | None
    channels: int | None
    bitrate: int | None
    duration: float | None


@dataclass(frozen=True)
class ImageDetails:
    """Pillow's view of an image file."""

    mode: str
    """Pillow mode: ``RGB``, ``RGBA``, ``CMYK``, ``P``, ``I;16``..."""
    bit_depth: int
    """Bits per channel (8 or 16; 1 for bilevel)."""
    has_alpha: bool
    coded_width: int
    coded_height: int
    exif_orientation: int
    """EXIF orientation tag (1 = as stored; 5-8 swap the displayed sides)."""
    frames: int
    """Number of frames (more than 1 for an animated GIF/WebP/APNG)."""
    color_profile: str | None = None
    """Description of an embedded ICC profile that is not sRGB (``Display P3``, ``Adobe RGB``...)."""
    hdr: str | None = None
    """``HLG`` or ``PQ`` when the image's colour description (HEIC/AVIF nclx, PNG cICP) says so."""
    color_primaries: str | None = None
    """Primaries from that colour description (``bt2020``, ``smpte432``...); None without one."""

    @property
    def animated(self) -> bool:
        return self.frames > 1

    @property
    def sdr_conversion(self) -> str | None:
        """``HLG``/``PQ`` (tone mapping), ``BT.2020 SDR`` (gamut only) or None, as for clips."""
        if self.hdr:
            return self.hdr
        return "BT.2020 SDR" if self.color_primaries == "bt2020" else None


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`preflight.probe` found in one file."""

    path: str
    role: Role
    """``image`` or ``video``, from the content, never from the extension."""
    format: str
    """Real format by content: ``jpeg``, ``png``, ``webp``, ``mp4``, ``mov``, ``matroska``, ``avi``..."""
    extension: str
    """The file name's extension, lower case without the dot (may disagree with ``format``)."""
    file_size: int
    """Bytes on disk."""
    width: int
    """Displayed width in pixels (EXIF orientation / rotation applied)."""
    height: int
    duration: float | None = None
    """Seconds, from the container (else the longest stream); None for images."""
    bitrate: int | None = None
    """Overall bits per second."""
    video: VideoStream | None = None
    audio: tuple[AudioStream, ...] = ()
    image: ImageDetails | None = None
    header_duration: float | None = None
    """Seconds an MP4/MOV movie header claims when that disagrees with ``duration`` (its streams):
    a provider reading the header sees this length. None when they agree."""

    @property
    def aspect(self) -> float:
        """Displayed width / height."""
        return self.width / self.height if self.height else 0.0

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)


POSE_UNAVAILABLE = "pose.unavailable"
"""The finding that says the pose gate could not run (no model): reported on every format's verdict."""



Box = tuple[float, float, float, float]
"""A box in a picture: (x0, y0, x1, y1) as fractions of the displayed frame."""


@dataclass(frozen=True)
class PoseSample:
    """One pose sample of a clip's check, as the planner reads it back (``analysis.pose.track``)."""

    time: float
    torso_visible: bool
    bbox: Box | None
    """The largest person's box, None without a person."""
    others: tuple[Box, ...] = ()
    """The other people's boxes on this sample (what ``--reframe`` cuts out)."""


@dataclass(frozen=True)
class Finding:
    """One thing a rule or an analyzer noticed about a file."""

    code: str
    """Stable code from the vocabulary in DESIGN.md, e.g. ``duration.too_long``."""
    severity: Severity
    message: str
    """A sentence a person can act on."""
    fixable: bool = False
    """True when ``preflight fix`` has an automatic operation for it."""
    measured: float | str | None = None
    limit: float | str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Anything more a tool may use (e.g. the times of scene cuts)."""


@dataclass(frozen=True)
class Item:
    """The check of one path: what it is, what was found, the verdict."""

    path: str
    role: Role
    verdict: Verdict
    findings: tuple[Finding, ...]
    media: MediaInfo | None = None
    analysis: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pose_checked(self) -> bool | None:
        """Whether the pose gate ran: False when the content check ran without the pose model
        (a ``pose.unavailable`` finding), True when it ran, None when no content check ran
        (``--no-content``, or the file could not be read)."""
        if any(f.code == POSE_UNAVAILABLE for f in self.findings):
            return False
        return True if "pose" in self.analysis else None


@dataclass(frozen=True)
class CameraPath:
    """How the picture moved over a clip, frame by frame: the background's cumulative shift as the shake
    gate measures it (phase correlation of the small luma with the subject masked out), in fractions of
    the displayed frame. A camera that turns right moves the picture left: ``x`` falls.

    ``fix --stabilize`` reads it out of the check's ``analysis["camera_shake"]["path"]`` instead of
    decoding the clip again. It stays out of the JSON (:func:`to_dict` leaves it out): three numbers a
    frame, 2,700 for 30 s, would be most of a report and tell a reader nothing the jitter does not."""

    times: tuple[float, ...]
    """Seconds from the clip's start, increasing: the frames the check decoded (without ``every_frame``
    the non-reference pictures are missing, and a fix reads between the frames either side)."""
    x: tuple[float, ...]
    """Cumulative shift right, in widths of the displayed frame (0 on the first frame)."""
    y: tuple[float, ...]
    """Cumulative shift down, in heights."""
    size: tuple[int, int]
    """(width, height) of the displayed frame, for shifts in pixels and the long side's percent."""

    in_report: ClassVar[bool] = False

    def __len__(self) -> int:
        return len(self.times)


SKIP_REASONS: dict[str, str] = {
    "hidden": "hidden",
    "sidecar": "sidecar",
    "link_outside": "link out of the folder",
    "folder_link": "link to a folder",
    "duplicate": "duplicate",
    "output_folder": "output folder",
    "glob": "left out by --glob",
}
"""Why a file (or folder) found below a folder given was not checked: reason -> the words the text
and HTML summaries use. The keys are a vocabulary like the finding codes (add, never rename);
:mod:`preflight.inputs` says when each applies."""


@dataclass(frozen=True)
class Skipped:
    """A file or folder below a folder given that was not checked, and why (nothing vanishes)."""

    path: str
    reason: str
    """A key of :data:`SKIP_REASONS`: ``hidden``, ``sidecar``, ``link_outside``, ``folder_link``,
    ``duplicate``, ``output_folder`` or ``glob``."""
    detail: str = ""
    """More for a person, e.g. where a link points."""

    @property
    def listed(self) -> bool:
        """False for files ``--glob`` left out: counted in every summary, never listed one by one
        (the user asked for them to be left out; a photo folder filtered to ``*.mp4`` would bury
        the report under thousands of lines)."""
        return self.reason != "glob"


def skip_counts(skipped: tuple[Skipped, ...] | list[Skipped]) -> dict[str, int]:
    """Skipped entries per reason, in :data:`SKIP_REASONS` order, reasons with none left out."""
    counts = {reason: 0 for reason in SKIP_REASONS}
    for s in skipped:
        counts[s.reason] = counts.get(s.reason, 0) + 1
    return {reason: n for reason, n in counts.items() if n}


def describe_skipped(skipped: tuple[Skipped, ...] | list[Skipped]) -> str:
    """``4 skipped (2 hidden, 1 sidecar, 1 link out of the folder)``, or "" when none were."""
    counts = skip_counts(skipped)
    if not counts:
        return ""
    parts = ", ".join(f"{n} {SKIP_REASONS.get(reason, reason)}" for reason, n in counts.items())
    return f"{len(skipped)} skipped ({parts})"


@dataclass(frozen=True)
class Report:
    """The check of several paths against one profile."""

    profile: str
    orientation: str
    items: tuple[Item, ...]
    strict: bool = False
    schema: str = "preflight.report/1"
    skipped: tuple[Skipped, ...] = ()
    """What the folders given held that was not checked (hidden files, sidecars, links out of the
    folder...), each with its reason; the files themselves are in ``items``, whatever they are."""
    model: str | None = None
    """The model contract checked against (None for a standalone profile file)."""
    provider: str | None = None
    """The provider contract checked against, if any."""

    @property
    def summary(self) -> dict[str, int]:
        """``pass``/``fixable``/``fail`` count the items; ``pose_not_checked`` counts those of them
        whose content check ran without the pose model (whatever their verdict)."""
        counts = {"pass": 0, "fixable": 0, "fail": 0}
        for item in self.items:
            counts[item.verdict] += 1
        counts["pose_not_checked"] = sum(1 for item in self.items if item.pose_checked is False)
        return counts

    @property
    def ok(self) -> bool:
        return all(item.verdict == "pass" for item in self.items)


def verdict_for(findings: tuple[Finding, ...] | list[Finding], strict: bool = False) -> Verdict:
    """``pass`` with no errors; ``fixable`` when every error can be fixed; else ``fail``.

    With ``strict`` a warning counts as an error.
    """
    blocking = [
        f
        for f in findings
        if f.severity is Severity.ERROR or (strict and f.severity is Severity.WARNING)
    ]
    if not blocking:
        return "pass"
    return "fixable" if all(f.fixable for f in blocking) else "fail"


def to_dict(obj: Any) -> Any:
    """Serialize results to JSON-ready data (dataclasses, enums, tuples, mappings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, ImageDetails):
            out["animated"] = obj.animated
        if isinstance(obj, Finding) and not obj.extra:
            del out["extra"]
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):  # values that say they are not for reports (in_report = False) are left out
        return {str(k): to_dict(v) for k, v in obj.items() if getattr(v, "in_report", True)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 6)
    return obj
