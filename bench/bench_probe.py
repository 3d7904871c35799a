"""Probe + rules vs ffprobe (issue 2).

1. One 30 s 1080p MP4: `preflight.check_one(content=False)` in process vs one
   `ffprobe -show_format -show_streams` process. Target: >= 5x faster.
2. 200 files: one `preflight check --no-content` process vs 200 ffprobe processes. Target: >= 10x.

    python bench/bench_probe.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from common import OUT, clip_1080p, median_time, need_ffmpeg, wall

from preflight import check_one, load_profile
from preflight.samples import make_clip, make_image


def ffprobe(path: object) -> None:
    subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", str(path)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def single_file() -> float:
    clip = clip_1080p(30.0)
    profile = load_profile("kling-v2.6")
    ours = median_time(lambda: check_one(clip, profile, content=False), repeat=30)
    theirs = median_time(lambda: ffprobe(clip), repeat=30)
    print(f"single 30 s 1080p MP4: preflight probe+rules {ours * 1000:.1f} ms in process, "
          f"ffprobe process {theirs * 1000:.1f} ms -> {theirs / ours:.1f}x faster (target >= 5x)")  # fmt: skip
    return theirs / ours


def batch_of_200() -> float:
    folder = OUT / "batch200"
    if not folder.exists() or len(list(folder.iterdir())) != 200:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        seeds = [
            make_clip(OUT / "seed_a.mp4", duration=4, width=1280, height=720, audio=True),
            make_clip(OUT / "seed_b.mov", duration=12, width=720, height=1280, container="mov", rotation=90),
            make_clip(OUT / "seed_c.mkv", duration=3, width=640, height=360, container="matroska"),
            make_image(OUT / "seed_d.jpg", width=1024, height=1280),
        ]
        for i in range(200):
            seed = seeds[i % len(seeds)]
            shutil.copy(seed, folder / f"{i:03d}{seed.suffix}")
    files = sorted(folder.iterdir())
    exe = shutil.which("preflight") or sys.exit("install the package first: pip install -e .")

    def ours() -> None:
        subprocess.run([exe, "check", "--no-content", "--json", str(folder)], stdout=subprocess.DEVNULL)

    def theirs() -> None:
        for f in files:
            ffprobe(f)

    ours(), theirs()  # warm the page cache for both
    t_ours, t_theirs = wall(ours), wall(theirs)
    print(f"200 files: one `preflight check --no-content` {t_ours:.2f} s, 200 ffprobe processes "
          f"{t_theirs:.2f} s -> {t_theirs / t_ours:.1f}x faster (target >= 10x)")  # fmt: skip
    return t_theirs / t_ours


if __name__ == "__main__":
    need_ffmpeg()
    single_file()
    batch_of_200()
