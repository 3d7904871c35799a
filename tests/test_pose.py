"""Pose gates on real photographs of people (scikit-image) and clips made from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from people import astronaut, camera, coffee, darkened, face_crop, pasted, side_by_side
from PIL import Image

from preflight.analyze.base import FrameSample
from preflight.analyze.pose import (
    PoseAnalyzer,
    analyze_image_pose,
    clip_metrics,
    estimate_pose,
    facing_of,
    load_upright_rgb,
    observe,
)
from preflight.models import Severity


def codes(result) -> dict[str, Severity]:
    return {f.code: f.severity for f in result.findings}


# --- pure functions (no model) --------------------------------------------------------------------


def _points(**where: tuple[float, float, float]) -> np.ndarray:
    """33 landmarks, all unseen, except those given as name=(x, y, visibility)."""
    from preflight.analyze import pose

    points = np.zeros((33, 3), np.float32)
    for name, value in where.items():
        points[getattr(pose, name.upper())] = value
    return points


def pose_index(name: str) -> int:
    from preflight.analyze import pose

    return getattr(pose, name.upper())


FRONT = dict(
    nose=(0.5, 0.2, 0.99), l_eye=(0.52, 0.18, 0.99), r_eye=(0.48, 0.18, 0.99),
    l_shoulder=(0.65, 0.4, 0.99), r_shoulder=(0.35, 0.4, 0.99),
    l_hip=(0.6, 0.8, 0.9), r_hip=(0.4, 0.8, 0.9),
)  # fmt: skip


def test_front_facing_person_with_hips_shows_torso():
    obs = observe([_points(**FRONT)], faces=[], width=1000, height=1000)
    assert (obs.people, obs.head_visible, obs.shoulders_visible, obs.torso_visible) == (1, 1, 1, 1)
    assert obs.facing == "front"
    x0, y0, x1, y1 = obs.bbox
    assert x0 == pytest.approx(0.35) and x1 == pytest.approx(0.65) and y1 == pytest.approx(0.8)
    assert y0 < 0.18  # room above the eyes for the skull
    assert obs.subject_size == pytest.approx((x1 - x0) * (y1 - y0), abs=1e-3)


def test_observation_carries_the_largest_persons_landmarks_rounded():
    small = _points(**{k: (x / 2 + 0.6, y / 2, v) for k, (x, y, v) in FRONT.items()})
    big = _points(**FRONT)
    big[pose_index("l_shoulder")] = (0.6543219, 0.4012345, 0.98765)
    obs = observe([small, big], [], 1000, 1000)
    assert len(obs.landmarks) == 33 and all(len(p) == 3 for p in obs.landmarks)
    assert obs.landmarks[pose_index("l_shoulder")] == (0.654, 0.401, 0.988)  # the larger person's
    assert np.allclose(obs.landmarks, big, atol=5e-4)
    assert observe([], [], 1000, 1000).landmarks is None


def test_confident_shoulders_outside_the_frame_are_not_visible():
    # The trap seen on a face-only crop: shoulders below the frame with visibility 0.99.
    face_only = dict(FRONT, l_shoulder=(0.9, 1.3, 0.99), r_shoulder=(0.1, 1.25, 0.99))
    face_only.pop("l_hip"), face_only.pop("r_hip")
    obs = observe([_points(**face_only)], faces=None, width=800, height=800)
    assert obs.head_visible and not obs.shoulders_visible and not obs.torso_visible
    assert obs.bbox[3] == 1.0  # clipped to the frame
    assert obs.faces is None


def test_torso_without_hips_needs_a_chest_below_the_shoulders():
    no_hips = {k: v for k, v in FRONT.items() if "hip" not in k}
    chest = observe([_points(**no_hips)], [], 1000, 1000)
    assert chest.torso_visible  # shoulders at 0.4: 0.6 of frame below, shoulder width 0.3
    low = dict(no_hips, l_shoulder=(0.65, 0.95, 0.99), r_shoulder=(0.35, 0.95, 0.99))
    assert not observe([_points(**low)], [], 1000, 1000).torso_visible


def test_facing_from_shoulders_and_nose():
    assert facing_of(_points(**FRONT)) == "front"
    back = dict(FRONT, l_shoulder=(0.35, 0.4, 0.99), r_shoulder=(0.65, 0.4, 0.99))
    assert facing_of(_points(**back)) == "back"
    profile = dict(FRONT, l_shoulder=(0.52, 0.4, 0.99), r_shoulder=(0.48, 0.4, 0.99))
    assert facing_of(_points(**dict(profile, nose=(0.4, 0.2, 0.99)))) == "left"
    assert facing_of(_points(**dict(profile, nose=(0.6, 0.2, 0.99)))) == "right"
    assert facing_of(_points(nose=(0.5, 0.2, 0.9))) is None


def test_people_are_the_poses_plus_the_faces_no_pose_explains():
    from preflight.analyze.people import FaceBox

    own_face = FaceBox(0.45, 0.1, 0.55, 0.22, 0.9)  # the FRONT person's head
    patch = FaceBox(0.45, 0.5, 0.55, 0.6, 0.55)  # a "face" on their chest (the astronaut's patch)
    beside = FaceBox(0.8, 0.1, 0.9, 0.22, 0.8)  # someone the pose model missed
    twice = FaceBox(0.44, 0.08, 0.54, 0.2, 0.6)  # the same head boxed twice
    one = observe([_points(**FRONT)], [own_face, patch, twice], 100, 100)
    assert (one.people, one.poses, one.faces) == (1, 1, 2)  # the double box is one face
    two = observe([_points(**FRONT)], [own_face, beside], 100, 100)
    assert (two.people, two.faces) == (2, 2)
    nobody = observe([], [own_face, beside, twice], 100, 100)
    assert (nobody.people, nobody.poses, nobody.bbox, nobody.subject_size) == (2, 0, None, 0.0)


def test_clip_people_count_holds_on_a_majority_of_a_window():
    from dataclasses import replace

    from preflight.analyze.pose_findings import people_counts

    one = observe([_points(**FRONT)], [], 100, 100)
    two = replace(one, people=2)

    def clip(counts: dict[int, int], samples: int = 31, recount_every: int = 3):
        # recount on every third sample, as PoseAnalyzer does
        return [
            replace(two if i in counts else one, people=counts.get(i, 1), recounted=i % recount_every == 0)
            for i in range(samples)
        ]

    # The reported noise: 2 people on 3 scattered samples of a one-person clip.
    assert set(people_counts(clip({4: 2, 13: 2, 22: 2}))) == {1}
    # One recount's phantom spreads to the two samples after it: still no majority.
    assert set(people_counts(clip({15: 2}))) == {1}
    # A second person only the recount sees (two camera men in profile) counts all along.
    assert set(people_counts(clip({i: 2 for i in range(0, 31, 3)}))) == {2}
    # A passer-by for 3 s (9 samples) is there in the middle of it, not before or after.
    counts = people_counts(clip({i: 2 for i in range(10, 19)}, recount_every=1))
    assert counts[14] == 2 and counts[0] == counts[30] == 1
    assert people_counts([]) == [] and people_counts([two]) == [2]


def test_clip_metrics_summarise_the_track():
    person = observe([_points(**FRONT)], [], 100, 100)
    nobody = observe([], [], 100, 100)
    m = clip_metrics([(0.0, person), (0.33, person), (0.66, nobody), (1.0, person)])
    assert m["samples"] == 4 and m["person_share"] == 0.75 and m["torso_share"] == 1.0
    assert m["torso_share_all"] == 0.75 and m["max_people"] == 1 and m["facing"] == "front"
    assert m["track"][2] == [0.66, 0, -1, -1, -1, -1]
    assert m["track"][0][:2] == [0.0, 1] and m["track"][0][2:] == list(person.bbox)


# --- images through the model ---------------------------------------------------------------------


@pytest.mark.model
def test_astronaut_is_one_person_with_torso_and_passes():
    result = analyze_image_pose(astronaut())
    m = result.metrics
    assert (m["people"], m["person"], m["head_visible"], m["torso_visible"]) == (1, True, True, True)
    assert m["facing"] == "front"
    assert 0.2 < m["subject_size"] < 0.8
    assert result.findings == ()


@pytest.mark.model
def test_camera_man_passes():
    m = analyze_image_pose(camera()).metrics
    assert m["people"] == 1 and m["torso_visible"]


@pytest.mark.model
def test_face_only_crop_has_no_torso():
    result = analyze_image_pose(face_crop())
    assert result.metrics["head_visible"] and not result.metrics["torso_visible"]
    assert codes(result) == {"pose.torso_not_visible": Severity.ERROR}


@pytest.mark.model
def test_coffee_has_no_person():
    result = analyze_image_pose(coffee())
    assert codes(result) == {"pose.no_person": Severity.ERROR}
    assert result.metrics["bbox"] is None


@pytest.mark.model
@pytest.mark.parametrize(
    "image, people",
    [
        (lambda: side_by_side(astronaut(), astronaut()), 2),
        (lambda: side_by_side(astronaut(), camera()), 2),
        (lambda: side_by_side(camera(), camera()), 2),  # no face found: the masked second look
        (lambda: side_by_side(astronaut(), astronaut(), astronaut()), 3),
        # BlazeFace boxed the mirrored middle one twice (4 faces): one person per pose
        (lambda: side_by_side(astronaut(), astronaut()[:, ::-1], astronaut()), 3),
    ],
)
def test_people_side_by_side_are_counted(image, people):
    result = analyze_image_pose(image())
    assert result.metrics["people"] == people
    assert codes(result) == {"pose.multiple_people": Severity.WARNING}


@pytest.mark.model
def test_tiny_person_on_a_big_canvas_is_too_small():
    result = analyze_image_pose(pasted(astronaut(), height_share=0.12))
    assert result.metrics["person"] and result.metrics["subject_size"] < 0.01
    assert codes(result) == {"pose.subject_too_small": Severity.WARNING}
    finding = result.findings[0]
    assert finding.limit == 0.05 and finding.measured == result.metrics["subject_size"]


@pytest.mark.model
def test_helmet_in_the_lap_is_not_a_second_person(monkeypatch):
    """A frame of the 1080p zoom clip where the masked recount took the helmet for a person."""
    import cv2

    from preflight.analyze import pose, pose_looks

    canvas = np.full((1080, 1920, 3), 100, np.uint8)
    canvas[:, 420:1500] = cv2.resize(astronaut(), (1080, 1080))
    frame = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((960, 540), 0, 1.134), (1920, 1080))
    small = pose._working(frame)
    estimator = pose.PoseEstimator.shared("image")
    (first,) = estimator.landmarks(small)

    with monkeypatch.context() as m:  # without the uprightness test: the helmet is a "person"
        m.setattr(pose_looks, "NOSE_ABOVE_SHOULDERS_BESIDE", -10.0)
        (helmet,) = pose_looks.others(estimator, small, first)
    assert helmet[pose.NOSE, 1] > helmet[[pose.L_SHOULDER, pose.R_SHOULDER], 1].mean()  # nose below
    assert pose_looks.others(estimator, small, first) == []
    obs = estimate_pose(frame, recount=True)
    assert (obs.people, obs.poses, obs.recounted) == (1, 1, True)


@pytest.mark.model
def test_dark_photo_still_finds_the_person():
    assert analyze_image_pose(darkened(astronaut())).metrics["torso_visible"]


@pytest.mark.model
def test_profile_gates_override_thresholds_and_severities():
    strict_size = analyze_image_pose(astronaut(), {"pose_min_subject_size": 0.9})
    assert "pose.subject_too_small" in codes(strict_size)
    softer = analyze_image_pose(coffee(), {"severity": {"pose.no_person": "warning"}})
    assert codes(softer) == {"pose.no_person": Severity.WARNING}


@pytest.mark.model
def test_exif_rotated_file_is_read_upright(tmp_path):
    upright = astronaut()
    # Stored turned a quarter (as a phone held sideways writes it), EXIF orientation 6 says
    # "rotate 90 degrees clockwise to display": the displayed image is the upright astronaut.
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)

    pixels = load_upright_rgb(str(path))
    assert pixels.shape == upright.shape
    raw = analyze_image_pose(np.asarray(stored)).metrics  # what a caller skipping EXIF would see
    fixed = analyze_image_pose(pixels).metrics
    reference = analyze_image_pose(upright).metrics
    assert fixed["bbox"] == pytest.approx(reference["bbox"], abs=0.03)
    assert raw["bbox"] != pytest.approx(reference["bbox"], abs=0.03)


# --- clips ---------------------------------------------------------------------------------------


def _zoom_clip(path, image: np.ndarray, seconds: float = 2.0):
    import cv2

    from preflight.samples import make_clip

    size = 480

    def frame(index: int, width: int, height: int) -> np.ndarray:
        zoom = 1.0 + 0.002 * index  # a slow zoom: steady, the person always in view
        h, w = image.shape[:2]
        ch, cw = int(h / zoom), int(w / zoom)
        y, x = (h - ch) // 2, (w - cw) // 2
        return cv2.resize(np.ascontiguousarray(image[y : y + ch, x : x + cw]), (width, height))

    return make_clip(path, duration=seconds, width=size, height=size, fps=25, frames=frame)


@pytest.mark.model
def test_clip_of_astronaut_passes_and_gives_a_track(tmp_path):
    from preflight.analyze.frames import run_analyzers

    (result,) = run_analyzers(str(_zoom_clip(tmp_path / "a.mp4", astronaut())), [PoseAnalyzer()])
    m = result.metrics
    assert 5 <= m["samples"] <= 8  # about 3 a second over 2 s
    assert m["person_share"] == 1.0 and m["torso_share"] == 1.0 and m["max_people"] == 1
    assert m["facing"] == "front" and 0.2 < m["median_subject_size"] < 0.8
    times = [row[0] for row in m["track"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(row[1] == 1 and 0 <= row[2] < row[4] <= 1 for row in m["track"])
    assert result.findings == ()


@pytest.mark.model
def test_clip_without_person_fails(tmp_path):
    from preflight.analyze.frames import run_analyzers

    (result,) = run_analyzers(str(_zoom_clip(tmp_path / "c.mp4", coffee())), [PoseAnalyzer()])
    assert result.metrics["person_share"] == 0.0
    assert codes(result) == {"pose.no_person": Severity.ERROR}


def _torso_then_face_clip(path) -> Path:
    """3 s: the astronaut with her torso for the first 1.2 s, then her face alone (no torso): 4 of
    the 9 pose samples show the torso (measured)."""
    import cv2

    from preflight.samples import make_clip

    full, face = astronaut(), face_crop()
    return make_clip(
        path, duration=3.0, width=480, height=480, fps=25,
        frames=lambda index, w, h: cv2.resize(full if index < 30 else face, (w, h)),
    )  # fmt: skip


@pytest.mark.model
def test_clip_with_the_torso_in_too_few_frames_fails_the_clip_gate(tmp_path):
    """The clip-level torso gate (the image gate is tested above): its share, threshold and override."""
    from preflight.analyze.frames import run_analyzers

    clip = _torso_then_face_clip(tmp_path / "face.mp4")
    (result,) = run_analyzers(str(clip), [PoseAnalyzer()])
    m = result.metrics
    assert m["person_share"] == 1.0 and 0.3 < m["torso_share"] < 0.5
    assert [row[1] for row in m["track"]][:3] == [1, 1, 1] and m["track"][-1][1] == 0
    (finding,) = result.findings
    assert (finding.code, finding.severity) == ("pose.torso_not_visible", Severity.ERROR)
    assert (finding.measured, finding.limit) == (m["torso_share"], 0.5)
    (softer,) = run_analyzers(str(clip), [PoseAnalyzer({"pose_min_torso_share": 0.3})])
    assert softer.metrics["torso_share"] == m["torso_share"] and softer.findings == ()


@pytest.mark.model
def test_check_fails_a_clip_without_the_torso(tmp_path):
    """End to end, as a pipeline runs it: the CLI's exit code and JSON carry the clip-level gate."""
    import json
    import subprocess
    import sys

    clip = _torso_then_face_clip(tmp_path / "face.mp4")
    run = subprocess.run([sys.executable, "-m", "preflight", "check", str(clip), "--json"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 1, run.stderr
    (item,) = json.loads(run.stdout)["items"]
    assert item["verdict"] == "fail"
    torso = [f for f in item["findings"] if f["code"] == "pose.torso_not_visible"]
    assert len(torso) == 1 and torso[0]["severity"] == "error" and torso[0]["measured"] < 0.5


@pytest.mark.model
def test_video_mode_accepts_repeated_times():
    analyzer = PoseAnalyzer()
    image = astronaut()
    for index, time in enumerate([0.0, 0.0, 0.0004, 0.5]):  # ms would repeat: made increasing
        analyzer.process(FrameSample(index, time, image[..., 0], image, 512, 512))
    assert analyzer.finish().metrics["person_share"] == 1.0


@pytest.mark.model
def test_contact_sheet_of_a_person_clip_draws_the_skeleton(tmp_path):
    from preflight.analyze import analyze_clip
    from preflight.analyze.contact import LEFT_COLOUR, RIGHT_COLOUR

    clip = _zoom_clip(tmp_path / "a.mp4", astronaut())
    sheet = tmp_path / "sheet.png"
    analysis, _ = analyze_clip(clip, None, None, contact_sheet=sheet)
    assert analysis["pose"]["person_share"] == 1.0
    pixels = np.asarray(Image.open(sheet).convert("RGB")).reshape(-1, 3)
    colours = {tuple(int(c) for c in p) for p in np.unique(pixels, axis=0)}
    assert LEFT_COLOUR in colours and RIGHT_COLOUR in colours  # both sides of the skeleton
    # The astronaut faces the camera: her left side (cyan) is drawn on the image's right half.
    image = np.asarray(Image.open(sheet).convert("RGB"))
    tile = image[28 : 28 + 320, 4 : 4 + 320]  # first tile (header 24, pad 4), 480x480 -> 320x320
    cyan = np.argwhere((tile == LEFT_COLOUR).all(axis=-1))
    magenta = np.argwhere((tile == RIGHT_COLOUR).all(axis=-1))
    assert cyan[:, 1].mean() > magenta[:, 1].mean()


@pytest.mark.model
def test_no_native_noise_on_stderr_in_a_fresh_process() -> None:
    import subprocess
    import sys

    code = (
        "from preflight.samples import sample_photo\n"
        "from preflight.analyze.pose import estimate_pose\n"
        "print(estimate_pose(sample_photo()).people)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "1"
    assert run.stderr == ""
