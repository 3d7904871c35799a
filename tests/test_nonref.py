"""Leaving non-reference pictures undecoded: exact pixels, the decoder's own choice, same verdicts."""

from __future__ import annotations

import av
import numpy as np
import pytest

from preflight.analyze import analyze_clip
from preflight.analyze.frames import DecodeStats, iter_samples
from preflight.analyze.nonref import nonref_filter
from preflight.samples import make_clip

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")


def _zoom(photo, jitter_pct: float = 0.0, cut_at: int | None = None, other=None, gain: float = 1.0, blur: float = 0.0,
          seed: int = 3):  # fmt: skip
    offsets = np.random.default_rng(seed).normal(0, 1, size=(400, 2))

    def frame(i: int, w: int, h: int) -> np.ndarray:
        src = other if cut_at is not None and i >= cut_at else photo
        ph, pw = src.shape[:2]
        scale = max(w / pw, h / ph) * (1.1 + 0.002 * i)
        s = jitter_pct / 100 * max(w, h)
        m = np.float32([[scale, 0, w / 2 - pw / 2 * scale + offsets[i, 0] * s],
                        [0, scale, h / 2 - ph / 2 * scale + offsets[i, 1] * s]])  # fmt: skip
        out = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if blur:
            out = cv2.GaussianBlur(out, (0, 0), blur)
        return np.clip(out.astype(np.float32) * gain, 0, 255).astype(np.uint8)

    return frame


def _bclip(path, frames=None, **kw):
    return make_clip(path, duration=kw.pop("duration", 3.0), width=640, height=360, fps=25, bframes=3,
                     frames=frames or _zoom(data.astronaut()), **kw)  # fmt: skip


def test_skipped_pictures_are_the_ones_ffmpeg_skips(tmp_path):
    clip = _bclip(tmp_path / "b.mp4")
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        skippable = nonref_filter(stream)
        assert skippable is not None
        packets = [p for p in c.demux(stream) if p.size]
        ours = sum(skippable(p) for p in packets)
    with av.open(str(clip)) as c:
        c.streams.video[0].codec_context.skip_frame = "NONREF"
        decoded = sum(1 for _ in c.decode(video=0))
    assert ours > len(packets) // 4  # x264 with 3 B-frames: about half are nobody's reference
    assert len(packets) - ours == decoded


def test_hevc_nonreference_pictures_are_found(tmp_path):
    clip = make_clip(tmp_path / "h.mp4", duration=2, width=320, height=240, codec="libx265")
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        skippable = nonref_filter(stream)
        packets = [p for p in c.demux(stream) if p.size]
        ours = sum(skippable(p) for p in packets) if skippable else 0
    with av.open(str(clip)) as c:
        c.streams.video[0].codec_context.skip_frame = "NONREF"
        decoded = sum(1 for _ in c.decode(video=0))
    assert len(packets) - ours == decoded


def test_frames_left_are_exactly_as_a_full_decode_shows_them(tmp_path):
    clip = str(_bclip(tmp_path / "b.mp4"))
    fast, full = DecodeStats(), DecodeStats()
    every = {round(s.time, 4): s.luma for s in iter_samples(clip, (), full, every_frame=True)}
    some = {round(s.time, 4): s.luma for s in iter_samples(clip, (), fast)}
    assert fast.skipped > 0 and full.skipped == 0
    assert fast.samples + fast.skipped == full.samples == 75
    for t, luma in some.items():
        assert np.array_equal(luma, every[t]), t


def test_a_clip_without_b_frames_is_decoded_whole(tmp_path):
    clip = str(make_clip(tmp_path / "p.mp4", duration=2, width=320, height=240, fps=25))
    stats = DecodeStats()
    assert sum(1 for _ in iter_samples(clip, (), stats)) == 50 and stats.skipped == 0


CASES = {
    "steady": dict(),
    "cut": dict(cut_at=40, other=data.coffee()),
    "shaky": dict(jitter_pct=1.0),
    "dark": dict(gain=0.3),
    "blurry": dict(blur=4.0),
}


@pytest.mark.model
@pytest.mark.parametrize("case", sorted(CASES))
def test_verdicts_are_the_same_with_every_frame(tmp_path, case):
    clip = _bclip(tmp_path / f"{case}.mp4", _zoom(data.astronaut(), **CASES[case]), duration=3.0)
    fast, fast_findings = analyze_clip(clip, None)
    full, full_findings = analyze_clip(clip, None, every_frame=True)
    assert fast["decode"]["skipped"] > 0 and full["decode"]["skipped"] == 0
    assert sorted(f.code for f in fast_findings) == sorted(f.code for f in full_findings)
    assert fast["scene_cuts"]["cuts"] == full["scene_cuts"]["cuts"]
    for a, b in zip(fast["scene_cuts"]["times"], full["scene_cuts"]["times"], strict=True):
        assert abs(a - b) <= 2 / 25  # the first decoded frame of the new shot
    assert fast["exposure"]["mean"] == pytest.approx(full["exposure"]["mean"], abs=2.0)
    assert fast["pose"]["samples"] == full["pose"]["samples"]
    assert fast["pose"]["person_share"] == pytest.approx(full["pose"]["person_share"], abs=0.15)
    # Shake looks beside the pose box and blur on it, and the box moves with the model's noise (on
    # this zoom it flickers between the astronaut's head and her whole body; after the cut, a
    # phantom person on the coffee cup comes and goes with the tracker's state): the decode's own
    # effect on them is compared without pose.
    bare_fast, _ = analyze_clip(clip, None, pose=False)
    bare_full, _ = analyze_clip(clip, None, pose=False, every_frame=True)
    jitter_fast, jitter_full = bare_fast["camera_shake"]["jitter_rms_pct"], bare_full["camera_shake"]["jitter_rms_pct"]
    assert jitter_fast == pytest.approx(jitter_full, rel=0.35, abs=0.02)
    blur_fast, blur_full = bare_fast["blur"]["laplacian_var_median"], bare_full["blur"]["laplacian_var_median"]
    assert blur_fast == pytest.approx(blur_full, rel=0.15)


@pytest.mark.model
def test_fix_of_a_copyable_clip_decodes_what_check_decodes_unless_asked_to_verify(tmp_path):
    # The skipped pictures' packets are judged without decoding (preflight.media.packetscan); --verify
    # decodes every picture in the check's one pass. Pose needs no more looks for either.
    from preflight.fix import fix

    clip = _bclip(tmp_path / "copyable.mp4", duration=4.0)
    (quick,) = fix([clip], tmp_path / "out", "kling-v2.6").results
    assert quick.actions == ("copy",)
    assert quick.before.analysis["decode"]["skipped"] > 0
    (result,) = fix([clip], tmp_path / "verified", "kling-v2.6", verify=True).results
    assert result.actions == ("copy",)
    analysis = result.before.analysis
    assert analysis["decode"]["skipped"] == 0
    assert analysis["pose"]["observed"] < analysis["pose"]["samples"]
