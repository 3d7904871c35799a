"""What a fix promised to keep, counted again in what it wrote: an output that lost frames never passes.

The plan keeps a window of the clip (all of it unless trimmed). Before a clip's output is renamed into
place, the packets of the source's window (from the one read of its packets, :mod:`.source`) and of
the output (from its MP4 index, the sample tables a player reads) are counted, per stream:

- video: the pictures and the seconds they span. A copy keeps every packet of the window; a stream-copy
  cut ends before the first packet (in decode order) that would show past the window's end, since the
  B-frames after it may reference it. A re-encode fills a constant-rate grid from the window's
  first picture to its last.
- audio: the seconds the sound spans.

Each stream of the output may fall short of the promise by at most one frame (one video frame, plus two
audio packets for the sound: a cut keeps whole packets at both ends). An output that falls further
short is never kept (``fix.frames_lost``); a copy then re-encodes from the decoded pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .source import PacketTime, SourcePackets

__all__ = ["Kept", "StreamSpan", "count_kept", "promised"]

_EPS = 1e-6


@dataclass(frozen=True)
class StreamSpan:
    """The packets of one stream that fall in a window."""

    packets: int
    """Packets shown (video: pictures)."""
    seconds: float
    """From the first packet's start to the last packet's end."""
    step: float
    """One packet's duration (the longest seen): the tolerance unit."""


@dataclass(frozen=True)
class Kept:
    """The promise and what the output holds, per stream."""

    video_frames: int
    video_frames_written: int
    video_seconds: float
    video_seconds_written: float
    audio_seconds: float | None = None
    """None: the source has no sound in the window."""
    audio_seconds_written: float | None = None

    @property
    def lost(self) -> list[str]:
        """What fell short of the promise by more than one frame, in words (empty: nothing)."""
        problems = []
        frame = self.video_seconds / self.video_frames if self.video_frames else 0.0
        if self.video_frames_written < self.video_frames - 1:
            problems.append(f"{self.video_frames_written} of {self.video_frames} video frames written")
        elif self.video_seconds_written < self.video_seconds - 1.5 * frame:
            problems.append(f"{self.video_seconds_written:.3f} s of {self.video_seconds:.3f} s of video written")
        if self.audio_seconds is not None:
            written = self.audio_seconds_written or 0.0
            if written < self.audio_seconds - self._audio_slack(frame):
                problems.append(f"{written:.3f} s of {self.audio_seconds:.3f} s of sound written")
        return problems

    def _audio_slack(self, frame: float) -> float:
        # One video frame, plus a packet at each end of a cut (AAC: 21-23 ms a packet).
        return frame + 2 * 0.025 + _EPS

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "video_frames": self.video_frames,
            "video_frames_written": self.video_frames_written,
            "video_seconds": round(self.video_seconds, 6),
            "video_seconds_written": round(self.video_seconds_written, 6),
        }
        if self.audio_seconds is not None:
            data["audio_seconds"] = round(self.audio_seconds, 6)
            data["audio_seconds_written"] = round(self.audio_seconds_written or 0.0, 6)
        return data


def promised(
    source: SourcePackets, start: float, end: float | None, *, copies: bool, rate: float | None = None
) -> Kept:
    """What writing the window [start, end) of the clip ``source`` describes may not lose (the
    ``*_written`` fields are 0).

    ``copies``: the video is stream-copied (the cut rule above); else it is re-encoded at ``rate``
    frames a second (None: the source's own)."""
    video = _window(source.video, start, end, clean_cut=copies, frame=1 / source.fps)
    frames, seconds = video.packets, video.seconds
    if not copies and video.packets:
        fps = rate or source.fps
        frames = max(1, round(video.seconds * fps))
        if end is not None:
            frames = min(frames, int((end - start) * fps + _EPS))
        seconds = frames / fps
    audio = None
    if source.audio:
        sound = [(t, step) for t, step in source.audio if t >= start - _EPS and (end is None or t + step <= end + _EPS)]
        audio = _span(sound).seconds if sound else None
    return Kept(frames, 0, seconds, 0.0, audio)


def count_kept(promise: Kept, output: Path) -> Kept:
    """``promise`` with what ``output`` holds, read from its index (the MP4 sample tables: what a
    player or the provider sees, without reading the media data); demuxed when the index is silent."""
    import av

    from ..media.probe import open_for_packets

    with open_for_packets(output) as inp:
        vin = next(s for s in inp.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
        ain = inp.streams.audio[0] if inp.streams.audio else None
        indexed = [s for s in (vin, ain) if s is not None]
        if all(s.frames and s.duration and s.time_base for s in indexed):
            video = StreamSpan(vin.frames, float(vin.duration * vin.time_base), 0.0)
            audio = StreamSpan(ain.frames, float(ain.duration * ain.time_base), 0.0) if ain is not None else None
        else:
            video, audio = _demuxed(inp, vin, ain)
    return Kept(
        promise.video_frames, video.packets, promise.video_seconds, video.seconds,
        promise.audio_seconds, audio.seconds if audio is not None else None,
    )  # fmt: skip


def _window(
    packets: Sequence[PacketTime], start: float, end: float | None, *, clean_cut: bool, frame: float
) -> StreamSpan:
    """The video packets of [start, end): a picture counts from ``start`` (half a frame early, as a cut
    on a keyframe lands); a copy keeps nothing decoded after the first packet that shows past ``end``."""
    kept = []
    for t, step in packets:
        if t < start - frame / 2:
            continue
        if end is not None and t + (step or frame) > end + _EPS:
            if clean_cut:
                break
            continue
        kept.append((t, step or frame))
    return _span(kept)


def _span(packets: Sequence[PacketTime]) -> StreamSpan:
    if not packets:
        return StreamSpan(0, 0.0, 0.0)
    first = min(t for t, _ in packets)
    last = max(t + step for t, step in packets)
    return StreamSpan(len(packets), last - first, max(step for _, step in packets))


def _demuxed(inp: Any, vin: Any, ain: Any) -> tuple[StreamSpan, StreamSpan | None]:
    """Count the shown packets of the output's streams by demuxing it (an index without counts)."""
    video: list[PacketTime] = []
    audio: list[PacketTime] = []
    for packet in inp.demux([vin] + ([ain] if ain is not None else [])):
        ts = packet.pts if packet.pts is not None else packet.dts
        if not packet.size or packet.is_discard or ts is None:
            continue
        t = float(ts * packet.time_base)
        if t >= -_EPS:
            (video if packet.stream is vin else audio).append((t, float((packet.duration or 0) * packet.time_base)))
    return _span(video), (_span(audio) if ain is not None else None)
