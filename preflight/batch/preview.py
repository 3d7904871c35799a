"""Preview images for the HTML report: a few frames of each file with the pose skeleton drawn.

In a ``batch --check-only`` with the content gates, a clip's preview is the contact sheet its check
collected during the one decode (:func:`sheet_data_uri`): the skeleton comes from the check's own
pose observations, nothing is decoded or posed twice.

Otherwise (images, ``-o``, ``check --format html``) :func:`preview_data_uri` makes one afterwards:
a clip is sampled by seeking (a few keyframe seeks, not a second full decode); an image is shown
upright. When the check ran the content gates (``pose=True``) each frame also gets the pose model's
landmarks, drawn by the contact-sheet code the analysis uses. Sheets are embedded as JPEG ``data:``
URIs so the report stays one self-contained file (about 30-90 kB per file).
"""

from __future__ import annotations

import base64
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..models import Item

__all__ = ["PREVIEW_TILES", "frame_data_uri", "preview_data_uri", "reframe_preview", "reframe_preview_for",
           "sample_frames", "sheet_data_uri"]

log = logging.getLogger("preflight")

PREVIEW_TILES = 4
"""Frames per clip: enough to see the framing change over the clip, small enough to embed by the thousand."""
THUMB_SIDE = 320
JPEG_QUALITY = 72
SHEET_WIDTH = 640
"""A check's contact sheet (12 tiles of 320 px, about 1000 px wide) is embedded at most this wide:
about 60 kB instead of 170 kB per file, still readable when the report's zoom shows it."""


def preview_data_uri(item: Item, *, pose: bool = True, tiles: int = PREVIEW_TILES) -> str | None:
    """The preview of a checked file as ``data:image/jpeg;base64,...``; None when it has no pixels."""
    if item.media is None or item.role not in ("image", "video"):
        return None
    from ..analyze.contact import SheetFrame

    frames = sample_frames(item.path, item.role, item.media.duration, tiles)
    if not frames:
        return None
    sheet = []
    for t, rgb in frames:
        landmarks, box, torso = _pose_of(rgb) if pose else (None, None, None)
        sheet.append(SheetFrame(time=t, rgb=rgb, box=box, torso_visible=torso, landmarks=landmarks))
    return _encode_sheet(item.path, sheet)


REFRAME_WORK_SIDE = 1280
"""The input frame a reframe preview looks at is first scaled to this long side: the pose model then sees
the crop window (a small subject enlarged) at about the size the output shows it."""


def reframe_preview(source: str, output: str, rect: tuple[int, int, int, int], shown: tuple[int, int],
                    at: float, offset: float = 0.0) -> str | None:  # fmt: skip
    """Before and after a ``--reframe`` crop, side by side, as a JPEG ``data:`` URI: the input's frame at
    ``at + offset`` seconds with the crop window drawn and the skeleton the pose model sees inside it, and
    the output's frame at ``at`` with its skeleton. ``rect`` is the crop (x, y, w, h) in the input's
    ``shown`` (displayed) pixels; ``offset`` where the output starts in the input (a trim). None when a
    frame cannot be had."""
    from ..analyze.contact import SheetFrame

    before = _frame_rgb(source, at + offset, REFRAME_WORK_SIDE)
    after = _frame_rgb(output, at, THUMB_SIDE)
    if before is None or after is None:
        return None
    sx, sy = shown
    box = (rect[0] / sx, rect[1] / sy, (rect[0] + rect[2]) / sx, (rect[1] + rect[3]) / sy)
    landmarks = _pose_inside(before, box)
    first = SheetFrame(time=at + offset, rgb=_thumb(before), box=box, torso_visible=True, landmarks=landmarks)
    seen, _, torso = _pose_of(after)
    second = SheetFrame(time=at, rgb=after, box=None, torso_visible=torso, landmarks=seen)
    return _encode_sheet(f"{Path(source).name} -> {Path(output).name}", [first, second])


def reframe_preview_for(result: Any) -> str | None:
    """:func:`reframe_preview` of a :class:`preflight.fix.FixResult` whose plan reframed a clip (mid-output);
    None for any other result."""
    from ..fix.ops import Reframe, Trim

    plan = result.plan
    op = plan.find(Reframe) if plan is not None else None
    after = result.after
    if op is None or plan.role != "video" or not result.output or after is None or after.media is None:
        return None
    trim = plan.find(Trim)
    at = (after.media.duration or 0.0) / 2
    offset = trim.start if trim else 0.0
    try:  # a window that follows is drawn where it is at that moment
        return reframe_preview(result.path, result.output, op.rect_at(at + offset), op.source, at, offset)
    except Exception as exc:  # a preview is a nicety: never lose the result for it
        log.info("no reframe preview for %s: %s", result.path, exc)
        return None


