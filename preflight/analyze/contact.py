"""Contact sheet: a grid of frames sampled during the one decode pass, with the pose drawn on them.

:class:`ContactSheetCollector` is an analyzer that keeps a few small thumbnails (bounded memory);
:func:`write_contact_sheet` lays them out in a PNG. The subject's box is drawn from the pose
analyzer's latest observation, and its skeleton too when the observation carries landmarks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import AnalysisResult, Analyzer, FrameSample

__all__ = ["ContactSheetCollector", "SheetFrame", "write_contact_sheet"]

THUMB_SIDE = 320
"""Long side of each tile: enough to judge framing and see a skeleton, small enough that a
12-tile sheet stays well under a megabyte."""
DEFAULT_TILES = 12
COLUMNS = 4

# BlazePose's 33-landmark skeleton: face outline, arms, torso, legs (pairs of landmark indices).
POSE_CONNECTIONS = (
    (0, 2), (0, 5), (2, 7), (5, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
    (15, 17), (15, 19), (16, 18), (16, 20),
    (11, 23), (12, 24), (23, 24),
    (23, 25), (25, 27), (27, 29), (27, 31), (24, 26), (26, 28), (28, 30), (28, 32),
)  # fmt: skip
VISIBLE_MIN = 0.5
JOINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
"""Nose, shoulders, elbows, wrists, hips, knees, ankles."""
LEFT_SIDE = frozenset((1, 2, 3, 7, 9, *range(11, 33, 2)))
"""The person's own left: eye, ear, mouth corner, and the odd indices from the shoulder down."""
RIGHT_SIDE = frozenset((4, 5, 6, 8, 10, *range(12, 33, 2)))
LEFT_COLOUR = (0, 200, 255)
RIGHT_COLOUR = (255, 60, 200)


@dataclass(frozen=True)
class SheetFrame:
    """One tile of the contact sheet."""

    time: float
    rgb: np.ndarray
    """uint8 (h, w, 3) thumbnail, upright."""
    box: tuple[float, float, float, float] | None = None
    """Subject box as fractions of the frame (x0, y0, x1, y1)."""
    torso_visible: bool | None = None
    landmarks: np.ndarray | None = None
    """(33, 3) x, y (fractions) and visibility, when the pose analyzer kept them."""


PoseLookup = Callable[[], "Any | None"]
"""Returns the pose analyzer's latest observation (with ``bbox``, ``torso_visible`` and maybe
``landmarks``), or None."""


