"""What FFmpeg's H.264 decoder would say about a stream, from its sequence parameter set alone.

Opening an MP4 makes FFmpeg (``avformat_find_stream_info``) decode the first H.264 frame just to
learn the pixel format: 31 ms for a phone's 720p clip and 120 ms at 1080p 16 Mb/s on the 2-core
machine, the whole cost of a ``check --no-content``. HEVC does not need it (FFmpeg reads its
parameter sets at decoder init). The probe therefore opens MP4/MOV with ``skip_frame=all`` (the
decoder parses headers, decodes no picture) and gets the pixel format and the colour description
from the SPS in the ``avcC`` box here, choosing as ``get_pixel_format`` in ``libavcodec/h264_slice.c``
does. Anything unexpected returns ``None`` and the probe opens the file again the slow way.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SpsFacts", "sps_facts"]

_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
"""profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices."""
_RGB, _RANGE_MPEG, _RANGE_JPEG = 0, 1, 2  # AVCOL_SPC_RGB, AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG


_PROFILE_NAMES = {
    66: "Baseline", 66 | 512: "Constrained Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10",
    110 | 2048: "High 10 Intra", 122: "High 4:2:2", 122 | 2048: "High 4:2:2 Intra", 144: "High 4:4:4",
    244: "High 4:4:4 Predictive", 244 | 2048: "High 4:4:4 Intra", 44: "CAVLC 4:4:4", 118: "Multiview High",
    128: "Stereo High",
}  # fmt: skip
"""FFmpeg's H.264 profile names (libavcodec/profiles.c) by AV_PROFILE_H264_* value: profile_idc,
plus 512 (constrained: Baseline with constraint_set1) or 2048 (intra: constraint_set3 on High 10,
4:2:2 and 4:4:4 Predictive), as ``ff_h264_get_profile`` makes it."""


@dataclass(frozen=True)
class SpsFacts:
    profile: str | None
    """FFmpeg's profile name (``High``, ``Constrained Baseline``...)."""
    pix_fmt: str
    color_range: int
    """AVColorRange after the SPS (the container's when the SPS has no video signal type)."""
    color_primaries: int
    color_trc: int
    colorspace: int


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # IndexError past the end: caught by sps_facts
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _rbsp(nal: bytes) -> bytes:
    """The NAL payload without its header byte and emulation-prevention bytes (00 00 03)."""
    out, zeros = bytearray(), 0
    for b in nal[1:]:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _first_sps(avcc: bytes) -> bytes | None:
    if len(avcc) < 8 or avcc[0] != 1 or avcc[5] & 0x1F == 0:
        return None  # not an avcC record (Annex B extradata, or none)
    length = int.from_bytes(avcc[6:8], "big")
    nal = avcc[8 : 8 + length]
    return nal if len(nal) == length and nal and nal[0] & 0x1F == 7 else None


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = next_ = 8
    for _ in range(size):
        if next_:
            next_ = (last + bits.se() + 256) % 256
        last = next_ or last


def sps_facts(extradata: bytes | None, range_: int, primaries: int, trc: int, colorspace: int) -> SpsFacts | None:
    """Pixel format and colour description FFmpeg's decoder would report for the ``avcC``
    ``extradata``; the other arguments are the container's values (from a ``colr`` box), which the
    SPS overrides where it says something. None when the SPS cannot be read."""
    sps = _first_sps(extradata or b"")
    if sps is None:
        return None
    try:
        return _parse(_Bits(_rbsp(sps)), range_, primaries, trc, colorspace)
    except (IndexError, ValueError):
        return None


def _parse(b: _Bits, range_: int, primaries: int, trc: int, colorspace: int) -> SpsFacts | None:
    profile_idc, constraints = b.u(8), b.u(8)
    b.u(8)  # level_idc
    b.ue()  # seq_parameter_set_id
    chroma, depth = 1, 8
    if profile_idc in _HIGH_PROFILES:
        chroma = b.ue()
        if chroma == 3:
            b.u(1)  # separate_colour_plane_flag
        depth = b.ue() + 8
        b.ue()  # bit_depth_chroma_minus8
        b.u(1)  # qpprime_y_zero_transform_bypass_flag
        if b.u(1):  # seq_scaling_matrix_present_flag
            for i in range(12 if chroma == 3 else 8):
                if b.u(1):
                    _skip_scaling_list(b, 16 if i < 6 else 64)
    if chroma > 3 or depth not in (8, 9, 10, 12, 14):
        return None  # FFmpeg refuses these too; let it say so
    b.ue()  # log2_max_frame_num_minus4
    poc_type = b.ue()
    if poc_type == 0:
        b.ue()
    elif poc_type == 1:
        b.u(1)
        b.se()
        b.se()
        for _ in range(b.ue()):
            b.se()
    b.ue()  # max_num_ref_frames
    b.u(1)  # gaps_in_frame_num_value_allowed_flag
    b.ue()  # pic_width_in_mbs_minus1
    b.ue()  # pic_height_in_map_units_minus1
    if not b.u(1):  # frame_mbs_only_flag
        b.u(1)
    b.u(1)  # direct_8x8_inference_flag
    if b.u(1):  # frame_cropping_flag
        for _ in range(4):
            b.ue()
    if b.u(1):  # vui_parameters_present_flag
        if b.u(1) and b.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc (255: explicit)
            b.u(32)
        if b.u(1):  # overscan_info_present_flag
            b.u(1)
        if b.u(1):  # video_signal_type_present_flag
            b.u(3)  # video_format
            range_ = _RANGE_JPEG if b.u(1) else _RANGE_MPEG
            if b.u(1):  # colour_description_present_flag
                primaries, trc, colorspace = b.u(8), b.u(8), b.u(8)
    profile = profile_idc
    if profile_idc == 66 and constraints & 0x40:  # constraint_set1_flag (flags are MSB first)
        profile |= 512
    elif profile_idc in (110, 122, 244) and constraints & 0x10:  # constraint_set3_flag
        profile |= 2048
    return SpsFacts(_PROFILE_NAMES.get(profile), _pix_fmt(chroma, depth, range_, colorspace), range_, primaries,
                    trc, colorspace)  # fmt: skip


def _pix_fmt(chroma: int, depth: int, range_: int, colorspace: int) -> str:
    """``get_pixel_format`` (h264_slice.c), software decoder: 4:0:0 decodes as 4:2:0; the yuvj
    (full range) formats exist at 8 bits only; 4:4:4 tagged RGB is planar GBR."""
    kinds = {3: "gbrp" if colorspace == _RGB else "yuv444p", 2: "yuv422p"}
    kind = kinds.get(chroma, "yuv420p")
    if depth == 8:
        return "yuvj" + kind[3:] if kind != "gbrp" and range_ == _RANGE_JPEG else kind
    return f"{kind}{depth}le"
