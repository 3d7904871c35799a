"""What a fix promised to keep, counted again in what it wrote: an output that lost frames never passes.

The plan keeps a window of the clip (all of it unless trimmed). Before a clip's output is renamed into
place, the packets of the source's window and of the output are counted by demuxing both files (no
decoding: a few milliseconds a second of video), per stream:

- video: the pictures and the seconds they span. A copy keeps every packet of the window; a stream-copy
  cut ends before the first packet (in decode order) that would show past the window's end, since the
  B-frames after it may reference it. A re-encode fills a constant-rate grid from the window's
  first picture to its last.
- audio: the seconds the sound spans.

Each stream of the output may fall short of the promise by at most one frame (one video frame, plus two
audio packets for the sound: a cut keeps whole packets at both ends). An output that falls further
short is a :class:`FramesLost` and is never kept; a copy then re-encodes from the decoded pictures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def promised(src: Path, start: float, end: float | None, *, copies: bool, rate: float | None = None) -> Kept:
    """What writing ``src``'s window [start, end) may not lose (the ``*_written`` fields are 0).

    ``copies``: the video is stream-copied (the cut rule above); else it is re-encoded at ``rate``
    frames a second (None: the source's own)."""
    video, audio = _census(src, start, end, clean_cut=copies)
    frames, seconds = video.packets, video.seconds
    if not copies and video.packets:
        fps = rate or (video.packets / video.seconds if video.seconds else 30.0)
        frames = max(1, round(video.seconds * fps))
        if end is not None:
            frames = min(frames, int((end - start) * fps + _EPS))
        seconds = frames / fps
    return Kept(frames, 0, seconds, 0.0, audio.seconds if audio is not None and audio.packets else None)


def count_kept(promise: Kept, output: Path) -> Kept:
    """``promise`` with what ``output`` holds (all of it, times from its start)."""
    video, audio = _census(output, 0.0, None, clean_cut=False)
    return Kept(
        promise.video_frames, video.packets, promise.video_seconds, video.seconds,
        promise.audio_seconds, audio.seconds if audio is not None else None,
    )  # fmt: skip


def _census(path: Path, start: float, end: float | None, *, clean_cut: bool) -> tuple[StreamSpan, StreamSpan | None]:
    """Count the packets of the first video and audio streams in [start, end) (seconds from the
    container's start), demuxing only."""
    import av

    with av.open(str(path)) as inp:
        vin = next(s for s in inp.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
        ain = inp.streams.audio[0] if inp.streams.audio else None
        t0 = inp.start_time / 1_000_000 if inp.start_time and inp.start_time > 0 else 0.0
        video, audio = _Span(), _Span() if ain is not None else None
        half = 0.5 / _fps(vin)
        cut = False
        for packet in inp.demux([vin] + ([ain] if ain is not None else [])):
            if not packet.size or packet.is_discard or (packet.pts is None and packet.dts is None):
                continue
            tb = packet.stream.time_base
            t = float((packet.pts if packet.pts is not None else packet.dts) * tb) - t0
            step = float((packet.duration or 0) * tb)
            if packet.stream is not vin:
                if t >= start - _EPS and (end is None or t + step <= end + _EPS):
                    audio.add(t, step)  # type: ignore[union-attr]
                continue
            if t < start - half:
                continue
            if end is not None and t + step > end + _EPS:
                cut = cut or clean_cut  # a copy keeps nothing decoded after this packet
                continue
            if not cut:
                video.add(t, step or 2 * half)
    return video.span(), audio.span() if audio is not None else None


class _Span:
    def __init__(self) -> None:
        self.packets = 0
        self.first = math.inf
        self.last = -math.inf
        self.step = 0.0

    def add(self, t: float, step: float) -> None:
        self.packets += 1
        self.first = min(self.first, t)
        self.last = max(self.last, t + step)
        self.step = max(self.step, step)

    def span(self) -> StreamSpan:
        seconds = self.last - self.first if self.packets else 0.0
        return StreamSpan(self.packets, seconds, self.step)


def _fps(stream: Any) -> float:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    return float(rate) if rate else 30.0
