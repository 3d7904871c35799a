"""The before/after picture of a steadied clip (``fix --stabilize``): what the steadying kept, and how the
picture moved before and after.

A still frame cannot show shake, so the picture has two parts: on top, a frame of the clip as filmed with
the window the steadying kept on that frame drawn on it, beside the same moment of the output (the crop-in
shows); under them, where the picture was over the clip, left to right and up and down, as the check
measured it on the input (jagged) and the re-check on the output (smooth, the pan kept). Both paths come
from the checks fix ran anyway (:class:`preflight.models.CameraPath`, kept in memory): nothing is measured
again, two frames are decoded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from .preview import REFRAME_WORK_SIDE, THUMB_SIDE, _frame_rgb, _jpeg_data_uri, _sheet_image, _thumb

__all__ = ["AFTER_COLOUR", "BEFORE_COLOUR", "stabilize_preview", "stabilize_preview_for"]

log = logging.getLogger("preflight")

BEFORE_COLOUR = (255, 140, 0)
"""The input's path: orange, the colour the contact sheets give a box without the torso (something amiss)."""
AFTER_COLOUR = (90, 170, 255)
CHART_HEIGHT = 110
"""Pixels of one path's chart: a 1-2% shake is a few pixels of a 20% pan at this height, and a whole
axis of it alone (the up-down one, where a hand-held camera rarely pans) is plain to see."""
BACKGROUND = (24, 24, 24)
"""The contact sheet's own background, so the picture reads as one."""


def stabilize_preview_for(result: Any) -> str | None:
    """:func:`stabilize_preview` of a :class:`preflight.fix.FixResult` whose plan steadied a clip, as a JPEG
    ``data:`` URI; None for any other result, or when a frame or a path cannot be had."""
    from ..fix.ops import Crop, Reframe, Stabilize, Trim

    plan = result.plan
    op = plan.find(Stabilize) if plan is not None else None
    after = result.after
    if op is None or plan.role != "video" or not result.output or after is None or after.media is None:
        return None
    before_path = (result.before.analysis.get("camera_shake") or {}).get("path")
    after_path = (after.analysis.get("camera_shake") or {}).get("path")
    if not before_path or not after_path:
        return None
    cut = plan.find(Reframe) or plan.find(Crop)
    region = cut.rect if cut is not None else (0, 0, *op.window.frame)
    source = cut.source if cut is not None else op.window.frame
    trim = plan.find(Trim)
    try:
        return stabilize_preview(result.path, result.output, op.window, region, source, before_path, after_path,
                                 (after.media.duration or 0.0) / 2, trim.start if trim else 0.0)  # fmt: skip
    except Exception as exc:  # a preview is a nicety: never lose the result for it
        log.info("no stabilize preview for %s: %s", result.path, exc)
        return None


def stabilize_preview(source: str, output: str, window: Any, region: Sequence[int], shown: Sequence[int],
                      before: Any, after: Any, at: float, offset: float = 0.0) -> str | None:  # fmt: skip
    """The picture (see the module) as a JPEG ``data:`` URI. ``window``: the steadying's
    :class:`~preflight.fix.movingcrop.MovingCrop`, moving inside ``region`` (x, y, w, h of the ``shown``
    (width, height) input); ``before``/``after``: the input's and the output's camera paths; ``at``: the
    output's second shown, ``offset`` where the output starts in the input (a trim)."""
    from PIL import Image

    from ..analyze.contact import SheetFrame

    first = _frame_rgb(source, at + offset, REFRAME_WORK_SIDE)
    second = _frame_rgb(output, at, THUMB_SIDE)
    if first is None or second is None:
        return None
    left, top = window.position(at + offset)
    x, y = region[0] + left, region[1] + top
    w, h = window.size
    box = (x / shown[0], y / shown[1], (x + w) / shown[0], (y + h) / shown[1])
    frames = [SheetFrame(time=at + offset, rgb=_thumb(first), box=box, torso_visible=True, landmarks=None),
              SheetFrame(time=at, rgb=second, box=None, torso_visible=None, landmarks=None)]  # fmt: skip
    sheet = _sheet_image("as filmed -> steadied", frames)
    spans = _spans(before, offset, after)
    charts = [_chart(sheet.width, title, *spans[axis]) for axis, title in
              enumerate(("left to right, % of the frame's width", "up and down, % of the frame's height"))]  # fmt: skip
    picture = Image.new("RGB", (sheet.width, sheet.height + sum(c.height for c in charts)), BACKGROUND)
    picture.paste(sheet, (0, 0))
    y0 = sheet.height
    for chart in charts:
        picture.paste(chart, (0, y0))
        y0 += chart.height
    return _jpeg_data_uri(picture)


