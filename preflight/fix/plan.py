"""The fix planner: (MediaInfo, findings, profile, options) -> ordered operations. Pure: no I/O.

The cheapest correct operation wins: nothing to do -> copy; container (or audio codec) only -> remux;
trim only, from a keyframe -> stream copy; anything that touches pixels or timing -> one re-encode
that does all of it. Content analysis (a pose track and scene cuts, when ``check`` ran it) only
decides *where* to trim and crop; without it the window starts at 0 and crops are centred.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..aspects import matches, parse_ratio, target_choice
from ..color.graph import lut_peak
from ..framing.reframe import FrameLimits, Reframing
from ..models import Finding, MediaInfo, Severity
from ..profiles import ImageLimits, Profile, VideoLimits
from .geometry import Geometry, fit_geometry
from .ops import (
    AudioTranscode,
    BakeRotation,
    ColorConvert,
    ConstantRate,
    Convert,
    Copy,
    Crop,
    FirstFrame,
    FitSize,
    Operation,
    Pad,
    PixelFormat,
    Reframe,
    Remux,
    Scale,
    SquarePixels,
    Stabilize,
    StripExif,
    ToneMap,
    Transcode,
    Trim,
)
from .options import FixOptions
from .window import ContentHints, PoseSample, choose_window, hints_from_analysis, subject_in

__all__ = ["ContentHints", "FixOptions", "Plan", "PoseSample", "hints_from_analysis", "plan_fix", "tone_map_for"]

CONTENT_PREFIXES = ("pose.", "motion.", "quality.", "analysis.")
"""Findings about content: fix cannot repair them, but they never stop it repairing the limits
(choosing the window may even remove a scene cut), so they do not make an input unfixable."""
UNFIXABLE_CONTENT = ("analysis.too_thin",)
"""...except these: padding a 1x20000 picture to 1:2.5 makes 160 MP of blurred line with no person in
it (its blurred cover asked for a 8000x160,000,000 resize: MemoryError)."""

MP4_AUDIO_COPY = ("aac", "mp3")
"""Audio codecs copied into MP4 as they are; any other is re-encoded to AAC."""

DAMAGE_CODES = ("video.corrupt_frames", "audio.corrupt_frames")
"""Findings that forbid copying a stream: a copy would carry its damaged packets to the provider."""

SIZE_MARGIN = 0.97
"""A copy estimated above this share of the byte cap is re-encoded with a computed bitrate instead:
the estimate (bytes per second of the source) is rough, and a miss costs a second pass."""

SHAKE_CODE = "motion.camera_shake"
"""The finding ``--stabilize`` cures; a clip without it is not stabilized (a crop-in and a re-encode
for shake the gate does not object to would cost the clip more than they give)."""

FRAME_KEEPING = (Copy, Remux, AudioTranscode)
"""Operations after which every video frame (or the image) is bit for bit the source's."""

STANDARD_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0)


@dataclass(frozen=True)
class Plan:
    role: str
    operations: tuple[Operation, ...]
    output_ext: str | None
    """``mp4``, ``mov``, ``jpg``, ``png``; None when the input cannot be fixed."""
    reason: str | None = None
    """Why the input cannot be fixed."""
    notes: tuple[str, ...] = ()
    """Why the plan looks as it does (the window chosen, a crop that follows the subject...)."""
    geometry: Geometry | None = None
    size_cap: int | None = None
    """The profile's byte cap for this kind of file (the executor guards every re-encode with it)."""
    duration: float | None = None
    """The source's duration (seconds), for clips."""
    findings: tuple[Finding, ...] = ()
    """What planning found that the output will still show (``reframe.*``), or was asked for and cannot
    do (``stabilize.crop_too_large``: the output is written without it): fix adds them to the re-check."""

    @property
    def fixable(self) -> bool:
        return self.reason is None

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(op.action for op in self.operations)

    def find(self, kind: type) -> Any:
        return next((op for op in self.operations if isinstance(op, kind)), None)

    @property
    def encodes(self) -> bool:
        return any(isinstance(op, Transcode) for op in self.operations)

    @property
    def changes_pixels(self) -> bool:
        """True unless every operation keeps the frames as they were (a copy, a remux, new sound):
        a re-encode, a trim, a colour, size or timing change all need the content checked again.
        Asked this way round, an operation added later counts as a change until shown otherwise."""
        return not all(isinstance(op, FRAME_KEEPING) for op in self.operations)


