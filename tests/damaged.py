"""Damaged copies of generated clips: bytes overwritten where a bad disk or a cut download puts them."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np


def _packets(path: Path, kind: str) -> list[tuple[int, int, float]]:
    """(file offset, size, seconds) of every packet with data of the clip's first ``kind`` stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return [
            (p.pos, p.size, float(p.pts * p.time_base) if p.pts is not None else float(p.dts * p.time_base))
            for p in container.demux(stream)
            if p.size
        ]


def _overwrite(src: Path, dst: Path, start: int, end: int, seed: int) -> Path:
    if src != dst:
        shutil.copyfile(src, dst)
    with open(dst, "r+b") as fh:
        fh.seek(start)
        fh.write(np.random.default_rng(seed).integers(0, 256, end - start, dtype=np.uint8).tobytes())
    return dst


def garbage_in_the_middle(src: Path, dst: Path, size: int = 4096, seed: int = 1) -> Path:
    """``size`` random bytes over the middle of the file (the issue's reproduction)."""
    middle = src.stat().st_size // 2
    return _overwrite(src, dst, middle, middle + size, seed)


def damage_packet(src: Path, dst: Path, kind: str, index: int, keep: int = 0, seed: int = 2) -> float:
    """Overwrite the ``index``-th packet of the ``kind`` stream (its first ``keep`` bytes spared);
    return the packet's time. ``keep=0`` hits the packet's header too (the decoder refuses it)."""
    pos, size, seconds = _packets(src, kind)[index]
    _overwrite(src, dst, pos + keep, pos + size, seed)
    return seconds


def garbage_after_the_first_frame(src: Path, dst: Path, seed: int = 3) -> Path:
    """Everything between the first video packet and the end of the media data overwritten: the
    headers and the first frame (what the probe reads) survive, nothing else does."""
    video = _packets(src, "video")
    end = max(pos + size for pos, size, _ in video)
    return _overwrite(src, dst, video[0][0] + video[0][1], end, seed)


def decode_errors(path: Path) -> tuple[int, int, int]:
    """(video frames, audio frames, errors) from decoding every packet of ``path`` with PyAV; an
    error is a packet the decoder refused or a frame it marked corrupt."""
    frames = {"video": 0, "audio": 0}
    errors = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                errors += 1
                continue
            for frame in decoded:
                frames[packet.stream.type] += 1
                errors += bool(frame.is_corrupt)
    return frames["video"], frames["audio"], errors
