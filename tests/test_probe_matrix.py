"""The display matrix read from MP4/MOV boxes, without decoding a frame (issue 12).

The oracle is the path it replaces: the first decoded frame's display matrix, as FFmpeg applies
it (``preflight.probe._first_frame``). ffprobe's own reading is compared too where it is installed.
"""

from __future__ import annotations

import importlib
import json
import shutil
import struct
import subprocess
from pathlib import Path

import av
import pytest

from preflight import probe
from preflight.isobmff import IDENTITY, display_matrix, rotation
from preflight.samples import make_clip, make_hdr_clip

probe_module = importlib.import_module("preflight.probe")  # preflight.probe is also the function
ONE, FIX30 = 1 << 16, 1 << 30


def _frame_rotation(path: Path) -> int:
    """Today's reference: the clockwise rotation of the first decoded frame."""
    with av.open(str(path)) as container:
        return probe_module._first_frame(container, container.streams.video[0], path)[0]


def _boxes(path: Path, start: int = 0, end: int | None = None) -> dict[bytes, tuple[int, int]]:
    """{type: (box start, box end)} of the boxes at one level (32-bit sizes only: the test files)."""
    data = path.read_bytes()
    end = len(data) if end is None else end
    found, pos = {}, start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        found.setdefault(kind, (pos, pos + size))
        pos += size
    return found


