"""A second opinion on how many people are in a frame: faces, from BlazeFace (full range).

The pose landmarker undercounts: with ``num_poses=4`` it found one person in two astronauts side
by side (and in astronaut + camera man). Candidates measured on the scikit-image photos and
composites of them (count found / true count; ms per call on 2 cores):

    image (true count)          pose(num_poses=4)  BlazeFace full range  BlazeFace short  HOG people
    astronaut 512x512 (1)       1   19 ms          1 (0.91)   6 ms       1   3 ms         1   29 ms
    camera 512x512 (1)          1                  1 (0.87)              1                0
    coffee 600x400 (0)          0                  0                     0                0
    astronaut x2 1024x512 (2)   1                  2 (0.84, 0.83)        0                0
    astronaut + camera (2)      1                  2 (0.84, 0.55)        0                0
    astronaut x3 1536x512 (3)   2                  3 (0.72, 0.67, 0.63)  0                0
    tiny astronaut 1920x1080(1) 0                  1 (0.73)              0                0
    camera x2 1024x512 (2)      1                  0                     0                0

OpenCV's Haar cascades are not shipped in this opencv-contrib build (``cv2.data`` is empty) and
``cv2.FaceDetectorYN`` needs a model file we do not have; HOG misses nearly everything that is not
a full standing body. BlazeFace full range (from the same mediapipe 0.10.21 wheel as the pose
model, built into the cache by :mod:`.posemodel`) is the only one that counts the composites, so
the count is the poses plus the faces no pose explains. It misses people seen from behind or in profile (camera x2),
which is why it is a second opinion and never the only one.

A face adds to the count only where no pose explains it (:func:`faces_beside`): BlazeFace found 4
faces in three astronauts side by side (two overlapping boxes on the middle one, whose photo was
mirrored), and a second "face" on the helmet in a small astronaut's lap; both noise, and both inside
a person the pose model had found. Overlapping faces are one face (:func:`distinct_faces`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .mediapipe_import import load_mediapipe

__all__ = ["FaceBox", "before_exit", "detect_faces", "distinct_faces", "faces_beside", "quiet_native_logs"]

log = logging.getLogger("preflight")

MIN_FACE_SCORE = 0.5
"""BlazeFace's own default; the weakest true face above was 0.55 (the camera man beside the
astronaut) and no false face scored above 0.5 on coffee or the darkened photos."""

SAME_FACE_IOU = 0.3
"""Two face boxes overlapping this much (or one's centre inside the other) are one face. The two
boxes on the mirrored astronaut: centre inside, IoU 0.4; faces of neighbours never overlap."""
BODY_MARGIN = 0.25
"""A face explained by a person's pose lies inside that person's box widened by this share of its
width on each side (the box is made of landmarks, so a face at its edge may stick out a little)."""

_first_detect_done = False
_detector = None
_detector_lock = threading.Lock()
_unavailable = False


@dataclass(frozen=True)
class FaceBox:
    """One face, in normalized frame coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float


def distinct_faces(faces: Sequence[FaceBox]) -> list[FaceBox]:
    """One box per face: of overlapping boxes, the highest-scoring one."""
    kept: list[FaceBox] = []
    for face in sorted(faces, key=lambda f: f.score, reverse=True):
        if not any(_same_face(face, other) for other in kept):
            kept.append(face)
    return kept


def _same_face(a: FaceBox, b: FaceBox) -> bool:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - ix * iy
    if union > 0 and ix * iy / union > SAME_FACE_IOU:
        return True
    return _centre_in(a, (b.x0, b.y0, b.x1, b.y1)) or _centre_in(b, (a.x0, a.y0, a.x1, a.y1))


def _centre_in(face: FaceBox, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (face.x0 + face.x1) / 2, (face.y0 + face.y1) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def faces_beside(
    faces: Sequence[FaceBox], bodies: Sequence[tuple[float, float, float, float]]
) -> list[FaceBox]:
    """The distinct faces no found person explains: each one is a person the pose model missed.

    ``bodies`` are the people's boxes (normalized). Trade-off: the face of a second person standing
    in front of or behind the first, inside the first one's box, is not counted; the masked
    recount and the pose model's own ``num_poses`` are what find such a person.
    """
    widened = [
        (x0 - BODY_MARGIN * (x1 - x0), y0, x1 + BODY_MARGIN * (x1 - x0), y1) for x0, y0, x1, y1 in bodies
    ]
    return [f for f in distinct_faces(faces) if not any(_centre_in(f, box) for box in widened)]


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence MediaPipe/TFLite's C++ chatter on stderr (fd 2) while a model loads.

    Loading prints a dozen INFO lines, and the sparse face model 46 "Sparsity tensors" warnings,
    straight to fd 2 where Python logging cannot filter them. ``PREFLIGHT_DEBUG=1`` keeps them.
    """
    from ..nativelog import is_filtering

    if os.environ.get("PREFLIGHT_DEBUG") == "1" or is_filtering():
        yield  # the process-wide filter drops these lines without muting other threads
        return
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreter): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _face_detector():
    """The process-wide BlazeFace detector, or None when its model cannot be had."""
    global _detector, _unavailable
    with _detector_lock:
        if _detector is None and not _unavailable:
            from .posemodel import face_model_path

            path = face_model_path()
            if path is None:
                _unavailable = True
                return None
            load_mediapipe()
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_path=str(path)),
                running_mode=vision.RunningMode.IMAGE,
                min_detection_confidence=MIN_FACE_SCORE,
            )
            with quiet_native_logs():
                _detector = vision.FaceDetector.create_from_options(options)
            # Close before interpreter teardown: MediaPipe's __del__ fails once its modules are gone.
            before_exit(_close_detector)
        return _detector


def before_exit(callback) -> None:
    """Run ``callback`` at exit *before* thread pools shut down: MediaPipe's close() dispatches
    through an executor, so plain atexit (which runs after) fails with "cannot schedule new
    futures after shutdown", and leaving it to ``__del__`` at teardown fails with a TypeError.
    ``threading._register_atexit`` is what concurrent.futures itself uses (private, so guarded)."""
    # Exit callbacks run last-registered-first: make sure concurrent.futures registered its own
    # shutdown before ours, so ours runs while the executors still accept work.
    import concurrent.futures.thread  # noqa: F401

    register = getattr(threading, "_register_atexit", None)

    def quietly() -> None:
        # RuntimeError: an executor already shut down; the process is ending anyway.
        with quiet_native_logs(), contextlib.suppress(RuntimeError):
            callback()

    if register is None:
        import atexit

        atexit.register(quietly)
    else:
        register(quietly)


def _close_detector() -> None:
    global _detector
    if _detector is not None:
        _detector.close()
        _detector = None


def detect_faces(rgb: np.ndarray) -> list[FaceBox] | None:
    """Faces in an upright uint8 RGB frame, largest first; None when no detector is available."""
    detector = _face_detector()
    if detector is None:
        return None
    import mediapipe as mp

    global _first_detect_done
    height, width = rgb.shape[:2]
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
    # The first inference prints LiteRT's "Input tensor memory is not aligned" line straight to fd 2.
    quiet = contextlib.nullcontext() if _first_detect_done else quiet_native_logs()
    with quiet:
        detections = detector.detect(image).detections
    _first_detect_done = True
    faces = []
    for found in detections:
        box = found.bounding_box
        score = found.categories[0].score if found.categories else 0.0
        if score < MIN_FACE_SCORE:
            continue
        faces.append(
            FaceBox(
                max(0.0, box.origin_x / width),
                max(0.0, box.origin_y / height),
                min(1.0, (box.origin_x + box.width) / width),
                min(1.0, (box.origin_y + box.height) / height),
                float(score),
            )
        )
    faces.sort(key=lambda f: (f.x1 - f.x0) * (f.y1 - f.y0), reverse=True)
    return faces
