"""The person decision does not depend on where a clip starts (issue 20, part 4).

A clip's VIDEO-mode tracker follows a person from a frame where the detector found them into
frames where it would not: a clip cut to start there, as ``fix --start`` makes it, sees nobody. The
test clip pans down the astronaut until her head has left the top edge (the detector needs the
face; the tracker keeps the body), then holds: the full clip's check used to see her on every
sample of 3-6 s, the same seconds fixed into a clip of their own on none (``pose.no_person``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preflight.analyze.frames import run_analyzers
from preflight.analyze.pose import PoseAnalyzer
from preflight.samples import make_clip, make_hdr_clip, sample_photo

FPS = 10
PAN = (2.0, 3.0)
"""Seconds between which the view pans down the photo; before, the face shows; after, the head is
cut off at the eyes' height and stays so."""
HEADLESS = 160
"""Rows of the 512 px photo above the view at the end of the pan (the eyes are at about 110)."""


def panned(start: float = 0.0):  # type: ignore[no-untyped-def]
    """Frames of the pan, the first one ``start`` seconds into it (a clip cut to begin there)."""
    import cv2

    photo = sample_photo()

    def frame(index: int, width: int, height: int) -> np.ndarray:
        t = start + index / FPS
        share = min(1.0, max(0.0, (t - PAN[0]) / (PAN[1] - PAN[0])))
        eased = share * share * (3 - 2 * share)  # a smooth pan: no jolt for the shake gate
        y = round(HEADLESS * eased)
        view = np.ascontiguousarray(photo[y : y + 288])
        return cv2.resize(view, (width, height), interpolation=cv2.INTER_AREA)

    return frame


def make_pan(path: Path, transfer: str, start: float = 0.0, seconds: float = 6.0) -> Path:
    if transfer == "SDR":
        return make_clip(path, duration=seconds, width=640, height=360, fps=FPS, frames=panned(start), crf=20)
    return make_hdr_clip(path, transfer=transfer, duration=seconds, width=640, height=360, fps=FPS,
                         frames=panned(start))  # fmt: skip


def window_share(track: list[list[float]], start: float, end: float) -> float:
    """Share of the full check's samples in [start, end) that show a person."""
    rows = [row for row in track if start - 1e-6 <= row[0] < end - 1e-6]
    return sum(row[2] >= 0 for row in rows) / max(1, len(rows))


def pose_of(path: Path) -> dict:
    (result,) = run_analyzers(str(path), [PoseAnalyzer()])
    return {**result.metrics, "codes": sorted(f.code for f in result.findings)}


@pytest.mark.model
@pytest.mark.parametrize("transfer", ["SDR", "HLG"])
def test_a_clip_cut_to_start_late_sees_what_the_full_clip_saw_there(tmp_path: Path, transfer: str) -> None:
    full = pose_of(make_pan(tmp_path / "full.mp4", transfer))
    late = pose_of(make_pan(tmp_path / "late.mp4", transfer, start=3.0, seconds=3.0))
    share = window_share(full["track"], 3.0, 6.0)
    assert abs(share - late["person_share"]) <= 0.2, (share, late["person_share"])
    assert ("pose.no_person" in late["codes"]) == (share < 0.5)
    # Before the pan the face shows and both see her on every sample.
    early = pose_of(make_pan(tmp_path / "early.mp4", transfer, seconds=2.0))
    assert window_share(full["track"], 0.0, 2.0) == early["person_share"] == 1.0
