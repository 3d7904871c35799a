"""Fix never drops media: every copy, remux and trim keeps the frames its plan promised (issue 19).

Each source clip is written in a container the tests can make (MP4, MOV, Matroska, WebM; with and
without B-frames; open GOPs; one keyframe), fixed along each path (the whole clip, a stream-copy trim
from keyframe to keyframe, a trim that re-encodes), and the output counted with an independent read:
ffprobe's packet list where it is installed (CI installs it), PyAV's demuxer otherwise. The expected
counts come from the source's own packets under the documented rules (:mod:`preflight.fix.promise`).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from preflight import check
from preflight.fix import fix
from preflight.fix.ops import Trim
from preflight.fix.timestamps import DecodeTimes, DecodeTimesUnknown
from preflight.media.isobmff import movie_duration
from preflight.samples import make_clip

FPS = 25
FRAME = 1 / FPS

CLIPS = {
    "mp4": dict(container="mp4"),
    "mp4-bframes": dict(container="mp4", bframes=3),
    "mov-bframes": dict(container="mov", bframes=3),
    "mp4-open-gop": dict(container="mp4", bframes=3, open_gop=True),
    "mkv": dict(container="matroska"),
    "mkv-bframes": dict(container="matroska", bframes=3),
    "mkv-bframes-silent": dict(container="matroska", bframes=3, audio=False),
    "mkv-one-keyframe": dict(container="matroska", bframes=3, gop=100_000),
    "mkv-open-gop": dict(container="matroska", bframes=3, open_gop=True),
    "webm-vp9": dict(container="webm", codec="libvpx-vp9", audio_codec="libopus"),
}
WINDOWS = {
    "whole": (None, None),
    "keyframe-trim": (1.0, 5.0),  # keyframes every second: a stream copy where the codec allows
    "cut-trim": (1.5, 5.3),  # off the keyframes: re-encoded
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keeps-frames")
    made = {}
    for name, options in CLIPS.items():
        ext = {"matroska": "mkv", "webm": "webm", "mov": "mov"}.get(options["container"], "mp4")
        kwargs = {"duration": 6.0, "fps": FPS, "width": 640, "height": 360, "gop": FPS, "audio": True, **options}
        made[name] = make_clip(folder / f"{name}.{ext}", **kwargs)
    return made


@dataclass(frozen=True)
class Packet:
    pts: float
    duration: float
    shown: bool
    """False for packets an edit list hides (FFmpeg's discard flag)."""


def packets(path: Path) -> dict[str, list[Packet]]:
    """Video and audio packets of the first streams, in decode order, read without preflight."""
    if shutil.which("ffprobe"):
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_packets", "-show_entries",
             "packet=codec_type,stream_index,pts_time,dts_time,duration_time,flags", "-of", "json", str(path)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        found: dict[str, list[Packet]] = {"video": [], "audio": []}
        first: dict[str, int] = {}
        for p in json.loads(out)["packets"]:
            kind = p["codec_type"]
            if kind not in found or first.setdefault(kind, p["stream_index"]) != p["stream_index"]:
                continue
            t = p.get("pts_time", p.get("dts_time"))
            found[kind].append(Packet(float(t), float(p.get("duration_time", 0)), "D" not in p["flags"]))
        return found
    import av

    found = {"video": [], "audio": []}
    with av.open(str(path)) as c:
        streams = [c.streams.video[0], *c.streams.audio[:1]]
        for p in c.demux(streams):
            if p.size:
                t = p.pts if p.pts is not None else p.dts
                at, step = float(t * p.time_base), float(p.duration * p.time_base)
                found[p.stream.type].append(Packet(at, step, not p.is_discard))
    return found


def span(kept: list[Packet]) -> float:
    return max(p.pts + p.duration for p in kept) - min(p.pts for p in kept) if kept else 0.0


def expected_video(source: list[Packet], start: float, end: float | None, copies: bool) -> list[Packet]:
    """The source's pictures a fix of [start, end) must keep: a copy keeps every packet from the first
    shown at ``start``, up to the first (in decode order) that would show past ``end``; a re-encode
    keeps the window."""
    kept = []
    for p in source:
        if p.pts < start - FRAME / 2:
            continue
        if end is not None and p.pts + p.duration > end + 1e-6:
            if copies:
                break
            continue
        kept.append(p)
    return kept


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("clip", CLIPS)
def test_every_path_keeps_the_planned_frames(sources: dict[str, Path], tmp_path: Path, clip: str, window: str) -> None:
    src = sources[clip]
    start, end = WINDOWS[window]
    report = fix([src], tmp_path, content=False, start=start, end=end)
    (result,) = report.results
    assert result.ok, (result.reason, result.after and result.after.findings)
    assert not any(a.startswith("re-encoded:") for a in result.actions), result.actions  # no fallback hid a loss
    copies = not result.plan.encodes
    if window == "whole" and clip.startswith(("mkv", "mov")):
        assert copies, "a container change alone is a remux"
    trim = result.plan.find(Trim)
    if window == "keyframe-trim" and clip not in ("mkv-one-keyframe", "webm-vp9"):
        assert trim is not None and trim.stream_copy, result.actions

    source, written = packets(src), packets(Path(result.output))
    lo = start or 0.0
    wanted = expected_video(source["video"], lo, end, copies)
    shown = [p for p in written["video"] if p.shown]
    if copies:
        assert abs(len(shown) - len(wanted)) <= 1, (len(shown), len(wanted))
        assert span(shown) == pytest.approx(span(wanted), abs=FRAME + 1e-3)
    else:
        frames = round(span(wanted) * FPS)
        assert abs(len(shown) - frames) <= 1, (len(shown), frames)
        assert span(shown) == pytest.approx(frames * FRAME, abs=FRAME + 1e-3)
    if result.actions == ("copy",):
        assert Path(result.output).read_bytes() == src.read_bytes()
    else:
        assert result.kept is not None and result.kept.video_frames_written == len(shown)

    if CLIPS[clip].get("audio", True):
        sound = [p for p in source["audio"] if p.pts >= lo - 1e-6 and (end is None or p.pts + p.duration <= end + 1e-6)]
        heard = [p for p in written["audio"] if p.shown and p.pts >= -1e-6]
        step = max(p.duration for p in source["audio"])
        assert span(heard) >= span(sound) - FRAME - 2 * step, (span(heard), span(sound))
    else:
        assert not written["audio"]


def test_a_matroska_with_bframes_keeps_its_first_gop_in_a_remux(sources: dict[str, Path], tmp_path: Path) -> None:
    """The tester's case: Matroska leaves the first keyframe's DTS unset; the remux once dropped the
    whole first GOP (8 of 12 s of video kept, and passed)."""
    src = sources["mkv-bframes"]
    assert packets(src)["video"][0].pts == 0.0
    (result,) = fix([src], tmp_path, content=False).results
    assert result.actions == ("remux",)
    assert len(packets(Path(result.output))["video"]) == 150
    assert result.kept.video_frames == result.kept.video_frames_written == 150


def test_an_output_that_lost_frames_is_not_kept(
    sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the remux made to drop packets without a DTS (the old bug) and the encoder to drop every
    other frame, no output is written and the reason says what was lost; with only the remux broken,
    the copy's loss is caught and the clip re-encoded whole."""
    import preflight.fix.video as video

    class DroppingTimes(DecodeTimes):
        def push(self, packet):  # type: ignore[no-untyped-def]
            if packet.dts is None:
                return iter(())
            return super().push(packet)

    monkeypatch.setattr(video, "DecodeTimes", DroppingTimes)
    (result,) = fix([sources["mkv-bframes"]], tmp_path / "one", content=False).results
    assert result.ok
    assert any(a.startswith("re-encoded:") and "lost media" in a for a in result.actions), result.actions
    assert len(packets(Path(result.output))["video"]) == 150

    real_emit = video._FrameSlots._emit

    def every_other(self, frame, graph, vout, out):  # type: ignore[no-untyped-def]
        if self.next % 2:
            self.next += 1
            return None
        return real_emit(self, frame, graph, vout, out)

    monkeypatch.setattr(video._FrameSlots, "_emit", every_other)
    report = fix([sources["mkv-bframes"]], tmp_path / "two", content=False)
    (result,) = report.results
    assert not report.ok and result.output is None and result.after is None
    assert result.reason.startswith("fix.frames_lost:") and "video frames written" in result.reason
    assert not (tmp_path / "two").exists() or not list((tmp_path / "two").iterdir())  # no file, no temp left


def _lying_header(src: Path, dst: Path, seconds: int) -> Path:
    data = bytearray(src.read_bytes())
    at = data.find(b"mvhd")
    assert data[at + 4] == 0  # version 0: timescale then a 32-bit duration
    timescale = struct.unpack_from(">I", data, at + 16)[0]
    struct.pack_into(">I", data, at + 20, seconds * timescale)
    dst.write_bytes(bytes(data))
    return dst


def test_a_header_that_lies_about_the_length_is_rewritten(sources: dict[str, Path], tmp_path: Path) -> None:
    liar = _lying_header(sources["mp4-bframes"], tmp_path / "liar.mp4", 36_000)
    with open(liar, "rb") as fh:
        assert movie_duration(fh, liar.stat().st_size) == 36_000
    (item,) = check([liar], content=False).items
    found = {f.code: f for f in item.findings}
    assert item.verdict == "fixable" and found["duration.header_mismatch"].fixable
    assert found["duration.header_mismatch"].measured == 36_000 and item.media.duration == pytest.approx(6.0, abs=0.05)

    (result,) = fix([liar], tmp_path / "out", content=False).results
    assert result.ok and result.actions[0].startswith("remux (the header said 36000.00 s")
    out = Path(result.output)
    with open(out, "rb") as fh:
        assert movie_duration(fh, out.stat().st_size) == pytest.approx(6.0, abs=0.05)
    if shutil.which("ffprobe"):
        probe = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(out)]
        shown = subprocess.run(probe, check=True, capture_output=True, text=True).stdout
        assert float(shown) == pytest.approx(6.0, abs=0.05)


def test_an_honest_header_is_not_flagged(sources: dict[str, Path]) -> None:
    items = check([sources["mp4-bframes"], sources["mov-bframes"]], content=False).items
    assert not [f for i in items for f in i.findings if f.code == "duration.header_mismatch"]


# --- DecodeTimes, packet by packet -------------------------------------------------------------------


def _pkts(*times: tuple[int, int | None]) -> list[SimpleNamespace]:
    return [SimpleNamespace(pts=pts, dts=dts, duration=1) for pts, dts in times]


def _run(times: DecodeTimes, pkts: list[SimpleNamespace]) -> list[SimpleNamespace]:
    out = [ready for p in pkts for ready in times.push(p)]
    return out + list(times.finish())


def _valid(out: list[SimpleNamespace]) -> None:
    dts = [p.dts for p in out]
    assert dts == sorted(dts) and len(set(dts)) == len(dts), dts
    assert all(p.dts <= p.pts for p in out)


def test_held_packets_get_times_counted_back_from_the_first_known_one() -> None:
    # Decode order of I0 P3 B1 B2 with the demuxer's DTS unset on the first two (Matroska).
    pkts = _pkts((0, None), (3, None), (1, 0), (2, 1), (6, 2), (4, 3), (5, 4))
    out = _run(DecodeTimes(1), pkts)
    assert [p.pts for p in out] == [0, 3, 1, 2, 6, 4, 5]  # nothing dropped, order kept
    assert [p.dts for p in out] == [-2, -1, 0, 1, 2, 3, 4]
    _valid(out)


def test_a_stream_shorter_than_its_reordering_is_released_at_the_end() -> None:
    out = _run(DecodeTimes(1), _pkts((0, None), (2, None), (1, None)))
    assert [p.pts for p in out] == [0, 2, 1]
    _valid(out)


def test_a_dts_missing_mid_stream_follows_the_previous_one() -> None:
    out = _run(DecodeTimes(1), _pkts((0, 0), (1, None), (2, 2), (3, 2)))
    assert [p.dts for p in out] == [0, 1, 2, 3]
    _valid(out)


def test_a_stream_without_any_decode_time_is_refused() -> None:
    times = DecodeTimes(1)
    with pytest.raises(DecodeTimesUnknown):
        for p in _pkts(*[(i, None) for i in range(200)]):
            list(times.push(p))
