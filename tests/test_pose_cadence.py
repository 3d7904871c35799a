"""Steady stretches: pose samples inferred from agreeing neighbours, observed when anything changed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from people import astronaut, camera, coffee, side_by_side

from preflight.analyze import clip_analyzers
from preflight.analyze import pose_findings as pf
from preflight.analyze.base import FrameSample
from preflight.analyze.frames import decode_pass
from preflight.analyze.pose_cadence import STILL_IOU, agrees, inferred_between, leaving, steady
from preflight.analyze.pose_landmarks import PoseObservation
from preflight.samples import make_clip

RGB = np.zeros((8, 8, 3), np.uint8)


def person(box=(0.2, 0.1, 0.6, 0.9), **changes) -> PoseObservation:
    fields = dict(
        people=1, poses=1, faces=1, head_visible=True, shoulders_visible=True, torso_visible=True,
        bbox=box, subject_size=round((box[2] - box[0]) * (box[3] - box[1]), 4), facing="front",
        landmarks=((0.5, 0.2, 0.9),) * 33,
    )  # fmt: skip
    fields.update(changes)
    return PoseObservation(**fields)  # type: ignore[arg-type]


NOBODY = PoseObservation(0, 0, 0, False, False, False, None, 0.0, None)


# --- pure ------------------------------------------------------------------------------------------


def test_only_one_person_found_on_the_whole_frame_is_steady() -> None:
    assert steady(person())
    assert not steady(NOBODY)
    assert not steady(person(people=2))  # a face beside the pose
    assert not steady(person(poses=2, people=2))
    assert not steady(person(second_look="face"))


@pytest.mark.parametrize(
    "after",
    [
        person(torso_visible=False),
        person(head_visible=False),
        person(facing="back"),
        person(faces=0),
        person(people=2),
        person(box=(0.5, 0.1, 0.9, 0.9)),  # moved: IoU 0.14
        NOBODY,
    ],
)
def test_anything_seen_differently_disagrees(after: PoseObservation) -> None:
    assert not agrees(person(), after)


def test_a_box_that_moved_a_little_agrees() -> None:
    assert agrees(person(), person(box=(0.25, 0.1, 0.65, 0.9)))  # IoU 0.78
    assert not agrees(person(), person(box=(0.25, 0.1, 0.65, 0.9)), STILL_IOU)  # too much to start holding


def test_a_box_moving_out_of_the_frame_is_leaving() -> None:
    walk = [(0.0, person(box=(0.5, 0.1, 0.8, 0.9))), (1 / 3, person(box=(0.55, 0.1, 0.85, 0.9)))]
    assert not leaving(*walk, 1.0)  # (0.65-0.95): whole
    assert not leaving(*walk, 2.0)  # (0.8-1.1): two thirds in
    assert leaving(*walk, 2.5)  # (0.875-1.175): 42% in
    cut = [(0.0, person(box=(0.7, 0.1, 1.0, 0.9))), (1 / 3, person(box=(0.7, 0.1, 1.0, 0.9)))]
    assert not leaving(*cut, 2.0)  # standing still, cut by the edge


def test_an_inferred_sample_lies_between_its_neighbours_and_draws_nothing() -> None:
    mid = inferred_between(person(), person(box=(0.3, 0.1, 0.7, 0.9)), 0.5)
    assert mid.bbox == (0.25, 0.1, 0.65, 0.9)
    assert mid.subject_size == pytest.approx(0.32)
    assert mid.inferred and mid.landmarks is None and not mid.recounted
    assert (mid.person, mid.torso_visible, mid.facing, mid.people) == (True, True, "front", 1)


# --- the analyzer, with a scripted model --------------------------------------------------------------


class Script:
    """Stands in for estimate_pose: what the model "sees" at each sample time, and which were looked at."""

    def __init__(self, at) -> None:  # type: ignore[no-untyped-def]
        self.at = at
        self.looked: list[tuple[float, bool]] = []  # (time, recount)
        self.estimators: list[object] = []  # the estimator each look was given (None: the IMAGE-mode one)
        self.searched: list[int] = []  # sample indices (time x 3) whose look could search the tiles and found nobody

    def __call__(self, rgb, estimator, time_s, recount=True, **looks):  # type: ignore[no-untyped-def]
        self.looked.append((round(time_s, 2), recount))
        self.estimators.append(estimator)
        seen = replace(self.at(time_s), recounted=recount)
        if looks.get("tiles") and not seen.person:
            self.searched.append(round(time_s * 3))
        return seen


class Tracker:
    """Stands in for a VIDEO-mode estimator (a new one sees the frame before held ones first)."""

    mode = "video"
    made = 0
    seen: list[float] = []  # noqa: RUF012 (times every stand-in was shown, in order)

    def __init__(self) -> None:
        Tracker.made += 1

    def landmarks(self, rgb, time_s=None):  # type: ignore[no-untyped-def]
        Tracker.seen.append(round(time_s, 2))
        return []

    def close(self) -> None:
        pass


def run(monkeypatch, at, samples: int, defer: int = pf.DEFER_SAMPLES) -> tuple[pf.PoseAnalyzer, Script]:  # type: ignore[no-untyped-def]
    script = Script(at)
    Tracker.seen = []
    monkeypatch.setattr(pf, "estimate_pose", script)
    monkeypatch.setattr(pf.PoseEstimator, "for_clip", classmethod(lambda cls: Tracker()))
    analyzer = pf.PoseAnalyzer(estimator=Tracker(), defer=defer)  # type: ignore[arg-type]
    monkeypatch.setattr(analyzer, "close", lambda: None)
    for i in range(samples):
        analyzer.process(FrameSample(index=i, time=i / 3, luma=RGB[..., 0], rgb=RGB, width=8, height=8))
    analyzer.result = analyzer.finish()  # type: ignore[attr-defined]
    return analyzer, script


def test_a_steady_person_is_looked_at_once_a_second(monkeypatch) -> None:
    # Two looks that agree, then one in three; the two held at the end are looked at.
    analyzer, script = run(monkeypatch, lambda t: person(box=(0.2 + t / 100, 0.1, 0.6 + t / 100, 0.9)), 10)
    assert [t for t, _ in script.looked] == [0.0, 0.33, 1.33, 2.33, 2.67, 3.0]
    assert [recount for _, recount in script.looked] == [True, False, True, True, False, False]
    inferred = [o.inferred for _, o in analyzer.observations]
    assert inferred == [False, False, True, True, False, True, True, False, False, False]
    assert [round(t, 2) for t, _ in analyzer.observations] == [round(i / 3, 2) for i in range(10)]
    x0 = [o.bbox[0] for _, o in analyzer.observations]
    assert x0 == pytest.approx([0.2 + i / 300 for i in range(10)], abs=1e-4)  # boxes in between
    metrics = analyzer.result.metrics  # type: ignore[attr-defined]
    assert (metrics["samples"], metrics["observed"], metrics["person_share"]) == (10, 6, 1.0)


def test_a_change_inside_a_held_stretch_is_observed(monkeypatch) -> None:
    # The person leaves at 1.5 s, between the held samples 1.67 and 2.0 and the look at 2.33.
    def at(t: float) -> PoseObservation:
        return person() if t < 1.5 else NOBODY

    analyzer, script = run(monkeypatch, at, 8)
    seen = Tracker.seen
    exact, _ = run(monkeypatch, at, 8, defer=0)
    assert [o.person for _, o in analyzer.observations] == [o.person for _, o in exact.observations]
    assert [o.inferred for _, o in analyzer.observations] == [False, False, True, True] + [False] * 4
    # Late, in the order held, then the look at 2.33 again through the tracker that saw them: a new
    # one, shown the frame of the look before them (1.33) first.
    assert [t for t, _ in script.looked] == [0.0, 0.33, 1.33, 2.33, 1.67, 2.0, 2.33]
    assert seen == [1.33]


def test_samples_held_at_the_end_are_observed(monkeypatch) -> None:
    analyzer, script = run(monkeypatch, lambda t: person(), 6)
    assert [t for t, _ in script.looked] == [0.0, 0.33, 1.33, 1.67]
    assert [o.inferred for _, o in analyzer.observations] == [False, False, True, True, False, False]


def test_a_second_person_found_by_the_recount_stops_the_holding(monkeypatch) -> None:
    # The clip tracker follows one person; only the masked recount sees the second one.
    analyzer, script = run(monkeypatch, lambda t: person(), 7)
    assert len(script.looked) < 7
    monkeypatch.setattr(Script, "__call__", lambda self, rgb, est, t, recount=True, **looks: (
        self.looked.append((round(t, 2), recount)) or person(people=2 if recount else 1, recounted=recount)))
    analyzer, script = run(monkeypatch, lambda t: person(), 7)
    assert len(script.looked) == 7
    assert analyzer.result.metrics["multi_people_share"] == 1.0  # type: ignore[attr-defined]


def test_a_person_moving_steadily_is_held_and_inferred_on_the_line(monkeypatch) -> None:
    """A camera panning over a person moves her box a fifth of its width a sample (two looks overlap by
    0.6, not the 0.85 of a person standing still): the motion is predictable, so samples are held and
    inferred on the line between the looks (issue 23: a pan cost a look on every sample)."""

    def at(t: float) -> PoseObservation:
        x = 0.05 + 0.24 * t
        return person(box=(x, 0.1, x + 0.4, 0.9))

    analyzer, script = run(monkeypatch, at, 10)
    assert len(script.looked) == 6 and analyzer.result.metrics["observed"] == 6  # type: ignore[attr-defined]
    x0 = [o.bbox[0] for _, o in analyzer.observations]
    assert x0 == pytest.approx([0.05 + 0.08 * i for i in range(10)], abs=1e-4)
    monkeypatch.setattr(pf, "predicts", lambda *looks: False)  # boxes must stand still to hold
    _, still_only = run(monkeypatch, at, 10)
    assert len(still_only.looked) == 10


def test_an_unpredictable_mover_is_looked_at_every_sample(monkeypatch) -> None:
    """A dancer's box jumps about: no prediction holds, so nothing is inferred."""

    def at(t: float) -> PoseObservation:
        x = 0.3 + 0.2 * np.sin(t * 7)
        return person(box=(x, 0.1, x + 0.4, 0.9))

    _, script = run(monkeypatch, at, 10)
    assert len(script.looked) == 10


