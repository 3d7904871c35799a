"""HDR -> SDR: the BT.2100 curves, ITU-R BT.2408's reference white, BT.2020 -> BT.709, as numpy and as a
3D LUT that libavfilter's ``lut3d`` applies.

    sdr_from_hdr(rgb, "HLG")         BT.2020 HLG/PQ/SDR signal (0..1) -> BT.709 SDR signal (0..1), exact
    hdr_from_sdr(rgb, "PQ")          the inverse for content up to the knee (test media)
    tone_lut("HLG")                  the mapping up to the gamut clip and gamma as a (33, 33, 33, 3) table
    cube_file("HLG")                 that table as a ``.cube`` file in the user cache (written once)
    apply_lut(lut, rgb)              tetrahedral interpolation in numpy (photos, analysis frames)
    encode_sdr(light)                the last step: clip, gamma 1/2.4

The mapping (display light, as BT.2408 describes for SDR <-> HDR):
1. Decode to display light in cd/m2: PQ's EOTF; HLG's inverse OETF and its OOTF for the nominal
   1000 cd/m2 display (system gamma 1.2, half on the scene luminance as BT.2100 has it, half per
   channel as zscale does: :data:`HLG_OOTF_LUMINANCE_SHARE`), which puts 75% HLG at 203 cd/m2;
   SDR BT.2020 through BT.1886.
2. Divide by reference white, 203 cd/m2 (BT.2408): diffuse white becomes 1.0, SDR's 100%.
3. Source primaries -> BT.709 in linear light (BT.2087's matrix for BT.2020).
4. Highlights: :func:`rolloff` on max(R, G, B) in the SDR signal domain, every channel scaled by the
   same factor (hue and saturation kept): identity below ``KNEE``, a Moebius curve above it that
   reaches 1.0 exactly at the source's peak (1000 cd/m2 for HLG, the metadata's for PQ).
5. Gamut clip, per channel: colours outside BT.709 lose their negative light. This comes last, after
   the LUT's interpolation, because the table must stay smooth across the gamut boundary: with any
   clip inside it, interpolating between an in-gamut and an out-of-gamut grid point made BT.709's
   own primaries come back 30-50 levels off in their minor channels (33-point LUT, measured).
6. Encode for a BT.1886 display (gamma 2.4, the inverse of step 1 for SDR): the BT.709 SDR signal.

Tools that make HDR from SDR (BT.2408's display-light mapping; zscale with ``npl=203``) do these
steps backwards, so SDR carried in HDR comes back unchanged up to ``KNEE`` and nearly so up to white.
The LUT holds steps 1-4 as *linear* light and may hold negative values; ``lutrgb`` (clip + gamma at
16 bits) or :func:`encode_sdr` does steps 5-6. This module imports numpy only: no PyAV, no Pillow.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "HLG_NOMINAL_PEAK",
    "HLG_OOTF_LUMINANCE_SHARE",
    "KINDS",
    "KNEE",
    "LUT_SIZE",
    "PQ_DEFAULT_PEAK",
    "REFERENCE_WHITE",
    "apply_lut",
    "cube_file",
    "cube_text",
    "decode_srgb",
    "encode_sdr",
    "encode_srgb",
    "hdr_from_sdr",
    "rolloff",
    "sdr_from_hdr",
    "sdr_light_from_hdr",
    "tone_lut",
]

KINDS = ("HLG", "PQ", "BT.2020 SDR")
"""What a source needs: an HDR curve (HLG, PQ) or only a gamut conversion (BT.2020 primaries, SDR curve)."""

REFERENCE_WHITE = 203.0
"""cd/m2 of HDR reference (diffuse) white, ITU-R BT.2408: 75% HLG on a 1000 cd/m2 display, 58% PQ.
It becomes SDR's 100% here, as BT.2408's SDR->HDR mapping puts SDR's 100% there."""
HLG_NOMINAL_PEAK = 1000.0
"""cd/m2 of the HLG reference display (BT.2100 note 5f: system gamma 1.2 at 1000 cd/m2)."""
HLG_GAMMA = 1.2
HLG_OOTF_LUMINANCE_SHARE = 0.5
"""How the HLG system gamma is applied when converting to SDR: half BT.2100's form (on the scene
luminance) and half the per-channel form zimg/FFmpeg's zscale use by default. HLG made by the two
differs in saturation only, and real clips come from both (cameras follow BT.2100; clips converted
with FFmpeg mostly do not); half and half keeps either within 10% of its SDR original's saturation.
Measured through zscale HLG (npl=203, x265) and this mapping, against the SDR picture, PSNR / mean
saturation ratio:

    share   card exact   card zscale default   astronaut exact   astronaut zscale default
    1.0     32.7 / 0.98     28.9 / 0.84           35.0 / 0.99          30.8 / 0.87
    0.5     31.3 / 1.06     31.0 / 0.91           33.1 / 1.06          33.4 / 0.93
    0.0     28.5 / 1.13     32.7 / 0.98           29.9 / 1.11          35.0 / 0.99
"""
PQ_DEFAULT_PEAK = 1000.0
"""cd/m2 assumed as the brightest PQ content when the clip does not say (phone HDR10 is graded for
1000 cd/m2 displays); brighter pixels clip to white."""
SDR_GAMMA = 2.4
"""BT.1886: the SDR display the output is meant for (and the inverse zscale uses for SDR input)."""
KNEE = 0.85
"""SDR signal (max of R, G, B) up to which the mapping is the identity: 0.85 is 152 cd/m2 on the
HDR side, 217/255. From there a Moebius curve takes the source's peak to 1.0: 203 cd/m2 (reference
white) lands at 0.93 (237/255), 406 cd/m2 at 0.98, 1000 cd/m2 at 1.0. Measured on the astronaut
photo carried through HLG and back (numpy, no codec): PSNR 40.0 dB at 0.85, 36.4 dB at 0.80,
44.7 dB at 0.90; a hard clip at reference white gives 62 dB but flattens everything brighter
(skies, lamps) into one white; 0.90 leaves 400..1000 cd/m2 three 8-bit levels, 0.85 six."""
LUT_SIZE = 33
"""Points per axis of the 3D LUT. Against the exact mapping, in 8-bit levels (HLG / PQ): every
10-bit grey 2.8 / 1.8 at most (near black), the ColorChecker's 24 patches 3.3 / 6.2 (the cyan
patch's red channel, 8/255, where the gamma turns any linear error large), 99% of random P3
colours within 2.7 / 5.5. 65 points halve the grey error but the table takes 160 ms instead of
35 ms to compute and its ``.cube`` 8.6 MB instead of 1.1 MB; end to end (x265 in, x264 out) a fixed
clip is 37 dB from the exact numpy mapping with 33 points, the codecs' loss, not the table's."""

