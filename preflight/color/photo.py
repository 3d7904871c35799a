"""HDR stills: HEIC, AVIF or PNG whose colour description (an nclx ``colr`` box, a PNG ``cICP`` chunk)
says HLG or PQ (or BT.2020 primaries), and their SDR pixels.

    still_color(im, fmt, path)          -> (primaries, transfer) H.273 code points, or None
    sdr_still(path, source, max_side)   -> a PIL RGB image, 8-bit sRGB, tone-mapped

What Pillow and pillow-heif expose (Pillow 13, pillow-heif 1.8):
- HEIC: pillow-heif gives the nclx profile (``info["nclx_profile"]``) and, opened with
  ``open_heif(convert_hdr_to_8bit=False)``, the 10/12-bit samples (scaled to 16 bits).
- AVIF: Pillow decodes it (libavif) to 8-bit RGB and exposes no colour description; the ``colr``
  box is read here from the file's first bytes. The tone map then starts from 8-bit HDR samples:
  fine for analysis and a JPEG, but a smooth PQ gradient may band slightly.
- PNG: Pillow reads 16-bit RGB as 8-bit and does not parse ``cICP``; the chunk is read here. Same
  8-bit caveat.
- Gain-map JPEGs ("Ultra HDR", iPhone/Android): Pillow opens the SDR base image (an MPO's first
  frame); the gain map is never applied, so they are ordinary SDR photos here.
"""

from __future__ import annotations

import os
from typing import Any

from .graph import ToneSource, source_for

__all__ = ["HEAD_BYTES", "sdr_still", "still_color", "still_source"]

HEAD_BYTES = 1 << 16
"""How far into an AVIF or PNG the colour description is looked for: an AVIF's ``meta`` box and a
PNG's ``cICP`` chunk come before the pixel data, in the first few hundred bytes of every file seen."""


def still_color(im: Any, fmt: str, path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(primaries, transfer) of an image's nclx/cICP colour description, or None without one."""
    nclx = im.info.get("nclx_profile")
    if isinstance(nclx, dict):  # pillow-heif
        return nclx.get("color_primaries"), nclx.get("transfer_characteristics")
    if fmt not in ("avif", "png"):
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    if fmt == "avif":
        at = head.find(b"colrnclx")  # box type, colour type, then u16 primaries, u16 transfer
        if at >= 0 and len(head) >= at + 12:
            return int.from_bytes(head[at + 8 : at + 10], "big"), int.from_bytes(head[at + 10 : at + 12], "big")
        return None
    at = head.find(b"\x00\x00\x00\x04cICP")  # length 4, type, then u8 primaries, u8 transfer
    if at >= 0 and len(head) >= at + 10:
        return head[at + 8], head[at + 9]
    return None


def still_source(im: Any, fmt: str, path: str | os.PathLike[str]) -> ToneSource | None:
    found = still_color(im, fmt, path)
    return source_for(*found) if found else None


def sdr_still(path: str | os.PathLike[str], source: ToneSource, max_side: int | None = None) -> Any:
    """The still at ``path`` tone-mapped to 8-bit sRGB (numpy LUT), upright, transparency over white.
    ``max_side`` shrinks it first (analysis needs no more than 2048 px)."""
    import numpy as np
    from PIL import Image

    from .curves import apply_lut, encode_srgb, tone_lut

    samples, orientation = _samples(path)
    h, w = samples.shape[:2]
    if max_side and max(h, w) > max_side:
        import cv2

        scale = max_side / max(h, w)
        samples = cv2.resize(samples, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA)  # fmt: skip
    light = apply_lut(tone_lut(source.kind, peak_nits=source.peak_nits, primaries=source.primaries), samples[..., :3])
    sdr = encode_srgb(light) * 255
    if samples.shape[2] == 4:
        top = 65535.0 if samples.dtype == np.uint16 else 255.0
        alpha = samples[..., 3:4].astype(np.float32) / top
        sdr = sdr * alpha + 255 * (1 - alpha)
    image = Image.fromarray(np.round(sdr).astype(np.uint8), "RGB")
    return _orient(image, orientation)


def _samples(path: str | os.PathLike[str]) -> tuple[Any, int]:
    """(H, W, 3|4) uint8/uint16 samples as stored (16-bit where the file has more than 8 bits and the
    decoder gives them) and the EXIF orientation still to apply."""
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if (im.format or "").upper() == "HEIF":
            import pillow_heif

            # pillow-heif resets the EXIF orientation once libheif applied the file's own rotation.
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
            return np.asarray(heif), orientation
        upright = ImageOps.exif_transpose(im)
        mode = "RGBA" if "A" in upright.mode or "transparency" in upright.info else "RGB"
        return np.asarray(upright.convert(mode)), 1


def _orient(image: Any, orientation: int) -> Any:
    """Apply an EXIF orientation, as ``ImageOps.exif_transpose`` maps them."""
    from PIL import Image

    t = Image.Transpose
    methods = {2: t.FLIP_LEFT_RIGHT, 3: t.ROTATE_180, 4: t.FLIP_TOP_BOTTOM, 5: t.TRANSPOSE, 6: t.ROTATE_270,
               7: t.TRANSVERSE, 8: t.ROTATE_90}  # fmt: skip
    method = methods.get(orientation)
    return image if method is None else image.transpose(method)
