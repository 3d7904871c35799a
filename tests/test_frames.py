"""The one decode loop: a single sequential decode, display orientation, strict times, RGB cadence."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest

from preflight.analyze.base import AnalysisResult, Analyzer, FrameSample
from preflight.analyze.frames import WORK_SIDE, DecodeStats, decode_pass, iter_samples, work_size
from preflight.errors import ProbeError
from preflight.samples import make_clip


class Recorder(Analyzer):
    """Keeps what it was handed (times, luma shapes, which frames had RGB)."""

    def __init__(self, name: str, rgb_interval: float | None = None) -> None:
        self.name = name
        self.rgb_interval = rgb_interval
        self.seen: list[FrameSample] = []

    def process(self, sample: FrameSample) -> None:
        self.seen.append(sample)

    def finish(self) -> AnalysisResult:
        return AnalysisResult(self.name, {"frames": len(self.seen)})


def halves(index: int, width: int, height: int) -> np.ndarray:
    """Left half black, right half white: shows which way a rotation went."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, width // 2 :] = 255
    return frame


def test_every_analyzer_sees_every_frame_of_one_decode(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "c.mp4", duration=4, width=640, height=360, fps=25)
    opened = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    analyzers = [Recorder("a"), Recorder("b", rgb_interval=1.0), Recorder("c")]
    results, stats = decode_pass(str(clip), analyzers)
    assert len(opened) == 1
    assert stats.frames == stats.samples == 100
    assert [r.metrics["frames"] for r in results] == [100, 100, 100]
    # The same sample objects, in the same order, went to every analyzer.
    assert all(a.seen[i] is analyzers[0].seen[i] for a in analyzers for i in range(100))
    assert [s.index for s in analyzers[0].seen] == list(range(100))


