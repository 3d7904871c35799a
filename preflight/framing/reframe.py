"""``fix --reframe``: one fixed crop window that makes a clip about one person (pure: no I/O, no model).

Everything comes from the check's pose track (:class:`.models.PoseSample`: the largest person's box per
sample and the other people's boxes), so reframing costs no second decode and no second pose pass:

1. :func:`people_in` follows every person over the kept samples (boxes joined sample to sample by
   overlap or nearness) and :func:`choose_person` picks the subject: the largest, or the one on the
   left or right (``--person``). Other people seen on a single sample are noise, not people.
2. The subject's *motion envelope* is the union of their boxes over the kept window, widened for the
   hands and feet the landmarks stop short of (:data:`ENVELOPE_MARGINS`). With a shot type to reach
   (``prepare --reframe``: a full-body clip for a half-body photo), each box is first cut at that
   shot's line (:func:`cut_box`: below the hips, or mid-chest).
3. :func:`window_size` makes the window: the subject's height at the target share of the window's
   (the photo's share when a photo is known, else :data:`DEFAULT_SUBJECT_SHARE`), at the preferred
   aspect (the photo's, else the clip's), grown to hold the envelope, never under the provider's
   minimum side and never past the frame or the room between the subject and the others.
4. :func:`place_window` puts a window of that size over the envelope and away from the others. A
   moving window (``follow``) can place the same size per frame.

No virtual camera move: the window is one rectangle for the whole kept clip, so the provider sees the
camera exactly as it was. Findings: ``reframe.people_overlap`` when another person's envelope overlaps
the subject's (no crop isolates one person), ``reframe.subject_too_small`` when even the smallest crop
the provider takes leaves the subject small (film closer).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..models import Box, Finding, PoseSample, Severity

if TYPE_CHECKING:  # numpy's import stays out of the CLI's paths until a window follows
    from .follow import Following
    from .stabilize import Shake

__all__ = [
    "DEFAULT_SUBJECT_SHARE",
    "PERSON_CHOICES",
    "FrameLimits",
    "Person",
    "Reframing",
    "centred",
    "choose_person",
    "cut_box",
    "envelope_of",
    "people_in",
    "place_window",
    "reframe",
    "window_size",
    "with_cures",
]

PERSON_CHOICES = ("largest", "left", "right")
"""``--person``: whom ``--reframe`` frames: the largest person over the clip, or the leftmost or rightmost."""

DEFAULT_SUBJECT_SHARE = 0.5
"""Share of the window's height the subject's box fills when no photo says otherwise: a full body at
half the height leaves room for raised arms, jumps and steps, and is twice what the pose gate's
minimum (5% of the area, about a quarter of the height for a standing person) asks."""
ENVELOPE_MARGINS = (0.08, 0.10, 0.08, 0.06)
"""(left, top, right, bottom) added around the subject's envelope, as shares of their median box
height: the box is made of landmarks, which end at the knuckles (a hand reaches about 8% of a body's
height further) and the toes' joint (about 5%); above the head, headroom, and the skull the box guesses
from the nose-to-shoulders height, which a person bending forward hardly has (the camera man's box
starts at his eyebrows)."""
MOTION_MARGIN_MAX = 0.1
"""The envelope grows by a sample's worth of the subject's motion, never by more than this share of the
frame (a box that jumps further is a tracking slip, not a step)."""
OTHERS_MARGIN = 2.0
"""The other people's envelopes get twice the subject's margins: what they hold (a bag, a helmet) is not
in their landmarks either, and a sliver of someone else at the window's edge is what the crop is for."""
SAME_PERSON_IOU = 0.1
"""Two boxes on consecutive sightings are one person when they overlap this much, ..."""
SAME_PERSON_SHIFT = 0.6
"""... or when their centres are within this share of the larger box's width and height: a walker
moves about half a body width between samples a third of a second apart."""
FOLLOW_SHIFT = 1.0
"""... or, for ``--reframe follow``, whose subject is there to cross the frame, within a whole box's width
and height: a runner covers about a body width between samples."""
MIN_PRESENCE = 0.25
"""A person is a candidate subject when seen on at least this share of the samples the most-seen person
is seen on. The other people are found by the masked recount every third sample and by faces, so a
bystander present all along shows on a third of the samples or more."""
MIN_SIGHTINGS = 2
"""A person seen on fewer samples may be a phantom of one look (a helmet, a poster): never the subject,
and never a reason to give up isolating the subject (it is still kept out of the window when apart)."""
NOTHING_TO_CROP = 0.96
"""A window covering at least this share of both sides of the frame is not worth a crop (it would cost
a re-encode and a sliver of picture for nothing)."""
SHOT_LINES = {"close-up": 0.55, "half-body": 1.25}
"""Where a box is cut for a tighter shot, as a position on the shoulders-to-hips line (0 = shoulders,
1 = hips): a close-up ends mid-chest, a half body a quarter of a torso below the hips, with room for
the hands at the hips."""


