"""The demo: media preflight makes itself, checked and fixed the way a user would.

Four inputs a creator really sends: a good clip of a person, a long phone take shot in portrait
(rotated, too long for the provider), a small WEBP photo, and an upload that was cut off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .samples import make_clip, make_image, photo_frames, sample_photo

__all__ = ["DemoInputs", "make_demo_inputs"]


@dataclass(frozen=True)
class DemoInputs:
    folder: Path
    good_clip: Path
    long_take: Path
    small_photo: Path
    broken_upload: Path

    @property
    def all(self) -> tuple[Path, ...]:
        return (self.good_clip, self.long_take, self.small_photo, self.broken_upload)


def make_demo_inputs(folder: str | os.PathLike[str]) -> DemoInputs:
    """Write the demo's inputs into ``folder`` (kept if already there)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photo = sample_photo()
    good = folder / "dance_good.mp4"
    if not good.exists():
        make_clip(good, duration=5, width=720, height=960, fps=25, audio=True,
                  frames=photo_frames(photo, frames=125, zoom=(1.0, 1.12)))  # fmt: skip
    long_take = folder / "phone_long_take.mov"
    if not long_take.exists():
        # As phones record portrait video: the sensor's landscape frames (person lying on their side)
        # with a 90 degree clockwise display matrix that stands them up; 34 s, too long for 30 s caps.
        upright = photo_frames(photo, frames=850, zoom=(1.0, 1.25))
        make_clip(long_take, duration=34, width=640, height=480, fps=25, audio=True, container="mov", rotation=90,
                  frames=lambda i, w, h: np.ascontiguousarray(np.rot90(upright(i, h, w), k=1)))  # fmt: skip
    small = folder / "portrait_small.webp"
    if not small.exists():
        make_image(small, format="WEBP", pixels=photo[::2, ::2].copy(), quality=90)
    broken = folder / "upload_cut_off.mp4"
    if not broken.exists():
        data = good.read_bytes()
        broken.write_bytes(data[: len(data) // 3])  # moov is at the end: this one never arrived whole
    return DemoInputs(folder, good, long_take, small, broken)
