"""Damage a clip's packets show without decoding a picture: the quick scan before a stream copy.

A stream copy carries whatever the packets hold to the provider, so ``fix`` must not copy a damaged
stream; a decode of every picture proves each packet but costs as much as the decode (5 s for 30 s of
1080p, where the copy takes 0.1 s). This scan reads the packets once, as the copy does, and looks at
what can be judged without decoding:

- the packet's flags (FFmpeg's demuxer marks a packet it knows is corrupt);
- decode times that go backwards or stand still, and gaps of several frames in them (a demuxer that
  skipped a damaged stretch of the file says nothing else);
- for H.264 and HEVC with length-prefixed NAL units (MP4, MOV, Matroska): that the lengths tile the
  packet exactly, that every unit's header is legal (forbidden bit clear, a defined unit type; HEVC:
  layer 0 and a temporal id), that the packet holds a picture, and that each H.264 slice header starts
  with sane values (``first_mb_in_slice``, ``slice_type`` <= 9, ``pic_parameter_set_id`` <= 255).

Measured on a 4 s 640x360 clip of a person (tests/test_packetscan.py): random overwrites of 4 KB, as a
bad disk block leaves them, were found in 58 of 60 places by this scan plus a decode of the sound (the
full decode: 60); overwrites of 256 bytes in 21 of 59, since most fall inside one picture's coded data,
which only decoding can judge. A suspicious packet makes ``fix`` decode the stream after all
(``--verify`` always does).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .nal import length_size

__all__ = ["GAP_FRAMES", "PacketJudge", "PacketScan", "scan_packets"]

GAP_FRAMES = 4.0
"""A decode time more than this many typical frame steps after the previous one is a gap: frames the
demuxer skipped. Phones' variable frame rates vary by less than 2x; a dropped frame is 2x."""
MAX_REASONS = 5
_H264_SLICES = (1, 5)


@dataclass(frozen=True)
class PacketScan:
    """What :func:`scan_packets` found in the first video stream."""

    packets: int
    """Video packets read."""
    suspicious: int
    """Packets whose flags, timing or NAL framing look damaged."""
    times: tuple[float, ...] = ()
    """Seconds of the first suspicious packets."""
    reasons: tuple[str, ...] = ()
    """Why, for the first ones (for the log)."""

    @property
    def clean(self) -> bool:
        return self.suspicious == 0


def scan_packets(path: str | Path) -> PacketScan:
    """Read the first video stream's packets of ``path`` once and judge each without decoding it."""
    import av

    with av.open(str(path)) as container:
        stream = next(
            (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic), None
        )
        if stream is None:
            return PacketScan(0, 0)
        judge = PacketJudge.for_stream(stream)
        try:
            for packet in container.demux(stream):
                if packet.size:
                    judge.packet(packet)
        except av.FFmpegError as exc:
            judge.flag(None, f"reading stopped: {' '.join(str(exc).split())}")
    return judge.result()