@dataclass(frozen=True)
class Person:
    """One person over the kept samples."""

    sightings: tuple[tuple[float, Box], ...]
    """(time, box) where this person was seen, boxes normalized to the frame."""

    @property
    def envelope(self) -> Box:
        return envelope_of(b for _, b in self.sightings)

    @property
    def median_height(self) -> float:
        return statistics.median(b[3] - b[1] for _, b in self.sightings)

    @property
    def median_area(self) -> float:
        return statistics.median((b[2] - b[0]) * (b[3] - b[1]) for _, b in self.sightings)

    @property
    def centre_x(self) -> float:
        return statistics.median((b[0] + b[2]) / 2 for _, b in self.sightings)


@dataclass(frozen=True)
class FrameLimits:
    """What the provider takes, for the window: the short side's minimum and the aspect range (or the one
    ratio when the profile lists exact ones)."""

    min_side: int | None = None
    min_aspect: float | None = None
    max_aspect: float | None = None
    ratio: float | None = None

    @classmethod
    def of(cls, lim: Any, width: int, height: int) -> FrameLimits:
        """The limits of a profile's ``[video]`` or ``[image]`` table for a ``width`` x ``height`` frame (with
        ``aspect_choices``, the one nearest the frame's shape)."""
        from ..aspects import parse_ratio, target_choice

        choice = target_choice(width / height, lim) if height else None
        return cls(lim.min_side, lim.min_aspect, lim.max_aspect, parse_ratio(choice) if choice else None)

    def clamp(self, aspect: float) -> float:
        if self.ratio is not None:
            return self.ratio
        lo = self.min_aspect if self.min_aspect is not None else 0.0
        hi = self.max_aspect if self.max_aspect is not None else math.inf
        return min(max(aspect, lo), hi)


@dataclass(frozen=True)
class Reframing:
    """The window :func:`reframe` chose, and why."""

    rect: tuple[int, int, int, int] | None
    """(x, y, width, height) in source pixels (even numbers); None: no crop (nothing to gain, or no subject)."""
    before: float
    """The subject's median height as a share of the frame's height."""
    after: float
    """... and of the window's (``before`` when there is no crop)."""
    why: str
    """One line: what the window does (or why there is none)."""
    detail: str = ""
    """The words inside the action's brackets (``subject 26% -> 61% of the height``...)."""
    person: str = "largest"
    shot: tuple[str, str] | None = None
    """(the clip's shot type, the one it was cut to) for a shot-type crop."""
    findings: tuple[Finding, ...] = ()
    area: float = 0.0
    """The subject's median box area as a share of the window's (what ``pose.subject_too_small`` measures)."""
    cut_out: int = 0
    """How many other people the window leaves out."""
    following: Following | None = None
    """``--reframe follow``: the moving window's path (``rect`` is then where it starts); None: fixed."""
    hint: str = ""
    """A note for the plan: why the window is not what was asked for (a path too wide for the share)."""


