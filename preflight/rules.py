"""Rules: pure functions (MediaInfo, Profile, orientation) -> findings. No I/O.

Every limit is inclusive: a clip of exactly 3.0 s or an image of exactly 2.5:1 passes.
A finding is ``fixable`` when ``preflight fix`` has an operation for it that keeps the motion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .aspects import aspect_label, choice_label, matches, target_choice
from .media.probe import MAX_IMAGE_PIXELS
from .models import Finding, MediaInfo, Severity
from .profiles import ImageLimits, Profile, VideoLimits

__all__ = ["check_media", "check_prompt"]

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# Aspect ratios come from integer sides; a tolerance keeps 850/340 == 2.5 exact in spirit.
_EPS = 1e-9

Context = tuple[MediaInfo, Profile, str]
Rule = Callable[[MediaInfo, Profile, str], Iterable[Finding]]


def check_media(info: MediaInfo, profile: Profile, orientation: str = "video") -> tuple[Finding, ...]:
    """Every limit finding for one probed file, errors first."""
    rules = IMAGE_RULES if info.role == "image" else VIDEO_RULES
    found = [f for rule in rules for f in rule(info, profile, orientation)]
    order = {E: 0, W: 1, INFO: 2}
    return tuple(sorted(found, key=lambda f: order[f.severity]))


def check_prompt(prompt: str | None, profile: Profile, field: str = "prompt") -> Finding | None:
    if prompt is None or profile.max_prompt_chars is None or len(prompt) <= profile.max_prompt_chars:
        return None
    return Finding(
        "prompt.too_long", E,
        f"{field} has {len(prompt)} characters; {profile.name} accepts at most {profile.max_prompt_chars}",
        measured=len(prompt), limit=profile.max_prompt_chars,
    )  # fmt: skip


# --- shared -----------------------------------------------------------------------------------


def _limits(info: MediaInfo, profile: Profile) -> ImageLimits | VideoLimits:
    return profile.image if info.role == "image" else profile.video


def _noun(info: MediaInfo) -> str:
    return "image" if info.role == "image" else "clip"


def _sides(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    lim = _limits(info, profile)
    size = f"{info.width}x{info.height}"
    if lim.min_side is not None and info.short_side < lim.min_side:
        yield Finding(
            "resolution.too_small", E,
            f"{_noun(info)} is {size}; {profile.name} needs at least {lim.min_side} px on each side: "
            "fix scales it up (a larger original looks better)",
            fixable=True, measured=info.short_side, limit=lim.min_side,
        )  # fmt: skip
    if lim.max_side is not None and info.long_side > lim.max_side:
        yield Finding(
            "resolution.too_large", E,
            f"{_noun(info)} is {size}; {profile.name} accepts at most {lim.max_side} px on a side: "
            "fix scales it down",
            fixable=True, measured=info.long_side, limit=lim.max_side,
        )  # fmt: skip


def _aspect(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    lim = _limits(info, profile)
    if lim.min_aspect is None and lim.max_aspect is None:
        return
    lo, hi = lim.min_aspect or 0.0, lim.max_aspect or float("inf")
    if lo - _EPS <= info.aspect <= hi + _EPS:
        return
    limit = f"{_ratio(lo)}..{_ratio(hi)}"
    yield Finding(
        "aspect.out_of_range", E,
        f"{_noun(info)} is {info.width}x{info.height} ({_ratio(info.aspect)}); {profile.name} accepts "
        f"{limit}: fix pads it (or crops with --aspect crop)",
        fixable=True, measured=round(info.aspect, 4), limit=limit,
    )  # fmt: skip


def _aspect_choice(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    """A provider that takes a list of exact ratios (Runway's ``ratio``): the frame must match one."""
    lim = _limits(info, profile)
    if not lim.aspect_choices or not info.height or any(matches(info.aspect, c) for c in lim.aspect_choices):
        return
    target = target_choice(info.aspect, lim)
    listed = ", ".join(choice_label(c) for c in lim.aspect_choices)
    yield Finding(
        "aspect.out_of_range", E,
        f"{_noun(info)} is {info.width}x{info.height} ({aspect_label(info.width, info.height)}); {profile.name} "
        f"accepts the ratios {listed}: fix pads it to {target} (or crops with --aspect crop)",
        fixable=True, measured=round(info.aspect, 4), limit=",".join(lim.aspect_choices),
    )  # fmt: skip


def _ratio(aspect: float) -> str:
    return f"{aspect:.3g}:1" if aspect >= 1 else f"1:{1 / aspect:.3g}"


def _file_size(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    cap = _limits(info, profile).max_bytes
    if cap is not None and info.file_size > cap:
        yield Finding(
            "size.too_large", E,
            f"{_noun(info)} is {_mb(info.file_size)}; {profile.name} accepts at most {_mb(cap)}: "
            "fix re-compresses it",
            fixable=True, measured=info.file_size, limit=cap,
        )  # fmt: skip


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


# --- images -----------------------------------------------------------------------------------


def _image_format(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    accepted = profile.image.formats
    if info.format not in accepted:
        names = " or ".join(f.upper() for f in accepted)
        yield Finding(
            "format.unsupported", E,
            f"{info.format.upper()} image; {profile.name} accepts {names}: fix converts it",
            fixable=True, measured=info.format, limit=",".join(accepted),
        )  # fmt: skip


def _image_pixels(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    pixels = info.width * info.height
    if pixels > MAX_IMAGE_PIXELS:
        yield Finding(
            "image.too_many_pixels", E,
            f"image is {info.width}x{info.height} ({pixels / 1e6:.0f} MP), past the "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP preflight will decode (decompression-bomb guard)",
            measured=pixels, limit=MAX_IMAGE_PIXELS,
        )  # fmt: skip


def _image_details(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    d = info.image
    if d is None:
        return
    if d.animated:
        yield Finding(
            "image.animated", W,
            f"animated image with {d.frames} frames; providers use one still: fix keeps the first frame",
            fixable=True, measured=d.frames, limit=1,
        )  # fmt: skip
    if d.exif_orientation != 1:
        yield Finding(
            "image.exif_orientation", W,
            f"EXIF orientation {d.exif_orientation}: shown as {info.width}x{info.height}, stored as "
            f"{d.coded_width}x{d.coded_height}; a provider that ignores EXIF sees it turned: "
            "fix bakes the rotation into the pixels",
            fixable=True, measured=d.exif_orientation, limit=1,
        )  # fmt: skip
    if d.hdr:
        yield Finding(
            "image.hdr", W,
            f"HDR photo ({d.hdr}): a provider that reads it as an ordinary picture gets washed-out, dull "
            "colours: fix tone-maps it to an SDR sRGB picture",
            fixable=True, measured=d.hdr, limit="SDR",
        )  # fmt: skip
    elif d.sdr_conversion:
        yield Finding(
            "image.wide_gamut", W,
            "colours in BT.2020 primaries: a provider that reads them as sRGB shows them dull: fix converts "
            "them to sRGB",
            fixable=True, measured=d.color_primaries, limit="sRGB",
        )  # fmt: skip
    if d.color_profile and not d.sdr_conversion:
        yield Finding(
            "image.color_profile", W,
            f"colours are in {d.color_profile}, not sRGB; a provider that ignores the profile shows them "
            "shifted (dull or oversaturated): fix converts the pixels to sRGB",
            fixable=True, measured=d.color_profile, limit="sRGB",
        )  # fmt: skip
    problem = _color_problem(d.mode, d.bit_depth, d.has_alpha)
    if problem is not None:
        severity, text = problem
        yield Finding(
            "image.color_mode", severity, f"{text}: fix converts it to 8-bit RGB",
            fixable=True, measured=f"{d.mode}/{d.bit_depth}-bit", limit="RGB/8-bit",
        )  # fmt: skip


def _color_problem(mode: str, bit_depth: int, has_alpha: bool) -> tuple[Severity, str] | None:
    if mode == "CMYK":
        return E, "CMYK image: many decoders show CMYK JPEGs with wrong colours"
    if bit_depth > 8:
        return W, f"{bit_depth}-bit image ({mode})"
    if has_alpha:
        return W, f"image has transparency ({mode}); providers fill it unpredictably"
    if mode in ("P", "1"):
        return W, f"{'palette' if mode == 'P' else '1-bit'} image"
    return None


# --- clips ------------------------------------------------------------------------------------


def _container(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    accepted = profile.video.containers
    if info.format not in accepted:
        names = "/".join(c.upper() for c in accepted)
        yield Finding(
            "format.unsupported", E,
            f"{info.format.upper()} container; {profile.name} accepts {names}: fix rewrites it as MP4",
            fixable=True, measured=info.format, limit=",".join(accepted),
        )  # fmt: skip


def _codecs(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    v = info.video
    lim = profile.video
    if v is not None and v.codec not in lim.video_codecs:
        yield Finding(
            "codec.unsupported", E,
            f"video codec {v.codec}; {profile.name} takes {'/'.join(lim.video_codecs)}: "
            "fix transcodes to H.264",
            fixable=True, measured=v.codec, limit=",".join(lim.video_codecs),
        )  # fmt: skip
    for a in info.audio:
        if a.codec not in lim.audio_codecs:
            yield Finding(
                "audio.unsupported", W,
                f"audio codec {a.codec}; {profile.name} expects {'/'.join(lim.audio_codecs)} "
                "(the sound may be dropped): fix transcodes it to AAC",
                fixable=True, measured=a.codec, limit=",".join(lim.audio_codecs),
            )  # fmt: skip
            break


def _duration(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    lim = profile.video
    d = info.duration
    if d is None:
        yield Finding("duration.unknown", W, "the container gives no duration; the provider may refuse it")
        return
    if info.header_duration is not None:
        yield Finding(
            "duration.header_mismatch", E,
            f"the file's header says {info.header_duration:.2f} s but its streams run {d:.2f} s; a provider "
            "reading the header sees the wrong length: fix rewrites the header",
            fixable=True, measured=round(info.header_duration, 6), limit=round(d, 6),
        )  # fmt: skip
    cap = lim.duration_cap(orientation)
    span = f"{_num(lim.min_duration or 0)}-{_num(cap) if cap else '...'} s"
    if profile.orientation_matters:
        span += f" with orientation={orientation}"
    if lim.min_duration is not None and d < lim.min_duration:
        yield Finding(
            "duration.too_short", E,
            f"clip is {d:.2f} s; {profile.name} accepts {span} "
            "(a shorter clip cannot be lengthened without changing the motion)",
            measured=round(d, 6), limit=lim.min_duration,
        )  # fmt: skip
    if cap is not None and d > cap:
        yield Finding(
            "duration.too_long", E,
            f"clip is {d:.2f} s; {profile.name} accepts {span}: "
            "fix trims it (choose the window with --start/--end)",
            fixable=True, measured=round(d, 6), limit=cap,
        )  # fmt: skip


def _num(value: float) -> str:
    return f"{value:g}"


def _frame_rate(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    v, lim = info.video, profile.video
    if v is None:
        return
    if v.fps is not None and (
        (lim.min_fps is not None and v.fps < lim.min_fps) or (lim.max_fps is not None and v.fps > lim.max_fps)
    ):
        yield Finding(
            "fps.out_of_range", E,
            f"{v.fps:.3g} fps; {profile.name} accepts {_num(lim.min_fps or 0)}-{_num(lim.max_fps or 0)} fps: "
            "fix resamples the frame rate",
            fixable=True, measured=round(v.fps, 3), limit=f"{lim.min_fps}-{lim.max_fps}",
        )  # fmt: skip
    if v.variable_fps:
        yield Finding(
            "fps.variable", W,
            f"variable frame rate (average {v.fps:.3g} fps, nominal {v.base_fps or 0:.4g}): "
            "motion timing may drift; fix makes it constant",
            fixable=True, measured=round(v.fps or 0, 3),
        )  # fmt: skip


def _stream_details(info: MediaInfo, profile: Profile, orientation: str) -> Iterable[Finding]:
    v = info.video
    if v is None:
        return
    if v.rotation:
        yield Finding(
            "video.rotated", W,
            f"display rotation {v.rotation}°: stored {v.coded_width}x{v.coded_height}, shown "
            f"{v.width}x{v.height}; a decoder that ignores it sees the clip turned: fix bakes it in",
            fixable=True, measured=v.rotation, limit=0,
        )  # fmt: skip
    if v.hdr:
        yield Finding(
            "video.hdr", W,
            f"HDR video ({v.hdr}): a provider that converts it to SDR without tone mapping gets washed-out, "
            "dull colours: fix tone-maps it to SDR BT.709 (reference white to SDR white, highlights rolled off)",
            fixable=True, measured=v.hdr, limit="SDR",
        )  # fmt: skip
    elif v.sdr_conversion:
        yield Finding(
            "video.wide_gamut", W,
            f"colours in {v.sdr_conversion.removesuffix(' SDR')} primaries: a provider that reads them as "
            "BT.709 shows them dull: fix converts them to BT.709",
            fixable=True, measured=v.color_primaries, limit="bt709",
        )  # fmt: skip
    if v.sample_aspect:
        yield Finding(
            "video.non_square_pixels", W,
            f"pixels are not square ({v.sample_aspect}): stored {v.coded_width}x{v.coded_height}, shown "
            f"{info.width}x{info.height}; a decoder that ignores the flag sees it squeezed: fix resamples it "
            "to square pixels",
            fixable=True, measured=v.sample_aspect, limit="1:1",
        )  # fmt: skip
    if (v.bit_depth or 8) > 8 or (v.pix_fmt and not v.pix_fmt.startswith(("yuv420p", "yuvj420p"))):
        yield Finding(
            "video.pixel_format", W,
            f"pixel format {v.pix_fmt} ({v.bit_depth}-bit): 8-bit 4:2:0 is what every decoder reads: "
            "fix converts it",
            fixable=True, measured=v.pix_fmt, limit="yuv420p",
        )  # fmt: skip


IMAGE_RULES: tuple[Rule, ...] = (
    _image_format, _image_pixels, _sides, _aspect, _aspect_choice, _file_size, _image_details,
)  # fmt: skip
VIDEO_RULES: tuple[Rule, ...] = (
    _container, _codecs, _duration, _sides, _aspect, _aspect_choice, _file_size, _frame_rate, _stream_details,
)  # fmt: skip