def plan_fix(
    info: MediaInfo,
    findings: Sequence[Finding],
    profile: Profile,
    orientation: str = "video",
    options: FixOptions | None = None,
    hints: ContentHints | None = None,
    keyframes: Sequence[float] | None = None,
) -> Plan:
    """The operations that make ``info`` acceptable to ``profile``, cheapest first.

    ``keyframes`` (seconds) are the clip's keyframe times; a trim is a stream copy only when its
    start is on one. Without them a trim that does not start at 0 is re-encoded.
    """
    options = options or FixOptions()
    blocking = [
        f for f in findings
        if f.severity is Severity.ERROR and not f.fixable
        and (not f.code.startswith(CONTENT_PREFIXES) or f.code in UNFIXABLE_CONTENT)
    ]  # fmt: skip
    if blocking:
        return Plan(info.role, (), None, reason="; ".join(f"{f.code}: {f.message}" for f in blocking))
    if info.role == "image":
        return _plan_image(info, profile, options, hints or ContentHints())
    damaged = frozenset(f.code for f in findings if f.code in DAMAGE_CODES)
    shaky = any(f.code == SHAKE_CODE for f in findings)
    return _plan_clip(info, profile, orientation, options, hints or ContentHints(), keyframes, damaged, shaky)


# --- clips ------------------------------------------------------------------------------------


