"""Analysis frames of an HDR (or BT.2020) clip, tone-mapped the way fix maps them, so the content gates
judge the SDR picture a provider will get, not the HDR signal read as if it were SDR (washed out: an
HLG clip's exposure, blur contrast and pose input all shift).

    ToneMappedFrames(source)   .luma(frame, size) -> uint8 (h, w)   .rgb(frame) -> uint8 (H, W, 3)

The small luma stays cheap: the 10-bit Y plane is resized as it is (OpenCV, uint16) and mapped by a
1D table of one entry per code value (exact for greys, the same mapping the LUT applies; for colours
close, as luma always is). RGB frames (a few a second) go through a libavfilter graph, the chain fix
uses (:func:`preflight.color.graph.tone_map_filters`) ending in rgb24, at most ``RGB_SIDE`` on the long
side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..color.graph import SWS_MATRIX, SWS_RANGE, ToneSource, link, tone_map_filters

__all__ = ["RGB_SIDE", "ToneMappedFrames"]

_COLOR_RANGE_JPEG = 2

RGB_SIDE = 1920
"""Long side of the tone-mapped RGB frames. The analyzers never need more: pose runs at 640 px and
looks again on crops of this frame, blur measures at 640 px, the contact sheet holds thumbnails. At
full size a 4K frame cost 100-170 ms through the tone-mapping graph against 27-34 ms for a plain RGB
conversion; at 1920 px it costs 37-62 ms (2 loaded cores, 4K HEVC Main 10 HLG, six frames)."""


class ToneMappedFrames:
    """Per clip: turns decoded frames of one tone source into SDR luma and RGB."""

    def __init__(self, source: ToneSource) -> None:
        self.source = source
        self._tables: dict[tuple[int, bool], np.ndarray] = {}
        self._graph: Any = None
        self._graph_key: tuple[Any, ...] | None = None

    def luma(self, frame: Any, size: tuple[int, int]) -> np.ndarray:
        """SDR luma (full range 0-255, as for SDR clips) at ``size``."""
        import cv2

        fmt = frame.format
        component = fmt.components[0]
        if not fmt.name.startswith(("yuv", "yuvj")) or component.plane != 0 or component.bits > 16:
            rgb = self.rgb(frame)  # anything exotic: from the (costlier) RGB path
            return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        plane = frame.planes[0]
        dtype = np.uint16 if component.bits > 8 else np.uint8
        samples = plane.line_size // np.dtype(dtype).itemsize
        y = np.frombuffer(plane, dtype).reshape(plane.height, samples)[:, : frame.width]
        if (frame.width, frame.height) != size:
            y = cv2.resize(y, size, interpolation=cv2.INTER_AREA)
        full = fmt.name.startswith("yuvj") or frame.color_range == _COLOR_RANGE_JPEG
        table = self._table(component.bits, full)
        return np.take(table, y, mode="clip")  # a new array: the frame buffer is reused

    def rgb(self, frame: Any) -> np.ndarray:
        """SDR BT.709 RGB (uint8), full size up to ``RGB_SIDE`` on the long side."""
        key = (frame.width, frame.height, frame.format.name, frame.colorspace, frame.color_range)
        if self._graph is None or key != self._graph_key:
            self._graph, self._graph_key = self._build(frame), key
        self._graph.push(frame)
        return self._graph.vpull().to_ndarray(format="rgb24")

    def _table(self, bits: int, full: bool) -> np.ndarray:
        """Code value -> SDR luma for greys: code -> normalized R'=G'=B' -> the mapping -> 8 bits."""
        table = self._tables.get((bits, full))
        if table is None:
            from ..color.curves import sdr_from_hdr

            codes = np.arange(2**bits, dtype=np.float64)
            if full:
                signal = codes / (2**bits - 1)
            else:  # limited range: black at 16, white at 235, scaled to the bit depth
                step = 2 ** (bits - 8)
                signal = (codes / step - 16) / 219
            grey = np.repeat(np.clip(signal, 0, 1)[:, None], 3, axis=1)
            sdr = sdr_from_hdr(grey, self.source.kind, self.source.peak_nits, self.source.primaries)[:, 1]
            table = np.round(sdr * 255).astype(np.uint8)
            self._tables[(bits, full)] = table
        return table

    def _build(self, frame: Any) -> Any:
        import av

        graph = av.filter.Graph()
        node = graph.add(
            "buffer",
            video_size=f"{frame.width}x{frame.height}",
            pix_fmt=str(int(frame.format)),
            time_base="1/1000",
            pixel_aspect="1/1",
            colorspace=str(frame.colorspace),
            range=str(frame.color_range),
        )
        long_side = max(frame.width, frame.height)
        size = None
        if long_side > RGB_SIDE:
            scale = RGB_SIDE / long_side
            size = (max(2, round(frame.width * scale)), max(2, round(frame.height * scale)))
        chain = tone_map_filters(
            self.source, SWS_MATRIX.get(frame.colorspace, "bt2020"), SWS_RANGE.get(frame.color_range),
            size, out_format="rgb24",
        )  # fmt: skip
        sink = graph.add("buffersink")
        link(graph, node, chain).link_to(sink)
        graph.configure()
        return graph
