"""The sound of a fixed clip: AAC/MP3 packets copied inside the kept window, anything else to AAC.

An encode decodes past damage: a packet the decoder refuses, or a frame it marks corrupt, becomes
silence of the same length, so the sound stays in sync with the picture (see :mod:`preflight.media.damage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..media.damage import Damage, PacketDecoder

__all__ = ["AUDIO_BITRATE", "AudioCopy", "Window"]

AUDIO_BITRATE = 128_000
"""AAC bits per second when the sound has to be encoded (transparent for stereo at 48 kHz)."""
_EPS = 1e-6


@dataclass(frozen=True)
class Window:
    start: float
    end: float | None
    """None: to the end of the clip."""


class AudioCopy:
    """The first audio stream into ``out``: packets copied (or re-encoded to AAC) inside the window.

    One packet before the window is kept as the decoder's priming (negative time: the MP4 edit list
    hides it), so the first kept frame decodes cleanly.
    """

    def __init__(self, inp: Any, out: Any, ain: Any, window: Window, transcode: bool) -> None:
        self.ain, self.window = ain, window
        self.t0 = inp.start_time / 1_000_000 if inp.start_time and inp.start_time > 0 else 0.0
        self.transcode = transcode
        self.out, self.pending = out, None
        self.done = False
        """True once a packet past the window's end was seen."""
        self.offset = round(window.start / ain.time_base) if ain.time_base else 0
        self.tb = float(ain.time_base) if ain.time_base else 0.0  # floats: Fraction math per packet is slow
        if transcode:
            self.stream = out.add_stream("aac", rate=_aac_rate(ain.codec_context.sample_rate))
            self.stream.layout = "stereo" if (ain.codec_context.channels or 2) >= 2 else "mono"
            self.stream.bit_rate = AUDIO_BITRATE
            self.resampler = None
            self.next_sample = 0
            self.decoder = PacketDecoder(ain, self.t0)
            self.cursor: float | None = None
            """Clip seconds where the next decoded sample belongs (None before the first frame)."""
            self.first: float | None = None
            """Time of the first packet pushed for encoding."""
            self.end = 0.0
            """End time of the latest packet pushed for encoding."""
            self.silence = 0.0
            """Seconds of silence written in place of damaged sound."""
            self.filled = 0
            """Refused packets whose hole is already filled (a gap in a clean stream is left alone)."""
            self.like: Any = None
            """A decoded frame: the format, layout and rate silence is made in."""
        else:
            self.stream = out.add_stream_from_template(ain)

    def push(self, packet: Any) -> None:
        t = packet.pts * self.tb - self.t0
        step = (packet.duration or 0) * self.tb
        if self.window.end is not None and t + step > self.window.end + _EPS:
            self.done = True
            return
        if t < self.window.start - _EPS:
            if not self.transcode and t + step > self.window.start - 1.0:
                self.pending = packet  # the latest packet before the window: priming
            return
        if self.transcode:
            self._encode(packet, t)
            return
        if self.pending is not None:
            self._mux(self.pending)
            self.pending = None
        self._mux(packet)

    def _mux(self, packet: Any) -> None:
        shift = self.offset + round(self.t0 / self.ain.time_base)
        packet.pts -= shift
        packet.dts -= shift
        packet.stream = self.stream
        self.out.mux(packet)

    @property
    def damage(self) -> Damage | None:
        """What the sound's decoder skipped (None when the packets were copied, not decoded)."""
        return self.decoder.damage if self.transcode else None

    def _encode(self, packet: Any, t: float) -> None:
        if self.first is None:
            self.first = t
        self.end = max(self.end, t + float((packet.duration or 0) * self.ain.time_base))
        for frame in self.decoder.decode(packet):
            self._frame(frame)

    def _frame(self, frame: Any) -> None:
        self.like = frame
        length = frame.samples / (frame.sample_rate or self.stream.rate)
        at = None if frame.pts is None or frame.time_base is None else float(frame.pts * frame.time_base) - self.t0
        refused = self.decoder.damage.failed > self.filled  # since the previous frame
        if self.cursor is None:
            # Refused before the first good frame: the silence starts where the first packet did.
            self.cursor = self.first if refused and self.first is not None else at
        if refused and at is not None and self.cursor is not None and at - self.cursor > length / 2:
            self._silence(at - self.cursor)  # the refused packets left this hole
        self.filled = self.decoder.damage.failed
        if frame.is_corrupt:
            self._silence(length)
        else:
            self._resample(frame)
        self.cursor = (at if at is not None else (self.cursor or 0.0)) + length

    def _silence(self, seconds: float) -> None:
        import av

        like = self.like  # None when no packet decoded at all: silence in the output's own format
        rate = (like.sample_rate if like is not None else None) or self.stream.rate
        samples = round(seconds * rate)
        if samples <= 0:
            return
        fmt = like.format.name if like is not None else "fltp"
        layout = like.layout.name if like is not None else self.stream.layout.name
        quiet = av.AudioFrame(format=fmt, layout=layout, samples=samples)
        for plane in quiet.planes:
            plane.update(bytes(plane.buffer_size))
        quiet.sample_rate = rate
        self.silence += samples / rate
        self._resample(quiet)

    def _resample(self, frame: Any) -> None:
        import av

        if self.resampler is None:
            self.resampler = av.AudioResampler(format="fltp", layout=self.stream.layout, rate=self.stream.rate)
        for chunk in self.resampler.resample(frame):
            chunk.pts = self.next_sample
            chunk.time_base = Fraction(1, self.stream.rate)
            self.next_sample += chunk.samples
            self.out.mux(self.stream.encode(chunk))

    def finish(self) -> None:
        if self.transcode:
            for frame in self.decoder.drain():
                self._frame(frame)
            if self.first is not None and self.decoder.damage.failed > self.filled:
                since = self.cursor if self.cursor is not None else self.first
                self._silence(self.end - since)  # the last packets were refused: keep the length
            self.out.mux(self.stream.encode(None))

    def notes(self) -> list[str]:
        """What the encode had to skip, for the fix report."""
        damage = self.damage
        if damage is None or not damage.count:
            return []
        what = "packet" if damage.count == 1 else "packets"
        return [f"skipped {damage.count} damaged audio {what} ({self.silence:.3f} s of silence keeps the sync)"]


def _aac_rate(rate: int | None) -> int:
    rates = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
    return rate if rate in rates else 48000
