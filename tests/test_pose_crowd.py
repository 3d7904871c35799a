"""Crowds and small people (issue 20, part 5): a street of pedestrians is ``pose.multiple_people``,
and a person 60 px tall on a 1080p frame is found (the fine tiles).

The streets are the astronaut cut out of her photo and pasted at known heights and places on a
brick wall over gravel (tests/people.py ``street``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from people import street

from preflight.analyze import pose_looks
from preflight.analyze.pose import analyze_image_pose, estimate_pose

LONE = [(60, 300, 300), (60, 900, 800)]
"""Where one person 60 px tall stands (height px, left, top) on a 1920x1080 street. Measured at 8
places (56-64 px): the two larger tile sizes found 2, with the fine tiles 7."""
CROWD = [(170, 150, 700), (140, 500, 420), (110, 820, 640), (90, 1150, 380), (75, 1450, 760), (130, 1700, 520)]
"""Six pedestrians from 75 to 170 px tall: the largest one the ``face`` look finds, the rest only the tiles."""


@pytest.mark.model
@pytest.mark.parametrize("where", LONE)
def test_a_person_60_px_tall_is_found_by_the_fine_tiles(where: tuple[int, int, int]) -> None:
    image = street([where])
    assert not estimate_pose(image, fine=False).person  # the two larger tile sizes miss her
    result = analyze_image_pose(image)
    m = result.metrics
    assert (m["person"], m["people"], m["second_look"]) == (True, 1, "tiles")
    assert [f.code for f in result.findings] == ["pose.subject_too_small"]
    x0, y0, x1, y1 = (v * s for v, s in zip(m["bbox"], (1920, 1080, 1920, 1080), strict=True))
    height, left, top = where
    assert left - 5 <= x0 < x1 <= left + height + 5 and top - 10 <= y0 < y1 <= top + height + 10


@pytest.mark.model
def test_a_street_of_pedestrians_is_multiple_people(monkeypatch: pytest.MonkeyPatch) -> None:
    image = street(CROWD)
    result = analyze_image_pose(image)
    assert result.metrics["people"] >= len(CROWD) - 1  # measured: all 6
    assert "pose.multiple_people" in {f.code for f in result.findings}
    # Without the tiles after a small person was found, the street was the face look's one person
    # and whoever the masked recount saw beside her (measured: 2).
    monkeypatch.setattr(pose_looks, "SMALL_PERSON", 0.0)
    assert analyze_image_pose(image).metrics["people"] <= 2


def walking(index: int, width: int, height: int) -> np.ndarray:
    """:data:`CROWD` walking to the right at 3 px a frame (30 px/s at 10 fps)."""
    return street([(h, x + 3 * index, y) for h, x, y in CROWD[:-1]] + [CROWD[-1]], size=(height, width))


@pytest.mark.model
def test_a_clip_of_a_street_is_multiple_people(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight.analyze.frames import run_analyzers
    from preflight.analyze.pose_findings import PoseAnalyzer
    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "street.mp4", duration=3, width=1920, height=1080, fps=10, frames=walking, crf=23)
    (result,) = run_analyzers(str(clip), [PoseAnalyzer()])
    m = result.metrics
    assert m["person_share"] == 1.0 and m["max_people"] >= 4, m
    assert m["multi_people_share"] >= 0.9
    assert "pose.multiple_people" in {f.code for f in result.findings}
    # Without the crowd's count held between two searches, a street is one person most of the time.
    monkeypatch.setattr(PoseAnalyzer, "_crowd_held", lambda self, obs, index, searched: obs)
    (result,) = run_analyzers(str(clip), [PoseAnalyzer()])
    assert result.metrics["multi_people_share"] < 0.3