def _plan_clip(
    info: MediaInfo,
    profile: Profile,
    orientation: str,
    options: FixOptions,
    hints: ContentHints,
    keyframes: Sequence[float] | None,
    damaged: frozenset[str] = frozenset(),
    shaky: bool = False,
) -> Plan:
    v, lim = info.video, profile.video
    if v is None:
        return Plan("video", (), None, reason="video.missing_stream: no video stream")
    notes: list[str] = []
    frame = 1 / (v.base_fps or v.fps or 30.0)
    window = choose_window(info, profile, orientation, options, hints, keyframes, frame, notes)
    if isinstance(window, str):
        return Plan("video", (), None, reason=window)
    length = window[1] - window[0] if window else (info.duration or 0.0)

    encode_why: list[str] = ["forced"] if options.reencode else []  # anything here forces a re-encode
    if "video.corrupt_frames" in damaged:
        encode_why.append("damaged video")
        notes.append("damaged video packets: re-encoded, never stream-copied")
    if v.codec not in lim.video_codecs:
        encode_why.append(f"codec {v.codec}")
    if v.rotation:
        encode_why.append("rotation")
    if v.sample_aspect:
        encode_why.append("non-square pixels")
    tone = tone_map_for(v)
    if tone is not None:
        encode_why.append(tone.source)
    shown = _square_shown_size(info)
    odd_pixels = (v.bit_depth or 8) > 8 or not (v.pix_fmt or "yuv420p").startswith(("yuv420p", "yuvj420p"))
    if odd_pixels:
        encode_why.append(f"pixel format {v.pix_fmt}")
    rate = _target_rate(v.fps, v.base_fps, v.variable_fps, lim.min_fps, lim.max_fps)
    if rate is not None:
        encode_why.append("frame rate")
    follow = options.reframe == "follow"
    shake = _shake_to_follow(options, hints, shaky, window, shown, notes) if follow else None
    framing = (_reframing(shown, lim, options, hints, window, profile, notes, options.reframe, info.duration, shake)
               if options.reframe else None)  # fmt: skip
    rect = framing.rect if framing is not None else None
    following = framing.following if framing is not None else None
    if rect is not None:
        encode_why.append("reframe")
    base = rect[2:] if rect is not None else shown  # the frame the aspect and side limits apply to
    # A window that follows has the subject in its middle, wherever that is: an aspect crop inside it is centred.
    subject = subject_in(hints, window) if options.aspect == "crop" and following is None else None
    if subject is not None:
        notes.append("crop window holds the subject's box")
        subject = _within(subject, rect, shown) if rect is not None else subject
    limits = dict(min_side=lim.min_side, max_side=lim.max_side, min_aspect=lim.min_aspect,
                  max_aspect=lim.max_aspect, aspect_mode=options.aspect, subject=subject,
                  ratio=_ratio_target(*base, lim, options.aspect, notes))  # fmt: skip
    if fit_geometry(*base, even=False, **limits).changed:  # type: ignore[arg-type]
        encode_why.append("geometry")
    # What a re-encode would make (stabilize works inside it): the reframe window placed in the frame,
    # then the aspect and side limits, then --max-side.
    geometry, capped = _capped_geometry(base, limits, options.max_side)  # type: ignore[arg-type]
    moving = None
    refused: tuple[Finding, ...] = ()
    if following is not None and framing is not None:
        geometry, moving, rect = _followed(geometry, following, shown)
        framing = replace(framing, rect=rect)
    elif rect is not None:
        geometry = _placed(geometry, rect, shown)
    if following is not None:  # the one moving crop follows; with --stabilize it moves with the shake too
        stabilize = _stabilize_following(following, moving, shown)
    else:  # a fixed window (or none): stabilized inside it ("follow" noted why not already)
        stabilize, refused = _stabilize(options, hints, shaky, window, geometry, lim.min_side,
                                        [] if follow else notes)  # fmt: skip
    if stabilize is not None:
        encode_why.append("stabilize")
    found = (*(framing.findings if framing is not None else ()), *refused)

    audio = info.audio[0] if info.audio else None
    audio_op = None
    audio_damaged = audio is not None and "audio.corrupt_frames" in damaged
    if audio is not None and (audio_damaged or not (audio.codec in lim.audio_codecs and audio.codec in MP4_AUDIO_COPY)):
        audio_op = AudioTranscode(audio.codec)
    if audio_damaged:
        notes.append("damaged audio packets: the sound is re-encoded, gaps filled with silence")

    cap = lim.max_bytes
    estimate = info.file_size * (length / info.duration) if info.duration else info.file_size
    too_big = cap is not None and estimate > cap * SIZE_MARGIN
    trim = window is not None
    copy_start = trim and _on_keyframe(window[0], keyframes, frame)  # type: ignore[index]
    if trim and not copy_start and not encode_why:
        notes.append(f"the cut at {window[0]:.3f} s is not on a keyframe: re-encoded")  # type: ignore[index]

    sizes: dict[str, Any] = {"size_cap": cap, "duration": info.duration}
    if not encode_why and not too_big and (not trim or copy_start):
        ops: list[Operation] = []
        if info.header_duration is not None:  # a copy would carry the lie (a remux writes a new header)
            ops.append(Remux(info.format, header=(info.header_duration, info.duration or 0.0)))
        elif info.format != "mp4" and (trim or audio_op or info.format not in lim.containers):
            ops.append(Remux(info.format))
        if trim:
            ops.append(Trim(window[0], window[1], stream_copy=True))  # type: ignore[index]
        if audio_op:
            if not ops:
                ops.append(Remux(info.format))
            ops.append(audio_op)
        if not ops:
            return Plan("video", (Copy(),), _clip_ext(info.format), notes=tuple(notes), findings=found, **sizes)
        return Plan("video", tuple(ops), "mp4", notes=tuple(notes), findings=found, **sizes)

    # One re-encode does everything: trim, rotation, reframe and geometry (even sides now), stabilize,
    # scale to --max-side, rate, size.
    if capped and max(geometry.canvas) > options.max_side:
        notes.append(f"max side {options.max_side} would take the short side under the profile's {lim.min_side} px: "
                     f"scaled to {geometry.canvas[0]}x{geometry.canvas[1]}")  # fmt: skip
    ops = []
    if trim:
        ops.append(Trim(window[0], window[1], stream_copy=False))  # type: ignore[index]
    ops.append(Transcode("h264", "aac" if audio is not None else None))
    if audio_damaged and audio_op is not None:
        ops.append(audio_op)  # the executor encodes even AAC sound then, instead of copying it
    if v.sample_aspect:
        ops.append(SquarePixels(v.sample_aspect, (v.coded_width, v.coded_height), (v.square_width, v.coded_height)))
    if v.rotation:
        ops.append(BakeRotation(v.rotation))
    ops.extend(_geometry_ops(geometry, options.fill, options.max_side if capped else None, framing, stabilize,
                             moving))  # fmt: skip
    if tone is not None:
        ops.append(tone)
    if rate is not None:
        ops.append(ConstantRate(rate, v.fps, v.variable_fps))
    if odd_pixels:
        ops.append(PixelFormat(v.pix_fmt))
    if too_big and cap is not None:
        ops.append(FitSize(cap, video_bitrate(cap, length, audio is not None)))
    return Plan("video", tuple(ops), "mp4", notes=tuple(notes), geometry=geometry, findings=found, **sizes)


