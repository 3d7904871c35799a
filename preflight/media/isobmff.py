"""The display matrix of an MP4/MOV track, read from the box headers without decoding a frame.

PyAV 18 (FFmpeg 8.1) exposes the display matrix only on decoded frames (no ``Stream.side_data``,
nothing on the codec context, packets or stream metadata), and decoding one 4K HEVC frame costs
about 100 ms. ISO BMFF / QuickTime keep the matrix in two small boxes: ``moov/mvhd`` (the movie's)
and ``moov/trak/tkhd`` (the track's). This module walks the box tree by its sizes (seeking past
``mdat``, however large, and finding a ``moov`` written at the end of the file) and reads those two
boxes and each track's ``mdia/hdlr``: a few kB however long the clip.

The result is FFmpeg's own (``libavformat/mov.c``, ``mov_read_tkhd``): the track matrix times the
movie matrix in fixed point (16.16 for the first two columns, 2.30 for the third), identity meaning
"no matrix"; :func:`rotation` turns it into a clockwise angle as ``av_display_rotation_get`` and
PyAV's ``VideoFrame.rotation`` do. Anything this walk does not understand (a compressed ``cmov``,
a ``tkhd`` before ``mvhd``, a box whose size runs past its parent) gives ``None``: the caller then
decodes the first frame as before, so an odd file costs time, never a wrong rotation.
"""

from __future__ import annotations

import math
import struct
from typing import BinaryIO

__all__ = ["IDENTITY", "display_matrix", "movie_duration", "rotation"]

IDENTITY = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)
"""The identity display matrix in FFmpeg's fixed point (row-major: a b u / c d v / x y w)."""

_MAX_BOXES = 4096
"""Boxes visited per file at most: a real phone file has a few dozen; garbage must not loop long."""
_MAX_LEAF = 1 << 16
"""Largest mvhd/tkhd/hdlr read (they are 100-120 bytes; a QuickTime hdlr carries a short name)."""


class _Unknown(Exception):
    """The box tree is not one this reader vouches for: decode a frame instead."""


def display_matrix(fh: BinaryIO, size: int, track_id: int | None, video_index: int) -> tuple[int, ...] | None:
    """The display matrix (9 int32, FFmpeg's layout) of the video track ``track_id`` (FFmpeg's
    ``stream.id`` for MP4/MOV is the tkhd track ID), or of the ``video_index``-th ``vide`` track
    when no track has that ID; :data:`IDENTITY` when the file has none. ``None`` when the file's
    boxes cannot be read with confidence (see the module docstring). ``fh`` must be seekable."""
    try:
        moov = _find_top_level(fh, size, b"moov")
        if moov is None:
            return None
        tracks = _read_moov(fh, *moov)
    except (_Unknown, OSError, struct.error):
        return None
    videos = [t for t in tracks if t[1] == b"vide"]
    chosen = next((t for t in videos if track_id is not None and t[0] == track_id), None)
    if chosen is None:
        chosen = videos[video_index] if 0 <= video_index < len(videos) else None
    return chosen[2] if chosen is not None else None


def movie_duration(fh: BinaryIO, size: int) -> float | None:
    """Seconds the movie header (``moov/mvhd``) claims: what ffprobe, and the provider's own tools,
    read as the file's duration. ``None`` when there is no such header or it cannot be read with
    confidence, or when it says "unknown" (all ones) or gives no timescale."""
    try:
        moov = _find_top_level(fh, size, b"moov")
        if moov is None:
            return None
        for kind, payload, box_end in _children(fh, *moov):
            if kind == b"mvhd":
                data = _leaf(fh, payload, box_end, 32)
                if data[0] == 1:  # version 1: 64-bit times and duration
                    timescale, duration = struct.unpack_from(">IQ", data, 20)
                    unknown = duration == (1 << 64) - 1
                else:
                    timescale, duration = struct.unpack_from(">II", data, 12)
                    unknown = duration == (1 << 32) - 1
                return None if unknown or not timescale else duration / timescale
    except (_Unknown, OSError, struct.error):
        return None
    return None


def rotation(matrix: tuple[int, ...]) -> int:
    """Clockwise display rotation (0, 90, 180, 270) of an FFmpeg display matrix, as the first-frame
    path computes it: ``av_display_rotation_get`` gives the counter-clockwise angle, PyAV truncates it
    to an int (``VideoFrame.rotation``), and ``(-round(ccw / 90) * 90) % 360`` makes it clockwise.

    A mirrored matrix reads as FFmpeg reads it: rotation only (a horizontal flip alone is 180 here as
    in ffprobe's ``rotation: -180``); the flip itself is not reported, as before. A degenerate matrix
    (a zero column: FFmpeg's angle is NaN) is 0 rather than the undefined int PyAV would make of NaN.
    """
    if matrix == IDENTITY:
        return 0
    a, b, c, d = (v / 65536.0 for v in (matrix[0], matrix[1], matrix[3], matrix[4]))
    scale0, scale1 = math.hypot(a, c), math.hypot(b, d)
    if scale0 == 0.0 or scale1 == 0.0:
        return 0
    ccw = int(-math.degrees(math.atan2(b / scale1, a / scale0)))  # C's (int) cast truncates, as PyAV's
    return (-round(ccw / 90) * 90) % 360


