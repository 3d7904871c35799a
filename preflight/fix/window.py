"""Which part of a long clip to keep, and where a crop should sit, from plain content data.

``window=best`` takes the allowed-length window with the fewest scene cuts inside, then the most
torso-visible pose samples, preferring a window that starts on a keyframe (a stream copy) when it is
nearly as good. Without content data the window starts at 0.

The content data is :class:`ContentHints` (a pose track, the scene cuts, a still's subject box), read
out of a check's ``analysis`` by :func:`hints_from_analysis`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..framing.reframe import boxes_of, pose_track
from ..models import CameraPath, MediaInfo, PoseSample
from ..profiles import Profile
from .geometry import Box
from .options import FixOptions

__all__ = ["KEYFRAME_PREFERENCE", "ContentHints", "PoseSample", "choose_window", "hints_from_analysis", "subject_in"]

KEYFRAME_PREFERENCE = 0.95
"""window=best takes a keyframe-aligned window (stream copy, no quality loss) over the very best
window when it has no more scene cuts and at least this share of its torso-visible samples."""


@dataclass(frozen=True)
class ContentHints:
    """What the content analysis tells the planner; plain data so it is testable without a model."""

    track: tuple[PoseSample, ...] = ()
    cuts: tuple[float, ...] = ()
    subject: Box | None = None
    """The person's box in a still image."""
    shot: str | None = None
    """The shot type the file shows (``close-up``, ``half-body``, ``full-body``), when pose knows it."""
    torso_lines: tuple[tuple[float, float, float], ...] = ()
    """``(time, shoulders y, hips y)`` per look (a still: one row at time 0), for a shot-type crop."""
    others: tuple[Box, ...] = ()
    """The other people's boxes in a still image."""
    camera: CameraPath | None = None
    """How the picture moved, frame by frame (the shake gate's measure): what ``--stabilize`` smooths."""


def hints_from_analysis(analysis: Mapping[str, Any] | None) -> ContentHints:
    """Read the pose track, cut times and camera path out of a check's ``analysis`` (absent parts are empty).

    Track rows are ``[time, torso_visible, x0, y0, x1, y1]`` (``-1`` box without a person), as
    :class:`preflight.analyze.pose.PoseAnalyzer` writes them.
    """
    if not analysis:
        return ContentHints()
    pose = analysis.get("pose") or {}
    track = tuple(pose_track(pose.get("track") or ()))
    cuts_section = analysis.get("scene_cuts") or {}
    cuts = tuple(float(t) for t in (cuts_section.get("times") or ()))
    bbox = pose.get("bbox")
    subject = tuple(float(v) for v in bbox) if bbox and len(bbox) == 4 and min(bbox) >= 0 else None
    lines = [tuple(float(v) for v in row[:3]) for row in pose.get("torso_lines") or () if len(row) >= 3]
    line = pose.get("torso_line")
    if line and len(line) == 2:
        lines = [(0.0, float(line[0]), float(line[1]))]  # a still
    camera = (analysis.get("camera_shake") or {}).get("path")
    camera = camera if isinstance(camera, CameraPath) else None  # never in a report read back from JSON
    return ContentHints(track=track, cuts=cuts, subject=subject, shot=pose.get("shot"),  # type: ignore[arg-type]
                        torso_lines=tuple(lines), others=boxes_of(pose.get("others")),  # type: ignore[arg-type]
                        camera=camera)  # fmt: skip


def choose_window(
    info: MediaInfo,
    profile: Profile,
    orientation: str,
    options: FixOptions,
    hints: ContentHints,
    keyframes: Sequence[float] | None,
    frame: float,
    notes: list[str],
) -> tuple[float, float] | str | None:
    """(start, end) to keep, None to keep everything, or the reason no window works."""
    lim = profile.video
    duration = info.duration or 0.0
    cap = lim.duration_cap(orientation)
    shortest = lim.min_duration or 0.0
    if options.start is not None or options.end is not None:
        start = max(0.0, options.start or 0.0)
        if duration and start >= duration:
            return f"duration.too_short: --start {start:g} s is past the end of the {duration:.2f} s clip"
        end = options.end if options.end is not None else (start + cap if cap else duration)
        if cap is not None and end - start > cap + 1e-9:
            notes.append(f"--end {end:g} s is past the {cap:g} s cap: the window ends at {start + cap:g} s")
            end = start + cap
        end = min(end, duration) if duration else end
        if end - start < shortest - 1e-9:
            return (f"duration.too_short: the window {start:g}-{end:g} s is {end - start:.2f} s; "
                    f"{profile.name} needs at least {shortest:g} s")  # fmt: skip
        if start <= 1e-6 and end >= duration - 1e-6:
            return None
        return (start, end)
    if cap is None or duration <= cap + 1e-9:
        return None
    if options.window == "best" and (hints.track or hints.cuts):
        start, why = _best_start(duration, cap, hints, keyframes, frame)
        notes.append(why)
    else:
        start = 0.0
    return (start, start + cap)


def _best_start(
    duration: float, length: float, hints: ContentHints, keyframes: Sequence[float] | None, frame: float
) -> tuple[float, str]:
    """The window start with the fewest scene cuts inside, then the most torso-visible samples."""
    latest = duration - length
    keys = sorted({0.0, *(k for k in (keyframes or ()) if 0 <= k <= latest + 1e-9)})
    others = {s.time for s in hints.track} | set(hints.cuts) | {i * 0.5 for i in range(int(latest / 0.5) + 1)}
    candidates = sorted({*keys, *(min(max(0.0, t), latest) for t in others)})

    def score(start: float) -> tuple[int, int]:
        end = start + length
        cuts = sum(1 for c in hints.cuts if start + frame / 2 < c < end - frame / 2)
        seen = sum(1 for s in hints.track if start <= s.time < end and s.torso_visible)
        return (-cuts, seen)

    best = max(candidates, key=lambda s: (score(s), -s))
    top_cuts, top_seen = score(best)
    aligned = [k for k in keys if score(k)[0] == top_cuts and score(k)[1] >= KEYFRAME_PREFERENCE * top_seen]
    if aligned and best not in keys:
        best = min(aligned, key=lambda k: (-score(k)[1], k))
    cuts, seen = score(best)
    total = sum(1 for s in hints.track if s.torso_visible)
    return best, (
        f"window {best:.3f}-{best + length:.3f} s: {seen}/{total} torso-visible samples, "
        f"{-cuts} scene cut(s) inside"
    )


def subject_in(hints: ContentHints, window: tuple[float, float] | None) -> Box | None:
    """The union of the subject's boxes over the kept window (a still crop must hold all of them)."""
    boxes = [
        s.bbox for s in hints.track
        if s.bbox is not None and s.torso_visible and (window is None or window[0] <= s.time < window[1])
    ]  # fmt: skip
    if not boxes:
        return hints.subject
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
