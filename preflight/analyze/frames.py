"""The one decode loop: read a clip once, hand every frame to every analyzer.

Each frame becomes a :class:`~preflight.analyze.base.FrameSample` in display orientation with a small
luma plane (long side ``WORK_SIDE``) and, only on the frames where some analyzer's ``rgb_interval``
has elapsed, the full-size RGB pixels. Nothing is kept between frames here, so memory stays bounded
whatever the clip length; analyzers keep their own bounded state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ProbeError, map_av_errors
from ..media.damage import Damage, decoders_for, demux_past_damage
from .base import AnalysisResult, Analyzer, FrameSample

__all__ = ["WORK_SIDE", "DecodeStats", "decode_pass", "iter_samples", "run_analyzers", "work_size"]

log = logging.getLogger("preflight")

WORK_SIDE = 320
"""Long side of the luma plane the cheap analyzers see.

Why 320: it divides the common long sides exactly (640, 1280, 1920, 3840 -> factors 2, 4, 6, 12), and
OpenCV's INTER_AREA takes its fast integer path there (1080p -> 320x180 measured 0.47 ms, against
1.86 ms for 256x144, a 7.5x factor). Phase correlation at 320x180 costs 0.35 ms a pair and resolves
about 0.1 work pixel (0.6 px at 1080p), far finer than hand-held shake. PySceneDetect downsizes to a
similar width (256) for its content detector.
"""

# The Y plane of these formats is 8-bit luma we can use without a conversion (swscale's "gray"
# conversion measured 1.3 ms a 1080p frame; slicing the plane and resizing it with OpenCV 0.3 ms).
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
_FULL_RANGE_FORMATS = {"yuvj420p", "yuvj422p", "yuvj444p"}
_COLOR_RANGE_JPEG = 2  # AVCOL_RANGE_JPEG: full-range samples


def _limited_to_full_lut() -> np.ndarray:
    # Limited-range (MPEG) luma puts black at 16 and white at 235; exposure thresholds are in
    # full-range units, the way swscale's "gray" output and Pillow's "L" report them.
    levels = (np.arange(256, dtype=np.float32) - 16.0) * (255.0 / 219.0)
    return np.clip(np.round(levels), 0, 255).astype(np.uint8)


_LIMITED_TO_FULL = _limited_to_full_lut()


@dataclass
class DecodeStats:
    """What the decode pass did (for the report and the tests)."""

    frames: int = 0
    """Frames the decoder produced."""
    samples: int = 0
    """Frames handed to the analyzers (duplicates of an earlier time are dropped)."""
    rgb_frames: int = 0
    """Frames handed over with full-size RGB (made when an analyzer reads it, see ``FrameSample``)."""
    rgb_made: int = 0
    """Of those, frames whose RGB an analyzer read, so it was converted."""
    dropped: int = 0
    skipped: int = 0
    """Non-reference pictures left undecoded (``nonref.py``): no decoded pixel depends on them."""
    rotation: int = 0
    """Counter-clockwise rotation applied to the coded frames (PyAV's ``frame.rotation``)."""
    work_size: tuple[int, int] = (0, 0)
    """(width, height) of the luma plane, after rotation."""
    seconds: float = 0.0
    """Wall time of the whole pass."""
    video_damage: Damage | None = None
    """Video packets the decoder refused or marked corrupt (skipped; decoding went on)."""
    audio_damage: Damage | None = None
    """The same for the first audio stream, decoded in the same demux loop; None without sound."""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_metrics(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "samples": self.samples,
            "rgb_frames": self.rgb_frames,
            "rgb_made": self.rgb_made,
            "dropped": self.dropped,
            "skipped": self.skipped,
            "rotation_ccw": self.rotation,
            "work_size": list(self.work_size),
            "seconds": round(self.seconds, 3),
            **({"video_damage": self.video_damage.as_metrics()} if self.video_damage else {}),
            **({"audio_damage": self.audio_damage.as_metrics()} if self.audio_damage else {}),
        }


def work_size(width: int, height: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """Size of the small luma for a (coded) frame: long side ``side``, never upscaled."""
    long_side = max(width, height)
    if long_side <= side:
        return width, height
    scale = side / long_side
    return max(2, round(width * scale)), max(2, round(height * scale))


class _RgbSchedule:
    """Decides on which frames RGB is produced: the first frame at or after each multiple of an
    analyzer's ``rgb_interval`` (scheduled on the grid, so the average cadence is the interval)."""

    def __init__(self, intervals: Sequence[float | None]) -> None:
        self._intervals = [i for i in intervals if i is not None and i > 0]
        self._next: list[float | None] = [None] * len(self._intervals)

    def due(self, t: float) -> bool:
        wanted = False
        for k, interval in enumerate(self._intervals):
            nxt = self._next[k]
            if nxt is None or t >= nxt - 1e-6:
                wanted = True
                base = t if nxt is None else nxt
                # Advance on the grid; skip slots a long frame gap jumped over.
                nxt = base + interval
                while nxt <= t + 1e-6:
                    nxt += interval
                self._next[k] = nxt
        return wanted


_MAX_BLOCK = 16
"""The largest k whose k x k block sums fit 16 bits (16 x 16 x 255 = 65,280): an 8K frame's 24 x 24
blocks of white overflowed them (a wrong luma for every gate); such frames go to OpenCV."""


def _area_mean(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``plane`` shrunk to ``size`` as OpenCV's INTER_AREA shrinks it, to the bit.

    Where the plane is a whole number k >= 3 of times the size on both axes (1080p, 720p and 4K to
    320 px: k = 6, 4, 12), INTER_AREA averages k x k blocks as ``rint(block sum * float32(1 / k²))``.
    The same sums made with NumPy (rows added in place, then every k-th column) took 0.54 ms a
    1080p frame against OpenCV's 0.76-0.9 ms (this machine, one thread): 0.15 s of every 30 s clip,
    whose every decoded frame comes through here. Other sizes (k = 2, which OpenCV rounds half up on
    its SIMD path, and k > 16, whose sums would overflow) go to OpenCV.
    """
    import cv2

    width, height = size
    k = plane.shape[1] // width
    whole = k >= 3 and plane.shape[1] == k * width and plane.shape[0] == k * height
    if not whole or k > _MAX_BLOCK:
        return cv2.resize(plane, size, interpolation=cv2.INTER_AREA)
    rows = np.add.reduce(plane.reshape(height, k, k * width), axis=1, dtype=np.uint16)
    sums = rows[:, ::k].copy()
    for offset in range(1, k):
        sums += rows[:, offset::k]
    return np.rint(sums * np.float32(1.0 / (k * k))).astype(np.uint8)


def _small_luma(frame: Any, size: tuple[int, int]) -> np.ndarray:
    import cv2

    fmt = frame.format.name
    if fmt in _PLANAR_8BIT:
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
        small = y
        if (frame.width, frame.height) != size:
            small = _area_mean(y, size)
        if fmt not in _FULL_RANGE_FORMATS and frame.color_range != _COLOR_RANGE_JPEG:
            return cv2.LUT(small, _LIMITED_TO_FULL)  # a new array: the frame buffer is reused
        return small.copy() if small is y else small
    # Anything else (10-bit, RGB, paletted...): let swscale convert, it expands the range itself.
    return frame.reformat(width=size[0], height=size[1], format="gray").to_ndarray()


class _Converter:
    """How one clip's decoded frames become the small luma and the RGB, chosen from its first frame:
    as decoded for SDR BT.709 (or untagged), tone-mapped to SDR BT.709 for HDR and BT.2020 clips (the
    picture fix would deliver), so the gates judge what the provider gets."""

    def __init__(self, frame: Any) -> None:
        from ..color.graph import kind_of

        source = kind_of(frame)
        self.tone: Any = None
        if source is not None:
            from .tonemapped import ToneMappedFrames

            self.tone = ToneMappedFrames(source)

    def luma(self, frame: Any, size: tuple[int, int]) -> np.ndarray:
        return _small_luma(frame, size) if self.tone is None else self.tone.luma(frame, size)

    def rgb(self, frame: Any) -> np.ndarray:
        return frame.to_ndarray(format="rgb24") if self.tone is None else self.tone.rgb(frame)


def _rotate(pixels: np.ndarray, ccw_degrees: int) -> np.ndarray:
    k = (ccw_degrees // 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, k)) if k else pixels


def _rgb_later(convert: _Converter, frame: Any, stats: DecodeStats) -> Callable[[], np.ndarray]:
    """The upright RGB of an SDR ``frame``, made when first asked for (it holds the decoded frame until
    then; swscale's conversion context is the frame's own, so any thread may make it)."""

    def make() -> np.ndarray:
        stats.rgb_made += 1
        return _rotate(convert.rgb(frame), stats.rotation)

    return make


def iter_samples(
    path: str,
    rgb_intervals: Sequence[float | None] = (),
    stats: DecodeStats | None = None,
    work_side: int = WORK_SIDE,
    every_frame: bool = False,
) -> Iterator[FrameSample]:
    """Decode ``path`` once, sequentially, yielding frames in display orientation.

    Non-reference pictures are left undecoded (counted in ``stats.skipped``) unless ``every_frame``:
    see ``nonref.py``; every frame yielded has exactly the pixels a full decode gives it.

    Times start at the stream's start time and strictly increase: a frame whose time is not after
    the previous one is dropped (counted in ``stats.dropped``); a frame without a timestamp gets the
    previous time plus one nominal frame period. Packets that do not decode are skipped and
    counted in ``stats.video_damage`` / ``stats.audio_damage`` (see :func:`_frames_past_damage`).
    """
    from ..media.probe import open_for_packets

    stats = stats if stats is not None else DecodeStats()
    schedule = _RgbSchedule(rgb_intervals)
    started = time.perf_counter()
    with map_av_errors(path), open_for_packets(path) as container:
        if not container.streams.video:
            raise ProbeError(f"{path}: no video stream", "video.missing_stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.base_rate
        period = 1.0 / float(rate) if rate else 1.0 / 30.0
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else None
        last_time: float | None = None
        size: tuple[int, int] | None = None
        convert: _Converter | None = None
        for frame in _frames_past_damage(container, stream, stats, every_frame):
            stats.frames += 1
            if size is None:
                # The first frame's display matrix holds for the clip (as players read it).
                stats.rotation = round((frame.rotation or 0) / 90) * 90 % 360
                size = work_size(frame.width, frame.height, work_side)
                convert = _Converter(frame)  # and its colour tags
            if frame.pts is None or frame.time is None:
                t = 0.0 if last_time is None else last_time + period
            else:
                if origin is None:
                    origin = float(frame.time)
                t = float(frame.time) - origin
            if last_time is not None and t <= last_time:
                stats.dropped += 1
                continue
            last_time = t
            luma = _rotate(convert.luma(frame, size), stats.rotation)  # type: ignore[union-attr]
            rgb = make_rgb = None
            if schedule.due(t):
                stats.rgb_frames += 1
                if convert.tone is None:  # type: ignore[union-attr]
                    make_rgb = _rgb_later(convert, frame, stats)  # type: ignore[arg-type]
                else:  # the tone mapper's graph is this thread's: convert here, now
                    rgb = _rotate(convert.rgb(frame), stats.rotation)  # type: ignore[union-attr]
                    stats.rgb_made += 1
            display_w, display_h = (
                (frame.height, frame.width) if stats.rotation in (90, 270) else (frame.width, frame.height)
            )
            stats.work_size = (luma.shape[1], luma.shape[0])
            yield FrameSample(
                stats.samples, t, luma, rgb, display_w, display_h, make_rgb=make_rgb
            )
            stats.samples += 1
    stats.seconds = time.perf_counter() - started
    if stats.dropped:
        log.debug("%s: dropped %d frames with repeated timestamps", path, stats.dropped)


def _frames_past_damage(container: Any, stream: Any, stats: DecodeStats, every_frame: bool) -> Iterator[Any]:
    """The video frames of ``stream``, packet by packet, past any damage (counted in ``stats``).

    The first audio stream is demuxed and decoded in the same loop, its frames dropped: that is how
    damaged sound is found without a second pass (AAC decodes at roughly 1% of the cost of the
    video; see the README's measurements).
    """
    decoders = decoders_for(container, stream)
    video = decoders[stream.index]
    stats.video_damage = video.damage
    stats.audio_damage = next((d.damage for d in decoders.values() if d is not video), None)
    from .nonref import nonref_filter

    skippable = None if every_frame else nonref_filter(stream)
    for packet in demux_past_damage(container, [d.stream for d in decoders.values()], video.damage):
        if skippable is not None and packet.stream.index == stream.index and skippable(packet):
            stats.skipped += 1
            video.damage.skipped += 1
            continue
        frames = decoders[packet.stream.index].decode(packet)
        if packet.stream.index == stream.index:
            yield from frames
    for decoder in decoders.values():
        frames = decoder.drain()
        if decoder is video:
            yield from frames


def decode_pass(
    path: str, analyzers: Sequence[Analyzer], *, pipelined: bool = True, every_frame: bool = False
) -> tuple[list[AnalysisResult], DecodeStats]:
    """Run every analyzer over one decode of ``path``; return their results and the decode stats.

    ``every_frame``: decode the non-reference pictures too (see :func:`iter_samples`).

    ``pipelined``: decode on a second thread while the analyzers work on earlier frames. FFmpeg,
    OpenCV and MediaPipe all release the GIL, so the decoder's threads keep the cores busy during a
    pose inference instead of waiting for it (all analyzers on bench_check's 30 s 1080p clip, 2 cores,
    runs alternated: serial 12.4-12.7 s, pipelined 11.0-11.2 s).
    """
    stats = DecodeStats()
    samples = iter_samples(path, [a.rgb_interval for a in analyzers], stats, every_frame=every_frame)
    try:
        for sample in (_read_ahead(samples) if pipelined else samples):
            for analyzer in analyzers:
                analyzer.process(sample)
        results = [analyzer.finish() for analyzer in analyzers]
    except BaseException:
        for analyzer in analyzers:  # a model must not wait for its __del__ at interpreter exit
            try:
                analyzer.close()
            except Exception:
                log.debug("closing %s after a failed pass", analyzer.name, exc_info=True)
        raise
    log.debug(
        "%s: %d frames (%d RGB) in %.2f s through %s",
        path, stats.frames, stats.rgb_frames, stats.seconds, ", ".join(a.name for a in analyzers),
    )
    return results, stats


_READ_AHEAD = 48
"""Frames decoded ahead of the analyzers: about 1.5 s of a 30 fps clip (3 s of the pictures a clip with
B-frames decodes), enough to cover a pose search (a tile search is 24 calls, 0.3-0.4 s). With only 6,
the decoder stopped whenever pose searched: the panning bench clip (person in frame two thirds of the
time) took 10.0 s wall against 8.4 s with 45 ahead (2 cores, CPU the same)."""
_READ_AHEAD_RGB = 8
"""Of those, samples carrying full RGB (the pose samples, about one in five decoded): at most this many.
Each holds its decoded frame until an analyzer makes the RGB (1080p: 3 MB; 4K: 12 MB, as much as the 4
converted 4K frames this once allowed; an HDR one, tone-mapped as it comes, at most 6 MB), the small
luma of the others is 57 KB. With 4, the decoder waited whenever pose looked again at held samples:
8 took the panning clip to 0.965x the wall time and 0.987x the CPU (10 alternated pairs, +5 MB peak);
12 with 72 ahead gained 1% more on each, not worth 4K's memory."""

_DONE = object()


def _read_ahead(
    samples: Iterator[FrameSample], depth: int = _READ_AHEAD, rgb_depth: int = _READ_AHEAD_RGB
) -> Iterator[FrameSample]:
    """Iterate ``samples`` on a worker thread, up to ``depth`` items (``rgb_depth`` of them with RGB)
    ahead; errors are re-raised here."""
    import queue
    import threading

    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    rgb_slots = threading.Semaphore(rgb_depth)
    stop = threading.Event()

    def wait_for(take: Any) -> bool:
        """Block on ``take`` (a timeout-taking call) until it succeeds or the consumer has stopped."""
        while not stop.is_set():
            try:
                if take(timeout=0.1) is not False:
                    return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in samples:
                if item.has_rgb and not wait_for(rgb_slots.acquire):
                    return
                if not wait_for(lambda timeout, item=item: buffer.put(item, timeout=timeout)):
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            buffer.put(exc)

    worker = threading.Thread(target=produce, name="preflight-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            if item.has_rgb:
                rgb_slots.release()  # the analyzers hold it now: the decoder may make the next one
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
        close = getattr(samples, "close", None)
        if close is not None:
            close()


def run_analyzers(path: str, analyzers: Sequence[Analyzer]) -> list[AnalysisResult]:
    """Decode ``path`` once and return each analyzer's result, in the analyzers' order."""
    return decode_pass(path, analyzers)[0]