def test_an_empty_stretch_is_looked_at_once_a_second(monkeypatch) -> None:
    """Nobody on two looks in a row (a camera panned away): the next two samples are held; a person back
    by the look after them has the held samples looked at after all."""
    analyzer, script = run(monkeypatch, lambda t: NOBODY, 10)
    assert [t for t, _ in script.looked] == [0.0, 0.33, 1.33, 2.33, 2.67, 3.0]
    assert analyzer.result.metrics["person_share"] == 0.0  # type: ignore[attr-defined]
    made = Tracker.made
    back, seen = run(monkeypatch, lambda t: NOBODY if t < 1.2 else person(), 6)
    # Back at 1.33: the held ones are looked at afresh (IMAGE mode: no tracker given), the clip's tracker
    # keeps the person it found at 1.33, which is not looked at again, and no new tracker is made.
    assert [t for t, _ in seen.looked] == [0.0, 0.33, 1.33, 0.67, 1.0, 1.67]
    assert seen.estimators[3:5] == [None, None]
    assert Tracker.made == made + 1  # the run's own
    assert [o.person for _, o in back.observations] == [False, False, False, False, True, True]


def test_a_large_person_coming_and_going_does_not_restart_the_tile_searches(monkeypatch) -> None:
    """A camera panning to and fro leaves a large person every 16 samples: the tile search (small people
    only, 0.4-0.6 s a time) waits twice as long after each one that finds nobody, counted from that
    search, whoever was seen in between (it ran once per empty stretch, 2.0 of the pan bench clip's 5 s
    of pose, while the person's return set the next search six samples on)."""
    _, script = run(monkeypatch, lambda t: person() if round(t * 3) % 16 < 10 else NOBODY, 64)
    assert script.searched == [10, 26, 58]  # waits 12 (the first had the fine tiles), 24, then 48