def _frame_rgb(path: str, t: float, side: int) -> np.ndarray | None:
    """The upright RGB frame shown at ``t`` seconds, its long side at most ``side``."""
    import av

    from ..errors import map_av_errors

    with map_av_errors(path), av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        frame = _frame_at(container, stream, origin, max(0.0, t))
        if frame is None:
            return None
        rotation = round((frame.rotation or 0) / 90) * 90 % 360
        scale = min(1.0, side / max(frame.width, frame.height, 1))
        w, h = max(2, round(frame.width * scale)), max(2, round(frame.height * scale))
        rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
        k = (rotation // 90) % 4
        return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _pose_inside(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The largest person's landmarks found inside ``box`` (normalized) of ``rgb``, in whole-frame coordinates."""
    height, width = rgb.shape[:2]
    x0, y0 = int(box[0] * width), int(box[1] * height)
    x1, y1 = max(x0 + 2, int(box[2] * width)), max(y0 + 2, int(box[3] * height))
    points, _, _ = _pose_of(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
    if points is None:
        return None
    points = points.copy()
    points[:, 0] = (x0 + points[:, 0] * (x1 - x0)) / width
    points[:, 1] = (y0 + points[:, 1] * (y1 - y0)) / height
    return points


def frame_data_uri(path: str, at: float, *, pose: bool = True) -> str | None:
    """The clip's frame at ``at`` seconds (upright, thumbnail size), the pose drawn, as a JPEG ``data:`` URI;
    None when no frame decodes there. ``preflight serve`` shows it beside the photo: the frame a provider
    compares the photo with is the first one of the window it is sent."""
    from ..analyze.contact import SheetFrame

    frames = _clip_frames(path, None, 1, times=(max(0.0, at),))
    if not frames:
        return None
    t, rgb = frames[0]
    landmarks, box, torso = _pose_of(rgb) if pose else (None, None, None)
    return _encode_sheet(path, [SheetFrame(time=t, rgb=rgb, box=box, torso_visible=torso, landmarks=landmarks)])


def sample_frames(
    path: str, role: str, duration: float | None, tiles: int = PREVIEW_TILES
) -> list[tuple[float, np.ndarray]]:
    """``(time, upright RGB thumbnail)`` pairs: one for an image, ``tiles`` spread over a clip."""
    if role == "image":
        from ..analyze import load_image_rgb

        return [(0.0, _thumb(load_image_rgb(path)))]
    return _clip_frames(path, duration, tiles)


def _clip_frames(
    path: str, duration: float | None, tiles: int, times: tuple[float, ...] | None = None
) -> list[tuple[float, np.ndarray]]:
    """Frames ``tiles`` spread over the clip (their middles), or at ``times`` (seconds) when given."""
    import av

    from ..errors import map_av_errors

    out: list[tuple[float, np.ndarray]] = []
    span = duration if duration and duration > 0 else 1.0
    targets = times if times is not None else tuple(span * (i + 0.5) / tiles for i in range(tiles))
    with map_av_errors(path), av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        for target in targets:
            frame = _frame_at(container, stream, origin, target)
            if frame is None:
                continue
            rotation = round((frame.rotation or 0) / 90) * 90 % 360
            w, h = _thumb_size(frame.width, frame.height)
            rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
            k = (rotation // 90) % 4  # the same display-matrix convention as analyze.frames
            out.append((target, np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb))
    return out


def _frame_at(container, stream, origin: float, target: float):  # type: ignore[no-untyped-def]
    """The first frame at or after ``target`` seconds: seek to the keyframe before, decode forward
    (past damaged packets, as the check's decode pass does)."""
    from ..media.damage import PacketDecoder, demux_past_damage

    if stream.time_base:
        container.seek(int((origin + target) / stream.time_base), stream=stream, backward=True)
    decoder = PacketDecoder(stream, origin)

    def frames():  # type: ignore[no-untyped-def]
        for packet in demux_past_damage(container, [stream], decoder.damage):
            yield from decoder.decode(packet)
        yield from decoder.drain()

    last = None
    for frame in frames():
        last = frame
        if frame.time is None or frame.time - origin >= target - 1e-3:
            return frame
    return last


def _thumb_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, THUMB_SIDE / max(width, height, 1))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _thumb(rgb: np.ndarray) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    size = _thumb_size(w, h)
    if size == (w, h):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _pose_of(rgb: np.ndarray) -> tuple[np.ndarray | None, tuple[float, ...] | None, bool | None]:
    """Landmarks, box and torso flag of the largest person in one thumbnail (Nones without one)."""
    from ..errors import PreflightError

    try:
        from ..analyze.pose import PoseEstimator, observe

        poses = PoseEstimator.shared("image").landmarks(rgb)
    except (PreflightError, ImportError) as exc:
        log.debug("preview without pose: %s", exc)
        return None, None, None
    if not poses:
        return None, None, None
    largest = max(poses, key=_spread)
    obs = observe([largest], None, rgb.shape[1], rgb.shape[0])
    return largest, obs.bbox, obs.torso_visible


def _spread(points: np.ndarray) -> float:
    xy = points[:, :2]
    extent = xy.max(axis=0) - xy.min(axis=0)
    return float(extent[0] * extent[1])


def sheet_data_uri(sheet_png: str | os.PathLike[str], max_width: int = SHEET_WIDTH) -> str:
    """A contact sheet PNG (as :func:`preflight.api.check_one` writes it) as a JPEG ``data:`` URI."""
    from PIL import Image

    with Image.open(sheet_png) as sheet:
        rgb = sheet.convert("RGB")
    if rgb.width > max_width:
        rgb = rgb.resize((max_width, max(1, round(rgb.height * max_width / rgb.width))), Image.Resampling.BILINEAR)
    return _jpeg_data_uri(rgb)


def _encode_sheet(path: str, frames: list) -> str:
    return _jpeg_data_uri(_sheet_image(path, frames))


def _sheet_image(path: str, frames: list):  # type: ignore[no-untyped-def]
    """``frames`` drawn as the check's contact sheet draws them (titled with ``path``'s name), as a PIL image."""
    from PIL import Image

    from ..analyze.contact import write_contact_sheet

    fd, tmp = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        write_contact_sheet(path, frames, tmp)
        with Image.open(tmp) as sheet:
            return sheet.convert("RGB")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _jpeg_data_uri(rgb) -> str:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
