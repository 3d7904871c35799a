"""The fix planner is pure: MediaInfo + findings + profile -> operations. No media needed here."""

from __future__ import annotations

import random

import pytest

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