def reframe(
    samples: Sequence[PoseSample],
    frame: tuple[int, int],
    limits: FrameLimits,
    *,
    span: tuple[float, float] | None = None,
    person: str = "largest",
    share: float | None = None,
    aspect: float | None = None,
    shot: str | None = None,
    torso_lines: Sequence[tuple[float, float, float]] = (),
    own_shot: str | None = None,
    shot_from: str | None = None,
    min_area: float = 0.05,
    mode: str = "fixed",
    duration: float | None = None,
    shake: Shake | None = None,
) -> Reframing:
    """The fixed window for the kept ``span`` (seconds; None: every sample) of a clip ``frame`` pixels big.

    ``share``: the subject's height share to reach (None: :data:`DEFAULT_SUBJECT_SHARE`); ``aspect``: the
    window's preferred width/height (None: the frame's); ``shot``: a tighter shot type to cut a wider file
    to, with ``torso_lines`` ``(time, shoulders y, hips y)`` from the check and ``own_shot`` the file's own
    (``shot_from`` says whose shot type it is, for the words: ``photo`` or ``clip``);
    ``min_area``: the pose gate's least subject area (``pose_min_subject_size``), under which even the
    smallest crop leaves the subject too small.

    ``mode="follow"``: a window of the size a subject standing still would get, following the subject
    (:mod:`.follow`) over the kept span (``duration``: the clip's, when ``span`` is None); ``shake``: the
    clip's shake, to take out in the same moving window (``--stabilize``).
    """
    kept = [s for s in samples if span is None or span[0] - 1e-6 <= s.time < span[1]]
    people = people_in(kept, FOLLOW_SHIFT if mode == "follow" else SAME_PERSON_SHIFT)
    subject = choose_person(people, person)
    if subject is None:
        return Reframing(None, 0.0, 0.0, "reframe: no person in the kept samples, nothing to frame", "", person)
    width, height = frame
    target = share if share is not None else DEFAULT_SUBJECT_SHARE
    cut = _shot_cut(shot, own_shot, torso_lines)
    sightings = [(t, cut_box(b, *cut(t))) if cut else (t, b) for t, b in subject.sightings]
    framed = Person(tuple(sightings))
    before = framed.median_height  # of the part a shot-type crop keeps: like is compared with like
    # Margins for hands and feet scale with the whole body, also when a shot-type crop keeps only its top.
    envelope = _widened(framed.envelope, subject.median_height * height, width, height)
    envelope = _with_motion(envelope, framed, width, height)
    others = [p for p in people if p is not subject]
    their = [(_widened(p.envelope, OTHERS_MARGIN * p.median_height * height, width, height), len(p.sightings))
             for p in others]  # fmt: skip
    apart = [e for e, _ in their if not _overlap(e, envelope)]
    # Someone seen once apart from the subject is still kept out (it costs only empty frame); only people
    # seen twice or more where the subject moves make the crop give up on showing one person alone.
    crossing = [e for e, seen in their if _overlap(e, envelope) and seen >= MIN_SIGHTINGS]
    findings = []
    if crossing:
        findings.append(_overlap_finding(len(crossing) + 1, person))
    bounds = _room(envelope, apart, width, height)
    if mode == "follow":
        plan = _Plan(framed, subject, others, before, target, limits, aspect, cut is not None, person, shot_from,
                     min_area, (own_shot, shot) if cut else None)  # fmt: skip
        span = span if span is not None else (0.0, max(duration or 0.0, framed.sightings[-1][0]))
        return _following(plan, (width, height), bounds, span, findings, shake)
    if cut:  # the window ends where the tighter shot does: the hips (or the chest) must not show below it
        bounds = (bounds[0], bounds[1], bounds[2], min(bounds[3], envelope[3]))
    size = window_size(
        framed.median_height * height, envelope, (width, height), limits, target,
        limits.clamp(aspect if aspect else width / height), bounds, keep_aspect=cut is None,
    )  # fmt: skip
    if not apart and not cut and size[0] >= NOTHING_TO_CROP * width and size[1] >= NOTHING_TO_CROP * height:
        why = f"reframe: the subject already fills {before:.0%} of the height: no crop"
        hint = _path_hint(before, before, target, envelope, (width, height))
        if hint:
            why = f"reframe: no crop. {hint.removeprefix('reframe: ')}"
        whole = _area_share(framed, (0, 0, width, height), width, height)
        return Reframing(None, before, before, why, "", person, None, tuple(findings), whole)
    size = centred(size, envelope, bounds, limits)
    x, y = place_window(size, envelope, bounds)
    rect = (x, y, *size)
    after = _share_in(framed, rect, width, height)
    area = _area_share(framed, rect, width, height)
    if area < min_area and (limits.min_side or 0) >= min(size) - 2:
        findings.append(_too_small_finding(area, min_area, size, limits.min_side or 0))
    shot_change = (own_shot, shot) if cut else None
    detail = _detail(before, after, len(apart), shot_change, person, shot_from)
    why = f"reframe crop {size[0]}x{size[1]}+{x}+{y} ({detail})"
    hint = _path_hint(before, after, target, envelope, (width, height)) if not cut else ""
    return Reframing(rect, before, after, why, detail, person, shot_change, tuple(findings), area, len(apart),
                     hint=hint)  # fmt: skip


PATH_HINT = 0.8
"""A fixed window whose subject ends under this share of the target height share was made larger by the
subject's path (or the frame): the plan says so, and what ``follow`` would do."""


