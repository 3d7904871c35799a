"""``fix --stabilize``: take hand-held shake out of a clip and keep its deliberate moves. Pure: no I/O.

The check already measured how the picture moved, frame by frame (:class:`preflight.models.CameraPath`,
the shake gate's subject-masked phase correlation). That path is smoothed with a local straight-line
fit (:func:`smooth`): a pan, a follow move or a slow drift stays, and what is left over is the shake.
The re-encode cuts a window out of every frame that moves with the shake (:mod:`.movingcrop`), so the
picture moves only along the smooth path; the window is the frame less the smallest fixed crop-in that
keeps it inside the picture at the largest correction, and the graph scales it back to the output size.

A crop-in that would take the window under the profile's minimum side, or cut more than
:data:`MAX_CROP_IN` of the frame, is not made: the plan carries ``stabilize.crop_too_large`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..models import CameraPath, Finding, Severity
from .moving import MovingCrop

__all__ = [
    "MAX_CROP_IN", "SMOOTH_SIGMA", "Correction", "Shake", "correction_for", "jitter_left", "shake_of", "shake_rms",
    "smooth",
]

SMOOTH_SIGMA = 0.25
"""Seconds: the width (sigma) of the Gaussian weights of the straight-line fit that is the intended
camera path. The gate calls anything faster than about 2 Hz shake; a fit this wide keeps under 1% of a
2 Hz wobble (exp(-(2 pi f sigma)^2 / 2)) while it follows a pan that starts or stops within half a
second (a wider one rounds such corners off, and the window must then move further, which costs crop)."""
SMOOTH_REACH = 3.0
"""The fit looks this many sigmas either side (the weight there is 1%)."""
MAX_CROP_IN = 0.2
"""The largest share of each side cut away. A correction needing more is not shake but a whip pan, a
cut the gate missed or a camera thrown about; cropping a fifth of the frame away would change the
framing more than the steadier picture is worth."""


@dataclass(frozen=True)
class Correction:
    """What a stabilized encode does: the moving window and its figures for the report."""

    window: MovingCrop
    crop_in: float
    """Share of each side cut away (0.06: the window is 94% of the frame's width and height)."""
    jitter_before: float
    """The gate's jitter (% of the long side) over the kept part, as the input moves."""
    jitter_after: float
    """The same measure once the window follows the shake (whole pixels: what the encode will do)."""


def smooth(times: Sequence[float], values: Sequence[float], sigma: float = SMOOTH_SIGMA) -> np.ndarray:
    """Each value replaced by a straight line fitted through its neighbours, weighted by a Gaussian of
    ``sigma`` seconds: a constant-speed pan comes out exactly as it went in, right up to the clip's
    ends (a moving average would pull the ends of a pan towards the middle)."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if len(t) < 3:
        return v.copy()
    reach = SMOOTH_REACH * sigma
    lo = np.searchsorted(t, t - reach, side="left")
    hi = np.searchsorted(t, t + reach, side="right")
    width = int((hi - lo).max())
    index = lo[:, None] + np.arange(width)[None, :]
    inside = index < hi[:, None]
    index = np.minimum(index, len(t) - 1)
    dt = t[index] - t[:, None]
    w = np.where(inside, np.exp(-0.5 * (dt / sigma) ** 2), 0.0)
    sw, swt, swtt = w.sum(1), (w * dt).sum(1), (w * dt * dt).sum(1)
    swv, swtv = (w * v[index]).sum(1), (w * dt * v[index]).sum(1)
    det = sw * swtt - swt * swt
    flat = det <= 1e-12 * np.maximum(sw * swtt, 1e-300)  # one sample in reach: no slope to fit
    safe = np.where(flat, 1.0, det)
    return np.where(flat, swv / sw, (swtt * swv - swt * swtv) / safe)


def shake_rms(times: Sequence[float], x: Sequence[float], y: Sequence[float], size: tuple[int, int]) -> float | None:
    """The shake gate's jitter of a path (:class:`preflight.analyze.motion.ShakeAnalyzer`): RMS distance,
    in % of the long side, of each point from the mean of the points within a quarter second either
    side; points less than that from either end are left out, as the gate leaves them. None: too short."""
    from ..analyze.motion import SHAKE_SMOOTH_SECONDS  # here: the analyze package costs 40 ms to import

    t = np.asarray(times, dtype=np.float64)
    if len(t) < 3:
        return None
    half = SHAKE_SMOOTH_SECONDS / 2
    px = np.asarray(x, dtype=np.float64) * size[0]
    py = np.asarray(y, dtype=np.float64) * size[1]
    cx, cy = np.concatenate(([0.0], np.cumsum(px))), np.concatenate(([0.0], np.cumsum(py)))
    lo = np.searchsorted(t, t - half - 1e-9, side="left")
    hi = np.searchsorted(t, t + half + 1e-9, side="right")
    n = hi - lo
    keep = (t - t[0] >= half - 1e-6) & (t[-1] - t > half) & (n >= 3)
    if not keep.any():
        return None
    mx, my = (cx[hi] - cx[lo]) / n, (cy[hi] - cy[lo]) / n
    r = np.hypot(px - mx, py - my)[keep] / max(size) * 100.0
    return float(np.sqrt(np.mean(r * r)))


def correction_for(
    path: CameraPath,
    kept: tuple[float, float] | None,
    region: tuple[int, int, int, int],
    source: tuple[int, int],
    min_side: int | None,
) -> Correction | Finding | None:
    """The moving window that takes the shake out of the ``kept`` seconds (None: all), the finding
    that says why it cannot be made, or None when the path is too short to smooth (under 3 frames).

    ``region``: (x, y, width, height) of the displayed frame the window moves in (what the plan's
    geometry keeps, at the source's scale); ``source``: the displayed frame's (width, height)."""
    shake = shake_of(path, kept, source)
    if shake is None:
        return None
    jx, jy, inside = shake.dx, shake.dy, shake.inside
    _, _, cw, ch = region
    need = max(2 * float(np.abs(jx[inside]).max()) / cw, 2 * float(np.abs(jy[inside]).max()) / ch)
    ww, wh = _even_floor(cw * (1 - need)), _even_floor(ch * (1 - need))
    crop_in = 1 - min(ww / cw, wh / ch)
    if crop_in > MAX_CROP_IN + 1e-9 or (min_side is not None and min(ww, wh) < min_side):
        return _crop_too_large(crop_in, (ww, wh), min_side)
    window = MovingCrop(
        (ww, wh), (cw, ch), tuple(shake.times.tolist()),
        tuple(((cw - ww) / 2 + jx).tolist()), tuple(((ch - wh) / 2 + jy).tolist()),
    )  # fmt: skip
    return Correction(window, crop_in, shake.before, jitter_left(shake, window, source))


@dataclass(frozen=True)
class Shake:
    """The shake of the kept part of a clip: where the picture is, frame by frame, against its smooth
    path. A window moved by ``dx``, ``dy`` from where it would be shows the picture along the smooth path
    (``--stabilize``; ``--reframe follow`` adds it to its own moving window)."""

    times: np.ndarray
    """Seconds: the path's frames over the kept part, with the smoothing's reach either side."""
    dx: np.ndarray
    """The picture's offset right of its smooth path, in the source's (displayed) pixels."""
    dy: np.ndarray
    inside: np.ndarray
    """Which of ``times`` are inside the kept part (the figures and the room needed count only those)."""
    x: np.ndarray = field(repr=False)
    """The measured path (fractions of the frame), for the jitter left once a window moves."""
    y: np.ndarray = field(repr=False)
    size: tuple[int, int] = (0, 0)
    """The path's frame (``CameraPath.size``): the jitter's percent is of its long side."""
    before: float = 0.0
    """The gate's jitter over the kept part, as the input moves."""


def shake_of(path: CameraPath, kept: tuple[float, float] | None, source: tuple[int, int]) -> Shake | None:
    """The shake of ``path`` over the ``kept`` seconds (None: all) in a ``source`` (displayed) frame, or None
    when the path is too short to smooth (under 3 frames)."""
    times, xs, ys = _kept_samples(path, kept)
    if len(times) < 3:
        return None
    sx, sy = smooth(times, xs), smooth(times, ys)
    inside = _inside(times, kept)
    before = shake_rms(times[inside], xs[inside], ys[inside], path.size) or 0.0
    return Shake(times, (xs - sx) * source[0], (ys - sy) * source[1], inside, xs, ys, path.size, before)


def jitter_left(shake: Shake, window: MovingCrop, source: tuple[int, int]) -> float:
    """The gate's jitter of the picture ``window`` shows: the input's path less the window's own movement
    in whole (even) pixels, at the shake's frames (a smooth movement of the window, such as a follow,
    adds motion but no jitter)."""
    left, top = window.positions(shake.times)
    rx = shake.x - left / source[0]
    ry = shake.y - top / source[1]
    inside = shake.inside
    return shake_rms(shake.times[inside], rx[inside], ry[inside], shake.size) or 0.0


def _kept_samples(path: CameraPath, kept: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The path's samples over the kept seconds, with the smoothing's reach either side (the fit near
    a trim's edge leans on the frames beyond it, as the fit inside the clip does)."""
    t = np.asarray(path.times, dtype=np.float64)
    take = np.ones(len(t), dtype=bool)
    if kept is not None:
        reach = SMOOTH_REACH * SMOOTH_SIGMA
        take = (t >= kept[0] - reach) & (t <= kept[1] + reach)
    return t[take], np.asarray(path.x, dtype=np.float64)[take], np.asarray(path.y, dtype=np.float64)[take]


def _inside(times: np.ndarray, kept: tuple[float, float] | None) -> np.ndarray:
    if kept is None:
        return np.ones(len(times), dtype=bool)
    inside = (times >= kept[0] - 1e-6) & (times < kept[1])
    return inside if inside.any() else np.ones(len(times), dtype=bool)


def _even_floor(value: float) -> int:
    return max(2, math.floor(value / 2 + 1e-9) * 2)


def _crop_too_large(crop_in: float, window: tuple[int, int], min_side: int | None) -> Finding:
    if crop_in > MAX_CROP_IN + 1e-9:
        why = f"more than the {MAX_CROP_IN:.0%} stabilizing may cut"
    else:
        why = f"{window[0]}x{window[1]}, under the profile's {min_side} px minimum side"
    return Finding(
        "stabilize.crop_too_large", Severity.WARNING,
        f"not stabilized: hiding the borders of this shake takes a {crop_in:.0%} crop-in ({why}); "
        "film on a steadier hand or at a higher resolution",
        measured=round(crop_in, 4), limit=MAX_CROP_IN,
    )  # fmt: skip

