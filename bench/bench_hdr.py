"""Benchmark: what tone mapping costs a check and a fix of an HDR (HLG) clip.

    python bench/bench_hdr.py [--size 3840x2160] [--seconds 4] [--runs 3] [--no-pose]

1. Makes (once, in bench/out/) an HEVC Main 10 HLG clip of a slow zoom into the astronaut with film
   grain (so it decodes like camera footage, not like a flat synthetic picture), SDR white at 75% HLG.
2. Times the full content analysis of it as shipped (luma through the 10-bit table, RGB frames
   through the LUT graph at <= 1920 px) against the same pass with the frame converter forced to the
   SDR path (the HDR signal read as SDR, what check did before): alternated, best of ``--runs``.
3. Times the fix re-encode with and without the ``ToneMap`` operation (everything else equal).

Figures depend on load: run it on a quiet machine before quoting a ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from common import OUT


def hdr_clip(width: int, height: int, seconds: float) -> Path:
    from preflight.samples import make_hdr_clip, photo_frames, sample_photo

    OUT.mkdir(exist_ok=True)
    path = OUT / f"hlg_{width}x{height}_{seconds:g}s.mp4"
    if path.exists():
        return path
    print(f"making {path.name} (slow: numpy HLG conversion and x265 per frame) ...", file=sys.stderr)
    fps = 30
    zoom = photo_frames(sample_photo(), frames=round(seconds * fps))
    grain = [np.random.default_rng(k).normal(0, 5, (height, width, 1)) for k in range(4)]

    def frame(i: int, w: int, h: int) -> np.ndarray:
        return np.clip(zoom(i, w, h) + grain[i % len(grain)], 0, 255).astype(np.uint8)

    part = path.with_suffix(".part.mp4")
    make_hdr_clip(part, transfer="HLG", duration=seconds, width=width, height=height, fps=fps, frames=frame, crf=20)
    part.rename(path)
    return path


def best(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pose", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    clip = hdr_clip(width, height, args.seconds)

    from preflight import check_one, load_profile, probe
    from preflight.analyze import analyze_clip
    from preflight.analyze import frames as frames_module
    from preflight.fix.ops import ToneMap
    from preflight.fix.plan import plan_fix
    from preflight.fix.video import execute_clip

    info = probe(clip)
    shipped = frames_module._Converter.__init__

    def as_sdr(self, frame) -> None:  # type: ignore[no-untyped-def]
        self.tone = None

    def analyse(tone_mapped: bool) -> None:
        frames_module._Converter.__init__ = shipped if tone_mapped else as_sdr  # type: ignore[method-assign]
        try:
            analyze_clip(clip, info, None, pose=not args.no_pose)
        finally:
            frames_module._Converter.__init__ = shipped  # type: ignore[method-assign]

    analyse(True)  # warm: LUT file, pose model
    on, off = [], []
    for _ in range(args.runs):
        on.append(best(lambda: analyse(True), 1))
        off.append(best(lambda: analyse(False), 1))
    print(f"check {clip.name}: tone-mapped {min(on):.2f} s, read as SDR {min(off):.2f} s, "
          f"ratio {min(on) / min(off):.2f}")  # fmt: skip

    profile = load_profile("kling-v2.6")
    profile = dataclasses.replace(profile, video=dataclasses.replace(profile.video, min_duration=None))
    item = check_one(clip, profile, content=False)
    plan = plan_fix(item.media, item.findings, profile)  # type: ignore[arg-type]
    plain = dataclasses.replace(plan, operations=tuple(op for op in plan.operations if not isinstance(op, ToneMap)))
    out = OUT / "bench_hdr_out.mp4"
    on, off = [], []
    for _ in range(args.runs):
        on.append(best(lambda: execute_clip(plan, clip, out), 1))
        off.append(best(lambda: execute_clip(plain, clip, out), 1))
    print(f"fix   {clip.name}: {', '.join(plan.actions)}: {min(on):.2f} s, without the tone map "
          f"{min(off):.2f} s, ratio {min(on) / min(off):.2f}")  # fmt: skip
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
