"""The libavfilter side of :mod:`preflight.color.curves`: which conversion a decoded frame needs, and the
filter chain that applies the LUT. Shared by fix's re-encode graph and the analysis frame converter.

    kind_of(frame)                    -> ToneSource | None    (None: SDR BT.709 or untagged)
    peak_luminance(frame)             -> cd/m2 from HDR10 metadata, or None
    tone_map_filters(source, ...)     -> [(filter, options)]  YUV -> 16-bit RGB -> lut3d -> gamma -> out
    link(graph, node, filters)        -> the last filter, each linked to the one before

Filters are configured by option name (``graph.add(name, **options)``), never by an argument string,
so a LUT path holding ``:`` or ``\\`` needs no escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "SWS_MATRIX",
    "SWS_RANGE",
    "ToneSource",
    "kind_of",
    "link",
    "lut_peak",
    "peak_luminance",
    "source_for",
    "tone_map_filters",
]

SWS_MATRIX = {1: "bt709", 4: "fcc", 5: "bt470", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
"""swscale's names for a YUV matrix, by FFmpeg's AVColorSpace value. Anything else (2: unspecified) is
taken as BT.709 by the callers, what players assume for HD."""
SWS_RANGE = {1: "tv", 2: "pc"}

_TRANSFER_KIND = {18: "HLG", 16: "PQ"}
_PRIMARIES = {1: "bt709", 9: "bt2020", 12: "smpte432"}
_GAMMA = "pow(val/maxval,1/2.4)*maxval"
"""lutrgb: clip (integer samples cannot go below 0 or past 1) then BT.1886's gamma, one entry per
16-bit value."""


@dataclass(frozen=True)
class ToneSource:
    """What a stream needs to become SDR BT.709, as :func:`preflight.color.curves.tone_lut` takes it."""

    kind: str
    """``HLG``, ``PQ`` or ``BT.2020 SDR``."""
    primaries: str = "bt2020"
    peak_nits: float | None = None


def kind_of(frame: Any) -> ToneSource | None:
    """The conversion a decoded frame's colour tags call for; a PQ frame's peak comes from its HDR10
    metadata."""
    source = source_for(frame.color_primaries, frame.color_trc)
    if source is not None and source.kind == "PQ":
        return ToneSource(source.kind, source.primaries, lut_peak(peak_luminance(frame)))
    return source


def source_for(primaries: int | None, transfer: int | None) -> ToneSource | None:
    """The conversion H.273 colour code points call for (a video's tags, a still's nclx or cICP):
    HLG/PQ (BT.2020 unless they say P3), BT.2020 primaries with an SDR curve, or None."""
    kind = _TRANSFER_KIND.get(transfer)  # type: ignore[arg-type]
    named = _PRIMARIES.get(primaries)  # type: ignore[arg-type]
    if kind is None:
        if named != "bt2020":
            return None
        kind = "BT.2020 SDR"
    return ToneSource(kind, named if named in ("bt2020", "smpte432") else "bt2020")


def lut_peak(nits: float | None) -> float | None:
    """A PQ peak rounded to whole hundreds of cd/m2: one LUT per grade (1000, 4000...), not per clip."""
    return float(max(100, round(nits / 100) * 100)) if nits else None


_MAX_NITS = 10000.0  # PQ's ceiling: anything above is not a luminance


def peak_luminance(frame: Any) -> float | None:
    """MaxCLL (AVContentLightMetadata: two uint32) or else the mastering display's max luminance
    (AVMasteringDisplayMetadata: ten AVRationals, max_luminance the tenth, then has_primaries and
    has_luminance), in cd/m2, from a decoded frame's side data (FFmpeg puts neither on the stream);
    None when the frame carries neither (HLG never needs it)."""
    import struct

    found: dict[str, bytes] = {}
    try:
        for item in frame.side_data:
            name = getattr(item.type, "name", str(item.type))
            if name in ("CONTENT_LIGHT_LEVEL", "MASTERING_DISPLAY_METADATA"):
                found[name] = bytes(item)
    except Exception:  # side data is a nicety: never fail a probe over it
        return None
    cll = found.get("CONTENT_LIGHT_LEVEL", b"")
    if len(cll) >= 8:
        max_cll = struct.unpack_from("<I", cll, 0)[0]
        if 0 < max_cll <= _MAX_NITS:
            return float(max_cll)
    mdm = found.get("MASTERING_DISPLAY_METADATA", b"")
    if len(mdm) >= 88:
        num, den = struct.unpack_from("<ii", mdm, 72)
        has_luminance = struct.unpack_from("<i", mdm, 84)[0]
        if has_luminance and den > 0 and 0 < num / den <= _MAX_NITS:
            return num / den
    return None


def tone_map_filters(
    source: ToneSource,
    matrix: str,
    in_range: str | None,
    size: tuple[int, int] | None = None,
    out_format: str = "yuv420p",
) -> list[tuple[str, dict[str, str]]]:
    """YUV (``matrix``, ``in_range``) -> 16-bit RGB, resized to ``size`` on the way -> lut3d
    (tetrahedral) -> clip + gamma -> ``out_format``: ``yuv420p`` BT.709 limited range, or ``rgb24``."""
    from .curves import cube_file

    lut = cube_file(source.kind, peak_nits=source.peak_nits, primaries=source.primaries)
    to_rgb = {"in_color_matrix": matrix, "out_range": "pc", "flags": "bicubic"}
    if in_range:
        to_rgb["in_range"] = in_range
    if size is not None:
        to_rgb.update(w=str(size[0]), h=str(size[1]))
    filters = [
        ("scale", to_rgb),
        ("format", {"pix_fmts": "gbrp16le"}),
        ("lut3d", {"file": str(lut), "interp": "tetrahedral"}),
        ("lutrgb", {"r": _GAMMA, "g": _GAMMA, "b": _GAMMA}),
        ("setparams", {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "gbr", "range": "pc"}),
    ]
    if out_format == "rgb24":
        filters.append(("format", {"pix_fmts": "rgb24"}))
    else:
        filters.append(("scale", {"out_color_matrix": "bt709", "out_range": "tv"}))
        filters.append(("format", {"pix_fmts": out_format}))
    return filters


def link(graph: Any, node: Any, filters: list[tuple[str, dict[str, str]]]) -> Any:
    for name, options in filters:
        nxt = graph.add(name, **options)
        node.link_to(nxt)
        node = nxt
    return node