def _path_hint(before: float, after: float, target: float, envelope: PxBox, frame: tuple[int, int]) -> str:
    """Why the fixed window holds the subject at less than the target share, when their path is the
    reason (it spans more of the frame than a window at the target share could)."""
    if after >= PATH_HINT * target:
        return ""
    across, down = (envelope[2] - envelope[0]) / frame[0], (envelope[3] - envelope[1]) / frame[1]
    return (f"reframe: the subject's path spans {across:.0%} of the width and {down:.0%} of the height, so one "
            f"fixed window holding it keeps them at {after:.0%} of the height (asked: {target:.0%}); "
            "--reframe follow keeps the share with a window that moves (camera motion)")  # fmt: skip


CURABLE = ("pose.multiple_people", "pose.subject_too_small")
"""The check's findings a fixed reframe can cure (the check says so in their messages)."""


def with_cures(findings: Sequence[Finding], analysis: Mapping[str, Any], info: Any, profile: Any) -> list[Finding]:
    """``findings`` with ``fixable with --reframe`` added to those :data:`CURABLE` ones a default reframe of
    this clip would cure: the others all apart from the subject, the subject enlarged past the pose gate."""
    if info is None or info.role != "video" or not any(f.code in CURABLE for f in findings):
        return list(findings)
    from ..analyze.pose_findings import MIN_SUBJECT_SIZE

    track = tuple(pose_track((analysis.get("pose") or {}).get("track") or ()))
    if not info.width or not info.height or not track:
        return list(findings)
    least = float(profile.content.get(*MIN_SUBJECT_SIZE) or MIN_SUBJECT_SIZE[1])
    limits = FrameLimits.of(profile.video, info.width, info.height)
    framing: Reframing | None = reframe(track, (info.width, info.height), limits, min_area=least)
    if framing is not None and (framing.rect is None or any(f.code.startswith("reframe.") for f in framing.findings)):
        framing = None
    cures = {
        "pose.multiple_people": framing is not None and framing.cut_out > 0,
        "pose.subject_too_small": framing is not None and framing.area >= least,
    }
    if not cures["pose.subject_too_small"] and any(f.code == "pose.subject_too_small" for f in findings):
        moving = reframe(track, (info.width, info.height), limits, min_area=least, mode="follow",
                         duration=info.duration)  # fmt: skip
        if moving.following is not None and moving.area >= least and not _blocking(moving):
            return [_cured(f, moving) if f.code == "pose.subject_too_small" else f for f in findings]
    return [_cured(f, framing) if cures.get(f.code) and framing is not None else f for f in findings]


def _blocking(framing: Reframing) -> bool:
    """Whether ``framing`` has a finding that stops it curing anything (its camera motion is said in words)."""
    return any(f.code.startswith("reframe.") and f.code != "reframe.camera_motion" for f in framing.findings)


def pose_track(rows: Iterable[Sequence[Any]]) -> Iterable[PoseSample]:
    """The samples of a check's ``analysis.pose.track``: rows ``[time, torso_visible, x0, y0, x1, y1]``
    (``-1`` box without a person), with the other people's boxes as a 7th item where any were seen."""
    for row in rows:
        if len(row) < 2:
            continue
        box = tuple(float(v) for v in row[2:6]) if len(row) >= 6 and min(row[2:6]) >= 0 else None
        others = boxes_of(row[6]) if len(row) >= 7 else ()
        yield PoseSample(float(row[0]), bool(row[1]), box, others)  # type: ignore[arg-type]


def boxes_of(rows: Any) -> tuple[Box, ...]:
    """Boxes read back from a report (lists of four numbers); anything else is left out."""
    if not isinstance(rows, list | tuple):
        return ()
    return tuple(tuple(float(v) for v in b) for b in rows if isinstance(b, list | tuple) and len(b) == 4)  # type: ignore[misc]


def _cured(finding: Finding, framing: Reframing) -> Finding:
    if framing.following is not None:
        how = (f"a window that follows the person across the frame enlarges them to {framing.area:.0%} of it; "
               "the provider sees its motion as camera motion")  # fmt: skip
        option = "--reframe follow"
    else:
        how = (f"one fixed crop cuts out the {framing.cut_out} other(s)" if finding.code == "pose.multiple_people"
               else f"a fixed crop enlarges the person to {framing.area:.0%} of the frame")  # fmt: skip
        option = "--reframe"
    extra = {**finding.extra, "fixable_with": option}
    return replace(finding, message=f"{finding.message} (fixable with {option}: {how})", extra=extra)