def _reframing(
    shown: tuple[int, int],
    lim: ImageLimits | VideoLimits,
    options: FixOptions,
    hints: ContentHints,
    window: tuple[float, float] | None,
    profile: Profile,
    notes: list[str],
    mode: str = "fixed",
    duration: float | None = None,
    shake: Any = None,
) -> Reframing | None:
    """The ``--reframe`` window for the kept part of a clip (or a still: one sample at time 0), from the
    check's pose track; None (with a note) when the check saw no person. ``mode``: ``fixed`` or ``follow``
    (clips only), ``duration`` the clip's, ``shake`` (:class:`.stabilize.Shake`) to take out with it."""
    from ..analyze.pose_findings import MIN_SUBJECT_SIZE
    from ..framing.reframe import reframe

    track = hints.track or (
        (PoseSample(0.0, True, hints.subject, hints.others),) if hints.subject is not None else ()
    )  # fmt: skip
    if not any(s.bbox is not None for s in track):
        notes.append("reframe: the check saw no person (or ran without the content gates): not reframed")
        return None
    framing = reframe(
        track, shown, FrameLimits.of(lim, *shown), span=window, person=options.person, share=options.subject_share,
        aspect=options.subject_aspect, shot=options.shot, torso_lines=hints.torso_lines, own_shot=hints.shot,
        shot_from=options.shot_from,
        min_area=float(profile.content.get(*MIN_SUBJECT_SIZE) or MIN_SUBJECT_SIZE[1]),
        mode=mode, duration=duration, shake=shake,
    )  # fmt: skip
    if framing.rect is None:
        notes.append(framing.why)
    elif framing.hint:
        notes.append(framing.hint)
    return framing


def _followed(g: Geometry, following: Any, shown: tuple[int, int]) -> tuple[Geometry, Any, tuple[int, int, int, int]]:
    """Geometry ``g`` of a following window as geometry of the whole ``shown`` frame (nothing cropped before
    the moving crop), the moving crop (the geometry's crop inside the window, moved with it; with the shake
    added when the window takes it out) and where it starts."""
    from ..framing.moving import MovingCrop

    cx, cy, cw, ch = g.crop
    path = following.window if following.shake is None else following.with_shake(following.shake)
    moving = MovingCrop((cw, ch), shown, path.times, tuple(v + cx for v in path.left),
                        tuple(v + cy for v in path.top))  # fmt: skip
    x, y = moving.position(moving.times[0])
    whole = Geometry(shown, (0, 0, *shown), g.content, g.canvas, g.offset)
    return whole, moving, (x, y, cw, ch)


def _stabilize_following(following: Any, moving: Any, shown: tuple[int, int]) -> Stabilize | None:
    """The stabilize operation of a following window that takes the shake out too (one moving crop)."""
    shake = following.shake
    if shake is None:
        return None
    from ..framing.stabilize import jitter_left

    return Stabilize(shake.before, jitter_left(shake, moving, shown), None, moving)


def _shake_to_follow(
    options: FixOptions, hints: ContentHints, shaky: bool, window: tuple[float, float] | None, shown: tuple[int, int],
    notes: list[str],
) -> Any:  # fmt: skip
    """The shake a following window takes out with ``--stabilize`` (:class:`.stabilize.Shake`), or None
    (with a note saying why not)."""
    if not _stabilize_asked(options, hints, shaky, notes):
        return None
    from ..framing.stabilize import shake_of

    shake = shake_of(hints.camera, window, shown)  # type: ignore[arg-type]
    if shake is None:
        notes.append("stabilize: too few frames in the kept window to smooth: not stabilized")
    return shake


