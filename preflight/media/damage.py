"""Decoding past damage, as ffmpeg does: a packet FFmpeg cannot decode is counted and skipped.

One damaged packet used to fail a whole clip (``check``) or a whole fix (``avcodec_send_packet()``).
:class:`PacketDecoder` decodes one stream packet by packet: a packet the decoder refuses (PyAV raises
an :class:`av.FFmpegError` subclass from ``send_packet``/``receive_frame``) and a frame the decoder
marks corrupt (FFmpeg concealed an error in it: ``frame.is_corrupt``, i.e. ``decode_error_flags`` or
``AV_FRAME_FLAG_CORRUPT``) are counted in a :class:`Damage`, with their times, and decoding goes on.
The decode pass (``analyze/frames.py``) and the fix executors (``fix/video.py``, ``fix/audio.py``)
all decode through it, so they agree on what counts as damage.

:func:`damage_findings` turns the counts into ``video.corrupt_frames`` / ``audio.corrupt_frames``
warnings, or into a :class:`ProbeError` (``decode.error``) when the clip is mostly undecodable.

FFmpeg's own log lines ("error while decoding MB ...", "concealing N errors") never reach stderr:
PyAV drops libav's log by default (``av.logging`` level ``None``); ``--debug`` routes them to
Python logging (:func:`libav_logs_for_debug`).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProbeError, memory_exhausted
from ..models import Finding, Severity

__all__ = [
    "MAX_TIMES",
    "MOSTLY_UNDECODABLE",
    "Damage",
    "PacketDecoder",
    "damage_findings",
    "decoders_for",
    "demux_past_damage",
    "libav_logs_for_debug",
    "scan",
]

MAX_TIMES = 10
"""Damage times kept per stream (the report shows the first ones; the count is always complete)."""

MOSTLY_UNDECODABLE = 0.5
"""A clip fails with ``decode.error`` when, once damage was seen, fewer than this share of its video
packets gave a clean frame (or none did). Why a half: beyond it the analyzers judge a minority of
the clip, and a re-encode would repeat the previous good frame over most of the duration (a frozen
picture, not the motion the user shot); below it ffmpeg's own behaviour (skip, conceal, carry on)
gives a usable clip. Measured: 4 KB of garbage in a 4 s 25 fps clip costs 2 packets and 15 frames
(the decoder drops frames until it recovers), 85% clean; a clip overwritten past its first frame
keeps none."""


@dataclass
class Damage:
    """What one stream's decoder could not decode cleanly."""

    kind: str
    """``video`` or ``audio``."""
    packets: int = 0
    """Packets with data sent to the decoder."""
    frames: int = 0
    """Frames the decoder produced (corrupt ones included)."""
    failed: int = 0
    """Packets the decoder refused (skipped: no frame came out of them)."""
    corrupt: int = 0
    """Frames the decoder produced but marked corrupt (an error was concealed in them)."""
    times: list[float] = field(default_factory=list)
    """Seconds (from the clip's start) of the first :data:`MAX_TIMES` damaged packets/frames."""
    reason: str | None = None
    """FFmpeg's error for the first refused packet."""
    skipped: int = 0
    """Packets of non-reference pictures the analysis chose not to decode (``analyze/nonref.py``):
    not in ``packets``, and nothing is known of their damage."""

    @property
    def count(self) -> int:
        """Damaged packets: refused ones plus frames that came out corrupt."""
        return self.failed + self.corrupt

    @property
    def clean(self) -> int:
        return max(0, self.frames - self.corrupt)

    def note(self, seconds: float | None, reason: str | None = None) -> None:
        if seconds is not None and len(self.times) < MAX_TIMES:
            self.times.append(round(seconds, 3))
        if reason and self.reason is None:
            self.reason = reason

    def as_metrics(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "frames": self.frames,
            "failed": self.failed,
            "corrupt": self.corrupt,
            "damaged": self.count,
            "times": list(self.times),
            **({"skipped": self.skipped} if self.skipped else {}),
        }


def _reason(exc: Exception) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split())