_A, _B = 0.17883277, 1 - 4 * 0.17883277
_C = 0.5 - _A * np.log(4 * _A)
_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_PQ_MAX = 10000.0


def _rgb_to_xyz(primaries: tuple[tuple[float, float], ...], white: tuple[float, float]) -> np.ndarray:
    """The linear RGB -> CIE XYZ matrix of a colour space given its primaries' and white's xy."""
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    wx, wy = white
    scale = np.linalg.solve(xyz, np.array([wx / wy, 1.0, (1 - wx - wy) / wy]))
    return xyz * scale


_D65 = (0.3127, 0.3290)
_TO_XYZ = {
    "bt709": _rgb_to_xyz(((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)), _D65),
    "bt2020": _rgb_to_xyz(((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)), _D65),
    "smpte432": _rgb_to_xyz(((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), _D65),  # Display P3
}
PRIMARIES = tuple(_TO_XYZ)
"""Source primaries (FFmpeg's names) the mapping converts from."""
BT2020_TO_BT709 = np.linalg.solve(_TO_XYZ["bt709"], _TO_XYZ["bt2020"])
"""Linear-light BT.2020 -> BT.709 (BT.2087's matrix: 1.6605, -0.5876, -0.0728; ...)."""
BT709_TO_BT2020 = np.linalg.solve(_TO_XYZ["bt2020"], _TO_XYZ["bt709"])
Y_BT2020 = _TO_XYZ["bt2020"][1]
"""Luminance weights of linear BT.2020 RGB (0.2627, 0.6780, 0.0593)."""


def _to_bt709(primaries: str) -> np.ndarray:
    if primaries not in _TO_XYZ:
        raise ValueError(f"unknown primaries {primaries!r}: one of {', '.join(PRIMARIES)}")
    return np.linalg.solve(_TO_XYZ["bt709"], _TO_XYZ[primaries])


# --- the BT.2100 curves ------------------------------------------------------------------------


def hlg_oetf(e: np.ndarray) -> np.ndarray:
    """Scene light (0..1) -> HLG signal (0..1), BT.2100 table 5."""
    e = np.maximum(e, 0.0)
    log = _A * np.log(np.maximum(12.0 * e - _B, 1e-12)) + _C
    return np.where(e <= 1 / 12, np.sqrt(3.0 * e), log)


def hlg_inverse_oetf(v: np.ndarray) -> np.ndarray:
    """HLG signal (0..1) -> scene light (0..1)."""
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.5, v * v / 3.0, (np.exp((v - _C) / _A) + _B) / 12.0)


