"""Benchmark: ``preflight batch`` throughput with 1 and 2 workers, and its per-file overhead.

    python bench/bench_batch.py [--workdir DIR] [--clips 20] [--no-content] [--cli-calls 3]

1. Makes (once, cached in the workdir) ``--clips`` clips of a person: 4 s, 480x640, 25 fps H.264,
   each a slow zoom into the shipped astronaut photo with a different zoom range (distinct bytes).
2. Times ``preflight batch DIR --check-only --jobs 1`` and ``--jobs 2`` end to end in a fresh
   process each (worker start-up and pose-model loading included), best of ``--runs``; target >= 1.7x
   on 2 cores.
3. Per-file overhead of batch over plain checks, in one process: ``api.check_one`` on every clip in a
   loop, against ``run_batch(jobs=1)`` on the same clips (walk, hash, state file, progress).
   Also the cost of checking files one ``preflight check FILE`` process at a time, which is what a
   shell loop without batch does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SPEEDUP = 1.7


def make_clips(folder: Path, count: int) -> list[Path]:
    from preflight.samples import make_clip, photo_frames, sample_photo

    folder.mkdir(parents=True, exist_ok=True)
    photo = sample_photo()
    paths = []
    for i in range(count):
        path = folder / f"clip{i:02d}.mp4"
        if not path.exists():
            zoom = (1.0, 1.05 + 0.01 * i)
            frames = photo_frames(photo, frames=100, zoom=zoom)
            make_clip(path, duration=4, width=480, height=640, fps=25, frames=frames)
        paths.append(path)
    return paths


def preflight_cmd() -> list[str]:
    exe = shutil.which("preflight")
    return [exe] if exe else [sys.executable, "-c", "import sys; from preflight.cli import main; sys.exit(main())"]


def time_batch(folder: Path, jobs: int, content: bool, runs: int) -> float:
    """Best wall time of ``runs``; prints each run's CPU time too (the machine may be shared)."""
    import resource

    best = float("inf")
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*preflight_cmd(), "batch", str(folder), "--check-only", "-q", "--jobs", str(jobs),
                   "--state", str(Path(tmp) / "state.jsonl")]  # fmt: skip
            if not content:
                cmd.append("--no-content")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            load = os.getloadavg()[0]
            print(f"  --jobs {jobs}: {elapsed:6.2f} s wall, {cpu:6.2f} s CPU, load average {load:.1f}")
            if done.returncode not in (0, 1):
                raise SystemExit(f"batch failed ({done.returncode}): {done.stderr[-2000:]}")
            best = min(best, elapsed)
    return best


def in_process_overhead(paths: list[Path], folder: Path, content: bool) -> tuple[float, float]:
    from preflight import api
    from preflight.batch import run_batch

    profile = api.resolve_profile(None)
    api.check_one(paths[0], profile, content=content)  # warm: model loaded, caches filled
    started = time.perf_counter()
    for p in paths:
        api.check_one(p, profile, content=content)
    plain = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_batch([folder], jobs=1, content=content, state_path=Path(tmp) / "s.jsonl")
        batched = time.perf_counter() - started
    return plain, batched


def cli_per_file(paths: list[Path], content: bool, calls: int) -> float:
    started = time.perf_counter()
    for p in paths[:calls]:
        cmd = [*preflight_cmd(), "check", str(p)]
        if not content:
            cmd.append("--no-content")
        subprocess.run(cmd, capture_output=True, check=False)
    return (time.perf_counter() - started) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "batch")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cli-calls", type=int, default=3)
    parser.add_argument("--no-content", action="store_true")
    args = parser.parse_args()
    content = not args.no_content
    folder = args.workdir / f"clips{args.clips}"
    paths = make_clips(folder, args.clips)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gates = "on" if content else "off"
    print(f"{len(paths)} clips (4 s 480x640 H.264, a person), content gates {gates}, {cores} cores")

    one = time_batch(folder, 1, content, args.runs)
    two = time_batch(folder, 2, content, args.runs)
    speedup = one / two
    print(f"batch --jobs 1: {one:6.2f} s  ({len(paths) / one:.2f} files/s)")
    print(f"batch --jobs 2: {two:6.2f} s  ({len(paths) / two:.2f} files/s)")
    print(f"speed-up: {speedup:.2f}x (target >= {TARGET_SPEEDUP}x) {'OK' if speedup >= TARGET_SPEEDUP else 'BELOW'}")

    plain, batched = in_process_overhead(paths, folder, content)
    n = len(paths)
    print(f"in process: check_one {plain / n * 1000:7.1f} ms/file, run_batch(jobs=1) {batched / n * 1000:7.1f} ms/file"
          f" -> overhead {(batched - plain) / n * 1000:+.1f} ms/file")  # fmt: skip
    per_call = cli_per_file(paths, content, args.cli_calls)
    print(f"one `preflight check FILE` process per file: {per_call:.2f} s/file vs batch --jobs 1 {one / n:.2f} s/file")
    return 0 if speedup >= TARGET_SPEEDUP else 1


if __name__ == "__main__":
    raise SystemExit(main())
