"""``fix --reframe follow``: a window of the fixed mode's size that follows a subject crossing the frame.

Pure: no I/O, no model. The subject's boxes come from the check's pose track (about three a second),
widened for hands and feet as the fixed window's envelope is (:mod:`.reframe`). The window's corner is
planned on a grid of :data:`GRID_STEP` seconds over the kept part, one axis at a time:

1. **Corridor.** At each grid time the subject's box (read linearly between the sightings either side)
   must be inside the window, and the window inside the frame (or the room apart from other people):
   that bounds the corner to an interval. A corner that stays in it on the grid keeps the box inside in
   between too, since box and corner are both read linearly between the same times.
2. **Dead zone.** The camera a steady operator would hold: the corner stays where it is while the
   subject stays within :data:`DEAD_ZONE` of their spare room from the window's centre, and moves only
   as far as needed when they leave it. A dancer's sway, or the pose box's own jitter, moves nothing.
3. **Low-pass.** That path is smoothed by a Whittaker smoother (least squares against the path plus a
   penalty on its second differences: a low-pass whose cut-off is :data:`CUTOFF_HZ`), with the corridor
   as hard bounds (points the smoothing would take out of it are pinned to its edge and the rest solved
   again). No jerks: speed changes over seconds, not frames; and the window never leaves the frame.

With ``--stabilize`` on a shaky clip the plan runs in the picture's steady coordinates (each sighting
less the shake of its frame) and the shake is added back frame by frame: one moving crop carries both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..models import Box, Finding, Severity
from .moving import MovingCrop
from .stabilize import Shake

__all__ = [
    "CUTOFF_HZ", "DEAD_ZONE", "GRID_STEP", "STILL", "Following", "follow_path", "room_for_shake", "shake_refused",
    "smooth_within",
]  # fmt: skip

GRID_STEP = 0.1
"""Seconds between the planned corners: ten a second, three times the pose track's rate; each output
frame reads its corner linearly between the two nearest."""
MAX_GRID = 600
"""At most this many planned corners (a longer clip gets a wider step): the smoother's banded solve of this
many takes about a millisecond."""
CUTOFF_HZ = 0.15
"""The smoother's cut-off: movements of the path faster than one every 7 s are smoothed away, so the window
gets going and stops over two or three seconds. The penalty's weight is ``1 / (2 pi f dt)^4``, where the
Whittaker smoother's response falls to a half. Lower than a camera operator's feel would ask (0.25 Hz)
because the shake gate reads a strong slow move as jitter too (its steady path is a 0.5 s mean): at
0.25 Hz a 340 px window following a walker read 0.154% on its own path, at 0.15 Hz 0.064%; the
corridor still keeps the subject in when they start faster than that."""
DEAD_ZONE = 0.4
"""The share of the subject's spare room (half the window less half their box, each side) they may move
off the window's centre before the window follows."""
STILL = 0.01
"""A window whose corner moves less than this share of the frame's long side over the clip is still: it is
cut as the fixed window (no camera motion, no warning)."""
PIN_ROUNDS = 200
"""The most rounds of pinning points to the corridor's edge (one per run of escaping points per round)."""


@dataclass(frozen=True)
class Following:
    """The planned window: where it is at each grid time, and what that means for the viewer."""

    size: tuple[int, int]
    """(width, height), even, in the displayed frame's pixels."""
    times: tuple[float, ...]
    """The grid, seconds from the clip's start."""
    left: tuple[float, ...]
    """The window's left edge at each grid time (pixels; rounded to even ones per frame by the crop)."""
    top: tuple[float, ...]
    frame: tuple[int, int]
    shake: Shake | None = field(default=None, repr=False)
    """The shake the window also takes out (``--stabilize``): the path is in the steady picture's
    coordinates, :meth:`with_shake` adds it back per frame."""

    @property
    def window(self) -> MovingCrop:
        return MovingCrop(self.size, self.frame, self.times, self.left, self.top)

    @property
    def travel(self) -> tuple[float, float]:
        """How far the window moves across and up and down (the extent of its path), pixels."""
        return float(np.ptp(self.left)), float(np.ptp(self.top))

    @property
    def speed(self) -> float:
        """The window's fastest movement, pixels a second."""
        if len(self.times) < 2:
            return 0.0
        t = np.asarray(self.times)
        step = np.hypot(np.diff(self.left), np.diff(self.top)) / np.diff(t)
        return float(step.max())

    @property
    def still(self) -> bool:
        return max(self.travel) < STILL * max(self.frame)

    def with_shake(self, shake: Shake) -> MovingCrop:
        """The window that follows the subject and moves with the shake too, at the shake's frames."""
        left = np.interp(shake.times, self.times, self.left) + shake.dx
        top = np.interp(shake.times, self.times, self.top) + shake.dy
        return MovingCrop(self.size, self.frame, tuple(shake.times.tolist()), tuple(left.tolist()),
                          tuple(top.tolist()))  # fmt: skip


