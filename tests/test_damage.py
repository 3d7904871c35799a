"""Decoding past damage, as ffmpeg does: a bad packet is counted and skipped, never fatal, never copied."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from damaged import (
    damage_packet,
    decode_errors,
    garbage_after_the_first_frame,
    garbage_in_the_middle,
)

from preflight.analyze.base import AnalysisResult, Analyzer, FrameSample
from preflight.analyze.frames import decode_pass
from preflight.api import check_one
from preflight.errors import ProbeError
from preflight.fix import fix
from preflight.fix.ops import AudioTranscode
from preflight.fix.plan import FixOptions, plan_fix
from preflight.media.damage import Damage, damage_findings
from preflight.models import AudioStream, Finding, MediaInfo, Severity, VideoStream
from preflight.profiles import load_profile
from preflight.samples import make_clip, photo_frames, sample_photo

KLING = load_profile("kling-v2.6")
CONTENT = {"scene_cuts", "camera_shake", "exposure", "blur"}

STDERR_MUST_NOT_MATCH = [
    r"Traceback \(most recent call last\)",
    r"Exception ignored",
    r"\[\w+ @ 0x[0-9a-f]+\]",  # FFmpeg's own log prefix: "[h264 @ 0x55...] error while decoding MB"
    r"error while decoding",
    r"concealing \d+ errors",
    r"Invalid NAL unit size",
    # MediaPipe's native lines are separate work; add r"^(INFO|WARNING|E\d{4}|W\d{4}):" here with it.
]
"""What a user must never see on stderr from ``preflight check`` (extend the list, not the test)."""


class Recorder(Analyzer):
    def __init__(self, name: str = "rec", fail_at: int | None = None) -> None:
        self.name, self.fail_at = name, fail_at
        self.times: list[float] = []
        self.closed = 0

    def process(self, sample: FrameSample) -> None:
        if self.fail_at is not None and sample.index == self.fail_at:
            raise RuntimeError("analyzer bug")
        self.times.append(sample.time)

    def finish(self) -> AnalysisResult:
        return AnalysisResult(self.name, {"frames": len(self.times)})

    def close(self) -> None:
        self.closed += 1


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("damage")
    return make_clip(folder / "person.mp4", duration=4, width=640, height=360, fps=25, audio=True,
                     frames=photo_frames(sample_photo(), frames=100))  # fmt: skip


@pytest.fixture(scope="module")
def damaged_clip(person_clip: Path) -> Path:
    return garbage_in_the_middle(person_clip, person_clip.with_name("damaged.mp4"))


@pytest.fixture(scope="module")
def garbage_clip(person_clip: Path) -> Path:
    return garbage_after_the_first_frame(person_clip, person_clip.with_name("garbage.mp4"))


def _ffmpeg_errors(path: Path) -> str:
    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    return proc.stderr.strip()


def _assert_decodes_cleanly(path: Path) -> None:
    video, _audio_frames, errors = decode_errors(path)
    assert errors == 0 and video > 0
    if shutil.which("ffmpeg"):
        assert _ffmpeg_errors(path) == ""


# --- the decode pass ---------------------------------------------------------------------------


def test_the_pass_counts_damage_and_goes_on(damaged_clip: Path) -> None:
    recorder = Recorder()
    results, stats = decode_pass(str(damaged_clip), [recorder])
    video, audio = stats.video_damage, stats.audio_damage
    assert video is not None and audio is not None
    assert video.packets == 100 and video.count >= 1 and 0 < stats.frames < 100
    assert all(1.0 < t < 3.0 for t in video.times) and video.times == sorted(video.times)
    assert audio.count >= 1 and all(1.0 < t < 3.0 for t in audio.times)
    # Every frame that decoded reached the analyzers, on both sides of the damage.
    assert results[0].metrics["frames"] == stats.samples == stats.frames
    assert min(recorder.times) < 1.0 and max(recorder.times) > 3.5
    metrics = stats.as_metrics()
    assert metrics["video_damage"]["damaged"] == video.count and metrics["video_damage"]["times"] == video.times


def test_a_refused_packet_is_blamed_at_its_own_time_despite_frame_threads(person_clip: Path, tmp_path: Path) -> None:
    # Frame threads report a packet's error two packets later; the time must still be the packet's.
    when = damage_packet(person_clip, tmp_path / "one.mp4", "video", 50)
    _, stats = decode_pass(str(tmp_path / "one.mp4"), [Recorder()])
    assert stats.video_damage is not None
    assert stats.video_damage.failed == 1 and stats.video_damage.times == [pytest.approx(when)]


def test_a_failed_pass_closes_every_analyzer(person_clip: Path) -> None:
    quiet, broken = Recorder("quiet"), Recorder("broken", fail_at=10)
    with pytest.raises(RuntimeError, match="analyzer bug"):
        decode_pass(str(person_clip), [quiet, broken])
    assert quiet.closed == broken.closed == 1


def test_report_previews_sample_a_damaged_clip_too(damaged_clip: Path) -> None:
    from preflight.batch.preview import sample_frames

    frames = sample_frames(str(damaged_clip), "video", 4.0)
    assert [t for t, _ in frames] == [0.5, 1.5, 2.5, 3.5]


# --- findings ----------------------------------------------------------------------------------


def test_findings_say_how_many_and_when() -> None:
    video = Damage("video", packets=100, frames=95, failed=3, times=[2.4, 2.43, 2.47])
    audio = Damage("audio", packets=180, frames=180, corrupt=1, times=[1.28])
    found = {f.code: f for f in damage_findings("c.mp4", video, audio)}
    v = found["video.corrupt_frames"]
    assert (v.severity, v.fixable, v.measured) == (Severity.WARNING, True, 3)
    assert "3 damaged video packets at 2.40 s, 2.43 s, 2.47 s were skipped" in v.message
    assert "re-encodes" in v.message and v.extra["times"] == [2.4, 2.43, 2.47]
    a = found["audio.corrupt_frames"]
    assert a.measured == 1 and "1 damaged audio packet at 1.28 s was skipped" in a.message
    assert damage_findings("c.mp4", Damage("video", packets=100, frames=100), None) == []


@pytest.mark.parametrize(
    ("frames", "failed", "corrupt", "fails"),
    [(100, 0, 0, False), (51, 49, 0, False), (49, 51, 0, True), (100, 0, 51, True), (0, 100, 0, True)],
)
def test_mostly_undecodable_is_a_decode_error(frames: int, failed: int, corrupt: int, fails: bool) -> None:
    video = Damage("video", packets=100, frames=frames, failed=failed, corrupt=corrupt)
    if not fails:
        damage_findings("c.mp4", video, None)
        return
    with pytest.raises(ProbeError) as caught:
        damage_findings("c.mp4", video, None)
    assert caught.value.code == "decode.error" and "too damaged" in caught.value.message


def test_a_clip_mostly_garbage_fails_with_one_line(garbage_clip: Path, tmp_path: Path) -> None:
    item = check_one(garbage_clip, KLING)
    assert item.verdict == "fail"
    (error,) = [f for f in item.findings if f.severity is Severity.ERROR]
    assert error.code == "decode.error" and "\n" not in error.message
    # Garbage that reads as a non-reference picture is left undecoded like one (and said so).
    found = re.search(r"the video is too damaged to use: \d of (\d+) packets decoded cleanly"
                      r"(?: \((\d+) non-reference pictures not decoded\))?", error.message)
    assert found and int(found[1]) + int(found[2] or 0) == 100
    result = fix([garbage_clip], tmp_path / "out", KLING, content=False).results[0]
    assert result.output is None and "decode.error" in (result.reason or "")


def test_damage_in_the_first_frame_is_still_the_probes_decode_error(person_clip: Path, tmp_path: Path) -> None:
    # The probe stays cheap (headers + first frame): a first frame it cannot decode fails as before.
    damage_packet(person_clip, tmp_path / "first.mp4", "video", 0)
    item = check_one(tmp_path / "first.mp4", KLING)
    assert item.verdict == "fail" and [f.code for f in item.findings] == ["decode.error"]
    assert item.analysis == {}


@pytest.mark.model
def test_check_warns_and_fix_reencodes_past_garbage(damaged_clip: Path, tmp_path: Path) -> None:
    result = fix([damaged_clip], tmp_path / "out", KLING).results[0]
    before = result.before
    assert before.verdict != "fail"
    (finding,) = [f for f in before.findings if f.code == "video.corrupt_frames"]
    damage = before.analysis["decode"]["video_damage"]
    assert finding.severity is Severity.WARNING and finding.measured == damage["damaged"] >= 1
    assert f"{damage['damaged']} damaged video packet" in finding.message
    # The other gates still judged the frames that decoded.
    assert {"pose"} | CONTENT <= set(before.analysis)
    assert before.analysis["pose"]["person_share"] > 0.9
    # fix re-encoded (never copied) and the output decodes without one error.
    assert result.output and "transcode h264/aac" in result.actions
    assert any(a.startswith("skipped") and "damaged video" in a for a in result.actions)
    assert result.ok
    _assert_decodes_cleanly(Path(result.output))


def test_fix_without_content_finds_the_damage_before_copying(damaged_clip: Path, person_clip: Path,
                                                             tmp_path: Path) -> None:  # fmt: skip
    result = fix([damaged_clip], tmp_path / "out", KLING, content=False).results[0]
    assert "video.corrupt_frames" in {f.code for f in result.before.findings}
    assert result.ok and "copy" not in result.actions and "transcode h264/aac" in result.actions
    _assert_decodes_cleanly(Path(result.output))  # type: ignore[arg-type]
    clean = fix([person_clip], tmp_path / "clean", KLING, content=False).results[0]
    assert clean.actions == ("copy",)  # an undamaged clip is still only copied


def test_a_copy_that_fails_is_redone_as_a_reencode_that_knows_the_damage(
    person_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.errors import FixError
    from preflight.fix import video

    bad = tmp_path / "bad_sound.mp4"
    damage_packet(person_clip, bad, "audio", 40)

    def broken_copy(*args: object, **kwargs: object) -> list[str]:
        raise FixError("the copy broke", "fix.failed")

    monkeypatch.setattr(video, "_copy_streams", broken_copy)
    result = fix([bad], tmp_path / "out", KLING, content=False).results[0]
    assert result.ok and result.actions[0] == "transcode h264/aac"
    assert "transcode audio aac->aac" in result.actions  # the damaged AAC is encoded, not copied
    assert any(a.startswith("re-encoded: the copy broke") for a in result.actions)
    assert any("damaged audio packet" in a for a in result.actions)
    _assert_decodes_cleanly(Path(result.output))  # type: ignore[arg-type]


# --- damaged sound -----------------------------------------------------------------------------


def _rms(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    part = samples[int(start * rate) : int(end * rate)]
    return float(np.sqrt(np.mean(part**2))) if part.size else 0.0


def _audio(path: Path) -> tuple[np.ndarray, int, float, float]:
    """Mono samples, rate, audio duration and video duration of a fixed clip."""
    with av.open(str(path)) as container:
        vs, sound = container.streams.video[0], container.streams.audio[0]
        video_seconds = float(vs.duration * vs.time_base)
        chunks = [f.to_ndarray().mean(axis=0) for f in container.decode(sound)]
        rate = sound.codec_context.sample_rate
    samples = np.concatenate(chunks)
    return samples, rate, len(samples) / rate, video_seconds


@pytest.mark.parametrize(
    ("container", "codec", "ext", "keep"),
    [
        ("avi", "ac3", "avi", 0),  # the AVI: the decoder refuses the frame (avcodec_send_packet)
        ("matroska", "mp3", "mkv", 8),  # an MP3 frame whose header survives: "big_values too big"
    ],
)
def test_damaged_sound_is_skipped_as_silence_in_sync(tmp_path: Path, container: str, codec: str, ext: str,
                                                     keep: int) -> None:  # fmt: skip
    src = make_clip(tmp_path / f"clean.{ext}", duration=3, width=480, height=360, container=container,
                    audio=True, audio_codec=codec)  # fmt: skip
    when = damage_packet(src, tmp_path / f"bad.{ext}", "audio", 40, keep=keep)
    bad = tmp_path / f"bad.{ext}"
    _, stats = decode_pass(str(bad), [Recorder()])
    found = damage_findings(str(bad), stats.video_damage, stats.audio_damage)
    assert [f.code for f in found] == ["audio.corrupt_frames"] and found[0].measured == 1

    fixed = fix([bad], tmp_path / "out", KLING, content=False).results[0]
    reference = fix([src], tmp_path / "ref", KLING, content=False).results[0]
    assert fixed.output and fixed.after is not None and fixed.after.verdict == "pass"
    assert any("damaged audio packet" in a and "silence" in a for a in fixed.actions)
    _assert_decodes_cleanly(Path(fixed.output))
    samples, rate, audio_seconds, video_seconds = _audio(Path(fixed.output))
    _, _, ref_seconds, _ = _audio(Path(reference.output))  # type: ignore[arg-type]
    assert abs(audio_seconds - video_seconds) <= 1 / 25  # within a video frame: in sync
    assert abs(audio_seconds - ref_seconds) <= 0.035  # as long as the undamaged clip's (one AC-3 frame)
    # Silence sits where the damaged packet was, and the tone plays on either side of it.
    assert min(_rms(samples, rate, t, t + 0.01) for t in np.arange(when - 0.1, when + 0.1, 0.005)) < 0.01
    assert _rms(samples, rate, 0.3, when - 0.2) > 0.1 and _rms(samples, rate, when + 0.2, 2.8) > 0.1


def test_sound_refused_at_the_very_end_is_padded_to_its_length(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clean.avi", duration=3, width=480, height=360, container="avi", audio=True,
                    audio_codec="ac3")  # fmt: skip
    damage_packet(src, tmp_path / "bad.avi", "audio", -1)  # no good frame follows to show the hole
    fixed = fix([tmp_path / "bad.avi"], tmp_path / "out", KLING, content=False).results[0]
    reference = fix([src], tmp_path / "ref", KLING, content=False).results[0]
    samples, rate, seconds, _ = _audio(Path(fixed.output))  # type: ignore[arg-type]
    assert abs(seconds - _audio(Path(reference.output))[2]) <= 0.035  # type: ignore[arg-type]
    tail = min(_rms(samples, rate, t, t + 0.01) for t in np.arange(seconds - 0.1, seconds - 0.01, 0.005))
    assert tail < 0.01 < 0.1 < _rms(samples, rate, 0.5, 2.5)


# --- the plan ----------------------------------------------------------------------------------


def _info(audio: str = "aac", fmt: str = "mp4") -> MediaInfo:
    video = VideoStream("h264", "High", "yuv420p", 8, 640, 360, 640, 360, 0, 25.0, 25.0, False, None, None, 10.0)
    sound = (AudioStream(audio, 48000, 2, 128000, 10.0),)
    return MediaInfo(f"in.{fmt}", "video", fmt, fmt, 2_000_000, 640, 360, 10.0, None, video, sound)


def _warn(code: str) -> Finding:
    return Finding(code, Severity.WARNING, "damaged", fixable=True, measured=1)


def test_damage_forbids_the_copy_of_that_stream() -> None:
    clean = plan_fix(_info(), [], KLING, "video", FixOptions())
    assert clean.actions == ("copy",)
    video = plan_fix(_info(), [_warn("video.corrupt_frames")], KLING, "video", FixOptions())
    assert video.encodes and video.find(AudioTranscode) is None  # the AAC sound may still be copied
    audio = plan_fix(_info(), [_warn("audio.corrupt_frames")], KLING, "video", FixOptions())
    assert not audio.encodes and audio.actions == ("remux", "transcode audio aac->aac")
    both = plan_fix(_info(), [_warn("video.corrupt_frames"), _warn("audio.corrupt_frames")], KLING)
    assert both.encodes and both.find(AudioTranscode) is not None


# --- what the user sees ------------------------------------------------------------------------


def test_the_command_prints_no_traceback_and_no_ffmpeg_line(damaged_clip: Path, garbage_clip: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "preflight", "check", str(damaged_clip), str(garbage_clip)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # the garbage clip fails
    assert "video.corrupt_frames" in proc.stdout and "decode.error" in proc.stdout
    for pattern in STDERR_MUST_NOT_MATCH:
        assert not re.search(pattern, proc.stderr, re.MULTILINE), f"{pattern!r} on stderr:\n{proc.stderr}"


LEAKED_ESTIMATOR = """
import numpy as np
from preflight.analyze.pose import PoseEstimator
estimator = PoseEstimator.for_clip()
estimator.landmarks(np.zeros((64, 64, 3), np.uint8), 0.0)
class Holder: pass
holder = Holder(); holder.estimator = estimator; holder.me = holder  # only teardown's GC reaches it
del estimator, holder
"""


@pytest.mark.model
def test_an_estimator_nobody_closed_is_closed_before_teardown() -> None:
    # A landmarker left to its own __del__ at interpreter teardown printed a TypeError traceback.
    proc = subprocess.run([sys.executable, "-c", LEAKED_ESTIMATOR], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


def test_debug_logging_cannot_deadlock_a_decoder_closed_mid_stream(damaged_clip: Path) -> None:
    """--debug once routed FFmpeg's log through PyAV's callback, which takes the GIL inside FFmpeg's
    frame threads; closing a damaged clip mid-stream freed its decoder with the GIL held while a frame
    thread waited for it to log an error: the whole process hung (seen in a full test run). Now
    FFmpeg's own callback prints in debug mode; a subprocess closes the damaged clip mid-stream many
    times and must finish."""
    import subprocess
    import sys

    script = (
        "import os; os.environ['PREFLIGHT_DEBUG'] = '1'\n"
        "import av.logging\n"
        "from preflight.media.damage import libav_logs_for_debug\n"
        "libav_logs_for_debug()\n"
        "assert av.logging.get_level() is None  # PyAV's own callback stays off\n"
        "from preflight.analyze.frames import iter_samples, DecodeStats\n"
        "for _ in range(30):\n"
        f"    samples = iter_samples({str(damaged_clip)!r}, [1], DecodeStats())\n"
        "    for n, _ in zip(range(40), samples): pass\n"
        "    samples.close()\n"
        "print('done')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-2000:]