# --- follow -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What :func:`reframe` worked out that a following window needs too."""

    framed: Person
    subject: Person
    others: list[Person]
    before: float
    target: float
    limits: FrameLimits
    aspect: float | None
    cut: bool
    person: str
    shot_from: str | None
    min_area: float
    shot: Any
    """(the clip's shot type, the one it is cut to), or None (:attr:`Reframing.shot`)."""


def _following(plan: _Plan, frame: tuple[int, int], bounds: PxBox, span: tuple[float, float],
               findings: list[Finding], shake: Shake | None) -> Reframing:  # fmt: skip
    """``--reframe follow``: the fixed mode's window for a subject who stood still, moving with them."""
    from .follow import (
        camera_motion_finding,
        follow_path,
        motion_words,
        overlap_finding,
        people_in_window,
        room_for_shake,
        shake_refused,
    )

    width, height = frame
    framed = plan.framed
    body = plan.subject.median_height * height
    sightings = [(t, _widened(b, body, width, height)) for t, b in framed.sightings]
    biggest = (0.0, 0.0, max(b[2] - b[0] for _, b in sightings), max(b[3] - b[1] for _, b in sightings))
    size = window_size(
        framed.median_height * height, biggest, frame, plan.limits, plan.target,
        plan.limits.clamp(plan.aspect if plan.aspect else width / height), bounds, keep_aspect=not plan.cut,
    )  # fmt: skip
    floor = FOLLOW_FLOOR * body if plan.cut else None
    if shake is not None and not room_for_shake(shake, size, bounds):
        findings = [*findings, shake_refused(shake, size, bounds)]
        shake = None
    following = follow_path(sightings, size, frame, bounds, span, floor=floor, shake=shake)
    if following.still:  # where it stood: the middle of the little it moved
        x = _even_within((min(following.left) + max(following.left)) / 2, width - size[0])
        y = _even_within((min(following.top) + max(following.top)) / 2, height - size[1])
    else:
        x, y = following.window.position(span[0])
    rect = (x, y, *size)
    after = statistics.median(min(b[3] - b[1], size[1] * 1.0) / size[1] for _, b in _px_sightings(framed, frame))
    area = statistics.median(
        min((b[2] - b[0]) * (b[3] - b[1]) / (size[0] * size[1]), 1.0) for _, b in _px_sightings(framed, frame)
    )  # fmt: skip
    others = [[(t, _px(b, width, height)) for t, b in p.sightings] for p in plan.others]
    cut_out, entering = people_in_window(following, others)
    findings = [f for f in findings if f.code != "reframe.people_overlap"]  # the moving window's own count
    if entering:
        findings.append(overlap_finding(entering + 1, plan.person))
    if area < plan.min_area and (plan.limits.min_side or 0) >= min(size) - 2:
        findings.append(_too_small_finding(area, plan.min_area, size, plan.limits.min_side or 0))
    detail = _detail(plan.before, after, cut_out, plan.shot, plan.person, plan.shot_from)
    if following.still:  # the subject never left the dead zone: the fixed window, wherever it stood
        findings = [f for f in findings if f.code != "stabilize.crop_too_large"]  # stabilized as in a fixed one
        why = f"reframe crop {size[0]}x{size[1]}+{x}+{y} ({detail}; the window had no need to move)"
        return Reframing(rect, plan.before, after, why, f"{detail}; the window had no need to move", plan.person,
                         plan.shot, tuple(findings), area, cut_out)  # fmt: skip
    findings.append(camera_motion_finding(following, span))
    detail = f"{motion_words(following)}; {detail}"
    why = f"reframe follow {size[0]}x{size[1]} ({detail})"
    return Reframing(rect, plan.before, after, why, detail, plan.person, plan.shot, tuple(findings), area, cut_out,
                     following)  # fmt: skip


FOLLOW_FLOOR = 0.1
"""With a shot-type crop (``prepare --reframe follow``), how far below the tighter shot's line (and the feet
margin) a following window may reach, as a share of the body's height: room for the smoothing; the fixed
window ends exactly there."""


def _even_within(value: float, most: int) -> int:
    return int(min(max(0, round(value / 2) * 2), most - most % 2))


def _px_sightings(person: Person, frame: tuple[int, int]) -> list[tuple[float, PxBox]]:
    return [(t, _px(b, *frame)) for t, b in person.sightings]


