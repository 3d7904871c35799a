"""The display matrix read from MP4/MOV boxes and Matroska/WebM track headers, without decoding a frame
(issue 12).

The oracle is the path it replaces: the first decoded frame's display matrix, as FFmpeg applies
it (``preflight.media.probe._first_frame``). ffprobe's own reading is compared too where it is installed.
"""

from __future__ import annotations

import importlib
import json
import math
import shutil
import struct
import subprocess
from pathlib import Path

import av
import pytest

from preflight import probe
from preflight.media import matroska
from preflight.media.isobmff import IDENTITY, display_matrix, rotation
from preflight.samples import make_clip, make_hdr_clip

probe_module = importlib.import_module("preflight.media.probe")  # preflight.probe is also the function
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


# --- Matroska / WebM ----------------------------------------------------------------------------


def _frame_matrix(path: Path) -> tuple[int, ...]:
    """The display matrix FFmpeg gives the first decoded frame (IDENTITY when it gives none)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        found = [bytes(sd) for sd in frame.side_data if sd.type == av.sidedata.sidedata.Type.DISPLAYMATRIX]
    return struct.unpack("=9i", found[0]) if found else IDENTITY


def _matroska_matrix(path: Path, video_index: int = 0) -> tuple[int, ...] | None:
    with open(path, "rb") as fh:
        return matroska.display_matrix(fh, path.stat().st_size, video_index)


def _ebml_number(data: bytes, at: int, keep_marker: bool) -> tuple[int, int]:
    length = 9 - data[at].bit_length()
    value = data[at] if keep_marker else data[at] & (0xFF >> length)
    return int.from_bytes(bytes([value]) + data[at + 1 : at + length], "big"), length


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(ID, element start, size field start, element end) of the elements at one level; an unknown
    size (the live Segment) runs to ``end``."""
    found, pos = [], start
    while pos < end:
        element_id, id_length = _ebml_number(data, pos, keep_marker=True)
        size, size_length = _ebml_number(data, pos + id_length, keep_marker=False)
        body = pos + id_length + size_length
        stop = end if size == (1 << (7 * size_length)) - 1 else body + size
        found.append((element_id, pos, pos + id_length, stop))
        pos = stop
    return found


def _segment_children(data: bytes) -> list[tuple[int, int, int, int]]:
    _, _, size_at, segment_end = next(e for e in _elements(data, 0, len(data)) if e[0] == 0x18538067)
    body = size_at + _ebml_number(data, size_at, keep_marker=False)[1]
    return _elements(data, body, segment_end)


@pytest.mark.parametrize(("suffix", "codec"), [("mkv", "libx264"), ("webm", "libvpx-vp9")])
@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_matroska_rotation_without_decoding(
    tmp_path: Path, no_decode: list[Path], suffix: str, codec: str, turn: int
) -> None:
    """The track's Projection, read from the header, is the matrix FFmpeg gives the decoded frame."""
    clip = make_clip(tmp_path / f"r.{suffix}", duration=0.4, width=320, height=240, codec=codec, rotation=turn,
                     audio=suffix == "mkv")  # fmt: skip
    assert _matroska_matrix(clip) == _frame_matrix(clip)
    info = probe(clip)
    assert no_decode == []
    assert info.video is not None and info.video.rotation == turn == _frame_rotation(clip)
    assert (info.width, info.height) == ((240, 320) if turn in (90, 270) else (320, 240))


def _mirrored_mkv(path: Path, ccw: int) -> Path:
    """An MKV whose matrix turns ``ccw`` degrees anticlockwise and mirrors: FFmpeg's muxer writes a
    ProjectionPoseYaw of 180 for the mirror."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.set_display_rotation(ccw, hflip=True)
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame(320, 240, "yuv420p")))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("ccw", [0, 90, 180, 270])
def test_mirrored_matroska_reads_as_the_decoder_does(tmp_path: Path, no_decode: list[Path], ccw: int) -> None:
    clip = _mirrored_mkv(tmp_path / "mirror.mkv", ccw)
    assert b"\x76\x73\x88\x40\x66\x80" in clip.read_bytes()  # ProjectionPoseYaw, 8 bytes: 180.0
    assert _matroska_matrix(clip) == _frame_matrix(clip)
    info = probe(clip)
    assert no_decode == [] and info.video is not None and info.video.rotation == _frame_rotation(clip)


def test_live_webm_with_unknown_sizes(tmp_path: Path, no_decode: list[Path]) -> None:
    """A browser's recording: the Segment and each Cluster of unknown size (written as they come)."""
    clip = make_clip(tmp_path / "src.webm", duration=0.4, width=320, height=240, codec="libvpx-vp9", rotation=90)
    data = bytearray(clip.read_bytes())
    segment = next(e for e in _elements(bytes(data), 0, len(data)) if e[0] == 0x18538067)
    clusters = [e for e in _segment_children(bytes(data)) if e[0] == 0x1F43B675]
    assert clusters
    for _, _, size_at, _ in [segment, *clusters]:
        length = _ebml_number(bytes(data), size_at, keep_marker=False)[1]
        data[size_at : size_at + length] = bytes([0xFF >> (length - 1)]) + b"\xff" * (length - 1)
    live = tmp_path / "live.webm"
    live.write_bytes(bytes(data))
    assert _segment_children(bytes(data))[-1][0] == 0x1F43B675  # the first Cluster now runs to the end
    info = probe(live)
    assert no_decode == [] and info.video is not None and info.video.rotation == 90 == _frame_rotation(live)


