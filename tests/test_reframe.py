"""fix --reframe without a model: the window from plain pose tracks, the plan, the options, the pair's shot types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from preflight import load_profile
from preflight.analyze.pair import framing_options, pair_findings
from preflight.cli import cli
from preflight.errors import UsageError
from preflight.fix.ops import Crop, Reframe, Scale, Transcode
from preflight.fix.options import FixOptions
from preflight.fix.plan import plan_fix
from preflight.fix.window import ContentHints, PoseSample, hints_from_analysis
from preflight.framing.reframe import (
    DEFAULT_SUBJECT_SHARE,
    FrameLimits,
    choose_person,
    people_in,
    reframe,
    window_size,
    with_cures,
)
from preflight.models import Finding, Item, MediaInfo, Severity, VideoStream

FRAME = (1920, 1080)
KLING = FrameLimits(min_side=340)


def track(box, others=(), samples: int = 30, others_every: int = 1, step: float = 0.33):
    """A steady person at ``box`` (normalized) and ``others`` seen on every ``others_every``-th sample."""
    return [
        PoseSample(round(i * step, 3), True, box, tuple(others) if i % others_every == 0 else ())
        for i in range(samples)
    ]


def inside(rect, box, frame=FRAME) -> bool:
    x, y, w, h = rect
    across = x <= box[0] * frame[0] and box[2] * frame[0] <= x + w
    return across and y <= box[1] * frame[1] and box[3] * frame[1] <= y + h


def apart(rect, box, frame=FRAME) -> bool:
    x, _, w, _ = rect
    return x + w <= box[0] * frame[0] or box[2] * frame[0] <= x


# --- the window -------------------------------------------------------------------------------------


def test_a_small_subject_is_enlarged_to_half_the_height_and_centred() -> None:
    person = (0.48, 0.40, 0.53, 0.66)  # 26% of a 1080p frame's height
    framing = reframe(track(person), FRAME, KLING)
    x, y, w, h = framing.rect
    assert framing.before == pytest.approx(0.26)
    assert framing.after == pytest.approx(DEFAULT_SUBJECT_SHARE, abs=0.01)
    assert w / h == pytest.approx(16 / 9, abs=0.01)  # the clip's own shape
    assert inside(framing.rect, person)
    assert (x + w / 2) / 1920 == pytest.approx((person[0] + person[2]) / 2, abs=0.01)
    assert all(v % 2 == 0 for v in framing.rect)
    assert framing.why.startswith(f"reframe crop {w}x{h}+{x}+{y} (subject 26% -> 50% of the height")


def test_the_photo_sets_the_share_and_the_shape() -> None:
    framing = reframe(track((0.45, 0.20, 0.55, 0.70)), FRAME, KLING, share=0.8, aspect=3 / 4)
    _, _, w, h = framing.rect
    assert framing.after == pytest.approx(0.8, abs=0.02)
    assert w / h == pytest.approx(0.75, abs=0.01)


def test_enlargement_stops_at_the_providers_smallest_frame() -> None:
    tiny = (0.49, 0.45, 0.51, 0.50)  # 54 px tall
    framing = reframe(track(tiny), FRAME, KLING)
    assert min(framing.rect[2:]) == 340
    (finding,) = framing.findings
    assert finding.code == "reframe.subject_too_small" and finding.severity is Severity.WARNING
    assert "film closer" in finding.message and finding.measured < 0.05
    assert not reframe(track(tiny), FRAME, FrameLimits(min_side=100)).findings  # a smaller minimum: big enough


def test_a_subject_that_fills_the_frame_is_not_cropped() -> None:
    framing = reframe(track((0.3, 0.05, 0.7, 0.95)), FRAME, KLING)
    assert framing.rect is None and "no crop" in framing.why


def test_others_apart_from_the_subject_are_cut_out() -> None:
    subject, other = (0.45, 0.30, 0.55, 0.70), (0.10, 0.35, 0.18, 0.65)
    framing = reframe(track(subject, [other], others_every=3), FRAME, KLING)
    assert inside(framing.rect, subject) and apart(framing.rect, other)
    assert framing.cut_out == 1 and "1 other person cut out" in framing.why
    assert not framing.findings


def test_person_left_right_and_largest() -> None:
    big, small = (0.60, 0.25, 0.72, 0.75), (0.10, 0.40, 0.16, 0.65)
    samples = track(big, [small])
    assert inside(reframe(samples, FRAME, KLING).rect, big)
    left = reframe(samples, FRAME, KLING, person="left")
    assert inside(left.rect, small) and apart(left.rect, big) and "the person on the left" in left.why
    assert inside(reframe(samples, FRAME, KLING, person="right").rect, big)


def test_people_whose_paths_cross_cannot_be_isolated() -> None:
    framing = reframe(track((0.40, 0.3, 0.55, 0.9), [(0.50, 0.3, 0.65, 0.9)]), FRAME, KLING)
    (finding,) = framing.findings
    assert finding.code == "reframe.people_overlap" and finding.measured == 2
    assert "no fixed crop can show one person alone" in finding.message


def test_people_are_followed_from_sample_to_sample() -> None:
    # A walker whose box moves a third of its width a sample, and a bystander seen every third sample.
    bystander = (0.8, 0.3, 0.86, 0.7)
    samples = [
        PoseSample(i * 0.33, True, (0.20 + 0.01 * i, 0.3, 0.26 + 0.01 * i, 0.7), (bystander,) if i % 3 == 0 else ())
        for i in range(20)
    ]
    people = people_in(samples)
    assert sorted(len(p.sightings) for p in people) == [7, 20]
    walker = choose_person(people)
    assert len(walker.sightings) == 20
    assert walker.envelope[0] == pytest.approx(0.20) and walker.envelope[2] == pytest.approx(0.45)
    framing = reframe(samples, FRAME, KLING)
    assert all(inside(framing.rect, s.bbox) for s in samples) and apart(framing.rect, bystander)


def test_a_phantom_of_one_look_is_never_the_subject() -> None:
    samples = track((0.45, 0.3, 0.55, 0.7))
    samples[4] = PoseSample(samples[4].time, True, (0.0, 0.0, 0.9, 0.9))  # one huge look at a poster
    assert choose_person(people_in(samples)).median_area == pytest.approx(0.1 * 0.4)


def test_only_the_kept_window_counts() -> None:
    samples = [PoseSample(t, True, (0.1, 0.3, 0.2, 0.7) if t < 5 else (0.7, 0.3, 0.8, 0.7)) for t in range(10)]
    framing = reframe(samples, FRAME, KLING, span=(5.0, 10.0))
    assert inside(framing.rect, (0.7, 0.3, 0.8, 0.7)) and apart(framing.rect, (0.1, 0.3, 0.2, 0.7))


def test_window_size_is_reusable_for_a_moving_window() -> None:
    # The size a moving window would need for a 270 px person: half the height, 16:9, in the frame.
    assert window_size(270, (900, 400, 1000, 680), FRAME, KLING, 0.5, 16 / 9) == (960, 540)
    # An aspect range narrows what the window may be: the 0.4-2.5 of an image profile.
    w, h = window_size(100, (0, 400, 1900, 500), FRAME, FrameLimits(340, 0.4, 2.5), 0.5, 16 / 9)
    assert w / h <= 2.5 + 1e-6


def test_a_wider_shot_is_cut_below_the_photos() -> None:
    # A full body (head 0.1, shoulders 0.2, hips 0.5, feet 0.95) cut to a half body: the window ends below the hips.
    body = (0.45, 0.10, 0.55, 0.95)
    lines = [(s.time, 0.2, 0.5) for s in track(body)]
    framing = reframe(track(body), FRAME, KLING, share=0.9, shot="half-body", torso_lines=lines,
                      own_shot="full-body", shot_from="photo")  # fmt: skip
    _, y, _, h = framing.rect
    hips, knees = 0.5 * 1080, 0.72 * 1080
    assert y <= 0.1 * 1080 and hips < y + h < knees
    assert framing.shot == ("full-body", "half-body") and "full-body -> half-body like the photo" in framing.why
    # A clip already as tight as the photo is not cut.
    same = reframe(track(body), FRAME, KLING, shot="full-body", torso_lines=lines, own_shot="full-body")
    assert same.shot is None


# --- the plan ---------------------------------------------------------------------------------------


def clip_info(width: int = 1920, height: int = 1080) -> MediaInfo:
    video = VideoStream("h264", "High", "yuv420p", 8, width, height, width, height, 0, 25.0, 25.0, False, 100, None,
                        4.0)  # fmt: skip
    return MediaInfo(path="in.mp4", role="video", format="mp4", extension="mp4", file_size=2_000_000, width=width,
                     height=height, duration=4.0, video=video)  # fmt: skip


def test_the_plan_crops_in_the_one_re_encode() -> None:
    hints = ContentHints(track=tuple(track((0.48, 0.40, 0.53, 0.66))))
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="fixed"), hints)
    op = plan.find(Reframe)
    assert plan.find(Transcode) is not None and plan.find(Crop) is None  # the reframe is the crop
    assert plan.geometry.crop == op.rect and plan.geometry.canvas == op.rect[2:]  # no scaling: its own pixels
    x, y, w, h = op.rect
    assert op.action.startswith(f"reframe crop {w}x{h}+{x}+{y} (subject 26% -> 50%")
    assert plan.actions[1].split()[0] == "reframe"
    assert plan_fix(clip_info(), [], load_profile(), "video", FixOptions(), hints).actions == ("copy",)


def test_a_4k_crop_keeps_its_pixels_up_to_the_max_side() -> None:
    hints = ContentHints(track=tuple(track((0.40, 0.10, 0.50, 0.40))))
    plan = plan_fix(clip_info(3840, 2160), [], load_profile(), "video", FixOptions(reframe="fixed", max_side=0), hints)
    assert plan.geometry.canvas == plan.find(Reframe).rect[2:]
    capped = plan_fix(clip_info(3840, 2160), [], load_profile(), "video", FixOptions(reframe="fixed", max_side=640),
                      hints)  # fmt: skip
    assert max(capped.geometry.canvas) <= 640 and capped.find(Scale) is not None


def test_the_plan_carries_the_reframe_findings() -> None:
    hints = ContentHints(track=tuple(track((0.49, 0.45, 0.51, 0.50))))
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="fixed"), hints)
    assert [f.code for f in plan.findings] == ["reframe.subject_too_small"]


def test_no_person_no_reframe() -> None:
    plan = plan_fix(clip_info(), [], load_profile(), "video", FixOptions(reframe="fixed"),
                    ContentHints(track=(PoseSample(0.0, False, None),)))  # fmt: skip
    assert plan.actions == ("copy",) and any("saw no person" in n for n in plan.notes)


def test_hints_read_the_others_and_the_shot() -> None:
    analysis = {"pose": {"track": [[0.0, 1, 0.1, 0.2, 0.3, 0.9, [[0.6, 0.2, 0.7, 0.9]]], [0.33, 1, 0.1, 0.2, 0.3, 0.9]],
                         "shot": "full-body", "torso_lines": [[0.0, 0.3, 0.55]]}}  # fmt: skip
    hints = hints_from_analysis(analysis)
    assert hints.track[0].others == ((0.6, 0.2, 0.7, 0.9),) and hints.track[1].others == ()
    assert hints.shot == "full-body" and hints.torso_lines == ((0.0, 0.3, 0.55),)


def test_options_are_checked() -> None:
    with pytest.raises(UsageError, match="reframe must be fixed"):
        FixOptions(reframe="wobbly")
    with pytest.raises(UsageError, match="person must be"):
        FixOptions(reframe="fixed", person="middle")
    with pytest.raises(UsageError, match="subject_share"):
        FixOptions(subject_share=float("nan"))


def test_check_says_which_findings_a_reframe_cures() -> None:
    analysis = {"pose": {"track": [row for s in track((0.46, 0.40, 0.54, 0.66), [(0.1, 0.4, 0.15, 0.66)])
                                   for row in [[s.time, 1, *s.bbox, [list(o) for o in s.others]]]]}}  # fmt: skip
    small = Finding("pose.subject_too_small", Severity.WARNING, "the person covers 1.3% of the frame")
    many = Finding("pose.multiple_people", Severity.WARNING, "up to 2 people")
    cured = with_cures([small, many], analysis, clip_info(), load_profile())
    assert all("(fixable with --reframe" in f.message and f.extra["fixable_with"] == "--reframe" for f in cured)
    crossing = {"pose": {"track": [[t, 1, 0.4, 0.3, 0.55, 0.9, [[0.5, 0.3, 0.65, 0.9]]] for t in range(9)]}}
    assert with_cures([many], crossing, clip_info(), load_profile()) == [many]


# --- the pair ----------------------------------------------------------------------------------------


def pose_item(role: str, shot: str, **pose) -> Item:
    return Item(f"x.{'jpg' if role == 'image' else 'mp4'}", role, "pass", (), analysis={"pose": {"shot": shot, **pose}})


def test_the_pair_is_compared_by_shot_type() -> None:
    photo = pose_item("image", "half-body", person=True, bbox=[0.2, 0.05, 0.8, 0.95])
    clip = pose_item("video", "full-body", person_share=1.0, track=[[0, 1, 0.4, 0.1, 0.6, 0.95]])
    (finding,) = pair_findings(photo, clip, "video")
    assert finding.code == "framing.mismatch" and finding.measured == "half-body/full-body"
    assert "a half-body shot (head to hips)" in finding.message and "a full-body shot (head to feet)" in finding.message
    assert "crops the clip to a half-body shot" in finding.message and "fixable with --reframe" in finding.message
    image_opts, clip_opts = framing_options(photo, clip)
    assert image_opts == {} and clip_opts == {"subject_share": pytest.approx(0.9), "shot": "half-body",
                                              "shot_from": "photo"}  # fmt: skip
    # The clip is the tighter one: the photo is cut instead.
    tight = pose_item("video", "close-up", person_share=1.0, track=[[0, 1, 0.3, 0.1, 0.7, 0.9]])
    (finding,) = pair_findings(photo, tight, "video")
    assert "crops the photo to a close-up" in finding.message
    image_opts, _ = framing_options(photo, tight)
    assert image_opts == {"shot": "close-up", "shot_from": "clip", "subject_share": pytest.approx(0.8)}
    assert pair_findings(photo, pose_item("video", "half-body", person_share=1.0, track=[[0, 1, 0.2, 0.1, 0.8, 0.95]]),
                         "video") == []  # fmt: skip


# --- the command line ----------------------------------------------------------------------------------


def test_person_needs_reframe_and_reframe_needs_the_content_check(tmp_path: Path) -> None:
    from preflight.samples import make_clip

    clip = make_clip(tmp_path / "c.mp4", duration=3, width=320, height=240)
    runner = CliRunner()
    result = runner.invoke(cli, ["fix", str(clip), "-o", str(tmp_path / "o"), "--person", "left"])
    assert result.exit_code == 2 and "--reframe" in result.output
    result = runner.invoke(cli, ["fix", str(clip), "-o", str(tmp_path / "o"), "--reframe", "--no-content"])
    assert result.exit_code == 2 and "no-content" in result.output
    result = runner.invoke(cli, ["fix", "--reframe", str(clip), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "write `--reframe fixed`" in result.output
    result = runner.invoke(cli, ["fix", str(clip), "-o", str(tmp_path / "o"), "--reframe", "--dry-run", "--json"])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.output)["items"][0]["path"] == str(clip)


def test_batch_settings_carry_reframe_into_the_fix_and_the_resume_key(tmp_path: Path) -> None:
    from preflight.batch.work import BatchSettings

    plain = BatchSettings(outdir=str(tmp_path))
    framed = BatchSettings(outdir=str(tmp_path), reframe="fixed", person="left")
    assert framed.fix_options().reframe == "fixed" and framed.fix_options().person == "left"
    assert plain.fingerprint() != framed.fingerprint()
    with pytest.raises(UsageError, match="no-content"):
        BatchSettings(outdir=str(tmp_path), reframe="fixed", content=False).validate()


def landmarks(**where: tuple[float, float, float]):
    """33 BlazePose landmarks, all unseen, except those given as name=(x, y, visibility)."""
    import numpy as np

    from preflight.analyze import pose_landmarks as pose

    points = np.zeros((33, 3), np.float32)
    for name, value in where.items():
        points[getattr(pose, name.upper())] = value
    return points


UPPER = dict(nose=(0.5, 0.1, 0.99), l_eye=(0.52, 0.08, 0.99), r_eye=(0.48, 0.08, 0.99),
             l_shoulder=(0.6, 0.2, 0.99), r_shoulder=(0.4, 0.2, 0.99))  # fmt: skip


def test_shot_types_from_the_landmarks_seen() -> None:
    from preflight.analyze.pose import observe, shot_of

    full = landmarks(**UPPER, l_hip=(0.56, 0.45, 0.9), r_hip=(0.44, 0.45, 0.9), l_knee=(0.56, 0.68, 0.9),
                     r_knee=(0.44, 0.68, 0.9), l_ankle=(0.56, 0.92, 0.9), r_ankle=(0.44, 0.92, 0.9))  # fmt: skip
    assert shot_of(full) == "full-body"
    folded = full.copy()
    folded[27:29, 1] = 0.5  # "ankles" just under the hips: legs folded into the frame's edge, no full body
    assert shot_of(folded) == "half-body"
    at_the_edge = landmarks(**UPPER, l_hip=(0.56, 0.9, 0.9), r_hip=(0.44, 0.9, 0.9))  # the frame ends at the hips
    assert shot_of(at_the_edge) == "close-up"
    assert shot_of(landmarks(**UPPER)) == "close-up"
    obs = observe([full], [], 1000, 1000)
    assert obs.shot == "full-body" and obs.torso_line == (0.2, 0.45)
