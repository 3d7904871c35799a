"""Motion gates: scene cuts and camera shake, from the small luma of every frame.

Both analyzers are online: they keep a few frames of look-ahead (a deque), never the whole clip.
Thresholds are defined once below with their defaults; a profile's ``[content]`` table overrides
any of them by the same key (see :func:`preflight.analyze.quality.gate`).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models import CameraPath, Finding
from .base import AnalysisResult, Analyzer, FrameSample
from .quality import finding_for, gate

__all__ = ["Box", "BoxTrack", "SceneCutAnalyzer", "ShakeAnalyzer"]

Box = tuple[float, float, float, float]
"""A subject box: (x0, y0, x1, y1) fractions of the displayed frame."""
BoxTrack = Sequence[tuple[float, "Box | None"]]
"""Where the subject was seen: (time, box or None), in time order, growing as the clip is read (the
pose analyzer's observations, looked at or inferred)."""

# --- scene cuts -----------------------------------------------------------------------------------
CUT_SIDE = 64
"""Long side of the thumbnail the cut score is taken on. At 64 px a hand-held jitter of 2% of the
frame moves the picture by about one pixel, so shake and a dancer's motion barely register while
a change of shot changes almost every pixel."""
CUT_MIN_SCORE = ("cut_min_score", 20.0)
"""Lowest cut score (mean absolute luma change on the thumbnail, 0-255 scale) a cut can have.
Measured on 640x360 H.264 clips made from scikit-image photos: cuts between astronaut, camera and
coffee scored 71-80; inside one shot the largest frame-to-frame score was 0.5-1.0 for a slow zoom,
1.3-2.0 for a slow pan, 6.0 for make_clip's bouncing box, and 8-13, 14-24, 21-38 for random
jitter of 0.25%, 0.5% and 1% of the frame (those last are left to the ratio test below)."""
CUT_MIN_RATIO = ("cut_min_ratio", 3.0)
"""A cut must also stand out from its neighbours: its score at least this many times the mean
score of the ``CUT_WINDOW`` frames each side (PySceneDetect's AdaptiveDetector uses 3.0 too).
This is what keeps fast motion or a flash-free whip pan from reading as a cut: their scores are
high on every frame, not on one."""
CUT_WINDOW = 3
"""Frames each side that make the neighbourhood mean (so a decision lags three frames). Was 2; with
non-reference pictures left undecoded the analyzers see every other frame of a clip with B-frames,
and 1% random jitter (16 clips, 8 seeds, 0.5% and 1%) made 3 false cuts with 2 a side and none with 3
(every frame decoded: 3 and 2)."""
CUT_MIN_GAP = ("cut_min_gap", 0.5)
"""Seconds: a second cut closer than this to the previous one is the same transition."""


class SceneCutAnalyzer(Analyzer):
    """Finds hard cuts: a frame unlike both the frames before it and the frames after it."""

    name = "scene_cuts"

    def __init__(self, gates: Any = None) -> None:
        self.min_score = float(gate(gates, *CUT_MIN_SCORE))
        self.min_ratio = float(gate(gates, *CUT_MIN_RATIO))
        self.min_gap = float(gate(gates, *CUT_MIN_GAP))
        self.gates = gates
        self._prev: np.ndarray | None = None
        self._window: deque[tuple[float, float]] = deque()  # (time, score) around the candidate
        self.cuts: list[float] = []
        self._scores = 0
        self._score_sum = 0.0
        self._score_max = 0.0
        self._last_time = 0.0

    def process(self, sample: FrameSample) -> None:
        import cv2

        h, w = sample.luma.shape
        scale = CUT_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        thumb = cv2.resize(sample.luma, size, interpolation=cv2.INTER_AREA).astype(np.int16)
        self._last_time = sample.time
        if self._prev is not None and self._prev.shape == thumb.shape:
            score = float(np.abs(thumb - self._prev).mean())
            self._scores += 1
            self._score_sum += score
            self._score_max = max(self._score_max, score)
            self._window.append((sample.time, score))
            if len(self._window) == 2 * CUT_WINDOW + 1:
                self._decide(CUT_WINDOW)
                self._window.popleft()
        self._prev = thumb

    def _decide(self, center: int) -> None:
        t, score = self._window[center]
        if score < self.min_score:
            return
        others = [s for i, (_, s) in enumerate(self._window) if i != center]
        # A floor of 1.0 keeps a static clip (neighbour mean ~0) from turning noise into a ratio.
        neighbours = max(float(np.mean(others)) if others else 0.0, 1.0)
        if score / neighbours < self.min_ratio:
            return
        if self.cuts and t - self.cuts[-1] < self.min_gap:
            return
        self.cuts.append(t)

    def finish(self) -> AnalysisResult:
        # The last CUT_WINDOW frames had no full look-ahead: decide them on what there is.
        while len(self._window) > CUT_WINDOW:
            self._window.popleft()
        for center in range(len(self._window)):
            if self._window[center][0] not in self.cuts:
                self._decide(center)
        metrics: dict[str, Any] = {
            "cuts": len(self.cuts),
            "times": [round(t, 3) for t in self.cuts],
            "score_mean": round(self._score_sum / self._scores, 3) if self._scores else None,
            "score_max": round(self._score_max, 3),
            "min_score": self.min_score,
            "min_ratio": self.min_ratio,
        }
        findings: tuple[Finding, ...] = ()
        if self.cuts:
            times = ", ".join(f"{t:.2f} s" for t in self.cuts[:8])
            more = "..." if len(self.cuts) > 8 else ""
            findings = (
                finding_for(
                    self.gates,
                    "motion.scene_cut",
                    f"{len(self.cuts)} scene cut(s) at {times}{more}; the motion reference should be "
                    "one continuous shot (trim to one shot)",
                    measured=float(len(self.cuts)),
                    limit=0.0,
                    extra={"times": metrics["times"]},
                ),
            )
        return AnalysisResult(self.name, metrics, findings)


# --- camera shake ---------------------------------------------------------------------------------
SHAKE_MAX_JITTER = ("shake_max_jitter", 0.25)
"""Highest RMS jitter, in percent of the frame's long side, before ``motion.camera_shake`` fires.
Measured on 640x360 H.264 clips made from scikit-image photos: slow zoom 0.007-0.008, slow pan
0.009-0.010, a cut between two steady shots 0.008; random frame-to-frame offsets with a sigma of
0.25%, 0.5% and 1% of the frame measured 0.33, 0.65 and 1.29. 0.25% is about 5 px at 1080p:
30 times what a steady shot measures, and a wobble that size is plainly visible."""
SHAKE_SMOOTH_SECONDS = 0.5
"""Width of the centred moving average taken as the intended camera path. Anything slower than
about 2 Hz (a pan, a zoom, a follow move) is intent; what is left over is shake."""
SHAKE_MIN_RESPONSE = 0.05
"""Phase-correlation peaks weaker than this are not trusted (flat or featureless frames); the
step is taken as zero."""
SHAKE_REL_RESPONSE = 0.4
"""...nor peaks weaker than this share of the median peak of the last 15 frames: across a cut the
peak fell to 0.13 while the frames either side peaked at 0.93-0.99 (and jittered frames at
0.87-0.92), and the bogus 57-pixel "shift" it reported read as heavy shake."""
SHAKE_MAX_WAIT = 2.0
"""Seconds a frame waits at most for pose to see the subject at or after its time (pose samples
come three a second, one a second while it holds samples back): memory stays bounded whatever pose
does, 60 small frames at 30 fps."""
SHAKE_MAX_MASK_SHARE = 0.7
"""When the subject box covers more than this share of the frame there is too little background
to measure the camera on; the whole frame is used instead."""


class ShakeAnalyzer(Analyzer):
    """Global motion by phase correlation; jitter = trajectory minus its smooth (intended) path."""

    name = "camera_shake"

    def __init__(self, gates: Any = None, subject_track: BoxTrack | None = None) -> None:
        self.max_jitter = float(gate(gates, *SHAKE_MAX_JITTER))
        self.gates = gates
        self.subject_track = subject_track
        self._waiting: deque[tuple[float, np.ndarray]] = deque()  # frames whose box is not known yet
        self._prev: np.ndarray | None = None
        self._window_cache: dict[tuple[int, int], np.ndarray] = {}
        self._masked_window: tuple[tuple, np.ndarray] | None = None  # ((shape, box), weights)
        self._x = 0.0
        self._y = 0.0
        self._long_side = 1
        self._path: deque[tuple[float, float, float]] = deque()  # (t, x, y) around the centre
        self._centre = 0
        self._t0: float | None = None
        self._sq_sum = 0.0
        self._residuals = 0
        self._peak = 0.0
        self._speed_sum = 0.0
        self._steps = 0
        self._untracked = 0
        self._masked = 0
        self._responses: deque[float] = deque(maxlen=15)
        # The whole cumulative path, for fix --stabilize (CameraPath): three floats a frame.
        self._times: list[float] = []
        self._xs: list[float] = []
        self._ys: list[float] = []
        self._size = (1, 1)
        self._display: tuple[int, int] | None = None

    def _weights(self, shape: tuple[int, int], box: Box | None) -> np.ndarray:
        import cv2

        h, w = shape
        base = self._window_cache.get(shape)
        if base is None:
            base = cv2.createHanningWindow((w, h), cv2.CV_32F)
            self._window_cache[shape] = base
        if box is None:
            return base
        # A still subject keeps its box for many frames: the masked window (0.19 ms, a fifth of the
        # correlation's cost) is made once per box.
        key = (shape, tuple(box))
        if self._masked_window is None or self._masked_window[0] != key:
            self._masked_window = (key, self._box_weights(base, box))
        weights = self._masked_window[1]
        self._masked += weights is not base
        return weights

    @staticmethod
    def _box_weights(base: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        import cv2

        h, w = base.shape
        x0, y0, x1, y1 = box
        # Grow the box a little: limbs and hair stick out of a landmark box.
        pad_x, pad_y = 0.1 * (x1 - x0), 0.05 * (y1 - y0)
        x0, x1 = max(0.0, x0 - pad_x), min(1.0, x1 + pad_x)
        y0, y1 = max(0.0, y0 - pad_y), min(1.0, y1 + pad_y)
        if (x1 - x0) * (y1 - y0) > SHAKE_MAX_MASK_SHARE or x1 <= x0 or y1 <= y0:
            return base
        mask = np.ones((h, w), np.float32)
        mask[int(y0 * h) : int(np.ceil(y1 * h)), int(x0 * w) : int(np.ceil(x1 * w))] = 0.0
        # Soft edges, so the mask's own border does not pull the peak towards zero shift.
        mask = cv2.blur(mask, (15, 15))
        return base * mask

    def process(self, sample: FrameSample) -> None:
        # A frame waits until pose has seen the subject at or after its time: masking a dancer with
        # the box of the last pose sample (a third of a second old) left her outside it, and her
        # motion read as a shaking camera (bench_check's swaying clip, camera still but for a slight
        # hand-held drift: 0.75% jitter, three times the limit; 0.05% with the box of each frame's time).
        if sample.width and sample.height:
            self._display = (sample.width, sample.height)
        self._waiting.append((sample.time, sample.luma.astype(np.float32)))
        self._step_known()

    def _step_known(self, everything: bool = False) -> None:
        track = self.subject_track
        waits = track is not None and not everything
        until = (track[-1][0] + 1e-6 if track else -math.inf) if waits else math.inf
        if self._waiting:  # pose sees a sample at least every second; never hold more than this
            until = max(until, self._waiting[-1][0] - SHAKE_MAX_WAIT)
        while self._waiting and self._waiting[0][0] <= until:
            t, frame = self._waiting.popleft()
            self._step(t, frame, None if track is None else box_at(track, t))

    def _step(self, t: float, current: np.ndarray, box: Box | None) -> None:
        import cv2

        self._long_side = max(current.shape)
        if self._prev is not None and self._prev.shape == current.shape:
            (dx, dy), response = cv2.phaseCorrelate(self._prev, current, self._weights(current.shape, box))
            typical = float(np.median(self._responses)) if len(self._responses) >= 3 else 1.0
            self._responses.append(response)
            if response < max(SHAKE_MIN_RESPONSE, SHAKE_REL_RESPONSE * typical) or not np.isfinite(dx + dy):
                dx = dy = 0.0
                self._untracked += 1
            self._x += dx
            self._y += dy
            self._speed_sum += float(np.hypot(dx, dy))
            self._steps += 1
        self._prev = current
        h, w = current.shape
        self._size = (w, h)
        self._times.append(t)
        self._xs.append(self._x / w)
        self._ys.append(self._y / h)
        self._push(t, self._x, self._y)

    def _push(self, t: float, x: float, y: float) -> None:
        half = SHAKE_SMOOTH_SECONDS / 2
        if self._t0 is None:
            self._t0 = t
        self._path.append((t, x, y))
        # A point's smooth path is known once the window after it has arrived.
        while self._centre < len(self._path) and t - self._path[self._centre][0] > half:
            self._residual_at(self._centre)
            self._centre += 1
            if self._centre < len(self._path):
                start = self._path[self._centre][0] - half
                while self._path[0][0] < start:
                    self._path.popleft()
                    self._centre -= 1

    def _residual_at(self, centre: int) -> None:
        tc, xc, yc = self._path[centre]
        half = SHAKE_SMOOTH_SECONDS / 2
        if self._t0 is None or tc - self._t0 < half - 1e-6:
            return  # a one-sided window would read a steady pan as jitter
        window = np.array([(t - tc, x, y) for (t, x, y) in self._path if abs(t - tc) <= half])
        if len(window) < 3:
            return
        mx, my = _line_at_zero(window[:, 0], window[:, 1]), _line_at_zero(window[:, 0], window[:, 2])
        r = float(np.hypot(xc - mx, yc - my)) / self._long_side * 100.0
        self._sq_sum += r * r
        self._residuals += 1
        self._peak = max(self._peak, r)

    def finish(self) -> AnalysisResult:
        self._step_known(everything=True)  # the clip's last frames, after its last pose sample
        rms = float(np.sqrt(self._sq_sum / self._residuals)) if self._residuals else None
        speed = self._speed_sum / self._steps / self._long_side * 100.0 if self._steps else None
        metrics: dict[str, Any] = {
            "jitter_rms_pct": round(rms, 4) if rms is not None else None,
            "jitter_peak_pct": round(self._peak, 4),
            "mean_speed_pct": round(speed, 4) if speed is not None else None,
            "untracked_frames": self._untracked,
            "masked_frames": self._masked,
            "max_jitter_pct": self.max_jitter,
            "path": self.camera_path(),
        }
        findings: tuple[Finding, ...] = ()
        if rms is not None and rms > self.max_jitter:
            findings = (
                finding_for(
                    self.gates,
                    "motion.camera_shake",
                    f"the camera shakes (jitter {rms:.2f}% of the frame, limit {self.max_jitter:.2f}%); "
                    "use a steadier clip; fixable with --stabilize",
                    measured=round(rms, 4),
                    limit=self.max_jitter,
                ),
            )
        return AnalysisResult(self.name, metrics, findings)

    def camera_path(self) -> CameraPath:
        """The cumulative path of the frames stepped so far (fractions of the small luma are fractions
        of the displayed frame: it is the same picture, scaled)."""
        return CameraPath(tuple(self._times), tuple(self._xs), tuple(self._ys), self._display or self._size)


def _line_at_zero(ts: np.ndarray, vs: np.ndarray) -> float:
    """The least-squares line through (ts, vs), read at t = 0 (the window's centre).

    Not the window's mean: the frames decoded are unevenly spaced when the check leaves non-reference
    pictures out (B-frames: 481 of 900 on the panning bench clip), and the mean of a fast pan sampled
    unevenly lies pixels away from its centre. That read 0.28% jitter on a smooth pan (the gate fires at
    0.25%) where every frame decoded reads 0.09%. On evenly spaced frames the two are the same number."""
    mt = float(ts.mean())
    spread = float(((ts - mt) ** 2).sum())
    mv = float(vs.mean())
    if spread <= 0.0:
        return mv
    slope = float(((ts - mt) * (vs - mv)).sum()) / spread
    return mv - slope * mt


def box_at(track: BoxTrack, t: float) -> Box | None:
    """The subject's box at time ``t``: between two sightings, moved on linearly from one to the
    other; before the first or after the last, the nearest; None where the nearest sighting (or
    either side) saw nobody."""
    if not track:
        return None
    after = bisect.bisect_left(track, t - 1e-6, key=lambda sighting: sighting[0])
    if after == len(track):
        return track[-1][1]
    t1, b1 = track[after]
    if after == 0 or t1 <= t + 1e-6:
        return b1
    t0, b0 = track[after - 1]
    if b0 is None or b1 is None:
        return None
    share = (t - t0) / (t1 - t0)
    return tuple(a + (b - a) * share for a, b in zip(b0, b1, strict=True))  # type: ignore[return-value]
