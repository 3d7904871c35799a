"""The libavfilter graph of a re-encode: rotation, crop, scale, pad, yuv420p, all in FFmpeg's C code.

The blurred fill is made at an eighth of the output size (blur is cheap there and the result is
meant to be soft anyway), then scaled up behind the sharp frame.
"""

from __future__ import annotations

import math
from typing import Any

from .ops import BakeRotation, SquarePixels
from .plan import Plan

__all__ = ["build_graph"]

_TRANSPOSE = {90: ["transpose=dir=clock"], 180: ["hflip", "vflip"], 270: ["transpose=dir=cclock"]}
BLUR_SCALE = 8
"""The fill is blurred at 1/8 of the output size: a 1080p fill costs as much as a 135p one."""
BLUR_SIGMA = 4.0
"""Gaussian sigma at that size (about 32 output pixels): shapes dissolve, colours stay."""


def build_graph(vin: Any, plan: Plan, fill: str = "blur") -> Any:
    """A configured graph: push a decoded frame, pull it shaped for the encoder."""
    import av

    graph = av.filter.Graph()
    node = graph.add_buffer(template=vin)
    square = plan.find(SquarePixels)
    if square is not None:
        # First, in the coded orientation the sample aspect ratio belongs to; the planner's geometry
        # is in shown (square-pixel, rotated) sizes.
        node = _chain(graph, node, f"scale={square.target[0]}:{square.target[1]}:flags=bicubic")
        node = _chain(graph, node, "setsar=1")
    rotation = plan.find(BakeRotation)
    for spec in _TRANSPOSE.get(rotation.degrees if rotation else 0, []):
        node = _chain(graph, node, spec)
    g = plan.geometry
    if g is not None and g.cropped:
        x, y, w, h = g.crop
        node = _chain(graph, node, f"crop={w}:{h}:{x}:{y}")
    if g is not None and g.padded and fill == "blur":
        node = _blurred_pad(graph, node, g.crop[2:], g.content, g.canvas, g.offset)
    elif g is not None:
        if g.scaled:
            node = _chain(graph, node, f"scale={g.content[0]}:{g.content[1]}:flags=bicubic")
        if g.padded:
            cw, ch = g.canvas
            node = _chain(graph, node, f"pad={cw}:{ch}:{g.offset[0]}:{g.offset[1]}:color=black")
    node = _chain(graph, node, "setsar=1")
    node = _chain(graph, node, "format=pix_fmts=yuv420p")
    sink = graph.add("buffersink")
    node.link_to(sink)
    graph.configure()
    return graph


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
