"""Pose findings: observations -> metrics and findings, for one image and for a clip.

:func:`analyze_image_pose` and :class:`PoseAnalyzer` call :func:`.pose_looks.estimate_pose` and turn
its :class:`.pose_landmarks.PoseObservation` into the ``analysis.pose`` metrics and the ``pose.*``
findings; :func:`clip_metrics` summarises a clip's observations (pure). All of these are importable
from :mod:`.pose`, where callers have always found them.

Every threshold is defined once as ``(key, default)``; a profile's ``[content]`` table overrides it
by key, ``[content.severity]`` the severity of a code (see :mod:`.quality`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..models import Severity
from .base import AnalysisResult, Analyzer, FrameSample
from .pose_cadence import (
    DEFER_SAMPLES,
    STEADY_IOU,
    STILL_IOU,
    agrees,
    empty,
    inferred_between,
    leaving,
    predicts,
    steady,
)
from .pose_landmarks import SHOT_TYPES, PoseEstimator, PoseObservation, _working
from .pose_looks import estimate_pose, small_person
from .quality import finding_for, gate

__all__ = ["PoseAnalyzer", "analyze_image_pose", "clip_metrics", "people_counts"]

MIN_PERSON_SHARE = ("pose_min_person_share", 0.5)
"""Clips: share of sampled frames that must show a person, else ``pose.no_person``."""
MIN_TORSO_SHARE = ("pose_min_torso_share", 0.5)
"""Clips: share of frames with a person whose torso must show, else ``pose.torso_not_visible``
(``fix --window best`` can still pick a window where it does)."""
MULTI_PEOPLE_SHARE = ("pose_multi_people_share", 0.3)
"""Clips: share of sampled frames with two or more people (counted over a window, see
:data:`COUNT_WINDOW`) that fires ``pose.multiple_people`` (a passer-by for a second does not)."""
MIN_SUBJECT_SIZE = ("pose_min_subject_size", 0.05)
"""Share of the frame the person's box covers below which ``pose.subject_too_small`` fires.
Providers ask for more than about 5%. Measured: astronaut 0.56, camera man 0.37, the astronaut
pasted at 12% of a 1080p canvas's height 0.007."""
REQUIRE_POSE = ("require_pose", False)
"""True: a file whose pose could not be checked (no pose model: ``pose.unavailable``) fails, as with
``--strict``, instead of passing with an info finding. For pipelines where an unchecked pose must
never reach a provider unnoticed."""
RECOUNT_EVERY = 3
"""Clips: the masked second look for a missed second person runs on every third sample."""
TILE_EVERY = 6
"""Clips: the tile search for a small person (up to 24 extra pose calls on a 16:9 frame, about
0.2-0.3 s) may run on every sixth sample at most (about every 2 s), and only when every cheaper
look found nobody; each search that finds nobody doubles the wait for the next (6, 12, 24...
samples) counted from that search, whoever is seen in between; a small person found resets it (the
search around small people, for the people beside them, has a cadence of its own:
``_after_crowd_search``). Between searches, a person once found is followed with one call around
where they were (``near``), so a small person's clip is not reported as empty, and an
empty 10 s clip pays for 3 searches (30 s: 4) instead of one per sample. Measured on 10 s 1080p
clips, ms per sample beyond decoding: astronaut filling the frame 33 (unchanged: no second
looks), astronaut at 25% of the height 44 (was 29, and reported ``pose.no_person``), coffee (nobody)
43 (was 19; 64 with a search every sixth sample and no back-off)."""
FINE_EVERY = 90
"""Clips: the tile search adds its fine tiles (people down to about 60 px tall at 1080p: 32 more
pose calls, 0.42 s of CPU, :data:`.pose_looks.FINE_TILE_SHARE`) on the first search and then after
90 samples (about 30 s), the wait doubling while they find nobody else, so an empty clip of up to
30 s pays for them once, and makes up for it: a search with them that found nobody waits as two (12
samples, then 24...: an empty 30 s clip makes 128 calls, 120 without them); and on every search while
a crowd of small people is known (a street's pedestrians, who are counted there)."""
COUNT_WINDOW = 7
"""Clips: the people count at a sample is the count that holds on a majority of the samples in a
centred window of this many (about 2.3 s). Single samples are noisy: a one-person 10 s zoom clip
had 2 people on 3 of 31 samples (a helmet taken for a second person by the masked recount). A
sample without the recount keeps the count of the recount before it (a second person stays for
seconds), so one recount's phantom spreads to three samples: still short of a majority of seven."""
SIDE_EDGE = 0.01
"""Clips: a box this close to the left or right edge touches it (boxes are clipped to the frame: a
person partly out of it reads 0.0 or 1.0)."""
RGB_INTERVAL = 0.33
"""Seconds between pose samples in a clip (about 3 per second)."""


