"""Content analysis: pose, motion and quality metrics from one decode of a clip (or one image).

    analyze_clip(path, media, gates)   -> ({analyzer name: metrics}, findings)   one decode pass
    analyze_image(path, media, gates)  -> ({analyzer name: metrics}, findings)   pose, exposure, blur

The analyzers (``pose``, ``scene_cuts``, ``camera_shake``, ``exposure``, ``blur``) each live in their
own module behind the :class:`~preflight.analyze.base.Analyzer` interface; ``frames.py`` owns the
single decode loop. Pose needs the MediaPipe model: when it is missing the rest still runs and an
info finding says pose was skipped.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import numpy as np

from ..errors import ModelError, ProbeError, memory_exhausted, out_of_memory
from ..media.damage import damage_findings
from ..models import Finding, MediaInfo, Severity
from .base import AnalysisResult, Analyzer, FrameSample
from .contact import ContactSheetCollector, SheetFrame, write_contact_sheet
from .frames import WORK_SIDE, decode_pass, run_analyzers
from .motion import SceneCutAnalyzer, ShakeAnalyzer
from .quality import BlurAnalyzer, ExposureAnalyzer, analyze_image_quality

__all__ = [
    "WORK_SIDE",
    "AnalysisResult",
    "Analyzer",
    "FrameSample",
    "SheetFrame",
    "analyze_clip",
    "analyze_image",
    "clip_analyzers",
    "load_image_rgb",
    "run_analyzers",
    "write_contact_sheet",
]

log = logging.getLogger("preflight")

IMAGE_DECODE_SIDE = 2048
"""Images are analysed at a reduced size, at least this long side: pose works at 640 px and blur at
640 px, so a 50 MP photo need not be kept in full. JPEGs are decoded at a reduced DCT scale; other
formats are decoded once and reduced strip by strip (:func:`_reduced_rgb`)."""
REDUCE_STRIP_ROWS = 16
"""Output rows made per strip of the full picture: a strip's copies stay a few MB."""


def _pose_analyzer(gates: Any, every_sample: bool = False) -> tuple[Analyzer | None, Finding | None]:
    """The pose analyzer, or why there is none (an info finding)."""
    try:
        from . import pose as pose_module
        from .posemodel import ensure_pose_model
    except ImportError as exc:
        return None, _pose_skipped(f"the pose analyzer is not available ({_import_failure(exc)})")
    try:
        ensure_pose_model()
    except ModelError as exc:
        return None, _pose_skipped(str(exc))
    return pose_module.PoseAnalyzer(gates, defer=0) if every_sample else pose_module.PoseAnalyzer(gates), None


def _import_failure(exc: ImportError) -> str:
    """Why the pose modules would not import; a loader out of memory (``failed to map segment`` under a
    lowered ``RLIMIT_AS``) is raised as :class:`MemoryExhausted`, not reported as a missing analyzer."""
    if out_of_memory(exc):
        raise memory_exhausted(exc) from exc
    return str(exc)


def _pose_skipped(why: str) -> Finding:
    return Finding(
        "pose.unavailable",
        Severity.INFO,
        f"pose was not checked: {why}",
        extra={"hint": "preflight models status / preflight models install"},
    )


def _latest_observation(pose: Analyzer | None) -> Any:
    observations = getattr(pose, "observations", None)
    return observations[-1][1] if observations else None


def clip_analyzers(
    gates: Any,
    *,
    pose: bool = True,
    duration: float | None = None,
    contact_sheet: bool = False,
    every_sample: bool = False,
) -> tuple[list[Analyzer], list[Finding]]:
    """Every analyzer a clip check runs, in order (pose first: the others read its latest box).

    ``every_sample``: run the pose model on every pose sample, none inferred from its neighbours
    (:mod:`.pose_cadence`); a contact sheet implies it, since it draws what the model saw.
    """
    notes: list[Finding] = []
    pose_analyzer: Analyzer | None = None
    if pose:
        pose_analyzer, note = _pose_analyzer(gates, every_sample or contact_sheet)
        if note is not None:
            notes.append(note)

    def subject_box() -> tuple[float, float, float, float] | None:
        return getattr(_latest_observation(pose_analyzer), "bbox", None)

    box = subject_box if pose_analyzer is not None else None
    analyzers: list[Analyzer] = [] if pose_analyzer is None else [pose_analyzer]
    analyzers += [
        SceneCutAnalyzer(gates),
        ShakeAnalyzer(gates, subject_track=pose_analyzer.boxes() if pose_analyzer is not None else None),
        ExposureAnalyzer(gates),
        BlurAnalyzer(gates, subject_box=box, own_rgb=pose_analyzer is None),
    ]
    if contact_sheet:
        analyzers.append(
            ContactSheetCollector(
                duration,
                latest_pose=lambda: _latest_observation(pose_analyzer),
                own_rgb=pose_analyzer is None,
            )
        )
    return analyzers, notes


