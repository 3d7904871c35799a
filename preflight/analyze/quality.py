"""Quality gates: exposure (luma statistics) and blur (variance of the Laplacian).

Every threshold is defined once here as ``(key, default)``; a profile's ``[content]`` table overrides
it by the same key, and ``[content.severity]`` maps a finding code to ``error``/``warning``/``info``.
The defaults were calibrated on scikit-image's public-domain photos (astronaut, camera, coffee) and
darkened, blown-out and blurred versions of them; the measured values are in each comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..models import Finding, Severity
from .base import AnalysisResult, Analyzer, FrameSample

__all__ = [
    "BlurAnalyzer",
    "ExposureAnalyzer",
    "analyze_image_quality",
    "finding_for",
    "gate",
]


def gate(gates: Any, key: str, default: Any) -> Any:
    """A threshold from the profile's content gates (a ContentGates, a dict or None)."""
    if gates is None:
        return default
    value = gates.get(key, default)
    return default if value is None else value


def finding_for(
    gates: Any,
    code: str,
    message: str,
    *,
    measured: float | str | None = None,
    limit: float | str | None = None,
    extra: Mapping[str, Any] | None = None,
    default: Severity = Severity.WARNING,
) -> Finding:
    """A content finding whose severity the profile may override (``[content.severity]``)."""
    table = gate(gates, "severity", {}) or {}
    severity = Severity(str(table.get(code, default.value))) if isinstance(table, Mapping) else default
    return Finding(code, severity, message, False, measured, limit, dict(extra or {}))


# --- exposure -------------------------------------------------------------------------------------
DARK_MAX_MEAN = ("dark_max_mean", 50.0)
"""Mean luma (0-255, full range) below which ``quality.too_dark`` fires. Measured on 640x360 H.264
clips (slow zoom) of the photos: astronaut 120, camera 104, coffee 103; at 50% brightness 52-60,
at 40% 41-48, at 30% 30-36. Around 40% of a normal exposure is where a compressed clip loses the
detail of a face and the pose model starts missing joints."""
DARK_MAX_P95 = ("dark_max_p95", 140.0)
"""...and only when the bright end is dim too (95th percentile of luma): a dark stage with a lit
dancer has a low mean but a bright subject. Measured p95: normal clips 206-221; at 50% 102-111,
at 40% 83-87."""
OVER_MIN_CLIPPED = ("over_min_clipped", 0.15)
"""Share of pixels at or above ``CLIP_LEVEL`` above which ``quality.overexposed`` fires. Measured:
normal clips 0.2-1% (the astronaut's white suit 0.9%); at 2x gain astronaut 36%, camera 50%,
coffee 11%; at 2.5x 45%, 53%, 16%. A bright but well exposed scene (snow, a white wall) clips a
few percent, so the bar sits well above that."""
OVER_MIN_MEAN = ("over_min_mean", 185.0)
"""...or a mean luma above this (washed out even where not clipped). Measured: normal 103-120,
2x gain 163-177, 2.5x gain 170-188."""
CLIP_LEVEL = 250
"""Luma at or above this counts as clipped (blown out)."""


class ExposureAnalyzer(Analyzer):
    """Luma histogram over the whole clip (every frame's small luma), then mean and percentiles."""

    name = "exposure"

    def __init__(self, gates: Any = None) -> None:
        self.gates = gates
        self.dark_max_mean = float(gate(gates, *DARK_MAX_MEAN))
        self.dark_max_p95 = float(gate(gates, *DARK_MAX_P95))
        self.over_min_clipped = float(gate(gates, *OVER_MIN_CLIPPED))
        self.over_min_mean = float(gate(gates, *OVER_MIN_MEAN))
        self._hist = np.zeros(256, np.float64)
        self._frames = 0

    def process(self, sample: FrameSample) -> None:
        import cv2

        self._hist += cv2.calcHist([sample.luma], [0], None, [256], [0, 256]).ravel()
        self._frames += 1

    def finish(self) -> AnalysisResult:
        total = self._hist.sum()
        if not total:
            return AnalysisResult(self.name, {"frames": 0})
        levels = np.arange(256)
        cdf = np.cumsum(self._hist) / total

        def pct(q: float) -> int:
            return int(np.searchsorted(cdf, q))

        mean = float((self._hist * levels).sum() / total)
        clipped = float(self._hist[CLIP_LEVEL:].sum() / total)
        metrics = {
            "frames": self._frames,
            "mean": round(mean, 2),
            "p5": pct(0.05),
            "p50": pct(0.50),
            "p95": pct(0.95),
            "clipped_share": round(clipped, 4),
        }
        findings: list[Finding] = []
        if mean < self.dark_max_mean and metrics["p95"] < self.dark_max_p95:
            findings.append(
                finding_for(
                    self.gates, "quality.too_dark",
                    f"too dark: mean brightness {mean:.0f}/255 (below {self.dark_max_mean:.0f}); "
                    "pose tracking and the result suffer in low light",
                    measured=round(mean, 2), limit=self.dark_max_mean,
                )
            )
        if clipped > self.over_min_clipped or mean > self.over_min_mean:
            findings.append(
                finding_for(
                    self.gates, "quality.overexposed",
                    f"overexposed: {clipped:.0%} of the picture is blown out, mean brightness "
                    f"{mean:.0f}/255; details of the person are lost",
                    measured=round(clipped, 4), limit=self.over_min_clipped,
                )
            )
        return AnalysisResult(self.name, metrics, tuple(findings))