Series = tuple[np.ndarray, np.ndarray]
"""(seconds from the output's start, position in % of the frame from where it started)."""


def _spans(before: Any, offset: float, after: Any) -> list[tuple[Series, Series]]:
    """Per axis (x, y): the input's path over the seconds the output kept, and the output's, both from 0 s
    and each about its own mean (what matters is how it moved, not where it was: the input's first frame
    is as far off as any other, so starting both at 0 would set the two lines apart by that frame's shake)."""
    t = np.asarray(before.times, dtype=np.float64) - offset
    end = float(after.times[-1]) if len(after) else 0.0
    keep = (t >= -1e-6) & (t <= end + 1e-6)
    t_after = np.asarray(after.times, dtype=np.float64)
    out = []
    for axis in ("x", "y"):
        was = np.asarray(getattr(before, axis), dtype=np.float64)[keep] * 100.0
        now = np.asarray(getattr(after, axis), dtype=np.float64) * 100.0
        out.append(((t[keep], _about_mean(was)), (t_after, _about_mean(now))))
    return out


def _about_mean(values: np.ndarray) -> np.ndarray:
    return values - values.mean() if len(values) else values


def _chart(width: int, title: str, before: Series, after: Series) -> Any:
    """One axis's paths over time: the input's in orange, the output's in blue, a line every second."""
    from PIL import Image, ImageDraw

    pad, head, foot = 8, 18, 14
    image = Image.new("RGB", (width, head + CHART_HEIGHT + foot), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((pad, 3), title + ":", fill=(230, 230, 230))
    legend_x = pad + int(draw.textlength(title + ":  "))
    for words, colour in (("as filmed", BEFORE_COLOUR), ("steadied", AFTER_COLOUR)):
        draw.line((legend_x, 10, legend_x + 16, 10), fill=colour, width=3)
        draw.text((legend_x + 20, 3), words, fill=colour)
        legend_x += 28 + int(draw.textlength(words))
    values = np.concatenate([before[1], after[1], [0.0]])
    low, high = float(values.min()), float(values.max())
    if high - low < 1.0:  # a still, steady picture: a 1% range, not its noise blown up to the full height
        middle = (high + low) / 2
        low, high = middle - 0.5, middle + 0.5
    seconds = max(float(before[0][-1]) if len(before[0]) else 0.0, float(after[0][-1]) if len(after[0]) else 0.0, 0.1)
    left, right, top = pad, width - pad, head

    def xy(t: np.ndarray, v: np.ndarray) -> list[tuple[float, float]]:
        px = left + t / seconds * (right - left)
        py = top + (high - v) / (high - low) * CHART_HEIGHT
        return list(zip(px.tolist(), py.tolist(), strict=True))

    draw.rectangle((left, top, right, top + CHART_HEIGHT), outline=(90, 90, 90))
    for second in range(1, int(seconds) + 1):
        x = left + second / seconds * (right - left)
        draw.line((x, top, x, top + CHART_HEIGHT), fill=(60, 60, 60))
        draw.text((x - 8, top + CHART_HEIGHT + 1), f"{second} s", fill=(170, 170, 170))
    for value, y in ((high, top + 1), (low, top + CHART_HEIGHT - 12)):
        label = f"{value:+.1f}%"
        draw.text((right - 3 - draw.textlength(label), y), label, fill=(170, 170, 170))
    for (t, v), colour, line in ((before, BEFORE_COLOUR, 2), (after, AFTER_COLOUR, 2)):
        if len(t) > 1:
            draw.line(xy(t, v), fill=colour, width=line, joint="curve")
    return image
