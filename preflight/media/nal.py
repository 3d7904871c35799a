"""H.264 / HEVC NAL units in a packet, and the display orientation an SEI message may carry.

A camera may say "show this rotated" inside the bitstream instead of in the container: the display
orientation SEI (payload type 47 in both codecs). FFmpeg's decoder turns it into the frame's display
matrix (``ff_h2645_sei_to_frame`` in ``libavcodec/h2645_sei.c``) unless the container has a matrix of
its own, so the content check, which reads ``frame.rotation``, shows the picture rotated. The probe
reads the first access unit's SEI here, without decoding, and gets the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from .h264sps import _Bits, _rbsp

__all__ = ["length_size", "nal_units", "sei_display_matrix"]

_DISPLAY_ORIENTATION = 47
_H264_SEI, _HEVC_PREFIX_SEI = 6, 39


def length_size(codec: str, extradata: bytes) -> int | None:
    """Bytes of each NAL's length prefix (avcC/hvcC), 0 for Annex B start codes, None if unknown."""
    if not extradata or extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return 0
    if codec == "h264" and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) >= 22 and extradata[0] == 1:
        return (extradata[21] & 3) + 1
    return None


def nal_units(data: bytes, size_bytes: int) -> Iterator[bytes]:
    """The NAL units of one packet: length-prefixed (``size_bytes`` > 0) or Annex B (0). A unit cut
    short by the end of ``data`` is yielded as far as it goes."""
    if size_bytes == 0:
        starts = []
        at = data.find(b"\x00\x00\x01")
        while at != -1:
            starts.append(at + 3)
            at = data.find(b"\x00\x00\x01", at + 3)
        for begin, end in zip(starts, [*starts[1:], len(data) + 3], strict=True):
            yield data[begin : end - 3].rstrip(b"\x00")
        return
    pos = 0
    while pos + size_bytes < len(data):
        size = int.from_bytes(data[pos : pos + size_bytes], "big")
        if size <= 0:
            return
        begin = pos + size_bytes
        yield data[begin : begin + size]
        pos = begin + size


def sei_display_matrix(codec: str, data: bytes, size_bytes: int) -> tuple[int, ...] | None:
    """The display matrix (FFmpeg's 9-int fixed-point layout, as :mod:`preflight.media.isobmff` gives) that
    a display orientation SEI before the first picture of ``data`` makes; None without one."""
    hevc = codec == "hevc"
    for nal in nal_units(data, size_bytes):
        if not nal:
            continue
        kind = (nal[0] >> 1) & 0x3F if hevc else nal[0] & 0x1F
        if kind <= (31 if hevc else 5) and (hevc or kind >= 1):
            return None  # a picture's slice: SEI for it come before it
        if kind != (_HEVC_PREFIX_SEI if hevc else _H264_SEI):
            continue
        try:
            found = _orientation(_rbsp(nal[1:] if hevc else nal))
        except (IndexError, ValueError):
            return None
        if found is not None:
            return found
    return None


def _orientation(rbsp: bytes) -> tuple[int, ...] | None:
    pos = 0
    while pos < len(rbsp) and rbsp[pos] != 0x80:  # 0x80: the RBSP trailing bits
        kind, pos = _sei_number(rbsp, pos)
        size, pos = _sei_number(rbsp, pos)
        if kind == _DISPLAY_ORIENTATION:
            return _orientation_matrix(_Bits(rbsp[pos : pos + size]))
        pos += size
    return None


def _sei_number(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while data[pos] == 0xFF:
        value += 255
        pos += 1
    return value + data[pos], pos + 1


def _orientation_matrix(bits: _Bits) -> tuple[int, ...] | None:
    if bits.u(1):  # display_orientation_cancel_flag
        return None
    hflip, vflip, turn = bits.u(1), bits.u(1), bits.u(16)
    if not (turn or hflip or vflip):
        return None  # FFmpeg exports nothing then
    # As ff_h2645_sei_to_frame: av_display_rotation_set takes a clockwise angle, and each flip
    # negates it (the flips are applied after the rotation in the matrix, before it in the spec).
    angle = -(turn * 360 / 65536) * (1 - 2 * hflip) * (1 - 2 * vflip)
    radians = -math.radians(angle)
    c, s = math.cos(radians), math.sin(radians)
    h, v = 1 - 2 * hflip, 1 - 2 * vflip  # av_display_matrix_flip scales the columns
    fixed = [int(x * 65536) for x in (c * h, -s * v, 0.0, s * h, c * v, 0.0)]
    return (*fixed, 0, 0, 1 << 30)
