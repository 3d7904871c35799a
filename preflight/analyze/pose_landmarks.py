"""The pose model and what it saw: landmarks in, a :class:`PoseObservation` out.

:class:`PoseEstimator` wraps MediaPipe's Tasks ``PoseLandmarker`` (IMAGE mode for images, VIDEO
mode for clips), loaded once per process. :func:`observe` turns its landmarks into a
:class:`PoseObservation` (pure). Above this module: :mod:`.pose_looks` (:func:`~.pose_looks.estimate_pose`,
the whole frame and then second looks), :mod:`.pose_findings` (observations -> metrics and findings)
and :mod:`.pose`, the door every caller imports these names from.

Pixels must arrive upright: the caller applies EXIF orientation (``ImageOps.exif_transpose``, as
:func:`load_upright_rgb` does) and the clip's display rotation (``frames.iter_samples`` does) before
calling anything here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .mediapipe_import import load_mediapipe
from .people import FaceBox, before_exit, distinct_faces, faces_beside, quiet_native_logs

__all__ = ["SHOT_TYPES", "PoseEstimator", "PoseObservation", "facing_of", "load_upright_rgb", "observe", "shot_of"]

log = logging.getLogger("preflight")

# BlazePose landmark indices (the person's own left/right).
NOSE, L_EYE, R_EYE = 0, 2, 5
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 11, 12, 23, 24
L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 25, 26, 27, 28

SHOT_TYPES = ("close-up", "half-body", "full-body")
"""How much of the person a frame shows, tightest first, from the landmarks seen (:func:`shot_of`):
``full-body`` shows an ankle (and a knee), ``half-body`` a hip, ``close-up`` only the head and
shoulders. The astronaut photo is a close-up (hips at its bottom edge, visibility 0.2-0.3); the
camera man is half-body (hips 0.95, a knee 0.68, the ankles outside the frame)."""

VISIBLE_MIN = 0.5
"""Landmark visibility counted as seen. Astronaut: head/shoulder landmarks 0.94-0.999."""
INSIDE_MARGIN = 0.03
"""...and it must lie inside the frame by this much (normalized). The trap: a face-only crop of
the astronaut reports shoulders with visibility 0.97-0.99 at the very edge (x=0.021) or outside."""
CHEST_BELOW_SHOULDERS = 0.5
"""Without hips, the torso counts as visible when the frame extends below the shoulder line by at
least this share of the shoulder width (a chest shows). Astronaut: 1.4 shoulder widths below."""
MAX_POSES = 4
"""People one IMAGE-mode call can find. A clip's VIDEO-mode tracker follows one (``num_poses=1``): with
more, MediaPipe runs its person detector on every frame to look for them (measured at 640 px: 31 ms a
sample against 18), and the second person of a clip is found by the masked recount every third sample
and by the faces (:mod:`.pose_looks`, :func:`.pose_findings.people_counts`)."""
WORK_SIDE = 640
"""Frames are scaled to this long side before pose: the model sees 224/256 px anyway, and a 1080p
frame costs ~4 ms more per call in conversion alone (measured; see the module's tests/bench)."""


@dataclass(frozen=True)
class PoseObservation:
    """What the pose model (and the face second opinion) saw in one frame."""

    people: int
    """Best count: the poses found, plus the faces no pose explains (see :mod:`.people`)."""
    poses: int
    faces: int | None
    """Distinct faces found; None when the face detector is unavailable."""
    head_visible: bool
    """Nose and an eye inside the frame (largest person)."""
    shoulders_visible: bool
    torso_visible: bool
    """Both shoulders, and both hips or a chest's height of frame below the shoulders."""
    bbox: tuple[float, float, float, float] | None
    """Largest person's box (x0, y0, x1, y1), normalized, clipped to the frame."""
    subject_size: float
    """Area of ``bbox`` as a share of the frame."""
    facing: str | None
    """``front``, ``back``, ``left`` or ``right`` (as the viewer sees it), None without a person."""
    second_look: str | None = None
    """``crop``, ``face``, ``near`` or ``tiles`` when the person was only found on a second look
    (see :mod:`.pose_looks`), else None."""
    landmarks: tuple[tuple[float, float, float], ...] | None = None
    """The largest person's 33 BlazePose landmarks as (x, y, visibility), x and y normalized to
    the whole frame (second looks mapped back), rounded to 3 decimals (a pixel at 1080p); for
    drawing the skeleton (:mod:`.contact`). None without a person."""
    recounted: bool = False
    """The masked recount ran here, so ``people`` includes anyone beside the first person (clips
    run it on every third sample only; :func:`.pose_findings.clip_metrics` carries it over)."""
    inferred: bool = False
    """Not observed: a clip's sample inside a steady stretch, given the state the observations
    either side agreed on and a box between theirs (see :mod:`.pose_cadence`)."""
    others: tuple[tuple[float, float, float, float], ...] = ()
    """Boxes (normalized, like ``bbox``) of the people beside the largest one: the other poses, and the
    faces no pose explains widened to a head-and-shoulders box. What ``fix --reframe`` cuts out."""
    shot: str | None = None
    """The largest person's shot type, one of :data:`SHOT_TYPES` (None without a person)."""
    torso_line: tuple[float, float] | None = None
    """(shoulders y, hips y) of the largest person, normalized; the model places the hips even when
    they are outside the frame (then y > 1). Where ``prepare --reframe`` cuts a wider shot."""

    @property
    def person(self) -> bool:
        return self.poses > 0


# --- the model -----------------------------------------------------------------------------------


class PoseEstimator:
    """A Tasks ``PoseLandmarker`` in IMAGE or VIDEO mode. Get one with :meth:`shared`."""

    _cache: ClassVar[dict[tuple[str, str], PoseEstimator]] = {}
    _live: ClassVar[set[PoseEstimator]] = set()
    """Every estimator not yet closed, held strongly: closed before interpreter teardown, whoever
    forgot it. Never left to the garbage collector: ``PoseLandmarker.__del__`` at teardown prints a
    TypeError traceback, and run by a collection in the middle of creating another landmarker it
    waits on MediaPipe's dispatcher forever (seen: a check hung after a clip whose decode failed)."""
    _live_lock = threading.Lock()
    _exit_hook = False
    _lock = threading.Lock()

    def __init__(self, model_path: str, mode: str = "image") -> None:
        load_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        running = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=model_path),
            running_mode=running,
            num_poses=1 if mode == "video" else MAX_POSES,
        )
        with quiet_native_logs():
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self.mode = mode
        self._last_ms = -1
        self._calls = 0
        with PoseEstimator._live_lock:
            if not PoseEstimator._exit_hook:
                before_exit(PoseEstimator._close_all)
                PoseEstimator._exit_hook = True
            PoseEstimator._live.add(self)

    @classmethod
    def shared(cls, mode: str = "image", model_path: str | None = None) -> PoseEstimator:
        """The process-wide estimator for (model, mode); VIDEO ones are per clip (see reset)."""
        from .posemodel import ensure_pose_model

        path = model_path or ensure_pose_model().path
        with cls._lock:
            key = (path, mode)
            if key not in cls._cache:
                cls._cache[key] = cls(path, mode)
            return cls._cache[key]

    @classmethod
    def for_clip(cls, model_path: str | None = None) -> PoseEstimator:
        """A fresh VIDEO-mode estimator: its tracking state and timestamps belong to one clip."""
        from .posemodel import ensure_pose_model

        return cls(model_path or ensure_pose_model().path, "video")

    def close(self) -> None:
        """Release the landmarker (idempotent)."""
        self._landmarker.close()
        with PoseEstimator._live_lock:
            PoseEstimator._live.discard(self)

    @classmethod
    def _close_all(cls) -> None:
        with cls._lock:
            cls._cache.clear()
        with cls._live_lock:
            live = list(cls._live)
        for estimator in live:
            estimator.close()

    def landmarks(self, rgb: np.ndarray, time_s: float | None = None) -> list[np.ndarray]:
        """(33, 3) arrays of x, y (normalized) and visibility, one per person found."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        # The first call prints C++ warnings of its own (NORM_RECT, tensor alignment): keep quiet.
        quiet = quiet_native_logs() if self._calls == 0 else contextlib.nullcontext()
        self._calls += 1
        with quiet:
            if self.mode == "video":
                # VIDEO mode needs strictly increasing integer milliseconds.
                ms = max(round((time_s or 0.0) * 1000), self._last_ms + 1)
                self._last_ms = ms
                result = self._landmarker.detect_for_video(image, ms)
            else:
                result = self._landmarker.detect(image)
        return [
            np.array([(p.x, p.y, p.visibility or 0.0) for p in pose], dtype=np.float32)
            for pose in result.pose_landmarks
        ]


# --- landmarks -> observation (pure) -------------------------------------------------------------


def _seen(points: np.ndarray, index: int) -> bool:
    x, y, vis = points[index]
    inside = INSIDE_MARGIN <= x <= 1 - INSIDE_MARGIN and INSIDE_MARGIN <= y <= 1 - INSIDE_MARGIN
    return bool(vis >= VISIBLE_MIN and inside)


def _bbox(points: np.ndarray) -> tuple[float, float, float, float]:
    keep = points[points[:, 2] >= VISIBLE_MIN]
    if len(keep) == 0:
        keep = points
    xy = np.clip(keep[:, :2], 0.0, 1.0)
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    # Landmarks stop at the eyes and ears: add half the eye-to-shoulder height above for the skull.
    head = max(0.0, float(points[[L_SHOULDER, R_SHOULDER], 1].mean() - points[NOSE, 1]))
    y0 = max(0.0, y0 - 0.5 * head)
    return float(x0), float(y0), float(x1), float(y1)


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def facing_of(points: np.ndarray, aspect: float = 1.0) -> str | None:
    """Which way the person faces, as the viewer sees it: front, back, left or right.

    Facing the camera, the person's left shoulder appears on the image's right. When the
    shoulders nearly overlap (a profile), the nose says which side the face points to.
    """
    ls, rs, nose = points[L_SHOULDER], points[R_SHOULDER], points[NOSE]
    if min(ls[2], rs[2]) < VISIBLE_MIN:
        return None
    dx = (ls[0] - rs[0]) * aspect  # in units of frame height
    width = abs(dx)
    torso = abs(float(points[[L_HIP, R_HIP], 1].mean() - points[[L_SHOULDER, R_SHOULDER], 1].mean()))
    mid = (ls[0] + rs[0]) / 2 * aspect
    # Shoulders narrower than 35% of the torso length read as a profile (astronaut: 1.4, front).
    if torso > 0 and width < 0.35 * torso:
        return "left" if nose[0] * aspect < mid else "right"
    if dx > 0:
        return "front"
    return "back"


LEGS_BELOW_HIPS = 0.8
"""A full body's ankles lie at least this many torso lengths (shoulders to hips) below the hips: a
standing leg is about 1.6, a seated one about 1. The astronaut pasted small on a background got ankles
"seen" 0.5 torso lengths under her hips (legs folded into the photo's edge): not a full body."""


FRAME_BELOW_HIPS = 1.15
"""A half body's frame reaches this many torso lengths below the shoulders: the hips and a little of the
thighs. The astronaut's photo ends at her hips (1.02: a close-up, though a tall crop of it shows the hips
"seen"); the camera man's goes on to his knees (2.15)."""


def shot_of(points: np.ndarray) -> str:
    """The shot type (:data:`SHOT_TYPES`) one person's landmarks show."""
    shoulders, hips = _torso_line(points)
    ankles = [i for i in (L_ANKLE, R_ANKLE) if _seen(points, i)]
    legs = any(points[i, 1] - hips >= LEGS_BELOW_HIPS * (hips - shoulders) for i in ankles) and hips > shoulders
    if legs and (_seen(points, L_KNEE) or _seen(points, R_KNEE)):
        return "full-body"
    below = (1.0 - shoulders) / (hips - shoulders) if hips > shoulders else 0.0
    if (_seen(points, L_HIP) or _seen(points, R_HIP)) and below >= FRAME_BELOW_HIPS:
        return "half-body"
    return "close-up"


def _torso_line(points: np.ndarray) -> tuple[float, float]:
    shoulders = float(points[[L_SHOULDER, R_SHOULDER], 1].mean())
    hips = float(points[[L_HIP, R_HIP], 1].mean())
    return round(shoulders, 4), round(hips, 4)


def face_body_box(face: FaceBox) -> tuple[float, float, float, float]:
    """The head and shoulders around a face (3 faces wide, 4.5 tall, as :func:`.pose_looks.regions`
    looks there for a person), clipped to the frame: where a person seen only by a face stands."""
    fw, fh = face.x1 - face.x0, face.y1 - face.y0
    cx = (face.x0 + face.x1) / 2
    box = (cx - 1.5 * fw, face.y0 - 0.5 * fh, cx + 1.5 * fw, face.y0 + 4.0 * fh)
    return tuple(round(min(1.0, max(0.0, v)), 4) for v in box)  # type: ignore[return-value]


def observe(
    poses: Sequence[np.ndarray],
    faces: Sequence[FaceBox] | None,
    width: int,
    height: int,
    second_look: str | None = None,
) -> PoseObservation:
    """Landmarks of every person found (and faces) -> what the gates need, for the largest person."""
    face_count = None if faces is None else len(distinct_faces(faces))
    boxes = [_bbox(p) for p in poses]
    lone_faces = faces_beside(faces or [], boxes)
    people = len(poses) + len(lone_faces)
    if not poses:
        others = tuple(face_body_box(f) for f in lone_faces)
        return PoseObservation(people, 0, face_count, False, False, False, None, 0.0, None, others=others)
    largest = max(range(len(poses)), key=lambda i: _area(boxes[i]))
    others = tuple(
        tuple(round(v, 4) for v in b) for i, b in enumerate(boxes) if i != largest
    ) + tuple(face_body_box(f) for f in lone_faces)
    points, box = poses[largest], boxes[largest]
    head = _seen(points, NOSE) and (_seen(points, L_EYE) or _seen(points, R_EYE))
    shoulders = _seen(points, L_SHOULDER) and _seen(points, R_SHOULDER)
    hips = _seen(points, L_HIP) and _seen(points, R_HIP)
    shoulder_y = float(max(points[L_SHOULDER, 1], points[R_SHOULDER, 1]))
    shoulder_w = abs(float(points[L_SHOULDER, 0] - points[R_SHOULDER, 0])) * width / height
    chest = (1.0 - shoulder_y) >= CHEST_BELOW_SHOULDERS * max(shoulder_w, 0.05)
    torso = shoulders and (hips or chest)
    return PoseObservation(
        people=people,
        poses=len(poses),
        faces=face_count,
        head_visible=head,
        shoulders_visible=shoulders,
        torso_visible=torso,
        bbox=tuple(round(v, 4) for v in box),  # type: ignore[arg-type]
        subject_size=round(_area(box), 4),
        facing=facing_of(points, width / height),
        second_look=second_look,
        landmarks=tuple((round(float(x), 3), round(float(y), 3), round(float(v), 3)) for x, y, v in points[:, :3]),
        others=others,  # type: ignore[arg-type]
        shot=shot_of(points),
        torso_line=_torso_line(points),
    )


# --- pixels for the model ------------------------------------------------------------------------


def _working(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = WORK_SIDE / max(height, width)
    if scale >= 1.0:
        return rgb
    import cv2

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def load_upright_rgb(path: str) -> np.ndarray:
    """An image file as upright uint8 RGB: EXIF orientation applied, as every detector needs."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
