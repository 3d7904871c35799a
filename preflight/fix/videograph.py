"""The libavfilter graph of a re-encode: rotation, crop, scale, tone map, pad, yuv420p BT.709, all in
FFmpeg's C code.

The blurred fill is made at an eighth of the output size (blur is cheap there and the result is
meant to be soft anyway), then scaled up behind the sharp frame.

HDR (and BT.2020) sources are tone-mapped where it is cheapest: after the crop and any downscale,
before an upscale or the padding. The decoded YUV becomes 16-bit RGB with the source's own matrix,
``lut3d`` (tetrahedral) maps it to linear BT.709 light with the table from :mod:`preflight.color.curves`,
``lutrgb`` applies the BT.1886 gamma at 16 bits, and the frame goes to 8-bit 4:2:0 BT.709 limited
range. Every output is BT.709: the encoder tags it so (``video.py``).
"""

from __future__ import annotations

import math
from typing import Any

from ..color.graph import SWS_MATRIX, SWS_RANGE, ToneSource, link, tone_map_filters
from ..framing.moving import MovingCrop
from .movingcrop import CropStage
from .ops import BakeRotation, Reframe, SquarePixels, Stabilize, ToneMap
from .plan import Plan

__all__ = ["OUTPUT_COLOR", "FrameShaper", "build_graph", "build_shaper"]

_TRANSPOSE = {90: ["transpose=dir=clock"], 180: ["hflip", "vflip"], 270: ["transpose=dir=cclock"]}
BLUR_SCALE = 8
"""The fill is blurred at 1/8 of the output size: a 1080p fill costs as much as a 135p one."""
BLUR_SIGMA = 4.0
"""Gaussian sigma at that size (about 32 output pixels): shapes dissolve, colours stay."""

