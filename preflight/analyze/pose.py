"""Pose gates: one clearly visible person whose head, shoulders and torso show.

The door to the pose modules, where callers have always found these names. Each module below it
imports only the ones under it:

- :mod:`.pose_findings`: observations -> the ``analysis.pose`` metrics and the ``pose.*`` findings
  (:func:`analyze_image_pose`, :class:`PoseAnalyzer`, :func:`clip_metrics`);
- :mod:`.pose_looks`: :func:`estimate_pose`, the whole frame first, then second looks (crops,
  faces, tiles for small people, the masked recount);
- :mod:`.pose_landmarks`: the model (:class:`PoseEstimator`, MediaPipe's Tasks ``PoseLandmarker``)
  and what it saw (:func:`observe` -> :class:`PoseObservation`, pure).

Pixels must arrive upright: the caller applies EXIF orientation (:func:`load_upright_rgb`) and the
clip's display rotation (``frames.iter_samples`` does) before calling anything here.
"""

from __future__ import annotations

# __all__ names the public ones; the rest (clip_metrics, the landmark indices and thresholds,
# _working) stay importable from here as they always were.
from .pose_findings import PoseAnalyzer, analyze_image_pose, clip_metrics  # noqa: F401
from .pose_landmarks import (  # noqa: F401
    CHEST_BELOW_SHOULDERS,
    INSIDE_MARGIN,
    L_EYE,
    L_HIP,
    L_SHOULDER,
    MAX_POSES,
    NOSE,
    R_EYE,
    R_HIP,
    R_SHOULDER,
    SHOT_TYPES,
    VISIBLE_MIN,
    WORK_SIDE,
    PoseEstimator,
    PoseObservation,
    _working,
    facing_of,
    load_upright_rgb,
    observe,
    shot_of,
)
from .pose_looks import estimate_pose

__all__ = ["PoseEstimator", "PoseObservation", "estimate_pose", "facing_of", "load_upright_rgb", "observe"]
__all__ += ["PoseAnalyzer", "analyze_image_pose"]  # from .pose_findings
