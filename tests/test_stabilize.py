"""``fix --stabilize``: the shake goes, the pan stays, no border shows, no frame is lost.

The media is a hand-held camera filming a person before a wall (``tests/shaky.py``): random per-frame
offsets with a sigma of 1.25% of the long side on each axis (the gate measures about 1.7%) on top of a
steady pan to the right, so the camera path is known exactly. The planner's parts are tested on plain
numbers; the whole runs as a user runs it, in a ``preflight fix --stabilize --json`` process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from shaky import Handheld, handheld

from preflight.analyze.frames import decode_pass
from preflight.analyze.motion import ShakeAnalyzer
from preflight.errors import UsageError
from preflight.fix import FixOptions, fix
from preflight.fix.ops import Crop, Scale, Stabilize
from preflight.fix.plan import plan_fix
from preflight.fix.window import ContentHints, hints_from_analysis
from preflight.framing.moving import MovingCrop
from preflight.framing.stabilize import MAX_CROP_IN, correction_for, shake_rms, smooth
from preflight.models import CameraPath, Finding, Item, MediaInfo, Severity, VideoStream, to_dict
from preflight.profiles import load_profile
from preflight.report import item_to_dict
from preflight.samples import make_clip

FPS = 30
KLING = load_profile("kling-v2.6")
SHAKE = Finding("motion.camera_shake", Severity.WARNING, "the camera shakes", measured=1.7, limit=0.25)


def camera_path(handheld: Handheld) -> CameraPath:
    """The path the gate would measure if it were exact: the picture moves against the view."""
    times = tuple(i / FPS for i in range(handheld.frames))
    x = tuple(float(v) for v in -(handheld.left - handheld.left[0]) / handheld.width)
    y = tuple(float(v) for v in -(handheld.top - handheld.top[0]) / handheld.height)
    return CameraPath(times, x, y, (handheld.width, handheld.height))


def measured_path(path: Path) -> tuple[CameraPath, float]:
    """The shake gate's camera path and jitter of a clip, every frame decoded, no subject mask."""
    (result,), _ = decode_pass(str(path), [ShakeAnalyzer()], every_frame=True)
    return result.metrics["path"], result.metrics["jitter_rms_pct"]


# --- the parts --------------------------------------------------------------------------------------


def test_smoothing_keeps_a_pan_to_the_ends_and_takes_the_shake_away():
    times = np.arange(90) / FPS
    pan = 0.004 * np.arange(90)  # a steady pan, 0.4% of the frame a frame
    assert np.allclose(smooth(times, pan), pan, atol=1e-9)  # right up to both ends (a mean would bend them)
    shake = np.random.default_rng(1).normal(0, 0.01, 90)
    left = smooth(times, pan + shake) - pan
    assert np.sqrt(np.mean(left**2)) < 0.3 * np.sqrt(np.mean(shake**2))  # measured 0.22


def test_the_jitter_of_a_path_is_the_gates(tmp_path: Path):
    shaky = handheld(480, 270, frames=45)
    clip = make_clip(tmp_path / "shaky.mp4", duration=45 / FPS, width=480, height=270, fps=FPS, frames=shaky.draw,
                     crf=18, bframes=2)  # fmt: skip
    path, gate = measured_path(clip)
    assert len(path) == 45 and path.size == (480, 270)
    assert shake_rms(path.times, path.x, path.y, path.size) == pytest.approx(gate, abs=1e-4)
    truth = camera_path(shaky)
    assert np.abs(np.array(path.x) - truth.x).max() * 480 < 4  # the gate's path is the camera's, to a few px


def test_the_window_moves_with_the_shake_and_the_crop_in_hides_the_largest_correction():
    shaky = handheld(1280, 720, frames=90)
    path = camera_path(shaky)
    made = correction_for(path, None, (0, 0, 1280, 720), (1280, 720), min_side=340)
    assert not isinstance(made, Finding | None)
    window = made.window
    jx = (np.array(path.x) - smooth(path.times, path.x)) * 1280
    jy = (np.array(path.y) - smooth(path.times, path.y)) * 720
    need = max(2 * np.abs(jx).max() / 1280, 2 * np.abs(jy).max() / 720)
    assert made.crop_in == pytest.approx(need, abs=4 / 720)  # the smallest crop-in, to whole even pixels
    assert window.size == (1280 - 2 * round(1280 * made.crop_in / 2), 720 - 2 * round(720 * made.crop_in / 2))
    left, top = window.positions(path.times)
    assert (left % 2 == 0).all() and (top % 2 == 0).all()
    assert left.min() >= 0 and left.max() <= window.slack[0] and top.max() <= window.slack[1]
    assert np.abs(left - (window.slack[0] / 2 + jx)).max() <= 1.0 + 1e-6  # follows the shake, to the even pixel
    assert made.jitter_before > 1.5 and made.jitter_after < 0.1  # 1.72 -> 0.05