def test_a_large_person_gone_by_a_side_is_not_searched_for_on_tiles(monkeypatch) -> None:
    """The pan bench clip: the person leaves by the left or right edge, the camera shows the room for
    three seconds, the person comes back. The empty stretches are not searched for small people (three
    searches were 1.5 s of its 4.8 s of pose); a small person lost there, or a large one lost in the
    middle of the picture, still is."""

    def panning(box):  # type: ignore[no-untyped-def]
        return lambda t: person(box=box) if round(t * 3) % 16 < 10 else NOBODY

    for box in [(0.6, 0.1, 1.0, 0.95), (0.0, 0.05, 0.4, 1.0)]:  # touching the right, the left edge
        _, script = run(monkeypatch, panning(box), 64)
        assert script.searched == []
    _, script = run(monkeypatch, panning((0.85, 0.5, 1.0, 0.7)), 64)  # small (20% of the height)
    assert script.searched
    _, script = run(monkeypatch, panning((0.3, 0.1, 0.7, 0.95)), 64)  # lost mid-frame
    assert script.searched == [10, 26, 58]
    _, script = run(monkeypatch, panning((0.0, 0.1, 1.0, 0.95)), 64)  # a close-up as wide as the frame
    assert script.searched == [10, 26, 58]
    # Seen large by the edge, then small in the middle (a cut to a wide shot), then lost: searched.
    def shots(t: float) -> PoseObservation:
        if t < 2:
            return person(box=(0.6, 0.1, 1.0, 0.95))
        return person(box=(0.4, 0.4, 0.5, 0.6)) if t < 4 else NOBODY

    _, script = run(monkeypatch, shots, 20)
    assert script.searched and min(script.searched) >= 12


