"""Second looks: tiles find a small person the whole frame misses, and nothing where nobody is."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from people import astronaut, pasted

from preflight.analyze import pose, pose_looks
from preflight.analyze.pose import analyze_image_pose, estimate_pose
from preflight.analyze.pose_looks import distinct, square_tiles, tile_sides, upright
from preflight.models import Severity


def _person(x: float, y: float, scale: float = 0.1, nose_up: float = 0.6) -> np.ndarray:
    """An upright stick person: shoulders ``scale`` wide at (x, y), hips 1.3 widths lower."""
    points = np.zeros((33, 3), np.float32)
    half = scale / 2
    for index, where in {
        pose.NOSE: (x, y - nose_up * scale),
        pose.L_EYE: (x + 0.2 * half, y - (nose_up + 0.1) * scale),
        pose.R_EYE: (x - 0.2 * half, y - (nose_up + 0.1) * scale),
        pose.L_SHOULDER: (x + half, y),
        pose.R_SHOULDER: (x - half, y),
        pose.L_HIP: (x + 0.8 * half, y + 1.3 * scale),
        pose.R_HIP: (x - 0.8 * half, y + 1.3 * scale),
    }.items():
        points[index] = (*where, 0.99)
    return points


# --- pure -----------------------------------------------------------------------------------------


def test_tiles_are_square_cover_the_frame_and_overlap_by_half():
    assert tile_sides(1920, 1080) == [1080, 540]
    assert tile_sides(512, 512) == [256]  # a square frame: no tile as big as the frame again
    assert tile_sides(230, 200) == []  # nearly square, and halves under 160 px: no tiles
    for side in (1080, 540):
        tiles = square_tiles(1920, 1080, side)
        widths = {round((t[2] - t[0]) * 1920) for t in tiles}
        heights = {round((t[3] - t[1]) * 1080) for t in tiles}
        assert widths == heights == {side}
        assert min(t[0] for t in tiles) == 0 and max(t[2] for t in tiles) == pytest.approx(1.0)
        assert min(t[1] for t in tiles) == 0 and max(t[3] for t in tiles) == pytest.approx(1.0)
        xs = sorted({t[0] for t in tiles})
        assert all((b - a) * 1920 <= side / 2 + 1 for a, b in itertools.pairwise(xs))
    assert len(square_tiles(1920, 1080, 1080)) == 3 and len(square_tiles(1920, 1080, 540)) == 21


def test_upright_needs_the_nose_above_the_shoulders_and_hips_below():
    assert upright(_person(0.5, 0.4), aspect=1.0)
    assert not upright(_person(0.5, 0.4, nose_up=-0.5), aspect=1.0)  # nose below: the helmet phantom
    no_hips = _person(0.5, 0.4)
    no_hips[[pose.L_HIP, pose.R_HIP], 2] = 0.1
    assert not upright(no_hips, aspect=1.0) and upright(no_hips, aspect=1.0, hips=False)


def test_one_person_found_on_two_tiles_is_one_person():
    whole = _person(0.5, 0.4)
    shifted = whole.copy()
    shifted[:, 0] += 0.004  # the same person seen on an overlapping tile
    other = _person(0.8, 0.4)
    kept = distinct([whole, shifted, other], aspect=16 / 9)
    assert len(kept) == 2


# --- through the model ----------------------------------------------------------------------------

SMALL = [
    # (height share of a 1920x1080 canvas, top-left), each missed by the whole frame and the face look
    pytest.param(math.sqrt(0.02 * 1920 / 1080), (0.1, 0.1), id="2% of the area"),
    pytest.param(math.sqrt(0.05 * 1920 / 1080), (0.6, 0.2), id="5% of the area"),
    pytest.param(0.25, (0.45, 0.45), id="25% of the height"),
]


@pytest.mark.model
@pytest.mark.parametrize("share, at", SMALL)
def test_small_person_is_found_on_tiles_and_is_too_small_not_missing(share, at):
    image = pasted(astronaut(), height_share=share, at=at)
    without_tiles = estimate_pose(image, tiles=False)
    assert not without_tiles.person  # what the tiles fix: this used to be pose.no_person

    result = analyze_image_pose(image)
    m = result.metrics
    assert (m["person"], m["people"], m["second_look"]) == (True, 1, "tiles")
    assert {f.code: f.severity for f in result.findings} == {"pose.subject_too_small": Severity.WARNING}
    # The box is where the astronaut was pasted (its bottom may reach below: the hips are predicted).
    x0, y0, x1, y1 = (v * s for v, s in zip(m["bbox"], (1920, 1080, 1920, 1080), strict=True))
    left, top, side = at[1] * 1920, at[0] * 1080, share * 1080
    assert left - 5 <= x0 < x1 <= left + side + 5
    assert top - 5 <= y0 <= top + side / 2 < y1


@pytest.mark.model
@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "cell"])
def test_tiles_find_nobody_on_people_free_photos(name):
    import cv2
    from skimage import data

    image = np.asarray(getattr(data, name)())
    if image.ndim == 2:
        image = np.dstack([image] * 3)
    image = np.ascontiguousarray(image[..., :3])
    for rgb in (image, cv2.resize(image, (1920, 1080))):
        obs = estimate_pose(rgb)
        assert not obs.person and obs.people == 0


@pytest.mark.model
def test_small_person_clip_is_followed_and_tiles_run_on_few_samples(tmp_path):
    from preflight.analyze.frames import run_analyzers
    from preflight.analyze.pose_findings import TILE_EVERY, PoseAnalyzer
    from preflight.samples import make_clip

    image = astronaut()

    def frame(index: int, width: int, height: int) -> np.ndarray:  # a slow pan, person at 25%
        return pasted(image, canvas=(height, width), height_share=0.25, at=(0.45, 0.3 + 0.002 * index))

    path = make_clip(tmp_path / "small.mp4", duration=2.0, width=1920, height=1080, fps=25, frames=frame)
    analyzer = PoseAnalyzer()
    (result,) = run_analyzers(str(path), [analyzer])
    m = result.metrics
    assert m["person_share"] >= 0.8 and m["max_people"] == 1
    assert {f.code for f in result.findings} == {"pose.subject_too_small"}
    looks = [obs.second_look for _, obs in analyzer.observations]
    tiled = [i for i, look in enumerate(looks) if look == "tiles"]
    assert tiled and all(i % TILE_EVERY == 0 for i in tiled)  # the costly search only on its samples
    assert looks.count("near") >= len(looks) // 2  # in between, one call around the last box



@pytest.mark.model
def test_empty_clip_backs_off_the_tile_search(monkeypatch):
    from people import coffee

    from preflight.analyze.base import FrameSample
    from preflight.analyze.pose_cadence import DEFER_SAMPLES
    from preflight.analyze.pose_findings import TILE_EVERY, PoseAnalyzer

    searched: list[int] = []
    fined: list[bool] = []
    real = pose_looks.look_on_tiles

    def recording(estimator, rgb, fine=False):
        searched.append(len(analyzer.observations) + len(analyzer._held))  # the sample's index
        fined.append(fine)
        return real(estimator, rgb, fine=fine)

    monkeypatch.setattr(pose_looks, "look_on_tiles", recording)
    analyzer = PoseAnalyzer()
    image = coffee()
    for index in range(40):
        analyzer.process(FrameSample(index, index / 3, image[..., 0], image, image.shape[1], image.shape[0]))
    metrics = analyzer.finish().metrics
    assert metrics["person_share"] == 0.0
    assert metrics["observed"] < 20  # an empty stretch is looked at once a second (pose_cadence.empty)
    # Waits of 12 (the first search had the fine tiles: it counts as two), then 24: doubling when fruitless.
    # A search runs on the first sample the model looks at from its turn on (at most DEFER_SAMPLES later).
    assert len(searched) == 3 and searched[0] == 0
    assert 2 * TILE_EVERY <= searched[1] <= 2 * TILE_EVERY + DEFER_SAMPLES
    assert searched[2] - searched[1] >= 4 * TILE_EVERY
    assert fined == [True, False, False]  # the fine tiles: the first search, then 90 samples later


def test_channel_medians_are_numpys_medians_rounded_down() -> None:
    """The masked recount paints the band with each channel's median, read off histograms: the same
    value ``np.median`` gives, for odd and even pixel counts, flat images and narrow ranges."""
    rng = np.random.default_rng(7)
    for _ in range(400):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        low = int(rng.integers(0, 255))
        high = int(rng.integers(low + 1, 257))
        image = rng.integers(low, high, (height, width, 3), dtype=np.uint8)
        if rng.random() < 0.2:
            image[:] = image[0, 0]
        expected = np.median(image.reshape(-1, 3), axis=0).astype(np.uint8)
        assert pose_looks.channel_medians(image).tolist() == expected.tolist()
    two = np.array([[[0, 10, 255], [1, 13, 254]]], np.uint8)  # even count: the mean of the middle two
    assert pose_looks.channel_medians(two).tolist() == [0, 11, 254]