# --- who is who -------------------------------------------------------------------------------------


def people_in(samples: Sequence[PoseSample], shift: float = SAME_PERSON_SHIFT) -> list[Person]:
    """Every person seen in ``samples``: each sample's boxes (the largest person's and the others') joined
    to the person last seen nearest, largest box first, at most one box per person per sample (``shift``:
    how far a box may move from one sample to the next, in box sizes, :data:`SAME_PERSON_SHIFT`)."""
    tracks: list[list[tuple[float, Box]]] = []
    for sample in samples:
        boxes = ([sample.bbox] if sample.bbox is not None else []) + list(sample.others)
        taken: set[int] = set()
        for box in sorted(boxes, key=_area, reverse=True):
            scores = [(_likeness(track[-1][1], box, shift), i) for i, track in enumerate(tracks) if i not in taken]
            best = max(scores, default=(0.0, -1))
            if best[0] > 0:
                tracks[best[1]].append((sample.time, box))
                taken.add(best[1])
            else:
                tracks.append([(sample.time, box)])
                taken.add(len(tracks) - 1)
    return [Person(tuple(track)) for track in tracks]


def choose_person(people: Sequence[Person], choice: str = "largest") -> Person | None:
    """The subject among ``people``: the largest (median box area), or the leftmost or rightmost (median
    centre), among those seen about as often as the most-seen one (:data:`MIN_PRESENCE`)."""
    if not people:
        return None
    most = max(len(p.sightings) for p in people)
    candidates = [p for p in people if len(p.sightings) >= max(MIN_SIGHTINGS if most >= MIN_SIGHTINGS else 1,
                                                                MIN_PRESENCE * most)]  # fmt: skip
    if choice == "left":
        return min(candidates, key=lambda p: p.centre_x)
    if choice == "right":
        return max(candidates, key=lambda p: p.centre_x)
    return max(candidates, key=lambda p: p.median_area)


def _likeness(a: Box, b: Box, shift: float = SAME_PERSON_SHIFT) -> float:
    """How likely two boxes are one person: their overlap plus closeness, 0 when neither rule holds."""
    iou = _iou(a, b)
    dx = abs((a[0] + a[2]) - (b[0] + b[2])) / 2 / max(a[2] - a[0], b[2] - b[0], 1e-6)
    dy = abs((a[1] + a[3]) - (b[1] + b[3])) / 2 / max(a[3] - a[1], b[3] - b[1], 1e-6)
    near = dx <= shift and dy <= shift
    if iou < SAME_PERSON_IOU and not near:
        return 0.0
    return iou + (1.0 - max(dx, dy) / 2 if near else 0.0)


# --- shot types -------------------------------------------------------------------------------------


def cut_box(box: Box, shoulders: float | None, hips: float | None, line: float | None = None) -> Box:
    """``box`` cut at ``line`` (a position on the shoulders-to-hips line, :data:`SHOT_LINES`); as it is
    without one."""
    if shoulders is None or hips is None or line is None or hips <= shoulders:
        return box
    bottom = shoulders + line * (hips - shoulders)
    return (box[0], box[1], box[2], max(box[1] + 1e-3, min(box[3], bottom)))


def _shot_cut(shot: str | None, own_shot: str | None, torso_lines: Sequence[tuple[float, float, float]]):  # type: ignore[no-untyped-def]
    """A function time -> (shoulders, hips, line) for cutting each box to ``shot``, or None when the clip is
    not wider than ``shot`` (or its torso lines are unknown)."""
    from ..analyze.pose_landmarks import SHOT_TYPES

    if shot is None or own_shot is None or not torso_lines or shot not in SHOT_LINES:
        return None
    if SHOT_TYPES.index(own_shot) <= SHOT_TYPES.index(shot):
        return None
    rows = sorted(torso_lines)
    line = SHOT_LINES[shot]

    def at(t: float) -> tuple[float, float, float]:
        nearest = min(rows, key=lambda r: abs(r[0] - t))
        return nearest[1], nearest[2], line

    return at


# --- the window -------------------------------------------------------------------------------------