class PacketDecoder:
    """Decode one stream's packets one at a time; damage is counted in :attr:`damage`, never raised.

    ``origin`` (seconds) is subtracted from packet and frame times in :attr:`damage`. With frame
    threads the decoder reports a packet's error ``codec_context.delay`` packets later: the error is
    blamed on the oldest packet still in flight, which is the one that failed (checked against
    single-threaded decoding of the same clip).
    """

    def __init__(self, stream: Any, origin: float = 0.0) -> None:
        self.stream = stream
        self.origin = origin
        self.damage = Damage(stream.type)
        self._in_flight: deque[float | None] = deque()

    def decode(self, packet: Any) -> list[Any]:
        """Frames out of ``packet`` (``[]`` when the decoder refused it); an empty packet drains."""
        import av

        if not packet.size:
            return self.drain(packet)
        self.damage.packets += 1
        self._in_flight.append(self._seconds(packet.pts if packet.pts is not None else packet.dts, packet.time_base))
        self._keep_in_flight(self._delay() + 1)  # this one and the ones still being decoded
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            _raise_if_out_of_memory(exc)
            self._failed(exc)
            return []
        return self._checked(frames)

    def drain(self, packet: Any = None) -> list[Any]:
        """Flush the decoder at the end of the stream; errors from the last packets are counted.

        ``packet``: the empty packet ``demux`` yields at the end (frames take its time base).
        After an error FFmpeg ends the flush, so frames still queued behind a damaged last packet
        are lost (at most ``codec_context.delay`` frames, the clip's last ones).
        """
        import av

        if packet is None:
            packet = av.Packet()
            packet.time_base = self.stream.time_base
        self._keep_in_flight(self._delay())  # the last packet's frame came out already
        out: list[Any] = []
        for _ in range(len(self._in_flight) + 1):
            try:
                frames = self.stream.codec_context.decode(packet)
            except EOFError:  # av.EOFError too: the decoder is fully drained
                break
            except av.FFmpegError as exc:
                _raise_if_out_of_memory(exc)
                self._failed(exc)
                continue
            out += self._checked(frames)
            if not frames:
                break
        return out

    def _delay(self) -> int:
        # Frame threads: a video decoder's delay is its thread count - 1 (in packets). An audio
        # decoder's delay is in samples, and audio decoders decode each packet as it comes.
        return self.stream.codec_context.delay if self.damage.kind == "video" else 0

    def _keep_in_flight(self, n: int) -> None:
        while len(self._in_flight) > max(1, n):
            self._in_flight.popleft()

    def _failed(self, exc: Exception) -> None:
        self.damage.failed += 1
        when = self._in_flight.popleft() if self._in_flight else None
        self.damage.note(when, _reason(exc))

    def _checked(self, frames: list[Any]) -> list[Any]:
        self.damage.frames += len(frames)
        for frame in frames:
            if frame.is_corrupt:
                self.damage.corrupt += 1
                self.damage.note(self._seconds(frame.pts, frame.time_base))
        return frames

    def _seconds(self, ts: int | None, time_base: Any) -> float | None:
        if ts is None or time_base is None:
            return None
        return ts * float(time_base) - self.origin  # float first: Fraction arithmetic per packet is slow


def demux_past_damage(container: Any, streams: list[Any], damage: Damage) -> Any:
    """The packets with data of ``container.demux(streams)``; a read error ends the input instead
    of raising (ffmpeg ends an input at "Error during demuxing" too) and counts as one refused
    packet in ``damage``. Empty end-of-stream packets are not yielded: drain the decoders after
    the loop (:meth:`PacketDecoder.drain`)."""
    import av

    try:
        for packet in container.demux(streams):
            if packet.size:
                yield packet
    except av.FFmpegError as exc:
        _raise_if_out_of_memory(exc)
        damage.failed += 1
        damage.note(None, f"reading stopped: {_reason(exc)}")


def _raise_if_out_of_memory(exc: Exception) -> None:
    """FFmpeg's ENOMEM is the machine's, not a damaged packet: never counted as damage."""
    if isinstance(exc, MemoryError):
        raise memory_exhausted(exc) from exc


def decoders_for(container: Any, stream: Any, *, video: bool = True) -> dict[int, PacketDecoder]:
    """Packet decoders by stream index: ``stream`` (the clip's video, unless ``video`` is False) and
    the first audio stream when FFmpeg has a decoder for it. Times are from the video's start."""
    import av

    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    decoders = {stream.index: PacketDecoder(stream, origin)} if video else {}
    sound = container.streams.audio[0] if container.streams.audio else None
    if sound is not None:
        try:
            av.Codec(sound.codec_context.name, "r")
        except (av.FFmpegError, ValueError):  # no decoder for this sound: nothing to learn from it
            return decoders
        decoders[sound.index] = PacketDecoder(sound, origin)
    return decoders


