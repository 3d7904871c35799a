"""Shared bits of the benchmarks: media made once into bench/out/, the ffmpeg tools, timing."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def need_ffmpeg() -> None:
    """ffmpeg/ffprobe are the yardsticks; install Debian's if they are missing (root only)."""
    if shutil.which("ffprobe") and shutil.which("ffmpeg"):
        return
    print("ffmpeg/ffprobe not found: installing Debian's ffmpeg (apt-get)...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "ffmpeg"], check=True, stdout=subprocess.DEVNULL)


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def clip_1080p(seconds: float = 30.0, name: str | None = None, container: str = "mp4") -> Path:
    """A 1080p H.264 clip with AAC sound, made once and reused."""
    from preflight.samples import make_clip

    OUT.mkdir(exist_ok=True)
    path = OUT / (name or f"clip_{seconds:g}s_1080p.{container}")
    if not path.exists():
        print(f"making {path.name} ...", file=sys.stderr)
        make_clip(path.with_suffix(".part" + path.suffix), duration=seconds, width=1920, height=1080, fps=30,
                  audio=True, container=container)  # fmt: skip
        path.with_suffix(".part" + path.suffix).rename(path)
    return path