def test_luma_is_small_and_rgb_full_size(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", duration=1, width=1280, height=720, fps=25)
    samples = list(iter_samples(str(clip), [10.0]))
    assert samples[0].luma.shape == (180, 320) and samples[0].luma.dtype == np.uint8
    assert max(samples[0].luma.shape) == WORK_SIDE
    assert samples[0].rgb is not None and samples[0].rgb.shape == (720, 1280, 3)
    assert (samples[0].width, samples[0].height) == (1280, 720)
    assert work_size(200, 100) == (200, 100)  # never upscaled


def test_rotation_is_applied_so_frames_are_upright(tmp_path):
    # A phone's portrait clip: coded 640x360, displayed rotated 90 degrees clockwise.
    clip = make_clip(tmp_path / "r.mp4", duration=1, width=640, height=360, rotation=90, frames=halves)
    stats = DecodeStats()
    samples = list(iter_samples(str(clip), [0.5], stats))
    first = samples[0]
    assert (first.width, first.height) == (360, 640)
    assert first.luma.shape == (320, 180)  # portrait
    assert first.rgb is not None and first.rgb.shape == (640, 360, 3)
    # Clockwise: the coded left (black) half ends up on top, the white half at the bottom.
    assert first.luma[:140].mean() < 20 and first.luma[180:].mean() > 235
    assert first.rgb[:300].mean() < 20 and first.rgb[340:].mean() > 235
    assert stats.rotation == 270  # counter-clockwise, as PyAV reports it


def test_times_strictly_increase_on_variable_frame_rate(tmp_path):
    stamps = [0.0, 0.04, 0.05, 0.2, 0.21, 0.5, 0.9, 0.95, 1.3, 1.31]
    clip = make_clip(tmp_path / "vfr.mp4", width=320, height=240, timestamps=stamps)
    times = [s.time for s in iter_samples(str(clip))]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times == pytest.approx(stamps, abs=0.002)


def test_rgb_only_at_the_asked_cadence(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", duration=4, width=640, height=360, fps=25)
    stats = DecodeStats()
    samples = list(iter_samples(str(clip), [None, 0.5], stats))
    rgb_times = [s.time for s in samples if s.rgb is not None]
    assert len(rgb_times) == stats.rgb_frames == 8
    # The first frame at or after each multiple of 0.5 s (0.5 s falls between frames 12 and 13).
    for k, t in enumerate(rgb_times):
        assert k * 0.5 <= t + 1e-9 < k * 0.5 + 1 / 25 + 1e-9
    assert sum(s.rgb is None for s in samples) == 92
    none = DecodeStats()
    assert all(s.rgb is None for s in iter_samples(str(clip), [None], none)) and none.rgb_frames == 0


def test_rgb_is_made_only_for_the_samples_an_analyzer_reads(tmp_path):
    """The loop hands RGB over unconverted: a sample pose holds without looking costs no conversion,
    and one that is read gets exactly the pixels an eager conversion gave (upright, full size)."""
    from preflight.analyze.frames import _rotate

    clip = make_clip(tmp_path / "c.mp4", duration=2, width=320, height=240, fps=25, rotation=90)
    stats = DecodeStats()
    samples = [s for s in iter_samples(str(clip), [0.4], stats) if s.has_rgb]
    assert len(samples) == stats.rgb_frames == 5 and stats.rgb_made == 0
    first, third = samples[0].rgb, samples[2].rgb
    assert stats.rgb_made == 2 and samples[0].rgb is first  # made once, then kept
    with av.open(str(clip)) as container:
        frames = [f for f in container.decode(video=0)]
    by_time = {round(float(f.time), 3): f for f in frames}
    for sample, rgb in ((samples[0], first), (samples[2], third)):
        decoded = by_time[round(sample.time + float(frames[0].time), 3)]
        expected = _rotate(decoded.to_ndarray(format="rgb24"), stats.rotation)  # as the loop turns them
        assert rgb.shape == (320, 240, 3) and np.array_equal(rgb, expected)


def test_a_held_sample_costs_no_conversion(tmp_path):
    """Pose holds the samples of a still person without looking at them: their RGB is never made."""
    from preflight.analyze.pose import PoseAnalyzer

    clip = make_clip(tmp_path / "still.mp4", duration=4, width=640, height=360, fps=25)
    stats = DecodeStats()
    analyzer = PoseAnalyzer()
    for sample in iter_samples(str(clip), [analyzer.rgb_interval], stats):
        analyzer.process(sample)
    result = analyzer.finish()
    held = result.metrics["samples"] - result.metrics["observed"]
    assert held > 0 and stats.rgb_made == stats.rgb_frames - held


def test_two_cadences_merge(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", duration=2, width=320, height=180, fps=25)
    stats = DecodeStats()
    list(iter_samples(str(clip), [1.0, 0.4], stats))
    # 0.4 s cadence: 0, 0.4, 0.8, 1.2, 1.6; 1.0 s cadence adds 1.0 -> 6 frames.
    assert stats.rgb_frames == 6


def test_limited_range_luma_is_expanded(tmp_path):
    def black_white(index: int, width: int, height: int) -> np.ndarray:
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, width // 2 :] = 255
        return frame

    clip = make_clip(tmp_path / "bw.mp4", duration=0.5, width=640, height=360, frames=black_white)
    luma = next(iter_samples(str(clip))).luma
    assert luma[:, :150].mean() < 3  # encoded as 16, read as 0
    assert luma[:, 170:].mean() > 252  # encoded as 235, read as 255


def test_not_a_clip_is_a_probe_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(ProbeError) as info:
        list(iter_samples(str(bad)))
    assert info.value.code == "decode.error"


def test_pipelined_pass_matches_serial_and_surfaces_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from preflight.analyze.base import AnalysisResult, Analyzer
    from preflight.analyze.frames import decode_pass
    from preflight.errors import ProbeError
    from preflight.samples import make_clip

    class Times(Analyzer):
        name = "times"
        rgb_interval = 0.5

        def __init__(self) -> None:
            self.seen: list[tuple[float, bool]] = []

        def process(self, sample) -> None:  # type: ignore[no-untyped-def]
            self.seen.append((sample.time, sample.rgb is not None))

        def finish(self) -> AnalysisResult:
            return AnalysisResult(self.name, {"n": len(self.seen)})

    clip = make_clip(tmp_path / "c.mp4", duration=2, width=320, height=240)
    serial, piped = Times(), Times()
    decode_pass(str(clip), [serial], pipelined=False)
    decode_pass(str(clip), [piped], pipelined=True)
    assert piped.seen == serial.seen and len(serial.seen) == 50

    broken = tmp_path / "broken.mp4"
    data = clip.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    import pytest

    with pytest.raises(ProbeError):
        decode_pass(str(broken), [Times()], pipelined=True)


@pytest.mark.parametrize("k", [3, 4, 6, 12, 16, 24])
def test_whole_factor_luma_is_opencvs_area_average_to_the_bit(k: int) -> None:
    """The block sums stand in for INTER_AREA on every frame: a differing pixel would move cut scores
    and shake paths. Noise, flat grey (ties at .5 after the scale), white (the largest sums: 16 x 16
    blocks of 255 still fit 16 bits, an 8K frame's 24 x 24 do not) and a padded plane (a decoder's line
    size wider than the picture) all come out as OpenCV makes them."""
    import cv2

    from preflight.analyze.frames import _area_mean

    rng = np.random.default_rng(k)
    size = (32, 18)
    for fill in ("noise", "flat", "ramp", "white"):
        padded = rng.integers(0, 256, (18 * k, 32 * k + 64), dtype=np.uint8)
        if fill == "flat":
            padded[:] = rng.integers(0, 256)
        elif fill == "white":
            padded[:] = 255
        elif fill == "ramp":
            padded[:] = np.arange(padded.shape[1], dtype=np.uint16) % 256
        plane = padded[:, : 32 * k]  # a view with the decoder's padded row stride
        expected = cv2.resize(plane, size, interpolation=cv2.INTER_AREA)
        assert np.array_equal(_area_mean(plane, size), expected), fill


def test_other_sizes_shrink_through_opencv() -> None:
    import cv2

    from preflight.analyze.frames import _area_mean

    plane = np.random.default_rng(1).integers(0, 256, (100, 190), dtype=np.uint8)
    for size in ((95, 50), (60, 32)):  # k = 2 (OpenCV rounds half up there), and not a whole factor
        assert np.array_equal(_area_mean(plane, size), cv2.resize(plane, size, interpolation=cv2.INTER_AREA))


def test_an_mp4_opens_without_ffmpegs_own_trial_decode(tmp_path, monkeypatch):
    """FFmpeg's stream analysis decodes pictures with a decoder of its own (55-65 ms before a 1080p
    check): the loop opens MP4/MOV headers-only, as the probe does, and Matroska as before (its start
    time needs the full analysis). The frames and times are the same either way."""
    real_open = av.open
    seen: list[dict] = []

    def spy(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("options") or {})
        return real_open(path, *args, **kwargs)

    def full_analysis(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        return real_open(path, *args, **{k: v for k, v in kwargs.items() if k != "options"})

    mp4 = make_clip(tmp_path / "c.mp4", duration=1, width=320, height=180, fps=25, bframes=2)
    mkv = make_clip(tmp_path / "c.mkv", duration=1, width=320, height=180, fps=25, container="matroska")
    monkeypatch.setattr(av, "open", full_analysis)
    expected = [(s.time, s.luma.tobytes()) for s in iter_samples(str(mp4), every_frame=True)]
    monkeypatch.setattr(av, "open", spy)
    got = [(s.time, s.luma.tobytes()) for s in iter_samples(str(mp4), every_frame=True)]
    list(iter_samples(str(mkv)))
    assert seen[0].get("skip_frame") == "all" and seen[1] == {}
    assert got == expected and len(got) == 25
