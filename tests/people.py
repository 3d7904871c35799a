"""Test images of people made from scikit-image's public-domain photos (nothing downloaded)."""

from __future__ import annotations

import functools

import numpy as np


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.dstack([image] * 3)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def astronaut() -> np.ndarray:
    """512x512: head, shoulders and torso of one person, facing the camera."""
    from skimage import data

    return _rgb(data.astronaut())


def camera() -> np.ndarray:
    """512x512 grey: a man with a tripod (upper body)."""
    from skimage import data

    return _rgb(data.camera())


def coffee() -> np.ndarray:
    """600x400: a cup of coffee, no person."""
    from skimage import data

    return _rgb(data.coffee())


def face_crop() -> np.ndarray:
    """The astronaut's head only: the shoulders sit on the bottom edge, no torso."""
    return np.ascontiguousarray(astronaut()[40:230, 140:330])


def side_by_side(*images: np.ndarray, gap: int = 0) -> np.ndarray:
    """Images next to each other (white padding to the tallest), optional grey gap between."""
    height = max(i.shape[0] for i in images)
    parts = []
    for n, image in enumerate(images):
        pad = np.full((height - image.shape[0], image.shape[1], 3), 255, np.uint8)
        parts.append(np.vstack([image, pad]))
        if gap and n < len(images) - 1:
            parts.append(np.full((height, gap, 3), 128, np.uint8))
    return np.ascontiguousarray(np.hstack(parts))


def pasted(image: np.ndarray, canvas=(1080, 1920), height_share=0.12, at=(0.45, 0.45)) -> np.ndarray:
    """``image`` scaled to ``height_share`` of a grey canvas (h, w), top-left at ``at`` (y, x)."""
    import cv2

    scale = canvas[0] * height_share / image.shape[0]
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out = np.full((*canvas, 3), 200, np.uint8)
    y, x = int(at[0] * canvas[0]), int(at[1] * canvas[1])
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def darkened(image: np.ndarray, gain: float = 0.25) -> np.ndarray:
    return (image.astype(np.float32) * gain).clip(0, 255).astype(np.uint8)


def backdrop(canvas=(1080, 1920)) -> np.ndarray:
    """A smooth coloured backdrop (h, w): texture for the encoder and the shake gate, and nothing the pose
    model or the face detector could take for a person."""
    yy, xx = np.mgrid[0 : canvas[0], 0 : canvas[1]]
    out = np.empty((*canvas, 3), np.uint8)
    out[..., 0] = (120 + 60 * np.sin(xx / 97.0)).astype(np.uint8)
    out[..., 1] = (140 + 50 * np.cos(yy / 71.0)).astype(np.uint8)
    out[..., 2] = 160
    return out


def scene(people, canvas=(1080, 1920), base: np.ndarray | None = None) -> np.ndarray:
    """Photos of people pasted on :func:`backdrop`: ``people`` is ``(image, height share, (y, x))`` per
    person, the top-left corner as shares of the canvas (the geometry a test knows: where each one is)."""
    import cv2

    out = (backdrop(canvas) if base is None else base).copy()
    for image, share, (y, x) in people:
        scale = canvas[0] * share / image.shape[0]
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        top, left = int(y * canvas[0]), int(x * canvas[1])
        h, w = small.shape[:2]
        out[top : top + h, left : left + w] = small[: canvas[0] - top, : canvas[1] - left]
    return out


def pasted_box(image: np.ndarray, share: float, at: tuple[float, float], canvas=(1080, 1920)) -> tuple[int, ...]:
    """(x0, y0, x1, y1) in pixels where :func:`scene` pastes ``image``."""
    scale = canvas[0] * share / image.shape[0]
    top, left = int(at[0] * canvas[0]), int(at[1] * canvas[1])
    return left, top, left + round(image.shape[1] * scale), top + round(image.shape[0] * scale)


@functools.cache
def astronaut_cutout() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut cut out of her photo: (RGB, matte 0-255), both cropped to her. The matte is
    MediaPipe's pose segmentation of the photo (needs the pose model: tests marked ``model``)."""
    from mediapipe.tasks.python import BaseOptions, vision

    from preflight.analyze.mediapipe_import import load_mediapipe
    from preflight.analyze.people import quiet_native_logs
    from preflight.analyze.posemodel import ensure_pose_model

    mp = load_mediapipe()
    photo = astronaut()
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(ensure_pose_model().path)),
        running_mode=vision.RunningMode.IMAGE,
        output_segmentation_masks=True,
    )
    with quiet_native_logs(), vision.PoseLandmarker.create_from_options(options) as landmarker:
        found = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=photo))
    matte = np.where(found.segmentation_masks[0].numpy_view()[..., 0] > 0.5, 255, 0).astype(np.uint8)
    ys, xs = np.nonzero(matte)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return np.ascontiguousarray(photo[y0:y1, x0:x1]), np.ascontiguousarray(matte[y0:y1, x0:x1])


def street_background(size=(1080, 1920)) -> np.ndarray:
    """A street-like backdrop (h, w): scikit-image's brick wall above, its gravel as the ground."""
    import cv2
    from skimage import data

    height, width = size
    brick = data.brick()
    wall = np.tile(brick, (height // brick.shape[0] + 1, width // brick.shape[1] + 1))[:height, :width]
    out = np.dstack([wall] * 3)
    ground = cv2.resize(data.gravel(), (width, height // 3))
    out[height - height // 3 :] = np.dstack([ground] * 3)
    return np.ascontiguousarray(out)


def street(people: list[tuple[int, int, int]], size=(1080, 1920)) -> np.ndarray:
    """The astronaut cut out and pasted on :func:`street_background` once per ``(height_px, x, y)``
    (top-left corner, px): a street of pedestrians of known sizes and places."""
    import cv2

    image, matte = astronaut_cutout()
    out = street_background(size).astype(np.float32)
    for height, x, y in people:
        scale = height / image.shape[0]
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
        alpha = cv2.resize(matte, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[..., None] / 255.0
        h, w = small.shape[:2]
        out[y : y + h, x : x + w] = small * alpha + out[y : y + h, x : x + w] * (1 - alpha)
    return out.astype(np.uint8)
