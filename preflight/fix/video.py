"""The clip executor (PyAV): copy, remux, stream-copy trim, and the one re-encode.

Copy paths never decode: packets move from one container to the other with shifted timestamps.
The re-encode decodes once, runs one libavfilter graph (rotation, crop, scale, tone map, pad with a
blurred or solid fill, yuv420p BT.709) and encodes H.264 with libx264 (frame threads, like the ffmpeg
CLI), tagged BT.709; AAC sound is copied, any other sound is encoded to AAC. Times are relative to the
container's start.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import FixError
from ..media.damage import Damage, PacketDecoder, demux_past_damage
from ..outfiles import output_error
from .audio import AudioCopy, Window
from .ops import AudioTranscode, FitSize, Pad, Transcode, Trim
from .plan import Plan, video_bitrate
from .promise import Kept, count_kept, promised
from .source import SourcePackets, read_source
from .timestamps import DecodeTimes, DecodeTimesUnknown
from .videograph import build_shaper

__all__ = ["ENCODER_CRF", "ENCODER_PRESET", "ClipWritten", "container_duration", "execute_clip", "keyframe_times"]

log = logging.getLogger("preflight")

Progress = Callable[[float, float], None]
"""(seconds done, seconds total) of the output being written."""

ENCODER_PRESET = "veryfast"
"""libx264 preset: about 2.5x faster than ``medium`` at ~10% more bits for the same quality; the
provider re-encodes the clip anyway, so encoder effort beyond this buys nothing visible."""
ENCODER_CRF = 18
"""libx264 constant quality: 18 is visually lossless for most footage (x264's own guidance), so
the motion reference loses nothing the provider would see."""
MAX_RECUTS = 2
"""Stream-copy trims re-cut at most this often when the container still overshoots the cap."""

_EPS = 1e-6


def keyframe_times(path: str | Path) -> tuple[float, ...]:
    """Keyframe presentation times (seconds from the container start), from packets only."""
    import av

    with av.open(str(path)) as inp:
        stream = _video_stream(inp)
        t0 = _t0(inp)
        times = []
        for packet in inp.demux(stream):
            if packet.is_keyframe and packet.pts is not None:
                times.append(float(packet.pts * packet.time_base) - t0)
    return tuple(sorted(times))


def container_duration(path: str | Path) -> float:
    """The duration a provider reads (the container's, all streams included)."""
    from ..media.probe import open_for_packets

    with open_for_packets(path) as inp:
        if inp.duration:
            return inp.duration / 1_000_000
        spans = [float(s.duration * s.time_base) for s in inp.streams if s.duration]
    return max(spans, default=0.0)


@dataclass(frozen=True)
class ClipWritten:
    """What :func:`execute_clip` wrote."""

    notes: tuple[str, ...]
    """What had to be adapted (a re-cut tail, damaged packets skipped...)."""
    kept: Kept | None
    """The frames and seconds promised and written, per stream (None for a byte copy)."""


def execute_clip(
    plan: Plan, src: Path, dst: Path, progress: Progress | None = None, source: SourcePackets | None = None
) -> ClipWritten:
    """Write ``plan``'s output for ``src`` to ``dst`` and count what it kept (:mod:`.promise`).

    ``source``: fix's one read of ``src``'s packets (:func:`.source.read_source`; read here when None).
    Raises :class:`FixError` ``fix.frames_lost`` when ``dst`` holds less than the plan promised."""
    import av

    trim = plan.find(Trim)
    window = Window(trim.start, trim.end) if trim else Window(0.0, None)
    try:
        if plan.actions == ("copy",):
            shutil.copyfile(src, dst)
            return ClipWritten((), None)
        if not plan.encodes:
            notes, end = _copy_streams(plan, src, dst, window, progress)
            rate = None
        else:
            notes, end = _encode(plan, src, dst, window, progress), window.end
            rate = float(_output_rate_of(plan, src))
        source = source or read_source(src)
        promise = promised(source, window.start, end, copies=not plan.encodes, rate=rate)
    except av.FFmpegError as exc:
        if output_error(exc, dst.parent) is not None:
            raise  # a full disk or an unwritable folder: the caller names it and removes the file
        raise FixError(f"{src}: {' '.join(str(exc).split())}", "fix.failed") from exc
    kept = count_kept(promise, dst)
    if kept.lost:
        raise FixError(f"{src}: the output lost media: {'; '.join(kept.lost)}", "fix.frames_lost")
    return ClipWritten(tuple(notes), kept)


# --- copy paths ---------------------------------------------------------------------------------


def _copy_streams(
    plan: Plan, src: Path, dst: Path, window: Window, progress: Progress | None
) -> tuple[list[str], float | None]:
    """Remux or stream-copy trim; re-cut the tail while the container runs past the window.
    Returns the notes and the window's end as finally cut."""
    notes: list[str] = []
    end = window.end
    for attempt in range(MAX_RECUTS + 1):
        skipped = _remux(src, dst, Window(window.start, end), plan.find(AudioTranscode) is not None, progress)
        if window.end is None:
            return notes + skipped, end
        length = window.end - window.start
        got = container_duration(dst)
        if got <= length + _EPS:
            return notes + skipped, end
        if attempt == MAX_RECUTS:
            break
        end = (end or window.end) - (got - length) - 0.001
        notes.append(f"re-cut the tail: the copy ran {got:.3f} s, over {length:.3f} s")
    raise FixError(f"{src}: a stream copy cannot end within {window.end - window.start:.3f} s", "fix.overshoot")


def _remux(src: Path, dst: Path, window: Window, transcode_audio: bool, progress: Progress | None) -> list[str]:
    """Copy the video packets of the window (and the sound, or encode it); returns notes on the
    damaged sound an encode skipped."""
    import av

    from ..media.probe import open_for_packets

    with open_for_packets(src) as inp, av.open(str(dst), "w", format="mp4", options=_MP4_OPTIONS) as out:
        vin = _video_stream(inp)
        ain = inp.streams.audio[0] if inp.streams.audio else None
        vout = out.add_stream_from_template(vin)
        _tag_for_mp4(vout, vin)
        audio = AudioCopy(inp, out, ain, window, transcode_audio) if ain is not None else None
        t0 = _t0(inp)
        if window.start > 0:
            inp.seek(round((window.start + t0) / vin.time_base), stream=vin, backward=True)
        offset: int | None = None  # the first kept keyframe's pts, in vin.time_base
        video_done = False
        total = (window.end or _duration(inp)) - window.start
        streams = [vin] + ([ain] if ain is not None else [])
        times = DecodeTimes(_frame_step(vin))  # Matroska leaves the first packets' DTS unset: keep them
        vtb = float(vin.time_base)  # Fraction arithmetic on every packet costs more than the copy
        half_frame = 0.5 / _fps(vin)

        def mux_video(ready: Any) -> None:
            ready.pts -= offset
            ready.dts -= offset
            ready.stream = vout
            out.mux(ready)

        try:
            for packet in inp.demux(streams):
                if packet.size == 0:
                    continue  # an end-of-stream marker, not a frame
                if packet.stream is not vin:
                    _time_audio(packet)
                    audio.push(packet)  # type: ignore[union-attr]
                    if video_done and audio.done:  # type: ignore[union-attr]
                        break
                    continue
                if packet.pts is None:
                    packet.pts = packet.dts  # no reordering known: shown when decoded
                if packet.pts is None:
                    raise DecodeTimesUnknown("a video packet has no time")
                t = packet.pts * vtb - t0
                if offset is None:
                    if not packet.is_keyframe or t < window.start - half_frame:
                        continue
                    offset = packet.pts
                step = (packet.duration or 0) * vtb
                if video_done or (window.end is not None and t + step > window.end + _EPS):
                    # Decode order: a later packet may show an earlier time (B-frames), but it may
                    # reference this one, so the cut keeps a clean prefix of the stream.
                    video_done = True
                    if audio is None or audio.done:
                        break
                    continue
                for ready in times.push(packet):
                    mux_video(ready)
                if progress:
                    progress(min(total, t - window.start), total)
            for ready in times.finish():
                mux_video(ready)
        except DecodeTimesUnknown as exc:
            raise FixError(f"{src}: cannot copy the video packets in order ({exc})", "fix.failed") from None
        if audio is not None:
            audio.finish()
    if times.filled:
        log.debug("%s: %d video packet(s) given the decode time their container left unset", src, times.filled)
    return audio.notes() if audio is not None else []


def _time_audio(packet: Any) -> None:
    """Sound has no reordering: a packet with one of its times unset takes the other."""
    if packet.dts is None:
        packet.dts = packet.pts
    if packet.pts is None:
        packet.pts = packet.dts
    if packet.pts is None:
        raise DecodeTimesUnknown("an audio packet has no time")


def _frame_step(stream: Any) -> int:
    """One frame in ``stream``'s time base (packets without a duration advance by this)."""
    return max(1, round(1 / (_fps(stream) * stream.time_base))) if stream.time_base else 1


_MP4_OPTIONS = {"movflags": "+faststart"}


def _tag_for_mp4(vout: Any, vin: Any) -> None:
    if vin.codec_context.name == "hevc":
        vout.codec_tag = "hvc1"  # the tag Apple players and most web decoders require for HEVC in MP4


# --- re-encode ----------------------------------------------------------------------------------


def _encode(plan: Plan, src: Path, dst: Path, window: Window, progress: Progress | None) -> list[str]:
    fit = plan.find(FitSize)
    bitrate = fit.video_bitrate if fit else None
    skipped = _encode_once(plan, src, dst, window, bitrate, progress)
    cap = fit.max_bytes if fit else plan.size_cap
    if cap is None or dst.stat().st_size <= cap:
        return skipped
    # One retry: scale the bitrate by how far the first pass missed, with 10% to spare.
    size = dst.stat().st_size
    length = (window.end if window.end is not None else container_duration(dst)) - window.start
    first = bitrate or video_bitrate(cap, length, _has_audio(plan))
    retry = int(first * cap / size * 0.9)
    skipped = _encode_once(plan, src, dst, window, retry, progress)
    note = f"retry at {retry / 1_000_000:.2f} Mb/s: the first pass was {size / 1_000_000:.2f} MB"
    return [note, *skipped]


def _has_audio(plan: Plan) -> bool:
    t = plan.find(Transcode)
    return bool(t and t.audio_codec)


def _encode_once(
    plan: Plan, src: Path, dst: Path, window: Window, bitrate: int | None, progress: Progress | None
) -> list[str]:
    """One encode of ``src`` into ``dst``; returns notes on the damaged packets it skipped."""
    import av

    geometry = plan.geometry
    pad = plan.find(Pad)
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options=_MP4_OPTIONS) as out:
        vin = _video_stream(inp)
        vin.thread_type = "AUTO"  # frame + slice threads in the decoder, as the ffmpeg CLI does
        ain = inp.streams.audio[0] if inp.streams.audio else None
        t0 = _t0(inp)
        rate = _output_rate(plan, vin)
        width, height = geometry.canvas if geometry else (vin.codec_context.width, vin.codec_context.height)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.codec_context.time_base = 1 / rate
        # libx264 uses sliced threads when the context says SLICE (PyAV's default): frame threads are
        # what the ffmpeg CLI gets and are markedly faster.
        vout.codec_context.thread_type = "AUTO"
        vout.codec_context.thread_count = 0
        _tag_bt709(vout.codec_context)
        vout.options = _x264_options(bitrate, plan)
        audio = None
        if ain is not None:
            transcode = _audio_needs_encode(ain) or plan.find(AudioTranscode) is not None
            audio = AudioCopy(inp, out, ain, window, transcode=transcode)
        origin = float(vin.start_time * vin.time_base) if vin.start_time is not None else t0  # the analysis's zero
        graph = build_shaper(vin, plan, pad.fill if pad else "blur", origin)
        if window.start > 0:
            inp.seek(round((window.start + t0) / vin.time_base), stream=vin, backward=True)
        frames = _FrameSlots(window, rate)
        total = (window.end or _duration(inp)) - window.start
        streams = [vin] + ([ain] if ain is not None else [])
        done = False
        video = PacketDecoder(vin, t0)  # a damaged packet is skipped: its slot repeats the previous frame
        for packet in demux_past_damage(inp, streams, video.damage):
            if packet.stream is not vin:
                if packet.size and (packet.pts is not None or packet.dts is not None):
                    _time_audio(packet)
                    audio.push(packet)  # type: ignore[union-attr]
                if done and audio.done:  # type: ignore[union-attr]
                    break
                continue
            if done:
                if audio is None or audio.done:
                    break
                continue
            for frame in video.decode(packet):
                done = _feed(frame, t0, frames, graph, vout, out)
                if done:
                    break
            if progress and frames.next:
                progress(min(total, frames.next / float(rate)), total)
        for frame in [] if done else video.drain():
            if _feed(frame, t0, frames, graph, vout, out):
                break
        frames.flush(graph, vout, out)
        if frames.next == 0:
            # Nothing had a timestamp to place it (a raw H.264 stream has none): an empty MP4 is no fix.
            raise FixError(f"{src}: no decoded frame had a time to place it at; nothing was encoded", "fix.failed")
        out.mux(vout.encode(None))
        if audio is not None:
            audio.finish()
    return _skipped_video(video.damage) + (audio.notes() if audio is not None else [])


def _skipped_video(damage: Damage) -> list[str]:
    notes = []
    if damage.failed:
        what = "packet" if damage.failed == 1 else "packets"
        notes.append(f"skipped {damage.failed} damaged video {what} (the previous frame fills their time)")
    if damage.corrupt:
        # As ffmpeg does: FFmpeg concealed the error in these, and the encoder writes them cleanly.
        what = "frame" if damage.corrupt == 1 else "frames"
        notes.append(f"kept {damage.corrupt} video {what} the decoder repaired (concealed errors)")
    return notes


def _tag_bt709(ctx: Any) -> None:
    """Say what the graph made (:data:`.videograph.OUTPUT_COLOR`): BT.709 primaries, transfer and
    matrix, limited range. libx264 writes these into the stream's VUI and the MP4 muxer a ``colr``
    box, so no player has to guess (an untagged clip is read as BT.601 by some)."""
    ctx.color_primaries = 1  # AVCOL_PRI_BT709
    ctx.color_trc = 1  # AVCOL_TRC_BT709
    ctx.colorspace = 1  # AVCOL_SPC_BT709
    ctx.color_range = 1  # AVCOL_RANGE_MPEG


def _feed(frame: Any, t0: float, frames: _FrameSlots, graph: Any, vout: Any, out: Any) -> bool:
    """One decoded frame into the constant-rate slots; True once the window is full."""
    if frame.time is None:
        return False
    return frames.put(frame, frame.time - t0, graph, vout, out)


class _FrameSlots:
    """Constant-rate output: frame n is shown at n / rate. A source frame lands in the nearest slot;
    a gap repeats the previous frame, two frames in one slot keep the first (the fps filter's rule).
    The window holds floor(length x rate) slots, so the video never runs past the cap."""

    def __init__(self, window: Window, rate: Fraction) -> None:
        self.start = window.start
        self.rate = rate
        self.slots = None if window.end is None else int((window.end - window.start) * rate + _EPS)
        self.next = 0
        self.held: Any = None

    def put(self, frame: Any, t: float, graph: Any, vout: Any, out: Any) -> bool:
        slot = round((t - self.start) * self.rate)
        if slot < 0:
            self.held = frame  # before the window: it fills slot 0 if no frame lands there
            return False
        while self.next < slot and self.held is not None and not self._full():
            self._emit(self.held, graph, vout, out)
        if self.next <= slot and not self._full():
            self._emit(frame, graph, vout, out)
        self.held = frame
        return self._full()

    def flush(self, graph: Any, vout: Any, out: Any) -> None:
        if self.next == 0 and self.held is not None:
            self._emit(self.held, graph, vout, out)

    def _full(self) -> bool:
        return self.slots is not None and self.next >= self.slots

    def _emit(self, frame: Any, graph: Any, vout: Any, out: Any) -> None:
        graph.push(frame)
        shaped = graph.vpull()
        shaped.pts = self.next
        shaped.time_base = vout.codec_context.time_base
        out.mux(vout.encode(shaped))
        self.next += 1


def _x264_options(bitrate: int | None, plan: Plan) -> dict[str, str]:
    opts = {"preset": ENCODER_PRESET}
    if bitrate:
        # Average bitrate under a VBV cap at the same rate, one second of buffer that starts 20%
        # full: x264's default (90% full) lets a short clip spend most of a second's bits up front,
        # which overshot 3 s test clips by 25%; with this the first pass lands at 85-90% of the cap.
        opts.update(b=str(bitrate), maxrate=str(bitrate), bufsize=str(bitrate), **{"x264-params": VBV_INIT})
    else:
        opts["crf"] = str(ENCODER_CRF)
        if plan.size_cap:
            # Constant quality, but with a VBV ceiling that keeps even a noisy clip under the cap.
            ceiling = video_bitrate(plan.size_cap, _plan_length(plan), _has_audio(plan))
            opts.update(maxrate=str(ceiling), bufsize=str(ceiling), **{"x264-params": VBV_INIT})
    return opts


VBV_INIT = "vbv-init=0.2"


def _plan_length(plan: Plan) -> float:
    trim = plan.find(Trim)
    return trim.length if trim else (plan.duration or 1.0)


def _audio_needs_encode(ain: Any) -> bool:
    return ain.codec_context.name not in ("aac", "mp3")


def _output_rate_of(plan: Plan, src: Path) -> Fraction:
    import av

    with av.open(str(src)) as inp:
        return _output_rate(plan, _video_stream(inp))


def _output_rate(plan: Plan, vin: Any) -> Fraction:
    from .ops import ConstantRate

    op = plan.find(ConstantRate)
    if op is not None:
        return Fraction(op.fps).limit_denominator(1001)
    rate = vin.average_rate or vin.base_rate or vin.guessed_rate or Fraction(30)
    return Fraction(rate).limit_denominator(1001)


# --- shared -------------------------------------------------------------------------------------


def _video_stream(inp: Any) -> Any:
    import av

    for stream in inp.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise FixError(f"{inp.name}: no video stream", "video.missing_stream")


def _t0(inp: Any) -> float:
    """The container's start time in seconds (MPEG-TS and cut files rarely start at 0)."""
    return inp.start_time / 1_000_000 if inp.start_time and inp.start_time > 0 else 0.0


def _duration(inp: Any) -> float:
    return inp.duration / 1_000_000 if inp.duration else 0.0


def _fps(stream: Any) -> float:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    return float(rate) if rate else 30.0