# --- the box walk ---------------------------------------------------------------------------------


def _header(fh: BinaryIO, pos: int, end: int) -> tuple[bytes, int, int]:
    """(type, payload start, box end) of the box at ``pos``; 32- or 64-bit size, 0 = to ``end``."""
    fh.seek(pos)
    head = fh.read(8)
    if len(head) < 8:
        raise _Unknown("short box header")
    size, kind = struct.unpack(">I4s", head)
    start = pos + 8
    if size == 1:  # 64-bit largesize follows the type (mdat over 4 GB; any box may use it)
        large = fh.read(8)
        if len(large) < 8:
            raise _Unknown("short largesize")
        size = struct.unpack(">Q", large)[0]
        start += 8
    elif size == 0:  # the box runs to the end of its parent (the file, at top level)
        size = end - pos
    if kind == b"uuid":
        start += 16
    box_end = pos + size
    if size < start - pos or box_end > end:
        raise _Unknown(f"box {kind!r} at {pos} runs past its parent")
    return kind, start, box_end


def _children(fh: BinaryIO, start: int, end: int):  # type: ignore[no-untyped-def]
    pos, seen = start, 0
    while pos + 8 <= end:
        kind, payload, box_end = _header(fh, pos, end)
        yield kind, payload, box_end
        seen += 1
        if seen > _MAX_BOXES:
            raise _Unknown("too many boxes")
        pos = box_end


def _find_top_level(fh: BinaryIO, size: int, wanted: bytes) -> tuple[int, int] | None:
    for kind, payload, end in _children(fh, 0, size):
        if kind == wanted:
            return payload, end
    return None


def _leaf(fh: BinaryIO, start: int, end: int, need: int) -> bytes:
    if end - start < need or end - start > _MAX_LEAF:
        raise _Unknown("leaf box of an unexpected size")
    fh.seek(start)
    data = fh.read(end - start)
    if len(data) < need:
        raise _Unknown("leaf box cut short")
    return data


def _matrix(data: bytes, offset: int) -> tuple[int, ...]:
    return struct.unpack_from(">9i", data, offset)


def _read_moov(fh: BinaryIO, start: int, end: int) -> list[tuple[int, bytes, tuple[int, ...]]]:
    """(track ID, handler type, display matrix) of every trak, in file order."""
    movie: tuple[int, ...] | None = None
    tracks = []
    for kind, payload, box_end in _children(fh, start, end):
        if kind == b"cmov":
            raise _Unknown("compressed movie header")
        if kind == b"mvhd":
            data = _leaf(fh, payload, box_end, 4)
            # version/flags; times (v1: 2x8, v0: 2x4); timescale 4; duration (8 or 4); rate 4;
            # volume 2; reserved 10; then the movie matrix.
            offset = 4 + (16 if data[0] == 1 else 8) + 4 + (8 if data[0] == 1 else 4) + 4 + 2 + 10
            movie = _matrix(_leaf(fh, payload, box_end, offset + 36), offset)
        elif kind == b"trak":
            if movie is None:
                raise _Unknown("track header before the movie header")  # FFmpeg would use zeros
            tracks.append(_read_trak(fh, payload, box_end, movie))
    return tracks


def _read_trak(fh: BinaryIO, start: int, end: int, movie: tuple[int, ...]) -> tuple[int, bytes, tuple[int, ...]]:
    track_id, handler, track_matrix = None, b"", None
    for kind, payload, box_end in _children(fh, start, end):
        if kind == b"tkhd":
            data = _leaf(fh, payload, box_end, 4)
            v1 = data[0] == 1
            # version/flags; times (v1: 2x8, v0: 2x4); track ID 4; reserved 4; duration (8 or 4);
            # reserved 8; layer, alternate group, volume, reserved (2 each); then the matrix.
            id_at = 4 + (16 if v1 else 8)
            offset = id_at + 4 + 4 + (8 if v1 else 4) + 8 + 8
            data = _leaf(fh, payload, box_end, offset + 36)
            track_id = struct.unpack_from(">I", data, id_at)[0]
            track_matrix = _matrix(data, offset)
        elif kind == b"mdia":
            for sub, sub_payload, sub_end in _children(fh, payload, box_end):
                if sub == b"hdlr":
                    # version/flags 4; pre_defined (QuickTime: component type) 4; handler type 4.
                    handler = _leaf(fh, sub_payload, sub_end, 12)[8:12]
    if track_id is None or track_matrix is None:
        raise _Unknown("trak without a track header")
    return track_id, handler, _combine(track_matrix, movie)


def _combine(track: tuple[int, ...], movie: tuple[int, ...]) -> tuple[int, ...]:
    """``mov_read_tkhd``: the track matrix, then the movie matrix, each product shifted back by the
    fixed-point position of its row's column (16, 16, 30), summed into C ints (32-bit wrap)."""
    shifts = (16, 16, 30)
    out = []
    for i in range(3):
        for j in range(3):
            total = 0
            for e in range(3):
                total = _int32(total + ((track[i * 3 + e] * movie[e * 3 + j]) >> shifts[e]))
            out.append(total)
    return tuple(out)


def _int32(value: int) -> int:
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)
