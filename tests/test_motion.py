"""Scene cuts and camera shake on clips made from public-domain photos (scikit-image)."""

from __future__ import annotations

import numpy as np
import pytest

from preflight.analyze.base import AnalysisResult, Analyzer, FrameSample
from preflight.analyze.frames import run_analyzers
from preflight.analyze.motion import SceneCutAnalyzer, ShakeAnalyzer, box_at
from preflight.models import Severity
from preflight.samples import make_clip

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")

FPS = 25


def place(photo: np.ndarray, w: int, h: int, zoom: float = 1.0, dx: float = 0.0, dy: float = 0.0):
    """The photo scaled to cover a w x h frame, zoomed and shifted by (dx, dy) pixels."""
    ph, pw = photo.shape[:2]
    scale = max(w / pw, h / ph) * zoom
    matrix = np.float32([[scale, 0, w / 2 - pw / 2 * scale + dx], [0, scale, h / 2 - ph / 2 * scale + dy]])
    return cv2.warpAffine(photo, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def slow_zoom(photo):
    return lambda i, w, h: place(photo, w, h, 1.05 + 0.0015 * i)


def jitter(photo, sigma_pct: float, seed: int = 0):
    offsets = np.random.default_rng(seed).normal(0, 1, size=(1000, 2))

    def frame(i, w, h):
        s = sigma_pct / 100 * max(w, h)
        return place(photo, w, h, 1.15 + 0.0015 * i, offsets[i, 0] * s, offsets[i, 1] * s)

    return frame


def clip_of(path, frames, duration: float = 4.0):
    return str(make_clip(path, duration=duration, width=640, height=360, fps=FPS, frames=frames))


def motion(path, gates=None, box=None):
    track = None if box is None else [(0.0, box)]  # one sighting: every frame takes its box
    cuts, shake = run_analyzers(path, [SceneCutAnalyzer(gates), ShakeAnalyzer(gates, subject_track=track)])
    return cuts, shake


def test_steady_zoom_passes(tmp_path):
    cuts, shake = motion(clip_of(tmp_path / "zoom.mp4", slow_zoom(data.astronaut())))
    assert cuts.findings == () and cuts.metrics["cuts"] == 0
    assert shake.findings == ()
    assert shake.metrics["jitter_rms_pct"] < 0.05  # measured 0.007


def test_slow_pan_is_not_shake(tmp_path):
    pan = lambda i, w, h: place(data.coffee(), w, h, 1.3, dx=40 - 0.6 * i)  # noqa: E731
    cuts, shake = motion(clip_of(tmp_path / "pan.mp4", pan))
    assert shake.findings == () and cuts.findings == ()
    assert shake.metrics["mean_speed_pct"] > 0.05  # it did see the camera move


def test_jitter_fires_shake(tmp_path):
    cuts, shake = motion(clip_of(tmp_path / "shaky.mp4", jitter(data.astronaut(), 1.0)))
    assert [f.code for f in shake.findings] == ["motion.camera_shake"]
    finding = shake.findings[0]
    assert finding.severity is Severity.WARNING
    assert finding.measured > finding.limit  # jitter of 1% sigma measures ~1.3%
    assert cuts.findings == ()  # a shaky shot is still one shot


def test_one_cut_at_the_known_time(tmp_path):
    first, second = slow_zoom(data.astronaut()), slow_zoom(data.coffee())
    joined = lambda i, w, h: (first if i < 63 else second)(i, w, h)  # noqa: E731
    cuts, shake = motion(clip_of(tmp_path / "cut.mp4", joined))
    assert cuts.metrics["cuts"] == 1
    assert cuts.metrics["times"][0] == pytest.approx(63 / FPS, abs=1 / FPS + 1e-6)
    (finding,) = cuts.findings
    assert finding.code == "motion.scene_cut" and finding.measured == 1
    assert finding.extra["times"] == cuts.metrics["times"]
    assert shake.findings == ()  # the jump at the cut is not read as shake


def test_moving_box_has_no_cut(tmp_path):
    clip = str(make_clip(tmp_path / "box.mp4", duration=4, width=640, height=360, fps=FPS))
    (cuts,) = run_analyzers(clip, [SceneCutAnalyzer()])
    assert cuts.metrics["cuts"] == 0 and cuts.findings == ()
    assert cuts.metrics["score_max"] > 1  # the box and gradient do move


def test_subject_mask_keeps_a_dancer_from_reading_as_shake(tmp_path):
    background = place(data.coffee(), 640, 360, 1.05)
    face = cv2.resize(data.astronaut()[0:300, 100:400], (200, 200))
    offsets = np.random.default_rng(1).normal(0, 12, size=(200, 2)).astype(int)

    def dancer(i, w, h):
        frame = background.copy()
        x, y = 220 + offsets[i, 0], 80 + offsets[i, 1]
        frame[y : y + 200, x : x + 200] = face
        return frame

    clip = clip_of(tmp_path / "dancer.mp4", dancer)
    _, unmasked = motion(clip)
    box = (180 / 640, 30 / 360, 460 / 640, 330 / 360)
    _, masked = motion(clip, box=box)
    assert [f.code for f in unmasked.findings] == ["motion.camera_shake"]
    assert masked.findings == () and masked.metrics["masked_frames"] > 90
    assert masked.metrics["jitter_rms_pct"] < unmasked.metrics["jitter_rms_pct"] / 10


def test_profile_overrides_threshold_and_severity(tmp_path):
    clip = clip_of(tmp_path / "shaky.mp4", jitter(np.dstack([data.camera()] * 3), 1.0), duration=2)
    _, lenient = motion(clip, gates={"shake_max_jitter": 5.0})
    assert lenient.findings == () and lenient.metrics["max_jitter_pct"] == 5.0
    _, strict = motion(clip, gates={"severity": {"motion.camera_shake": "error"}})
    assert strict.findings[0].severity is Severity.ERROR


def test_masked_window_follows_the_subject_box():
    """The masked correlation window is remade when the box moves and reused while it stays."""
    boxes = [(0.2, 0.2, 0.5, 0.9), (0.2, 0.2, 0.5, 0.9), (0.5, 0.1, 0.8, 0.9), None, (0.0, 0.0, 1.0, 1.0)]
    shake = ShakeAnalyzer(subject_track=[])
    made = [shake._weights((180, 320), box) for box in boxes]
    plain = ShakeAnalyzer()._weights((180, 320), None)
    fresh = [ShakeAnalyzer()._weights((180, 320), b) for b in [(0.2, 0.2, 0.5, 0.9), (0.5, 0.1, 0.8, 0.9)]]
    assert made[1] is made[0] and np.array_equal(made[0], fresh[0])
    assert np.array_equal(made[2], fresh[1]) and not np.array_equal(made[2], made[0])
    assert np.array_equal(made[3], plain) and np.array_equal(made[4], plain)  # no box; a box too big to mask
    assert shake._masked == 3


def test_box_at_moves_between_sightings():
    track = [(0.0, (0.0, 0.2, 0.2, 0.8)), (1.0, (0.4, 0.2, 0.6, 0.8)), (2.0, None), (3.0, (0.1, 0.1, 0.3, 0.9))]
    assert box_at(track, -1.0) == track[0][1] and box_at(track, 1.0) == track[1][1]
    assert box_at(track, 0.25) == pytest.approx((0.1, 0.2, 0.3, 0.8))
    assert box_at(track, 1.5) is None and box_at(track, 2.5) is None  # nobody seen on one side
    assert box_at(track, 9.0) == track[3][1] and box_at([], 1.0) is None


def test_shake_frames_wait_for_the_subject_box_of_their_time():
    """Each frame is measured with the box pose saw at its time (interpolated between sightings),
    not the box of the last sighting before it: frames wait until pose has looked past them."""
    track: list = []
    shake = ShakeAnalyzer(subject_track=track)
    seen = []
    shake._step = lambda t, frame, box: seen.append((t, box))  # type: ignore[method-assign]
    luma = np.zeros((180, 320), np.uint8)
    left, right = (0.0, 0.1, 0.2, 0.9), (0.6, 0.1, 0.8, 0.9)
    track.append((0.0, left))
    for k in range(5):  # frames at 0, 0.1, ... 0.4; pose sees the person again at 0.4
        if k == 4:
            track.append((0.4, right))
        shake.process(FrameSample(index=k, time=k / 10, luma=luma))
        assert [t for t, _ in seen] == ([0.0] if k < 4 else [0.0, 0.1, 0.2, 0.3, 0.4])
    assert seen[2][1] == pytest.approx((0.3, 0.1, 0.5, 0.9)) and seen[4][1] == right
    shake.process(FrameSample(index=5, time=0.5, luma=luma))
    shake.finish()  # the clip's last frames take the last box
    assert seen[-1] == (0.5, right)


class _Sighter(Analyzer):
    """Stands in for pose: sees the subject's true box three times a second, as pose samples."""

    name = "sighter"

    def __init__(self, box_of, track: list) -> None:
        self.box_of, self.track, self.next = box_of, track, 0.0

    def process(self, sample):
        if sample.time >= self.next - 1e-6:
            self.track.append((sample.time, self.box_of(sample.time)))
            self.next += 1 / 3

    def finish(self):
        return AnalysisResult(self.name)


class _StaleBoxShake(ShakeAnalyzer):
    """Shake as it was: each frame masked with the box of the last sighting before it."""

    def _step_known(self, everything: bool = False) -> None:
        while self._waiting:
            t, frame = self._waiting.popleft()
            self._step(t, frame, self.subject_track[-1][1] if self.subject_track else None)


def test_a_fast_dancer_before_a_still_camera_is_not_shake(tmp_path):
    """A person crossing a third of the frame in a second, filmed from a tripod: masked with the box
    pose saw at each frame's time the camera reads still; masked with the last sighting's box (a
    third of a second old) the person's motion leaked into the camera's (bench_check's swaying clip:
    0.75% jitter, three times the limit)."""
    background = place(data.coffee(), 640, 360, 1.05)
    person = cv2.resize(data.astronaut()[0:400, 80:400], (120, 150))

    def x_at(t):
        return 260 + 200 * np.sin(2 * np.pi * t / 2)

    def dancer(i, w, h):
        frame = background.copy()
        x = round(x_at(i / FPS))
        frame[120:270, x : x + 120] = person
        return frame

    clip = clip_of(tmp_path / "fast.mp4", dancer)

    def box_of(t):
        return (x_at(t) / 640, 120 / 360, (x_at(t) + 120) / 640, 270 / 360)

    results = {}
    for kind in (ShakeAnalyzer, _StaleBoxShake):
        track: list = []
        results[kind] = run_analyzers(clip, [_Sighter(box_of, track), kind(subject_track=track)])[1]
    timed, stale = results[ShakeAnalyzer], results[_StaleBoxShake]
    assert timed.findings == () and timed.metrics["jitter_rms_pct"] < 0.1
    assert [f.code for f in stale.findings] == ["motion.camera_shake"]


def test_shake_frames_wait_no_longer_than_the_limit():
    """With no sighting coming (pose found nothing to look at), frames are measured after
    SHAKE_MAX_WAIT seconds anyway, with the box known then: memory stays bounded."""
    from preflight.analyze.motion import SHAKE_MAX_WAIT

    shake = ShakeAnalyzer(subject_track=[(0.0, (0.1, 0.1, 0.3, 0.9))])
    seen = []
    shake._step = lambda t, frame, box: seen.append(t)  # type: ignore[method-assign]
    luma = np.zeros((180, 320), np.uint8)
    for k in range(100):  # 10 s at 10 frames a second
        shake.process(FrameSample(index=k, time=k / 10, luma=luma))
        assert len(shake._waiting) <= SHAKE_MAX_WAIT * 10 + 1
    assert seen == [k / 10 for k in range(len(seen))] and len(seen) >= 100 - SHAKE_MAX_WAIT * 10 - 1


def test_a_steady_pan_sampled_unevenly_is_not_shake() -> None:
    """The check leaves non-reference pictures undecoded, so the shake gate sees frames unevenly spaced
    (B-frames: 481 of 900 on the panning bench clip). The smooth path taken as the window's plain mean
    then lay pixels off a fast pan: 0.28% jitter, over the 0.25% gate, on a camera sweeping smoothly
    (0.09% with every frame decoded). Read on the window's least-squares line, a steady pan is none."""
    shake = ShakeAnalyzer()
    shake._long_side = 1920
    kept = [i for i in range(300) if i % 4 in (0, 3)]  # gaps of 3 and 1 frames, as a B-frame clip's
    for i in kept:
        shake._push(i / 30, 16.0 * i, 2.0 * i)  # 16 px a frame across, 2 down: a fast pan at 1080p
    result = shake.finish()
    assert result.metrics["jitter_rms_pct"] < 0.001
    assert not result.findings
