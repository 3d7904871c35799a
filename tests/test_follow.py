"""``fix --reframe follow`` without a model: the window's path from plain pose tracks, the plan, the one
moving crop in the re-encode, the combination with ``--stabilize``, and the door (options, CLI, serve).

The walker here is a pose track of a person crossing 64% of a 1080p frame's width at 240 px a second,
starting and stopping at once, with the pose box's own jitter: what a follow must hold, smoothly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from preflight import load_profile
from preflight.cli import cli
from preflight.errors import UsageError
from preflight.fix.ops import Reframe, Scale, Stabilize, Transcode
from preflight.fix.options import REFRAME_MODES, FixOptions
from preflight.fix.plan import plan_fix
from preflight.fix.window import ContentHints, PoseSample
from preflight.framing import follow
from preflight.framing.moving import MovingCrop
from preflight.framing.reframe import FrameLimits, reframe, with_cures
from preflight.framing.stabilize import shake_of
from preflight.models import CameraPath, Finding, MediaInfo, Severity, VideoStream

FRAME = (1920, 1080)
KLING = FrameLimits(min_side=340)
FPS = 25
SPEED = 0.125
"""The walker's speed, in widths of the frame a second (240 px/s: 9.6 px a frame at 25 fps)."""


def walker(seconds: float = 6.0, noise: float = 0.004, seed: int = 0, speed: float = SPEED) -> list[PoseSample]:
    """Still for half a second, walking at ``speed`` until half a second before the end, still again; pose
    looks three times a second and its box jitters by ``noise`` of the frame."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(int(seconds * 3) + 1):
        t = i / 3
        x0 = 0.03 + speed * min(max(t - 0.5, 0.0), seconds - 1.0)
        n = rng.normal(0, noise, 4)
        samples.append(PoseSample(round(t, 3), True, (x0 + n[0], 0.40 + n[1], x0 + 0.085 + n[2], 0.69 + n[3])))
    return samples


def frames_of(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * FPS)) / FPS


def clip_info(width: int = 1920, height: int = 1080, seconds: float = 6.0) -> MediaInfo:
    video = VideoStream("h264", "High", "yuv420p", 8, width, height, width, height, 0, 25.0, 25.0, False,
                        int(seconds * FPS), None, seconds)  # fmt: skip
    return MediaInfo(path="in.mp4", role="video", format="mp4", extension="mp4", file_size=2_000_000, width=width,
                     height=height, duration=seconds, video=video)  # fmt: skip


# --- the path ---------------------------------------------------------------------------------------


def test_the_window_holds_the_walker_on_every_frame_and_never_leaves_the_frame() -> None:
    track = walker()
    framing = reframe(track, FRAME, KLING, mode="follow", duration=6.0)
    following = framing.following
    assert following is not None and framing.why.startswith("reframe follow ")
    w, h = following.size
    # The fixed mode's size for a subject who stood still: their height at half the window's.
    assert framing.after == pytest.approx(0.5, abs=0.02) and h < 0.6 * FRAME[1]
    window = following.window
    times = frames_of(6.0)
    left, top = window.positions(times)
    assert left.min() >= 0 and left.max() + w <= FRAME[0] and top.min() >= 0 and top.max() + h <= FRAME[1]
    # The box, read between the looks as the window is, inside on every frame (at the pose rate and between).
    t = np.array([s.time for s in track])
    boxes = np.array([s.bbox for s in track]) * np.array([*FRAME, *FRAME])
    for k, at in enumerate(times):
        x0, y0, x1, y1 = (np.interp(at, t, boxes[:, i]) for i in range(4))
        assert left[k] <= x0 and x1 <= left[k] + w and top[k] <= y0 and y1 <= top[k] + h, at
    # It went most of the way with her: she crossed 64% of the width.
    across, down = following.travel
    assert across > 0.35 * FRAME[0] and down < 2
    assert [f.code for f in framing.findings] == ["reframe.camera_motion"]
    assert framing.findings[0].severity is Severity.WARNING and "camera motion" in framing.findings[0].message


def test_the_window_moves_smoothly_and_no_faster_than_the_walker() -> None:
    """Fails with the low-pass removed (13.0 px a frame, 3.8 px a frame per frame)."""
    following = reframe(walker(), FRAME, KLING, mode="follow", duration=6.0).following
    times = frames_of(6.0)
    path = np.interp(times, following.times, following.left)  # the plan, before the crop rounds it to even pixels
    step = np.abs(np.diff(path))
    walk = SPEED * FRAME[0] / FPS  # 9.6 px a frame
    assert step.max() <= 1.15 * walk  # measured 9.2: it never outruns her, though her box jitters
    assert np.abs(np.diff(path, 2)).max() <= 1.0  # measured 0.32 px/frame^2: speed changes over seconds
    # Rounded to even pixels per frame, as the crop is cut: no step larger than the plan's plus one rounding.
    left, _ = following.window.positions(times)
    assert np.abs(np.diff(left)).max() <= step.max() + 2


def test_a_subject_swaying_in_place_gets_the_fixed_window() -> None:
    """The dead zone: a sway of a tenth of her spare room moves nothing, so nothing is said about a camera."""
    rng = np.random.default_rng(2)
    sway = [0.45 + 0.01 * np.sin(i) for i in range(18)]
    track = [PoseSample(i / 3, True, (x + d[0], 0.40 + d[1], x + 0.085 + d[2], 0.69 + d[3]))
             for i, (x, d) in enumerate(zip(sway, rng.normal(0, 0.003, (18, 4)), strict=True))]  # fmt: skip
    framing = reframe(track, FRAME, KLING, mode="follow", duration=6.0)
    assert framing.following is None and framing.rect is not None
    assert framing.why.startswith("reframe crop ") and "the window had no need to move" in framing.why
    assert not framing.findings
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="follow"),
                    ContentHints(track=tuple(track)))  # fmt: skip
    op = plan.find(Reframe)
    assert op.moving is None and plan.geometry.crop == op.rect  # a still crop, no moving stage


def test_the_smoother_keeps_within_its_bounds() -> None:
    target = np.r_[np.zeros(20), np.linspace(0, 300, 30), np.full(20, 300.0)]
    lo, hi = target - 40, target + 40
    lo[25:45] = target[25:45] - 5  # a tight stretch the smooth path would cut through
    smooth = follow.smooth_within(target, lo, hi, 1.0 / (2 * np.pi * follow.CUTOFF_HZ * 0.1) ** 4)
    assert (smooth >= lo - 1e-6).all() and (smooth <= hi + 1e-6).all()
    assert np.abs(np.diff(smooth, 2)).max() < np.abs(np.diff(target, 2)).max() / 2


# --- the plan and the re-encode ------------------------------------------------------------------------


def test_the_plan_follows_in_the_one_re_encode() -> None:
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="follow"),
                    ContentHints(track=tuple(walker())))  # fmt: skip
    op = plan.find(Reframe)
    assert [type(o) for o in plan.operations] == [Transcode, Reframe]
    assert op.moving is not None and plan.geometry.crop == (0, 0, *FRAME)  # no other crop before the moving one
    assert plan.geometry.canvas == op.moving.size == op.rect[2:]  # the window's own pixels, not scaled
    assert op.action.startswith(f"reframe follow {op.rect[2]}x{op.rect[3]} (moves ")
    assert "subject 29% -> 50% of the height" in op.action
    assert [f.code for f in plan.findings] == ["reframe.camera_motion"]
    assert op.rect_at(5.5)[0] > op.rect_at(0.0)[0] + 600  # it moved with her
    capped = plan_fix(clip_info(3840, 2160), [], load_profile(), "video", FixOptions(reframe="follow", max_side=640),
                      ContentHints(track=tuple(walker())))  # fmt: skip
    assert capped.find(Scale).source == capped.find(Reframe).moving.size and max(capped.geometry.canvas) <= 640


def test_a_trimmed_follow_plans_the_kept_seconds() -> None:
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="follow", start=2.0, end=5.0),
                    ContentHints(track=tuple(walker())))  # fmt: skip
    moving = plan.find(Reframe).moving
    assert moving.times[0] == pytest.approx(2.0) and moving.times[-1] == pytest.approx(5.0, abs=0.11)


def test_the_crop_moves_frame_by_frame_in_the_encode(tmp_path: Path) -> None:
    """The output's frames are the input's pixels where the plan put the window at their time (a crop
    that stayed where it started fails this by hundreds of pixels of picture)."""
    import av

    from preflight.fix.video import execute_clip
    from preflight.samples import make_clip

    rng = np.random.default_rng(4)
    texture = rng.integers(0, 255, (270, 480, 3), np.uint8)
    texture = np.kron(texture, np.ones((4, 4, 1), np.uint8))  # 4 px blocks: survives the encode, no two alike

    clip = make_clip(tmp_path / "in.mp4", duration=3.0, width=1920, height=1080, fps=FPS, crf=12,
                     frames=lambda *_: texture)  # fmt: skip
    plan = plan_fix(clip_info(seconds=3.0), [], load_profile(), "video", FixOptions(reframe="follow"),
                    ContentHints(track=tuple(walker(seconds=3.0, speed=0.2))))  # fmt: skip
    moving = plan.find(Reframe).moving
    out = tmp_path / "out.mp4"
    execute_clip(plan, clip, out)
    w, h = moving.size
    with av.open(str(out)) as container:
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert len(frames) == 3 * FPS
    x0, y0 = moving.position(0.0)
    moved = 0
    for t, picture in frames[::5]:
        x, y = moving.position(t)
        seen = picture.astype(np.int16)
        assert np.abs(seen - texture[y : y + h, x : x + w]).mean() < 12, t  # the window at its time (encode noise)
        if abs(x - x0) > 100:  # ... and not where it started
            assert np.abs(seen - texture[y0 : y0 + h, x0 : x0 + w]).mean() > 40, t
            moved += 1
    assert moved >= 2 and moving.position(3.0)[0] - x0 > 150  # 192 px: it started lazily, from the frame's edge


# --- with --stabilize ------------------------------------------------------------------------------


SHAKE = Finding("motion.camera_shake", Severity.WARNING, "the camera shakes", measured=1.7, limit=0.25)


def shaky_path(seconds: float = 6.0, sigma_px: float = 12.0, seed: int = 3) -> tuple[CameraPath, np.ndarray]:
    """A still camera shaking by random per-frame offsets (px, each axis): the path the gate measures."""
    n = int(seconds * FPS)
    shake = np.random.default_rng(seed).normal(0, sigma_px, (n, 2))
    times = tuple(i / FPS for i in range(n))
    path = CameraPath(times, tuple(shake[:, 0] / FRAME[0]), tuple(shake[:, 1] / FRAME[1]), FRAME)
    return path, shake


def test_follow_and_stabilize_are_one_moving_crop_the_sum_of_both() -> None:
    path, _ = shaky_path()
    hints = ContentHints(track=tuple(walker()), camera=path)
    plan = plan_fix(clip_info(), [SHAKE], load_profile(), "video", FixOptions(reframe="follow", stabilize=True), hints)
    op, steady = plan.find(Reframe), plan.find(Stabilize)
    assert op.moving is not None and steady is not None and steady.window is op.moving  # one crop
    assert steady.crop_in is None and steady.action.endswith("in the follow window)")
    assert steady.jitter_before > 0.7 and steady.jitter_after < 0.1  # 0.82 -> 0.06 (even pixels)
    # The crop's corner is the follow path (planned in steady coordinates) plus the shake, frame by frame.
    alone = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="follow"),
                     ContentHints(track=tuple(walker())))  # fmt: skip
    shake = shake_of(path, None, FRAME)
    moving, plain = op.moving, alone.find(Reframe).moving
    t = np.asarray(moving.times)
    assert t.tolist() == shake.times.tolist()  # a corner for every frame the shake was measured on
    steady = np.asarray(moving.left) - shake.dx
    assert np.abs(np.diff(steady, 2)).max() < 1.0  # measured 0.32 px/frame^2: smooth, as the follow alone is
    assert np.abs(np.diff(np.asarray(moving.left), 2)).max() > 30  # the crop itself jumps with the shake
    # The same follow, but for the room the window keeps for the shake at the frame's edge (33 px), where it
    # starts, and the smoothing of that difference over the seconds after (8.6 px at most past 4 s).
    apart = steady - np.interp(t, plain.times, plain.left)
    assert apart[t < 0.5] == pytest.approx(-shake.dx.min(), abs=0.5) and np.abs(apart[t > 4.0]).max() < 12
    x, _ = moving.positions(t)
    assert x.min() >= 0 and x.max() <= moving.slack[0]  # with the shake added, still inside the frame


def test_a_follow_window_with_no_room_for_the_shake_is_not_stabilized() -> None:
    path, _ = shaky_path(sigma_px=60.0)  # a window the frame's height cannot move with 60 px of shake
    hints = ContentHints(track=tuple(walker()), camera=path)
    plan = plan_fix(clip_info(), [SHAKE], load_profile(), "video",
                    FixOptions(reframe="follow", stabilize=True, subject_share=0.3), hints)  # fmt: skip
    assert plan.find(Stabilize) is None and plan.find(Reframe).moving is not None
    (refused,) = [f for f in plan.findings if f.code == "stabilize.crop_too_large"]
    assert "window that follows the subject has" in refused.message


def test_a_steady_clip_follows_without_stabilizing() -> None:
    path = CameraPath(tuple(i / FPS for i in range(150)), (0.0,) * 150, (0.0,) * 150, FRAME)
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="follow", stabilize=True),
                    ContentHints(track=tuple(walker()), camera=path))  # fmt: skip
    assert plan.find(Stabilize) is None and plan.find(Reframe).moving is not None
    assert any("found no camera shake" in n for n in plan.notes)


# --- what fixed says, what the check says -------------------------------------------------------------


def test_the_fixed_window_says_why_it_keeps_a_crossing_subject_small() -> None:
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="fixed"),
                    ContentHints(track=tuple(walker())))  # fmt: skip
    op = plan.find(Reframe)
    assert op is not None and op.after < 0.4 and op.moving is None
    (note,) = [n for n in plan.notes if "--reframe follow" in n]
    assert "the subject's path spans" in note and "(asked: 50%)" in note


def test_the_check_says_a_crossing_subject_is_fixable_with_follow() -> None:
    track = walker(noise=0.0)
    analysis = {"pose": {"track": [[s.time, 1, *s.bbox] for s in track]}}
    small = Finding("pose.subject_too_small", Severity.WARNING, "the person covers 2.5% of the frame")
    (cured,) = with_cures([small], analysis, clip_info(), load_profile("kling-v2.6"))
    assert "(fixable with --reframe follow: a window that follows the person" in cured.message
    assert cured.extra["fixable_with"] == "--reframe follow"


# --- the door -------------------------------------------------------------------------------------------


def test_follow_is_a_mode_everywhere(tmp_path: Path) -> None:
    from preflight.batch.work import BatchSettings
    from preflight.samples import make_clip

    assert REFRAME_MODES == ("fixed", "follow") and FixOptions(reframe="follow").reframe == "follow"
    with pytest.raises(UsageError, match="reframe must be fixed or follow"):
        FixOptions(reframe="track")
    assert BatchSettings(outdir=str(tmp_path), reframe="follow").fix_options().reframe == "follow"
    clip = make_clip(tmp_path / "c.mp4", duration=3, width=320, height=240)
    runner = CliRunner()
    out = str(tmp_path / "o")
    done = runner.invoke(cli, ["fix", str(clip), "-o", out, "--reframe", "follow", "--dry-run", "--json"])
    assert done.exit_code in (0, 1), done.output
    assert json.loads(done.output)["items"][0]["path"] == str(clip)
    done = runner.invoke(cli, ["fix", str(clip), "-o", str(tmp_path / "o"), "--reframe", "follow", "--no-content"])
    assert done.exit_code == 2 and "no-content" in done.output
    assert "[fixed|follow]" in runner.invoke(cli, ["fix", "--help"]).output


def test_serve_takes_follow() -> None:
    pytest.importorskip("starlette", reason="preflight serve needs the serve extra")
    from preflight.serve.app import _fix_options, _Params
    from preflight.serve.openapi import openapi_document

    assert _fix_options(_Params({"reframe": "follow", "stabilize": "true"}))["reframe"] == "follow"
    with pytest.raises(UsageError, match="reframe"):
        _fix_options(_Params({"reframe": "track"}))
    fix_params = openapi_document("0")["paths"]["/v1/fix"]["post"]["parameters"]
    (param,) = [p for p in fix_params if p["name"] == "reframe"]
    assert param["schema"]["enum"] == ["none", "fixed", "follow"]


def test_a_photo_is_never_followed() -> None:
    """prepare --reframe follow: the photo is cut (to the clip's tighter shot) as a fixed crop is."""
    from preflight.models import ImageDetails

    details = ImageDetails("RGB", 8, False, 1000, 1000, 1, 1)
    info = MediaInfo(path="p.jpg", role="image", format="jpeg", extension="jpg", file_size=100_000, width=1000,
                     height=1000, image=details)  # fmt: skip
    hints = ContentHints(subject=(0.3, 0.1, 0.7, 0.95), shot="half-body", torso_lines=((0.0, 0.3, 0.6),))
    plan = plan_fix(info, [], load_profile(), "image", FixOptions(reframe="follow", shot="close-up"), hints)
    op = plan.find(Reframe)
    assert op is not None and op.moving is None and op.action.startswith("reframe crop ")


def test_a_moving_crop_for_follow_is_inside_the_frame() -> None:
    with pytest.raises(ValueError):
        MovingCrop((2000, 500), FRAME, (0.0,), (0.0,), (0.0,))