def follow_path(
    sightings: Sequence[tuple[float, tuple[float, float, float, float]]],
    size: tuple[int, int],
    frame: tuple[int, int],
    room: tuple[float, float, float, float],
    span: tuple[float, float],
    *,
    floor: float | None = None,
    shake: Shake | None = None,
) -> Following:
    """The window's path over ``span`` (seconds): ``size`` (even) following the subject's ``sightings``
    ((time, box in the displayed frame's pixels, already widened for hands and feet), inside ``room``
    (pixels: the frame, or less where other people are kept out).

    ``floor``: how far (pixels) the window may reach below the boxes' bottom (a shot-type crop: the
    window must end near where the tighter shot ends); None: as far as the room allows. ``shake``: plan
    in the picture's steady coordinates and keep room for the shake each side (``--stabilize``)."""
    times = _grid(span)
    t = np.asarray([s[0] for s in sightings], dtype=np.float64)
    boxes = np.asarray([s[1] for s in sightings], dtype=np.float64)
    if shake is not None:  # where the subject is in the steady picture: the shake moved the box with it
        boxes = boxes - np.column_stack([np.interp(t, shake.times, d) for d in (shake.dx, shake.dy) * 2])
        room = _less_shake(room, shake)
    held = _boxes_at(times, t, boxes)
    w, h = size
    left = _axis(times, held[:, 0], held[:, 2], w, room[0], room[2], None)
    top = _axis(times, held[:, 1], held[:, 3], h, room[1], room[3], floor)
    return Following(size, tuple(times.tolist()), tuple(left.tolist()), tuple(top.tolist()), frame, shake)


def room_for_shake(shake: Shake, size: tuple[int, int], room: tuple[float, float, float, float]) -> bool:
    """Whether a ``size`` window can move with ``shake`` inside ``room`` at all."""
    steady = _less_shake(room, shake)
    return steady[2] - steady[0] >= size[0] and steady[3] - steady[1] >= size[1]


def shake_refused(shake: Shake, size: tuple[int, int], room: tuple[float, float, float, float]) -> Finding:
    """``stabilize.crop_too_large`` for a following window with no room to move with the shake."""
    need = (float(np.ptp(shake.dx[shake.inside])), float(np.ptp(shake.dy[shake.inside])))
    spare = (room[2] - room[0] - size[0], room[3] - room[1] - size[1])
    return Finding(
        "stabilize.crop_too_large", Severity.WARNING,
        f"not stabilized: the {size[0]}x{size[1]} window that follows the subject has {spare[0]:.0f} x "
        f"{spare[1]:.0f} px of frame around it and the shake moves it {need[0]:.0f} x {need[1]:.0f} px; "
        "film on a steadier hand, or reframe with a smaller share",
        measured=round(max(need[0] / max(size[0], 1), need[1] / max(size[1], 1)), 4), limit=0.0,
    )  # fmt: skip


def _grid(span: tuple[float, float]) -> np.ndarray:
    start, end = span
    length = max(end - start, 0.0)
    step = max(GRID_STEP, length / (MAX_GRID - 1))
    count = max(2, math.ceil(length / step - 1e-9) + 1)
    return np.linspace(start, start + (count - 1) * step, count)


