"""Scene cuts and camera shake on clips made from public-domain photos (scikit-image)."""

from __future__ import annotations

import numpy as np
import pytest

from preflight.analyze.frames import run_analyzers
from preflight.analyze.motion import SceneCutAnalyzer, ShakeAnalyzer
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
    cuts, shake = run_analyzers(path, [SceneCutAnalyzer(gates), ShakeAnalyzer(gates, subject_box=box)])
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
    _, masked = motion(clip, box=lambda: box)
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
    boxes = iter([(0.2, 0.2, 0.5, 0.9), (0.2, 0.2, 0.5, 0.9), (0.5, 0.1, 0.8, 0.9), None, (0.0, 0.0, 1.0, 1.0)])
    current: list = [None]
    shake = ShakeAnalyzer(subject_box=lambda: current[0])
    made = []
    for box in boxes:
        current[0] = box
        made.append(shake._weights((180, 320)))
    plain = ShakeAnalyzer()._weights((180, 320))
    fresh = [ShakeAnalyzer(subject_box=lambda b=b: b)._weights((180, 320)) for b in
             [(0.2, 0.2, 0.5, 0.9), (0.5, 0.1, 0.8, 0.9)]]  # fmt: skip
    assert made[1] is made[0] and np.array_equal(made[0], fresh[0])
    assert np.array_equal(made[2], fresh[1]) and not np.array_equal(made[2], made[0])
    assert np.array_equal(made[3], plain) and np.array_equal(made[4], plain)  # no box; a box too big to mask
    assert shake._masked == 3
