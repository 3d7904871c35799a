"""The image executor (Pillow): first frame, EXIF orientation, 8-bit RGB (HDR tone-mapped), geometry,
size cap.

The result is rendered in memory (a subject photo is a few MB) so the size search can try several
qualities and the caller knows the final format before it names the file.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FixError
from .ops import ColorConvert, FirstFrame, Pad, StripExif, ToneMap
from .plan import Plan

__all__ = ["JPEG_QUALITY", "RenderedImage", "render_image"]

log = logging.getLogger("preflight")

JPEG_QUALITY = 92
"""First JPEG quality tried: visually lossless for photos at a moderate size."""
MIN_JPEG_QUALITY = 50
"""Lowest quality the size search accepts before it shrinks the pixels instead."""
QUALITY_STEPS = 5
"""Binary-search steps between MIN_JPEG_QUALITY and JPEG_QUALITY (a few encodes at most)."""
BLUR_RADIUS_SHARE = 1 / 30
"""Padding fill: Gaussian radius as a share of the canvas's long side."""


@dataclass(frozen=True)
class RenderedImage:
    data: bytes
    ext: str
    """``jpg`` or ``png``: may differ from the plan's when a PNG had to become a JPEG to fit."""
    notes: tuple[str, ...]


def render_image(plan: Plan, src: Path, min_side: int | None = None) -> RenderedImage:
    """Apply ``plan`` to the image at ``src``; return the encoded output."""
    from PIL import Image

    if plan.actions == ("copy",):
        return RenderedImage(src.read_bytes(), plan.output_ext or "jpg", ())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            tone = plan.find(ToneMap)
            if tone is not None:
                picture = _tone_mapped(src, tone)
            else:
                with Image.open(src) as im:
                    im.seek(0)  # the first frame of an animation (FirstFrame)
                    im.load()
                    picture = _prepare(im, plan)
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's ways of saying "bad data"
        raise FixError(f"{src}: cannot decode the image: {exc}", "decode.error") from exc
    picture = _reshape(picture, plan)
    return _encode(picture, plan, min_side)


def _tone_mapped(src: Path, tone: ToneMap) -> Any:
    """An HDR (or BT.2020) still as upright 8-bit sRGB: decoded at its own bit depth where the decoder
    allows, the LUT in numpy (:mod:`preflight.color.photo`). No profile is carried over."""
    from ..color.graph import ToneSource
    from ..color.photo import sdr_still

    return sdr_still(src, ToneSource(tone.source, tone.primaries, tone.peak_nits))


def _prepare(im: Any, plan: Plan) -> Any:
    """The first frame, upright, as 8-bit RGB (or L), with no metadata carried over."""
    from PIL import ImageOps

    if plan.find(FirstFrame) is not None:
        im = im.copy()  # detaches the first frame from the animation
    rotate = plan.find(StripExif)
    if rotate is not None and rotate.orientation != 1:
        im = ImageOps.exif_transpose(im)
    im = _to_srgb(im)
    return _to_rgb(im, plan.find(ColorConvert) is not None)


def _to_srgb(im: Any) -> Any:
    """Pixels converted from an embedded non-sRGB ICC profile to sRGB. The output carries no profile
    (providers read pixels as sRGB), so leaving Display P3 or Adobe RGB values as they are would shift
    the colours."""
    from ..media.probe import non_srgb_profile

    icc = im.info.get("icc_profile")
    if non_srgb_profile(icc) is None or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode=mode)
    except (ImageCms.PyCMSError, OSError) as exc:  # a profile littlecms cannot use: keep the pixels
        log.warning("cannot convert the colour profile: %s", exc)
        return im