PxBox = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in source pixels."""


def window_size(
    subject_height: float,
    envelope: PxBox,
    frame: tuple[int, int],
    limits: FrameLimits,
    share: float,
    aspect: float,
    bounds: PxBox | None = None,
    keep_aspect: bool = True,
) -> tuple[int, int]:
    """(width, height) of the window, even, in source pixels: ``subject_height`` (px) at ``share`` of the
    height, ``aspect`` wide, grown to hold ``envelope``, at least the provider's minimum side, at most the
    frame and ``bounds`` (the room between the others, :func:`place_window` keeps to it).

    ``keep_aspect=False`` lets the envelope widen (or heighten) the window within the aspect range before
    the share gives way: a shot-type crop keeps the photo's framing rather than its shape.

    Reusable for a moving window: give it the envelope a moving window must hold at any one time."""
    width, height = frame
    room = bounds or (0.0, 0.0, float(width), float(height))
    room_w, room_h = room[2] - room[0], room[3] - room[1]
    env_w, env_h = envelope[2] - envelope[0], envelope[3] - envelope[1]
    h = subject_height / max(share, 1e-3)
    w = h * aspect
    if not keep_aspect:
        w = max(w, min(env_w, h * limits.clamp(math.inf)))
        h = max(h, min(env_h, w / max(limits.clamp(0.0), 1e-3)))
    grow = max(1.0, env_w / w, env_h / h)
    w, h = w * grow, h * grow
    lowest = limits.min_side or 0
    if not keep_aspect:  # each side on its own: at least the provider's smallest, at most the room
        w, h = min(max(w, lowest), max(room_w, env_w)), min(max(h, lowest), max(room_h, env_h))
    elif min(w, h) < lowest:  # the provider's smallest frame: enlargement stops there
        w, h = w * lowest / min(w, h), h * lowest / min(w, h)
    if w > room_w or h > room_h:
        shrink = min(room_w / w, room_h / h)
        w, h = w * shrink, h * shrink
    # The room (or the frame) may have cut the envelope: hold it whole, then get back into the aspect range
    # by widening the other side where there is room (else fix's geometry pads it there).
    w, h = max(w, min(env_w, room_w)), max(h, min(env_h, room_h))
    want = limits.clamp(w / h)
    if w / h < want:
        w = min(room_w, h * want)
    elif w / h > want:
        h = min(room_h, w / want)
    return _even_down(w, room_w), _even_down(h, room_h)


def centred(size: tuple[int, int], envelope: PxBox, bounds: PxBox, limits: FrameLimits) -> tuple[int, int]:
    """``size`` narrowed so the window can sit centred on ``envelope`` when the frame's edge (or another
    person) would push it aside, as far as the aspect range allows: the subject in the middle of the
    picture matters more than the clip's own shape (a crop changes that shape anyway)."""
    w, h = size
    centre = (envelope[0] + envelope[2]) / 2
    half = min(centre - bounds[0], bounds[2] - centre)
    lowest = max(envelope[2] - envelope[0], h * limits.clamp(0.0), limits.min_side or 0)
    if limits.ratio is not None or w / 2 <= half or 2 * half < lowest:
        return size
    return max(2, int(2 * half // 2 * 2)), h


def place_window(size: tuple[int, int], envelope: PxBox, bounds: PxBox) -> tuple[int, int]:
    """Top-left corner (even) of a ``size`` window centred on ``envelope`` as far as ``bounds`` allow."""
    w, h = size
    x = _place(w, envelope[0], envelope[2], bounds[0], bounds[2])
    y = _place(h, envelope[1], envelope[3], bounds[1], bounds[3])
    return x, y


def _place(size: int, lo: float, hi: float, room_lo: float, room_hi: float) -> int:
    start = (lo + hi) / 2 - size / 2
    start = min(max(start, hi - size), lo)  # hold the envelope when it fits
    start = min(max(start, room_lo), room_hi - size)  # stay in the room (the frame, away from the others)
    even = int(math.floor(start / 2) * 2)
    if even < room_lo:
        even += 2
    return max(0, even)


def _room(envelope: PxBox, others: Sequence[PxBox], width: int, height: int) -> PxBox:
    """The part of the frame the window may take: up to the nearest other person on each side. Each other
    person is kept out along the axis that parts them from the subject by the wider gap."""
    x0, y0, x1, y1 = 0.0, 0.0, float(width), float(height)
    for o in others:
        gaps = {"left": envelope[0] - o[2], "right": o[0] - envelope[2], "top": envelope[1] - o[3],
                "bottom": o[1] - envelope[3]}  # fmt: skip
        side = max(gaps, key=lambda k: gaps[k])
        if side == "left":
            x0 = max(x0, o[2])
        elif side == "right":
            x1 = min(x1, o[0])
        elif side == "top":
            y0 = max(y0, o[3])
        else:
            y1 = min(y1, o[1])
    return x0, y0, x1, y1


def _widened(envelope: Box, subject_px: float, width: int, height: int) -> PxBox:
    left, top, right, bottom = (m * subject_px for m in ENVELOPE_MARGINS)
    x0, y0, x1, y1 = _px(envelope, width, height)
    return max(0.0, x0 - left), max(0.0, y0 - top), min(float(width), x1 + right), min(float(height), y1 + bottom)


def _with_motion(envelope: PxBox, person: Person, width: int, height: int) -> PxBox:
    """``envelope`` grown by the most the subject's box moved from one sample to the next (at most
    :data:`MOTION_MARGIN_MAX` of the frame): pose looks about three times a second, so a walker goes on
    past the first and last sample's box for up to a sample's time."""
    steps = list(itertools.pairwise(b for _, b in person.sightings))
    dx = max((max(abs(a[0] - b[0]), abs(a[2] - b[2])) for a, b in steps), default=0.0)
    dy = max((max(abs(a[1] - b[1]), abs(a[3] - b[3])) for a, b in steps), default=0.0)
    mx, my = min(dx, MOTION_MARGIN_MAX) * width, min(dy, MOTION_MARGIN_MAX) * height
    return (max(0.0, envelope[0] - mx), max(0.0, envelope[1] - my), min(float(width), envelope[2] + mx),
            min(float(height), envelope[3] + my))  # fmt: skip


def _px(box: Box, width: int, height: int) -> PxBox:
    return box[0] * width, box[1] * height, box[2] * width, box[3] * height


def _overlap(a: PxBox, b: PxBox) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _even_down(value: float, limit: float) -> int:
    return max(2, int(min(value, limit) // 2 * 2))


def _share_in(person: Person, rect: tuple[int, int, int, int], width: int, height: int) -> float:
    """The subject's median visible height as a share of the window's height."""
    _, y, _, h = rect
    heights = [max(0.0, min(b[3] * height, y + h) - max(b[1] * height, y)) / h for _, b in person.sightings]
    return statistics.median(heights)


def _area_share(person: Person, rect: tuple[int, int, int, int], width: int, height: int) -> float:
    x, y, w, h = rect

    def seen(lo: float, hi: float, start: int, size: int) -> float:
        return max(0.0, min(hi, start + size) - max(lo, start))

    areas = [seen(b[0] * width, b[2] * width, x, w) * seen(b[1] * height, b[3] * height, y, h) / (w * h)
             for _, b in person.sightings]  # fmt: skip
    return statistics.median(areas)


def envelope_of(boxes: Sequence[Box] | object) -> Box:
    """The smallest box holding every box given."""
    items = list(boxes)  # type: ignore[call-overload]
    return (min(b[0] for b in items), min(b[1] for b in items), max(b[2] for b in items), max(b[3] for b in items))


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


# --- words ------------------------------------------------------------------------------------------


def _detail(before: float, after: float, cut_out: int, shot: tuple[str | None, str] | None, person: str,
            shot_from: str | None = None) -> str:  # fmt: skip
    parts = [f"subject {before:.0%} -> {after:.0%} of the height"]
    if shot is not None:
        parts.insert(0, f"{shot[0]} -> {shot[1]}{f' like the {shot_from}' if shot_from else ''}")
    if person != "largest":
        parts.append(f"the person on the {person}")
    if cut_out:
        parts.append(f"{cut_out} other {'person' if cut_out == 1 else 'people'} cut out")
    return ", ".join(parts)


def _overlap_finding(people: int, person: str) -> Finding:
    who = "largest person" if person == "largest" else f"person on the {person}"
    return Finding(
        "reframe.people_overlap", Severity.WARNING,
        f"{people} people move through the same part of the frame as the {who}: no fixed crop can show one "
        "person alone (the crop enlarges the subject and keeps whoever crosses it); film the subject alone "
        "or apart from the others",
        measured=people, limit=1,
    )  # fmt: skip


def _too_small_finding(area: float, least: float, size: tuple[int, int], min_side: int) -> Finding:
    return Finding(
        "reframe.subject_too_small", Severity.WARNING,
        f"even cropped to {size[0]}x{size[1]} (the provider takes no side under {min_side} px) the person "
        f"covers {area:.1%} of the frame, under the {least:.0%} providers ask for: film closer",
        measured=round(area, 4), limit=least,
    )  # fmt: skip
