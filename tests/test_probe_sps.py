"""Opening MP4/MOV headers-only (``skip_frame=all``) gives the probe the same answers as before:
the H.264 pixel format and colour come from the SPS (:mod:`preflight.media.h264sps`), as FFmpeg's decoder
chose them when it decoded a frame at open."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import av
import pytest

from preflight import probe
from preflight.media.h264sps import sps_facts
from preflight.samples import make_clip

probe_module = importlib.import_module("preflight.media.probe")


def _slow_probe(path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The probe as it was: FFmpeg decodes at open, the first frame gives the rotation."""
    with monkeypatch.context() as m:
        m.setattr(probe_module, "_HEADERS_ONLY", {})
        m.setattr(probe_module, "_header_rotation", lambda *args: None)
        return probe(path)


@pytest.mark.parametrize(
    ("pix_fmt", "container"),
    [("yuv420p", "mp4"), ("yuvj420p", "mp4"), ("yuv422p", "mov"), ("yuv444p", "mp4"), ("yuv420p10le", "mp4"),
     ("yuvj444p", "mov"), ("gray", "mp4")],
)  # fmt: skip
def test_headers_only_open_matches_the_decoding_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pix_fmt: str, container: str
) -> None:
    clip = make_clip(tmp_path / f"c.{container}", duration=0.2, width=320, height=240, pix_fmt=pix_fmt,
                     container=container, rotation=90, audio=True)  # fmt: skip
    with av.open(str(clip), options={"skip_frame": "all"}) as c:
        ctx = c.streams.video[0].codec_context
        assert ctx.pix_fmt is None  # FFmpeg left it to a decode: the SPS is what answers
        facts = sps_facts(ctx.extradata, ctx.color_range, ctx.color_primaries, ctx.color_trc, ctx.colorspace)
    assert facts is not None
    fast, slow = probe(clip), _slow_probe(clip, monkeypatch)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert fast.video is not None and fast.video.pix_fmt == facts.pix_fmt


def test_tagged_bt709_full_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tagged.mp4"
    with av.open(str(path), "w") as out:  # colour in the SPS's VUI (and a colr box the muxer adds)
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.codec_context.color_range, s.codec_context.color_primaries = 2, 1
        s.codec_context.color_trc, s.codec_context.colorspace = 1, 1
        for i in range(3):
            frame = av.VideoFrame(160, 96, "yuv420p")
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    fast, slow = probe(path), _slow_probe(path, monkeypatch)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert fast.video is not None and (fast.video.color_range, fast.video.color_primaries) == ("pc", "bt709")


def test_unreadable_sps_opens_the_slow_way() -> None:
    assert sps_facts(None, 0, 2, 2, 2) is None
    assert sps_facts(b"\x01\x64\x00\x1f\xff\xe1\x00\x04\x67\x64", 0, 2, 2, 2) is None  # cut short


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(timestamps=[i * 0.033 + (0.01 if i % 3 == 0 else 0) for i in range(60)], audio=True),  # irregular
        dict(timestamps=[0, 0.04, 0.1, 0.12, 0.2, 0.3, 0.31, 0.5, 0.52, 0.7]),
        dict(duration=0.6, movflags="frag_keyframe+empty_moov", audio=True),  # no sample table in moov
        dict(duration=0.4, audio=True, movflags="faststart"),
    ],
)
def test_irregular_timing_and_fragments_match_the_decoding_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kwargs: dict
) -> None:  # type: ignore[type-arg]
    clip = make_clip(tmp_path / "c.mp4", width=320, height=240, **kwargs)
    assert dataclasses.asdict(probe(clip)) == dataclasses.asdict(_slow_probe(clip, monkeypatch))


@pytest.mark.parametrize(
    ("profile", "name"), [("baseline", "Constrained Baseline"), ("main", "Main"), ("high", "High")]
)
def test_profile_name_from_the_sps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, name: str) -> None:
    path = tmp_path / "p.mp4"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("aac", rate=48000)  # the first packet is audio: the video's is never read
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt, s.options = 160, 96, "yuv420p", {"profile": profile}
        for i in range(5):
            a = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for plane in a.planes:
                plane.update(bytes(plane.buffer_size))
            a.sample_rate, a.pts = 48000, i * 1024
            out.mux(audio.encode(a))
            frame = av.VideoFrame(160, 96, "yuv420p")
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
        out.mux(audio.encode(None))
    fast = probe(path)
    assert fast.video is not None and fast.video.profile == name
    assert dataclasses.asdict(fast) == dataclasses.asdict(_slow_probe(path, monkeypatch))


def _remuxed(src: Path, dst: Path, keep_duration: bool = True) -> Path:
    """``src``'s streams copied into ``dst`` (Matroska/WebM by its suffix), packets untouched."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in (*source.streams.video, *source.streams.audio)}
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return dst


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "suffix"),
    [("libx264", "yuv420p", "mkv"), ("libx264", "yuvj420p", "mkv"), ("libx264", "yuv422p", "mkv"),
     ("libx264", "yuv420p10le", "mkv"), ("libx265", "yuv420p10le", "mkv"), ("libvpx-vp9", "yuv420p", "webm"),
     ("libx264", "yuv420p", "webm-vfr")],
)  # fmt: skip
def test_matroska_headers_only_open_matches_the_decoding_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str, pix_fmt: str, suffix: str
) -> None:
    """An OBS-style H.264 MKV took 86 ms to probe at 1080p, FFmpeg decoding its first frame at open for
    the pixel format; the SPS gives it now. HEVC gives it at decoder init; VP9 (no parameter sets in
    the header) still opens the decoding way. Whichever way, the probe's answers are the same."""
    if suffix == "webm-vfr":  # no DefaultDuration: FFmpeg must estimate the rate from packets
        src = make_clip(tmp_path / "src.mp4", width=320, height=240, audio=True,
                        timestamps=[0, 0.04, 0.1, 0.12, 0.2, 0.3, 0.31, 0.5, 0.52, 0.7])  # fmt: skip
        clip = _remuxed(src, tmp_path / "c.mkv")
    else:
        clip = tmp_path / f"c.{suffix}"
        with av.open(str(clip), "w") as out:
            video = out.add_stream(codec, rate=25)
            video.width, video.height, video.pix_fmt = 320, 240, pix_fmt
            if codec == "libx265":
                video.options = {"x265-params": "log-level=error"}
            audio = out.add_stream("libopus" if suffix == "webm" else "aac", rate=48000)
            for i in range(10):
                frame = av.VideoFrame(320, 240, pix_fmt)
                frame.pts = i
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
            silence = av.AudioFrame(format="fltp" if suffix != "webm" else "flt", layout="stereo", samples=960)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate, silence.pts = 48000, 0
            out.mux(audio.encode(silence))
            out.mux(audio.encode(None))
    fast, slow = probe(clip), _slow_probe(clip, monkeypatch)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert fast.video is not None and fast.video.pix_fmt == pix_fmt
