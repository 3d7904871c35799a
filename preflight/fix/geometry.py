"""Frame geometry for fix: crop or pad into the aspect range (or to one allowed ratio), then scale into
the side limits.

Pure arithmetic shared by the clip and image planners. Sizes are displayed sizes (rotation and EXIF
orientation already applied). Clips need even sides (H.264 4:2:0 subsamples chroma by two).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..aspects import ASPECT_TOLERANCE

__all__ = ["Box", "Geometry", "fit_geometry"]

from ..models import Box

_EPS = 1e-9


@dataclass(frozen=True)
class Geometry:
    """Where the source pixels go: crop ``crop`` out of the source, scale it to ``content``, place it
    at ``offset`` on a ``canvas`` (the output size); the rest of the canvas is fill."""

    source: tuple[int, int]
    crop: tuple[int, int, int, int]
    """(x, y, width, height) kept from the source; the whole frame when nothing is cropped."""
    content: tuple[int, int]
    """Size the kept pixels are scaled to."""
    canvas: tuple[int, int]
    """Output size."""
    offset: tuple[int, int]
    """Top-left corner of the content on the canvas."""

    @property
    def cropped(self) -> bool:
        return self.crop[2:] != self.source

    @property
    def scaled(self) -> bool:
        return self.content != self.crop[2:]

    @property
    def padded(self) -> bool:
        return self.canvas != self.content

    @property
    def changed(self) -> bool:
        return self.cropped or self.scaled or self.padded


def fit_geometry(
    width: int,
    height: int,
    *,
    min_side: int | None,
    max_side: int | None,
    min_aspect: float | None,
    max_aspect: float | None,
    aspect_mode: str = "pad",
    even: bool = False,
    subject: Box | None = None,
    ratio: float | None = None,
) -> Geometry:
    """The smallest change that puts a ``width`` x ``height`` frame inside the limits.

    Crop keeps the ``subject`` box inside the crop window when one is given (else crops the centre).
    ``ratio``: the one width/height the output must have (within :data:`ASPECT_TOLERANCE`), the
    profile's allowed ratio nearest the frame; it replaces the range (the planner picks it inside).
    """
    if ratio is not None:
        return _fit_ratio(width, height, ratio, min_side, max_side, aspect_mode, even, subject)
    lo = min_aspect if min_aspect is not None else 0.0
    hi = max_aspect if max_aspect is not None else math.inf
    w, h = width, height
    # 1. aspect, at source scale: pad grows the short dimension, crop shrinks the long one.
    cx, cy, cw, ch = 0, 0, w, h
    pw, ph = w, h
    if w / h > hi + _EPS:
        if aspect_mode == "crop":
            cw = math.floor(h * hi)
            cx = _place(cw, w, subject[0] if subject else None, subject[2] if subject else None)
            pw = cw
        else:
            ph = math.ceil(w / hi)
    elif w / h < lo - _EPS:
        if aspect_mode == "crop":
            ch = math.floor(w / lo)
            cy = _place(ch, h, subject[1] if subject else None, subject[3] if subject else None)
            ph = ch
        else:
            pw = math.ceil(h * lo)
    # 2. one scale factor for content and canvas: up to the minimum side, down past the maximum.
    factor = 1.0
    if min_side is not None and min(pw, ph) < min_side:
        factor = min_side / min(pw, ph)
    if max_side is not None and max(pw, ph) * factor > max_side:
        factor = max_side / max(pw, ph)
    needs_even = even and (pw % 2 or ph % 2 or cw % 2 or ch % 2)
    if factor == 1.0 and not needs_even:
        ox, oy = (pw - cw) // 2, (ph - ch) // 2
        if even:  # 4:2:0 chroma: the content must start on an even pixel
            ox, oy = ox - ox % 2, oy - oy % 2
        return Geometry((w, h), (cx, cy, cw, ch), (cw, ch), (pw, ph), (ox, oy))
    grow = factor >= 1.0
    canvas_w = _round(pw * factor, even, up=grow)
    canvas_h = _round(ph * factor, even, up=grow)
    canvas_w, canvas_h = _into_range(canvas_w, canvas_h, lo, hi, even, aspect_mode == "pad")
    if max_side is not None:
        step = 2 if even else 1
        while max(canvas_w, canvas_h) > max_side:  # rounding up may pass the cap by a pixel
            if canvas_w >= canvas_h:
                canvas_w -= step
            else:
                canvas_h -= step
    content_w = min(canvas_w, _round(cw * factor, even, up=grow))
    content_h = min(canvas_h, _round(ch * factor, even, up=grow))
    if pw == cw:  # no horizontal padding: the content spans the canvas
        content_w = canvas_w
    if ph == ch:
        content_h = canvas_h
    offset = ((canvas_w - content_w) // 2, (canvas_h - content_h) // 2)
    if even:
        offset = (offset[0] - offset[0] % 2, offset[1] - offset[1] % 2)
    if even:  # a crop of odd size would make the scaler round; keep the crop itself even too
        cw, ch = cw - cw % 2, ch - ch % 2
    return Geometry((w, h), (cx, cy, cw, ch), (content_w, content_h), (canvas_w, canvas_h), offset)


def _place(size: int, total: int, lo: float | None, hi: float | None) -> int:
    """Left/top edge of a window of ``size`` inside ``total`` that holds the span ``lo..hi``."""
    if lo is None or hi is None or hi <= lo:
        return (total - size) // 2
    centre = (lo + hi) / 2 * total
    start = round(centre - size / 2)
    return max(0, min(total - size, start))


def _round(value: float, even: bool, up: bool) -> int:
    if not even:
        return max(1, round(value))
    n = math.ceil(value / 2) * 2 if up else math.floor(value / 2) * 2
    return max(2, n)


def _into_range(w: int, h: int, lo: float, hi: float, even: bool, pad: bool) -> tuple[int, int]:
    """Rounding can push an edge aspect (exactly 2.5:1) just outside: nudge a side back in."""
    step = 2 if even else 1
    for _ in range(8):
        if w / h > hi + _EPS:
            if pad:
                h += step
            else:
                w -= step
        elif w / h < lo - _EPS:
            if pad:
                w += step
            else:
                h -= step
        else:
            break
    return w, h


# --- one allowed ratio ------------------------------------------------------------------------

_SEARCH_STEPS = 16
"""How many sizes either side of the ideal one :func:`_ratio_size` tries: enough to find whole (even)
sides within half the tolerance of any ratio, 1584:672 (33:14) included."""


def _fit_ratio(
    w: int, h: int, t: float, min_side: int | None, max_side: int | None, mode: str, even: bool, subject: Box | None
) -> Geometry:
    """Crop or pad a ``w`` x ``h`` frame to the ratio ``t``, sides rounded so the ratio still holds.

    A frame already within the tolerance is never cropped or padded: it is left alone, or scaled as a
    whole (a stretch below the tolerance) when its sides or their parity must change."""
    step = 2 if even else 1
    tolerance = math.log1p(ASPECT_TOLERANCE)
    odd = even and (w % 2 or h % 2)

    def sides_ok(cw: int, ch: int) -> bool:
        return (min_side is None or min(cw, ch) >= min_side) and (max_side is None or max(cw, ch) <= max_side)

    if _log_error(w / h, t) <= tolerance:
        factor = _side_factor(w, h, min_side, max_side)
        if factor == 1.0 and not odd:
            return Geometry((w, h), (0, 0, w, h), (w, h), (w, h), (0, 0))
        size = _ratio_size(w * factor, h * factor, t, step, sides_ok) or (w, h)
        return Geometry((w, h), (0, 0, w, h), size, size, (0, 0))
    if mode == "crop":
        return _crop_to_ratio(w, h, t, step, min_side, max_side, sides_ok, subject)
    return _pad_to_ratio(w, h, t, step, even, odd, min_side, max_side, sides_ok)


def _crop_to_ratio(
    w: int, h: int, t: float, step: int, min_side: int | None, max_side: int | None,
    sides_ok: Callable[[int, int], bool], subject: Box | None,
) -> Geometry:  # fmt: skip
    fw, fh = min(w, h * t), min(h, w / t)  # the largest window of ratio t, at source scale

    def inside(cw: int, ch: int) -> bool:
        return cw <= w and ch <= h

    crop = None
    if _side_factor(fw, fh, min_side, max_side) == 1.0:  # kept at source scale when the sides allow
        crop = _ratio_size(fw, fh, t, step, lambda cw, ch: inside(cw, ch) and sides_ok(cw, ch))
    if crop is None:
        crop = _ratio_size(fw, fh, t, step, inside) or (_floor(fw, step), _floor(fh, step))
    canvas = crop
    if not sides_ok(*crop) or _log_error(crop[0] / crop[1], t) > math.log1p(ASPECT_TOLERANCE):
        # scaled after the crop: into the side limits, or (a tiny frame) to sides that can hold the ratio
        factor = _side_factor(*crop, min_side, max_side)
        canvas = _ratio_size(crop[0] * factor, crop[1] * factor, t, step, sides_ok) or crop
    cw, ch = crop
    cx = _place(cw, w, subject[0] if subject else None, subject[2] if subject else None)
    cy = _place(ch, h, subject[1] if subject else None, subject[3] if subject else None)
    return Geometry((w, h), (cx, cy, cw, ch), canvas, canvas, (0, 0))  # type: ignore[arg-type]


def _pad_to_ratio(
    w: int, h: int, t: float, step: int, even: bool, odd: bool, min_side: int | None, max_side: int | None,
    sides_ok: Callable[[int, int], bool],
) -> Geometry:  # fmt: skip
    fw, fh = max(w, h * t), max(h, w / t)  # the smallest canvas of ratio t around the frame, at source scale
    factor = _side_factor(fw, fh, min_side, max_side)
    for _ in range(20):  # rounding may leave no canvas under the side cap: shrink the content a little
        if factor == 1.0 and not odd:
            content = (w, h)
        else:
            content = (_round(w * factor, even, up=factor >= 1), _round(h * factor, even, up=factor >= 1))

        def holds(cw: int, ch: int, content: tuple[int, int] = content) -> bool:
            return cw >= content[0] and ch >= content[1] and sides_ok(cw, ch)

        canvas = _ratio_size(fw * factor, fh * factor, t, step, holds)
        if canvas is not None:
            break
        factor *= 1 - step / max(fw * factor, fh * factor)
    else:
        canvas = content
    offset = ((canvas[0] - content[0]) // 2, (canvas[1] - content[1]) // 2)
    if even:
        offset = (offset[0] - offset[0] % 2, offset[1] - offset[1] % 2)
    return Geometry((w, h), (0, 0, w, h), content, canvas, offset)


def _ratio_size(fw: float, fh: float, t: float, step: int, fits: Callable[[int, int], bool]) -> tuple[int, int] | None:
    """Whole sides (multiples of ``step``) near ``fw`` x ``fh`` whose ratio is ``t`` as nearly as may be.

    The size nearest the ideal one among those within half the tolerance of ``t`` (the other half is
    slack nobody needs: the output is measured exactly); else the one nearest ``t``; None when no size
    near it ``fits``."""
    sizes: set[tuple[int, int]] = set()
    for k in range(-_SEARCH_STEPS, _SEARCH_STEPS + 1):
        ch = _nearest(fh, step) + k * step
        sizes.update((cw, ch) for cw in (_floor(ch * t, step), _floor(ch * t, step) + step))
        cw = _nearest(fw, step) + k * step
        sizes.update((cw, ch) for ch in (_floor(cw / t, step), _floor(cw / t, step) + step))
    usable = [(cw, ch) for cw, ch in sizes if cw >= step and ch >= step and fits(cw, ch)]
    if not usable:
        return None
    close = [s for s in usable if _log_error(s[0] / s[1], t) <= math.log1p(ASPECT_TOLERANCE) / 2]
    if close:
        return min(close, key=lambda s: (abs(s[0] - fw) + abs(s[1] - fh), s))
    return min(usable, key=lambda s: (_log_error(s[0] / s[1], t), s))


def _side_factor(fw: float, fh: float, min_side: int | None, max_side: int | None) -> float:
    """One scale factor: up to the minimum side, down past the maximum (as :func:`fit_geometry`)."""
    factor = 1.0
    if min_side is not None and min(fw, fh) < min_side:
        factor = min_side / min(fw, fh)
    if max_side is not None and max(fw, fh) * factor > max_side:
        factor = max_side / max(fw, fh)
    return factor


def _log_error(aspect: float, t: float) -> float:
    return abs(math.log(aspect / t))


def _nearest(value: float, step: int) -> int:
    return max(step, round(value / step) * step)


def _floor(value: float, step: int) -> int:
    return max(step, math.floor(value / step + 1e-9) * step)