OUTPUT_COLOR = {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709", "range": "tv"}
"""What every re-encoded clip is, and says it is (``setparams`` names)."""


class FrameShaper:
    """The graph with its moving crop, if the plan has one: :meth:`push` a decoded frame (the crop is
    placed for the frame's time first), :meth:`vpull` it shaped for the encoder."""

    def __init__(self, graph: Any, stage: CropStage | None, origin: float) -> None:
        self.graph = graph
        self.stage = stage
        self.origin = origin
        """The stream's start time: the analysis's times (and the moving crop's) count from it."""

    def push(self, frame: Any) -> None:
        if self.stage is not None and frame.time is not None:
            self.stage.place(float(frame.time) - self.origin)
        self.graph.push(frame)

    def vpull(self) -> Any:
        return self.graph.vpull()


def build_shaper(vin: Any, plan: Plan, fill: str = "blur", origin: float = 0.0) -> FrameShaper:
    """:func:`build_graph`, with the plan's moving crop steered by each frame's time less ``origin``."""
    moving = _moving_crop(plan)
    graph, stage = _build(vin, plan, fill, moving)
    return FrameShaper(graph, stage, origin)


def _moving_crop(plan: Plan) -> MovingCrop | None:
    """The plan's one moving crop: a following window (which carries the shake too when both are asked),
    else the stabilizing one."""
    reframe = plan.find(Reframe)
    following: MovingCrop | None = reframe.moving if reframe is not None else None
    if following is not None:
        return following
    stabilize = plan.find(Stabilize)
    return stabilize.window if stabilize is not None else None


def build_graph(vin: Any, plan: Plan, fill: str = "blur") -> Any:
    """A configured graph: push a decoded frame, pull it shaped for the encoder (a moving crop stays
    where it starts: :func:`build_shaper` steers it)."""
    return _build(vin, plan, fill, _moving_crop(plan))[0]


def _build(vin: Any, plan: Plan, fill: str, moving: MovingCrop | None) -> tuple[Any, CropStage | None]:
    import av

    graph = av.filter.Graph()
    ctx = vin.codec_context
    node = graph.add(
        "buffer",
        video_size=f"{ctx.width}x{ctx.height}",
        pix_fmt=str(int(av.VideoFormat(ctx.pix_fmt))),
        time_base=str(vin.time_base),
        pixel_aspect="1/1",
        colorspace=str(ctx.colorspace),
        range=str(ctx.color_range),
    )
    square = plan.find(SquarePixels)
    if square is not None:
        # First, in the coded orientation the sample aspect ratio belongs to; the planner's geometry
        # is in shown (square-pixel, rotated) sizes.
        node = _chain(graph, node, f"scale={square.target[0]}:{square.target[1]}:flags=bicubic")
        node = _chain(graph, node, "setsar=1")
    rotation = plan.find(BakeRotation)
    degrees = rotation.degrees if rotation else 0
    g = plan.geometry
    tone = plan.find(ToneMap)
    # The moving crop works in shown pixels at the source's scale: no shrinking before the turn with it.
    early = _shrink_first(g, degrees) if tone is None and square is None and moving is None else None
    if early is not None:
        node = _chain(graph, node, f"scale={early[0]}:{early[1]}:flags=bicubic")
    for spec in _TRANSPOSE.get(degrees, []):
        node = _chain(graph, node, spec)
    if g is not None and g.cropped:
        x, y, w, h = g.crop
        node = _chain(graph, node, f"crop={w}:{h}:{x}:{y}")
    source = g.crop[2:] if g is not None else None
    stage = None
    if moving is not None:  # inside the crop, before any scale: the window is scaled to the output size
        stage = CropStage(moving, graph, node)
        node, source = stage.node, moving.size
    if early is not None:
        source = g.content  # type: ignore[union-attr]
    # An untagged clip is taken as BT.709 (what players assume for HD): its YUV is kept as it is.
    # A BT.601 one is converted, since the output says BT.709. HDR without a matrix is BT.2020's.
    matrix = SWS_MATRIX.get(ctx.colorspace, "bt709" if tone is None else "bt2020")
    if tone is not None:
        shrink = g is not None and source is not None and g.content[0] * g.content[1] < source[0] * source[1]
        size = g.content if shrink else None  # type: ignore[union-attr]
        what = ToneSource(tone.source, tone.primaries, tone.peak_nits)
        node = link(graph, node, tone_map_filters(what, matrix, SWS_RANGE.get(ctx.color_range), size))
        source, matrix = (size or source), "bt709"
    if g is not None and g.padded and fill == "blur":
        node = _blurred_pad(graph, node, source, g.content, g.canvas, g.offset)  # type: ignore[arg-type]
    elif g is not None:
        if source != g.content:
            node = _chain(graph, node, f"scale={g.content[0]}:{g.content[1]}:flags=bicubic")
        if g.padded:
            cw, ch = g.canvas
            node = _chain(graph, node, f"pad={cw}:{ch}:{g.offset[0]}:{g.offset[1]}:color=black")
    node = _chain(graph, node, "setsar=1")
    node = _add(graph, node, "scale", in_color_matrix=matrix, out_color_matrix="bt709", out_range="tv")
    node = _chain(graph, node, "format=pix_fmts=yuv420p")
    node = _add(graph, node, "setparams", **OUTPUT_COLOR)
    sink = graph.add("buffersink")
    node.link_to(sink)
    graph.configure()
    return graph, stage


def _shrink_first(g: Any, degrees: int) -> tuple[int, int] | None:
    """The size (in the coded orientation) to scale a rotated frame down to before turning it, or None.

    Turning a 4K frame costs 11 ms; turning it after the downscale, a quarter of that (measured on a 4K
    10-bit clip: 60 frames transposed then scaled 8.5 s CPU, scaled then transposed 7.8 s). Only for a
    whole-frame downscale (no crop, which is placed in shown coordinates). An HDR clip keeps the order:
    its downscale is folded into the conversion to RGB for the tone map, which is cheaper still."""
    if g is None or not degrees or g.cropped or not g.scaled:
        return None
    w, h = g.content
    if w * h >= g.crop[2] * g.crop[3]:
        return None  # an upscale is cheaper after the turn, on the smaller frame
    return (h, w) if degrees in (90, 270) else (w, h)


def _add(graph: Any, node: Any, name: str, **options: str) -> Any:
    """A filter configured by option names (no escaping: a LUT path may hold ':' or '\\')."""
    nxt = graph.add(name, **options)
    node.link_to(nxt)
    return nxt


def _chain(graph: Any, node: Any, spec: str) -> Any:
    name, _, args = spec.partition("=")
    nxt = graph.add(name, args or None)
    node.link_to(nxt)
    return nxt


def _blurred_pad(
    graph: Any,
    node: Any,
    source: tuple[int, int],
    content: tuple[int, int],
    canvas: tuple[int, int],
    offset: tuple[int, int],
) -> Any:
    split = graph.add("split", "2")
    node.link_to(split)
    # background: cover a small canvas, blur, scale up to the full canvas
    small_w, small_h = max(2, canvas[0] // BLUR_SCALE), max(2, canvas[1] // BLUR_SCALE)
    factor = max(small_w / source[0], small_h / source[1])
    cover_w, cover_h = max(small_w, math.ceil(source[0] * factor)), max(small_h, math.ceil(source[1] * factor))
    bg = graph.add("scale", f"{cover_w}:{cover_h}:flags=fast_bilinear")
    split.link_to(bg, 0, 0)
    bg = _chain(graph, bg, f"crop={small_w}:{small_h}")
    bg = _chain(graph, bg, f"gblur=sigma={BLUR_SIGMA}:steps=2")
    bg = _chain(graph, bg, f"scale={canvas[0]}:{canvas[1]}:flags=bilinear")
    fg = graph.add("scale", f"{content[0]}:{content[1]}:flags=bicubic")
    split.link_to(fg, 1, 0)
    overlay = graph.add("overlay", f"x={offset[0]}:y={offset[1]}")
    bg.link_to(overlay, 0, 0)
    fg.link_to(overlay, 0, 1)
    return overlay