def pq_eotf(v: np.ndarray) -> np.ndarray:
    """PQ signal (0..1) -> display light in cd/m2 (SMPTE ST 2084, BT.2100 table 4)."""
    p = np.clip(v, 0.0, 1.0) ** (1 / _PQ_M2)
    return _PQ_MAX * (np.maximum(p - _PQ_C1, 0.0) / (_PQ_C2 - _PQ_C3 * p)) ** (1 / _PQ_M1)


def pq_inverse_eotf(nits: np.ndarray) -> np.ndarray:
    """Display light in cd/m2 -> PQ signal (0..1)."""
    y = (np.clip(nits, 0.0, _PQ_MAX) / _PQ_MAX) ** _PQ_M1
    return ((_PQ_C1 + _PQ_C2 * y) / (1 + _PQ_C3 * y)) ** _PQ_M2


def _luminance(rgb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return rgb @ weights


def hlg_to_display(v: np.ndarray, weights: np.ndarray = Y_BT2020, luminance_share: float = 1.0) -> np.ndarray:
    """HLG signal (..., 3) -> display light in cd/m2 on the 1000 cd/m2 reference display: BT.2100's
    OOTF, on the scene *luminance* (``weights``), so hue and saturation are those of the scene.

    ``luminance_share`` below 1 mixes in the per-channel form ``E**1.2`` (what zimg, and so FFmpeg's
    ``zscale``, applies by default, ``agamma=1``; ``agamma=0`` is the exact form). Greys are the same
    either way; colours differ in saturation only (see :data:`HLG_OOTF_LUMINANCE_SHARE`)."""
    scene = hlg_inverse_oetf(v)
    ys = np.maximum(_luminance(scene, weights), 0.0)
    exact = (ys ** (HLG_GAMMA - 1))[..., None] * scene
    if luminance_share >= 1.0:
        return HLG_NOMINAL_PEAK * exact
    per_channel = np.maximum(scene, 0.0) ** HLG_GAMMA
    return HLG_NOMINAL_PEAK * (luminance_share * exact + (1 - luminance_share) * per_channel)


def display_to_hlg(nits: np.ndarray, weights: np.ndarray = Y_BT2020) -> np.ndarray:
    """Display light in cd/m2 (..., 3) -> HLG signal: the inverse OOTF, then the OETF."""
    rel = np.maximum(nits, 0.0) / HLG_NOMINAL_PEAK
    yd = _luminance(rel, weights)
    ys = np.maximum(yd, 1e-12) ** (1 / HLG_GAMMA)
    scene = rel / (ys ** (HLG_GAMMA - 1))[..., None]
    return hlg_oetf(scene)


# --- the mapping -------------------------------------------------------------------------------


def rolloff(s: np.ndarray, peak: float, knee: float = KNEE) -> np.ndarray:
    """Highlight roll-off in the SDR signal domain: ``s`` (>= 0, 1.0 = reference white) -> 0..1.

    Identity up to ``knee``; above it the Moebius transform that meets the identity with the same
    slope at the knee and reaches 1.0 at ``peak`` (the source's brightest signal), the curve mpv and
    FFmpeg's ``tonemap=mobius`` use. Smooth, monotonic, no parameter to tune beyond the knee.
    Anything above ``peak`` clips to 1.0.
    """
    s = np.asarray(s, dtype=np.float64)
    if peak <= max(knee, 1.0) + 1e-6:  # no headroom above white (SDR): nothing to roll off
        return np.clip(s, 0.0, 1.0)
    j = knee
    a = -j * j * (peak - 1) / (j * j - 2 * j + peak)
    b = (j * j - 2 * j * peak + peak) / (peak - 1)
    above = (b * b + 2 * b * j + j * j) / (b - a) * (s + a) / (s + b)
    return np.clip(np.where(s <= j, s, above), 0.0, 1.0)


def _peak_for(kind: str, peak_nits: float | None) -> float:
    if kind == "HLG":
        return HLG_NOMINAL_PEAK
    if kind == "PQ":
        return peak_nits or PQ_DEFAULT_PEAK
    return REFERENCE_WHITE  # SDR: its white is its peak


def sdr_light_from_hdr(
    rgb: np.ndarray, kind: str, peak_nits: float | None = None, primaries: str = "bt2020"
) -> np.ndarray:
    """Non-linear BT.2020 R'G'B' (0..1, last axis RGB) of a ``kind`` source -> linear BT.709 light,
    1.0 = SDR white, highlights rolled off, *before* the gamut clip (negative where the colour is
    outside BT.709). This is what the 3D LUT holds: it is smooth across the gamut boundary, so
    interpolation between grid points stays exact there; :func:`encode_sdr` clips afterwards.

    ``peak_nits``: brightest PQ content (MaxCLL or mastering display), default :data:`PQ_DEFAULT_PEAK`.
    ``primaries``: the source's (:data:`PRIMARIES`); BT.2100 is BT.2020.
    """
    signal = np.asarray(rgb, dtype=np.float64)
    matrix = _to_bt709(primaries)
    if kind == "HLG":
        light = hlg_to_display(signal, _TO_XYZ[primaries][1], HLG_OOTF_LUMINANCE_SHARE) / REFERENCE_WHITE
    elif kind == "PQ":
        light = pq_eotf(signal) / REFERENCE_WHITE
    elif kind == "BT.2020 SDR":
        light = np.clip(signal, 0.0, 1.0) ** SDR_GAMMA
    else:
        raise ValueError(f"unknown source {kind!r}: one of {', '.join(KINDS)}")
    light = light @ matrix.T
    top = np.maximum(light.max(axis=-1), 0.0)
    peak = (_peak_for(kind, peak_nits) / REFERENCE_WHITE) ** (1 / SDR_GAMMA)
    mapped = rolloff(top ** (1 / SDR_GAMMA), peak)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(top > 0, mapped**SDR_GAMMA / top, 0.0)
    return light * gain[..., None]


def encode_sdr(light: np.ndarray) -> np.ndarray:
    """Linear BT.709 light (1.0 = white) -> SDR signal 0..1 for a BT.1886 display: out-of-gamut
    (negative) and over-white parts clipped per channel, then gamma 1/2.4."""
    return np.clip(light, 0.0, 1.0) ** (1 / SDR_GAMMA)


def encode_srgb(light: np.ndarray) -> np.ndarray:
    """Linear BT.709 light (1.0 = white) -> sRGB signal 0..1 (IEC 61966-2-1), clipped per channel: for
    stills, which every viewer reads as sRGB (video's gamma 2.4 would write 18% grey as 125 where sRGB
    means 118: mid-tones a little light)."""
    x = np.clip(light, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def decode_srgb(signal: np.ndarray) -> np.ndarray:
    """sRGB signal 0..1 -> linear light."""
    v = np.clip(np.asarray(signal, dtype=np.float64), 0.0, 1.0)
    return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4))


