"""The analysis entry points: one pass over a clip, images loaded upright, pose optional."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from preflight.analyze import analyze_clip, analyze_image, load_image_rgb
from preflight.analyze.contact import SheetFrame, write_contact_sheet
from preflight.errors import ModelError, ProbeError
from preflight.media.probe import probe
from preflight.models import Severity
from preflight.samples import make_bomb_png, make_clip, make_image

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")

CONTENT_ANALYZERS = {"scene_cuts", "camera_shake", "exposure", "blur"}


def zoom(photo: np.ndarray, gain: float = 1.0):
    photo = np.clip(photo.astype(np.float32) * gain, 0, 255).astype(np.uint8)

    def frame(i, w, h):
        ph, pw = photo.shape[:2]
        s = max(w / pw, h / ph) * (1.05 + 0.0015 * i)
        m = np.float32([[s, 0, w / 2 - pw / 2 * s], [0, s, h / 2 - ph / 2 * s]])
        return cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT)

    return frame


@pytest.fixture(scope="module")
def steady_clip(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("clips") / "steady.mp4"
    return str(make_clip(path, duration=4, width=640, height=360, fps=25, frames=zoom(data.astronaut())))


@pytest.mark.model
def test_steady_clip_of_a_person_passes_every_gate(steady_clip):
    analysis, findings = analyze_clip(steady_clip, probe(steady_clip), None)
    blocking = [f for f in findings if f.severity is not Severity.INFO]
    assert blocking == [], [f.message for f in blocking]
    assert {"pose", "decode"} | CONTENT_ANALYZERS <= set(analysis)
    assert analysis["decode"]["frames"] == 100  # one decode fed all five analyzers
    # The zoom's last 2 samples cut the head at the eyes: there the tracker alone still sees her, and
    # a clip starting there would not (issue 20: such sightings no longer count).
    assert analysis["pose"]["person_share"] >= 0.8
    # The pose box reached the others: shake masked the person, blur measured on the person.
    assert analysis["camera_shake"]["masked_frames"] > 75  # the frames up to her last sighting (83)
    assert 0 < analysis["blur"]["frames"] - 1 <= analysis["blur"]["on_subject_box"]  # all but the last (4 of 5)


def test_without_pose_the_rest_still_runs(tmp_path):
    clip = str(make_clip(tmp_path / "dark.mp4", duration=2, width=640, height=360,
                         frames=zoom(data.astronaut(), gain=0.3)))
    analysis, findings = analyze_clip(clip, probe(clip), None, pose=False)
    assert set(analysis) == CONTENT_ANALYZERS | {"decode"}
    assert [f.code for f in findings] == ["quality.too_dark"]


def test_missing_pose_model_is_an_info_finding(steady_clip, monkeypatch):
    import preflight.analyze.posemodel as posemodel

    def unavailable(*args, **kwargs):
        raise ModelError("no pose model here")

    monkeypatch.setattr(posemodel, "ensure_pose_model", unavailable)
    analysis, findings = analyze_clip(steady_clip, probe(steady_clip), None)
    assert "pose" not in analysis and set(analysis) >= CONTENT_ANALYZERS
    (note,) = findings
    assert note.code == "pose.unavailable" and note.severity is Severity.INFO
    assert "no pose model here" in note.message


def test_contact_sheet_comes_from_the_same_pass(steady_clip, tmp_path):
    sheet = tmp_path / "sheet.png"
    analysis, _ = analyze_clip(steady_clip, probe(steady_clip), None, pose=False, contact_sheet=sheet)
    assert analysis["contact_sheet"]["tiles"] == 12
    assert analysis["decode"]["frames"] == 100
    with Image.open(sheet) as image:
        assert image.format == "PNG"
        assert image.width > 4 * 320 and image.height > 3 * 180
    assert not list(tmp_path.glob(".*partial"))


def test_contact_sheet_draws_the_skeleton(tmp_path):
    landmarks = np.zeros((33, 3), np.float32)
    landmarks[:, 2] = 1.0
    landmarks[11], landmarks[12] = (0.3, 0.3, 1.0), (0.7, 0.3, 1.0)  # shoulders
    landmarks[23], landmarks[24] = (0.35, 0.8, 1.0), (0.65, 0.8, 1.0)  # hips
    frame = SheetFrame(1.0, np.zeros((180, 320, 3), np.uint8), (0.2, 0.1, 0.8, 0.9), True, landmarks)
    out = write_contact_sheet("clip.mp4", [frame], tmp_path / "s.png")
    pixels = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)
    colours = {tuple(p) for p in np.unique(pixels, axis=0)}
    assert (0, 220, 0) in colours  # box, torso visible
    assert (0, 200, 255) in colours  # skeleton lines


def test_image_is_loaded_upright(tmp_path):
    upright = data.astronaut()[:, 56:456]  # 512 x 400, portrait
    # EXIF 6: the camera stored the picture turned; viewers rotate it 90 degrees clockwise.
    stored = np.ascontiguousarray(np.rot90(upright, 1))
    path = make_image(tmp_path / "turned.jpg", pixels=stored, exif_orientation=6, quality=95)
    rgb = load_image_rgb(path)
    assert rgb.shape == upright.shape
    assert np.abs(rgb.astype(int) - upright).mean() < 6


def test_image_quality_without_pose(tmp_path):
    dark = (data.coffee() * 0.3).astype(np.uint8)
    path = make_image(tmp_path / "dark.png", pixels=dark, format="PNG")
    analysis, findings = analyze_image(path, probe(path), None, pose=False)
    assert set(analysis) == {"exposure", "blur"}
    assert [f.code for f in findings] == ["quality.too_dark"]


def test_transparent_png_is_analyzed(tmp_path):
    rgba = np.dstack([data.astronaut(), np.full((512, 512), 255, np.uint8)])
    rgba[:100, :, 3] = 0
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    assert load_image_rgb(path)[:100].min() == 255  # transparent shown over white
    analysis, _ = analyze_image(path, probe(path), None, pose=False)
    assert analysis["exposure"]["clipped_share"] >= 0.19  # the white top fifth counts as blown out


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = make_bomb_png(tmp_path / "bomb.png", side=14000)  # 196 MP in a few hundred kB
    with pytest.raises(ProbeError) as info:
        load_image_rgb(bomb)
    assert info.value.code == "image.too_many_pixels"
    small = make_image(tmp_path / "s.png", width=100, height=100, format="PNG")
    with pytest.raises(ProbeError):
        load_image_rgb(small, max_pixels=5000)


def test_unreadable_image_is_a_probe_error(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    with pytest.raises(ProbeError) as info:
        load_image_rgb(bad)
    assert info.value.code == "decode.error"