def test_a_crop_in_under_the_minimum_side_or_past_a_fifth_is_refused():
    path = camera_path(handheld(640, 360, frames=60))
    refused = correction_for(path, None, (0, 0, 640, 360), (640, 360), min_side=340)
    assert isinstance(refused, Finding) and refused.code == "stabilize.crop_too_large"
    assert refused.severity is Severity.WARNING and "under the profile's 340 px minimum side" in refused.message
    assert correction_for(path, None, (0, 0, 640, 360), (640, 360), min_side=200).crop_in > 0.06
    wild = camera_path(handheld(1280, 720, frames=60, jitter_pct=4.0))
    refused = correction_for(wild, None, (0, 0, 1280, 720), (1280, 720), min_side=340)
    assert isinstance(refused, Finding) and refused.measured > MAX_CROP_IN and "20%" in refused.message


def test_a_trim_takes_the_crop_in_from_the_kept_seconds_only():
    calm = handheld(1280, 720, frames=150, jitter_pct=0.3, seed=1)
    rough = handheld(1280, 720, frames=150, jitter_pct=1.5, seed=2)
    mixed = replace(calm, left=np.concatenate([calm.left[:75], rough.left[75:]]),
                    top=np.concatenate([calm.top[:75], rough.top[75:]]))  # fmt: skip
    whole = correction_for(camera_path(mixed), None, (0, 0, 1280, 720), (1280, 720), 340)
    first = correction_for(camera_path(mixed), (0.0, 2.0), (0, 0, 1280, 720), (1280, 720), 340)
    assert first.crop_in < whole.crop_in / 2 and first.jitter_before < whole.jitter_before / 2


def test_a_moving_crop_reads_between_times_on_even_pixels_inside_the_frame():
    crop = MovingCrop((100, 50), (120, 64), (0.0, 1.0, 2.0), (0.0, 9.0, 40.0), (7.0, 7.0, -5.0))
    assert crop.slack == (20, 14)
    assert crop.position(0.5) == (4, 8)  # 4.5 -> 4, 7 -> 8: even
    assert crop.position(2.0) == (20, 0) and crop.position(5.0) == (20, 0)  # held, and kept inside
    with pytest.raises(ValueError):
        MovingCrop((130, 50), (120, 64), (0.0,), (0.0,), (0.0,))


def test_the_camera_path_reaches_fix_but_not_the_json():
    path = CameraPath((0.0, 0.033), (0.0, 0.01), (0.0, -0.02), (1920, 1080))
    analysis = {"camera_shake": {"jitter_rms_pct": 1.7, "path": path}}
    assert hints_from_analysis(analysis).camera is path
    data = item_to_dict(Item("a.mp4", "video", "pass", (), None, analysis))
    assert data["analysis"] == {"camera_shake": {"jitter_rms_pct": 1.7}}
    assert to_dict({"keep": 1, "path": path}) == {"keep": 1}
    assert hints_from_analysis(json.loads(json.dumps(data))["analysis"]).camera is None


# --- the plan ---------------------------------------------------------------------------------------


def _clip_info(w: int = 1280, h: int = 720) -> MediaInfo:
    video = VideoStream("h264", "High", "yuv420p", 8, w, h, w, h, 0, 30.0, 30.0, False, 90, None, 3.0)
    return MediaInfo("in.mp4", "video", "mp4", "mp4", 2_000_000, w, h, 3.0, None, video, ())


def test_the_plan_stabilizes_a_shaky_clip_in_its_one_reencode():
    hints = ContentHints(camera=camera_path(handheld(1280, 720)))
    plan = plan_fix(_clip_info(), [SHAKE], KLING, "video", FixOptions(stabilize=True, aspect="crop"), hints)
    op = plan.find(Stabilize)
    assert plan.encodes and op is not None and plan.findings == ()
    assert re.fullmatch(r"stabilize \(jitter 1\.\d\d% -> ~0\.0\d% expected, crop-in \d+%\)", op.action), op.action
    assert op.window.frame == plan.geometry.crop[2:] == (1280, 720)
    plain = plan_fix(_clip_info(), [SHAKE], KLING, "video", FixOptions(), hints)
    assert plain.actions == ("copy",)  # asked for nothing, nothing is done
    # In the one re-encode, between a crop into the aspect range and the scale to the output size.
    wide = _clip_info(2560, 720)  # 3.6:1: cropped into Novita's 2.5:1 (its clips have an aspect range)
    plan = plan_fix(wide, [SHAKE], load_profile("novita"), "video", FixOptions(stabilize=True, aspect="crop"),
                    ContentHints(camera=camera_path(handheld(2560, 720, jitter_pct=0.5))))  # fmt: skip
    kinds = [type(op) for op in plan.operations]
    assert kinds.index(Crop) < kinds.index(Stabilize) and plan.find(Stabilize).window.frame == plan.geometry.crop[2:]
    assert Scale not in kinds or kinds.index(Stabilize) < kinds.index(Scale)