@pytest.fixture
def no_decode(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Counts the probe's frame decodes (the only place it decodes: ``_first_frame``)."""
    calls: list[Path] = []
    real = probe_module._first_frame

    def counting(container, stream, p):  # type: ignore[no-untyped-def]
        calls.append(p)
        return real(container, stream, p)

    monkeypatch.setattr(probe_module, "_first_frame", counting)
    return calls


@pytest.mark.parametrize("container", ["mov", "mp4"])
@pytest.mark.parametrize("turn", [90, 270])
@pytest.mark.parametrize("movflags", [None, "faststart"])
def test_phone_rotation_without_decoding(
    tmp_path: Path, no_decode: list[Path], container: str, turn: int, movflags: str | None
) -> None:
    clip = make_clip(tmp_path / f"phone.{container}", duration=0.3, width=640, height=360, rotation=turn,
                     container=container, audio=True, movflags=movflags)  # fmt: skip
    top = list(_boxes(clip))
    assert (top.index(b"moov") < top.index(b"mdat")) == (movflags == "faststart")  # moov first / at the end
    info = probe(clip)
    assert no_decode == []
    assert info.video is not None and info.video.rotation == turn == _frame_rotation(clip)
    assert (info.width, info.height) == (360, 640)
    assert (info.video.coded_width, info.video.coded_height) == (640, 360)


@pytest.mark.parametrize("turn", [0, 180])
def test_upright_and_upside_down(tmp_path: Path, no_decode: list[Path], turn: int) -> None:
    clip = make_clip(tmp_path / "r.mp4", duration=0.2, width=320, height=240, rotation=turn)
    info = probe(clip)
    assert no_decode == [] and info.video is not None and info.video.rotation == turn == _frame_rotation(clip)
    assert (info.width, info.height) == (320, 240)


def test_fragmented_mp4(tmp_path: Path, no_decode: list[Path]) -> None:
    clip = make_clip(tmp_path / "frag.mp4", duration=0.6, width=320, height=240, rotation=90, audio=True,
                     movflags="frag_keyframe+empty_moov")  # fmt: skip
    assert {b"moof", b"mdat"} <= set(_boxes(clip)) and b"mvex" in clip.read_bytes()
    info = probe(clip)
    assert no_decode == [] and info.video is not None and info.video.rotation == 90 == _frame_rotation(clip)


def test_64_bit_box_sizes(tmp_path: Path, no_decode: list[Path]) -> None:
    """mdat and moov written with 64-bit sizes (largesize), as files over 4 GB have them: the
    muxer's 8-byte ``free`` before ``mdat`` becomes the room for the mdat's largesize, and ``moov``
    at the end of the file moves no sample data when its header grows."""
    clip = make_clip(tmp_path / "big.mp4", duration=0.3, width=320, height=240, rotation=270, audio=True)
    boxes = _boxes(clip)
    free, (mdat_start, mdat_end), (moov_start, moov_end) = boxes[b"free"], boxes[b"mdat"], boxes[b"moov"]
    assert free == (mdat_start - 8, mdat_start) and moov_end == clip.stat().st_size
    data = bytearray(clip.read_bytes())
    data[free[0] : mdat_start + 8] = struct.pack(">I4sQ", 1, b"mdat", mdat_end - free[0])
    moov = data[moov_start + 8 : moov_end]
    data[moov_start:] = struct.pack(">I4sQ", 1, b"moov", len(moov) + 16) + moov
    big = tmp_path / "big64.mp4"
    big.write_bytes(bytes(data))
    with open(big, "rb") as fh:
        assert display_matrix(fh, big.stat().st_size, 1, 0) == (0, -ONE, 0, ONE, 0, 0, 0, 0, FIX30)
    info = probe(big)
    assert no_decode == [] and info.video is not None and info.video.rotation == 270 == _frame_rotation(big)
    assert info.duration == pytest.approx(probe(clip).duration)


def _patched(src: Path, dst: Path, box: bytes, matrix: tuple[int, ...]) -> Path:
    """A copy of ``src`` with the matrix of its ``mvhd`` or (first) ``tkhd`` replaced (version 0 boxes)."""
    data = bytearray(src.read_bytes())
    moov_start, moov_end = _boxes(src)[b"moov"]
    inner = _boxes(src, moov_start + 8, moov_end)
    if box == b"mvhd":
        at = inner[b"mvhd"][0] + 8 + 36
    else:
        trak = inner[b"trak"]
        at = _boxes(src, trak[0] + 8, trak[1])[b"tkhd"][0] + 8 + 40
    data[at : at + 36] = struct.pack(">9i", *matrix)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize(
    ("box", "matrix"),
    [
        (b"mvhd", (0, ONE, 0, -ONE, 0, 0, 0, 0, FIX30)),  # the movie turned 90, the track upright
        (b"tkhd", (-ONE, 0, 0, 0, ONE, 0, 0, 0, FIX30)),  # mirrored left-right: FFmpeg says 180
        (b"tkhd", (ONE, 0, 0, 0, -ONE, 0, 0, 0, FIX30)),  # mirrored top-bottom: FFmpeg says 0
        (b"tkhd", (0, ONE, 0, ONE, 0, 0, 0, 0, FIX30)),  # transposed (a turn and a flip)
        (b"tkhd", (0, 2 * ONE, 0, -2 * ONE, 0, 0, 0, 0, FIX30)),  # turned 90 and scaled 2x
        (b"tkhd", (46341, 46341, 0, -46341, 46341, 0, 0, 0, FIX30)),  # 45 degrees: rounds to 0 (as before)
    ],
)
def test_odd_matrices_read_as_the_first_frame_does(tmp_path: Path, box: bytes, matrix: tuple[int, ...]) -> None:
    clip = make_clip(tmp_path / "src.mov", duration=0.2, width=320, height=240, container="mov")
    odd = _patched(clip, tmp_path / "odd.mov", box, matrix)
    info = probe(odd)
    assert info.video is not None and info.video.rotation == _frame_rotation(odd)


def test_rotation_of_matrices() -> None:
    assert rotation(IDENTITY) == 0
    assert rotation((0, ONE, 0, -ONE, 0, 0, 0, 0, FIX30)) == 90  # what a phone writes for portrait
    assert rotation((-ONE, 0, 0, 0, -ONE, 0, 0, 0, FIX30)) == 180
    assert rotation((0, -ONE, 0, ONE, 0, 0, 0, 0, FIX30)) == 270
    assert rotation((0, 0, 0, 0, 0, 0, 0, 0, 0)) == 0  # degenerate: FFmpeg's angle is NaN


def test_mkv_falls_back_to_the_first_frame(tmp_path: Path, no_decode: list[Path]) -> None:
    clip = make_clip(tmp_path / "r.mkv", duration=0.2, width=320, height=240, container="matroska", rotation=90)
    info = probe(clip)
    assert len(no_decode) == 1 and info.video is not None and info.video.rotation == _frame_rotation(clip)


def test_only_pq_decodes_its_first_frame(tmp_path: Path, no_decode: list[Path]) -> None:
    hlg = probe(make_hdr_clip(tmp_path / "hlg.mp4", transfer="HLG", duration=0.2, width=160, height=96))
    assert hlg.video is not None and hlg.video.hdr == "HLG" and no_decode == []
    pq = probe(make_hdr_clip(tmp_path / "pq.mp4", transfer="PQ", duration=0.2, width=160, height=96, max_cll=1500))
    assert pq.video is not None and pq.video.peak_luminance == 1500 and no_decode == [tmp_path / "pq.mp4"]


def test_no_frame_is_decoded_even_when_every_frame_is_garbage(tmp_path: Path) -> None:
    """The headers alone answer: an HEVC clip (FFmpeg takes its parameters from the hvcC box, so
    opening decodes nothing either) whose every video packet is noise still probes, rotation right;
    the first-frame path refused it. The content check is what decodes, and reports."""
    clip = make_clip(tmp_path / "h.mp4", duration=0.3, width=320, height=240, codec="libx265", rotation=90)
    with av.open(str(clip)) as container:
        spans = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(clip.read_bytes())
    for pos, size in spans:
        data[pos : pos + size] = bytes(size)
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(bytes(data))
    with av.open(str(noise)) as container, pytest.raises(Exception):  # noqa: B017 (the old path's failure)
        probe_module._first_frame(container, container.streams.video[0], noise)
    info = probe(noise)
    assert info.video is not None and info.video.rotation == 90 and (info.width, info.height) == (240, 320)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_agrees_with_ffprobe(tmp_path: Path, turn: int) -> None:
    clip = make_clip(tmp_path / "c.mov", duration=0.2, width=320, height=240, rotation=turn, container="mov")
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
                          str(clip)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    side = json.loads(out)["streams"][0].get("side_data_list", [])
    theirs = next((int(s["rotation"]) for s in side if "rotation" in s), 0)  # counter-clockwise
    info = probe(clip)
    assert info.video is not None and info.video.rotation == -theirs % 360


def _with_orientation_sei(src: Path, dst: Path, ccw: int, flip: str = "", turn: int | None = None) -> Path:
    """``src`` remuxed through FFmpeg's ``h264_metadata`` filter, which writes a display orientation
    SEI (``ccw`` degrees anticlockwise, ``flip`` "horizontal"/"vertical") into every keyframe; the
    container gets a ``turn`` matrix of its own when given."""
    options = f"display_orientation=insert:rotate={ccw}" + (f":flip={flip}" if flip else "")
    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        video = source.streams.video[0]
        stream = out.add_stream_from_template(video)
        if turn is not None:
            stream.set_display_rotation(-turn)  # counter-clockwise, as FFmpeg's matrices
        sei = av.bitstream.BitStreamFilterContext(f"h264_metadata={options}", video, stream)
        for packet in source.demux(video):
            for filtered in sei.filter(packet if packet.dts is not None else None):
                filtered.stream = stream
                out.mux(filtered)
    return dst


@pytest.mark.parametrize("ccw", [90, 180, 270])
def test_bitstream_orientation_sei_without_decoding(tmp_path: Path, no_decode: list[Path], ccw: int) -> None:
    """A camera that says "rotate" in the H.264 stream (identity matrix in the MP4): the probe reads the
    SEI from the first packet and agrees with the decoded frame the content check rotates by."""
    plain = make_clip(tmp_path / "plain.mp4", duration=0.3, width=640, height=360)
    clip = _with_orientation_sei(plain, tmp_path / "sei.mp4", ccw)
    info = probe(clip)
    assert no_decode == []
    assert info.video is not None and info.video.rotation == (-ccw) % 360 == _frame_rotation(clip)
    assert (info.width, info.height) == ((360, 640) if ccw != 180 else (640, 360))


@pytest.mark.parametrize("flip", ["horizontal", "vertical"])
def test_flipped_orientation_sei_reads_as_the_decoder_does(tmp_path: Path, flip: str) -> None:
    plain = make_clip(tmp_path / "plain.mp4", duration=0.3, width=640, height=360)
    clip = _with_orientation_sei(plain, tmp_path / "flip.mp4", 90, flip)
    info = probe(clip)
    assert info.video is not None and info.video.rotation == _frame_rotation(clip)


def test_container_matrix_wins_over_the_sei(tmp_path: Path, no_decode: list[Path]) -> None:
    """FFmpeg prefers a container's matrix to the bitstream's, and so does the probe."""
    plain = make_clip(tmp_path / "plain.mp4", duration=0.3, width=640, height=360)
    clip = _with_orientation_sei(plain, tmp_path / "both.mp4", 90, turn=180)
    info = probe(clip)
    assert no_decode == [] and info.video is not None and info.video.rotation == 180 == _frame_rotation(clip)


def test_sei_display_matrix_of_raw_nal_units() -> None:
    """The SEI reader on hand-made NAL units: H.264 and HEVC (two-byte header, prefix SEI type 39),
    the cancel flag, a message after another, and a slice before the SEI (too late to count)."""
    from preflight.nal import sei_display_matrix

    def nal(header: bytes, *messages: tuple[int, bytes]) -> bytes:
        body = b"".join(bytes([kind, len(payload)]) + payload for kind, payload in messages)
        return header + body + b"\x80"

    def length_prefixed(*units: bytes) -> bytes:
        return b"".join(len(u).to_bytes(4, "big") + u for u in units)

    # cancel 0, hflip 0, vflip 0 | anticlockwise 0x4000 (90 degrees) | period ue(0) "1", extension 0
    turn_90 = bytes([0b00001000, 0b00000000, 0b00010000])
    h264 = length_prefixed(nal(b"\x06", (5, b"x" * 20), (47, turn_90)), b"\x65\x88")
    assert rotation(sei_display_matrix("h264", h264, 4)) == 270
    hevc = length_prefixed(nal(bytes([39 << 1, 1]), (47, turn_90)), bytes([19 << 1, 1]))
    assert rotation(sei_display_matrix("hevc", hevc, 4)) == 270
    cancelled = length_prefixed(nal(b"\x06", (47, b"\x80")), b"\x65\x88")
    assert sei_display_matrix("h264", cancelled, 4) is None
    late = length_prefixed(b"\x65\x88", nal(b"\x06", (47, turn_90)))
    assert sei_display_matrix("h264", late, 4) is None
