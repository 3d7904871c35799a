"""A crop window of fixed size that moves from frame to frame, inside the one filter graph of a re-encode.

``fix --stabilize`` moves it with the shake so the background holds still; ``--reframe follow`` moves it
with the subject. :class:`MovingCrop` is the plan (pure data: where the window's top-left corner is at
each of a few times); :class:`CropStage` is the running part: one libavfilter ``crop`` whose ``x`` and
``y`` are set by ``process_command`` before each frame is pushed.

Why a crop filter steered per frame, not numpy on the yuv420p planes: the crop only moves the planes'
pointers, at the source's scale, before the graph's scale brings the window to the output size; numpy
would cut the graph's output, after that scale, so the window would need a second graph to be scaled
back (the numpy copy itself is cheap, 0.1-0.4 ms a 1080p frame). What the moving crop costs is that
scale: a 1080p clip kept at 1080p is not scaled at all otherwise, and bicubic from a 94% window back
to 1920x1080 took 2.9-3.9 ms a frame (measured on the shared 2-core machine; bilinear was no faster).
Positions are even: 4:2:0 chroma moves in steps of two pixels, and ``exact=1`` at odd ones shifts the
colour by half a chroma sample against the luma (1 px at 1080p is 0.05% of the frame; the shake gate
objects at 0.25%).
"""

from __future__ import annotations

from typing import Any

from ..framing.moving import MovingCrop, corners

__all__ = ["CropStage", "MovingCrop"]


class CropStage:
    """The moving crop linked into a graph after ``node``: call :meth:`place` with a frame's time
    before pushing it; :attr:`node` is the filter the rest of the graph links to."""

    def __init__(self, crop: MovingCrop, graph: Any, node: Any) -> None:
        import numpy as np

        self.crop = crop
        self._times = np.asarray(crop.times, dtype=np.float64)
        self._left = np.asarray(crop.left, dtype=np.float64)
        self._top = np.asarray(crop.top, dtype=np.float64)
        x, y = crop.position(crop.times[0])
        w, h = crop.size
        # exact=0: x and y must stay multiples of the chroma step; position() keeps them even anyway.
        self.node = graph.add("crop", f"w={w}:h={h}:x={x}:y={y}:keep_aspect=0:exact=0")
        node.link_to(self.node)
        self._at = (x, y)
        self.placed = 0
        """Frames placed (for tests and the bench)."""

    def place(self, t: float) -> tuple[int, int]:
        """Move the window to where it is at ``t`` (seconds from the clip's start); returns the corner."""
        x, y = corners(self._times, self._left, self._top, self.crop.slack, t)
        at = int(x), int(y)
        if at != self._at:
            if at[0] != self._at[0]:
                self.node.process_command("x", str(at[0]))
            if at[1] != self._at[1]:
                self.node.process_command("y", str(at[1]))
            self._at = at
        self.placed += 1
        return at