def test_a_steady_clip_or_one_without_a_path_is_not_stabilized():
    hints = ContentHints(camera=camera_path(handheld(1280, 720, jitter_pct=0.05)))
    steady = plan_fix(_clip_info(), [], KLING, "video", FixOptions(stabilize=True), hints)
    assert steady.actions == ("copy",) and any("found no camera shake (jitter 0.0" in n for n in steady.notes)
    blind = plan_fix(_clip_info(), [SHAKE], KLING, "video", FixOptions(stabilize=True), ContentHints())
    assert blind.actions == ("copy",) and any("no camera path" in n for n in blind.notes)


def test_a_refused_crop_in_is_a_finding_of_the_plan_and_nothing_is_reencoded_for_it():
    hints = ContentHints(camera=camera_path(handheld(640, 360)))
    plan = plan_fix(_clip_info(640, 360), [SHAKE], KLING, "video", FixOptions(stabilize=True), hints)
    assert plan.find(Stabilize) is None and plan.actions == ("copy",)
    assert [f.code for f in plan.findings] == ["stabilize.crop_too_large"]


def test_stabilize_is_true_or_false_and_needs_the_content_check(tmp_path: Path):
    with pytest.raises(UsageError) as caught:
        FixOptions(stabilize="false")  # type: ignore[arg-type]
    assert caught.value.code == "usage.invalid"
    with pytest.raises(UsageError, match="needs the content check"):
        fix([str(tmp_path)], tmp_path / "out", content=False, stabilize=True)
    assert replace(FixOptions(), stabilize=True).stabilize is True


# --- the whole, as a user runs it -------------------------------------------------------------------

WIDTH, HEIGHT, FRAMES = 1280, 720, 90


@pytest.fixture(scope="module")
def stabilized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Handheld, Path, dict, Path]:
    """(the camera, the input, the fix's JSON item, the output) of ``preflight fix --stabilize``."""
    folder = tmp_path_factory.mktemp("stabilize")
    camera = handheld(WIDTH, HEIGHT, FRAMES)
    clip = make_clip(folder / "handheld.mp4", duration=FRAMES / FPS, width=WIDTH, height=HEIGHT, fps=FPS,
                     frames=camera.draw, crf=18, bframes=3)  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "preflight", "fix", str(clip), "-o", str(folder / "out"),
                           "--stabilize", "--json"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (item,) = json.loads(done.stdout)["items"]
    return camera, clip, item, Path(item["output"])


def test_the_shake_is_gone_on_the_recheck(stabilized):
    _, _, item, _ = stabilized
    before = {f["code"]: f for f in item["findings"]}
    assert before["motion.camera_shake"]["measured"] > 1.5  # 1.72
    after = item["after"]
    assert "motion.camera_shake" not in {f["code"] for f in after["findings"]}
    jitter = after["analysis"]["camera_shake"]["jitter_rms_pct"]
    assert jitter < 0.15  # 0.10 (even pixels and the gate's own reading at 720p); the gate objects at 0.25
    (action,) = [a for a in item["actions"] if a.startswith("stabilize")]
    numbers = re.fullmatch(r"stabilize \(jitter (\d\.\d\d)% -> (\d\.\d\d)%, crop-in (\d+)%\)", action)
    assert numbers, action
    assert float(numbers[1]) == pytest.approx(before["motion.camera_shake"]["measured"], abs=0.02)
    assert float(numbers[2]) == pytest.approx(jitter, abs=0.006)  # the re-check's measure, not the plan's guess
    assert 5 <= int(numbers[3]) <= 20
    assert "path" not in after["analysis"]["camera_shake"]


