"""One read of a clip's packets before fix writes it: everything the plan and its promise need.

Reading 45 s of a 16 Mb/s clip's packets costs about as much as ``ffmpeg -c copy`` itself (0.1 s), so
a copy path that read them once for the keyframes, once to look for damage, once to decode the sound
and once to count what it will keep was five times ffmpeg before it wrote a byte. This module reads
them once (:func:`read_source`) and keeps, per stream, only small numbers:

- the video's keyframe times (a stream-copy trim must start on one);
- each packet's time and duration, video and sound, in decode order (what :mod:`.promise` counts);
- the quick damage scan of the video (:class:`preflight.media.packetscan.PacketJudge`), and, when asked,
  the sound decoded for damage (cheap: about 1% of the video's decode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..media.damage import Damage, PacketDecoder
from ..media.packetscan import PacketJudge, PacketScan

__all__ = ["PacketTime", "SourcePackets", "read_source"]

PacketTime = tuple[float, float]
"""(seconds from the container's start, duration in seconds) of one packet."""


@dataclass(frozen=True)
class SourcePackets:
    """What one read of a clip's packets found."""

    video: tuple[PacketTime, ...]
    """The first video stream's packets with data, in decode order."""
    audio: tuple[PacketTime, ...] | None
    """The first audio stream's, or None without sound."""
    keyframes: tuple[float, ...]
    """Keyframe presentation times, sorted."""
    fps: float
    """The video's frame rate (what a packet without a duration lasts)."""
    scan: PacketScan
    """The quick damage scan of the video packets."""
    audio_damage: Damage | None = None
    """The sound's decode, when asked for (None otherwise, or without sound)."""


def read_source(path: str | Path, *, decode_audio: bool = False) -> SourcePackets:
    """Read ``path``'s first video and audio streams' packets once (see the module docstring)."""
    import av

    from ..media.probe import open_for_packets

    with open_for_packets(path) as container:
        vin = next(s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
        ain = container.streams.audio[0] if container.streams.audio else None
        t0 = container.start_time / 1_000_000 if container.start_time and container.start_time > 0 else 0.0
        rate = vin.average_rate or vin.base_rate or vin.guessed_rate
        fps = float(rate) if rate else 30.0
        judge = PacketJudge.for_stream(vin)
        sound = _sound_decoder(ain, t0) if decode_audio and ain is not None else None
        vtb = float(vin.time_base)
        atb = float(ain.time_base) if ain is not None else 0.0
        video: list[PacketTime] = []
        audio: list[PacketTime] = []
        keyframes: list[float] = []
        streams = [vin] + ([ain] if ain is not None else [])
        try:
            for packet in container.demux(streams):
                if not packet.size:
                    continue
                if packet.stream is vin:
                    judge.packet(packet)
                    at = _time(packet, vtb, t0)
                    if at is not None:
                        video.append(at)
                        if packet.is_keyframe and packet.pts is not None:
                            keyframes.append(at[0])
                    continue
                at = _time(packet, atb, t0)
                if at is not None:
                    audio.append(at)
                if sound is not None:
                    sound.decode(packet)
        except av.FFmpegError as exc:  # the copy would stop here too: the scan says so
            judge.flag(None, f"reading stopped: {' '.join(str(exc).split())}")
        if sound is not None:
            sound.drain()
    return SourcePackets(
        tuple(video), tuple(audio) if ain is not None else None, tuple(sorted(keyframes)), fps, judge.result(),
        sound.damage if sound is not None else None,
    )  # fmt: skip


def _sound_decoder(ain: Any, origin: float) -> PacketDecoder | None:
    import av

    try:
        av.Codec(ain.codec_context.name, "r")
    except (av.FFmpegError, ValueError):  # no decoder for this sound: nothing to learn from it
        return None
    return PacketDecoder(ain, origin)


def _time(packet: Any, time_base: float, t0: float) -> PacketTime | None:
    """The packet's time and duration in seconds (the stream's time base as a float: Fraction
    arithmetic on every packet was a third of this read's cost)."""
    ts = packet.pts if packet.pts is not None else packet.dts
    if ts is None:
        return None
    return ts * time_base - t0, (packet.duration or 0) * time_base
