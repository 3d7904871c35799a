"""probe: real format by content, displayed size, duration, streams; every bad input coded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preflight import probe
from preflight.errors import ProbeError
from preflight.models import to_dict
from preflight.samples import make_bomb_png, make_clip, make_image


def test_clip_basics(media_dir: Path) -> None:
    info = probe(media_dir / "ok.mp4")
    assert (info.role, info.format, info.extension) == ("video", "mp4", "mp4")
    assert (info.width, info.height) == (640, 360)
    assert info.duration == pytest.approx(4.0, abs=0.03)
    assert info.video is not None and info.video.codec == "h264"
    assert info.video.pix_fmt == "yuv420p" and info.video.bit_depth == 8
    assert info.video.fps == pytest.approx(25.0)
    assert info.video.rotation == 0 and not info.video.variable_fps
    assert info.video.frames == 100
    assert [a.codec for a in info.audio] == ["aac"]
    assert info.audio[0].sample_rate == 48000 and info.audio[0].channels == 2
    assert info.file_size == os.path.getsize(media_dir / "ok.mp4")
    assert info.bitrate and info.bitrate > 0


def test_rotation_gives_displayed_size(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "phone.mov", duration=0.2, width=1920, height=1080, rotation=90, container="mov")
    info = probe(clip)
    assert info.format == "mov"
    assert info.video is not None and info.video.rotation == 90
    assert (info.video.coded_width, info.video.coded_height) == (1920, 1080)
    assert (info.width, info.height) == (1080, 1920)


@pytest.mark.parametrize("rotation", [180, 270])
def test_other_rotations(tmp_path: Path, rotation: int) -> None:
    clip = make_clip(tmp_path / "r.mp4", duration=0.2, width=640, height=360, rotation=rotation)
    info = probe(clip)
    assert info.video is not None and info.video.rotation == rotation
    assert (info.width, info.height) == ((640, 360) if rotation == 180 else (360, 640))


def test_variable_frame_rate_detected(tmp_path: Path) -> None:
    times = [0, 0.04, 0.1, 0.12, 0.2, 0.3, 0.31, 0.5, 0.52, 0.7]
    info = probe(make_clip(tmp_path / "vfr.mp4", width=320, height=240, timestamps=times))
    assert info.video is not None and info.video.variable_fps


def test_container_by_content_not_extension(tmp_path: Path) -> None:
    mkv = make_clip(tmp_path / "clip.mkv", duration=0.5, width=320, height=240, container="matroska")
    disguised = tmp_path / "clip.mp4"
    shutil.copy(mkv, disguised)
    info = probe(disguised)
    assert (info.format, info.extension) == ("matroska", "mp4")
    webm = make_clip(tmp_path / "v.webm", duration=0.5, width=320, height=240, codec="libvpx", container="webm")
    assert probe(webm).format == "webm"
    avi = make_clip(tmp_path / "v.avi", duration=0.5, width=320, height=240, codec="mpeg4", container="avi")
    assert probe(avi).format == "avi"


def test_png_named_jpg_is_png(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(make_image(None, width=400, height=500, format="PNG"))
    info = probe(path)
    assert (info.role, info.format, info.extension) == ("image", "png", "jpg")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_displayed_size(tmp_path: Path, orientation: int) -> None:
    path = make_image(tmp_path / "o.jpg", width=600, height=400, exif_orientation=orientation)
    info = probe(path)
    assert info.image is not None and info.image.exif_orientation == orientation
    assert (info.image.coded_width, info.image.coded_height) == (600, 400)
    swapped = orientation in (5, 6, 7, 8)
    assert (info.width, info.height) == ((400, 600) if swapped else (600, 400))


@pytest.mark.parametrize(
    ("mode", "fmt", "expect_mode", "depth", "alpha"),
    [
        ("RGB", "JPEG", "RGB", 8, False),
        ("CMYK", "JPEG", "CMYK", 8, False),
        ("L", "PNG", "L", 8, False),
        ("P", "PNG", "P", 8, False),
        ("RGBA", "PNG", "RGBA", 8, True),
        ("I;16", "PNG", "I;16", 16, False),
        ("RGB", "WEBP", "RGB", 8, False),
        ("RGB", "BMP", "RGB", 8, False),
        ("RGB", "TIFF", "RGB", 8, False),
    ],
)
def test_image_modes(tmp_path: Path, mode: str, fmt: str, expect_mode: str, depth: int, alpha: bool) -> None:
    path = tmp_path / f"img.{fmt.lower()}"
    if mode == "I;16":
        Image.fromarray(np.full((300, 400), 40000, dtype=np.uint16)).save(path, format="PNG")
    else:
        make_image(path, width=400, height=300, format=fmt, mode=mode)
    info = probe(path)
    assert info.image is not None
    assert (info.format, info.image.mode, info.image.bit_depth, info.image.has_alpha) == (
        fmt.lower(),
        expect_mode,
        depth,
        alpha,
    )


def test_sixteen_bit_rgb_png_reports_depth(tmp_path: Path) -> None:
    # Pillow opens 16-bit RGB PNGs as 8-bit RGB; the probe reads the depth from the header.
    import struct
    import zlib

    w, h = 8, 4
    raw = b"".join(b"\x00" + b"\x80\x00" * 3 * w for _ in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "deep.png").write_bytes(png)
    info = probe(tmp_path / "deep.png")
    assert info.image is not None and info.image.bit_depth == 16


def test_animated_images(tmp_path: Path) -> None:
    gif = probe(make_image(tmp_path / "a.gif", width=100, height=80, format="GIF", frames=4))
    assert gif.image is not None and gif.image.frames == 4 and gif.image.animated
    webp = probe(make_image(tmp_path / "a.webp", width=100, height=80, format="WEBP", frames=3))
    assert webp.image is not None and webp.image.frames == 3
    still = probe(make_image(tmp_path / "s.gif", width=100, height=80, format="GIF"))
    assert still.image is not None and not still.image.animated


def test_unicode_and_spaces_in_path(tmp_path: Path) -> None:
    folder = tmp_path / "ça va ✓ 視頻"
    folder.mkdir()
    clip = make_clip(folder / "mon clip ✓.mov", duration=0.4, width=320, height=240, container="mov")
    assert probe(clip).format == "mov"


# --- bad inputs: each has its own code, none raises anything but ProbeError ---------------------


def _code(path: Path | str) -> str:
    with pytest.raises(ProbeError) as info:
        probe(path)
    assert "\n" not in info.value.one_line()
    return info.value.code


def test_missing_path(tmp_path: Path) -> None:
    assert _code(tmp_path / "nope.mp4") == "file.not_found"


def test_directory_given_as_file(tmp_path: Path) -> None:
    assert _code(tmp_path) == "file.is_directory"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert _code(tmp_path / "empty.mp4") == "file.empty"


def test_text_file_named_mp4(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("these are my notes, not a video\n" * 20)
    assert _code(tmp_path / "notes.mp4") == "format.unrecognized"


def test_truncated_mp4_without_moov(tmp_path: Path, media_dir: Path) -> None:
    data = (media_dir / "ok.mp4").read_bytes()  # moov at the end, as most encoders write it
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    assert _code(tmp_path / "cut.mp4") == "file.truncated"


def test_truncated_mp4_with_moov_first(tmp_path: Path) -> None:
    import av

    src = make_clip(tmp_path / "src.mp4", duration=2, width=320, height=240)
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as inp, av.open(str(fast), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    data = fast.read_bytes()
    assert data[4:8] == b"ftyp" and b"moov" in data[:4096]
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    assert _code(tmp_path / "cut.mp4") == "file.truncated"


def test_corrupt_jpeg(tmp_path: Path) -> None:
    data = bytearray(make_image(None, width=640, height=480, format="JPEG", quality=95))
    (tmp_path / "half.jpg").write_bytes(bytes(data[: len(data) // 2]))
    assert _code(tmp_path / "half.jpg") == "decode.error"
    # A garbled Huffman table: the header parses, the entropy-coded data cannot be decoded.
    dht = data.index(b"\xff\xc4")
    data[dht + 5 : dht + 40] = b"\xff" * 35
    (tmp_path / "garbled.jpg").write_bytes(bytes(data))
    assert _code(tmp_path / "garbled.jpg") == "decode.error"


def test_audio_only_file(tmp_path: Path) -> None:
    import av

    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert _code(path) == "video.missing_stream"
    (tmp_path / "song.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 100)
    assert _code(tmp_path / "song.mp3") == "video.missing_stream"


def test_decompression_bomb_png_is_probed_cheaply(tmp_path: Path) -> None:
    import resource

    path = make_bomb_png(tmp_path / "bomb.png", 20000)
    assert path.stat().st_size < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info = probe(path)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert (info.width, info.height) == (20000, 20000)
    assert grown_kb < 100_000  # decoding it would take 400 MB as grey, 1.2 GB as RGB


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.mp4"
    path.write_bytes(b"x")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads everything: make the open fail where the OS would refuse it
        import preflight.inputs

        real_open = os.open

        def refuse(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            if os.fspath(name) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(preflight.inputs.os, "open", refuse)
    assert _code(path) == "file.unreadable"


def test_pcm_sound_in_mov(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "cam.mov", duration=1, width=320, height=240, audio=True, audio_codec="pcm_s16le",
                     container="mov")  # fmt: skip
    info = probe(clip)
    assert [(a.codec, a.channels, a.sample_rate) for a in info.audio] == [("pcm_s16le", 2, 48000)]


def test_heic_photo_is_probed_checked_and_converted(tmp_path: Path) -> None:
    from pillow_heif import register_heif_opener

    from preflight import check
    from preflight.fix import fix
    from preflight.samples import sample_photo

    register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    Image.fromarray(sample_photo()).save(path, format="HEIF", quality=80)
    info = probe(path)
    assert (info.role, info.format, info.width, info.height) == ("image", "heic", 512, 512)
    (item,) = check([path], content=False).items
    assert (item.verdict, [f.code for f in item.findings]) == ("fixable", ["format.unsupported"])
    (result,) = fix([path], tmp_path / "ready", content=False).results
    assert result.ok and result.output is not None and probe(result.output).format == "jpeg"


def test_anamorphic_clip_shown_wider_and_flagged(tmp_path: Path) -> None:
    from fractions import Fraction

    from preflight import check

    clip = make_clip(tmp_path / "dv.mp4", duration=3, width=720, height=480, sample_aspect=Fraction(32, 27))
    info = probe(clip)
    assert info.video is not None and info.video.sample_aspect == "32:27"
    assert (info.video.coded_width, info.width, info.height) == (720, 853, 480)
    (item,) = check([clip], content=False).items
    (finding,) = item.findings
    assert (finding.code, finding.severity.value, finding.fixable) == ("video.non_square_pixels", "warning", True)
    assert item.verdict == "pass"


def test_hdr_clip_is_flagged(tmp_path: Path) -> None:
    import av

    from preflight import check

    path = tmp_path / "hlg.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p10le"
        stream.options = {"x265-params": "log-level=error", "preset": "ultrafast"}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace = 9, 18, 9  # BT.2020, HLG, BT.2020 NCL
        for i in range(75):
            frame = av.VideoFrame.from_ndarray(np.full((360, 640, 3), i, np.uint8), format="rgb24")
            out.mux(stream.encode(frame.reformat(format="yuv420p10le")))
        out.mux(stream.encode(None))
    info = probe(path)
    v = info.video
    assert v is not None and (v.hdr, v.codec, v.bit_depth) == ("HLG", "hevc", 10)
    assert (v.color_primaries, v.color_transfer, v.color_matrix) == ("bt2020", "arib-std-b67", "bt2020nc")
    assert v.sdr_conversion == "HLG"
    (item,) = check([path], content=False).items
    codes = {f.code: f for f in item.findings}
    assert set(codes) == {"video.hdr", "video.pixel_format"}
    assert codes["video.hdr"].fixable and "tone-maps it to SDR BT.709" in codes["video.hdr"].message
    assert codes["video.hdr"].severity.value == "warning" and item.verdict == "pass"
    assert item.media is not None and to_dict(item.media)["video"]["color_transfer"] == "arib-std-b67"
    sdr = probe(make_clip(tmp_path / "sdr.mp4", duration=0.5, width=320, height=240))
    assert sdr.video is not None and sdr.video.hdr is None and sdr.video.sdr_conversion is None
    assert (sdr.video.color_primaries, sdr.video.color_transfer) == (None, None)  # PyAV writes no tags


def test_peak_luminance_falls_back_to_the_mastering_display() -> None:
    import struct
    from types import SimpleNamespace

    from preflight.color.graph import lut_peak, peak_luminance

    # AVMasteringDisplayMetadata: 3 primaries + white point (8 rationals), min and max luminance, 2 flags
    mdm = struct.pack("<20i", *([1, 2] * 8), 1, 10000, 4000 * 10000, 10000) + struct.pack("<ii", 1, 1)
    cll = _SideItem("CONTENT_LIGHT_LEVEL", struct.pack("<II", 1203, 400))  # MaxCLL, MaxFALL
    frames = [
        SimpleNamespace(side_data=[_SideItem("MASTERING_DISPLAY_METADATA", mdm)]),
        SimpleNamespace(side_data=[cll, _SideItem("MASTERING_DISPLAY_METADATA", mdm)]),
        SimpleNamespace(side_data=[_SideItem("MASTERING_DISPLAY_METADATA", mdm[:84] + struct.pack("<i", 0))]),
        SimpleNamespace(side_data=[]),
    ]
    assert [peak_luminance(f) for f in frames] == [4000.0, 1203.0, None, None]
    assert lut_peak(1203.0) == 1200.0 and lut_peak(None) is None


class _SideItem:
    """Stands in for PyAV's SideData: a ``type`` with a ``name``, and the raw bytes."""

    def __init__(self, name: str, data: bytes) -> None:
        self.type = type("T", (), {"name": name})()
        self._data = data

    def __bytes__(self) -> bytes:
        return self._data