def test_the_pan_is_kept(stabilized):
    camera, clip, item, output = stabilized
    crop_in = int(re.search(r"crop-in (\d+)%", " ".join(item["actions"]))[1]) / 100
    before, _ = measured_path(clip)
    after, jitter = measured_path(output)
    panned_in = smooth(before.times, before.x)[-1] - smooth(before.times, before.x)[0]
    panned_out = smooth(after.times, after.x)[-1] - smooth(after.times, after.x)[0]
    assert panned_in == pytest.approx(-camera.pan, rel=0.1)  # the view went right: the picture left
    # The window is (1 - crop_in) of the frame scaled up to all of it: a move in the output is that much larger.
    assert panned_out * (1 - crop_in) == pytest.approx(panned_in, rel=0.03)
    assert jitter < 0.15


def test_no_border_shows_and_every_frame_is_kept(stabilized):
    """While the window follows the shake (a border could only show then), at the output's own size."""
    import av

    _, _, item, output = stabilized
    assert item["after"]["analysis"]["camera_shake"]["jitter_rms_pct"] < 0.15
    assert item["kept"]["video_frames_written"] == item["kept"]["video_frames"] == FRAMES
    with av.open(str(output)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == FRAMES and frames[0].shape == (HEIGHT, WIDTH)  # the size is kept: scaled back up
    for luma in frames:
        for edge in (luma[0], luma[-1], luma[:, 0], luma[:, -1]):
            # The brick wall and the portrait, not fill: a border a shift leaves (or padding) is one flat
            # value along the whole edge; the picture there has the bricks' texture (std 14-75 measured).
            assert edge.std() > 4 and edge.mean() > 40


def test_a_portrait_phone_clip_is_stabilized_as_it_is_shown(tmp_path: Path):
    """Stored sideways with a 90 degree display matrix: the path is measured, and the window moved, upright."""
    camera = handheld(540, 960, frames=FRAMES, jitter_pct=1.0)

    def stored(index: int, width: int, height: int) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(camera.draw(index, 540, 960)))  # turned back, as a phone stores it

    # B-frames: a rotated clip is re-encoded anyway, so only --stabilize makes the check decode them all.
    clip = make_clip(tmp_path / "portrait.mp4", duration=FRAMES / FPS, width=960, height=540, fps=FPS,
                     frames=stored, rotation=90, crf=20, bframes=3)  # fmt: skip
    (result,) = fix([clip], tmp_path / "out", stabilize=True).results
    assert "bake rotation 90" in result.actions and any(a.startswith("stabilize (jitter 1.") for a in result.actions)
    assert (result.after.media.width, result.after.media.height) == (540, 960)
    assert "motion.camera_shake" not in {f.code for f in result.after.findings}
    assert result.after.analysis["camera_shake"]["jitter_rms_pct"] < 0.15  # 0.11


def test_prepare_stabilizes_the_clip_of_the_pair(stabilized, tmp_path: Path):
    from preflight.samples import make_image, sample_photo

    _, clip, _, _ = stabilized
    photo = make_image(tmp_path / "me.jpg", pixels=sample_photo())
    done = subprocess.run([sys.executable, "-m", "preflight", "prepare", "--image", str(photo), "--video", str(clip),
                           "-o", str(tmp_path / "bundle"), "--stabilize", "--json"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    video = next(i for i in json.loads(done.stdout)["fix"]["items"] if i["path"] == str(clip))
    assert any(a.startswith("stabilize (jitter 1.") for a in video["actions"]), video["actions"]
    assert "motion.camera_shake" not in {f["code"] for f in video["after"]["findings"]}
    assert (tmp_path / "bundle" / "manifest.json").exists()


# --- the other ways in ----------------------------------------------------------------------------


def test_the_cli_and_batch_take_stabilize_and_refuse_it_without_the_content_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from click.testing import CliRunner

    import preflight.cli.batch_cmd as batch_cmd
    from preflight.batch import BatchSettings
    from preflight.cli import cli, main

    clip = make_clip(tmp_path / "a.mp4", duration=3, width=352, height=288)
    assert main(["fix", str(clip), "-o", str(tmp_path / "o"), "--stabilize", "--no-content"]) == 2
    assert main(["batch", str(tmp_path), "--stabilize"]) == 2  # says how to fix: needs -o
    seen: dict = {}

    def fake_run_batch(inputs, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(batch_cmd, "run_batch", fake_run_batch)
    CliRunner().invoke(cli, ["batch", str(tmp_path), "-o", str(tmp_path / "o"), "--stabilize"])
    assert seen["stabilize"] is True
    on = BatchSettings(outdir="o", stabilize=True)
    assert on.fix_options().stabilize is True and on.fingerprint() != BatchSettings(outdir="o").fingerprint()
    with pytest.raises(UsageError, match="needs the content check"):
        BatchSettings(outdir="o", stabilize=True, content=False).validate()