def analyze_clip(
    path: str | os.PathLike[str],
    media: MediaInfo | None,
    gates: Any = None,
    *,
    pose: bool = True,
    contact_sheet: str | os.PathLike[str] | None = None,
    every_frame: bool = False,
    every_sample: bool | None = None,
) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    """Decode ``path`` once and run every content analyzer on it.

    Non-reference pictures are not decoded unless ``every_frame`` (``frames.iter_samples``): the
    analyzers see about half the frames of a clip with B-frames, each exact; damage inside a skipped
    picture is not looked for (``fix`` decodes every frame of a clip it may stream-copy). Nor does
    the pose model run on the samples of a steady stretch unless ``every_sample`` (default: as
    ``every_frame``): they are inferred from the observations either side (:mod:`.pose_cadence`).

    Returns ``({analyzer name: metrics}, findings)``; ``analysis["decode"]`` says what the decode
    pass did. With ``contact_sheet`` a PNG of sampled frames (pose drawn) is written there too.
    Damaged packets are skipped and become ``video.corrupt_frames`` / ``audio.corrupt_frames``
    warnings; a clip too damaged to judge raises :class:`ProbeError` (``decode.error``).
    """
    duration = media.duration if media is not None else None
    analyzers, notes = clip_analyzers(
        gates,
        pose=pose,
        duration=duration,
        contact_sheet=contact_sheet is not None,
        every_sample=every_frame if every_sample is None else every_sample,
    )
    results, stats = decode_pass(str(path), analyzers, every_frame=every_frame)
    # Skipped damage becomes warnings; a mostly undecodable clip raises decode.error here.
    damage = damage_findings(str(path), stats.video_damage, stats.audio_damage)
    if contact_sheet is not None:
        sheet = next(a for a in analyzers if isinstance(a, ContactSheetCollector))
        write_contact_sheet(path, sheet.frames, contact_sheet)
    analysis: dict[str, Any] = {r.name: dict(r.metrics) for r in results}
    analysis["decode"] = stats.as_metrics()
    findings = [f for r in results for f in r.findings]
    return analysis, (*damage, *findings, *notes)


