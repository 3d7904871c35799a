"""The quick damage scan before a copy: what it finds without decoding, and when fix decodes after all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from damaged import _overwrite, _packets, damage_packet

import preflight.media.damage
from preflight.fix import fix
from preflight.fix.source import read_source
from preflight.media.packetscan import scan_packets
from preflight.samples import make_clip, photo_frames, sample_photo


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("packetscan")
    return make_clip(folder / "person.mp4", duration=4, width=640, height=360, fps=25, audio=True, bframes=2,
                     frames=photo_frames(sample_photo(), frames=100))  # fmt: skip


def test_a_clean_clip_scans_clean(person_clip: Path) -> None:
    scanned = scan_packets(person_clip)
    assert scanned.clean and scanned.packets == 100
    assert read_source(person_clip).scan == scanned  # fix's one read judges the same way


def test_a_broken_nal_length_is_found_at_its_time(person_clip: Path, tmp_path: Path) -> None:
    at = damage_packet(person_clip, tmp_path / "bad.mp4", "video", 40)  # the packet's length prefix too
    scanned = scan_packets(tmp_path / "bad.mp4")
    assert not scanned.clean and scanned.times[0] == pytest.approx(at, abs=1e-3)


def test_most_disk_block_sized_overwrites_are_found_without_decoding(person_clip: Path, tmp_path: Path) -> None:
    """The module docstring's measurement, at 20 places: a 4 KB overwrite breaks the NAL framing of a
    picture (or the sound, which fix decodes) almost always."""
    size = person_clip.stat().st_size
    rng = np.random.default_rng(7)
    found = 0
    for seed in range(20):
        start = int(rng.integers(2000, size - 5000))
        bad = _overwrite(person_clip, tmp_path / "bad.mp4", start, start + 4096, seed)
        source = read_source(bad, decode_audio=True)
        found += not source.scan.clean or bool(source.audio_damage and source.audio_damage.count)
    assert found >= 18, found


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each full decode fix makes for damage (``video`` or the sound alone), in order."""
    calls: list[bool] = []
    real_scan = preflight.media.damage.scan

    def counting(path: str, *, video: bool = True):  # type: ignore[no-untyped-def]
        calls.append(video)
        return real_scan(path, video=video)

    monkeypatch.setattr(preflight.media.damage, "scan", counting)
    return calls


def test_damage_inside_a_pictures_data_needs_verify(person_clip: Path, tmp_path: Path, decoded: list[bool]) -> None:
    """An overwrite inside a picture's slice data (its NAL lengths and headers spared) is invisible to
    the scan: the copy goes ahead without decoding a picture; ``verify`` decodes them all and
    re-encodes instead."""
    bad = tmp_path / "inside.mp4"
    sizes = [size for _, size, _ in _packets(person_clip, "video")]
    big = max(range(10, len(sizes)), key=sizes.__getitem__)  # a reference picture with data to spare
    damage_packet(person_clip, bad, "video", big, keep=_last_nal_payload(person_clip, big) + 16)
    assert scan_packets(bad).clean
    quick = fix([bad], tmp_path / "quick", content=False).results[0]
    assert quick.actions == ("copy",) and decoded == []  # nothing decoded: the sound was read with the packets
    verified = fix([bad], tmp_path / "verified", content=False, verify=True).results[0]
    assert decoded == [True] and "video.corrupt_frames" in {f.code for f in verified.before.findings}
    assert verified.ok and "transcode h264/aac" in verified.actions


def _last_nal_payload(path: Path, index: int) -> int:
    """Where the last NAL unit's data starts in the ``index``-th video packet (4-byte lengths)."""
    import av

    with av.open(str(path)) as container:
        data = bytes([p for p in container.demux(container.streams.video[0]) if p.size][index])
    pos = last = 0
    while pos < len(data):
        last = pos + 4
        pos = last + int.from_bytes(data[pos : pos + 4], "big")
    return last


def test_a_suspicious_packet_makes_fix_decode_first(person_clip: Path, tmp_path: Path, decoded: list[bool]) -> None:
    bad = tmp_path / "framing.mp4"
    damage_packet(person_clip, bad, "video", 40)
    result = fix([bad], tmp_path / "out", content=False).results[0]
    assert decoded == [True] and "video.corrupt_frames" in {f.code for f in result.before.findings}
    assert result.ok and result.actions[0] == "transcode h264/aac"