def sdr_from_hdr(
    rgb: np.ndarray, kind: str, peak_nits: float | None = None, primaries: str = "bt2020"
) -> np.ndarray:
    """Non-linear R'G'B' (0..1) of a ``kind`` source -> BT.709 SDR R'G'B' (0..1), exactly (no LUT):
    :func:`sdr_light_from_hdr` then :func:`encode_sdr`."""
    return encode_sdr(sdr_light_from_hdr(rgb, kind, peak_nits, primaries))


def hdr_from_sdr(rgb: np.ndarray, kind: str, srgb: bool = False) -> np.ndarray:
    """BT.709 SDR R'G'B' (0..1) -> non-linear BT.2020 R'G'B' of a ``kind`` source, SDR white at
    reference white (BT.2408's display-light mapping, what zscale does with ``npl=203``).
    ``srgb``: the input is an sRGB still rather than BT.1886 video.

    The inverse of :func:`sdr_from_hdr` up to :data:`KNEE`; used to make test media.
    """
    signal = np.asarray(rgb, dtype=np.float64)
    light = decode_srgb(signal) if srgb else np.clip(signal, 0.0, 1.0) ** SDR_GAMMA
    light = light @ BT709_TO_BT2020.T
    if kind == "HLG":
        return np.clip(display_to_hlg(light * REFERENCE_WHITE), 0.0, 1.0)
    if kind == "PQ":
        return pq_inverse_eotf(light * REFERENCE_WHITE)
    if kind == "BT.2020 SDR":
        return np.clip(light, 0.0, 1.0) ** (1 / SDR_GAMMA)
    raise ValueError(f"unknown source {kind!r}: one of {', '.join(KINDS)}")


