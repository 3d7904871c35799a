"""The sound of a fixed clip: AAC/MP3 packets copied inside the kept window, anything else to AAC."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

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
        if transcode:
            self.stream = out.add_stream("aac", rate=_aac_rate(ain.codec_context.sample_rate))
            self.stream.layout = "stereo" if (ain.codec_context.channels or 2) >= 2 else "mono"
            self.stream.bit_rate = AUDIO_BITRATE
            self.resampler = None
            self.next_sample = 0
        else:
            self.stream = out.add_stream_from_template(ain)

    def push(self, packet: Any) -> None:
        t = float(packet.pts * self.ain.time_base) - self.t0
        step = float((packet.duration or 0) * self.ain.time_base)
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

    def _encode(self, packet: Any, t: float) -> None:
        import av

        for frame in packet.decode():
            if self.resampler is None:
                self.resampler = av.AudioResampler(format="fltp", layout=self.stream.layout, rate=self.stream.rate)
            for chunk in self.resampler.resample(frame):
                chunk.pts = self.next_sample
                chunk.time_base = Fraction(1, self.stream.rate)
                self.next_sample += chunk.samples
                self.out.mux(self.stream.encode(chunk))

    def finish(self) -> None:
        if self.transcode:
            self.out.mux(self.stream.encode(None))


def _aac_rate(rate: int | None) -> int:
    rates = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
    return rate if rate in rates else 48000