# --- images ------------------------------------------------------------------------------------


def _metrics_for_image(obs: PoseObservation) -> dict[str, Any]:
    return {
        "people": obs.people,
        "poses": obs.poses,
        "faces": obs.faces,
        "person": obs.person,
        "head_visible": obs.head_visible,
        "shoulders_visible": obs.shoulders_visible,
        "torso_visible": obs.torso_visible,
        "bbox": list(obs.bbox) if obs.bbox else None,
        "subject_size": obs.subject_size,
        "facing": obs.facing,
        "second_look": obs.second_look,
        "shot": obs.shot,
        "torso_line": list(obs.torso_line) if obs.torso_line else None,
        "others": [list(b) for b in obs.others],
    }


def analyze_image_pose(rgb: np.ndarray, gates: Any = None) -> AnalysisResult:
    """Pose metrics and findings for one upright RGB image (EXIF orientation already applied)."""
    obs = estimate_pose(rgb)
    findings = []
    if not obs.person:
        findings.append(
            finding_for(
                gates,
                "pose.no_person",
                "no person found: the image must show one clearly visible person",
                measured=0,
                default=Severity.ERROR,
            )
        )
    else:
        if not obs.torso_visible:
            findings.append(
                finding_for(
                    gates,
                    "pose.torso_not_visible",
                    "head, shoulders and torso must all show; "
                    + _missing_parts(obs.head_visible, obs.shoulders_visible),
                    default=Severity.ERROR,
                )
            )
        findings += _size_finding(gates, obs.subject_size)
    if obs.people > 1:
        findings.append(
            finding_for(
                gates,
                "pose.multiple_people",
                f"{obs.people} people found: the largest one will be animated; "
                "crop to one person for a predictable result",
                measured=obs.people,
                limit=1,
            )
        )
    return AnalysisResult("pose", _metrics_for_image(obs), tuple(findings))


def _missing_parts(head: bool, shoulders: bool) -> str:
    if not shoulders:
        return "the shoulders are cut off or hidden"
    if not head:
        return "the head is cut off or hidden, and the body below the shoulders does not show"
    return "the body below the shoulders does not show"


def _size_finding(gates: Any, size: float) -> list:
    limit = float(gate(gates, *MIN_SUBJECT_SIZE))
    if size >= limit:
        return []
    return [
        finding_for(
            gates,
            "pose.subject_too_small",
            f"the person covers {size:.1%} of the frame; providers ask for more than {limit:.0%}",
            measured=round(size, 4),
            limit=limit,
        )
    ]


