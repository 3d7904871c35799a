"""Which packets the analysis may leave undecoded: pictures no other picture refers to.

Decoding is most of what a content check costs, and half of a typical phone clip's pictures are
non-reference (B-) pictures: nothing is predicted from them, so leaving them out changes no other
decoded pixel (it is the sub-bitstream a decoder's ``skip_frame=nonref`` decodes). The analyzers
still see about 15 frames a second, each exactly as a full decode shows it (deblocked, no drift).

We decide per packet, from the NAL headers, instead of setting the decoder's ``skip_frame``: the
decoder then never sees the packet, so the damage counts (``damage.py``) stay counts of packets it
was given, and a skipped picture is not mistaken for one the decoder dropped.

- H.264: a picture whose slices have ``nal_ref_idc == 0``.
- HEVC: a picture whose slices are sub-layer non-reference (``TRAIL_N``, ``TSA_N``, ``STSA_N``,
  ``RADL_N``, ``RASL_N``, reserved ``N10/N12/N14``) in the stream's highest temporal sub-layer (a
  lower-layer ``_N`` picture may be a reference for a higher layer); the layer count comes from the
  ``hvcC`` record, and a stream that does not give it (Annex B) is decoded whole.
- A packet that carries parameter sets is always decoded; other codecs are never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..media.nal import length_size as nal_length_size

__all__ = ["nonref_filter"]

_H264_SLICES = {1, 5}
_H264_PARAMETER_SETS = {7, 8, 13, 15}  # SPS, PPS, SPS extension, subset SPS
_HEVC_NONREF = {0, 2, 4, 6, 8, 10, 12, 14}
_HEVC_PARAMETER_SETS = {32, 33, 34}  # VPS, SPS, PPS


def nonref_filter(stream: Any) -> Callable[[Any], bool] | None:
    """A test ``packet -> True when the analysis may skip it`` for ``stream``, or None when nothing
    of this stream may be skipped (codec other than H.264/HEVC, or an unreadable bitstream layout)."""
    name = stream.codec_context.name
    if name not in ("h264", "hevc"):
        return None
    extradata = bytes(stream.codec_context.extradata or b"")
    length_size = nal_length_size(name, extradata)
    if length_size is None:
        return None
    if name == "h264":
        return _Picture(length_size, _h264_nonref).skippable
    layers = (extradata[21] >> 3) & 7 if length_size else 0
    return _HevcPictures(length_size, layers - 1).skippable if layers else None


def _nal_headers(data: bytes, length_size: int) -> Any:
    """The first two bytes of each NAL unit in ``data`` (fewer when the NAL is shorter)."""
    if length_size == 0:
        start = data.find(b"\x00\x00\x01")
        while start != -1:
            begin = start + 3
            yield data[begin : begin + 2]
            start = data.find(b"\x00\x00\x01", begin)
        return
    pos, end = 0, len(data)
    while pos + length_size < end:
        size = int.from_bytes(data[pos : pos + length_size], "big")
        begin = pos + length_size
        yield data[begin : begin + 2]
        if size <= 0:
            return
        pos = begin + size


def _h264_nonref(headers: Any) -> bool | None:
    for head in headers:
        if not head:
            continue
        kind = head[0] & 0x1F
        if kind in _H264_PARAMETER_SETS:
            return False
        if kind in _H264_SLICES:
            return (head[0] >> 5) & 3 == 0
    return None


class _Picture:
    def __init__(self, length_size: int, verdict: Callable[[Any], bool | None]) -> None:
        self.length_size = length_size
        self.verdict = verdict

    def skippable(self, packet: Any) -> bool:
        try:
            return bool(self.verdict(_nal_headers(bytes(packet), self.length_size)))
        except (IndexError, ValueError):  # damaged headers: let the decoder judge the packet
            return False


class _HevcPictures:
    """Only ``_N`` pictures of the highest temporal layer are safe to leave out."""

    def __init__(self, length_size: int, top_layer: int) -> None:
        self.length_size = length_size
        self.top_layer = top_layer

    def skippable(self, packet: Any) -> bool:
        try:
            return self._skippable(bytes(packet))
        except (IndexError, ValueError):
            return False

    def _skippable(self, data: bytes) -> bool:
        for head in _nal_headers(data, self.length_size):
            if len(head) < 2:
                continue
            kind = (head[0] >> 1) & 0x3F
            if kind in _HEVC_PARAMETER_SETS:
                return False
            if kind <= 31:  # the first slice decides for the picture
                return kind in _HEVC_NONREF and (head[1] & 7) - 1 >= self.top_layer
        return False