@pytest.mark.parametrize("damage", ["tracks_past_the_file", "cut_short"])
def test_matroska_the_walker_does_not_vouch_for_decodes(tmp_path: Path, no_decode: list[Path], damage: str) -> None:
    """FFmpeg reads these, the walker does not: a Tracks size running past the end of the file, and a
    file cut off (its Segment's size runs past the end). The first frame decides, as before."""
    clip = make_clip(tmp_path / "r.mkv", duration=0.4, width=320, height=240, rotation=90, audio=True)
    data = bytearray(clip.read_bytes())
    if damage == "tracks_past_the_file":
        _, _, size_at, _ = next(e for e in _segment_children(bytes(data)) if e[0] == 0x1654AE6B)
        assert data[size_at] >> 6 == 1  # a 2-byte size: the largest known one is 0x3FFE
        data[size_at : size_at + 2] = b"\x7f\xfe"
        assert size_at + 2 + 0x3FFE > len(data)
    else:
        del data[-64:]
    odd = tmp_path / "odd.mkv"
    odd.write_bytes(bytes(data))
    assert _matroska_matrix(odd) is None
    info = probe(odd)
    assert no_decode == [odd] and info.video is not None and info.video.rotation == 90 == _frame_rotation(odd)


def _element(element_id: bytes, *children: bytes, size_length: int = 8) -> bytes:
    """An EBML element with an ``size_length``-byte size (``size_length=0``: unknown, 8 bytes)."""
    body = b"".join(children)
    if size_length == 0:
        return element_id + b"\x01" + b"\xff" * 7 + body
    marker = 1 << (8 * size_length - size_length)
    return element_id + (marker | len(body)).to_bytes(size_length, "big") + body


def _track(kind: int, codec: bytes, *video: bytes) -> bytes:
    return _element(b"\xae", _element(b"\x83", bytes([kind])), _element(b"\x86", codec),
                    *([_element(b"\xe0", *video)] if video else []))  # fmt: skip


def _roll(value: bytes) -> bytes:
    return _element(b"\x76\x70", _element(b"\x76\x75", value))  # Projection, ProjectionPoseRoll


def _matroska(*segment: bytes, unknown_segment: bool = False) -> bytes:
    header = _element(b"\x1a\x45\xdf\xa3", _element(b"\x42\x82", b"matroska"))
    return header + _element(b"\x18\x53\x80\x67", *segment, size_length=0 if unknown_segment else 8)


def _tracks(*entries: bytes) -> bytes:
    return _element(b"\x16\x54\xae\x6b", *entries)


def _walk(tmp_path: Path, data: bytes, video_index: int = 0) -> tuple[int, ...] | None:
    path = tmp_path / "hand.mkv"
    path.write_bytes(data)
    return _matroska_matrix(path, video_index)


CW_90 = (0, ONE, 0, -ONE, 0, 0, 0, 0, FIX30)
"""What FFmpeg makes of a roll of -90 (clockwise 90, as the muxer writes a portrait phone clip)."""


def test_the_walker_on_hand_made_files(tmp_path: Path) -> None:
    """Minimal EBML files: float sizes, unknown sizes, which track counts, and what is refused."""
    minus_90 = struct.pack(">d", -90.0)
    video = _track(1, b"V_VP9", _roll(minus_90))
    assert _walk(tmp_path, _matroska(_tracks(video))) == CW_90
    assert _walk(tmp_path, _matroska(_tracks(_track(1, b"V_VP9", _roll(struct.pack(">f", -90.0)))))) == CW_90
    assert _walk(tmp_path, _matroska(_tracks(_track(1, b"V_VP9", _roll(b""))))) == IDENTITY  # size 0: 0.0
    assert _walk(tmp_path, _matroska(_tracks(_track(1, b"V_VP9")))) == IDENTITY  # no Video, no Projection
    assert _walk(tmp_path, _matroska(_tracks(video), unknown_segment=True)) == CW_90
    assert _walk(tmp_path, _matroska(_element(b"\xec", bytes(100)), _tracks(video))) == CW_90  # Void skipped
    # The n-th video track as FFmpeg's streams count them: audio and codec-less tracks are no video stream.
    upright = _track(1, b"V_MPEG4/ISO/AVC")
    tracks = _tracks(_track(2, b"A_OPUS"), _track(1, b"", _roll(minus_90)), upright, video)
    assert [_walk(tmp_path, _matroska(tracks), i) for i in range(3)] == [IDENTITY, CW_90, None]
    # Refused: a Cluster first, a Tracks of unknown size, a child past its parent, a 2-byte float,
    # a non-rectangular projection, no EBML header.
    cluster = _element(b"\x1f\x43\xb6\x75", _element(b"\xe7", b"\x00"))
    assert _walk(tmp_path, _matroska(cluster, _tracks(video))) is None
    assert _walk(tmp_path, _matroska(_element(b"\x16\x54\xae\x6b", video, size_length=0))) is None
    past = bytearray(_matroska(_tracks(video)))
    past[past.index(b"\x76\x70") + 2 : past.index(b"\x76\x70") + 10] = (0x01 << 56 | 200).to_bytes(8, "big")
    assert _walk(tmp_path, bytes(past)) is None
    assert _walk(tmp_path, _matroska(_tracks(_track(1, b"V_VP9", _roll(b"\x00\x01"))))) is None
    spherical = _element(b"\x76\x70", _element(b"\x76\x71", b"\x01"))
    assert _walk(tmp_path, _matroska(_tracks(_track(1, b"V_VP9", spherical)))) is None
    whole = _matroska(_tracks(video))
    assert _walk(tmp_path, whole[whole.index(b"\x18\x53\x80\x67") :]) is None