class PoseAnalyzer(Analyzer):
    """Pose on about three frames a second of a clip (VIDEO mode), then clip-level findings.

    While one person is seen the same way sample after sample, up to ``defer`` samples are held
    back and inferred from the looks either side when those agree (:mod:`.pose_cadence`); held
    samples are looked at after all when anything changed. ``defer=0`` looks at every sample.

    ``metrics["track"]`` is what ``fix`` uses to choose a trim window and a crop: one row per
    sample, ``[time, torso_visible (0/1), x0, y0, x1, y1]`` (box normalized; -1s without a person),
    and a seventh item, the other people's boxes ``[[x0, y0, x1, y1], ...]``, on samples that saw any.
    ``metrics["shot"]`` is the clip's shot type (:data:`.pose_landmarks.SHOT_TYPES`, the most common
    over the looks) and ``metrics["torso_lines"]`` rows ``[time, shoulders y, hips y]`` per look.
    """

    name = "pose"
    rgb_interval = RGB_INTERVAL

    def __init__(self, gates: Any = None, estimator: PoseEstimator | None = None, defer: int = DEFER_SAMPLES) -> None:
        self.gates = gates
        self._estimator = estimator
        self.defer = defer
        """Samples that may be held back after a steady observation (0: observe every sample)."""
        self.observations: list[tuple[float, PoseObservation]] = []
        self._held: list[tuple[float, FrameSample]] = []  # (time, sample) after the last observation
        self._last_rgb: np.ndarray | None = None  # the frame of the last observation
        self._last_recount = -RECOUNT_EVERY
        self._next_tiles = 0  # sample index from which the tile search may run again
        self._tile_wait = TILE_EVERY  # samples to wait after the next fruitless search
        self._next_crowd = 0  # sample index from which the tiles may look around small people again
        self._crowd_wait = TILE_EVERY
        self._crowd: tuple[int, int] | None = None  # (index, people found by pose) of their last look
        self._next_fine = 0  # ... and from which either search may add the fine tiles
        self._fine_wait = FINE_EVERY

    def process(self, sample: FrameSample) -> None:
        if not sample.has_rgb:
            return
        if self._estimator is None:
            self._estimator = PoseEstimator.for_clip()
        if len(self._held) < self.defer and self._settled():
            self._held.append((sample.time, sample))  # its RGB is made only if it is looked at
            return
        recounted_at = self._last_recount  # before this look takes a recount the held ones skipped
        obs = self._observe(sample.rgb, sample.time, len(self.observations) + len(self._held))
        obs = self._settle(obs, sample, recounted_at)
        self.observations.append((sample.time, obs))
        self._last_rgb = sample.rgb

    def boxes(self) -> Sequence[tuple[float, tuple[float, float, float, float] | None]]:
        """(time, box or None) of every observation so far, a live view: where the shake gate masks
        the subject out, frame by frame (:data:`.motion.BoxTrack`)."""
        return _BoxesSeen(self.observations)

    def _settled(self) -> bool:
        """The next samples may be held back: one person, seen the same way with a box that hardly moved
        or moved steadily on the last looks, and the latest masked recount found nobody else (the clip
        tracker follows one person, so a second one shows on recounted samples alone); or nobody, no
        pose and no face, on the last two samples (an empty stretch: a camera that panned away)."""
        if len(self.observations) < 2:
            return False
        if all(empty(o) for _, o in self.observations[-2:]):
            return True
        if not steady(self.observations[-1][1]):
            return False
        latest = next((o for _, o in reversed(self.observations) if o.recounted), None)
        if latest is None or latest.people != 1:
            return False
        looks = self._looks(3)
        next_look = self.observations[-1][0] + (self.defer + 1) * self.rgb_interval
        if len(looks) >= 2 and leaving(*looks[-2:], next_look):
            return False
        # Moving steadily (a pan, a walk), and whole in the picture: a box cut by a side edge grows or
        # shrinks as the person comes in or goes out, which no constant velocity predicts.
        if len(looks) == 3 and predicts(*looks, STILL_IOU) and not _cut_by_a_side(looks[-1][1]):
            return True
        before, last = (o for _, o in self.observations[-2:])
        return agrees(before, last, STILL_IOU)

    def _looks(self, n: int) -> list[tuple[float, PoseObservation]]:
        """The last ``n`` observations the model made (inferred samples skipped), oldest first."""
        looks = []
        for t, o in reversed(self.observations):
            if not o.inferred:
                looks.append((t, o))
                if len(looks) == n:
                    break
        return looks[::-1]

    def _observe(self, rgb: np.ndarray, time_s: float, index: int) -> PoseObservation:
        # The masked recount costs a second pose call; a second person stays for seconds, so
        # every third sample is enough (full path measured 55 ms per 1080p sample with it, 21 without).
        previous = self.observations[-1][1] if self.observations else None
        tiles = index >= self._next_tiles and not self._left_by_a_side()
        crowd = index >= self._next_crowd
        known_crowd = self._crowd is not None and self._crowd[1] > 1
        fine = (tiles or crowd) and (index >= self._next_fine or known_crowd)
        recount = index - self._last_recount >= RECOUNT_EVERY
        if recount:
            self._last_recount = index
        obs = estimate_pose(
            rgb,
            self._estimator,
            time_s,
            recount=recount,
            near=previous.bbox if previous is not None else None,
            tiles=tiles,
            fine=fine,
            crowd=crowd,
        )
        found_small = small_person(obs) or obs.second_look == "tiles"
        if tiles and found_small:  # the search's own quarry: look again soon
            self._next_tiles, self._tile_wait = index + TILE_EVERY, TILE_EVERY
        elif tiles and not obs.person:  # the search ran and found nobody: wait twice as long
            gap = self._tile_wait * (2 if fine else 1)
            self._next_tiles, self._tile_wait = index + gap, 2 * gap
        # A large person seen leaves the schedule alone: one who walks out, or whom a panning camera
        # leaves, is not looked for on tiles every time they go (the pan bench clip: 4 searches, 2.0 s
        # of its 5 s of pose, before the wait counted from the last fruitless search alone).
        searched = (tiles or crowd) and small_person(obs)  # the tiles looked around small people
        if fine and (searched or not obs.person) and obs.poses <= 1:
            self._next_fine, self._fine_wait = index + self._fine_wait, 2 * self._fine_wait
        if searched:
            self._after_crowd_search(obs, index, fine)
        return self._crowd_held(obs, index, searched)

    def _left_by_a_side(self) -> bool:
        """The last person seen was large and touched the left or the right edge (one of them: a
        close-up as wide as the frame touches both): whoever the whole frame finds no more has left the
        picture (walked out, or the camera panned away), not shrunk out of its reach. The tile search
        (people too small for the whole frame) waits until somebody is seen again: it never looks for
        small people beside a large one either, and the people it would find here are passers-by, not
        the clip's subject. A small person's clip, or a large one who shrank (walking away) before they
        were lost, is searched as before; so is a large person lost in the middle of the picture or
        filling its width (a cut to a wide shot: the same person, now small)."""
        seen = next((o for _, o in reversed(self.observations) if o.person), None)
        if seen is None or small_person(seen):
            return False
        left, right = _sides_touched(seen)
        return left != right

    def _after_crowd_search(self, obs: PoseObservation, index: int, fine: bool) -> None:
        """When the tiles may look around small people again: after six samples when they found a
        crowd where there was none; when they found one person alone, or the crowd again, after
        twice the last wait (6, 12, 24... samples), as for an empty frame (and a look with the fine
        tiles that found nobody else counts as two, as there)."""
        new_crowd = obs.poses > 1 and (self._crowd is None or self._crowd[1] <= 1)
        gap = TILE_EVERY if new_crowd else self._crowd_wait * (2 if fine and obs.poses <= 1 else 1)
        self._next_crowd = index + gap
        self._crowd_wait = 2 * gap

    def _crowd_held(self, obs: PoseObservation, index: int, searched: bool) -> PoseObservation:
        """The people the tiles counted around small people hold until they look again, while a small
        person is still seen (the count at a sample is the one a majority of the 7 around it reach,
        and the tiles look on every sixth sample at most)."""
        if searched:
            self._crowd = (index, obs.poses)
        elif self._crowd is not None and index < self._next_crowd and small_person(obs):
            return replace(obs, people=max(obs.people, self._crowd[1]))
        return obs

    def _settle(self, after: PoseObservation, sample: FrameSample, recounted_at: int) -> PoseObservation:
        """Give the held samples an observation and return the one of ``sample``, the look after
        them: inferred when both sides agree, else observed."""
        held, self._held = self._held, []
        if not held:
            return after
        start, before = self.observations[-1]
        looks = self._looks(2)
        moving = len(looks) == 2 and predicts(*looks, (sample.time, after), STEADY_IOU)
        if agrees(before, after) or moving:
            for t, _ in held:
                share = (t - start) / (sample.time - start)
                self.observations.append((t, inferred_between(before, after, share)))
            return after
        if empty(before) and empty(after):  # nobody either side: nobody between
            self.observations.extend((t, replace(before, recounted=False, inferred=True)) for t, _ in held)
            return after
        if empty(before):
            # Somebody came (back) into an empty picture: the clip's tracker, which found them on this
            # sample afresh, keeps them; the held frames are looked at afresh too (IMAGE mode, as a new
            # tracker's first frame would be). A new tracker here cost 0.1 s to make, a look at the frame
            # before and one at this sample again: 0.9 s of the panning bench clip's 5 s of pose.
            self._look_late(held, None, recounted_at)  # None: estimate_pose's shared IMAGE-mode one
            return after
        # Something changed in between: look at each held frame after all, in order, through a new
        # tracker that first sees the frame before them, then at this sample again; it becomes the
        # clip's. The clip's tracker, shown this sample a second after its last frame, searched
        # where the person had been (a dancer's samples came out as fragments and phantom second
        # people), fed the held frames after it, it searched the future; and IMAGE mode, which
        # detects afresh on every frame, lost a person a tracker kept (astronaut zoom: 1 in 13).
        # The clip's is closed first: a second tracker alive would cost 54 MB.
        before_rgb = self._last_rgb
        self.close()
        tracker = self._estimator = PoseEstimator.for_clip()
        if before_rgb is not None:
            tracker.landmarks(_working(before_rgb), start)
        self._look_late(held, tracker, recounted_at)
        near = self.observations[-1][1].bbox
        again = estimate_pose(sample.rgb, tracker, sample.time, recount=after.recounted, near=near, tiles=False)
        return again if again.person or not after.person else after

    def _look_late(self, held: list[tuple[float, FrameSample]], tracker: Any, recounted_at: int) -> None:
        """Observe held frames in order, with the recount where its cadence falls (the people count
        carries a recount over the next samples only, and the clip tracker follows one person)."""
        for t, sample in held:
            index = len(self.observations)
            recount = index - recounted_at >= RECOUNT_EVERY
            recounted_at = index if recount else recounted_at
            near = self.observations[-1][1].bbox
            looked = estimate_pose(sample.rgb, tracker, t, recount=recount, near=near, tiles=False)
            self.observations.append((t, looked))

    def finish(self) -> AnalysisResult:
        if self._held:  # the clip ended: its tracker saw the frame before them last
            held, self._held = self._held, []
            self._look_late(held, self._estimator, self._last_recount)
        self.close()
        metrics = clip_metrics(self.observations)
        return AnalysisResult(self.name, metrics, tuple(self._findings(metrics)))

    def close(self) -> None:
        if self._estimator is not None and self._estimator.mode == "video":
            self._estimator.close()
            self._estimator = None
        self._last_rgb = None

    def _findings(self, m: dict[str, Any]) -> list:
        gates, out = self.gates, []
        if m["samples"] == 0:
            return out
        min_person = float(gate(gates, *MIN_PERSON_SHARE))
        if m["person_share"] < min_person:
            out.append(
                finding_for(
                    gates,
                    "pose.no_person",
                    f"a person shows in {m['person_share']:.0%} of the sampled frames "
                    f"(at least {min_person:.0%} needed): the clip must show one clear person",
                    measured=m["person_share"],
                    limit=min_person,
                    default=Severity.ERROR,
                )
            )
            return out
        min_torso = float(gate(gates, *MIN_TORSO_SHARE))
        if m["torso_share"] < min_torso:
            out.append(
                finding_for(
                    gates,
                    "pose.torso_not_visible",
                    f"head, shoulders and torso show in {m['torso_share']:.0%} of the frames with "
                    f"a person (at least {min_torso:.0%} needed)",
                    measured=m["torso_share"],
                    limit=min_torso,
                    default=Severity.ERROR,
                )
            )
        multi = float(gate(gates, *MULTI_PEOPLE_SHARE))
        if m["multi_people_share"] >= multi:
            out.append(
                finding_for(
                    gates,
                    "pose.multiple_people",
                    f"up to {m['max_people']} people in {m['multi_people_share']:.0%} of the "
                    "sampled frames: the largest one drives the motion",
                    measured=m["max_people"],
                    limit=1,
                )
            )
        out += _size_finding(gates, m["median_subject_size"])
        return out


