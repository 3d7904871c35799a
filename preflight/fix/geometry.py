"""Frame geometry for fix: crop or pad into the aspect range, then scale into the side limits.

Pure arithmetic shared by the clip and image planners. Sizes are displayed sizes (rotation and EXIF
orientation already applied). Clips need even sides (H.264 4:2:0 subsamples chroma by two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Box", "Geometry", "fit_geometry"]

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) as fractions of the displayed frame."""

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
) -> Geometry:
    """The smallest change that puts a ``width`` x ``height`` frame inside the limits.

    Crop keeps the ``subject`` box inside the crop window when one is given (else crops the centre).
    """
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
