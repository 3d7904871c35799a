"""A hand-held camera filming a person before a wall: clips whose shake and pan are known exactly.

The scene is one still picture (a brick wall from scikit-image's public-domain textures with the
astronaut's portrait hung on it); each frame is the camera's view of it: a window that pans steadily
to the right and jumps about it by random per-frame offsets. Everything in the picture moves with the
camera, so the picture's motion *is* the camera path the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Handheld:
    """How the camera moves: ``left[i]``, ``top[i]`` are frame i's view's corner in the scene (pixels)."""

    width: int
    height: int
    left: np.ndarray
    top: np.ndarray
    pan: float = 0.0
    """The deliberate move: how far the view goes right over the clip, in widths of the frame (the shake
    comes on top)."""

    @property
    def frames(self) -> int:
        return len(self.left)

    def draw(self, index: int, width: int, height: int) -> np.ndarray:
        """Frame ``index`` as :func:`preflight.samples.make_clip` asks for it."""
        import cv2

        assert (width, height) == (self.width, self.height)
        i = min(index, self.frames - 1)
        view = np.float32([[1, 0, -self.left[i]], [0, 1, -self.top[i]]])
        return cv2.warpAffine(_scene(width, height), view, (width, height), flags=cv2.INTER_LINEAR)


def handheld(
    width: int = 960, height: int = 540, frames: int = 90, jitter_pct: float = 1.25, pan: float = 0.2, seed: int = 3
) -> Handheld:
    """A camera panning ``pan`` of the frame's width to the right over ``frames``, shaking by random
    offsets with a sigma of ``jitter_pct`` % of the long side on each axis (1.25% measures about 1.7%,
    the hand-held clip of issue 20 measured 1.77%)."""
    rng = np.random.default_rng(seed)
    shake = rng.normal(0.0, jitter_pct / 100 * max(width, height), size=(frames, 2))
    steady = np.linspace(0.0, pan * width, frames)
    margin = 0.1 * width  # the view never leaves the scene
    return Handheld(width, height, margin + steady + shake[:, 0], margin / 2 + shake[:, 1], pan)


_SCENES: dict[tuple[int, int], np.ndarray] = {}


def _scene(width: int, height: int) -> np.ndarray:
    """The wall with the portrait, large enough for the view to pan and shake over (made once)."""
    import cv2
    from skimage import data

    key = (width, height)
    if key not in _SCENES:
        w, h = int(width * 1.6), int(height * 1.3)
        brick = np.dstack([data.brick()] * 3)
        wall = np.tile(brick, (h // brick.shape[0] + 1, w // brick.shape[1] + 1, 1))[:h, :w]
        person = data.astronaut()
        side = int(height * 0.8)
        person = cv2.resize(person, (side, side), interpolation=cv2.INTER_AREA)
        x, y = (w - side) // 2, int(height * 0.15)
        wall[y : y + side, x : x + side] = person
        _SCENES[key] = np.ascontiguousarray(wall)
    return _SCENES[key]