def clip_metrics(observations: Sequence[tuple[float, PoseObservation]]) -> dict[str, Any]:
    """Clip-level pose metrics from the per-sample observations (pure)."""
    samples = len(observations)
    with_person = [o for _, o in observations if o.person]
    n = max(1, samples)
    facings = [o.facing for o in with_person if o.facing]
    track = [
        [round(t, 3), int(o.torso_visible), *(o.bbox if o.bbox else (-1, -1, -1, -1))]
        + ([[list(b) for b in o.others]] if o.others else [])  # the others' boxes, only where there are any
        for t, o in observations
    ]
    counts = people_counts([o for _, o in observations])
    shots = [o.shot for _, o in observations if o.shot and not o.inferred]
    return {
        "samples": samples,
        "observed": sum(not o.inferred for _, o in observations),
        "person_share": round(len(with_person) / n, 4),
        "head_share": round(sum(o.head_visible for o in with_person) / max(1, len(with_person)), 4),
        "torso_share": round(sum(o.torso_visible for o in with_person) / max(1, len(with_person)), 4),
        "torso_share_all": round(sum(o.torso_visible for _, o in observations) / n, 4),
        "median_subject_size": round(
            statistics.median(o.subject_size for o in with_person) if with_person else 0.0, 4
        ),
        "max_people": max(counts, default=0),
        "multi_people_share": round(sum(c > 1 for c in counts) / n, 4),
        "facing": max(set(facings), key=facings.count) if facings else None,
        "track": track,
        "shot": max(SHOT_TYPES, key=shots.count) if shots else None,
        "torso_lines": [[round(t, 3), *o.torso_line] for t, o in observations if o.torso_line and not o.inferred],
    }