def test_hdr_colour_description_and_peak(tmp_path: Path) -> None:
    from preflight import check
    from preflight.samples import make_hdr_clip

    pq = probe(make_hdr_clip(tmp_path / "pq.mp4", transfer="PQ", duration=0.2, width=160, height=96, max_cll=1500))
    assert pq.video is not None and pq.video.hdr == "PQ" and pq.video.peak_luminance == 1500
    assert (pq.video.color_transfer, pq.video.color_range) == ("smpte2084", "tv")
    wide = make_hdr_clip(tmp_path / "wide.mp4", transfer="BT.2020 SDR", duration=0.2, width=160, height=96)
    info = probe(wide)
    assert info.video is not None and info.video.hdr is None and info.video.sdr_conversion == "BT.2020 SDR"
    (item,) = check([wide], content=False).items
    (gamut,) = [f for f in item.findings if f.code == "video.wide_gamut"]
    assert gamut.fixable and gamut.severity.value == "warning" and gamut.measured == "bt2020"


@pytest.mark.parametrize(
    ("name", "text"),
    [("SOURCES.txt", "preflight.egg-info\nSOURCES.txt\npyproject.toml\n" * 40),
     ("pyproject.toml", "[project]\nname = 'x'\nversion = '1'\n[tool.x]\na = 1\n")],
)  # fmt: skip
def test_a_text_file_is_not_a_tty_or_lyrics_clip(tmp_path: Path, name: str, text: str) -> None:
    """FFmpeg's tty demuxer renders any text as an ANSI "video" and lrc reads lyrics: a project's
    SOURCES.txt showed up as a 0.56 s TTY clip failing the pose gate, pyproject.toml as a lyrics file."""
    path = tmp_path / name
    path.write_text(text)
    assert _code(path) == "format.unrecognized"