def _within(box: tuple[float, float, float, float], rect: tuple[int, int, int, int], shown: tuple[int, int]) -> Any:
    """``box`` (normalized to the frame) normalized to the window ``rect`` instead."""
    x, y, w, h = rect
    sx, sy = shown
    return ((box[0] * sx - x) / w, (box[1] * sy - y) / h, (box[2] * sx - x) / w, (box[3] * sy - y) / h)


def _placed(g: Geometry, rect: tuple[int, int, int, int], shown: tuple[int, int]) -> Geometry:
    """Geometry ``g`` of the window ``rect``, as geometry of the whole ``shown`` frame: its crop moved into
    the window (fix crops once, then scales and pads as for any frame)."""
    x, y = rect[:2]
    cx, cy, cw, ch = g.crop
    return Geometry(shown, (x + cx, y + cy, cw, ch), g.content, g.canvas, g.offset)


_TONE_PRIMARIES = ("bt2020", "smpte432", "bt709")
"""Source primaries the tone map converts from (:data:`preflight.color.curves.PRIMARIES`); HDR tagged with
anything else (or nothing) is taken as BT.2020, as BT.2100 defines it."""


def tone_map_for(v: Any, target: str = "BT.709") -> ToneMap | None:
    """The tone map a video stream (or an image's details, ``target="sRGB"``) needs to become SDR, or None."""
    source = v.sdr_conversion
    if source is None:
        return None
    primaries = v.color_primaries if v.color_primaries in _TONE_PRIMARIES else "bt2020"
    peak = getattr(v, "peak_luminance", None)
    return ToneMap(source, primaries, lut_peak(peak) if source == "PQ" else None, target)


def video_bitrate(max_bytes: int, seconds: float, with_audio: bool, audio_bps: int = 128_000) -> int:
    """Video bits per second that keep ``seconds`` of clip under ``max_bytes``, with room for the
    sound and about 2% of container overhead."""
    budget = max_bytes * 8 * 0.98 / max(seconds, 0.1)
    return max(100_000, int(budget - (audio_bps if with_audio else 0)))


def _clip_ext(fmt: str) -> str:
    return "mov" if fmt == "mov" else "mp4"


def _square_shown_size(info: MediaInfo) -> tuple[int, int]:
    """The frame size the geometry works on: shown size, with anamorphic pixels already squared
    (to the even width ``SquarePixels`` produces)."""
    v = info.video
    if v is None or not v.sample_aspect:
        return info.width, info.height
    w, h = v.square_width, v.coded_height
    return (h, w) if v.rotation in (90, 270) else (w, h)


def _ratio_target(width: int, height: int, lim: ImageLimits | VideoLimits, mode: str, notes: list[str]) -> float | None:
    """The one ratio the output must have when the profile lists allowed ratios: the nearest to the
    frame's (a frame that already matches one keeps it; its sides may still need rounding)."""
    choice = target_choice(width / height, lim) if height else None
    if choice is None:
        return None
    if not matches(width / height, choice):
        done = "cropped" if mode == "crop" else "padded"
        notes.append(f"{done} to {choice}, the nearest of the ratios the profile accepts")
    return parse_ratio(choice)


def _capped_geometry(shown: tuple[int, int], limits: dict[str, Any], cap: int) -> tuple[Geometry, bool]:
    """The re-encode's geometry, its long side scaled down to ``cap`` (``--max-side``; 0: no cap), and
    whether the cap changed it.

    The cap lowers the profile's ``max_side`` and nothing else, so it never scales up. It gives way to
    the profile's ``min_side``: a frame whose padded or cropped shape would put the short side under the
    minimum at ``cap`` keeps the smallest long side that holds the minimum."""
    plain = fit_geometry(*shown, even=True, **limits)
    if not cap or max(plain.canvas) <= cap:
        return plain, False
    w, h = plain.canvas
    lowest = limits["min_side"] or 0
    side = max(cap, math.ceil(lowest * max(w, h) / min(w, h) / 2) * 2)  # even: the canvas sides are
    for _ in range(8):
        if side >= max(plain.canvas):
            return plain, False
        upper = limits["max_side"]
        capped = fit_geometry(*shown, even=True, **{**limits, "max_side": min(side, upper) if upper else side})
        if min(capped.canvas) >= lowest:
            return capped, True
        side += 2  # rounding the short side down took it under the minimum: one step larger
    return plain, False