# --- blur -----------------------------------------------------------------------------------------
BLUR_SIDE = 640
"""Long side the frame is resized to before the Laplacian: the variance of the Laplacian depends
on scale, so it is only comparable at one fixed resolution. 640 keeps detail a provider's 720p
output shows; measuring a 1080p frame (resize included) costs about 5 ms, once a second."""
BLUR_INTERVAL = 1.0
"""Seconds between the frames measured (blur changes slowly; RGB costs a conversion)."""
BLUR_MIN_VARIANCE = ("blur_min_variance", 70.0)
"""Median contrast-normalized variance of the Laplacian (see :func:`laplacian_variance`) below
which ``quality.blurry`` fires. Measured at 640 px on 640x360 H.264 clips of the photos: sharp
297-512 (camera, astronaut, coffee); Gaussian blur sigma 1: 107-144; sigma 2: 53-83; sigma 3:
40-65; sigma 4: 30-49; the same clips darkened to 30-50% brightness 335-667 (the normalization
keeps a dark clip from also reading as blurry: raw variance there fell to 28-122). 70 passes the
mild softness of sigma 1 and flags sigma 3 on every photo (sigma 2 on two of three)."""
BLUR_MIN_BOX_SIDE = 48
"""A subject box smaller than this (pixels at ``BLUR_SIDE``) is too small to measure; the whole
frame is used instead."""


def laplacian_variance(gray: np.ndarray, box: tuple[float, float, float, float] | None = None) -> float:
    """Variance of the Laplacian of ``gray`` at ``BLUR_SIDE`` after a contrast stretch, on the box
    (fractions of the frame) when one is given and large enough."""
    import cv2

    h, w = gray.shape
    scale = BLUR_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    work = cv2.resize(gray, size, interpolation=interp) if scale != 1 else gray
    if box is not None:
        x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in box)
        sw, sh = size
        crop = work[int(y0 * sh) : int(np.ceil(y1 * sh)), int(x0 * sw) : int(np.ceil(x1 * sw))]
        if min(crop.shape[:2]) >= BLUR_MIN_BOX_SIDE:
            work = crop
    # Normalize contrast (p1-p99 stretched to 0-255): the Laplacian's variance grows with the
    # square of contrast, so a dark but sharp frame would otherwise read as blurry. The stretch is
    # capped at 16x so a flat frame's noise is not blown up into "detail".
    low, high = np.percentile(work, (1, 99))
    gain = 255.0 / max(float(high - low), 16.0)
    return float(cv2.Laplacian(work, cv2.CV_32F).var()) * gain * gain


class BlurAnalyzer(Analyzer):
    """Sharpness of sampled RGB frames, on the subject's box when the pose analyzer gives one."""

    name = "blur"
    rgb_interval = BLUR_INTERVAL

    def __init__(self, gates: Any = None, subject_box: Any = None, own_rgb: bool = True) -> None:
        self.gates = gates
        # With pose running, its RGB frames (about 3 a second) are plenty: asking for our own on
        # another grid would make the pose model run on those too (measured: 117 pose calls
        # instead of 91 on a 30 s clip).
        self.rgb_interval = BLUR_INTERVAL if own_rgb else None
        self.subject_box = subject_box
        self.min_variance = float(gate(gates, *BLUR_MIN_VARIANCE))
        self._values: list[float] = []
        self._on_box = 0
        self._next = 0.0

    def process(self, sample: FrameSample) -> None:
        import cv2

        if not sample.has_rgb or sample.time < self._next - 1e-6:
            return
        self._next = sample.time + BLUR_INTERVAL * 0.9
        box = self.subject_box() if self.subject_box is not None else None
        gray = cv2.cvtColor(sample.rgb, cv2.COLOR_RGB2GRAY)
        self._values.append(laplacian_variance(gray, box))
        self._on_box += box is not None

    def finish(self) -> AnalysisResult:
        if not self._values:
            return AnalysisResult(self.name, {"frames": 0})
        median = float(np.median(self._values))
        metrics = {
            "frames": len(self._values),
            "on_subject_box": self._on_box,
            "laplacian_var_median": round(median, 2),
            "laplacian_var_min": round(min(self._values), 2),
            "min_variance": self.min_variance,
        }
        findings: tuple[Finding, ...] = ()
        if median < self.min_variance:
            where = "the person" if self._on_box else "the picture"
            findings = (
                finding_for(
                    self.gates, "quality.blurry",
                    f"{where} is blurry (sharpness {median:.0f}, below {self.min_variance:.0f}); "
                    "use a sharper, better-focused source",
                    measured=round(median, 2), limit=self.min_variance,
                ),
            )
        return AnalysisResult(self.name, metrics, findings)


def analyze_image_quality(
    rgb: np.ndarray, gates: Any = None, box: tuple[float, float, float, float] | None = None
) -> tuple[AnalysisResult, AnalysisResult]:
    """Exposure and blur of a still image (RGB uint8, upright), blur on ``box`` when given."""
    import cv2

    from .frames import work_size

    h, w = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, work_size(w, h), interpolation=cv2.INTER_AREA)
    sample = FrameSample(index=0, time=0.0, luma=small, rgb=rgb, width=w, height=h)
    exposure = ExposureAnalyzer(gates)
    blur = BlurAnalyzer(gates, subject_box=(lambda: box) if box is not None else None)
    for analyzer in (exposure, blur):
        analyzer.process(sample)
    return exposure.finish(), blur.finish()