def _boxes_at(times: np.ndarray, t: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The subject's box at each grid time: read linearly between sightings. Before the first sighting
    and after the last one the box is held, and grown by where it would be if it went on at its last
    step's speed for as long (at most one step's time): a walker goes on past the last look."""
    order = np.argsort(t)
    t, boxes = t[order], boxes[order]
    out = np.column_stack([np.interp(times, t, boxes[:, k]) for k in range(4)])
    if len(t) < 2:
        return out
    for edge, nxt, sign in ((0, 1, -1), (-1, -2, 1)):
        gap = abs(t[nxt] - t[edge])
        velocity = (boxes[edge] - boxes[nxt]) / max(gap, 1e-6)
        beyond = (times - t[edge]) * sign
        mask = beyond > 0
        ahead = boxes[edge] + velocity * np.minimum(beyond[mask], gap)[:, None]
        out[mask, :2] = np.minimum(out[mask, :2], ahead[:, :2])
        out[mask, 2:] = np.maximum(out[mask, 2:], ahead[:, 2:])
    return out


def _less_shake(room: tuple[float, float, float, float], shake: Shake) -> tuple[float, float, float, float]:
    """``room`` in steady coordinates, less the most the shake moves the window each way (so the window
    plus the shake stays in the frame)."""
    dx, dy = shake.dx[shake.inside], shake.dy[shake.inside]
    return (room[0] - float(dx.min()), room[1] - float(dy.min()), room[2] - float(dx.max()),
            room[3] - float(dy.max()))  # fmt: skip


def _axis(times: np.ndarray, lo_edge: np.ndarray, hi_edge: np.ndarray, size: int, room_lo: float,
          room_hi: float, floor: float | None) -> np.ndarray:  # fmt: skip
    """The window's corner along one axis: corridor, dead zone, low-pass."""
    first, last = room_lo, room_hi - size
    if last < first:  # no room to move (the window is the room): centred in it
        return np.full(len(times), (first + last) / 2)
    lo = np.clip(hi_edge - size, first, last)  # the box's far edge inside
    hi = np.clip(lo_edge, first, last)  # its near edge inside
    if floor is not None:  # a shot-type crop: the window ends near where the tighter shot ends
        hi = np.clip(np.minimum(hi, hi_edge - size + floor), first, last)
    hi = np.maximum(hi, lo)  # a box larger than the window (never: it is sized to hold the largest)
    centre = np.clip((lo_edge + hi_edge) / 2 - size / 2, lo, hi)
    lazy = _dead_zone(centre, DEAD_ZONE * (hi - lo) / 2)
    dt = float(times[1] - times[0]) if len(times) > 1 else GRID_STEP
    return smooth_within(lazy, lo, hi, 1.0 / (2 * math.pi * CUTOFF_HZ * dt) ** 4)