def test_pose_matrix_as_ffmpeg_makes_it() -> None:
    """``mkv_create_display_matrix``: av_display_rotation_set(roll * (2 * hflip - 1)), then a mirror
    (av_display_matrix_flip negates the first column) when the yaw is 180."""
    assert matroska.pose_matrix(0.0, 0.0, 0.0) == IDENTITY  # no pose: no matrix
    assert matroska.pose_matrix(0.0, 0.0, -90.0) == CW_90 and rotation(CW_90) == 90
    assert matroska.pose_matrix(0.0, 0.0, 90.0) == (0, -ONE, 0, ONE, 0, 0, 0, 0, FIX30)
    assert rotation(matroska.pose_matrix(0.0, 0.0, 180.0)) == 180  # type: ignore[arg-type]
    # Mirrored: the yaw of 180 flips the roll's sign before the flip. For roll 90, angle = 90 * (2*1 - 1):
    # r = -pi/2 gives (0, 1, -1, 0), and the flip negates the first column: (0, 1, 1, 0), which reads
    # as 90 clockwise (as the transposed MOV matrix does).
    yaw_180_roll_90 = (0, ONE, 0, ONE, 0, 0, 0, 0, FIX30)
    assert matroska.pose_matrix(180.0, 0.0, 90.0) == yaw_180_roll_90 and rotation(yaw_180_roll_90) == 90
    assert matroska.pose_matrix(-180.0, 0.0, 0.0) == (-ONE, 0, 0, 0, ONE, 0, 0, 0, FIX30)  # a mirror alone
    assert rotation((-ONE, 0, 0, 0, ONE, 0, 0, 0, FIX30)) == 180
    # What FFmpeg ignores (a warning, no matrix): a pitch, a yaw other than 0 or 180, a NaN roll.
    assert matroska.pose_matrix(0.0, 10.0, 90.0) == IDENTITY
    assert matroska.pose_matrix(90.0, 0.0, 90.0) == IDENTITY
    assert matroska.pose_matrix(0.0, 0.0, math.nan) == IDENTITY
    # Not vouched for: an infinite roll (FFmpeg casts a NaN to int), a full turn (an exported identity,
    # which makes the decoder ignore a bitstream orientation).
    assert matroska.pose_matrix(0.0, 0.0, math.inf) is None
    assert matroska.pose_matrix(0.0, 0.0, 360.0) is None


@pytest.mark.parametrize(("turn", "expected"), [(None, 270), (180, 180)])
def test_matroska_orientation_sei_without_decoding(
    tmp_path: Path, no_decode: list[Path], turn: int | None, expected: int
) -> None:
    """No Projection in the MKV: FFmpeg's decoder turns the picture by the H.264 SEI, and the probe
    reads it from the first packet (the one it demuxes anyway to see the stream is not empty). With a
    Projection too, the container's matrix wins, as in MP4."""
    plain = make_clip(tmp_path / "plain.mp4", duration=0.3, width=640, height=360)
    clip = _with_orientation_sei(plain, tmp_path / "sei.mkv", 90, turn=turn)
    assert (_matroska_matrix(clip) == IDENTITY) == (turn is None)
    info = probe(clip)
    assert no_decode == []
    assert info.video is not None and info.video.rotation == expected == _frame_rotation(clip)


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
    from preflight.media.nal import sei_display_matrix

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


def test_sei_read_skips_an_index_entry_with_no_place_in_the_file(tmp_path: Path) -> None:
    from types import SimpleNamespace

    entry = SimpleNamespace(pos=-1, size=100)
    stream = SimpleNamespace(index_entries=[entry], codec_context=SimpleNamespace(name="h264", extradata=b""))
    with open(make_clip(tmp_path / "c.mp4", duration=0.2, width=320, height=240), "rb") as fh:
        assert probe_module._sei_matrix(fh, stream) is None  # no seek to -1 (OSError)