def test_a_person_walking_out_is_followed_sample_by_sample(monkeypatch) -> None:
    """Held samples at an exit were looked at after all, through a new tracker (0.1 s to make) shown
    the frame before them first, then the sample after them again: once the box is cut by the edge or
    predicted mostly out by the next look, nothing is held and the clip's tracker follows them out."""

    def walking(t: float) -> PoseObservation:
        x0 = 0.1 + 0.15 * t
        return person(box=(x0, 0.1, min(1.0, x0 + 0.3), 0.9)) if x0 < 1.0 else NOBODY

    made = Tracker.made
    analyzer, script = run(monkeypatch, walking, 24)
    assert Tracker.made == made + 1  # the run's own, no other
    looked = [round(t * 3) for t, _ in script.looked]
    assert looked == sorted(looked)  # never back in time
    assert looked[:7] == [0, 1, 2, 5, 8, 11, 14]  # whole in the frame, moving steadily: held
    assert looked[6:13] == list(range(14, 21))  # cut by the edge at 14, gone from 19: every sample
    assert [o.person for _, o in analyzer.observations] == [walking(t).person for t, _ in analyzer.observations]


def test_defer_zero_looks_at_every_sample_and_recounts_every_third(monkeypatch) -> None:
    analyzer, script = run(monkeypatch, lambda t: person(), 7, defer=0)
    assert [recount for _, recount in script.looked] == [True, False, False, True, False, False, True]
    assert analyzer.result.metrics["observed"] == 7  # type: ignore[attr-defined]


# --- the model on real frames ---------------------------------------------------------------------


@pytest.mark.model
def test_held_samples_agree_with_looking_at_every_one(tmp_path) -> None:
    # The astronaut for 1.5 s, a cup of coffee for 1.5 s, the astronaut again: the person's
    # presence per sample, and the findings, must be those of the model run on every sample.
    photos = [astronaut(), coffee()]

    def frames(i: int, w: int, h: int) -> np.ndarray:
        import cv2

        return cv2.resize(photos[(i // 15) % 2], (w, h), interpolation=cv2.INTER_AREA)

    clip = str(make_clip(tmp_path / "swap.mp4", duration=4.5, width=480, height=480, fps=10, frames=frames))
    runs = {}
    for every in (False, True):
        analyzers, _ = clip_analyzers(None, every_sample=every)
        results, _ = decode_pass(clip, analyzers)
        runs[every] = (analyzers[0].observations, results[0])
    held, exact = runs[False], runs[True]
    assert [o.person for _, o in held[0]] == [o.person for _, o in exact[0]]
    assert [f.code for f in held[1].findings] == [f.code for f in exact[1].findings]
    assert held[1].metrics["observed"] < exact[1].metrics["observed"] == exact[1].metrics["samples"]


@pytest.mark.model
@pytest.mark.parametrize("every", [False, True])
def test_two_people_in_a_clip_are_counted(tmp_path, every: bool) -> None:
    # The clip tracker follows one person; the second is found by the masked recount (and its face).
    import cv2

    pair = side_by_side(astronaut(), camera(), gap=16)

    def frames(i: int, w: int, h: int) -> np.ndarray:
        return cv2.resize(pair, (w, h), interpolation=cv2.INTER_AREA)

    clip = str(make_clip(tmp_path / "two.mp4", duration=4, width=960, height=480, fps=10, frames=frames))
    analyzers, _ = clip_analyzers(None, every_sample=every)
    results, _ = decode_pass(clip, analyzers)
    metrics = results[0].metrics
    assert metrics["max_people"] == 2 and metrics["multi_people_share"] >= 0.8
    assert "pose.multiple_people" in [f.code for f in results[0].findings]
