"""fix --reframe and prepare --reframe on clips built from real photos whose geometry the test knows.

Each test measures before and after: the subject's share of the frame, who is left in the output (the
output's own check runs pose again), the window's fixed position (a static crop adds no motion), and the
shot types of photo and clip. Each fails when its mechanism is switched off (no crop, no isolation...).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from people import astronaut, camera, pasted_box, scene

from preflight.fix import fix
from preflight.models import Item
from preflight.prepare import prepare
from preflight.samples import make_clip, make_image, photo_frames

pytestmark = pytest.mark.model

HD = (1080, 1920)


def still_clip(path: Path, frame: np.ndarray, seconds: float = 3.0) -> Path:
    h, w = frame.shape[:2]
    return make_clip(path, duration=seconds, width=w, height=h, fps=25, frames=lambda i, *_: frame, crf=23)


def heights(item: dict | Item) -> float:
    """The subject's median box height as a share of the frame's (the check's track)."""
    analysis = item["analysis"] if isinstance(item, dict) else item.analysis
    rows = [r for r in analysis["pose"]["track"] if r[2] >= 0]
    return statistics.median(r[5] - r[3] for r in rows)


def crop_of(action: str) -> tuple[int, int, int, int]:
    w, h, x, y = map(int, re.match(r"reframe crop (\d+)x(\d+)\+(\d+)\+(\d+)", action).groups())  # type: ignore[union-attr]
    return x, y, w, h


def holds(rect: tuple[int, int, int, int], box: tuple[int, ...]) -> bool:
    x, y, w, h = rect
    return x <= box[0] and box[2] <= x + w and y <= box[1] and box[3] <= y + h


ASTRONAUT_BODY = (0.13, 0.08, 0.66, 1.0)
"""Where the astronaut is in her photo (the pose box of the photo, 0.14-0.63 wide, with her hands): the
rest of it is the flag, the rocket and the sky."""


def body(photo_box: tuple[int, ...]) -> tuple[int, ...]:
    """The astronaut's own pixels in a pasted photo of her (see :data:`ASTRONAUT_BODY`)."""
    x0, y0, x1, y1 = photo_box
    w, h = x1 - x0, y1 - y0
    b = ASTRONAUT_BODY
    return round(x0 + b[0] * w), round(y0 + b[1] * h), round(x0 + b[2] * w), round(y0 + b[3] * h)


def misses(rect: tuple[int, int, int, int], box: tuple[int, ...]) -> bool:
    x, _, w, _ = rect
    return x + w <= box[0] or box[2] <= x


def test_a_person_small_in_a_1080p_frame_is_enlarged(tmp_path: Path) -> None:
    """The command as a creator runs it: the astronaut at 26% of a 1080p frame's height."""
    where = (0.40, 0.45)
    clip = still_clip(tmp_path / "small.mp4", scene([(astronaut(), 0.26, where)]))
    out = tmp_path / "ready"
    proc = subprocess.run([sys.executable, "-m", "preflight", "fix", str(clip), "-o", str(out), "--reframe", "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    item = json.loads(proc.stdout)["items"][0]
    small = next(f for f in item["findings"] if f["code"] == "pose.subject_too_small")
    assert "fixable with --reframe" in small["message"]
    reframed = next(a for a in item["actions"] if a.startswith("reframe crop"))
    rect = crop_of(reframed)
    after = item["after"]
    # The subject's share: about a fifth of the height before, half after; the area past the pose gate.
    assert heights(item) < 0.25 and heights(after) == pytest.approx(0.5, abs=0.08)
    assert item["analysis"]["pose"]["median_subject_size"] < 0.05 <= after["analysis"]["pose"]["median_subject_size"]
    assert "pose.subject_too_small" not in {f["code"] for f in after["findings"]}
    # The crop keeps the whole photo of her (hands, helmet) and its own pixels: no scaling.
    assert holds(rect, pasted_box(astronaut(), 0.26, where))
    assert (after["media"]["width"], after["media"]["height"]) == rect[2:]
    assert item["kept"]["video_frames_written"] == item["kept"]["video_frames"] == 75


def test_the_other_person_is_cut_out_and_person_chooses_who(tmp_path: Path) -> None:
    subject, other = (astronaut(), 0.45, (0.30, 0.10)), (np.ascontiguousarray(astronaut()[:, ::-1]), 0.36, (0.38, 0.72))
    clip = still_clip(tmp_path / "two.mp4", scene([subject, other]))
    left, right = pasted_box(*subject), pasted_box(*other)
    report = fix([clip], tmp_path / "ready", reframe="fixed")
    (result,) = report.results
    assert result.before.analysis["pose"]["max_people"] == 2
    assert "pose.multiple_people" in {f.code for f in result.before.findings}
    rect = crop_of(next(a for a in result.actions if a.startswith("reframe crop")))
    assert holds(rect, left) and misses(rect, right) and "1 other person cut out" in " ".join(result.actions)
    # The output's own check looks for people again: one.
    assert result.after.analysis["pose"]["max_people"] == 1
    assert "pose.multiple_people" not in {f.code for f in result.after.findings}
    assert heights(result.after) > heights(result.before)
    # The HTML report shows the frames before and after, with the skeleton.
    from preflight.batch.preview import reframe_preview_for
    from preflight.html_report import render_html

    frames = reframe_preview_for(result)
    assert frames is not None and frames.startswith("data:image/jpeg;base64,")
    page = render_html(report.before_report(), fixes={result.path: {"output": result.output, "actions": result.actions,
                                                                    "after": result.after, "reframe_preview": frames}})
    assert f'alt="before and after the reframe crop of {result.output}" src="{frames}"' in page
    # --person right: the other one.
    chosen = fix([clip], tmp_path / "right", reframe="fixed", person="right").results[0]
    rect = crop_of(next(a for a in chosen.actions if a.startswith("reframe crop")))
    assert holds(rect, right) and misses(rect, left) and "the person on the right" in " ".join(chosen.actions)


def test_a_walker_gets_one_still_window(tmp_path: Path) -> None:
    """She crosses 30% of the frame; the window holds her whole path and does not move (no virtual camera)."""
    photo, share = astronaut(), 0.35
    backdrop = scene([])

    def walking(index: int, *_: int) -> np.ndarray:
        return scene([(photo, share, (0.35, 0.15 + 0.30 * index / 74))], base=backdrop)

    clip = make_clip(tmp_path / "walk.mp4", duration=3, width=1920, height=1080, fps=25, frames=walking, crf=23)
    (result,) = fix([clip], tmp_path / "ready", reframe="fixed").results
    rect = crop_of(next(a for a in result.actions if a.startswith("reframe crop")))
    assert rect[2] < 1920 * 0.9
    first, last = body(pasted_box(photo, share, (0.35, 0.15))), body(pasted_box(photo, share, (0.35, 0.45)))
    assert holds(rect, first) and holds(rect, last)
    # Her box never touches the window's sides (hands kept) ...
    rows = [r for r in result.after.analysis["pose"]["track"] if r[2] >= 0]
    assert len(rows) >= 8 and min(r[2] for r in rows) > 0.005 and max(r[4] for r in rows) < 0.995
    # ... and the camera moves no more after than before: the crop adds no motion of its own. The gate
    # measures in shares of the frame, so the window's figures are scaled back to the source's pixels (the
    # photo's backdrop around her, outside her box, moves with her and reads as a little motion in both).
    before, after = result.before.analysis["camera_shake"], result.after.analysis["camera_shake"]
    zoom = rect[2] / 1920
    for measure in ("jitter_rms_pct", "mean_speed_pct"):
        assert after[measure] * zoom <= before[measure] * 1.15 + 0.01, measure
    assert "motion.camera_shake" not in {f.code for f in result.after.findings}


def test_prepare_crops_the_clip_to_the_photos_shot_type(tmp_path: Path) -> None:
    """A close-up photo (the astronaut to her chest) and a half-body clip (the camera man to his knees)."""
    photo = make_image(tmp_path / "me.jpg", pixels=astronaut())
    clip = make_clip(tmp_path / "cam.mp4", duration=3, width=720, height=720, fps=25, crf=23,
                     frames=photo_frames(camera(), frames=75, zoom=(1.0, 1.05)))  # fmt: skip
    plain = prepare(photo, clip, tmp_path / "plain")
    (mismatch,) = [f for f in plain.pair if f.code == "framing.mismatch"]
    assert mismatch.measured == "close-up/half-body" and "fixable with --reframe" in mismatch.message
    import preflight.fix
    import preflight.fix.runner

    checks: list[str] = []
    real = preflight.fix.runner.check_input

    def counted(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        checks.append(Path(path).name)
        return real(path, *args, **kwargs)

    # Counted wherever it is called from: prepare (through the package) and fix itself (the runner).
    preflight.fix.check_input = preflight.fix.runner.check_input = counted  # type: ignore[assignment]
    try:
        framed = prepare(photo, clip, tmp_path / "framed", reframe="fixed")
    finally:
        preflight.fix.check_input = preflight.fix.runner.check_input = real  # type: ignore[assignment]
    assert sorted(checks) == ["cam.mp4", "me.jpg"]  # each checked once: fix reuses prepare's checks
    assert framed.ok and framed.image.actions == ("copy",)
    action = next(a for a in framed.video.actions if a.startswith("reframe crop"))
    assert "half-body -> close-up like the photo" in action
    assert framed.video.before.analysis["pose"]["shot"] == "half-body"
    assert framed.video.after.analysis["pose"]["shot"] == "close-up"
    assert not [f for f in framed.pair if f.code == "framing.mismatch"]
    # His hips (at 65% of the frame) are below the window, his head inside it.
    _, y, _, h = crop_of(action)
    assert (y + h) / 720 < 0.62 and y / 720 < 0.15


def test_prepare_crops_the_photo_when_the_clip_is_tighter(tmp_path: Path) -> None:
    photo = make_image(tmp_path / "cameraman.jpg", pixels=camera())
    clip = make_clip(tmp_path / "astro.mp4", duration=3, width=720, height=720, fps=25, crf=23,
                     frames=photo_frames(astronaut(), frames=75, zoom=(1.0, 1.05)))  # fmt: skip
    framed = prepare(photo, clip, tmp_path / "framed", reframe="fixed")
    assert framed.ok
    action = next(a for a in framed.image.actions if a.startswith("reframe crop"))
    assert "half-body -> close-up like the clip" in action
    assert framed.image.before.analysis["pose"]["shot"] == "half-body"
    assert framed.image.after.analysis["pose"]["shot"] == "close-up"
    assert not any(a.startswith("reframe") for a in framed.video.actions)