def load_image_rgb(path: str | os.PathLike[str], max_pixels: int | None = None) -> np.ndarray:
    """Upright RGB pixels of an image (EXIF orientation applied), refusing decompression bombs.

    The size is read from the header before any pixel is decoded; JPEGs are decoded at a reduced
    DCT scale when they are much larger than analysis needs. An HDR still (HEIC/AVIF/PNG tagged HLG
    or PQ) comes tone-mapped to SDR, at most ``IMAGE_DECODE_SIDE`` on its long side.
    """
    from PIL import ExifTags, Image, UnidentifiedImageError

    from ..color.photo import sdr_still, still_source
    from ..media.probe import MAX_IMAGE_PIXELS

    limit = max_pixels or MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # We apply our own limit below; Pillow's warning is not the user's business.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            if image.width * image.height > limit:
                raise ProbeError(
                    f"{path}: {image.width}x{image.height} is more than {limit / 1e6:.0f} MP; "
                    "refusing to decode it (decompression-bomb guard)",
                    "image.too_many_pixels",
                )
            fmt = (image.format or "").lower()
            source = still_source(image, "heic" if fmt == "heif" else fmt, path)
            if source is not None:  # HDR: the SDR picture fix would deliver, at analysis size
                return np.asarray(sdr_still(path, source, max_side=IMAGE_DECODE_SIDE))
            if image.format == "JPEG":
                image.draft("RGB", (IMAGE_DECODE_SIDE, IMAGE_DECODE_SIDE))
            turn = _upright_turn(image.getexif().get(ExifTags.Base.Orientation, 1))
            small = _reduced_rgb(image, max(1, max(image.size) // IMAGE_DECODE_SIDE))
            return np.asarray(small.transpose(turn) if turn is not None else small)
    except Image.DecompressionBombError as exc:
        raise ProbeError(f"{path}: {exc}", "image.too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, ProbeError):
            raise
        if out_of_memory(exc):
            raise memory_exhausted(exc, str(path)) from exc
        raise ProbeError(f"{path}: cannot decode the image ({exc})", "decode.error") from exc


def _upright_turn(orientation: Any) -> Any:
    """The ``Image.transpose`` method that makes a picture of this EXIF orientation upright (Pillow's
    ``exif_transpose`` table), or None: applied to the reduced copy, which has no EXIF of its own."""
    from PIL import Image

    t = Image.Transpose
    turns = {2: t.FLIP_LEFT_RIGHT, 3: t.ROTATE_180, 4: t.FLIP_TOP_BOTTOM, 5: t.TRANSPOSE, 6: t.ROTATE_270,
             7: t.TRANSVERSE, 8: t.ROTATE_90}  # fmt: skip
    return turns.get(orientation) if isinstance(orientation, int) else None


GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "F")


def _reduced_rgb(image: Any, factor: int) -> Any:
    """``image`` as RGB reduced ``factor`` times (box average; ``factor`` 1: as is).

    The picture is decoded once in full (no format but JPEG can decode smaller); the RGB conversion,
    alpha over white and the reduction then go strip by strip, so no full-size copy is ever made. A
    13000x13000 PNG peaked at 3.0 GB (a decode, an RGB copy, an array, float greys for blur), now at
    the decode alone.
    """
    from PIL import Image

    if factor <= 1:
        return _to_rgb(image)
    image.load()
    width, height = image.size
    top = _grey_top(image)
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = REDUCE_STRIP_ROWS * factor
    for y in range(0, height, rows):
        strip = image.crop((0, y, width, min(height, y + rows)))
        out.paste(_to_rgb(strip, top).reduce(factor), (0, y // factor))
    return out


def _grey_top(image: Any) -> float | None:
    """The brightest value of a 16-bit or float grey picture (its 8-bit scale), else None."""
    if image.mode not in GREY_MODES:
        return None
    return float(image.getextrema()[1]) or 1.0


def _to_rgb(image: Any, top: float | None = None) -> Any:
    """RGB pixels of ``image``; ``top``: the brightest grey of the whole picture ``image`` is a strip of."""
    from PIL import Image

    if image.mode in GREY_MODES:
        # 16-bit/float greys: scale to 8 bits (Pillow's convert would clip at 255).
        values = np.asarray(image, dtype=np.float32)
        top = top or float(values.max()) or 1.0
        grey = np.clip(values * (255.0 / top if top > 255 else 1.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels shown over white, as providers' previews do.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def analyze_image(
    path: str | os.PathLike[str],
    media: MediaInfo | None,
    gates: Any = None,
    *,
    pose: bool = True,
) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    """Pose, exposure and blur of one image (upright, first frame of an animation)."""
    rgb = load_image_rgb(path)
    results: list[AnalysisResult] = []
    notes: list[Finding] = []
    box = None
    if pose:
        try:
            from .pose import analyze_image_pose
            from .posemodel import ensure_pose_model

            ensure_pose_model()
        except ImportError as exc:
            notes.append(_pose_skipped(f"the pose analyzer is not available ({_import_failure(exc)})"))
        except ModelError as exc:
            notes.append(_pose_skipped(str(exc)))
        else:
            pose_result = analyze_image_pose(rgb, gates)
            results.append(pose_result)
            bbox = pose_result.metrics.get("bbox")
            box = tuple(bbox) if bbox else None
    results += analyze_image_quality(rgb, gates, box=box)  # type: ignore[arg-type]
    analysis = {r.name: dict(r.metrics) for r in results}
    findings = [f for r in results for f in r.findings]
    return analysis, (*findings, *notes)
