"""Pair checks: facing and framing of the image against the clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preflight import check, load_profile
from preflight.analyze.pair import pair_check, pair_findings
from preflight.models import Item, Severity
from preflight.samples import make_clip, make_image, photo_frames, sample_photo


def image_item(facing: str | None, box: tuple[float, float, float, float] = (0.2, 0.1, 0.8, 1.0)) -> Item:
    pose = {"person": True, "facing": facing, "bbox": list(box)}
    return Item("me.jpg", "image", "pass", (), analysis={"pose": pose})


def clip_item(facing: str | None, heights: tuple[float, ...] = (0.85, 0.9, 0.88)) -> Item:
    track = [[i * 0.3, 1, 0.3, 0.1, 0.7, 0.1 + h] for i, h in enumerate(heights)]
    pose = {"person_share": 1.0, "facing": facing, "track": track}
    return Item("dance.mp4", "video", "pass", (), analysis={"pose": pose})


def test_same_facing_and_framing_is_silent() -> None:
    assert pair_findings(image_item("front"), clip_item("front"), "video") == []


def test_facing_mismatch_advice_depends_on_orientation() -> None:
    (advice,) = pair_findings(image_item("left"), clip_item("right"), "video")
    assert (advice.code, advice.severity) == ("orientation.mismatch", Severity.INFO)
    (warning,) = pair_findings(image_item("left"), clip_item("right"), "image")
    assert (warning.code, warning.severity) == ("orientation.mismatch", Severity.WARNING)
    assert "mirrored" in warning.message and warning.extra["recommend"] == "video"


def test_framing_mismatch() -> None:
    (f,) = pair_findings(image_item("front", (0.2, 0.05, 0.8, 1.0)), clip_item("front", (0.4, 0.42, 0.38)), "video")
    assert f.code == "framing.mismatch" and f.severity is Severity.WARNING
    assert f.measured == pytest.approx(0.95 / 0.4, abs=0.01)
    assert "image is framed much closer" in f.message


def test_pairs_only_with_exactly_one_image() -> None:
    profile = load_profile()
    items = [image_item("left"), image_item("left"), clip_item("right")]
    assert pair_check(items, profile, "image") == items
    paired = pair_check([image_item("left"), clip_item("right")], profile, "image")
    assert [f.code for f in paired[1].findings] == ["orientation.mismatch"]
    assert paired[1].verdict == "pass"
    strict = pair_check([image_item("left"), clip_item("right")], profile, "image", strict=True)
    assert strict[1].verdict == "fail"


@pytest.mark.model
def test_real_pair_with_mismatched_framing(tmp_path: Path) -> None:
    photo = sample_photo()
    image = make_image(tmp_path / "me.jpg", pixels=photo)
    canvas = np.full((1280, 720, 3), 90, np.uint8)
    canvas[500:756, 232:488] = photo[::2, ::2]  # the same person, small in a tall frame
    far = make_clip(tmp_path / "far.mp4", duration=3, width=720, height=1280, frames=lambda i, w, h: canvas)
    near = make_clip(tmp_path / "near.mp4", duration=3, width=720, height=960, frames=photo_frames(photo, frames=75))
    report = check([image, far, near])
    by_name = {Path(i.path).name: i for i in report.items}
    assert "framing.mismatch" in {f.code for f in by_name["far.mp4"].findings}
    assert "framing.mismatch" not in {f.code for f in by_name["near.mp4"].findings}
    assert by_name["near.mp4"].verdict == "pass"
