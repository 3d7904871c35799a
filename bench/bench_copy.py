"""The copy paths, process to process: `preflight fix --no-content` against `ffmpeg -c copy` (issue 23).

What a batch cleanup of phone clips pays per file when nothing needs re-encoding. Each case is the same
work on the same file, both sides a whole process from start to exit, alternated (A B A B ...), with the
ratio taken pair by pair; medians are printed:

- trim: the 45 s 1080p H.264 16 Mb/s phone clip as an iPhone's MOV, cut to its first 30 s by stream
  copy (`preflight fix --no-content --start 0 --end 30` against `ffmpeg -t 30 -c copy`);
- remux: the 30 s clip as Matroska, rewritten as MP4 (`preflight fix --no-content` against
  `ffmpeg -c copy out.mp4`);
- copy: the 30 s MP4 the profile takes as it is (preflight copies the bytes after its checks; ffmpeg's
  yardstick is still `-c copy`, what a user would otherwise run to be sure of the file).

preflight's side does everything a user gets: the probe, the limits check, the one read of the packets
(keyframes, the quick damage scan, the sound decoded), the copy, the frame count of the output and its
re-check. Target: at most 3x ffmpeg (issue 23).

    python bench/bench_copy.py [--runs N] [--cases trim,remux,copy]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import OUT, compile_package, loadavg, measured, need_ffmpeg, phone_clip

CASES = ("trim", "remux", "copy")


def sources() -> dict[str, Path]:
    """The three inputs, made once from the phone-like clips (container changes by ffmpeg's stream copy)."""
    long_mp4 = phone_clip("1080p-h264-45s")
    short = phone_clip("1080p-h264")
    made = {"trim": OUT / "phone_1080p-h264-45s.mov", "remux": OUT / "phone_1080p-h264.mkv", "copy": short}
    for case, source in (("trim", long_mp4), ("remux", short)):
        if not made[case].exists():
            remux = ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c", "copy", str(made[case])]
            subprocess.run(remux, check=True)
    return made


def commands(case: str, src: Path, out: Path) -> tuple[list[str], list[str]]:
    ours = [sys.executable, "-m", "preflight", "fix", "--no-content", str(src), "-o", str(out / "pf")]
    theirs = ["ffmpeg", "-v", "error", "-y", "-i", str(src)]
    if case == "trim":
        ours += ["--start", "0", "--end", "30"]
        theirs += ["-t", "30"]
    theirs += ["-c", "copy", "-movflags", "+faststart", str(out / "ff.mp4")]
    return ours, theirs


def run(case: str, src: Path, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        ours, theirs = commands(case, src, out)
        pairs = []
        for i in range(runs + 1):  # the first pair warms the page cache and the imports
            shutil.rmtree(out / "pf", ignore_errors=True)
            a = measured(ours)
            b = measured(theirs)
            if i:
                pairs.append((a, b))
    wall = statistics.median(a[0] / b[0] for a, b in pairs)
    cpu = statistics.median(a[1] / b[1] for a, b in pairs)
    ours_wall = statistics.median(a[0] for a, _ in pairs)
    theirs_wall = statistics.median(b[0] for _, b in pairs)
    ours_cpu = statistics.median(a[1] for a, _ in pairs)
    theirs_cpu = statistics.median(b[1] for _, b in pairs)
    size = src.stat().st_size / 1e6
    print(f"{case:6} {src.name} ({size:.0f} MB): preflight {ours_wall:.3f} s wall {ours_cpu:.3f} s CPU, "
          f"ffmpeg {theirs_wall:.3f} s wall {theirs_cpu:.3f} s CPU -> {wall:.2f}x wall, {cpu:.2f}x CPU "
          f"(median of {len(pairs)} pairs)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    need_ffmpeg()
    compile_package()
    made = sources()
    print(loadavg())
    for case in args.cases.split(","):
        run(case, made[case], args.runs)
    print(loadavg())


if __name__ == "__main__":
    main()