def _stabilize(
    options: FixOptions, hints: ContentHints, shaky: bool, window: tuple[float, float] | None, g: Geometry,
    min_side: int | None, notes: list[str],
) -> tuple[Stabilize | None, tuple[Finding, ...]]:  # fmt: skip
    """The stabilize operation ``--stabilize`` asks for, or why there is none: a note when there is
    nothing to do, a finding (``stabilize.crop_too_large``) when it cannot be done."""
    if not _stabilize_asked(options, hints, shaky, notes):
        return None, ()
    from ..framing.stabilize import correction_for

    outcome = correction_for(hints.camera, window, g.crop, g.source, min_side)  # type: ignore[arg-type]
    if outcome is None:
        notes.append("stabilize: too few frames in the kept window to smooth: not stabilized")
        return None, ()
    if isinstance(outcome, Finding):
        return None, (outcome,)
    return Stabilize(outcome.jitter_before, outcome.jitter_after, outcome.crop_in, outcome.window), ()


def _stabilize_asked(options: FixOptions, hints: ContentHints, shaky: bool, notes: list[str]) -> bool:
    """Whether ``--stabilize`` has work to do: asked, a camera path measured, and shake found (else a note)."""
    if not options.stabilize:
        return False
    if hints.camera is None:
        notes.append("stabilize: no camera path (the content check did not run): not stabilized")
        return False
    if not shaky:
        from ..framing.stabilize import shake_rms

        jitter = shake_rms(hints.camera.times, hints.camera.x, hints.camera.y, hints.camera.size)
        measured = f" (jitter {jitter:.2f}%)" if jitter is not None else ""
        notes.append(f"stabilize: the check found no camera shake{measured}: not stabilized")
        return False
    return True


def _geometry_ops(
    g: Geometry, fill: str, max_side: int | None = None, framing: Reframing | None = None,
    stabilize: Stabilize | None = None, moving: Any = None,
) -> list[Operation]:
    ops: list[Operation] = []
    if moving is not None and framing is not None and framing.rect is not None:  # --reframe follow
        ops.append(Reframe(g.source, framing.rect, framing.detail, framing.before, framing.after, moving))
        if stabilize is not None:
            ops.append(stabilize)
        if moving.size != g.content:
            ops.append(Scale(moving.size, g.content, max_side))
        if g.padded:
            ops.append(Pad(g.content, g.canvas, g.offset, fill))
        return ops
    if g.cropped and framing is not None and framing.rect is not None:
        ops.append(Reframe(g.source, g.crop, framing.detail, framing.before, framing.after))
    elif g.cropped:
        ops.append(Crop(g.source, g.crop))
    if stabilize is not None:
        ops.append(stabilize)  # inside the crop, before the scale that brings it to the output size
    if g.scaled:
        ops.append(Scale(g.crop[2:], g.content, max_side))  # type: ignore[arg-type]
    if g.padded:
        ops.append(Pad(g.content, g.canvas, g.offset, fill))
    return ops


def _target_rate(
    fps: float | None, base: float | None, variable: bool, lo: float | None, hi: float | None
) -> float | None:
    """A constant output rate when the source is variable or outside the profile's bounds; else None
    (the frame rate is kept)."""
    if fps is None:
        return None
    rate = _standard_rate(fps if variable else (base or fps))
    clamped = min(max(rate, lo if lo is not None else rate), hi if hi is not None else rate)
    if variable or clamped != rate:
        return clamped
    return None


def _standard_rate(fps: float) -> float:
    best = min(STANDARD_RATES, key=lambda r: abs(r - fps))
    return best if abs(best - fps) / best < 0.03 else round(fps, 2)


def _on_keyframe(start: float, keyframes: Sequence[float] | None, frame: float) -> bool:
    if start <= 1e-6:
        return True  # every clip starts on a keyframe
    return bool(keyframes) and any(abs(k - start) <= frame / 2 for k in keyframes)  # type: ignore[union-attr]