class ContactSheetCollector(Analyzer):
    """Keeps ``tiles`` thumbnails evenly spread over ``duration`` seconds."""

    name = "contact_sheet"

    def __init__(
        self,
        duration: float | None,
        tiles: int = DEFAULT_TILES,
        latest_pose: PoseLookup | None = None,
        own_rgb: bool = True,
    ) -> None:
        span = duration if duration and duration > 0 else tiles
        self.step = span / tiles
        self.tiles = tiles
        self.latest_pose = latest_pose
        # With pose running, its RGB frames (about 3 a second) are enough and carry a fresh box.
        self.rgb_interval = self.step if own_rgb else None
        self.frames: list[SheetFrame] = []
        self._next = 0.0  # on the RGB schedule's grid (0, step, 2 step...), so no tile is missed

    def process(self, sample: FrameSample) -> None:
        import cv2

        if not sample.has_rgb or sample.time < self._next - 1e-6 or len(self.frames) >= self.tiles:
            return
        self._next += self.step
        while self._next <= sample.time:
            self._next += self.step
        h, w = sample.rgb.shape[:2]
        scale = min(1.0, THUMB_SIDE / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        thumb = cv2.resize(sample.rgb, size, interpolation=cv2.INTER_AREA)
        obs = self.latest_pose() if self.latest_pose is not None else None
        landmarks = getattr(obs, "landmarks", None)
        self.frames.append(
            SheetFrame(
                time=sample.time,
                rgb=thumb,
                box=getattr(obs, "bbox", None),
                torso_visible=getattr(obs, "torso_visible", None),
                landmarks=np.asarray(landmarks, np.float32) if landmarks is not None else None,
            )
        )

    def finish(self) -> AnalysisResult:
        return AnalysisResult(self.name, {"tiles": len(self.frames)})


def write_contact_sheet(
    path: str | os.PathLike[str], samples: Sequence[SheetFrame], out_png: str | os.PathLike[str]
) -> Path:
    """Write a grid of ``samples`` (from :class:`ContactSheetCollector`) of clip ``path`` as PNG.

    The file is written under a temporary name and renamed, so a reader never sees half a sheet.
    """
    from PIL import Image, ImageDraw

    out = Path(out_png)
    tiles = list(samples)
    tile_w = max((f.rgb.shape[1] for f in tiles), default=THUMB_SIDE)
    tile_h = max((f.rgb.shape[0] for f in tiles), default=THUMB_SIDE * 9 // 16)
    columns = min(COLUMNS, max(1, len(tiles)))
    rows = max(1, math.ceil(len(tiles) / columns))
    header, pad = 24, 4
    sheet = Image.new(
        "RGB", (columns * (tile_w + pad) + pad, header + rows * (tile_h + pad) + pad), (24, 24, 24)
    )
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 6), f"{Path(path).name}: {len(tiles)} frames", fill=(230, 230, 230))
    for i, frame in enumerate(tiles):
        x = pad + (i % columns) * (tile_w + pad)
        y = header + pad + (i // columns) * (tile_h + pad)
        tile = Image.fromarray(frame.rgb, "RGB")
        _draw_pose(ImageDraw.Draw(tile), frame)
        sheet.paste(tile, (x, y))
        draw.text((x + 4, y + 4), f"{frame.time:6.2f} s", fill=(255, 255, 0))
    if not tiles:
        draw.text((pad, header + pad), "no frames", fill=(230, 230, 230))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    sheet.save(partial, format="PNG")
    os.replace(partial, out)
    return out


def _draw_pose(draw: Any, frame: SheetFrame) -> None:
    h, w = frame.rgb.shape[:2]
    if frame.box is not None:
        x0, y0, x1, y1 = frame.box
        colour = (0, 220, 0) if frame.torso_visible else (255, 140, 0)
        draw.rectangle((x0 * w, y0 * h, x1 * w, y1 * h), outline=colour, width=1)
    points = frame.landmarks
    if points is None or points.ndim != 2 or points.shape[0] < 33:
        return
    seen = points[:33, 2] >= VISIBLE_MIN
    xy = [(float(x) * w, float(y) * h) for x, y in points[:33, :2]]
    segments = [(a, b) for a, b in POSE_CONNECTIONS if seen[a] and seen[b]]
    # A dark stroke under each line keeps the skeleton readable on light and busy backgrounds alike.
    for a, b in segments:
        draw.line((*xy[a], *xy[b]), fill=(0, 0, 0), width=4)
    for a, b in segments:
        draw.line((*xy[a], *xy[b]), fill=_side_colour(a, b), width=2)
    # Dots on the joints only: dots on all eleven face points make a blob at thumbnail size.
    for index in JOINTS:
        if seen[index]:
            x, y = xy[index]
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=_side_colour(index, index), outline=(0, 0, 0))


def _side_colour(a: int, b: int) -> tuple[int, int, int]:
    """The person's left side cyan, right side magenta, the lines across (shoulders, hips, face) white:
    which way the person faces reads at a glance (left in cyan on the image's right = facing us)."""
    if a in LEFT_SIDE and b in LEFT_SIDE:
        return LEFT_COLOUR
    if a in RIGHT_SIDE and b in RIGHT_SIDE:
        return RIGHT_COLOUR
    return (255, 255, 255)
