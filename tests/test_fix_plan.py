"""The fix planner is pure: MediaInfo + findings + profile -> operations. No media needed here."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from preflight.aspects import ASPECT_TOLERANCE, nearest_choice, parse_ratio
from preflight.fix.geometry import fit_geometry
from preflight.fix.ops import BakeRotation, Copy, Crop, Pad, Remux, Scale, Transcode, Trim
from preflight.fix.plan import ContentHints, FixOptions, PoseSample, hints_from_analysis, plan_fix
from preflight.models import AudioStream, ImageDetails, MediaInfo, VideoStream
from preflight.profiles import load_profile
from preflight.rules import check_media

KLING = load_profile("kling-v2.6")
NOVITA = load_profile("novita")


def clip(
    *, fmt="mp4", codec="h264", w=640, h=360, duration=10.0, rotation=0, fps=25.0, base=None, vfr=False,
    audio="aac", size=2_000_000, pix_fmt="yuv420p",
) -> MediaInfo:  # fmt: skip
    coded = (h, w) if rotation in (90, 270) else (w, h)
    video = VideoStream(codec, "High", pix_fmt, 8, coded[0], coded[1], w, h, rotation, fps, base or fps, vfr,
                        None, None, duration)  # fmt: skip
    sound = (AudioStream(audio, 48000, 2, 128000, duration),) if audio else ()
    return MediaInfo(f"in.{fmt}", "video", fmt, fmt, size, w, h, duration, None, video, sound)


def image(*, fmt="jpeg", w=640, h=800, mode="RGB", exif=1, frames=1, size=50_000, alpha=False) -> MediaInfo:
    details = ImageDetails(mode, 8, alpha, w, h, exif, frames)
    return MediaInfo(f"in.{fmt}", "image", fmt, fmt, size, w, h, image=details)


def plan(info: MediaInfo, profile=KLING, orientation="video", keyframes=None, hints=None, **options):
    findings = check_media(info, profile, orientation)
    return plan_fix(info, findings, profile, orientation, FixOptions(**options), hints, keyframes)


def test_compliant_clip_is_copied_as_is():
    p = plan(clip(fmt="mov"))
    assert p.operations == (Copy(),) and p.output_ext == "mov" and p.actions == ("copy",)


def test_container_only_is_a_remux():
    p = plan(clip(fmt="matroska"))
    assert p.operations == (Remux("matroska"),) and p.output_ext == "mp4" and not p.encodes


def test_long_mov_is_trimmed_by_stream_copy_from_the_start():
    p = plan(clip(fmt="mov", duration=45.0))
    assert p.actions == ("remux", "trim 0.000-30.000 (stream copy)")
    assert p.find(Trim).length == pytest.approx(30.0)


def test_start_on_a_keyframe_copies_off_a_keyframe_reencodes():
    on = plan(clip(duration=45.0), orientation="image", start=12.0, keyframes=[0.0, 6.0, 12.0, 18.0])
    assert on.find(Trim) == Trim(12.0, 22.0, stream_copy=True) and not on.encodes
    off = plan(clip(duration=45.0), orientation="image", start=12.5, keyframes=[0.0, 6.0, 12.0, 18.0])
    assert off.find(Trim) == Trim(12.5, 22.5, stream_copy=False) and off.encodes
    assert any("not on a keyframe" in n for n in off.notes)


def test_end_past_the_cap_is_clamped_and_too_short_window_is_unfixable():
    p = plan(clip(duration=45.0), start=5.0, end=44.0)
    assert p.find(Trim).end == pytest.approx(35.0)
    bad = plan(clip(duration=45.0), start=43.0)
    assert not bad.fixable and "duration.too_short" in bad.reason and bad.output_ext is None


def test_too_short_clip_is_unfixable():
    p = plan(clip(duration=2.0))
    assert not p.fixable and p.reason.startswith("duration.too_short")


def test_rotation_small_size_and_aspect_need_one_reencode():
    p = plan(clip(w=240, h=320, rotation=90))
    assert p.encodes and p.find(BakeRotation) == BakeRotation(90)
    scale = p.find(Scale)
    assert min(scale.target) >= 340 and all(s % 2 == 0 for s in scale.target)
    wide = plan(clip(w=1000, h=300), profile=NOVITA)
    assert wide.find(Pad).target == (1000, 400)
    assert wide.actions[0] == "transcode h264/aac" and "pad 1000x300->1000x400 (blurred fill)" in wide.actions
    cropped = plan(clip(w=1000, h=300), profile=NOVITA, aspect="crop")
    assert cropped.find(Crop).rect == (125, 0, 750, 300) and cropped.find(Pad) is None


def test_foreign_audio_is_reencoded_without_touching_the_video():
    p = plan(clip(fmt="mov", audio="pcm_s16le"))
    assert p.actions == ("remux", "transcode audio pcm_s16le->aac") and not p.encodes


def test_size_cap_gives_a_bitrate_from_the_duration():
    p = plan(clip(duration=20.0, size=30_000_000), profile=NOVITA)
    fit = p.find(Transcode) and next(op for op in p.operations if type(op).__name__ == "FitSize")
    # 10 MB over 20 s, minus 128 kb/s of sound and 2% container overhead
    assert fit.video_bitrate == pytest.approx(10_000_000 * 8 * 0.98 / 20 - 128_000, rel=1e-6)
    # trimming 45 s of a 12 MB clip to 30 s makes it 8 MB: the copy is enough
    assert not plan(clip(duration=45.0, size=12_000_000), profile=NOVITA).encodes


def test_variable_rate_becomes_constant():
    p = plan(clip(fps=29.6, base=30.0, vfr=True))
    assert p.encodes and "constant rate 29.97 fps (was variable)" in p.actions


def test_best_window_avoids_cuts_and_follows_the_torso():
    # torso visible from 10 s on, a cut at 8 s: the best 30 s window of 45 s starts at the cut
    track = tuple(PoseSample(t / 2, t / 2 >= 10, (0.4, 0.2, 0.6, 0.9)) for t in range(90))
    hints = ContentHints(track=track, cuts=(8.0,))
    p = plan(clip(duration=45.0), hints=hints, keyframes=[float(k) for k in range(0, 45, 2)])
    trim = p.find(Trim)
    assert 8.0 <= trim.start <= 10.0 and trim.length == pytest.approx(30.0)
    assert trim.stream_copy  # a keyframe-aligned window scores as well here
    start_only = plan(clip(duration=45.0), hints=hints, window="start")
    assert start_only.find(Trim).start == 0.0


def test_crop_window_keeps_the_subject():
    track = tuple(PoseSample(t, True, (0.80, 0.1, 0.95, 0.9)) for t in range(10))
    p = plan(clip(w=1000, h=300), profile=NOVITA, aspect="crop", hints=ContentHints(track=track))
    x, _, w, _ = p.find(Crop).rect
    assert x <= 0.80 * 1000 and x + w >= 0.95 * 1000


def test_hints_read_the_analyzers_metrics():
    analysis = {
        "pose": {"track": [[0.0, 1, 0.1, 0.2, 0.3, 0.4], [0.5, 0, -1, -1, -1, -1]], "bbox": [0.1, 0.1, 0.5, 0.9]},
        "scene_cuts": {"times": [3.2]},
    }
    hints = hints_from_analysis(analysis)
    assert hints.track[0] == PoseSample(0.0, True, (0.1, 0.2, 0.3, 0.4))
    assert hints.track[1].bbox is None and hints.cuts == (3.2,) and hints.subject == (0.1, 0.1, 0.5, 0.9)
    assert hints_from_analysis({}) == ContentHints()


def test_image_plans():
    assert plan(image()).operations == (Copy(),)
    assert plan(image(fmt="webp")).actions == ("convert webp->jpeg",)
    assert plan(image(fmt="gif", mode="P", frames=3)).output_ext == "png"
    exif = plan(image(w=600, h=800, exif=6))
    assert exif.actions == ("apply EXIF orientation 6, strip EXIF",)
    cmyk = plan(image(mode="CMYK"))
    assert cmyk.actions == ("convert CMYK->RGB",) and cmyk.output_ext == "jpg"
    small = plan(image(fmt="png", w=240, h=320))
    assert small.actions == ("scale 240x320->340x453",)
    wide = plan(image(w=1000, h=300))
    assert wide.actions == ("pad 1000x300->1000x400 (blurred fill)",)


@pytest.mark.parametrize("even", [False, True])
@pytest.mark.parametrize("mode", ["pad", "crop"])
def test_geometry_always_lands_inside_the_limits(even, mode):
    rng = random.Random(7)
    for _ in range(400):
        w, h = rng.randint(20, 5000), rng.randint(20, 5000)
        g = fit_geometry(w, h, min_side=340, max_side=3850, min_aspect=0.4, max_aspect=2.5,
                         aspect_mode=mode, even=even)  # fmt: skip
        cw, ch = g.canvas
        assert min(cw, ch) >= 340 and max(cw, ch) <= 3850, (w, h, g)
        assert 0.4 - 1e-9 <= cw / ch <= 2.5 + 1e-9, (w, h, g)
        assert g.content[0] <= cw and g.content[1] <= ch
        assert g.offset[0] + g.content[0] <= cw and g.offset[1] + g.content[1] <= ch
        if even:
            assert cw % 2 == 0 and ch % 2 == 0 and g.offset[0] % 2 == 0 and g.offset[1] % 2 == 0
        if min(w, h) >= 340 and max(w, h) <= 3850 and 0.4 <= w / h <= 2.5 and not (even and (w % 2 or h % 2)):
            assert not g.changed


# --- one of a list of ratios (aspect_choices) -------------------------------------------------

RUNWAY_RATIOS = ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672")
RUNWAY = replace(
    KLING, name="runway-act-two", image=replace(KLING.image, aspect_choices=RUNWAY_RATIOS, min_aspect=None,
    max_aspect=None), video=replace(KLING.video, aspect_choices=RUNWAY_RATIOS),
)  # fmt: skip


def within(size: tuple[int, int], choice: str) -> bool:
    return abs(math.log(size[0] / size[1] / parse_ratio(choice))) <= math.log1p(ASPECT_TOLERANCE)


def test_a_clip_of_an_allowed_ratio_is_copied():
    assert plan(clip(w=360, h=640), profile=RUNWAY).operations == (Copy(),)
    assert plan(clip(w=854, h=480), profile=RUNWAY).operations == (Copy(),)  # 0.09% off 16:9: within


def test_a_4_3_clip_is_padded_or_cropped_to_1104_832():
    padded = plan(clip(w=640, h=480), profile=RUNWAY)
    assert padded.actions == ("transcode h264/aac", "pad 640x480->640x482 (blurred fill)")
    assert padded.notes == ("padded to 1104:832, the nearest of the ratios the profile accepts",)
    assert within(padded.geometry.canvas, "1104:832")
    solid = plan(clip(w=640, h=480), profile=RUNWAY, fill="solid")
    assert solid.find(Pad).fill == "solid"
    cropped = plan(clip(w=640, h=480), profile=RUNWAY, aspect="crop")
    assert cropped.actions == ("transcode h264/aac", "crop 640x480->636x480 at 2,0")
    assert cropped.find(Pad) is None and within(cropped.geometry.canvas, "1104:832")
    # the shown frame counts: 480x360 stored, turned 90 degrees, is 3:4
    turned = plan(clip(w=360, h=480, rotation=90), profile=RUNWAY)
    assert turned.find(Pad).target == (362, 480) and within(turned.geometry.canvas, "832:1104")


def test_an_image_goes_to_the_nearest_ratio_and_stays_within_the_sides():
    wide = plan(image(w=1000, h=300), profile=RUNWAY)
    assert wide.actions == ("pad 1000x300->1000x424 (blurred fill)",) and within((1000, 424), "1584:672")
    # cropping to 2.36:1 leaves 300 px, under the 340 px minimum: scaled up after the crop, ratio kept
    cropped = plan(image(w=1000, h=300), profile=RUNWAY, aspect="crop")
    assert [type(op) for op in cropped.operations] == [Crop, Scale]
    assert min(cropped.geometry.canvas) >= 340 and within(cropped.geometry.canvas, "1584:672")
    big = plan(clip(w=3840, h=2880), profile=RUNWAY, max_side=0)  # padding must not pass the 3850 px cap
    assert big.geometry.canvas == (3840, 2894) and within(big.geometry.canvas, "1104:832")


def test_crop_to_a_ratio_keeps_the_subject():
    track = tuple(PoseSample(t / 2, True, (0.05, 0.2, 0.3, 0.9)) for t in range(20))
    p = plan(clip(w=1000, h=300), profile=RUNWAY, aspect="crop", hints=ContentHints(track=track))
    x, _, w, _ = p.find(Crop).rect
    assert x <= 0.05 * 1000 and x + w >= 0.3 * 1000
    assert "crop window holds the subject's box" in p.notes


@pytest.mark.parametrize("even", [False, True])
@pytest.mark.parametrize("mode", ["pad", "crop"])
@pytest.mark.parametrize("sides", [(340, 3850), (None, None), (300, 1280)])
def test_ratio_geometry_always_lands_on_the_nearest_choice(even, mode, sides):
    rng = random.Random(11)
    lo, hi = sides
    for _ in range(300):
        w, h = rng.randint(60, 5000), rng.randint(60, 5000)
        choice = nearest_choice(w / h, RUNWAY_RATIOS)
        g = fit_geometry(w, h, min_side=lo, max_side=hi, min_aspect=None, max_aspect=None, aspect_mode=mode,
                         even=even, ratio=parse_ratio(choice))  # fmt: skip
        cw, ch = g.canvas
        assert within(g.canvas, choice), (w, h, g)
        assert (lo is None or min(cw, ch) >= lo) and (hi is None or max(cw, ch) <= hi), (w, h, g)
        x, y, kw, kh = g.crop
        assert x >= 0 and y >= 0 and x + kw <= w and y + kh <= h, (w, h, g)
        assert g.offset[0] + g.content[0] <= cw and g.offset[1] + g.content[1] <= ch, (w, h, g)
        if even:
            assert cw % 2 == 0 and ch % 2 == 0 and g.offset[0] % 2 == 0 and g.offset[1] % 2 == 0, (w, h, g)
            assert g.content[0] % 2 == 0 and g.content[1] % 2 == 0, (w, h, g)
        if mode == "crop":
            assert not g.padded, (w, h, g)
        elif not within((w, h), choice):
            assert not g.cropped, (w, h, g)  # pad keeps every pixel
        if within((w, h), choice) and (lo is None or min(w, h) >= lo) and (hi is None or max(w, h) <= hi):
            assert g.changed is bool(even and (w % 2 or h % 2)), (w, h, g)


@pytest.mark.parametrize(
    "kwargs",
    [{"start": float("nan")}, {"end": float("inf")}, {"start": -1.0}, {"start": 5.0, "end": 4.0}, {"aspect": "zoom"}],
)
def test_fix_options_refuse_what_the_cli_refuses(kwargs) -> None:  # type: ignore[no-untyped-def]
    from preflight.errors import UsageError
    from preflight.fix.options import FixOptions

    with pytest.raises(UsageError) as info:
        FixOptions(**kwargs)
    assert info.value.code == "usage.invalid"
