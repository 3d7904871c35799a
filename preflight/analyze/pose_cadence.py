"""Steady stretches: which pose samples of a clip can be inferred from their neighbours (pure).

A clip's pose samples come about three a second. While one person is found at full frame, sample
after sample the same way, running the model on every one repeats the same answer: a check of a
30 s 1080p phone clip spent as much CPU on pose as on decoding. So once two looks in a row
:func:`agrees` with boxes that hardly moved (:data:`STILL_IOU`; and the latest masked recount found
nobody else), :class:`.pose_findings.PoseAnalyzer`
holds up to :data:`DEFER_SAMPLES` samples back and looks at the next one. When that one agrees with
the look before the held samples, the person was there, seen the same way, with about the same box,
on both sides: the held samples get :func:`inferred_between` (state of both sides, box interpolated,
``inferred=True``). When it does not, every held sample is looked at after all. A dancer whose box
moves from one sample to the next is looked at on every sample; a box moving steadily (a pan, a walk)
is held on when three looks :func:`predicts` it, but not while it is cut by a side edge or
:func:`leaving` the frame: the person coming in or going out is followed sample by sample by the
clip's tracker, as where every sample is looked at (held, those samples were always looked at after
all, through a new tracker). What this can miss is an event
shorter than the gap (under a second) inside a stretch whose two ends agree; a second person counts
only when present on a majority of 7 samples (2.3 s), and a recount that finds one stops the holding.
"""

from __future__ import annotations

from dataclasses import replace

from .pose_landmarks import PoseObservation

__all__ = [
    "DEFER_SAMPLES", "LEAVING_INSIDE", "STEADY_IOU", "STILL_IOU", "agrees", "empty", "extrapolated", "inferred_between",
    "leaving", "predicts", "steady",
]  # fmt: skip

DEFER_SAMPLES = 2
"""Samples held back after a steady observation: the model runs on every third sample (about once
a second) while the answer does not change. Measured on the 30 s 1080p phone bench clip: pose on
all 91 samples 4.4 s of CPU; one sample a second 1.6 s (the clip check fell from 12.5 to 8.8 s CPU)."""
STEADY_IOU = 0.6
"""Least overlap (intersection over union) of the boxes either side of held samples for them to
be inferred: a dancer's box changes with the arms, a person walking out of the frame loses it."""
STILL_IOU = 0.85
"""Least overlap of the boxes of two looks in a row (a third of a second apart) for the next samples
to be held: a person who stands still. Measured, consecutive looks: phone bench clips with a zoom
and hand-held drift 0.89-0.99 (10th-90th percentile, 1080p and 4K); the one whose person sways like a
dancer 0.26-0.77. Holding behind a moving person only buys a second tracker and late looks (that
clip: 12 holds, all undone, 1.8 s of CPU)."""


LEAVING_INSIDE = 0.5
"""Share of a box's area inside the frame, at the look after the held samples, under which the person
is leaving (:func:`leaving`): no samples are held then, so the clip's tracker follows them out frame
by frame, as it follows them everywhere when every sample is looked at. Held, they were looked at after
all, through a new tracker shown the frame before them first (the panning bench clip: 4 new trackers,
0.1 s each to make, and two more looks per exit)."""


def steady(obs: PoseObservation) -> bool:
    """One person, found by the model on the whole frame: a state worth holding samples back on."""
    return obs.poses == 1 and obs.people == 1 and obs.second_look is None


def empty(obs: PoseObservation) -> bool:
    """Nobody: no pose and no face found (a frame a camera panned away from the person)."""
    return obs.poses == 0 and obs.people == 0 and not obs.faces


def agrees(before: PoseObservation, after: PoseObservation, min_iou: float = STEADY_IOU) -> bool:
    """Both looks saw the same person the same way, boxes overlapping by ``min_iou`` or more."""
    if not (steady(before) and steady(after)) or before.bbox is None or after.bbox is None:
        return False
    same = (
        before.faces == after.faces
        and before.head_visible == after.head_visible
        and before.shoulders_visible == after.shoulders_visible
        and before.torso_visible == after.torso_visible
        and before.facing == after.facing
    )
    return same and _iou(before.bbox, after.bbox) >= min_iou


Look = tuple[float, PoseObservation]
"""(time, observation) of one look of the model (not an inferred sample)."""


def extrapolated(first: Look, second: Look, t: float) -> tuple[float, float, float, float] | None:
    """The box at ``t`` if it goes on moving as it moved from ``first`` to ``second`` (a constant
    velocity: a pan, a walk across the frame, a slow zoom); None without two boxes."""
    (t0, a), (t1, b) = first, second
    if a.bbox is None or b.bbox is None or t1 <= t0:
        return None
    k = (t - t1) / (t1 - t0)
    return tuple(y + (y - x) * k for x, y in zip(a.bbox, b.bbox, strict=True))  # type: ignore[return-value]


def leaving(first: Look, second: Look, t: float) -> bool:
    """Whether the box, moving on as from ``first`` to ``second``, has less than half of its area
    inside the frame at ``t``: the person is walking out, or the camera panning away from them. A box
    already cut by the edge that does not move (clipped the same on both looks) is not leaving."""
    box = extrapolated(first, second, t)
    if box is None:
        return False
    area = (box[2] - box[0]) * (box[3] - box[1])
    inside = max(0.0, min(box[2], 1.0) - max(box[0], 0.0)) * max(0.0, min(box[3], 1.0) - max(box[1], 0.0))
    return area <= 0 or inside < LEAVING_INSIDE * area


def predicts(first: Look, second: Look, then: Look, min_iou: float) -> bool:
    """Whether ``then`` sees the person of ``second`` the same way, with the box where the motion from
    ``first`` to ``second`` would have taken it (overlap ``min_iou`` or more). A person standing still
    is the case of no motion; a camera panning over a person, or a person walking across a still frame,
    moves the box steadily, and the samples between two such looks are inferred just as well."""
    box = extrapolated(first, second, then[0])
    if box is None or not agrees(second[1], then[1], min_iou=0.0) or then[1].bbox is None:
        return False
    return _iou(box, then[1].bbox) >= min_iou


def inferred_between(before: PoseObservation, after: PoseObservation, share: float) -> PoseObservation:
    """The observation ``share`` (0-1) of the way from ``before`` to ``after``, which agree."""
    box = tuple(round(a + (b - a) * share, 4) for a, b in zip(before.bbox, after.bbox, strict=True))  # type: ignore[arg-type]
    return replace(
        before,
        bbox=box,  # type: ignore[arg-type]
        subject_size=round(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]), 4),
        landmarks=None,  # not seen: nothing to draw
        recounted=False,
        inferred=True,
    )


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