def _to_rgb(im: Any, convert: bool) -> Any:
    from PIL import Image

    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        return Image.fromarray(np.clip(values / top * 255 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("RGB", "L") and not convert:
        return im
    return im.convert("RGB")


def _reshape(im: Any, plan: Plan) -> Any:
    from PIL import Image, ImageFilter

    g = plan.geometry
    if g is None or not g.changed:
        return im
    if im.size != g.source:
        raise FixError(f"image is {im.size[0]}x{im.size[1]}, the plan expected {g.source}", "fix.failed")
    x, y, w, h = g.crop
    content = im.crop((x, y, x + w, y + h)) if g.cropped else im
    if content.size != g.content:
        content = content.resize(g.content, Image.Resampling.LANCZOS)
    if not g.padded:
        return content
    pad = plan.find(Pad)
    if pad is None or pad.fill == "blur":
        # The picture scaled to cover the canvas, centred: only the part the canvas shows is scaled (the
        # whole cover of a 2x2000 strip padded to 800x2000 was 800x800,000 pixels: MemoryError).
        factor = max(g.canvas[0] / content.width, g.canvas[1] / content.height)
        shown_w, shown_h = g.canvas[0] / factor, g.canvas[1] / factor
        left, top = (content.width - shown_w) / 2, (content.height - shown_h) / 2
        canvas = content.resize(g.canvas, Image.Resampling.BILINEAR, box=(left, top, left + shown_w, top + shown_h))
        canvas = canvas.filter(ImageFilter.GaussianBlur(max(g.canvas) * BLUR_RADIUS_SHARE))
    else:
        canvas = Image.new(content.mode, g.canvas, "white" if content.mode == "RGB" else 255)
    canvas.paste(content, g.offset)
    return canvas


def _encode(im: Any, plan: Plan, min_side: int | None) -> RenderedImage:
    cap = plan.size_cap
    ext = plan.output_ext or "jpg"
    notes: list[str] = []
    if ext == "png":
        data = _save(im, "png")
        if cap is None or len(data) <= cap:
            return RenderedImage(data, "png", ())
        notes.append(f"convert png->jpeg: the PNG was {len(data) / 1_000_000:.1f} MB, over the cap")
        ext = "jpg"
    data = _save(im, "jpg", JPEG_QUALITY)
    if cap is None or len(data) <= cap:
        return RenderedImage(data, ext, tuple(notes))
    for _ in range(4):  # quality first, then fewer pixels
        found = _quality_search(im, cap)
        if found is not None:
            quality, data = found
            notes.append(f"jpeg quality {quality} to fit {cap / 1_000_000:.1f} MB")
            return RenderedImage(data, ext, tuple(notes))
        im = _shrink(im, cap / len(data), min_side)
        if im is None:
            break
        notes.append(f"scale down to {im.width}x{im.height} to fit {cap / 1_000_000:.1f} MB")
        data = _save(im, "jpg", JPEG_QUALITY)
        if len(data) <= cap:
            return RenderedImage(data, ext, tuple(notes))
    raise FixError(f"cannot fit the image under {cap / 1_000_000:.1f} MB", "size.too_large")


def _quality_search(im: Any, cap: int) -> tuple[int, bytes] | None:
    """The highest JPEG quality under ``cap`` (binary search, QUALITY_STEPS encodes at most)."""
    lo, hi = MIN_JPEG_QUALITY, JPEG_QUALITY - 1
    best: tuple[int, bytes] | None = None
    for _ in range(QUALITY_STEPS):
        if lo > hi:
            break
        mid = (lo + hi) // 2
        data = _save(im, "jpg", mid)
        if len(data) <= cap:
            best, lo = (mid, data), mid + 1
        else:
            hi = mid - 1
    return best


def _shrink(im: Any, ratio: float, min_side: int | None) -> Any:
    from PIL import Image

    factor = min(0.9, (ratio * 0.9) ** 0.5)  # bytes follow the pixel count
    size = (round(im.width * factor), round(im.height * factor))
    if min_side is not None and min(size) < min_side:
        factor = min_side / min(im.size)
        size = (round(im.width * factor), round(im.height * factor))
        if size == im.size:
            return None
    return im.resize(size, Image.Resampling.LANCZOS)


def _save(im: Any, ext: str, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    if ext == "png":
        im.save(buf, format="PNG", compress_level=6)
    else:
        im.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()