# --- the 3D LUT --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def tone_lut(
    kind: str, size: int = LUT_SIZE, peak_nits: float | None = None, primaries: str = "bt2020"
) -> np.ndarray:
    """:func:`sdr_light_from_hdr` sampled on a ``size``^3 grid: float32 (size, size, size, 3), indexed
    [r, g, b], linear BT.709 light. Computed once per process."""
    axis = np.linspace(0.0, 1.0, size)
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
    table = sdr_light_from_hdr(np.stack([r, g, b], axis=-1), kind, peak_nits, primaries).astype(np.float32)
    table.flags.writeable = False
    return table


def cube_text(lut: np.ndarray, title: str = "preflight") -> str:
    """The LUT in the Adobe/Resolve ``.cube`` format (red varies fastest), as ``lut3d`` reads it."""
    size = lut.shape[0]
    rows = np.ascontiguousarray(lut.transpose(2, 1, 0, 3)).reshape(-1)  # [b, g, r]: red fastest
    body = ("%.7f %.7f %.7f\n" * size**3) % tuple(rows.tolist())
    return f'TITLE "{title}"\nLUT_3D_SIZE {size}\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n{body}'


ENV_CACHE = "PREFLIGHT_CACHE_DIR"


def lut_dir() -> Path:
    """``<user cache>/preflight/luts`` (env ``PREFLIGHT_CACHE_DIR`` replaces the first part, as for
    the pose model)."""
    base = os.environ.get(ENV_CACHE)
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("preflight")
    return Path(base) / "luts"


@functools.lru_cache(maxsize=8)
def cube_file(
    kind: str, size: int = LUT_SIZE, peak_nits: float | None = None, primaries: str = "bt2020"
) -> Path:
    """The ``.cube`` file of :func:`tone_lut`, named by a hash of the table so a changed formula never
    meets a stale file; written once, atomically (a temporary file renamed into place). Falls back
    to the system temp folder when the cache cannot be written."""
    lut = tone_lut(kind, size, peak_nits, primaries)
    digest = hashlib.sha256(lut.tobytes()).hexdigest()[:16]
    slug = kind.lower().replace(" ", "").replace(".", "")
    name = f"{slug}-{size}-{digest}.cube"
    for folder in (lut_dir(), Path(tempfile.gettempdir()) / "preflight-luts"):
        target = folder / name
        if target.is_file():
            return target
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".lut-", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(cube_text(lut, f"preflight {kind} -> linear BT.709"))
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return target
        except OSError:
            continue
    raise OSError(f"cannot write the tone-mapping LUT {name} to {lut_dir()} or the temp folder")


def apply_lut(lut: np.ndarray, rgb: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """Tetrahedral interpolation of ``lut`` (n, n, n, 3) at ``rgb`` (..., 3): uint8/uint16 (full
    scale) or float 0..1. Returns float32 of the same shape. Works in chunks of ``chunk`` pixels so a
    12 MP photo needs no gigabytes of temporaries.

    The tetrahedron of a point is the path 000 -> (its largest axis) -> 111 minus (its smallest) -> 111
    through its cell; the weights are the sorted fractions' differences. Exact for affine maps, the
    same scheme as ``lut3d=interp=tetrahedral``.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        scale = 1 / 255
    elif rgb.dtype == np.uint16:
        scale = 1 / 65535
    else:
        scale = 1.0
    flat = rgb.reshape(-1, 3)
    out = np.empty(flat.shape, dtype=np.float32)
    n = lut.shape[0]
    table = np.ascontiguousarray(lut, dtype=np.float32).reshape(-1, 3)
    strides = np.array([n * n, n, 1], dtype=np.int32)
    rows = np.arange(min(chunk, len(flat)))
    for start in range(0, len(flat), chunk):
        x = flat[start : start + chunk].astype(np.float32)
        x *= np.float32(scale * (n - 1))
        np.clip(x, 0, n - 1, out=x)
        base = np.minimum(x.astype(np.int32), n - 2)
        frac = x - base
        hi, lo = frac.argmax(axis=1), frac.argmin(axis=1)
        k = rows[: len(x)]
        f1, f3 = frac[k, hi], frac[k, lo]
        f2 = frac.sum(axis=1) - f1 - f3
        index = base @ strides
        c0 = table[index]
        c1 = table[index + strides[hi]]
        c2 = table[index + (n * n + n + 1) - strides[lo]]
        c3 = table[index + (n * n + n + 1)]
        result = c0 * (1 - f1)[:, None]
        result += c1 * (f1 - f2)[:, None]
        result += c2 * (f2 - f3)[:, None]
        result += c3 * f3[:, None]
        out[start : start + chunk] = result
    return out.reshape(rgb.shape)
