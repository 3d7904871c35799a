"""Benchmark: what tone mapping costs a check and a fix of an HDR (HLG) clip, against ffmpeg.

    python bench/bench_hdr.py [--size 3840x2160] [--seconds 4] [--mbps 40] [--runs 3] [--no-pose]

1. Makes (once, in bench/out/) an HEVC Main 10 HLG clip of a slow zoom into the astronaut with film
   grain (so it decodes like camera footage, not like a flat synthetic picture), SDR white at 75% HLG,
   at a phone's bitrate (an iPhone records 4K30 HLG at about 40 Mb/s).
2. Times the full content analysis of it as shipped (luma through the 10-bit table, RGB frames
   through the LUT graph at <= 1920 px) against the same pass with the frame converter forced to the
   SDR path (the HDR signal read as SDR, what check did before), and against ffmpeg's decode of the
   clip (``ffmpeg -i clip -f null -``, the floor any check that sees every frame pays).
3. Times the fix re-encode with and without the ``ToneMap`` operation (everything else equal), and
   ffmpeg doing the same job its usual way (zscale to linear light, ``tonemap=mobius``, zscale back to
   BT.709, libx264 veryfast CRF 18 as fix uses), when its ffmpeg has zscale.
All runs alternate, best of ``--runs``.

Figures depend on load: run it on a quiet machine before quoting a ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import OUT, need_ffmpeg


def hdr_clip(width: int, height: int, seconds: float, mbps: float) -> Path:
    from preflight.samples import make_hdr_clip, photo_frames, sample_photo

    OUT.mkdir(exist_ok=True)
    path = OUT / f"hlg_{width}x{height}_{seconds:g}s_{mbps:g}mbps.mp4"
    if path.exists():
        return path
    print(f"making {path.name} (slow: numpy HLG conversion and x265 per frame) ...", file=sys.stderr)
    fps = 30
    zoom = photo_frames(sample_photo(), frames=round(seconds * fps))
    grain = [np.random.default_rng(k).normal(0, 5, (height, width, 1)) for k in range(7)]

    def frame(i: int, w: int, h: int) -> np.ndarray:
        return np.clip(zoom(i, w, h) + grain[i % len(grain)], 0, 255).astype(np.uint8)

    part = path.with_suffix(".part.mp4")
    make_hdr_clip(part, transfer="HLG", duration=seconds, width=width, height=height, fps=fps, frames=frame,
                  bitrate=int(mbps * 1e6))  # fmt: skip
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
    parser.add_argument("--mbps", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pose", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    from preflight.nativelog import filter_native_logs

    filter_native_logs()
    need_ffmpeg()
    clip = hdr_clip(width, height, args.seconds, args.mbps)
    print(describe(clip))

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
    decode = ["ffmpeg", "-v", "error", "-i", str(clip), "-f", "null", "-"]
    on, off, floor = [], [], []
    for _ in range(args.runs):
        on.append(best(lambda: analyse(True), 1))
        off.append(best(lambda: analyse(False), 1))
        floor.append(best(lambda: subprocess.run(decode, check=True), 1))
    print(f"check {clip.name}: tone-mapped {min(on):.2f} s, read as SDR {min(off):.2f} s "
          f"(ratio {min(on) / min(off):.2f}); ffmpeg decode {min(floor):.2f} s "
          f"(check / decode {min(on) / min(floor):.2f})")  # fmt: skip

    profile = load_profile("kling-v2.6")
    profile = dataclasses.replace(profile, video=dataclasses.replace(profile.video, min_duration=None))
    item = check_one(clip, profile, content=False)
    plan = plan_fix(item.media, item.findings, profile)  # type: ignore[arg-type]
    plain = dataclasses.replace(plan, operations=tuple(op for op in plan.operations if not isinstance(op, ToneMap)))
    out = OUT / "bench_hdr_out.mp4"
    theirs = OUT / "bench_hdr_ffmpeg.mp4"
    execute_clip(plan, clip, out)  # once, for the size fix gives (the 1920 px long-side cap)
    yardstick = ffmpeg_tone_map(clip, theirs, size=_size(out))
    on, off, ref = [], [], []
    for _ in range(args.runs):
        on.append(best(lambda: execute_clip(plan, clip, out), 1))
        off.append(best(lambda: execute_clip(plain, clip, out), 1))
        if yardstick:
            ref.append(best(lambda: subprocess.run(yardstick, check=True), 1))
    line = (f"fix   {clip.name}: {', '.join(plan.actions)}: {min(on):.2f} s, without the tone map "
            f"{min(off):.2f} s (ratio {min(on) / min(off):.2f})")  # fmt: skip
    if ref:
        line += f"; ffmpeg (scale+)zscale+tonemap+libx264 {min(ref):.2f} s (fix / ffmpeg {min(on) / min(ref):.2f})"
    print(line)
    out.unlink(missing_ok=True)
    theirs.unlink(missing_ok=True)


def _size(path: Path) -> tuple[int, int]:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.width, v.codec_context.height


def ffmpeg_tone_map(clip: Path, out: Path, size: tuple[int, int] | None = None) -> list[str] | None:
    """ffmpeg's usual HDR -> SDR re-encode (needs zscale), scaled to ``size`` first as fix does, or None."""
    filters = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    if " zscale " not in filters:
        print("(this ffmpeg has no zscale: no ffmpeg yardstick for the fix)")
        return None
    chain = ("zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=mobius:desat=0,"
             "zscale=t=bt709:m=bt709:r=tv,format=yuv420p")  # fmt: skip
    if size is not None and size != _size(clip):
        chain = f"scale={size[0]}:{size[1]}," + chain
    return ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf", chain, "-an", "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "18", str(out)]  # fmt: skip


def describe(clip: Path) -> str:
    import av

    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        seconds = c.duration / 1e6
        mbps = clip.stat().st_size * 8 / seconds / 1e6
        return (f"clip: {clip.name}: {v.codec_context.name} {v.codec_context.pix_fmt} {v.width}x{v.height} "
                f"{float(v.average_rate):.0f} fps {seconds:.1f} s {mbps:.1f} Mb/s HLG")  # fmt: skip


if __name__ == "__main__":
    main()