def people_counts(observations: Sequence[PoseObservation], window: int = COUNT_WINDOW) -> list[int]:
    """Each sample's people count as it holds on a majority of the window around it (pure).

    First a sample without the masked recount takes the count of the recount at most
    ``RECOUNT_EVERY - 1`` samples before it (when it shows a person); then the count at a sample
    is the largest one that more than half the samples in the centred window reach.
    """
    carried: list[int] = []
    last: tuple[int, int] | None = None  # (index, count) of the latest recounted sample
    for index, obs in enumerate(observations):
        count = obs.people
        if obs.recounted:
            last = (index, count)
        elif last is not None and obs.person and index - last[0] < RECOUNT_EVERY:
            count = max(count, last[1])
        carried.append(count)
    half = window // 2
    out = []
    for index in range(len(carried)):
        around = sorted(carried[max(0, index - half) : index + half + 1], reverse=True)
        out.append(around[len(around) // 2])  # reached by len // 2 + 1 samples: a majority
    return out


def _sides_touched(obs: PoseObservation) -> tuple[bool, bool]:
    """Whether the person's box touches the (left, right) edge of the frame (:data:`SIDE_EDGE`)."""
    box = obs.bbox
    return (False, False) if box is None else (box[0] <= SIDE_EDGE, box[2] >= 1.0 - SIDE_EDGE)


def _cut_by_a_side(obs: PoseObservation) -> bool:
    """The person's box touches the left or right edge of the frame."""
    return any(_sides_touched(obs))


class _BoxesSeen(Sequence[tuple[float, "tuple[float, float, float, float] | None"]]):
    def __init__(self, observations: list[tuple[float, PoseObservation]]) -> None:
        self._observations = observations

    def __len__(self) -> int:
        return len(self._observations)

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        t, observation = self._observations[i]
        return t, observation.bbox
