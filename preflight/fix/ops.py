"""The operations a fix plan is made of: frozen dataclasses, each able to say what it does.

``action`` is the short string the report shows (``remux``, ``trim 0.000-30.000 (stream copy)``,
``scale 240x320->340x453``...); scripts match on its first word, so that word never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..framing.moving import MovingCrop

__all__ = [
    "AudioTranscode",
    "BakeRotation",
    "ColorConvert",
    "ConstantRate",
    "Convert",
    "Copy",
    "Crop",
    "FirstFrame",
    "FitSize",
    "Operation",
    "Pad",
    "PixelFormat",
    "Reframe",
    "Remux",
    "Scale",
    "SquarePixels",
    "Stabilize",
    "StripExif",
    "ToneMap",
    "Transcode",
    "Trim",
]


def _size(wh: tuple[int, int]) -> str:
    return f"{wh[0]}x{wh[1]}"


@dataclass(frozen=True)
class Copy:
    """Nothing to do: the bytes are copied as they are."""

    @property
    def action(self) -> str:
        return "copy"


@dataclass(frozen=True)
class Remux:
    """New container, same compressed streams (no decoding)."""

    source_format: str
    target_format: str = "mp4"
    header: tuple[float, float] | None = None
    """(claimed, real) seconds when the remux is there to rewrite a movie header that lies."""

    @property
    def action(self) -> str:
        if self.header is not None:
            return f"remux (the header said {self.header[0]:.2f} s: rewritten as {self.header[1]:.2f} s)"
        return "remux"


@dataclass(frozen=True)
class Trim:
    start: float
    end: float
    stream_copy: bool
    """True: packets are copied from a keyframe at ``start``; False: the window is re-encoded."""

    @property
    def action(self) -> str:
        how = "stream copy" if self.stream_copy else "re-encode"
        return f"trim {self.start:.3f}-{self.end:.3f} ({how})"

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Transcode:
    """Decode and encode the video (H.264, yuv420p, faststart); audio as ``audio``."""

    video_codec: str = "h264"
    audio_codec: str | None = "aac"
    """``aac`` (copied when the source is already AAC, else encoded), or None without sound."""

    @property
    def action(self) -> str:
        return f"transcode {self.video_codec}/{self.audio_codec}" if self.audio_codec else (
            f"transcode {self.video_codec}"
        )


@dataclass(frozen=True)
class AudioTranscode:
    """Only the sound is re-encoded (the video packets are copied)."""

    source_codec: str
    target_codec: str = "aac"

    @property
    def action(self) -> str:
        return f"transcode audio {self.source_codec}->{self.target_codec}"


@dataclass(frozen=True)
class BakeRotation:
    degrees: int
    """Clockwise display rotation turned into pixels."""

    @property
    def action(self) -> str:
        return f"bake rotation {self.degrees}"


@dataclass(frozen=True)
class Crop:
    source: tuple[int, int]
    rect: tuple[int, int, int, int]
    """(x, y, width, height) kept."""

    @property
    def action(self) -> str:
        x, y, w, h = self.rect
        return f"crop {_size(self.source)}->{w}x{h} at {x},{y}"


@dataclass(frozen=True)
class Reframe:
    """A crop that makes the file about one person (``--reframe``): one fixed window for the whole clip,
    chosen from the check's pose track (:mod:`preflight.framing.reframe`). It stands for the geometry's crop; with
    ``--reframe follow`` it is a window that moves (``moving``) and the geometry crops nothing else."""

    source: tuple[int, int]
    rect: tuple[int, int, int, int]
    """(x, y, width, height) kept, in displayed source pixels (a moving window: where it starts)."""
    detail: str
    """What it did, e.g. ``subject 26% -> 61% of the height``."""
    before: float
    """The subject's height as a share of the frame's, before and after."""
    after: float
    moving: MovingCrop | None = field(default=None, repr=False)
    """``--reframe follow``: the window at each time (with ``--stabilize``, the shake's offsets added)."""

    @property
    def action(self) -> str:
        x, y, w, h = self.rect
        if self.moving is not None:
            return f"reframe follow {w}x{h} ({self.detail})"
        return f"reframe crop {w}x{h}+{x}+{y} ({self.detail})"

    def rect_at(self, t: float) -> tuple[int, int, int, int]:
        """The window at ``t`` seconds from the clip's start."""
        if self.moving is None:
            return self.rect
        return (*self.moving.position(t), *self.moving.size)


@dataclass(frozen=True)
class Scale:
    source: tuple[int, int]
    target: tuple[int, int]
    max_side: int | None = None
    """Set when the clip was scaled down to ``fix --max-side`` (not for a profile's limits)."""

    @property
    def action(self) -> str:
        why = f" (max side {self.max_side})" if self.max_side else ""
        return f"scale {_size(self.source)}->{_size(self.target)}{why}"


@dataclass(frozen=True)
class SquarePixels:
    """Resample non-square (anamorphic) pixels to square ones, before any other geometry."""

    sample_aspect: str
    source: tuple[int, int]
    target: tuple[int, int]

    @property
    def action(self) -> str:
        return f"square pixels {self.sample_aspect}: {_size(self.source)}->{_size(self.target)}"


@dataclass(frozen=True)
class Pad:
    source: tuple[int, int]
    target: tuple[int, int]
    offset: tuple[int, int]
    fill: str = "blur"
    """``blur``: a blurred, enlarged copy of the frame behind it; ``solid``: black (white for images)."""

    @property
    def action(self) -> str:
        fill = "blurred fill" if self.fill == "blur" else "solid fill"
        return f"pad {_size(self.source)}->{_size(self.target)} ({fill})"


@dataclass(frozen=True)
class Stabilize:
    """Hand-held shake taken out (``fix --stabilize``, :mod:`.stabilize`): a window that moves with the
    shake, cut from every frame before the scale to the output size."""

    jitter_before: float
    """The shake gate's jitter, % of the long side, over the kept part of the input."""
    jitter_after: float
    """The same once stabilized: expected from the path in the plan, measured by the re-check after."""
    crop_in: float | None
    """Share of each side cut away to hide the borders; None: the shake moves a ``--reframe follow``
    window, which has room around it already."""
    window: MovingCrop = field(repr=False)
    measured: bool = False
    """True once ``jitter_after`` is the re-check's measure of the output."""

    @property
    def action(self) -> str:
        after = f"{self.jitter_after:.2f}%" if self.measured else f"~{self.jitter_after:.2f}% expected"
        room = "in the follow window" if self.crop_in is None else f"crop-in {self.crop_in:.0%}"
        return f"stabilize (jitter {self.jitter_before:.2f}% -> {after}, {room})"


@dataclass(frozen=True)
class ConstantRate:
    fps: float
    source_fps: float | None
    variable: bool

    @property
    def action(self) -> str:
        if self.variable:
            return f"constant rate {self.fps:g} fps (was variable)"
        return f"frame rate {self.source_fps or 0:g}->{self.fps:g} fps"


@dataclass(frozen=True)
class PixelFormat:
    source: str | None
    target: str = "yuv420p"

    @property
    def action(self) -> str:
        return f"pixel format {self.source}->{self.target}"


@dataclass(frozen=True)
class ToneMap:
    """HDR (or wide-gamut SDR) pixels made SDR BT.709: BT.2408 reference white on SDR white,
    highlights rolled off, colours converted from the source primaries (:mod:`preflight.color.curves`)."""

    source: str
    """``HLG``, ``PQ`` or ``BT.2020 SDR`` (only the gamut changes)."""
    primaries: str = "bt2020"
    """The source's primaries: ``bt2020``, ``smpte432`` (Display P3) or ``bt709``."""
    peak_nits: float | None = None
    """The brightest content (PQ metadata); None for the default."""
    target: str = "BT.709"
    """``BT.709`` for clips, ``sRGB`` for stills (same primaries, the still's own curve)."""

    @property
    def action(self) -> str:
        if self.source.endswith("SDR"):  # no curve to map: only the colours move
            return f"gamut {self.source.removesuffix(' SDR')} -> {self.target}"
        return f"tone map {self.source} -> SDR {self.target}"


@dataclass(frozen=True)
class FitSize:
    """Keep the output under a byte cap: a bitrate (clips) or a quality search (images)."""

    max_bytes: int
    video_bitrate: int | None = None
    """Bits per second computed from the duration (clips only)."""

    @property
    def action(self) -> str:
        cap = f"{self.max_bytes / 1_000_000:.1f} MB"
        if self.video_bitrate:
            return f"bitrate {self.video_bitrate / 1_000_000:.2f} Mb/s for the {cap} cap"
        return f"compress under {cap}"


@dataclass(frozen=True)
class FirstFrame:
    frames: int

    @property
    def action(self) -> str:
        return f"first frame of {self.frames}"


@dataclass(frozen=True)
class StripExif:
    orientation: int
    """The EXIF orientation applied to the pixels before the metadata was dropped (1 = none)."""

    @property
    def action(self) -> str:
        if self.orientation != 1:
            return f"apply EXIF orientation {self.orientation}, strip EXIF"
        return "strip EXIF"


@dataclass(frozen=True)
class ColorConvert:
    source_mode: str
    detail: str = ""
    """e.g. ``alpha over white``, ``16-bit to 8-bit``."""

    @property
    def action(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"convert {self.source_mode}->RGB{extra}"


@dataclass(frozen=True)
class Convert:
    source_format: str
    target_format: str

    @property
    def action(self) -> str:
        return f"convert {self.source_format}->{self.target_format}"


Operation = (
    Copy | Remux | Trim | Transcode | AudioTranscode | BakeRotation | SquarePixels | Crop | Reframe | Stabilize
    | Scale | Pad | ConstantRate | PixelFormat | ToneMap | FitSize | FirstFrame | StripExif | ColorConvert | Convert
)  # fmt: skip