# --- images -----------------------------------------------------------------------------------

_PNG_LIKE = ("P", "PA", "1")


def _plan_image(info: MediaInfo, profile: Profile, options: FixOptions, hints: ContentHints) -> Plan:
    d, lim = info.image, profile.image
    if d is None:
        return Plan("image", (), None, reason="format.unrecognized: no image details")
    ops: list[Operation] = []
    if d.animated:
        ops.append(FirstFrame(d.frames))
    if d.exif_orientation != 1:
        ops.append(StripExif(d.exif_orientation))
    tone = tone_map_for(d, target="sRGB")
    if tone is not None:
        ops.append(tone)  # the pixels come from the HDR decode: no other colour conversion applies
    color = None if tone is not None else _color_op(d.mode, d.bit_depth, d.has_alpha, d.color_profile)
    if color is not None:
        ops.append(color)
    target = info.format if info.format in lim.formats else _image_target(info.format, d.mode, lim.formats)
    if target != info.format:
        ops.append(Convert(info.format, target))
    notes: list[str] = []
    shown = (info.width, info.height)
    framing = None
    if options.reframe and _wider(hints.shot, options.shot):  # a photo is cut only to a tighter shot (prepare)
        framing = _reframing(shown, lim, options, hints, None, profile, notes)
    elif options.reframe:
        notes.append("reframe: a photo is cropped only to the clip's tighter shot type (prepare --reframe)")
    rect = framing.rect if framing is not None else None
    base = rect[2:] if rect is not None else shown
    subject = hints.subject if options.aspect == "crop" else None
    if subject is not None and rect is not None:
        subject = _within(subject, rect, shown)
    geometry = fit_geometry(
        *base, min_side=lim.min_side, max_side=lim.max_side, min_aspect=lim.min_aspect,
        max_aspect=lim.max_aspect, aspect_mode=options.aspect, subject=subject,
        ratio=_ratio_target(*base, lim, options.aspect, notes),
    )  # fmt: skip
    if rect is not None:
        geometry = _placed(geometry, rect, shown)
    ops.extend(_geometry_ops(geometry, options.fill, None, framing))
    if lim.max_bytes is not None and info.file_size > lim.max_bytes:
        ops.append(FitSize(lim.max_bytes))  # the executor guards the cap on every re-encode anyway
    found = framing.findings if framing is not None else ()
    if not ops:
        return Plan("image", (Copy(),), _image_ext(info.format), notes=tuple(notes), size_cap=lim.max_bytes,
                    findings=found)  # fmt: skip
    return Plan("image", tuple(ops), _image_ext(target), notes=tuple(notes), geometry=geometry,
                size_cap=lim.max_bytes, findings=found)  # fmt: skip


def _wider(own: str | None, target: str | None) -> bool:
    """Whether a file of shot type ``own`` shows more of the person than ``target``."""
    from ..analyze.pose_landmarks import SHOT_TYPES

    return own in SHOT_TYPES and target in SHOT_TYPES and SHOT_TYPES.index(own) > SHOT_TYPES.index(target)


def _color_op(mode: str, bit_depth: int, has_alpha: bool, profile: str | None = None) -> ColorConvert | None:
    if profile:
        return ColorConvert(mode, f"{profile} to sRGB")
    if mode == "CMYK":
        return ColorConvert(mode)
    if bit_depth > 8:
        return ColorConvert(mode, f"{bit_depth}-bit to 8-bit")
    if has_alpha:
        return ColorConvert(mode, "alpha over white")
    if mode in ("P", "1"):
        return ColorConvert(mode)
    return None


def _image_target(fmt: str, mode: str, accepted: Sequence[str]) -> str:
    """Photos become JPEG; drawings (GIF, palette, 1-bit) become PNG when the profile takes PNG."""
    wants_png = fmt == "gif" or mode in _PNG_LIKE
    if wants_png and "png" in accepted:
        return "png"
    return "jpeg" if "jpeg" in accepted else accepted[0]


def _image_ext(fmt: str) -> str:
    return {"jpeg": "jpg", "png": "png"}.get(fmt, fmt)

