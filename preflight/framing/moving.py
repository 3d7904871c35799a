"""A crop window of fixed size that moves from frame to frame: the plan (pure data), what ``--stabilize`` and
``--reframe follow`` work out and ``fix`` runs (:class:`preflight.fix.movingcrop.CropStage`).

Positions are even: 4:2:0 chroma moves in steps of two pixels, and a crop at odd ones shifts the colour
by half a chroma sample against the luma (1 px at 1080p is 0.05% of the frame; the shake gate objects at
0.25%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["MovingCrop", "corners"]


@dataclass(frozen=True)
class MovingCrop:
    """A ``size`` window moving over a ``frame`` (both in the frame's pixels, where the graph cuts it)."""

    size: tuple[int, int]
    """(width, height) of the window: even, and the same on every frame."""
    frame: tuple[int, int]
    """(width, height) of the picture the window moves in."""
    times: tuple[float, ...] = field(repr=False)
    """Seconds from the clip's start (the analysis's times), increasing."""
    left: tuple[float, ...] = field(repr=False)
    """The window's left edge at each time, in pixels (fractions allowed: rounded per frame)."""
    top: tuple[float, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not (len(self.times) == len(self.left) == len(self.top)) or not self.times:
            raise ValueError("a moving crop needs one position per time, and at least one")
        if self.size[0] > self.frame[0] or self.size[1] > self.frame[1] or min(self.size) < 2:
            raise ValueError(f"a {self.size} window cannot move inside a {self.frame} frame")

    @property
    def slack(self) -> tuple[int, int]:
        """How far the window can move, right and down, from the frame's top-left corner."""
        return self.frame[0] - self.size[0], self.frame[1] - self.size[1]

    def position(self, t: float) -> tuple[int, int]:
        """The window's top-left corner at ``t``: read linearly between the two nearest times (held
        before the first and after the last), on even pixels (4:2:0 chroma moves in steps of two), and
        inside the frame."""
        x, y = self.positions([t])
        return int(x[0]), int(y[0])

    def positions(self, times: Any) -> tuple[Any, Any]:
        """:meth:`position` at many times at once: two integer arrays (left, top)."""
        import numpy as np

        return corners(np.asarray(self.times), np.asarray(self.left), np.asarray(self.top), self.slack, times)


def corners(times: Any, left: Any, top: Any, slack: tuple[int, int], at: Any) -> tuple[Any, Any]:
    """The window's corners at the times ``at``: read linearly between ``times``, on even pixels, inside the
    frame (``slack``: how far it can move right and down)."""
    import numpy as np

    def even_within(values: Any, most: int) -> Any:
        return np.clip(2 * np.round(np.asarray(values) / 2), 0, most - most % 2).astype(np.int64)

    return even_within(np.interp(at, times, left), slack[0]), even_within(np.interp(at, times, top), slack[1])