def scan(path: str, *, video: bool = True) -> tuple[Damage | None, Damage | None]:
    """Decode every packet of a clip once, keeping no frame, to find its damage: (video, audio).

    For ``fix`` when no decode pass ran (``--no-content``): a stream is never copied before it is
    known to decode. ``video=False`` decodes the sound only (about 1% of the video's cost), for a
    plan that re-encodes the video anyway (its decoder skips damage itself)."""
    import av

    with av.open(str(path)) as container:
        stream = next(
            (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic),
            None,
        )
        if stream is None:
            return None, None
        stream.thread_type = "AUTO"
        decoders = decoders_for(container, stream, video=video)
        if not decoders:
            return None, None
        first = next(iter(decoders.values()))
        for packet in demux_past_damage(container, [d.stream for d in decoders.values()], first.damage):
            decoders[packet.stream.index].decode(packet)
        for decoder in decoders.values():
            decoder.drain()
    found = {d.damage.kind: d.damage for d in decoders.values()}
    return found.get("video"), found.get("audio")


# --- findings -------------------------------------------------------------------------------------


def _times(damage: Damage) -> str:
    shown = ", ".join(f"{t:.2f} s" for t in damage.times[:3])
    more = damage.count - min(3, len(damage.times))
    if not shown:
        return ""
    return f" at {shown}" + (f" and {more} more" if more > 0 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def damage_findings(path: str, video: Damage | None, audio: Damage | None) -> list[Finding]:
    """``video.corrupt_frames`` / ``audio.corrupt_frames`` warnings for what the decoders skipped.

    Raises :class:`ProbeError` (``decode.error``) when the video is mostly undecodable
    (:data:`MOSTLY_UNDECODABLE`) or no video frame decoded at all.
    """
    out: list[Finding] = []
    if video is not None and video.packets and (video.frames == 0 or video.count):
        if video.clean == 0 or video.clean < MOSTLY_UNDECODABLE * video.packets:
            why = f" ({video.reason})" if video.reason else ""
            unread = f" ({video.skipped} non-reference pictures not decoded)" if video.skipped else ""
            raise ProbeError(
                f"{path}: the video is too damaged to use: {video.clean} of {video.packets} packets "
                f"decoded cleanly{unread}{why}",
                "decode.error",
            )
        out.append(_finding("video", video))
    if audio is not None and audio.count:
        out.append(_finding("audio", audio))
    return out


def _finding(kind: str, damage: Damage) -> Finding:
    what = _plural(damage.count, f"damaged {kind} packet")
    lost = ""
    if kind == "video" and damage.packets > damage.frames + damage.failed:
        lost = f"; {damage.packets - damage.frames - damage.failed} more frames were dropped by the decoder"
    filler = "" if kind == "video" else " (silence fills the gap)"
    verb = "was" if damage.count == 1 else "were"
    message = (
        f"{what}{_times(damage)} {verb} skipped{lost}: fix re-encodes the {kind}{filler} so the damage "
        "does not reach the provider"
    )
    return Finding(
        f"{kind}.corrupt_frames",
        Severity.WARNING,
        message,
        fixable=True,
        measured=damage.count,
        extra={"times": list(damage.times), "packets": damage.packets, "failed": damage.failed,
               "corrupt": damage.corrupt},
    )  # fmt: skip


def libav_logs_for_debug() -> None:
    """With ``PREFLIGHT_DEBUG=1``, let FFmpeg print its own warnings to stderr; otherwise leave PyAV's
    default, which drops them (they would reach the user's terminal).

    FFmpeg's own callback, not PyAV's: PyAV's takes the GIL inside FFmpeg's frame threads, and a
    decoder freed while one of them logs an error (a clip closed mid-stream, damage) deadlocks on
    it, since the free runs with the GIL held and waits for that thread."""
    if os.environ.get("PREFLIGHT_DEBUG") != "1":
        return
    import av.logging

    av.logging.restore_default_callback()
    av.logging.set_libav_level(av.logging.WARNING)