def _dead_zone(centre: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """A path that holds still while ``centre`` stays within ``zone`` of it, and then moves only as far as
    it must."""
    out = np.empty_like(centre)
    at = centre[0]
    for k, (c, z) in enumerate(zip(centre, zone, strict=True)):
        at = min(max(at, c - z), c + z)
        out[k] = at
    return out


def smooth_within(target: np.ndarray, lo: np.ndarray, hi: np.ndarray, weight: float) -> np.ndarray:
    """The Whittaker smoother of ``target`` (least squares plus ``weight`` times the sum of squared second
    differences) kept within ``lo`` .. ``hi``: where the smooth path would leave the bounds, the worst
    point of each escaping run is pinned to the bound it crossed and the rest solved again."""
    n = len(target)
    if n < 3:
        return np.asarray(np.clip(target, lo, hi))
    # The penalty's matrix (second differences, squared) is five diagonals: each difference (1, -2, 1) at k
    # adds 1, 4, 1 to the main one at k, k+1, k+2, -2 beside it at (k, k+1) and (k+1, k+2), 1 at (k, k+2).
    main, near = np.zeros(n), np.zeros(n - 1)
    main[: n - 2] += 1.0
    main[1 : n - 1] += 4.0
    main[2:] += 1.0
    near[: n - 2] -= 2.0
    near[1:] -= 2.0
    pin = 1e6 * (1.0 + weight)  # a point pinned weighs as much as the whole smoothness
    pinned = np.zeros(n, dtype=bool)
    at = np.zeros(n)
    path = target
    for _ in range(PIN_ROUNDS):
        diagonal = weight * main + np.where(pinned, pin, 1.0)
        path = _pentadiagonal(diagonal, weight * near, np.full(n - 2, weight), np.where(pinned, pin * at, target))
        below, above = np.maximum(lo - path, 0.0), np.maximum(path - hi, 0.0)
        escape = np.where(pinned, 0.0, below + above)
        if escape.max() <= 1e-6:
            break
        for run in _runs(escape > 1e-6):
            worst = run[np.argmax(escape[run])]
            pinned[worst] = True
            at[worst] = lo[worst] if below[worst] > 0 else hi[worst]
    return np.asarray(np.clip(path, lo, hi))


def _pentadiagonal(a: np.ndarray, b: np.ndarray, c: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """The solution of a symmetric positive definite system of five diagonals (``a`` the main one, ``b`` and
    ``c`` the ones beside it and next), by its L D L^T factors: O(n), where a dense solve of 300 points took
    26 ms on the loaded machine (numpy has no banded solver, and scipy is no dependency for this)."""
    n = len(a)
    main, side, far = a.tolist(), [*b.tolist(), 0.0], [*c.tolist(), 0.0, 0.0]
    y: list[float] = rhs.tolist()
    d, l1, l2 = [0.0] * n, [0.0] * n, [0.0] * n  # l1[i] = L[i+1, i], l2[i] = L[i+2, i]
    for i in range(n):
        d[i] = main[i] - (l1[i - 1] ** 2 * d[i - 1] if i >= 1 else 0.0) - (l2[i - 2] ** 2 * d[i - 2] if i >= 2 else 0.0)
        l1[i] = (side[i] - (l2[i - 1] * l1[i - 1] * d[i - 1] if i >= 1 else 0.0)) / d[i]
        l2[i] = far[i] / d[i]
    for i in range(n):  # L z = y
        y[i] -= (l1[i - 1] * y[i - 1] if i >= 1 else 0.0) + (l2[i - 2] * y[i - 2] if i >= 2 else 0.0)
    x = [y[i] / d[i] for i in range(n)]
    for i in range(n - 1, -1, -1):  # D L^T x = z
        x[i] -= (l1[i] * x[i + 1] if i + 1 < n else 0.0) + (l2[i] * x[i + 2] if i + 2 < n else 0.0)
    return np.asarray(x)


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """The index runs where ``mask`` holds."""
    index = np.flatnonzero(mask)
    if not len(index):
        return []
    return np.split(index, np.flatnonzero(np.diff(index) > 1) + 1)


# --- words ------------------------------------------------------------------------------------------


def motion_words(following: Following) -> str:
    """``moves 704 px across and 12 px up and down, at most 310 px a second``."""
    across, down = following.travel
    return f"moves {across:.0f} px across and {down:.0f} px up and down, at most {following.speed:.0f} px a second"


def camera_motion_finding(following: Following, span: tuple[float, float]) -> Finding:
    across, down = following.travel
    width, height = following.frame
    share = max(across / width, down / height)
    return Finding(
        "reframe.camera_motion", Severity.WARNING,
        f"the window follows the subject {across:.0f} px across and {down:.0f} px up and down "
        f"({share:.0%} of the frame) over {span[1] - span[0]:.1f} s: the provider sees that as camera motion "
        "and copies it into the generated video; --reframe fixed keeps the camera as it was filmed",
        measured=round(share, 4), limit=STILL,
    )  # fmt: skip


def people_in_window(following: Following, others: Sequence[Sequence[tuple[float, Box]]]) -> tuple[int, int]:
    """(how many of ``others`` (each: (time, box in pixels) sightings) never come into the window, how many
    seen twice or more do)."""
    window = following.window
    apart = entering = 0
    for sightings in others:
        inside = 0
        for t, box in sightings:
            x, y = window.position(t)
            w, h = window.size
            if min(box[2], x + w) > max(box[0], x) and min(box[3], y + h) > max(box[1], y):
                inside += 1
        if inside == 0:
            apart += 1
        elif len(sightings) >= 2:
            entering += 1
    return apart, entering


def overlap_finding(people: int, person: str) -> Finding:
    who = "largest person" if person == "largest" else f"person on the {person}"
    return Finding(
        "reframe.people_overlap", Severity.WARNING,
        f"{people} people come into the window that follows the {who}: the moving crop cannot show one person "
        "alone; film the subject alone or apart from the others",
        measured=people, limit=1,
    )  # fmt: skip