class PacketJudge:
    """Judges one video stream's packets as they are read (:meth:`packet`), for a caller that reads
    them anyway (``fix`` reads a clip's packets once before copying it)."""

    @classmethod
    def for_stream(cls, stream: Any) -> PacketJudge:
        ctx = stream.codec_context
        framing = length_size(ctx.name, ctx.extradata or b"") if ctx.name in ("h264", "hevc") else None
        return cls(ctx.name, framing or 0, stream.time_base)

    def __init__(self, codec: str, framing: int, time_base: Any) -> None:
        self.codec, self.framing = codec, framing
        self.time_base = float(time_base) if time_base else 0.0
        self.packets = self.suspicious = 0
        self.times: list[float] = []
        self.reasons: list[str] = []
        self.last_dts: int | None = None
        self.steps: list[int] = []

    def packet(self, packet: Any) -> None:
        self.packets += 1
        t = _seconds(packet, self.time_base)
        why = self._flags_and_timing(packet) or (self._nal_framing(bytes(packet)) if self.framing else None)
        if why:
            self.flag(t, why)

    def flag(self, t: float | None, why: str) -> None:
        self.suspicious += 1
        if t is not None and len(self.times) < MAX_REASONS:
            self.times.append(round(t, 3))
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(why if t is None else f"{t:.2f} s: {why}")

    def result(self) -> PacketScan:
        return PacketScan(self.packets, self.suspicious, tuple(self.times), tuple(self.reasons))

    def _flags_and_timing(self, packet: Any) -> str | None:
        if packet.is_corrupt:
            return "the demuxer marked the packet corrupt"
        dts = packet.dts
        if dts is None:
            return None  # Matroska leaves the first ones unset (see fix/timestamps.py)
        last, self.last_dts = self.last_dts, dts
        if last is None:
            return None
        step = dts - last
        if step <= 0:
            return "decode times go backwards"
        typical = statistics.median(self.steps) if len(self.steps) >= 8 else None
        self.steps.append(step)
        if len(self.steps) > 64:
            del self.steps[0]
        if typical and step > GAP_FRAMES * typical:
            return f"a gap of {step / typical:.0f} frames before it"
        return None

    def _nal_framing(self, data: bytes) -> str | None:
        pos, size_bytes, pictures = 0, self.framing, 0
        while pos < len(data):
            if pos + size_bytes > len(data):
                return "a NAL length runs past the packet"
            length = int.from_bytes(data[pos : pos + size_bytes], "big")
            pos += size_bytes
            if length == 0 or pos + length > len(data):
                return "NAL lengths do not tile the packet"
            why, picture = self._nal_unit(data[pos : pos + length])
            if why:
                return why
            pictures += picture
            pos += length
        return None if pictures else "no picture in the packet"

    def _nal_unit(self, nal: bytes) -> tuple[str | None, bool]:
        """(why the unit header is illegal or None, whether it is a coded picture's)."""
        if nal[0] & 0x80:
            return "a NAL unit's forbidden bit is set", False
        if self.codec == "hevc":
            if len(nal) < 2:
                return "a NAL unit header is cut short", False
            kind, temporal = (nal[0] >> 1) & 0x3F, nal[1] & 7
            # 41-47 are reserved; 48-63 unspecified ones are real (Dolby Vision's RPU is 62), as are
            # layers above 0 (MV-HEVC: the iPhone's spatial video).
            if 41 <= kind <= 47 or temporal == 0:
                return f"an HEVC NAL unit of type {kind} is not one a stream holds", False
            return None, kind < 32
        kind = nal[0] & 0x1F
        if kind == 0 or kind >= 24:
            return f"an H.264 NAL unit of type {kind} is not one a stream holds", False
        if kind in _H264_SLICES:
            return _slice_header(nal), True
        return None, kind in (2, 3, 4)


def _slice_header(nal: bytes) -> str | None:
    """Why an H.264 slice header's first fields are impossible, or None."""
    bits = _ExpGolomb(nal[1:12])
    try:
        bits.ue()  # first_mb_in_slice: any macroblock
        slice_type, pps = bits.ue(), bits.ue()
    except ValueError:
        return "a slice header cannot be read"
    if slice_type > 9 or pps > 255:
        return f"a slice header says type {slice_type}, picture parameter set {pps}"
    return None


class _ExpGolomb:
    """Unsigned Exp-Golomb codes from the start of a few bytes (emulation prevention ignored: the
    first three fields of a slice header sit before any 00 00 03)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def _bit(self) -> int:
        if self.left == 0:
            raise ValueError("out of bits")
        self.left -= 1
        return (self.value >> self.left) & 1

    def ue(self) -> int:
        zeros = 0
        while self._bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("an Exp-Golomb code longer than 32 bits")
        rest = 0
        for _ in range(zeros):
            rest = rest << 1 | self._bit()
        return (1 << zeros) - 1 + rest


def _seconds(packet: Any, time_base: float) -> float | None:
    t = packet.pts if packet.pts is not None else packet.dts
    return t * time_base if t is not None and time_base else None
