"""Decode times for copied packets: a stream copy must keep every packet, including those whose
container left the decode time (DTS) unset.

Matroska stores presentation times only; FFmpeg works the decode times out once it has seen as many
packets as the stream's reordering is deep, so the first packets of a clip with B-frames (its first
keyframe among them) come out of the demuxer with ``dts`` None. The MP4 muxer needs a DTS on every
packet, rising strictly and never after the packet's PTS. Skipping such packets (what the remux did)
dropped the whole first GOP of an ordinary MKV, or the whole video of a clip with one keyframe.

:class:`DecodeTimes` gives each packet of one stream the DTS the MP4 muxer accepts, as the ffmpeg
CLI's stream copy predicts it (``fftools/ffmpeg_demux.c``: a packet without DTS gets the previous one
plus a frame). Packets before the first real DTS are held (at most :data:`MAX_HELD`) and given times
counted back from it, one frame apart, so the held keyframe decodes first and shows at its own PTS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_HELD", "DecodeTimes", "DecodeTimesUnknown"]

MAX_HELD = 64
"""Packets held while waiting for the first real DTS. FFmpeg's demuxer fills DTS in after at most
its reordering depth (``MAX_REORDER_DELAY`` = 16) of packets; a stream still without one after four
times that has none at all, and a copy cannot order its packets: the caller re-encodes instead."""


class DecodeTimesUnknown(Exception):
    """A stream gives no decode times at all: its packets cannot be ordered for a copy."""


class DecodeTimes:
    """Fills in and repairs the DTS of one stream's packets, in decode order.

    ``step`` is one frame (or one audio packet) in the stream's time base, used where a packet has no
    duration of its own. :meth:`push` yields the packets that are ready, :meth:`finish` the rest.
    """

    def __init__(self, step: int) -> None:
        self.step = max(1, step)
        self.held: list[Any] = []
        self.last: int | None = None
        """The DTS given to the previous packet released."""
        self.filled = 0
        """Packets whose DTS was unset (counted for the fix report)."""

    def push(self, packet: Any) -> Iterator[Any]:
        if packet.pts is None and packet.dts is None:
            raise DecodeTimesUnknown("a packet has neither a presentation nor a decode time")
        if self.last is None:
            if packet.dts is None:
                self.held.append(packet)
                if len(self.held) > MAX_HELD:
                    raise DecodeTimesUnknown(f"no decode time in the first {MAX_HELD} packets")
                return
            yield from self._release_held(packet.dts)
        yield self._placed(packet)

    def finish(self) -> Iterator[Any]:
        """The packets still held at the end (a stream shorter than its reordering depth)."""
        if self.held:
            yield from self._release_held(max(p.pts for p in self.held) + self.step)

    def _release_held(self, anchor: int) -> Iterator[Any]:
        """Give the held packets times one frame apart counted back from ``anchor`` (the first real
        DTS), each pulled earlier where it would otherwise decode after it is shown (the muxer
        refuses DTS > PTS) or not before the next one."""
        held, self.held = self.held, []
        times = [anchor - (len(held) - i) * self._duration(p) for i, p in enumerate(held)]
        later = anchor
        for i in range(len(held) - 1, -1, -1):
            times[i] = min(times[i], held[i].pts, later - 1)
            later = times[i]
        for packet, dts in zip(held, times, strict=True):
            packet.dts = dts
            self.filled += 1
            yield self._placed(packet)

    def _placed(self, packet: Any) -> Any:
        """``packet`` with a DTS after the previous one and not after its own PTS."""
        if packet.dts is None:
            self.filled += 1
            packet.dts = (self.last + self._duration(packet)) if self.last is not None else packet.pts
        if packet.pts is None:
            packet.pts = packet.dts
        if packet.dts > packet.pts:
            packet.dts = packet.pts
        if self.last is not None and packet.dts <= self.last:
            packet.dts = self.last + 1
            if packet.dts > packet.pts:
                raise DecodeTimesUnknown("packets cannot be given rising decode times within their presentation times")
        self.last = packet.dts
        return packet

    def _duration(self, packet: Any) -> int:
        return packet.duration or self.step
